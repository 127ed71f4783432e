"""WebSockets over HTTP/2 (RFC 8441 extended CONNECT) against a real server.

The ``websockets`` package does not speak HTTP/2, so the client here is h2
(client side, extended CONNECT) plus wsproto's frame layer on a real socket:
cleartext prior knowledge, and TLS with ALPN ``h2``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest
import trustme
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from tests.apps import ws_asgi, ws_rsgi
from tests.helpers import Reports, drain, next_report

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0


#: An HTTP/2 frame header's size, and the GOAWAY frame type (RFC 9113 §4.1, §6.8).
_FRAME_HEAD = 9
_GOAWAY = 0x7


class H2WebSocketClient:
    """One HTTP/2 connection; each extended CONNECT stream carries one WebSocket."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
            assert sock.selected_alpn_protocol() == "h2"
        self.sock = sock
        self.scheme = b"https" if tls is not None else b"http"
        self.authority = f"127.0.0.1:{port}".encode()
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.initiate_connection()
        self.server_settings: dict[int, int] = {}
        self.responses: dict[int, tuple[int, dict[bytes, bytes]]] = {}
        self.bodies: dict[int, bytes] = {}
        self.ws: dict[int, Connection] = {}
        self.ws_events: dict[int, list[Event]] = {}
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        #: Streams whose DATA is not acknowledged (the client "does not read" them).
        self.unread: set[int] = set()
        self.connecting: set[int] = set()
        #: The server's GOAWAY ``(last_stream_id, error_code)``, kept away from h2 (below).
        self.goaway: tuple[int, int] | None = None
        self._inbound = b""
        self.flush()
        self.pump_until(lambda: bool(self.server_settings))

    # -- I/O ------------------------------------------------------------------------------
    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump_until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, "timed out waiting for the server"
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            for event in self.h2.receive_data(self._without_goaway(data)):
                self._on_event(event)
            self.flush()

    def _without_goaway(self, data: bytes) -> bytes:
        """The complete frames received so far, minus a GOAWAY (recorded in ``goaway``).

        RFC 9113 lets streams up to the GOAWAY's last stream id finish, but h2's client
        refuses every frame after a GOAWAY: it must not see it for a graceful shutdown
        to be observed.
        """
        buffer = self._inbound + data
        frames = []
        while len(buffer) >= _FRAME_HEAD:
            end = _FRAME_HEAD + int.from_bytes(buffer[:3], "big")
            if len(buffer) < end:
                break
            frame, buffer = buffer[:end], buffer[end:]
            if frame[3] == _GOAWAY:
                last_stream = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
                self.goaway = (last_stream, int.from_bytes(frame[13:17], "big"))
            else:
                frames.append(frame)
        self._inbound = buffer
        return b"".join(frames)

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            for code, setting in event.changed_settings.items():
                self.server_settings[int(code)] = setting.new_value
        elif isinstance(event, h2.events.ResponseReceived):
            headers = dict(event.headers)
            status = int(headers[b":status"])
            self.responses[event.stream_id] = (status, headers)
            if status == 200 and event.stream_id in self.connecting:
                # Frames may follow in the same read: the session starts here.
                self.ws[event.stream_id] = Connection(ConnectionType.CLIENT)
                self.ws_events[event.stream_id] = []
        elif isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.StreamEnded):
            self.ended.add(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.resets[event.stream_id] = int(event.error_code)

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id
        if stream_id not in self.unread:
            self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        ws = self.ws.get(stream_id)
        if not event.data:
            return  # an empty DATA frame carrying END_STREAM
        if ws is None:
            self.bodies[stream_id] = self.bodies.get(stream_id, b"") + event.data
            return
        ws.receive_data(event.data)
        self.ws_events[stream_id].extend(ws.events())

    # -- WebSocket ------------------------------------------------------------------------
    def connect(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int:
        """Open an extended CONNECT stream; returns its id (see ``response``)."""
        stream_id = self.h2.get_next_available_stream_id()
        block = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", self.scheme),
            (b":path", path.encode()),
            (b":authority", self.authority),
            (b"sec-websocket-version", b"13"),
            *(headers or []),
        ]
        self.connecting.add(stream_id)
        self.h2.send_headers(stream_id, block)
        self.flush()
        return stream_id

    def response(self, stream_id: int) -> tuple[int, dict[bytes, bytes]]:
        self.pump_until(lambda: stream_id in self.responses or stream_id in self.resets)
        assert stream_id in self.responses, f"stream reset: {self.resets[stream_id]}"
        return self.responses[stream_id]

    def open(self, path: str) -> int:
        stream_id = self.connect(path)
        status, _ = self.response(stream_id)
        assert status == 200
        return stream_id

    def send(self, stream_id: int, event: Event) -> None:
        """Send one WebSocket frame, in DATA frames as window and frame size allow."""
        data = self.ws[stream_id].send(event)
        while data:
            self.pump_until(lambda: self.h2.local_flow_control_window(stream_id) > 0)
            size = min(
                self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
            )
            self.h2.send_data(stream_id, data[:size])
            data = data[size:]
            self.flush()

    def next_event(self, stream_id: int) -> Event:
        events = self.ws_events[stream_id]
        self.pump_until(lambda: bool(events))
        return events.pop(0)

    def next_message(self, stream_id: int) -> str | bytes:
        """The next whole message (text or bytes), joined from its frames."""
        parts: list[Any] = []
        while True:
            event = self.next_event(stream_id)
            assert isinstance(event, (TextMessage, BytesMessage)), event
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def h2_client(port: int, tls: ssl.SSLContext | None = None) -> Iterator[H2WebSocketClient]:
    client = H2WebSocketClient(port, tls)
    try:
        yield client
    finally:
        client.close()


def _drain(reports: Reports) -> None:
    drain(reports)


def _report(reports: Reports, name: str) -> Any:
    return next_report(reports, name)


@pytest.fixture
def asgi_srv(serve: Serve) -> Iterator[Any]:
    _drain(ws_asgi.REPORTS)
    with serve(ws_asgi.app, interface="asginl", http="2") as server:
        yield server


@pytest.fixture
def rsgi_srv(serve: Serve) -> Iterator[Any]:
    _drain(ws_rsgi.REPORTS)
    with serve(ws_rsgi.app, interface="rsgi", http="2") as server:
        yield server


# -- the setting ----------------------------------------------------------------------------
_ENABLE_CONNECT = int(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)


def test_extended_connect_is_advertised(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        assert client.server_settings.get(_ENABLE_CONNECT) == 1


@pytest.mark.parametrize(
    ("app", "interface", "options"),
    [(ws_asgi.app, "asginl", {"websockets": False}), (None, "wsgi", {})],
    ids=["no-ws", "wsgi"],
)
def test_not_advertised_without_websockets(
    serve: Serve, app: Any, interface: str, options: dict[str, Any]
) -> None:
    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"wsgi"]

    with (
        serve(app or wsgi_app, interface=interface, http="2", **options) as server,
        h2_client(server.port) as client,
    ):
        assert client.server_settings.get(_ENABLE_CONNECT, 0) == 0
        stream_id = client.connect("/echo")
        client.pump_until(lambda: stream_id in client.resets)
        assert client.resets[stream_id] == h2.errors.ErrorCodes.PROTOCOL_ERROR


# -- ASGI -------------------------------------------------------------------------------------
def test_asgi_echo_text_and_binary(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.connect("/echo")
        status, headers = client.response(stream_id)
        assert status == 200
        assert b"sec-websocket-accept" not in headers
        assert headers[b"server"] == b"granian"
        client.send(stream_id, TextMessage("héllo"))
        assert client.next_message(stream_id) == "héllo"
        client.send(stream_id, BytesMessage(b"\x00\x01\xff"))
        assert client.next_message(stream_id) == b"\x00\x01\xff"
        big = bytes(range(256)) * 1024  # 256 KiB: several DATA frames and window updates
        client.send(stream_id, BytesMessage(big))
        assert client.next_message(stream_id) == big
        client.send(stream_id, CloseConnection(code=4001, reason="done"))
        answer = client.next_event(stream_id)
        assert isinstance(answer, CloseConnection)
        assert answer.code == 4001
        client.pump_until(lambda: stream_id in client.ended)
    assert _report(ws_asgi.REPORTS, "disconnect") == (4001, "done")


def test_asgi_client_close_code_reaches_the_app(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/echo")
        client.send(stream_id, CloseConnection(code=4003, reason="bye"))
        assert isinstance(client.next_event(stream_id), CloseConnection)
    assert _report(ws_asgi.REPORTS, "disconnect") == (4003, "bye")


def test_asgi_server_close_with_code_and_reason(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/close?code=4321&reason=server%20says%20bye")
        event = client.next_event(stream_id)
        assert isinstance(event, CloseConnection)
        assert (event.code, event.reason) == (4321, "server says bye")
        client.send(stream_id, event.response())
        client.pump_until(lambda: stream_id in client.ended)
    after = _report(ws_asgi.REPORTS, "after-close")
    assert after["type"] == "websocket.disconnect"
    assert after["code"] == 4321


def test_shutdown_closes_open_sessions_with_1001_after_goaway(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/echo")
        asgi_srv.server.stop()
        event = client.next_event(stream_id)
        assert isinstance(event, CloseConnection)
        assert event.code == 1001
        # A graceful GOAWAY came first, and it lets this stream finish.
        assert client.goaway is not None
        assert client.goaway == (stream_id, 0)
        client.send(stream_id, event.response())
        client.pump_until(lambda: stream_id in client.ended)
    assert _report(ws_asgi.REPORTS, "disconnect")[0] == 1001


def test_asgi_scope(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/scope?x=1")
        fields = json.loads(client.next_message(stream_id))
    assert fields["type"] == "websocket"
    assert fields["http_version"] == "2"
    assert fields["scheme"] == "ws"
    assert fields["path"] == "/scope"
    assert fields["query_string"] == "x=1"
    assert ["host", f"127.0.0.1:{asgi_srv.port}"] in fields["headers"]
    assert fields["extensions"]["websocket.http.response"] == {}


def test_asgi_rejection_is_a_plain_h2_response(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.connect("/reject")
        status, _ = client.response(stream_id)
        assert status == 403
        client.pump_until(lambda: stream_id in client.ended)
        denied = client.connect("/deny")
        status, headers = client.response(denied)
        client.pump_until(lambda: denied in client.ended)
        assert status == 401
        assert headers[b"x-denied"] == b"1"
        assert client.bodies[denied] == b"no entry"
        # The connection stays usable after rejections.
        assert client.open("/echo") > denied


def test_missing_version_is_400_and_the_app_is_not_called(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            stream_id,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"http"),
                (b":path", b"/echo"),
                (b":authority", client.authority),
            ],
        )
        client.flush()
        status, headers = client.response(stream_id)
        client.pump_until(lambda: stream_id in client.ended)
    assert status == 400
    assert headers[b"sec-websocket-version"] == b"13"
    assert ws_asgi.REPORTS.empty()


def test_unknown_protocol_is_501(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            stream_id,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"webtransport"),
                (b":scheme", b"http"),
                (b":path", b"/echo"),
                (b":authority", client.authority),
            ],
        )
        client.flush()
        status, _ = client.response(stream_id)
    assert status == 501


def test_rst_stream_is_a_disconnect(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/echo")
        client.send(stream_id, TextMessage("ping"))
        assert client.next_message(stream_id) == "ping"
        client.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        assert _report(ws_asgi.REPORTS, "disconnect") == (1006, "")
        # Other streams of the connection are untouched.
        other = client.open("/echo")
        client.send(other, TextMessage("still here"))
        assert client.next_message(other) == "still here"


def test_goaway_is_a_disconnect(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/echo")
        client.send(stream_id, TextMessage("ping"))
        assert client.next_message(stream_id) == "ping"
        client.h2.close_connection()
        client.flush()
        assert _report(ws_asgi.REPORTS, "disconnect") == (1006, "")


def test_end_stream_from_the_client_ends_the_session(asgi_srv: Any) -> None:
    with h2_client(asgi_srv.port) as client:
        stream_id = client.open("/echo")
        client.h2.end_stream(stream_id)
        client.flush()
        assert _report(ws_asgi.REPORTS, "disconnect") == (1006, "")
        client.pump_until(lambda: stream_id in client.ended or stream_id in client.resets)


def test_slow_reader_stalls_only_its_own_stream(asgi_srv: Any) -> None:
    ws_asgi.flood_progress["sent"] = 0
    with h2_client(asgi_srv.port) as client:
        # Connection window is plenty: only the flooded stream's own window may stop it.
        client.h2.increment_flow_control_window(2**30)
        client.flush()
        flooded = client.connect("/flood")
        client.unread.add(flooded)
        assert client.response(flooded)[0] == 200
        sent = _wait_until_stalled()
        # One stream window, one send buffer and a message in flight: nowhere near the total.
        assert sent < 4 * 1024 * 1024
        echo = client.open("/echo")
        client.send(echo, TextMessage("not stuck"))
        assert client.next_message(echo) == "not stuck"
        client.send(echo, CloseConnection(code=1000))
        assert isinstance(client.next_event(echo), CloseConnection)
        assert ws_asgi.flood_progress["sent"] == sent
    # Dropping the connection fails the flood's pending send (an OSError, ASGI 2.4).
    outcomes = {_report_any(ws_asgi.REPORTS) for _ in range(2)}
    assert outcomes == {("disconnect", (1000, "")), ("flood-outcome", "ClientDisconnected")}


def test_pings_from_a_peer_that_does_not_read_do_not_pile_up(asgi_srv: Any) -> None:
    # While the stream cannot take our pongs, only the latest ping is answered, once it can.
    count = 20_000
    with h2_client(asgi_srv.port) as client:
        client.h2.increment_flow_control_window(2**30)
        stream_id = client.open("/echo")
        client.unread.add(stream_id)
        for i in range(count):
            client.send(stream_id, Ping(b"%06d" % i + b"x" * 100))
        client.unread.discard(stream_id)
        client.h2.increment_flow_control_window(2**30, stream_id)  # now it reads
        client.flush()
        latest = b"%06d" % (count - 1)
        pongs: list[bytes] = []
        while not pongs or pongs[-1] != latest:
            event = client.next_event(stream_id)
            assert isinstance(event, Pong), event
            pongs.append(bytes(event.payload[:6]))
    assert len(pongs) < count // 2


def _report_any(reports: queue.Queue[tuple[str, Any]]) -> tuple[str, Any]:
    try:
        name, value = reports.get(timeout=WAIT)
    except queue.Empty:
        pytest.fail("the app reported nothing")
    return name, value if not isinstance(value, list) else tuple(value)


def _wait_until_stalled() -> int:
    """Poll the flood's progress until it stops moving (bounded)."""
    last = -1
    for _ in range(200):
        time.sleep(0.05)
        current = ws_asgi.flood_progress["sent"]
        if current == last and current > 0:
            return current
        last = current
    pytest.fail("the flood never stalled")


# -- RSGI ---------------------------------------------------------------------------------------
def test_rsgi_echo_and_close(rsgi_srv: Any) -> None:
    with h2_client(rsgi_srv.port) as client:
        stream_id = client.open("/echo")
        client.send(stream_id, TextMessage("rsgi text"))
        assert client.next_message(stream_id) == "rsgi text"
        client.send(stream_id, BytesMessage(b"rsgi bytes"))
        assert client.next_message(stream_id) == b"rsgi bytes"
        client.send(stream_id, CloseConnection(code=1000))
        assert isinstance(client.next_event(stream_id), CloseConnection)
    assert _report(ws_rsgi.REPORTS, "echo-end") == ("close", None)  # RSGI: close data is None


def test_rsgi_scope(rsgi_srv: Any) -> None:
    with h2_client(rsgi_srv.port) as client:
        stream_id = client.open("/scope")
        fields = json.loads(client.next_message(stream_id))
    assert fields["proto"] == "ws"
    assert fields["http_version"] == "2"
    assert fields["scheme"] == "http"  # RSGI names the transport's scheme, as on HTTP/1.1
    # RSGI 1.6 3: "GET" for a WebSocket, though the client sent an extended CONNECT.
    assert fields["method"] == "GET"
    assert fields["path"] == "/scope"


def test_rsgi_rejection(rsgi_srv: Any) -> None:
    with h2_client(rsgi_srv.port) as client:
        stream_id = client.connect("/reject?status=404")
        status, _ = client.response(stream_id)
    assert status == 404


def test_a_2xx_rejection_is_refused_since_it_would_open_the_websocket(rsgi_srv: Any) -> None:
    # RFC 8441 5: any 2xx answer to the extended CONNECT means the WebSocket is open.
    with h2_client(rsgi_srv.port) as client:
        stream_id = client.connect("/reject?status=200")
        status, _ = client.response(stream_id)
    assert status == 500


# -- TLS ------------------------------------------------------------------------------------------
def test_wss_over_tls_with_alpn_h2(serve: Serve, tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    tls = ssl.create_default_context()
    ca.configure_trust(tls)
    tls.set_alpn_protocols(["h2"])
    _drain(ws_asgi.REPORTS)
    with (
        serve(ws_asgi.app, interface="asginl", http="auto", ssl_cert=cert, ssl_key=key) as srv,
        h2_client(srv.port, tls) as client,
    ):
        stream_id = client.open("/scope")
        fields = json.loads(client.next_message(stream_id))
        assert fields["scheme"] == "wss"
        assert fields["http_version"] == "2"
        echo = client.open("/echo")
        client.send(echo, TextMessage("secure"))
        assert client.next_message(echo) == "secure"
        client.send(echo, CloseConnection(code=1000))
        assert isinstance(client.next_event(echo), CloseConnection)


def test_access_log_says_200_for_an_accepted_h2_session(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="granian.access"),
        serve(ws_asgi.app, interface="asginl", http="2", log_access=True) as server,
        h2_client(server.port) as client,
    ):
        stream_id = client.connect("/echo")
        assert client.response(stream_id)[0] == 200
        deadline = time.monotonic() + WAIT
        while not [r for r in caplog.records if r.name == "granian.access"]:
            assert time.monotonic() < deadline, "no access log line"
            time.sleep(0.02)
    line = next(r.getMessage() for r in caplog.records if r.name == "granian.access")
    assert '"CONNECT /echo HTTP/2" 200' in line
