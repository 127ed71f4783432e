"""An ASGI app that reports what the garbage collector did with its start-up heap.

At import it leaves a reference cycle behind as garbage, first promoted to the oldest
generation (so only a full collection frees it), and keeps a weak reference to it.
``/faults`` reports the page faults of allocating and freeing 100 KiB bodies in the
worker, the pattern glibc turns into heap trims unless its thresholds were primed.
"""

import gc
import json
import resource
import weakref


class _Node:
    def __init__(self) -> None:
        self.peer = self


def _dropped_cycle() -> "weakref.ref[_Node]":
    node = _Node()
    gc.collect()  # the cycle, still referenced, survives into the oldest generation
    return weakref.ref(node)


_CYCLE = _dropped_cycle()
_KEPT = {"kept": [1, 2, 3]}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    report = _faults() if scope["path"] == "/faults" else _heap_report()
    body = json.dumps(report).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _faults() -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(1000):
        first = b"x" * (100 * 1024)
        second = b"y" * (100 * 1024)
        del first, second
    return {"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}


def _heap_report() -> dict:
    return {
        "frozen": gc.get_freeze_count(),
        "dropped_cycle_alive": _CYCLE() is not None,
        "kept_is_frozen": not any(obj is _KEPT for obj in gc.get_objects()),
    }
