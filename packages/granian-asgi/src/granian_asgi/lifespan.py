"""The ASGI lifespan protocol, driven once per worker.

The app runs with the ``lifespan`` scope as a task for the worker's whole life.
``startup``/``shutdown`` each send one event and wait for the app's answer, or
for the app to end without one. An app that raises before answering startup
does not support lifespan: we warn and serve without it (Granian and uvicorn do
the same). An explicit ``lifespan.startup.failed`` stops the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from granian_core.interface import StartupFailed

from .asgi_types import ASGI_VERSION, ASGIApp, Message

__all__ = ["Lifespan"]

logger = logging.getLogger("_granian")

#: How long shutdown waits for the app to return after it answered, before cancelling it.
_APP_EXIT_GRACE = 5.0


class Lifespan:
    """Runs the app's lifespan cycle; ``state`` is the dict shared with request scopes."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self.state = state
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._phase = ""  # the event whose answer we wait for, e.g. "lifespan.startup"
        self._answer: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._answered_startup = False
        self._answered_failure = False
        self.supported = True

    async def startup(self) -> None:
        """Send ``lifespan.startup``; raise :class:`StartupFailed` if the app says so."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        answer = await self._ask("lifespan.startup")
        if answer is None:
            return  # the app ended without answering: serve without lifespan
        self._answered_startup = True
        if answer["type"] == "lifespan.startup.failed":
            await self._finish_task()
            raise StartupFailed(_failure_message(answer))

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the answer (a failure is only logged)."""
        task = self._task
        if task is None or task.done() or not self.supported:
            return
        answer = await self._ask("lifespan.shutdown")
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            logger.error("ASGI lifespan shutdown failed: %s", _failure_message(answer))
        await self._finish_task()

    # -- the app's side ----------------------------------------------------------------
    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION.copy(), "state": self.state}
        try:
            await self._app(scope, self._receive, self._send)
        except Exception:
            if self._answered_failure:
                return  # the app reported the failure itself (and it is logged with it)
            if self._answered_startup:
                logger.exception("ASGI lifespan errored")
            else:
                self.supported = False
                logger.warning(
                    "ASGI Lifespan errored, continuing without Lifespan support "
                    '(to avoid Lifespan completely use "asginl" interface)',
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )

    async def _receive(self) -> Message:
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        answer = self._answer
        if answer is None or answer.done() or kind not in _ANSWERS[self._phase]:
            raise RuntimeError(f"ASGI flow error: unexpected lifespan message {kind!r}")
        self._answered_failure = kind.endswith(".failed")
        answer.set_result(message)

    # -- helpers -------------------------------------------------------------------------
    async def _ask(self, event: str) -> Message | None:
        """Send ``event``; the app's answer, or None if the app returned without one."""
        assert self._task is not None
        self._phase = event
        answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._answer = answer
        self._events.put_nowait({"type": event})
        await asyncio.wait((answer, self._task), return_when=asyncio.FIRST_COMPLETED)
        return answer.result() if answer.done() else None

    async def _finish_task(self) -> None:
        """Let the app's lifespan coroutine return; cancel it if it lingers."""
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait((task,), timeout=_APP_EXIT_GRACE)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_ANSWERS: dict[str, tuple[str, ...]] = {
    "": (),  # no event sent yet: nothing is a valid answer
    "lifespan.startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "lifespan.shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}


def _failure_message(answer: Message) -> str:
    return str(answer.get("message", ""))
