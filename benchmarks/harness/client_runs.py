"""Drivers that run our Python clients (tools venv) on CLIENT_CPU: WebSocket echo and RSS."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from .paths import CLIENT_CPU, CLIENTS_DIR, HOST, pinned
from .results import Measurement, Timing, WorkloadFailed, percentile
from .workloads import Workload

WS_PROCESSES = 2
MIN_HELD_SHARE = 0.95  # an RSS figure only means something if the connections stayed open
_SLACK_S = 120


def _start(python: Path, script: str, args: list[str]) -> subprocess.Popen[str]:
    argv = pinned(CLIENT_CPU, [str(python), str(CLIENTS_DIR / script), *args])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _collect(process: subprocess.Popen[str], seconds: int) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=seconds + _SLACK_S)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise WorkloadFailed("client did not finish") from exc
    if process.returncode != 0:
        raise WorkloadFailed(f"client exit {process.returncode}: {err.strip()[-300:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _stop_all(processes: list[subprocess.Popen[str]]) -> None:
    """Kill (by PID) the clients still running after a failure or an interrupt."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every process in process group ``pgid`` (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name, which may hold spaces: state, ppid, pgrp, ...
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process exited meanwhile
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_ws(
    python: Path, port: int, server_pgid: int, workload: Workload, timing: Timing
) -> Measurement:
    """Echo messages/s, and the server's CPU per message (all its processes, the
    measured window only: the load is steady, so CPU rate / message rate)."""
    args = [
        "--url", f"ws://{HOST}:{port}/ws", "--connections", str(workload.connections),
        "--warmup", str(timing.warmup_s), "--duration", str(timing.measure_s),
    ]  # fmt: skip
    processes = [_start(python, "ws_echo.py", args) for _ in range(WS_PROCESSES)]
    try:
        time.sleep(timing.warmup_s)
        cpu_start, window_start = _group_cpu_seconds(server_pgid), time.monotonic()
        time.sleep(timing.measure_s)
        cpu_end, window_end = _group_cpu_seconds(server_pgid), time.monotonic()
        reports = [_collect(p, timing.measure_s + timing.warmup_s) for p in processes]
    finally:
        _stop_all(processes)
    messages = sum(int(r["messages"]) for r in reports)
    errors = sum(int(r["errors"]) for r in reports)
    if messages == 0 or errors:
        first = next((r["first_error"] for r in reports if r.get("first_error")), "")
        raise WorkloadFailed(f"WebSocket echo failed: {errors} connection errors ({first})")
    samples = sorted(us / 1000 for r in reports for us in r["samples_us"])
    rate = messages / timing.measure_s
    cpu_rate = (cpu_end - cpu_start) / (window_end - window_start)
    return Measurement(
        value=rate,
        p50_ms=percentile(samples, 0.5) if samples else None,
        p99_ms=percentile(samples, 0.99) if samples else None,
        extra={
            "messages": messages,
            "clients": WS_PROCESSES * workload.connections,
            "server_cpu_share": round(cpu_rate, 3),
            "server_cpu_us_per_message": round(cpu_rate / rate * 1e6, 2),
        },
    )


def run_rss(python: Path, port: int, pid: int, workload: Workload) -> Measurement:
    args = ["--port", str(port), "--pid", str(pid), "--connections", str(workload.connections)]
    process = _start(python, "idle_conns.py", args)
    try:
        report = _collect(process, 120)
    finally:
        _stop_all([process])
    held = int(report["held"])
    if held < MIN_HELD_SHARE * workload.connections:
        raise WorkloadFailed(
            f"server kept {held}/{workload.connections} idle connections "
            f"(opened {report['opened']})"
        )
    rss, base = float(report["rss_mib"]), float(report["rss_base_mib"])
    per_conn_kib = (rss - base) * 1024 / held
    return Measurement(value=rss, extra={**report, "kib_per_connection": round(per_conn_kib, 2)})
