"""py-spy profile of our server while wrk runs the hello workload.

py-spy (tools venv) samples the server's process tree on CLIENT_CPU next to wrk; the
collapsed stacks are summarised as the functions with the most self and inclusive samples.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

from . import load
from .paths import CLIENT_CPU, RESULTS_DIR, pinned
from .results import Timing
from .servers import ServerSpec, running
from .workloads import BY_NAME

TOP = 20
SAMPLE_RATE = "250"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_PATH_ANCHORS = ("site-packages/", "/src/", "/lib/python3")
# Start-up frames every sample of the worker passes through: not worth listing.
_PLUMBING = ("<frozen runpy>", "multiprocessing/", "click/", "granian/__main__", "granian/cli",
             "granian/server/", "supervisor.py")  # fmt: skip
_NO_PYTHON_FRAME = "(no Python frame: native code)"


def _short_frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file path after the package root)``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for anchor in _PATH_ANCHORS:
        if anchor in path:
            path = path.split(anchor, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(collapsed: str) -> str:
    """Top functions by self and by inclusive samples, from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # With --subprocesses, stacks start with "process PID:cmdline" frames.
        frames = [_short_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        total += count
        own[frames[-1] if frames else _NO_PYTHON_FRAME] += count
        for frame in set(frames):
            if not any(part in frame for part in _PLUMBING):
                inclusive[frame] += count
    if not total:
        return "no samples (is ptrace allowed here?)\n"
    lines = [
        f"{total} samples (idle excluded). Self time of the frame that runs the loop",
        "(run_worker / run_until_complete) is time in the loop's C code: socket I/O, scheduling.",
        "",
        "top self:",
    ]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(TOP)]
    lines += ["", "top inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(TOP)]
    return "\n".join(lines) + "\n"


def profile_hello(spec: ServerSpec, python: Path, tools_python: Path, timing: Timing) -> Path:
    """Profile ``spec`` under the hello load; returns the summary file written."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw_path = RESULTS_DIR / f"profile-{stamp}-{spec.key}.collapsed"
    summary_path = raw_path.with_suffix(".txt")
    seconds = timing.measure_s + 2
    with running(spec, python) as server:
        argv = [
            str(tools_python.parent / "py-spy"), "record", "--pid", str(server.pid),
            "--subprocesses", "--nonblocking", "--rate", SAMPLE_RATE, "--duration", str(seconds),
            "--format", "raw", "--output", str(raw_path),
        ]  # fmt: skip
        spy = subprocess.Popen(
            pinned(CLIENT_CPU, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            time.sleep(1)  # let py-spy attach before the load starts
            measured = load.run_wrk(server.port, BY_NAME["hello"], Timing(timing.measure_s, 0))
            spy_output, _ = spy.communicate(timeout=seconds + 60)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
    collapsed = raw_path.read_text() if raw_path.exists() else ""
    header = f"{spec.key}: hello under wrk, {measured.value:,.0f} req/s while sampled\n"
    summary_path.write_text(header + summarize(collapsed) + (spy_output if not collapsed else ""))
    return summary_path
