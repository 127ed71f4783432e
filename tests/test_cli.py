"""The ``granian`` command: help, version, parsing, env vars, errors and exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from granian import cli as cli_module
from granian.cli import cli
from granian_core.config import ServerConfig

from tests.conftest import (
    ROOT,
    GranianProcess,
    free_port,
    granian_command,
    start_process,
    wait_for_port,
)

#: (flag, env var, default shown) of every option in Granian 2.8's ``--help`` (the seed).
#: Deliberate difference: ``--runtime-mode`` defaults to ``auto`` (Granian 2.8's API default).
SEED_OPTIONS: list[tuple[str, str, str | None]] = [
    ("--host", "GRANIAN_HOST", "(127.0.0.1)"),
    ("--port", "GRANIAN_PORT", "8000"),
    ("--uds", "GRANIAN_UDS", None),
    ("--interface", "GRANIAN_INTERFACE", "(rsgi)"),
    ("--http", "GRANIAN_HTTP", "(auto)"),
    ("--ws", "GRANIAN_WEBSOCKETS", "(enabled)"),
    ("--workers", "GRANIAN_WORKERS", "1"),
    ("--blocking-threads", "GRANIAN_BLOCKING_THREADS", None),
    ("--blocking-threads-idle-timeout", "GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT", "30"),
    ("--runtime-threads", "GRANIAN_RUNTIME_THREADS", "1"),
    ("--runtime-blocking-threads", "GRANIAN_RUNTIME_BLOCKING_THREADS", None),
    ("--runtime-mode", "GRANIAN_RUNTIME_MODE", "(auto)"),
    ("--loop", "GRANIAN_LOOP", "(auto)"),
    ("--task-impl", "GRANIAN_TASK_IMPL", "(asyncio)"),
    ("--backlog", "GRANIAN_BACKLOG", "1024"),
    ("--backpressure", "GRANIAN_BACKPRESSURE", "(backlog/workers)"),
    ("--http1-buffer-size", "GRANIAN_HTTP1_BUFFER_SIZE", "417792"),
    ("--http1-header-read-timeout", "GRANIAN_HTTP1_HEADER_READ_TIMEOUT", "30000"),
    ("--http1-keep-alive", "GRANIAN_HTTP1_KEEP_ALIVE", "(enabled)"),
    ("--http1-pipeline-flush", "GRANIAN_HTTP1_PIPELINE_FLUSH", "(disabled)"),
    ("--http2-adaptive-window", "GRANIAN_HTTP2_ADAPTIVE_WINDOW", "(disabled)"),
    (
        "--http2-initial-connection-window-size",
        "GRANIAN_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE",
        "1048576",
    ),
    ("--http2-initial-stream-window-size", "GRANIAN_HTTP2_INITIAL_STREAM_WINDOW_SIZE", "1048576"),
    ("--http2-keep-alive-interval", "GRANIAN_HTTP2_KEEP_ALIVE_INTERVAL", None),
    ("--http2-keep-alive-timeout", "GRANIAN_HTTP2_KEEP_ALIVE_TIMEOUT", "20"),
    ("--http2-max-concurrent-streams", "GRANIAN_HTTP2_MAX_CONCURRENT_STREAMS", "200"),
    ("--http2-max-frame-size", "GRANIAN_HTTP2_MAX_FRAME_SIZE", "16384"),
    ("--http2-max-headers-size", "GRANIAN_HTTP2_MAX_HEADERS_SIZE", "16777216"),
    ("--http2-max-send-buffer-size", "GRANIAN_HTTP2_MAX_SEND_BUFFER_SIZE", "409600"),
    ("--log", "GRANIAN_LOG_ENABLED", "(enabled)"),
    ("--log-level", "GRANIAN_LOG_LEVEL", "(info)"),
    ("--log-config", "GRANIAN_LOG_CONFIG", None),
    ("--access-log", "GRANIAN_LOG_ACCESS_ENABLED", "(disabled)"),
    ("--access-log-fmt", "GRANIAN_LOG_ACCESS_FMT", None),
    ("--ssl-certificate", "GRANIAN_SSL_CERTIFICATE", None),
    ("--ssl-keyfile", "GRANIAN_SSL_KEYFILE", None),
    ("--ssl-keyfile-password", "GRANIAN_SSL_KEYFILE_PASSWORD", None),
    ("--ssl-ca", "GRANIAN_SSL_CA", None),
    ("--ssl-crl", "GRANIAN_SSL_CRL", None),
    ("--ssl-client-verify", "GRANIAN_SSL_CLIENT_VERIFY", "(disabled)"),
    ("--url-path-prefix", "GRANIAN_URL_PATH_PREFIX", None),
    ("--respawn-failed-workers", "GRANIAN_RESPAWN_FAILED_WORKERS", "(disabled)"),
    ("--respawn-interval", "GRANIAN_RESPAWN_INTERVAL", "3.5"),
    ("--rss-sample-interval", "GRANIAN_RSS_SAMPLE_INTERVAL", "30"),
    ("--workers-lifetime", "GRANIAN_WORKERS_LIFETIME", None),
    ("--workers-max-rss", "GRANIAN_WORKERS_MAX_RSS", None),
    ("--workers-kill-timeout", "GRANIAN_WORKERS_KILL_TIMEOUT", "(disabled)"),
    ("--factory", "GRANIAN_FACTORY", "(disabled)"),
    ("--working-dir", "GRANIAN_WORKING_DIR", None),
    ("--env-files", "GRANIAN_ENV_FILES", None),
    ("--static-path-route", "GRANIAN_STATIC_PATH_ROUTE", "(/static)"),
    ("--static-path-mount", "GRANIAN_STATIC_PATH_MOUNT", None),
    ("--static-path-expires", "GRANIAN_STATIC_PATH_EXPIRES", "86400"),
    ("--reload", "GRANIAN_RELOAD", "(disabled)"),
    ("--reload-paths", "GRANIAN_RELOAD_PATHS", "(Working directory)"),
    ("--reload-ignore-dirs", "GRANIAN_RELOAD_IGNORE_DIRS", None),
    ("--reload-ignore-patterns", "GRANIAN_RELOAD_IGNORE_PATTERNS", None),
    ("--reload-ignore-paths", "GRANIAN_RELOAD_IGNORE_PATHS", None),
    ("--reload-tick", "GRANIAN_RELOAD_TICK", "50"),
    ("--reload-ignore-worker-failure", "GRANIAN_RELOAD_IGNORE_WORKER_FAILURE", "(disabled)"),
    ("--process-name", "GRANIAN_PROCESS_NAME", None),
    ("--pid-file", "GRANIAN_PID_FILE", None),
]

#: Granian 2.8 options missing from the seed, and granian-py's own --http1-parser.
EXTRA_OPTIONS: list[tuple[str, str, str | None]] = [
    ("--uds-permissions", "GRANIAN_UDS_PERMISSIONS", None),
    ("--http1-parser", "GRANIAN_HTTP1_PARSER", "(auto)"),
    ("--ssl-protocol-min", "GRANIAN_SSL_PROTOCOL_MIN", "(tls1.3)"),
    ("--rss-samples", "GRANIAN_RSS_SAMPLES", "1"),
    ("--static-path-dir-to-file", "GRANIAN_STATIC_PATH_DIR_TO_FILE", None),
    ("--metrics", "GRANIAN_METRICS_ENABLED", "(disabled)"),
    ("--metrics-scrape-interval", "GRANIAN_METRICS_SCRAPE_INTERVAL", "15"),
    ("--metrics-address", "GRANIAN_METRICS_ADDRESS", "(127.0.0.1)"),
    ("--metrics-port", "GRANIAN_METRICS_PORT", "9090"),
]

APP = "tests.apps_cli.hello:app"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, list(args), env=env, prog_name="granian", terminal_width=400, max_content_width=400
    )


class RecordingServer:
    """Stands in for ``Granian`` in parsing tests: records what the CLI built."""

    calls: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, target: str, **kwargs: Any) -> None:
        self.calls.append((target, kwargs))

    def serve(self) -> None:
        pass


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(RecordingServer, "calls", calls)
    monkeypatch.setattr(cli_module, "Server", RecordingServer)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return calls


def parsed(recorded: list[tuple[str, dict[str, Any]]], *args: str, **env: str) -> dict[str, Any]:
    result = invoke(*args, APP, env=env)
    assert result.exit_code == 0, result.output
    assert recorded[-1][0] == APP
    return recorded[-1][1]


# -- help and version ---------------------------------------------------------------------------
def _help_lines() -> dict[str, str]:
    result = invoke("--help")
    assert result.exit_code == 0
    entries: dict[str, str] = {}
    flag = None
    for line in result.output.split("Options:\n", 1)[1].splitlines():
        match = re.match(r"^  (--[a-z0-9-]+)", line)
        if match:
            flag = match.group(1)
            entries[flag] = line
        elif flag is not None:  # an entry whose flags fill the first column continues here
            entries[flag] += " " + line.strip()
    return entries


def test_help_starts_like_granians() -> None:
    output = invoke("--help").output
    assert output.startswith(
        "Usage: granian [OPTIONS] APP\n\n"
        "  APP  Application target to serve.  [required]\n\n"
        "Options:\n"
    )
    assert re.search(r"\n  --help +Show this message and exit\.\n$", output)


@pytest.mark.parametrize(("flag", "envvar", "default"), SEED_OPTIONS + EXTRA_OPTIONS)
def test_help_shows_env_var_and_default(flag: str, envvar: str, default: str | None) -> None:
    line = _help_lines()[flag]
    assert f"env var: {envvar}" in line
    if default is None:
        assert "default:" not in line
    else:
        assert f"default: {default}" in line


def test_help_follows_the_seed_order() -> None:
    listed = [flag for flag in _help_lines() if flag not in ("--version", "--help")]
    seed_flags = [flag for flag, _, _ in SEED_OPTIONS]
    assert [flag for flag in listed if flag in seed_flags] == seed_flags
    assert set(listed) == {flag for flag, _, _ in SEED_OPTIONS + EXTRA_OPTIONS}


def test_help_shows_ranges_and_choices() -> None:
    lines = _help_lines()
    assert "--interface [asgi|asginl|rsgi|wsgi]" in lines["--interface"]
    assert "--blocking-threads-idle-timeout DURATION" in lines["--blocking-threads-idle-timeout"]
    assert "5<=x<=600" in lines["--blocking-threads-idle-timeout"]
    assert "--ws / --no-ws" in lines["--ws"]
    assert "1<=x<=60000" in lines["--http1-header-read-timeout"]


def test_every_table_option_is_on_the_command_line() -> None:
    flags = set(_help_lines())
    for option in ServerConfig.options():
        assert option.flag is None or option.flag in flags


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"granian {version('granian')}\n"


# -- usage errors (exit 2) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "Invalid value for '--workers': 0 is not in the range x>=1."),
        (
            ["--port", "70000"],
            "Invalid value for '--port': 70000 is not in the range 0<=x<=65535.",
        ),
        (["--backlog", "12"], "Invalid value for '--backlog': 12 is not in the range x>=128."),
        (
            ["--interface", "cgi"],
            "Invalid value for '--interface': "
            "'cgi' is not one of 'asgi', 'asginl', 'rsgi', 'wsgi'.",
        ),
        (
            ["--blocking-threads-idle-timeout", "2"],
            "Invalid value for '--blocking-threads-idle-timeout': "
            "'2' is less than the minimum allowed value of 5 seconds",
        ),
        (
            ["--workers-kill-timeout", "1h"],
            "Invalid value for '--workers-kill-timeout': "
            "'1h' is greater than the maximum allowed value of 1800 seconds",
        ),
        (
            ["--static-path-expires", "1w"],
            "Invalid value for '--static-path-expires': '1w' is not a valid duration",
        ),
        (
            ["--uds-permissions", "rw"],
            "Invalid value for '--uds-permissions': 'rw' is not a valid integer",
        ),
    ],
)
def test_bad_values_are_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args, APP)
    assert result.exit_code == 2
    assert f"Error: {message}" in result.output


def test_missing_app_is_a_usage_error() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Error: Missing argument 'APP'." in result.output


def test_bad_value_from_env_var_reads_like_a_flag_error() -> None:
    result = invoke(APP, env={"GRANIAN_WORKERS": "0"})
    assert result.exit_code == 2
    assert "Error: Invalid value for '--workers': 0 is not in the range x>=1." in result.output


@pytest.mark.parametrize(
    ("args", "env", "shown"),
    [
        (["--respawn-interval", "nan"], {}, "nan"),
        (["--respawn-interval", "inf"], {}, "inf"),
        ([], {"GRANIAN_RESPAWN_INTERVAL": "NaN"}, "nan"),
    ],
)
def test_a_respawn_interval_must_be_finite(
    args: list[str], env: dict[str, str], shown: str
) -> None:
    """nan passed click's x>=0 check (inf passes it), and the first SIGHUP then crashed the
    server in the middle of a respawn, leaving it hung."""
    result = subprocess.run(
        granian_command(*args, "--port", "0", APP),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--respawn-interval': {shown} is not a finite number."
    )


def test_log_config_must_be_a_json_object(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    for path, message in [
        (broken, "is not a valid JSON file"),
        (listed, "must hold a JSON object"),
        (tmp_path / "missing.json", "does not exist"),
    ]:
        result = invoke("--log-config", str(path), APP)
        assert result.exit_code == 2, path
        assert "Invalid value for '--log-config'" in result.output
        assert message in result.output


# -- what the command builds -------------------------------------------------------------------
def test_defaults_reach_granian(recorded: list[tuple[str, dict[str, Any]]]) -> None:
    kwargs = parsed(recorded)
    assert kwargs["address"] == "127.0.0.1"
    assert kwargs["interface"] == "rsgi"
    assert kwargs["reload_paths"] is None
    assert kwargs["http1_settings"].keep_alive is True
    assert kwargs["http2_settings"].max_frame_size == 16_384


def test_flags_are_converted(recorded: list[tuple[str, dict[str, Any]]], tmp_path: Path) -> None:
    log_config = tmp_path / "log.json"
    log_config.write_text(json.dumps({"version": 1, "root": {"level": "WARNING"}}))
    kwargs = parsed(
        recorded,
        *("--interface", "ASGI", "--no-ws", "--workers", "3"),
        *("--blocking-threads-idle-timeout", "1m30s", "--uds-permissions", "0660"),
        *("--no-http1-keep-alive", "--http1-header-read-timeout", "500"),
        *("--log-config", str(log_config), "--access-log", "--access-log-fmt", "%(status)d"),
        *("--reload-ignore-dirs", "a", "--reload-ignore-dirs", "b", "--working-dir", str(tmp_path)),
    )
    assert kwargs["interface"] == "asgi"
    assert kwargs["websockets"] is False
    assert kwargs["workers"] == 3
    assert kwargs["blocking_threads_idle_timeout"] == 90
    assert kwargs["uds_permissions"] == 0o660
    assert kwargs["http1_settings"].keep_alive is False
    assert kwargs["http1_settings"].header_read_timeout == 500
    assert kwargs["log_dictconfig"] == {"version": 1, "root": {"level": "WARNING"}}
    assert kwargs["log_access"] is True
    assert kwargs["log_access_format"] == "%(status)d"
    assert kwargs["reload_ignore_dirs"] == ["a", "b"]
    assert kwargs["working_dir"] == tmp_path
    assert sys.path[0] == str(tmp_path.resolve())


def test_env_vars_are_honoured(recorded: list[tuple[str, dict[str, Any]]]) -> None:
    kwargs = parsed(
        recorded,
        GRANIAN_HOST="0.0.0.0",
        GRANIAN_INTERFACE="wsgi",
        GRANIAN_WEBSOCKETS="false",
        GRANIAN_LOG_ACCESS_ENABLED="1",
        GRANIAN_LOG_ACCESS_FMT="%(path)s",
        GRANIAN_WORKERS_KILL_TIMEOUT="2m",
        GRANIAN_RELOAD_IGNORE_DIRS="one two",
        GRANIAN_HTTP1_BUFFER_SIZE="65536",
        GRANIAN_UDS_PERMISSIONS="0600",
    )
    assert kwargs["address"] == "0.0.0.0"
    assert kwargs["interface"] == "wsgi"
    assert kwargs["websockets"] is False
    assert kwargs["log_access"] is True
    assert kwargs["log_access_format"] == "%(path)s"
    assert kwargs["workers_kill_timeout"] == 120
    assert kwargs["reload_ignore_dirs"] == ["one", "two"]
    assert kwargs["http1_settings"].max_buffer_size == 65_536
    assert kwargs["uds_permissions"] == 0o600


def test_flags_win_over_env_vars(recorded: list[tuple[str, dict[str, Any]]]) -> None:
    kwargs = parsed(recorded, "--port", "9001", GRANIAN_PORT="9002")
    assert kwargs["port"] == 9001


# -- errors from the server (exit 1) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task-impl", "rust"], "--task-impl is not implemented yet in granian-py"),
        (["--runtime-threads", "2"], "--runtime-threads is not implemented yet in granian-py"),
        (["--host", "localhost"], "'localhost' is not an IP address"),
        (
            ["--interface", "asgi", "--blocking-threads", "4"],
            "--blocking-threads 4 is not supported by the 'asgi' interface",
        ),
    ],
)
def test_configuration_errors_exit_1_with_one_line(args: list[str], message: str) -> None:
    result = invoke(*args, APP)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert message in lines[0]


# -- real processes -------------------------------------------------------------------------------
def _run_to_exit(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        granian_command(*args, "--port", str(free_port())),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_python_m_granian_help_and_version() -> None:
    assert _run_to_exit("--version").stdout.startswith("granian ")
    result = _run_to_exit("--workers", "0", APP)
    assert result.returncode == 2
    assert "Invalid value for '--workers': 0 is not in the range x>=1." in result.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps_cli.nope:app", "[ERROR] Could not import module 'tests.apps_cli.nope'"),
        (
            "tests.apps_cli.broken_import:app",
            "[ERROR] Error importing 'tests.apps_cli.broken_import': ModuleNotFoundError: "
            "No module named 'granian_py_tests_missing_dependency'",
        ),
        (
            "tests.apps_cli.hello:missing",
            "[ERROR] Attribute 'missing' not found in module 'tests.apps_cli.hello'",
        ),
    ],
)
def test_unloadable_app_exits_non_zero_with_one_line(target: str, message: str) -> None:
    result = _run_to_exit("--interface", "asgi", target)
    assert result.returncode != 0
    assert message + "\n" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_configuration_error_from_a_process() -> None:
    result = _run_to_exit("--task-impl", "rust", APP)
    assert result.returncode == 1
    assert result.stderr == "Error: --task-impl is not implemented yet in granian-py\n"


def test_serves_with_options_from_env_vars(granian_proc: Any) -> None:
    server: GranianProcess = granian_proc(
        APP,
        env={"GRANIAN_INTERFACE": "asgi", "GRANIAN_WORKERS": "1", "GRANIAN_LOG_LEVEL": "debug"},
    )
    response = httpx.get(f"{server.url}/env/GRANIAN_INTERFACE", timeout=10)
    assert response.status_code == 200
    assert response.text == "asgi"
    code, output = server.stop()
    assert code == 0
    assert "[INFO] Granian shutdown completed, see ya!" in output


def test_factory_and_working_dir(tmp_path: Path) -> None:
    (tmp_path / "granian_cli_wd_app.py").write_text(
        "from tests.apps_cli.hello import app\n\ndef build():\n    return app\n"
    )
    port = free_port()
    proc = start_process(
        granian_command(
            *("--interface", "asgi", "--factory", "--working-dir", str(tmp_path)),
            *("--port", str(port), "granian_cli_wd_app:build"),
        ),
        port,
        {"PYTHONPATH": str(ROOT)},
    ).proc
    try:
        wait_for_port(port, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
