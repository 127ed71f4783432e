"""Run the granian-py benchmark suite. See benchmarks/README.md.

python benchmarks/run.py [--quick] [--only WORKLOAD...] [--servers NAME...]
                         [--interfaces asgi rsgi wsgi] [--profile]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import environment, profiling, report
from harness.results import Timing
from harness.runner import Plan, run_plan
from harness.servers import SERVERS, ServerSpec
from harness.workloads import BY_NAME, WORKLOADS

BUSY_LOAD = 1.0  # 1-minute load average above which something else is using the CPUs
SERVER_NAMES = sorted({spec.name for spec in SERVERS})
_VERSIONS = {
    "ours": ("granian", "granian-core", "uvloop", "httptools", "h11"),
    "granian": ("granian", "uvloop"),
    "uvicorn": ("uvicorn", "httptools", "uvloop", "h11", "websockets"),
    "hypercorn": ("hypercorn", "uvloop", "h11", "h2"),
    "gunicorn": ("gunicorn",),
    "tools": ("uvloop", "websockets", "psutil", "matplotlib", "py-spy"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="granian-py benchmark suite")
    parser.add_argument("--quick", action="store_true", help="3 s measured, 1 s warm-up")
    parser.add_argument("--duration", type=int, help="seconds measured per run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per run (default 3)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BY_NAME),
        metavar="WORKLOAD",
        help=f"workloads to run: {', '.join(BY_NAME)}",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        choices=SERVER_NAMES,
        metavar="SERVER",
        help=f"servers to run: {', '.join(SERVER_NAMES)}",
    )
    parser.add_argument("--interfaces", nargs="+", choices=["asgi", "rsgi", "wsgi"])
    parser.add_argument(
        "--ours-python",
        type=Path,
        help="run our server with this interpreter instead of .venvs/ours",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of benchmarking, py-spy our server under the hello load",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each workload N times, servers taking turns; report each median",
    )
    parser.add_argument(
        "--shared",
        action="store_true",
        help="keep every server up between its runs (idle beside the measured one on its "
        "CPU); by default only the measured server runs",
    )
    parser.add_argument("--list", action="store_true", help="list workloads and servers")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def timing_from(args: argparse.Namespace) -> Timing:
    measure, warmup = (3, 1) if args.quick else (10, 3)
    return Timing(args.duration or measure, args.warmup if args.warmup is not None else warmup)


def selected_servers(args: argparse.Namespace) -> tuple[ServerSpec, ...]:
    names = set(args.servers or SERVER_NAMES)
    interfaces = set(args.interfaces or ("asgi", "rsgi", "wsgi")) | {"raw"}
    return tuple(s for s in SERVERS if s.name in names and s.interface in interfaces)


def prepare(servers: tuple[ServerSpec, ...], ours_python: Path | None) -> dict[str, Path]:
    """Install tools and venvs; map each venv name to its python."""
    environment.ensure_tools()
    pythons = {}
    for name in sorted({s.venv for s in servers} | {"tools"}):
        if name == "ours" and ours_python is not None:
            pythons[name] = ours_python
            continue
        pythons[name] = environment.ensure_venv(environment.VENVS[name]).python
    return pythons


def raise_fd_limit() -> None:
    """Servers and clients inherit this: 10k idle connections need more than 1024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def describe_machine(pythons: dict[str, Path], timing: Timing) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "timing": f"{timing.measure_s}s measured, {timing.warmup_s}s warm-up",
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "versions": {
            name: environment.installed_versions(python, _VERSIONS.get(name, ()))
            for name, python in pythons.items()
        },
    }


def list_everything() -> None:
    print("workloads:")
    for w in WORKLOADS:
        print(f"  {w.name:<17} {w.description} [{', '.join(w.interfaces)}]")
    print("servers:")
    for s in SERVERS:
        print(f"  {s.name:<18} {s.interface}")


def run_profile(args: argparse.Namespace, timing: Timing) -> int:
    interfaces = args.interfaces or ["asgi", "rsgi"]
    specs = tuple(s for s in SERVERS if s.is_ours and s.interface in interfaces)
    pythons = prepare(specs, args.ours_python)
    for spec in specs:
        path = profiling.profile_hello(spec, pythons["ours"], pythons["tools"], timing)
        print(path.read_text())
        print(f"(written to {path})")
    return 0


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops its server and clients."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    if args.list:
        list_everything()
        return 0
    raise_fd_limit()
    timing = timing_from(args)
    if args.profile:
        return run_profile(args, timing)
    servers = selected_servers(args)
    workloads = tuple(BY_NAME[name] for name in args.only) if args.only else WORKLOADS
    pythons = prepare(servers, args.ours_python)
    meta = describe_machine(pythons, timing)
    meta["rounds"] = args.rounds
    meta["isolated"] = not args.shared
    print(
        f"benchmarks: {meta['timing']}, {len(servers)} servers, {len(workloads)} workloads, "
        f"{args.rounds} round(s)"
    )
    if meta["loadavg_start"][0] > BUSY_LOAD:
        print(f"warning: load average {meta['loadavg_start'][0]:.1f}: results will be noisy")
    plan = Plan(servers, workloads, timing, pythons, pythons["tools"], args.rounds, not args.shared)
    results = run_plan(plan)
    meta["loadavg_end"] = os.getloadavg()
    print()
    print(report.format_table(results))
    json_path = report.save(results, meta, pythons["tools"])
    print(f"\nsaved {json_path} (+ .txt, .png; latest.* copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
