"""An RSGI app whose lifecycle hooks record, in a file, that they ran on a stopped loop.

Served by the real CLI in a worker process; ``RSGI_LIFECYCLE_FILE`` names the record.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


def _record(line: str) -> None:
    with open(os.environ["RSGI_LIFECYCLE_FILE"], "a", encoding="utf-8") as record:
        record.write(line + "\n")


async def _answer() -> str:
    return "ran"


class LifecycleApp:
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # run_until_complete only works on a loop that is not running yet.
        _record(f"init running={loop.is_running()} {loop.run_until_complete(_answer())}")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        _record(f"del running={loop.is_running()} {loop.run_until_complete(_answer())}")

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        _record("request")
        proto.response_str(200, [], "lifecycle")


app = LifecycleApp()
