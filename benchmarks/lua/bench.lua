-- wrk script for every HTTP/1.1 workload of the suite.
-- BENCH_PATH: request path; BENCH_BODY_SIZE: when > 0, POST a body of that many bytes.
-- done() prints one JSON line (prefixed with BENCH_JSON) that the harness parses.

local path = os.getenv("BENCH_PATH") or "/hello"
local body_size = tonumber(os.getenv("BENCH_BODY_SIZE") or "0")

wrk.path = path
if body_size > 0 then
  wrk.method = "POST"
  wrk.body = string.rep("b", body_size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, ' ..
    '"err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, "err_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
