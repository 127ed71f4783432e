"""Where the suite keeps things, and which CPU does what."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
PACKAGES_DIR = REPO_ROOT / "packages"
VENVS_DIR = BENCH_DIR / ".venvs"
WORK_DIR = BENCH_DIR / ".work"
LOGS_DIR = WORK_DIR / "logs"
RESULTS_DIR = BENCH_DIR / "results"
CLIENTS_DIR = BENCH_DIR / "clients"
LUA_SCRIPT = BENCH_DIR / "lua" / "bench.lua"
CHART_SCRIPT = BENCH_DIR / "harness" / "chart.py"

HOST = "127.0.0.1"
# Servers run on one core, load generators on the other: they never compete for a CPU.
SERVER_CPU = "0"
CLIENT_CPU = "1"


def pinned(cpu: str, argv: list[str]) -> list[str]:
    """``argv`` run under ``taskset`` on ``cpu`` (children inherit the affinity)."""
    return ["taskset", "-c", cpu, *argv]
