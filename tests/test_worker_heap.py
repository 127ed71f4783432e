"""A worker freezes its start-up heap (gc.freeze) after a full collection; the embedded
server, which runs in someone else's process, leaves the collector alone."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

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
