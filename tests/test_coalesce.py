"""The worker's write coalescer on a real event loop: one flush per loop pass, in order."""

from __future__ import annotations

import asyncio
import logging

import pytest
from granian_core.coalesce import WriteCoalescer


class Holder:
    def __init__(self, name: str, released: list[str], fail: bool = False) -> None:
        self.name = name
        self.released = released
        self.fail = fail

    def release_held(self) -> None:
        self.released.append(self.name)
        if self.fail:
            raise RuntimeError("broken transport")


def test_holders_of_one_pass_are_released_together_on_the_next() -> None:
    async def scenario() -> list[list[str]]:
        coalescer = WriteCoalescer(asyncio.get_running_loop())
        released: list[str] = []
        snapshots = []
        for name in ("a", "b", "c"):
            coalescer.hold(Holder(name, released))
        snapshots.append(list(released))  # nothing yet: the flush waits for the loop
        await asyncio.sleep(0)
        snapshots.append(list(released))
        coalescer.hold(Holder("d", released))  # a later pass gets a flush of its own
        await asyncio.sleep(0)
        snapshots.append(list(released))
        return snapshots

    assert asyncio.run(scenario()) == [[], ["a", "b", "c"], ["a", "b", "c", "d"]]


def test_a_failing_holder_does_not_keep_the_others(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        coalescer = WriteCoalescer(asyncio.get_running_loop())
        released: list[str] = []
        coalescer.hold(Holder("a", released))
        coalescer.hold(Holder("broken", released, fail=True))
        coalescer.hold(Holder("c", released))
        await asyncio.sleep(0)
        return released

    with caplog.at_level(logging.ERROR, logger="_granian"):
        assert asyncio.run(scenario()) == ["a", "broken", "c"]
    assert "writing held bytes failed" in caplog.text
