"""Running ``Interface.handle_websocket`` with the core's rules (``WorkerState.dispatch_session``).

The same promises as for HTTP, mapped onto the handshake:

- the handler raises before the handshake was answered: log ``Application
  callable raised an exception`` and answer 500 ``Internal server error``;
  after ``accept``: close with 1011 (a ``ClientDisconnected`` from a session
  whose client is gone, or has sent its close frame, is only logged at debug level);
- the handler returns without answering the handshake: 403 (as ASGI servers
  answer a close before accept); after ``accept`` with the session still open:
  close with 1000;
- access log: one line with status 101 (200 on HTTP/2) when the session is accepted (as
  Granian logs it, at start), or one line with the HTTP status of a rejection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import TYPE_CHECKING

from granian_core.server.state import ERROR_BODY, ERROR_HEADERS
from granian_core.websocket import INTERNAL_ERROR, NORMAL_CLOSURE, ClientDisconnected

if TYPE_CHECKING:
    from granian_core.interface import Interface
    from granian_core.log import AccessLogger

    from .session import CoreSession

__all__ = ["run_session"]

logger = logging.getLogger("_granian")


async def run_session(
    interface: Interface, session: CoreSession, access_logger: AccessLogger | None
) -> None:
    """Serve one session with ``interface``; see the module docstring."""
    started = time.time()
    # The accept is "101 Switching Protocols" on HTTP/1.1, "200" on an HTTP/2 CONNECT stream.
    accepted = 200 if session.http_version == "2" else 101
    if access_logger is not None:
        session.on_accept = partial(access_logger.log_websocket, session, started, accepted)
    try:
        await interface.handle_websocket(session)
    except Exception as exc:
        if isinstance(exc, ClientDisconnected) and (session.disconnected or session.peer_closed):
            # A send to a client that left or closed (ASGI raises OSError then): no app bug.
            logger.debug("WebSocket client went away: %s", exc)
        else:
            logger.exception("Application callable raised an exception")
        _finish_after_failure(session)
    except asyncio.CancelledError:
        session.abort()
        raise
    else:
        _finish_after_return(session)
    finally:
        status = session.status
        if access_logger is not None and status and status not in (101, accepted):
            access_logger.log(session, started, time.time() - started, status)


def _finish_after_failure(session: CoreSession) -> None:
    if session.status == 0:
        if not session.disconnected:
            session.reject(500, list(ERROR_HEADERS), ERROR_BODY)
    elif session.accepted and not session.closed:
        session.close(INTERNAL_ERROR)


def _finish_after_return(session: CoreSession) -> None:
    if session.status == 0:
        if not session.disconnected:
            session.reject(403, [], b"")
    elif session.accepted and not session.closed:
        session.close(NORMAL_CLOSURE)
