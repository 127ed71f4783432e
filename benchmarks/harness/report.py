"""The results table (workload x server, with ours/peer ratios), JSON and PNG files."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .paths import CHART_SCRIPT, RESULTS_DIR
from .results import Result
from .workloads import BY_NAME

_COLUMNS = (
    f"{'workload':<17} {'iface':<5} {'server':<18} {'value':>12} {'unit':<6} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'ours/this':>9}  note"
)


def table_rows(results: list[Result]) -> list[tuple[Result, str, float | None]]:
    """(result, interface shown, ours/this ratio) in workload order.

    The "raw" limit server has no interface: it is shown in every interface's group of its
    workload, compared with ours on that interface.
    """
    present = [i for i in ("asgi", "rsgi", "wsgi") if any(r.interface == i for r in results)]
    interfaces = present or ["raw"]
    ours = {
        (r.workload, r.interface): r.value
        for r in results
        if r.server == "ours" and r.value is not None
    }
    order = {name: index for index, name in enumerate(BY_NAME)}
    rows: list[tuple[Result, str, float | None]] = []
    for result in results:
        shown = [result.interface] if result.interface != "raw" else interfaces
        for interface in shown:
            mine = ours.get((result.workload, interface))
            ratio = mine / result.value if mine is not None and result.value else None
            rows.append((result, interface, ratio))
    rows.sort(key=lambda row: (order.get(row[0].workload, 99), row[1], row[0].server != "ours"))
    return rows


def format_table(results: list[Result]) -> str:
    lines = [_COLUMNS, "-" * len(_COLUMNS)]
    previous: tuple[str, str] | None = None
    for result, interface, ratio in table_rows(results):
        if previous and previous != (result.workload, interface):
            lines.append("")
        previous = (result.workload, interface)
        lines.append(_format_row(result, interface, ratio))
    return "\n".join(lines)


def _num(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "-"


def _format_row(result: Result, interface: str, ratio: float | None) -> str:
    value = _num(result.value, ",.1f") if result.ok else "n/a"
    note = result.reason if not result.ok else _note(result)
    return (
        f"{result.workload:<17} {interface:<5} {result.server:<18} {value:>12} {result.unit:<6} "
        f"{_num(result.p50_ms, '.2f'):>8} {_num(result.p99_ms, '.2f'):>8} "
        f"{_num(ratio, '.2f'):>9}  {note}".rstrip()
    )


def _note(result: Result) -> str:
    notes = []
    if result.errors:
        notes.append(f"{result.errors} errors")
    if "server_cpu_us_per_message" in result.extra:
        notes.append(f"{result.extra['server_cpu_us_per_message']} µs server CPU/msg")
    if "kib_per_connection" in result.extra:
        notes.append(f"{result.extra['kib_per_connection']} KiB/conn")
    return ", ".join(notes)


def save(results: list[Result], meta: dict[str, Any], tools_python: Path | None) -> Path:
    """Write results/<stamp>.{json,txt,png} and the latest.* copies; returns the JSON path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = [
        {**asdict(r), "shown_interface": iface, "ours_over_this": ratio}
        for r, iface, ratio in table_rows(results)
    ]
    document = {"meta": meta, "results": [asdict(r) for r in results], "table": rows}
    json_path = RESULTS_DIR / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(document, indent=1) + "\n")
    (RESULTS_DIR / f"bench-{stamp}.txt").write_text(format_table(results) + "\n")
    _copy_latest(json_path, RESULTS_DIR / f"bench-{stamp}.txt")
    if tools_python is not None:
        _chart(tools_python, json_path)
    return json_path


def _copy_latest(*paths: Path) -> None:
    for path in paths:
        shutil.copyfile(path, RESULTS_DIR / f"latest{path.suffix}")


def _chart(tools_python: Path, json_path: Path) -> None:
    png_path = json_path.with_suffix(".png")
    done = subprocess.run(
        [str(tools_python), str(CHART_SCRIPT), str(json_path), str(png_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        print(f"chart failed: {done.stderr.strip()[-500:]}")
        return
    _copy_latest(png_path)
