"""Runs the plan, workload by workload: every selected server runs a workload before the next
workload starts, so the servers compared in one table group are measured close in time.
With ``rounds`` > 1 the servers take turns that many times on each workload and each
server's median run is reported (its other values are kept in ``extra["round_values"]``):
a drift of the machine then touches every server alike.

Only the measured server runs (``isolate``, the default): the others are stopped before
each run and started again for their own, so no idle server shares the server CPU. Idle
servers are not free: with all of the hello workload's servers kept up beside it (the
former protocol, ``--shared``), ours lost about 9% on ASGI hello, Uvicorn about 5%,
Granian about 2%, and the spread between rounds grew (3-5 rounds each way, this machine).
With ``--shared`` servers stay up between runs; a server that dies is restarted for its next
run. A ``fresh_server`` workload gets a server started for it alone. Any failure becomes an
"n/a" result with its reason; the run goes on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from . import client_runs, load, probe
from .results import Measurement, Result, Timing, WorkloadFailed
from .servers import RunningServer, ServerFailed, ServerSpec, running
from .workloads import Workload


@dataclass(frozen=True)
class Plan:
    servers: tuple[ServerSpec, ...]
    workloads: tuple[Workload, ...]
    timing: Timing
    pythons: dict[str, Path]  # venv name -> its python
    tools_python: Path
    rounds: int = 1
    #: Only the measured server runs: the others are stopped first (restarted when due).
    isolate: bool = True


class ServerPool:
    """Running servers by key; each one stopped by its own exit stack."""

    def __init__(self, pythons: dict[str, Path], isolate: bool = True) -> None:
        self._pythons = pythons
        self._isolate = isolate
        self._running: dict[str, tuple[contextlib.ExitStack, RunningServer]] = {}

    def get(self, spec: ServerSpec) -> RunningServer:
        """The running server of ``spec``, (re)started if needed. Raises :class:`ServerFailed`."""
        if self._isolate:
            self.close(keep=spec.key)
        entry = self._running.get(spec.key)
        if entry is not None and entry[1].alive():
            return entry[1]
        self.stop(spec)
        stack = contextlib.ExitStack()
        server = stack.enter_context(running(spec, self._pythons[spec.venv]))
        self._running[spec.key] = (stack, server)
        return server

    def stop(self, spec: ServerSpec) -> None:
        entry = self._running.pop(spec.key, None)
        if entry is not None:
            entry[0].close()

    def close(self, keep: str | None = None) -> None:
        """Stop every server, or all but ``keep``."""
        for key in [key for key in self._running if key != keep]:
            stack, _ = self._running.pop(key)
            stack.close()


def run_plan(plan: Plan) -> list[Result]:
    results: list[Result] = []
    pool = ServerPool(plan.pythons, plan.isolate)
    try:
        for workload in plan.workloads:
            specs = [spec for spec in plan.servers if spec.interface in workload.interfaces]
            runs: dict[str, list[Result]] = {spec.key: [] for spec in specs}
            for _ in range(plan.rounds):
                for spec in specs:
                    runs[spec.key].append(_run_workload(pool, spec, workload, plan))
            results.extend(_median(rounds) for rounds in runs.values())
    finally:
        pool.close()
    return results


def _median(rounds: list[Result]) -> Result:
    """The median run (the lower one of an even count); any failed round fails the result."""
    if len(rounds) == 1:
        return rounds[0]
    for result in rounds:
        if not result.ok:
            return result
    ordered = sorted(rounds, key=lambda result: result.value or 0.0)
    median = ordered[(len(ordered) - 1) // 2]
    median.extra["round_values"] = [result.value for result in rounds]
    return median


def _key(spec: ServerSpec, workload: Workload) -> tuple[str, str, str]:
    return (workload.name, spec.interface, spec.name)


def _run_workload(pool: ServerPool, spec: ServerSpec, workload: Workload, plan: Plan) -> Result:
    try:
        if workload.fresh_server:
            if plan.isolate:
                pool.close()  # alone on its CPU, as any measured server
            with running(spec, plan.pythons[spec.venv]) as server:
                return _run_one(server, workload, plan)
        return _run_one(pool.get(spec), workload, plan)
    except ServerFailed as exc:
        print(f"  {spec.key}: {exc}", flush=True)
        return _report(Result.failed(_key(spec, workload), workload.unit, "server failed"))


def _run_one(server: RunningServer, workload: Workload, plan: Plan) -> Result:
    key = _key(server.spec, workload)
    try:
        measurement = _measure(server, workload, plan)
    except WorkloadFailed as exc:
        return _report(Result.failed(key, workload.unit, str(exc)))
    except Exception as exc:  # a broken driver must not lose the other results
        return _report(Result.failed(key, workload.unit, f"{type(exc).__name__}: {exc}"))
    if not server.alive():
        reason = f"server exited during the run: {server.log_tail(300)!r}"
        return _report(Result.failed(key, workload.unit, reason))
    return _report(Result.measured(key, workload.unit, measurement))


def _measure(server: RunningServer, workload: Workload, plan: Plan) -> Measurement:
    if workload.driver == "wrk":
        probe.check_response(server.port, workload)
        return load.run_wrk(server.port, workload, plan.timing)
    if workload.driver == "h2load":
        return load.run_h2load(server.port, workload, plan.timing)
    if workload.driver == "ws":
        return client_runs.run_ws(plan.tools_python, server.port, server.pid, workload, plan.timing)
    if workload.driver == "rss":
        return client_runs.run_rss(plan.tools_python, server.port, server.pid, workload)
    raise WorkloadFailed(f"unknown driver {workload.driver!r}")


def _report(result: Result) -> Result:
    label = f"  {result.workload:<17} {result.interface:<5} {result.server:<18}"
    if result.ok:
        latency = (
            f"  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms" if result.p99_ms else ""
        )
        print(f"{label} {result.value:>12,.1f} {result.unit}{latency}", flush=True)
    else:
        print(f"{label} n/a ({result.reason})", flush=True)
    return result
