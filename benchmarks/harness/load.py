"""HTTP load drivers: wrk (HTTP/1.1) and h2load (h2c, prior knowledge), pinned to CLIENT_CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .paths import CLIENT_CPU, HOST, LUA_SCRIPT, pinned
from .results import Measurement, Timing, WorkloadFailed, percentile
from .workloads import Workload

# Share of failed requests above which a result is not a fair number any more.
MAX_ERROR_SHARE = 0.01
_SLACK_S = 60  # a run may take this much longer than asked before it is killed


def _run_tool(argv: list[str], seconds: int, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            pinned(CLIENT_CPU, argv),
            capture_output=True,
            text=True,
            timeout=seconds + _SLACK_S,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkloadFailed(f"{argv[0]} did not finish") from exc
    if done.returncode != 0:
        raise WorkloadFailed(f"{argv[0]} exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout


# -- wrk ------------------------------------------------------------------------------------


def _wrk_once(port: int, workload: Workload, seconds: int) -> dict[str, int]:
    argv = [
        "wrk", "-t1", f"-c{workload.connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(LUA_SCRIPT), f"http://{HOST}:{port}{workload.path}",
    ]  # fmt: skip
    env = {
        **os.environ,
        "BENCH_PATH": workload.path,
        "BENCH_BODY_SIZE": str(workload.body_size),
    }
    output = _run_tool(argv, seconds, env)
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise WorkloadFailed(f"wrk printed no summary: {output[-300:]}")


def run_wrk(port: int, workload: Workload, timing: Timing) -> Measurement:
    if timing.warmup_s:
        _wrk_once(port, workload, timing.warmup_s)
    stats = _wrk_once(port, workload, timing.measure_s)
    requests = stats["requests"]
    errors = sum(stats[k] for k in ("err_connect", "err_read", "err_write", "err_timeout"))
    bad_status = stats["err_status"]
    if requests == 0:
        raise WorkloadFailed(f"no request completed ({errors} socket errors)")
    if bad_status > MAX_ERROR_SHARE * requests:
        raise WorkloadFailed(f"{bad_status}/{requests} responses were not 2xx/3xx")
    return Measurement(
        value=requests / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=errors + bad_status,
        extra={"requests": requests, "bytes": stats["bytes"], **_error_detail(stats)},
    )


def _error_detail(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if k.startswith("err_") and v}


# -- h2load ---------------------------------------------------------------------------------

_FINISHED = re.compile(r"finished in [\d.]+\w+, ([\d.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)


def _latencies_ms(log_file: Path) -> list[float]:
    """h2load --log-file lines: start time, status, duration (µs), tab separated."""
    values = []
    for line in log_file.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[1].startswith("2"):
            values.append(int(fields[2]) / 1000)
    values.sort()
    return values


def run_h2load(port: int, workload: Workload, timing: Timing) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        log_file = Path(tmp) / "requests.log"
        argv = [
            "h2load", "-t1", "-c", str(workload.connections), "-m", str(workload.streams),
            "-D", str(timing.measure_s), f"--warm-up-time={max(timing.warmup_s, 1)}",
            "--log-file", str(log_file), f"http://{HOST}:{port}{workload.path}",
        ]  # fmt: skip
        output = _run_tool(argv, timing.measure_s + timing.warmup_s)
        finished, counts = _FINISHED.search(output), _REQUESTS.search(output)
        if finished is None or counts is None:
            raise WorkloadFailed(f"h2load: unexpected output {output.strip()[-300:]}")
        succeeded, failed, errored, timeouts = (int(counts.group(i)) for i in (4, 5, 6, 7))
        if succeeded == 0:
            raise WorkloadFailed(f"h2c not served ({_h2load_reason(output)})")
        bad = failed + errored + timeouts
        if bad > MAX_ERROR_SHARE * (succeeded + bad):
            raise WorkloadFailed(f"{bad}/{succeeded + bad} h2 requests failed")
        latencies = _latencies_ms(log_file)
    return Measurement(
        value=float(finished.group(1)),
        p50_ms=percentile(latencies, 0.50) if latencies else None,
        p99_ms=percentile(latencies, 0.99) if latencies else None,
        errors=bad,
        extra={"requests": succeeded},
    )


def _h2load_reason(output: str) -> str:
    """h2load's own complaint if any, else its request counts."""
    lines = [line.strip() for line in output.splitlines()]
    complaints = [line for line in lines if "error" in line.lower() or "fail" in line.lower()]
    counts = [line for line in lines if line.startswith("requests:")]
    return (complaints or counts or ["no successful request"])[0][:160]
