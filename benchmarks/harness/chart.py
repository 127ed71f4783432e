"""Bar chart of a results JSON: one panel per workload x interface, one bar per server.

Runs in the tools venv (matplotlib): ``python chart.py results.json out.png``.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLUMNS = 4
OURS_COLOR = "#d62728"
PEER_COLOR = "#1f77b4"
LIMIT_COLOR = "#7f7f7f"


def _panels(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    panels: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        panels[(row["workload"], row["shown_interface"], row["unit"])].append(row)
    return panels


def _color(server: str) -> str:
    return {"ours": OURS_COLOR, "limit": LIMIT_COLOR}.get(server, PEER_COLOR)


def _draw(axis: Any, title: str, unit: str, rows: list[dict[str, Any]]) -> None:
    names = [row["server"] for row in rows]
    values = [row["value"] or 0.0 for row in rows]
    bars = axis.bar(range(len(rows)), values, color=[_color(n) for n in names])
    for bar, row in zip(bars, rows, strict=True):
        label = "n/a" if row["value"] is None else f"{row['value']:,.0f}"
        axis.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    axis.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=7)
    if max(values, default=0.0) > 0:
        axis.set_ylim(0, max(values) * 1.15)  # room for the value labels
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(unit, fontsize=8)
    axis.tick_params(axis="y", labelsize=7)


def main(json_path: str, png_path: str) -> None:
    with open(json_path) as file:
        document = json.load(file)
    panels = _panels(document["table"])
    rows_count = max(1, math.ceil(len(panels) / COLUMNS))
    figure, axes = plt.subplots(
        rows_count, COLUMNS, figsize=(4.2 * COLUMNS, 3.2 * rows_count), squeeze=False
    )
    for axis, ((workload, interface, unit), rows) in zip(axes.flat, panels.items(), strict=False):
        _draw(axis, f"{workload} ({interface})", unit, rows)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    meta = document["meta"]
    rounds = meta.get("rounds", 1)
    medians = f", median of {rounds} rounds" if rounds > 1 else ""
    figure.suptitle(
        f"granian-py benchmarks {meta.get('started', '')} - {meta.get('timing', '')}{medians}"
        " (RSS: lower is better)",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))  # leave room for the title
    figure.savefig(png_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
