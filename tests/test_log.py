"""Logging setup and the access log: unit tests, then access lines from a real server."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from granian_core.errors import ConfigurationError
from granian_core.exchange import ConnectionInfo, Headers
from granian_core.log import (
    DEFAULT_ACCESSLOG_FMT,
    LOGGING_CONFIG,
    AccessLogger,
    LogLevels,
    access_logger,
    configure_logging,
    server_logger,
    validate_access_log_format,
)

WAIT = 10.0
STARTED_AT = 1_700_000_000.25  # any instant; lines show it in the local timezone


def local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


class ListHandler(logging.Handler):
    """Keeps every record; the server thread writes while the test thread reads."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def messages(self) -> list[str]:
        with self._lock:
            return [record.getMessage() for record in self.records]

    def wait_for(self, count: int) -> list[str]:
        """The messages once there are ``count`` (lines are written after the response)."""
        deadline = time.monotonic() + WAIT
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages()


@pytest.fixture(autouse=True)
def restore_loggers() -> Iterator[None]:
    """dictConfig rewires our two loggers: put them back for the other tests."""
    saved = [
        (log, log.level, list(log.handlers), log.propagate, log.disabled)
        for log in (server_logger, access_logger)
    ]
    yield
    for log, level, handlers, propagate, disabled in saved:
        log.setLevel(level)
        log.handlers[:] = handlers
        log.propagate = propagate
        log.disabled = disabled


@pytest.fixture
def access_lines() -> Iterator[ListHandler]:
    """Records of ``granian.access`` at INFO, whatever the logging config says."""
    handler = ListHandler()
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    yield handler
    access_logger.removeHandler(handler)


@dataclass
class Request:
    """The request facts the access log reads (what an HTTPExchange carries)."""

    conn: ConnectionInfo = field(
        default_factory=lambda: ConnectionInfo(("127.0.0.1", 53124), ("127.0.0.1", 8000))
    )
    method: str = "GET"
    http_version: str = "1.1"
    query_string: bytes = b""
    headers: Headers = field(default_factory=list)
    decoded_path: str = "/"

    @property
    def path(self) -> str:
        return self.decoded_path


class PathlessRequest(Request):
    """Fails if the access log reads ``path``: proves atoms are built only when used."""

    @property
    def path(self) -> str:
        raise AssertionError("path was built although the format does not use it")


def line(fmt: str | None, request: Any, *, duration: float = 0.0, status: int = 200) -> str:
    handler = ListHandler()
    logger = logging.getLogger("tests.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    AccessLogger(fmt, logger=logger).log(request, STARTED_AT, duration, status)
    (message,) = handler.messages()
    return message


# -- levels and the default config ---------------------------------------------------------
def test_log_levels_are_granians() -> None:
    assert [level.value for level in LogLevels] == [
        "critical",
        "error",
        "warning",
        "warn",
        "info",
        "debug",
        "notset",
    ]
    assert LogLevels("info") == "info"


def test_default_config_is_granians() -> None:
    assert LOGGING_CONFIG["version"] == 1
    assert LOGGING_CONFIG["disable_existing_loggers"] is False
    formatters = LOGGING_CONFIG["formatters"]
    assert formatters["generic"]["fmt"] == "[%(levelname)s] %(message)s"
    assert formatters["access"]["fmt"] == "%(message)s"
    for formatter in formatters.values():
        assert formatter["datefmt"] == "[%Y-%m-%d %H:%M:%S %z]"
    loggers = LOGGING_CONFIG["loggers"]
    assert set(loggers) == {"_granian", "granian.access"}
    for name in loggers:
        assert loggers[name]["propagate"] is False
        assert loggers[name]["level"] == "INFO"
        (handler,) = loggers[name]["handlers"]
        assert LOGGING_CONFIG["handlers"][handler]["stream"] == "ext://sys.stdout"
        assert LOGGING_CONFIG["handlers"][handler]["class"] == "logging.StreamHandler"
    assert DEFAULT_ACCESSLOG_FMT == (
        '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'
    )


def test_configure_logging_writes_both_loggers_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    server_logger.info("Starting granian")
    server_logger.debug("not shown at info")
    access_logger.info("an access line")
    captured = capsys.readouterr()
    assert captured.out == "[INFO] Starting granian\nan access line\n"
    assert captured.err == ""
    assert server_logger.propagate is False
    assert access_logger.propagate is False


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("debug", logging.DEBUG),
        (LogLevels.warning, logging.WARNING),
        ("warn", logging.WARNING),
        ("ERROR", logging.ERROR),
        (LogLevels.critical, logging.CRITICAL),
        ("notset", logging.NOTSET),
    ],
)
def test_configure_logging_sets_the_server_level(level: LogLevels | str, expected: int) -> None:
    configure_logging(level)
    assert server_logger.level == expected
    assert access_logger.level == logging.INFO


def test_configure_logging_rejects_an_unknown_level() -> None:
    with pytest.raises(ConfigurationError, match="'loud'"):
        configure_logging("loud")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"handlers": {"x": {"class": "nonexist.Handler"}}},
            "Invalid logging configuration: Unable to configure handler 'x': "
            "Cannot resolve 'nonexist.Handler': No module named 'nonexist'",
        ),
        ({"version": 2}, "Invalid logging configuration: Unsupported version: 2"),
    ],
)
def test_a_config_dictconfig_refuses_is_one_error(config: dict[str, Any], message: str) -> None:
    # A traceback (three chained, from dictConfig) used to reach the terminal.
    with pytest.raises(ConfigurationError) as info:
        configure_logging("info", config)
    assert str(info.value) == message
    configure_logging("info")  # back to the default for the other tests


def test_disabled_logging_silences_the_server_logger(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", enabled=False)
    server_logger.critical("never shown")
    assert server_logger.level > logging.CRITICAL
    assert capsys.readouterr().out == ""


def test_user_config_replaces_top_level_keys(capsys: pytest.CaptureFixture[str]) -> None:
    user = {
        "formatters": {
            "generic": {"format": "srv %(levelname)s %(message)s"},
            "access": {"format": "acc %(message)s"},
        }
    }
    configure_logging("info", user)
    server_logger.warning("hello")
    access_logger.info("GET /")
    assert capsys.readouterr().out == "srv WARNING hello\nacc GET /\n"
    assert user == {
        "formatters": {
            "generic": {"format": "srv %(levelname)s %(message)s"},
            "access": {"format": "acc %(message)s"},
        }
    }


def test_user_loggers_still_get_the_chosen_level() -> None:
    user = {"loggers": {"granian.access": {"level": "WARNING", "handlers": []}}}
    configure_logging("debug", user)
    assert server_logger.level == logging.DEBUG
    assert access_logger.level == logging.WARNING
    assert user["loggers"] == {"granian.access": {"level": "WARNING", "handlers": []}}


# -- access log atoms ----------------------------------------------------------------------
def test_default_line() -> None:
    request = Request(decoded_path="/scope", query_string=b"a=1")
    expected = f'[{local_time(STARTED_AT)}] 127.0.0.1 - "GET /scope HTTP/1.1" 200 0.262'
    assert line(None, request, duration=0.000262) == expected


def test_every_atom() -> None:
    fmt = "%(addr)s|%(method)s|%(scheme)s|%(path)s|%(query_string)s|%(protocol)s|%(status)s"
    conn = ConnectionInfo(("10.1.2.3", 4000), ("10.1.2.4", 443), scheme="https")
    request = Request(conn, "POST", "2", b"q=%20x", decoded_path="/a b")
    assert line(fmt, request, status=201) == "10.1.2.3|POST|https|/a b|q=%20x|HTTP/2|201"


@pytest.mark.parametrize(
    ("version", "protocol"), [("1.0", "HTTP/1.0"), ("1.1", "HTTP/1.1"), ("2", "HTTP/2")]
)
def test_protocol_atom(version: str, protocol: str) -> None:
    assert line("%(protocol)s", Request(http_version=version)) == protocol


def test_duration_is_in_milliseconds() -> None:
    assert line("%(dt_ms).3f", Request(), duration=1.5) == "1500.000"


def test_time_is_the_request_start_in_local_time() -> None:
    assert line("%(time)s", Request()) == local_time(STARTED_AT)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", local_time(STARTED_AT))


def test_time_follows_the_clock_across_seconds() -> None:
    handler = ListHandler()
    logger = logging.getLogger("tests.access.clock")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    writer = AccessLogger("%(time)s", logger=logger)
    for offset in (0.0, 0.5, 61.0):
        writer.log(Request(), STARTED_AT + offset, 0.0, 200)
    assert handler.messages() == [
        local_time(STARTED_AT),
        local_time(STARTED_AT),
        local_time(STARTED_AT + 61),
    ]


@pytest.mark.parametrize(
    ("conn", "addr"),
    [
        (ConnectionInfo(None, ("/tmp/g.sock", 0), unix_path="/tmp/g.sock"), "/tmp/g.sock"),
        (ConnectionInfo(None, None), "-"),
        (ConnectionInfo(("::1", 5000), ("::1", 8000)), "::1"),
    ],
)
def test_addr_without_a_tcp_client(conn: ConnectionInfo, addr: str) -> None:
    assert line("%(addr)s", Request(conn)) == addr


@pytest.mark.parametrize(
    "fmt", ["%(header{User-Agent})s %(header{x-missing})s", "%({user-agent}i)s %({X-Missing}i)s"]
)
def test_header_atoms(fmt: str) -> None:
    request = Request(headers=[(b"host", b"a"), (b"user-agent", b"curl/8")])
    assert line(fmt, request) == "curl/8 -"


def test_repeated_headers_are_joined() -> None:
    request = Request(headers=[(b"x-tag", b"a"), (b"other", b"b"), (b"x-tag", b"c")])
    assert line("%(header{X-Tag})s", request) == "a, c"


def test_unknown_atoms_read_as_a_dash() -> None:
    assert line("%(nope)s %(status)d", Request()) == "- 200"


def test_a_format_without_atoms() -> None:
    assert line("100%% done", Request()) == "100% done"


def test_client_text_cannot_forge_lines_or_quotes() -> None:
    request = Request(
        decoded_path='/x" 200 0.1\n[fake] line',
        headers=[(b"referer", b'a\\"b')],
    )
    fmt = '"%(path)s" "%(header{referer})s"'
    assert line(fmt, request) == '"/x\\" 200 0.1\\x0a[fake] line" "a\\\\\\"b"'


def test_only_used_atoms_are_built() -> None:
    assert line("%(method)s %(status)d", PathlessRequest()) == "GET 200"


def test_nothing_is_built_when_the_access_logger_is_off() -> None:
    logger = logging.getLogger("tests.access.off")
    logger.setLevel(logging.WARNING)
    handler = ListHandler()
    logger.handlers[:] = [handler]
    AccessLogger("%(path)s", logger=logger).log(PathlessRequest(), STARTED_AT, 0.0, 200)
    assert handler.messages() == []


@pytest.mark.parametrize(("scheme", "ws_scheme"), [("http", "ws"), ("https", "wss")])
def test_websocket_line(scheme: str, ws_scheme: str) -> None:
    handler = ListHandler()
    logger = logging.getLogger("tests.access.ws")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    conn = ConnectionInfo(("127.0.0.1", 1), ("127.0.0.1", 2), scheme=scheme)
    writer = AccessLogger("%(scheme)s %(method)s %(path)s %(status)d %(dt_ms).3f", logger=logger)
    writer.log_websocket(Request(conn, decoded_path="/ws"), STARTED_AT)
    assert handler.messages() == [f"{ws_scheme} GET /ws 101 0.000"]


@pytest.mark.parametrize("fmt", ["%(status)d %(", "%(addr)d", "%(nope)d", "%s %s"])
def test_a_broken_format_is_refused_up_front(fmt: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid access log format"):
        validate_access_log_format(fmt)
    with pytest.raises(ConfigurationError):
        AccessLogger(fmt)


def test_the_default_format_is_valid() -> None:
    validate_access_log_format(DEFAULT_ACCESSLOG_FMT)


# -- through the real server ---------------------------------------------------------------
async def hello_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    status = 404 if scope["path"] == "/missing" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


DEFAULT_LINE = re.compile(
    r'\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] 127\.0\.0\.1 - "(?P<request>[^"]*)" '
    r"(?P<status>\d{3}) \d+\.\d{3}"
)


def test_server_writes_default_access_lines(
    serve: Callable[..., Any], access_lines: ListHandler
) -> None:
    with serve(hello_app, interface="asgi", log_access=True) as srv:
        with httpx.Client(base_url=srv.url, timeout=WAIT) as client:
            assert client.get("/path", params={"q": "1"}).status_code == 200
            assert client.get("/missing").status_code == 404
        messages = access_lines.wait_for(2)
    assert len(messages) == 2
    first, second = (DEFAULT_LINE.fullmatch(message) for message in messages)
    assert first is not None, messages[0]
    assert second is not None, messages[1]
    assert (first["request"], first["status"]) == ("GET /path HTTP/1.1", "200")
    assert (second["request"], second["status"]) == ("GET /missing HTTP/1.1", "404")


def test_server_uses_the_configured_access_format(
    serve: Callable[..., Any], access_lines: ListHandler
) -> None:
    fmt = "%(method)s %(path)s?%(query_string)s %(status)d %(header{X-Request-Id})s %(scheme)s"
    with serve(hello_app, interface="asgi", log_access=True, log_access_format=fmt) as srv:
        with httpx.Client(base_url=srv.url, timeout=WAIT) as client:
            client.post("/items", params={"a": "b"}, headers={"x-request-id": "r-1"}, content=b"x")
        messages = access_lines.wait_for(1)
    assert messages == ["POST /items?a=b 200 r-1 http"]


def test_no_access_lines_unless_enabled(
    serve: Callable[..., Any], access_lines: ListHandler
) -> None:
    with (
        serve(hello_app, interface="asgi") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as client,
    ):
        assert client.get("/").status_code == 200
    # The server has stopped, so every line it would write is written.
    assert access_lines.messages() == []
