"""A worker freezes its start-up heap (gc.freeze) after a full collection, and primes
glibc's malloc thresholds; the embedded server, which runs in someone else's process,
leaves both alone."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from .apps import heap_asgi
from .conftest import GranianProcess, ServerHandle

APP = "tests.apps.heap_asgi:app"


def test_a_worker_freezes_its_startup_heap_after_collecting_garbage(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    server = granian_proc("--interface", "asgi", APP)
    report = httpx.get(server.url, timeout=10).json()
    code, _ = server.stop()
    assert code == 0
    assert report["frozen"] > 0
    assert report["kept_is_frozen"] is True  # module-level state is out of gc's sight
    # The cycle the app dropped at import was garbage in the oldest generation: the
    # worker collected it before freezing, instead of keeping it forever.
    assert report["dropped_cycle_alive"] is False


def test_the_embedded_server_does_not_freeze_its_hosts_heap(
    serve: Callable[..., AbstractContextManager[ServerHandle]],
) -> None:
    frozen_before = gc.get_freeze_count()
    with serve(heap_asgi.app, interface="asgi") as srv:
        report = httpx.get(srv.url, timeout=10).json()
    assert report["frozen"] == frozen_before == gc.get_freeze_count()


def test_a_worker_primes_malloc_so_that_100k_bodies_do_not_fault(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    server = granian_proc("--interface", "asgi", APP)
    report = httpx.get(server.url + "/faults", timeout=30).json()
    code, _ = server.stop()
    assert code == 0
    # 2,000 allocations of 100 KiB: unprimed, glibc trims its heap after each pair
    # (about 18 faults a round, 18,000 here); primed, the pages stay mapped.
    assert report["faults"] < 1000


_MMAPPED_PROBE = """
import ctypes, sys
from granian_core.server.heap import prime_malloc_thresholds

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "prime":
    prime_malloc_thresholds()
before = mallinfo2().hblks
block = bytearray(900 * 1024)
print(mallinfo2().hblks - before)
"""


@pytest.mark.parametrize(("mode", "mmapped"), [("none", 1), ("prime", 0)])
def test_priming_moves_glibcs_mmap_threshold_past_900k(mode: str, mmapped: int) -> None:
    # glibc (mallinfo2: the count of mmap-ed blocks): by default a 900 KiB block gets its
    # own mapping, unmapped again when freed; after priming it comes from the heap.
    out = subprocess.run(
        [sys.executable, "-c", _MMAPPED_PROBE, mode], capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == mmapped
