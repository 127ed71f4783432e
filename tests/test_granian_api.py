"""Granian's Python API: module layout, ``Granian(...)``, hooks, ``serve()``, the embed server."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import granian
import httpx
import pytest
from granian import Granian, loops
from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes, SSLProtocols, TaskImpl
from granian.errors import ConfigurationError, FatalError, PidFileError
from granian.http import HTTP1Settings, HTTP2Settings
from granian.log import LogLevels, configure_logging
from granian.server import MPServer, Server
from granian.server.embed import Server as EmbedServer
from granian_core.config import ServerConfig
from granian_core.loops import loops as core_loops
from granian_core.server.embed import EmbeddedServer

from tests.apps_cli import hello
from tests.conftest import ROOT, free_port, start_process, wait_for_port

#: ``Granian(...)``'s keyword arguments (GRANIAN-BEHAVIOUR.md §2) in order, plus ``http1_parser``.
GRANIAN_KWARGS = [
    "address", "port", "uds", "uds_permissions", "interface", "workers", "blocking_threads",
    "blocking_threads_idle_timeout", "runtime_threads", "runtime_blocking_threads",
    "runtime_mode", "loop", "task_impl", "http", "websockets", "backlog", "backpressure",
    "http1_settings", "http2_settings", "log_enabled", "log_level", "log_dictconfig",
    "log_access", "log_access_format", "ssl_cert", "ssl_key", "ssl_key_password",
    "ssl_protocol_min", "ssl_ca", "ssl_crl", "ssl_client_verify", "url_path_prefix",
    "respawn_failed_workers", "respawn_interval", "rss_sample_interval", "rss_samples",
    "workers_lifetime", "workers_max_rss", "workers_kill_timeout", "factory", "working_dir",
    "env_files", "static_path_route", "static_path_mount", "static_path_dir_to_file",
    "static_path_expires", "metrics_enabled", "metrics_scrape_interval", "metrics_address",
    "metrics_port", "reload", "reload_paths", "reload_ignore_dirs", "reload_ignore_patterns",
    "reload_ignore_paths", "reload_filter", "reload_tick", "reload_ignore_worker_failure",
    "process_name", "pid_file", "http1_parser",
]  # fmt: skip

EMBED_KWARGS = [
    "address", "port", "uds", "interface", "blocking_threads", "blocking_threads_idle_timeout",
    "runtime_threads", "runtime_blocking_threads", "task_impl", "http", "websockets", "backlog",
    "backpressure", "http1_settings", "http2_settings", "log_enabled", "log_level",
    "log_dictconfig", "log_access", "log_access_format", "ssl_cert", "ssl_key",
    "ssl_key_password", "ssl_protocol_min", "ssl_ca", "ssl_crl", "ssl_client_verify",
    "url_path_prefix", "factory", "static_path_route", "static_path_mount",
    "static_path_dir_to_file", "static_path_expires", "http1_parser",
]  # fmt: skip


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """``Granian(...)`` configures logging: put Granian's default back afterwards."""
    yield
    configure_logging()


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(cls).parameters)
    del params["target"]
    return params


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# -- module layout ------------------------------------------------------------------------------
def test_package_exports() -> None:
    assert granian.__all__ == ["Granian", "__version__", "loops"]
    assert Granian is Server is MPServer
    assert loops is core_loops
    assert "auto" in loops
    assert granian.__version__ == importlib.import_module("importlib.metadata").version("granian")


def test_reexported_modules() -> None:
    rsgi = importlib.import_module("granian.rsgi")
    for name in ("Scope", "HTTPProtocol", "WebsocketProtocol", "WebsocketMessageType", "Headers"):
        assert hasattr(rsgi, name)
    assert issubclass(rsgi.ProtocolError, RuntimeError)
    proxies = importlib.import_module("granian.utils.proxies")
    assert callable(proxies.wrap_asgi_with_proxy_headers)
    assert callable(proxies.wrap_wsgi_with_proxy_headers)
    assert issubclass(ConfigurationError, FatalError)
    assert issubclass(PidFileError, FatalError)
    log = importlib.import_module("granian.log")
    assert "%(status)d" in log.DEFAULT_ACCESSLOG_FMT
    assert log.LOGGING_CONFIG["version"] == 1
    assert log.access_logger.name == "granian.access"


def test_constants() -> None:
    assert [item.value for item in Interfaces] == ["asgi", "asginl", "rsgi", "wsgi"]
    assert [item.value for item in HTTPModes] == ["auto", "1", "2"]
    assert [item.value for item in RuntimeModes] == ["auto", "mt", "st"]
    assert [item.value for item in Loops] == ["auto", "asyncio", "rloop", "uvloop"]
    assert [item.value for item in TaskImpl] == ["asyncio", "rust"]
    assert [item.value for item in SSLProtocols] == ["tls1.2", "tls1.3"]
    assert Interfaces("asgi") is Interfaces.ASGI
    assert Interfaces.ASGI.upper() == "ASGI"  # a str
    assert str(HTTPModes.http2) == "2"


def test_http_settings_defaults_are_granians() -> None:
    assert dataclasses.asdict(HTTP1Settings()) == {
        "header_read_timeout": 30_000,
        "keep_alive": True,
        "max_buffer_size": 417_792,
        "pipeline_flush": False,
    }
    assert dataclasses.asdict(HTTP2Settings()) == {
        "adaptive_window": False,
        "initial_connection_window_size": 1_048_576,
        "initial_stream_window_size": 1_048_576,
        "keep_alive_interval": None,
        "keep_alive_timeout": 20,
        "max_concurrent_streams": 200,
        "max_frame_size": 16_384,
        "max_headers_size": 16_777_216,
        "max_send_buffer_size": 409_600,
    }


# -- the constructor ---------------------------------------------------------------------------
def test_granian_signature_is_granians() -> None:
    assert list(_parameters(Granian)) == GRANIAN_KWARGS
    assert list(_parameters(EmbedServer)) == EMBED_KWARGS


@pytest.mark.parametrize("cls", [Granian, EmbedServer])
def test_signature_defaults_are_the_tables(cls: type) -> None:
    for name, param in _parameters(cls).items():
        if name in ("http1_settings", "http2_settings"):
            assert param.default is None
        elif cls is EmbedServer and name == "backlog":
            assert param.default == 128  # Granian's embedded server default
        else:
            assert _plain(param.default) == ServerConfig.option(name).default, name


def test_every_option_is_reachable_from_the_constructor() -> None:
    params = set(_parameters(Granian)) - {"http1_settings", "http2_settings"}
    grouped = {f"http1_{name}" for name in ("header_read_timeout", "keep_alive", "pipeline_flush")}
    grouped |= {"http1_buffer_size"}
    grouped |= {f"http2_{field.name}" for field in dataclasses.fields(HTTP2Settings)}
    assert params | grouped == {option.name for option in ServerConfig.options()}
    assert not params & grouped


def test_settings_objects_map_to_flat_options() -> None:
    server = Granian(
        "tests.apps_cli.hello:app",
        interface=Interfaces.ASGI,
        http1_settings=HTTP1Settings(keep_alive=False, max_buffer_size=65_536),
        http2_settings=HTTP2Settings(),
    )
    assert server.config.interface == "asgi"
    assert server.config.http1_keep_alive is False
    assert server.config.http1_buffer_size == 65_536
    assert server.config.http1_header_read_timeout == 30_000


def test_options_are_readable_as_attributes() -> None:
    server = Granian("tests.apps_cli.hello:app", port=9123, workers=2)
    assert (server.target, server.port, server.workers) == ("tests.apps_cli.hello:app", 9123, 2)
    with pytest.raises(AttributeError):
        _ = server.not_an_option


def test_attributes_hold_enum_members_and_resolved_defaults_as_granians() -> None:
    server = Granian("x:app", interface="wsgi", http="2", workers=2, backlog=1024)
    assert server.interface is Interfaces.WSGI
    assert server.http is HTTPModes.http2
    assert (server.loop.value, server.log_level.value) == ("auto", "info")
    assert server.interface == "wsgi"  # still equal to its string, as a StrEnum
    # Granian computes these in its constructor: backlog / workers, and half that for WSGI.
    assert (server.backpressure, server.blocking_threads) == (512, 256)
    assert server.config.backpressure is None  # the option itself stays unset


def test_workers_and_backlog_are_clamped_like_granian() -> None:
    server = Granian("x:app", workers=0, backlog=16)
    assert (server.config.workers, server.config.backlog) == (1, 128)


def test_invalid_options_raise_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="is not an IP address"):
        Granian("x:app", address="localhost")
    with pytest.raises(ConfigurationError, match="--task-impl is not implemented yet"):
        Granian("x:app", task_impl="rust")


def test_constructor_configures_logging() -> None:
    Granian("x:app", log_level=LogLevels.debug)
    assert logging.getLogger("_granian").level == logging.DEBUG
    Granian("x:app", log_enabled=False)
    assert logging.getLogger("_granian").level > logging.CRITICAL


def test_hooks_are_appended_and_returned() -> None:
    server = Granian("x:app")

    @server.on_startup
    def started() -> None: ...

    def reloaded() -> None: ...

    assert server.on_reload(reloaded) is reloaded
    assert server.on_shutdown(print) is print
    assert server.hooks_startup == [started]
    assert server.hooks.reload == [reloaded]
    assert server.hooks_shutdown == [print]


# -- serve() in a real process ---------------------------------------------------------------------
SERVE_SCRIPT = """
import sys
from granian import Granian

def loader(target):
    from tests.apps_cli.hello import app
    print("loader called with", target, flush=True)
    return app

server = Granian("not.a.module:app", interface="asgi", port={port}, workers=2)
server.on_startup(lambda: print("startup hook", flush=True))
server.on_shutdown(lambda: print("shutdown hook", flush=True))
server.serve(target_loader=loader)
print("serve returned", flush=True)
"""


def test_serve_runs_workers_hooks_and_loader() -> None:
    port = free_port()
    proc = start_process(
        [sys.executable, "-c", textwrap.dedent(SERVE_SCRIPT).format(port=port)],
        port,
        {"PYTHONPATH": str(ROOT)},
    ).proc
    try:
        wait_for_port(port, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert output.count("loader called with not.a.module:app") == 2
    assert output.index("startup hook") < output.index("Spawning worker-1")
    assert output.index("shutdown hook") < output.index("serve returned")


def test_serve_exits_1_when_a_worker_fails() -> None:
    script = (
        "from granian import Granian\n"
        f"Granian('tests.apps_cli.nope:app', interface='asgi', port={free_port()}).serve()\n"
        "print('not reached')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert "[ERROR] Could not import module 'tests.apps_cli.nope'" in result.stdout
    assert "not reached" not in result.stdout


# -- the embedded server ---------------------------------------------------------------------------
class EmbedRunner:
    """Runs an embed ``Server`` on a loop in a background thread."""

    def __init__(self, server: EmbedServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.server.serve())
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.loop.close()

    def __enter__(self) -> EmbedRunner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


def test_embed_server_serves_an_app_object() -> None:
    port = free_port()
    events: list[str] = []
    server = EmbedServer(hello.app, interface="asgi", port=port)
    server.on_startup(lambda: events.append("startup"))
    server.on_shutdown(lambda: events.append("shutdown"))
    with EmbedRunner(server) as runner:
        wait_for_port(port)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"
    assert runner.error is None
    assert events == ["startup", "shutdown"]


def test_embed_server_calls_a_factory() -> None:
    port = free_port()
    with EmbedRunner(EmbedServer(hello.create_app, interface="asgi", port=port, factory=True)):
        wait_for_port(port)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"


def test_embed_server_stopped_before_serving_returns() -> None:
    server = EmbedServer(hello.app, interface="asgi", port=free_port())
    server.stop()
    asyncio.run(asyncio.wait_for(server.serve(), timeout=15))


def test_embed_server_reload_serves_again_on_the_same_port() -> None:
    port = free_port()
    events: list[str] = []
    server = EmbedServer(hello.app, interface="asgi", port=port)
    server.on_reload(lambda: events.append("reload"))
    with EmbedRunner(server) as runner:
        wait_for_port(port)
        embedded = server._server
        assert embedded is not None
        first = embedded.worker
        server.reload()
        deadline = time.monotonic() + 10
        while embedded.worker is first and time.monotonic() < deadline:
            time.sleep(0.01)
        assert embedded.worker is not first, "no new worker after reload()"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"
    assert runner.error is None
    assert events == ["reload"]


def test_embed_server_stop_right_after_reload_stops() -> None:
    port = free_port()
    server = EmbedServer(hello.app, interface="asgi", port=port)
    runner = EmbedRunner(server)
    runner.thread.start()
    wait_for_port(port)
    server.reload()
    server.stop()
    runner.thread.join(timeout=15)
    assert not runner.thread.is_alive(), "stop() after reload() was lost"
    assert runner.error is None


def test_embed_server_refuses_wsgi() -> None:
    server = EmbedServer(lambda environ, start_response: [], interface="wsgi", port=free_port())
    with pytest.raises(ConfigurationError, match="does not support the 'wsgi' interface"):
        asyncio.run(server.serve())


def test_embed_server_refuses_a_spawn_target() -> None:
    server = EmbedServer(hello.app, interface="asgi", port=free_port())
    with pytest.raises(ConfigurationError, match="does not take a spawn_target"):
        asyncio.run(server.serve(spawn_target=lambda *args: None))


def test_embed_server_serving_twice_at_once_is_refused() -> None:
    # The second call used to take the first one's place: stop() then missed the first.
    port = free_port()
    server = EmbedServer(hello.app, interface="asgi", port=port)
    with EmbedRunner(server) as runner:
        wait_for_port(port)
        with pytest.raises(ConfigurationError, match="already serving"):
            asyncio.run(server.serve())
    assert runner.error is None  # and stop() still stopped the first one


@pytest.mark.parametrize(
    ("option", "value", "flag"),
    [
        ("reload", True, "--reload"),
        ("workers_lifetime", 120, "--workers-lifetime"),
        ("workers_max_rss", 512, "--workers-max-rss"),
        ("respawn_failed_workers", True, "--respawn-failed-workers"),
        ("workers_kill_timeout", 5, "--workers-kill-timeout"),
        ("pid_file", Path("granian.pid"), "--pid-file"),
    ],
)
def test_core_embedded_server_refuses_supervisor_options(
    option: str, value: object, flag: str
) -> None:
    """Options only worker processes can honour are refused, not silently ignored."""
    config = ServerConfig(interface="asgi", port=free_port(), **{option: value})
    server = EmbeddedServer(hello.app, config)
    with pytest.raises(ConfigurationError, match=f"{flag} is not supported by the embedded"):
        asyncio.run(server.serve())


def test_embedded_server_imports_the_protocol_stack_with_its_module() -> None:
    # Serving in a thread must not be the first import of hpack: a first import of
    # the same package racing in another thread (httpx.Client() imports h2) could see
    # hpack half-initialised and kill the server.
    script = (
        "import sys, granian_core.server.embed\n"
        "print(all(m in sys.modules for m in ('hpack.table', 'hpack.huffman',"
        " 'granian_core.http1.protocol', 'granian_core.http2.protocol')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr
