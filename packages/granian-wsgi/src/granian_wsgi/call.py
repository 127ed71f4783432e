"""One request's trip through a WSGI app: run on a pool thread, answered on the loop.

``WSGICall.run`` executes on a blocking thread. It calls the app and returns what
the loop must still do:

- ``bytes``: the whole body (list/tuple responses, empty ones, a ``wsgi.file_wrapper``
  around a regular file of up to ``WHOLE_FILE_LIMIT`` bytes) → one ``send_response``;
- :class:`FileSend`: a ``wsgi.file_wrapper`` around a larger real file → ``send_file``;
- ``None``: the body was streamed (``write()`` or a lazy iterable) → ``end_response``;
  or the client disconnected before anything was sent → nothing to do.

The pool hands that outcome, or the app's exception, to ``settle``/``fail`` on
the loop, which answer and then complete the request's future (followed by the
core, or awaited by ``WSGIInterface.handle_http`` while it feeds the body).

Exchange methods are not thread-safe, so streamed chunks travel to the loop with
``call_soon_threadsafe``. A small window of chunks may be in flight; the thread
blocks when it is full and the loop opens it again once a chunk is written and
the transport is not paused (write backpressure reaches the app's thread).
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from granian_core.exchange import ClientDisconnected

from .file_wrapper import FileWrapper
from .input import WSGIInput
from .response import content_length, encode_headers, parse_status

if TYPE_CHECKING:
    from types import TracebackType

    from granian_core.exchange import Headers, HTTPExchange

    from .body_feed import BodyFeed
    from .environ import EnvironBuilder

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

__all__ = ["FileSend", "WSGICall"]

logger = logging.getLogger("_granian")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Streamed chunks that may be queued towards the loop before the app's thread waits.
WRITE_WINDOW = 4
#: A ``wsgi.file_wrapper`` file up to this size is read on the app's thread and answered
#: as a whole body; a larger one goes to the loop for ``sendfile``. The loop reads files
#: this small inline anyway (no sendfile), and only after opening the file again by name
#: and starting a task for it. 50 KiB files, live: 11.4k -> 16.3k req/s.
WHOLE_FILE_LIMIT = 64 * 1024


def _new_window() -> queue.SimpleQueue[None]:
    """The slots of a streamed response's write window: ``WRITE_WINDOW`` tokens.

    A semaphore in C: ``threading.Semaphore`` is written in Python (a Condition around a
    Lock), and its creation, acquire and release cost ~200 bytecodes per response.
    """
    window: queue.SimpleQueue[None] = queue.SimpleQueue()
    for _ in range(WRITE_WINDOW):
        window.put(None)
    return window


class FileSend(NamedTuple):
    """A file response for the loop to send with ``exchange.send_file``."""

    wrapper: FileWrapper
    path: str
    offset: int
    length: int | None  # bytes to send; None = to the end of the file


class _StreamAborted(ClientDisconnected):
    """The response stream cannot continue (client gone, or the exchange refused a write)."""


class WSGICall:
    """``start_response``/``write`` for one request, and the app call itself."""

    __slots__ = (
        "_background",
        "_drain_task",
        "_failure",
        "_window",
        "exchange",
        "headers",
        "headers_sent",
        "loop",
        "status",
    )

    def __init__(
        self,
        exchange: HTTPExchange,
        loop: asyncio.AbstractEventLoop,
        background: set[asyncio.Task[None]],
    ) -> None:
        self.exchange = exchange
        self.loop = loop
        self.status = 0
        self.headers: Headers | None = None
        self.headers_sent = False  # the first body bytes went to the loop: no more changes
        self._window: queue.SimpleQueue[None] | None = None
        self._failure: BaseException | None = None
        self._drain_task: asyncio.Task[None] | None = None
        #: Where ``settle`` keeps the task of a file response (referenced until sent).
        self._background = background

    # -- PEP 3333 callables (app thread) -------------------------------------------------
    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # break the frame <-> traceback cycle
        elif self.headers is not None:
            raise RuntimeError("start_response() called a second time without exc_info")
        self.status = parse_status(status)
        self.headers = encode_headers(headers)
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy imperative ``write()``: the bytes are on their way when it returns."""
        if self.headers is None:
            raise RuntimeError("write() called before start_response()")
        if data:
            self._push(_as_bytes(data))

    # -- running the app (app thread) ----------------------------------------------------
    def run(
        self,
        app: WSGIApp,
        environ_builder: EnvironBuilder,
        body: bytes | None = None,
        feed: BodyFeed | None = None,
    ) -> bytes | FileSend | None:
        """Call the app; ``body`` is the whole request body when it was read beforehand,
        else ``feed`` streams it (neither: there is none)."""
        environ = environ_builder.build(self.exchange)
        environ["wsgi.input"] = WSGIInput(body, feed)
        try:
            result = app(environ, self.start_response)
            if result.__class__ is FileWrapper:
                file_outcome = self._file_outcome(result)
                if file_outcome is not None:
                    return file_outcome
            try:
                return self._consume(result)
            finally:
                # A failing close() (Django's request_finished receivers, say) is logged:
                # it must not cut short a body that is complete.
                close = getattr(result, "close", None)
                if close is not None:
                    _call_close(close)
        except ClientDisconnected:
            if self.exchange.disconnected or isinstance(self._failure, ClientDisconnected):
                return None  # the client left: nothing to answer, not an app error
            raise

    def _file_outcome(self, wrapper: FileWrapper) -> bytes | FileSend | None:
        """A small file's bytes (the wrapper is then closed here), or a larger file for the
        loop to send (it closes the wrapper after); ``None``: iterate the wrapper."""
        if self.headers is None or self.headers_sent:
            return None
        length = content_length(self.headers)
        body = wrapper.read_small(WHOLE_FILE_LIMIT, length)
        if body is not None:
            wrapper.close()
            return body
        source = wrapper.sendfile_source()
        if source is None:
            return None
        return FileSend(wrapper, source[0], source[1], length)

    def _consume(self, result: Iterable[bytes]) -> bytes | None:
        kind = result.__class__
        if (kind is list or kind is tuple) and not self.headers_sent:
            body = _join(result)
            self._require_started()
            return body
        try:
            chunks = iter(result)
        except TypeError:
            raise TypeError(
                f"WSGI application returned a non-iterable {type(result).__name__!r}"
            ) from None
        push = self._push
        for chunk in chunks:
            data = chunk if chunk.__class__ is bytes else _as_bytes(chunk)
            if data:
                push(data)
        if self.headers_sent:
            return None
        self._require_started()
        return b""  # headers but no body: one whole (empty) response

    def _require_started(self) -> None:
        if self.headers is None:
            raise RuntimeError("WSGI application returned without calling start_response()")

    def _push(self, data: bytes) -> None:
        """Hand one chunk to the loop; wait while the window of in-flight chunks is full."""
        window = self._window
        if window is None:
            window = self._window = _new_window()
        window.get()  # a free slot, or wait for the loop to hand one back
        if self._failure is not None:
            window.put(None)  # keep later pushes from blocking: they fail the same way
            self._raise_failure()
        first = not self.headers_sent
        self.headers_sent = True
        self.loop.call_soon_threadsafe(self._write_on_loop, data, first)

    def _raise_failure(self) -> None:
        failure = self._failure
        if failure is None:
            return
        if isinstance(failure, ClientDisconnected):
            raise _StreamAborted("client disconnected")
        raise failure

    # -- the loop side of streaming ------------------------------------------------------
    def _write_on_loop(self, data: bytes, first: bool) -> None:
        if self._failure is not None:
            return
        exchange = self.exchange
        try:
            if first:
                assert self.headers is not None
                exchange.start_response(self.status, self.headers)
            exchange.write(data)
        except Exception as exc:  # e.g. a header the exchange refuses: the app thread raises it
            self._fail(exc)
            return
        if exchange.disconnected:
            self._fail(ClientDisconnected())
        elif exchange.write_paused:
            self._drain_task = self.loop.create_task(self._drain())
        else:
            self._release()

    async def _drain(self) -> None:
        try:
            await self.exchange.drain()
        except ClientDisconnected as exc:
            self._fail(exc)
        else:
            self._release()

    def _release(self) -> None:
        assert self._window is not None
        self._window.put(None)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._release()  # wakes the app's thread, which then sees the failure

    def abort(self) -> None:
        """Unblock the app's thread for good (the handler was cancelled)."""
        if self._failure is None:
            self._failure = ClientDisconnected()
        if self._window is not None:
            self._release()

    # -- finishing on the loop -----------------------------------------------------------
    def end_stream(self) -> None:
        """Finish a streamed response (or nothing, if the client left before it started).

        A write the exchange refused is raised here: the thread may have finished before
        the loop got to that write.
        """
        failure = self._failure
        if failure is not None and not isinstance(failure, ClientDisconnected):
            raise failure
        if self.exchange.response_started:
            self.exchange.end_response()

    # -- answering with the thread's outcome, on the loop ---------------------------------
    def settle(self, done: asyncio.Future[None], outcome: bytes | FileSend | None) -> None:
        """Answer with the thread's outcome, then complete ``done`` (the pool's ``on_result``)."""
        if done.cancelled():
            return  # the request was given up on and aborted
        if outcome is None:
            # Streamed: the thread's last chunks are queued on the loop
            # (call_soon_threadsafe), maybe behind this delivery. End it after them.
            self.loop.call_soon(self._end_stream_after_chunks, done, None)
        elif isinstance(outcome, bytes):
            assert self.headers is not None
            try:  # the hot path: inline, not through _complete
                self.exchange.send_response(self.status, self.headers, outcome)
            except Exception as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)
        else:
            task = self.loop.create_task(self._send_file_then(outcome, done))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def fail(self, done: asyncio.Future[None], exc: BaseException) -> None:
        """The app raised (the pool's ``on_error``): a 500, or a started response dropped,
        decided after the chunks the thread had queued."""
        self.loop.call_soon(self._end_stream_after_chunks, done, exc)

    def _end_stream_after_chunks(
        self, done: asyncio.Future[None], exc: BaseException | None
    ) -> None:
        if done.cancelled():
            return
        if exc is None:
            try:
                self.end_stream()
            except Exception as refused:
                exc = refused
        _complete(done, exc)

    async def _send_file_then(self, file_send: FileSend, done: asyncio.Future[None]) -> None:
        failure = None
        try:
            await self.send_file(file_send)
        except Exception as exc:
            failure = exc
        _complete(done, failure)

    async def send_file(self, file_send: FileSend) -> None:
        assert self.headers is not None
        try:
            await self.exchange.send_file(
                self.status, self.headers, file_send.path, file_send.offset, file_send.length
            )
        finally:
            file_send.wrapper.close()


def _complete(done: asyncio.Future[None], exc: BaseException | None) -> None:
    """Settle ``done``: failed with ``exc``, else served; nothing if it was cancelled."""
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)  # a copy: the app may reuse its buffer once we move on
    raise TypeError(f"WSGI response body items must be bytes, not {type(chunk).__name__!r}")


def _join(body: Iterable[bytes]) -> bytes:
    try:
        return b"".join(body)
    except TypeError:
        for chunk in body:
            _as_bytes(chunk)  # raises with a clear message for the offending item
        raise


def _call_close(close: Callable[[], object]) -> None:
    """The iterable's ``close()`` (PEP 3333), whose failure is the app's, logged."""
    try:
        close()
    except Exception:
        logger.exception("Application callable raised an exception")
