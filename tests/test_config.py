"""ServerConfig: Granian's defaults, ranges, env var names, validation, the gate, the table."""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
from pathlib import Path
from typing import Any

import pytest
from granian_core import config as config_module
from granian_core.config import ConfigOption, ServerConfig
from granian_core.constants import HTTPModes, Interfaces, LogLevels, Loops
from granian_core.durations import check_duration_range, parse_duration
from granian_core.errors import ConfigurationError

#: Granian 2.8's defaults (GRANIAN-BEHAVIOUR.md §2, §7), plus granian-py's http1_parser.
GRANIAN_DEFAULTS: dict[str, Any] = {
    "address": "127.0.0.1",
    "port": 8000,
    "uds": None,
    "uds_permissions": None,
    "interface": "rsgi",
    "http": "auto",
    "websockets": True,
    "workers": 1,
    "blocking_threads": None,
    "blocking_threads_idle_timeout": 30,
    "runtime_threads": 1,
    "runtime_blocking_threads": None,
    "runtime_mode": "auto",
    "loop": "auto",
    "task_impl": "asyncio",
    "backlog": 1024,
    "backpressure": None,
    "http1_buffer_size": 417_792,
    "http1_header_read_timeout": 30_000,
    "http1_keep_alive": True,
    "http1_pipeline_flush": False,
    "http1_parser": "auto",
    "http2_adaptive_window": False,
    "http2_initial_connection_window_size": 1_048_576,
    "http2_initial_stream_window_size": 1_048_576,
    "http2_keep_alive_interval": None,
    "http2_keep_alive_timeout": 20,
    "http2_max_concurrent_streams": 200,
    "http2_max_frame_size": 16_384,
    "http2_max_headers_size": 16_777_216,
    "http2_max_send_buffer_size": 409_600,
    "log_enabled": True,
    "log_level": "info",
    "log_dictconfig": None,
    "log_access": False,
    "log_access_format": None,
    "ssl_cert": None,
    "ssl_key": None,
    "ssl_key_password": None,
    "ssl_protocol_min": "tls1.3",
    "ssl_ca": None,
    "ssl_crl": None,
    "ssl_client_verify": False,
    "url_path_prefix": None,
    "respawn_failed_workers": False,
    "respawn_interval": 3.5,
    "rss_sample_interval": 30,
    "rss_samples": 1,
    "workers_lifetime": None,
    "workers_max_rss": None,
    "workers_kill_timeout": None,
    "factory": False,
    "working_dir": None,
    "env_files": None,
    "static_path_route": None,
    "static_path_mount": None,
    "static_path_dir_to_file": None,
    "static_path_expires": 86_400,
    "metrics_enabled": False,
    "metrics_scrape_interval": 15,
    "metrics_address": "127.0.0.1",
    "metrics_port": 9090,
    "reload": False,
    "reload_paths": None,
    "reload_ignore_dirs": None,
    "reload_ignore_patterns": None,
    "reload_ignore_paths": None,
    "reload_filter": None,
    "reload_tick": 50,
    "reload_ignore_worker_failure": False,
    "process_name": None,
    "pid_file": None,
}

#: (field, min, max) as Granian's CLI declares them (durations in seconds).
RANGES = [
    ("port", 0, 65_535),
    ("workers", 1, None),
    ("blocking_threads", 1, None),
    ("blocking_threads_idle_timeout", 5, 600),
    ("runtime_threads", 1, None),
    ("runtime_blocking_threads", 1, None),
    ("backlog", 128, None),
    ("backpressure", 1, None),
    ("http1_buffer_size", 8192, None),
    ("http1_header_read_timeout", 1, 60_000),
    ("http2_initial_connection_window_size", 1024, None),
    ("http2_initial_stream_window_size", 1024, None),
    ("http2_keep_alive_interval", 1, 60_000),
    ("http2_keep_alive_timeout", 1, None),
    ("http2_max_concurrent_streams", 10, None),
    ("http2_max_frame_size", 1024, None),
    ("http2_max_headers_size", 1, None),
    ("http2_max_send_buffer_size", 1024, None),
    ("rss_sample_interval", 1, 300),
    ("rss_samples", 1, None),
    ("workers_lifetime", 60, None),
    ("workers_max_rss", 1, None),
    ("workers_kill_timeout", 1, 1800),
    ("static_path_expires", 0, None),
    ("metrics_scrape_interval", 1, 60),
    ("metrics_port", 0, 65_535),
    ("reload_tick", 50, 5000),
]

#: Field → a non-default value that must be refused until the feature lands, and the flag
#: the message names.
OTHER_GATED: dict[str, tuple[Any, str]] = {
    "runtime_threads": (2, "--runtime-threads"),
    "runtime_mode": ("mt", "--runtime-mode mt"),
    "task_impl": ("rust", "--task-impl"),
}
NOT_IMPLEMENTED: dict[str, tuple[Any, str]] = OTHER_GATED


def _option(name: str) -> ConfigOption:
    return ServerConfig.option(name)


def _changes(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


# -- the table ---------------------------------------------------------------------------
def test_fields_are_granians_option_names() -> None:
    assert [field.name for field in dataclasses.fields(ServerConfig)] == list(GRANIAN_DEFAULTS)


def test_defaults_match_granian() -> None:
    config = ServerConfig()
    assert {name: getattr(config, name) for name in GRANIAN_DEFAULTS} == GRANIAN_DEFAULTS


def test_options_lists_every_field_with_its_metadata() -> None:
    options = ServerConfig.options()
    assert [option.name for option in options] == list(GRANIAN_DEFAULTS)
    assert all(option.spec.help for option in options)
    assert ServerConfig.option("workers").flag == "--workers"


@pytest.mark.parametrize(
    ("name", "envvar"),
    [
        ("address", "GRANIAN_HOST"),
        ("websockets", "GRANIAN_WEBSOCKETS"),
        ("log_enabled", "GRANIAN_LOG_ENABLED"),
        ("log_access", "GRANIAN_LOG_ACCESS_ENABLED"),
        ("log_access_format", "GRANIAN_LOG_ACCESS_FMT"),
        ("log_dictconfig", "GRANIAN_LOG_CONFIG"),
        ("metrics_enabled", "GRANIAN_METRICS_ENABLED"),
        ("ssl_cert", "GRANIAN_SSL_CERTIFICATE"),
        ("ssl_key", "GRANIAN_SSL_KEYFILE"),
        ("ssl_key_password", "GRANIAN_SSL_KEYFILE_PASSWORD"),
        ("http1_buffer_size", "GRANIAN_HTTP1_BUFFER_SIZE"),
        ("http1_parser", "GRANIAN_HTTP1_PARSER"),
        ("pid_file", "GRANIAN_PID_FILE"),
        ("reload_filter", None),
    ],
)
def test_env_var_names_are_granians(name: str, envvar: str | None) -> None:
    assert _option(name).envvar == envvar


def test_every_cli_option_env_var_is_prefix_plus_param_name() -> None:
    for option in ServerConfig.options():
        if option.flag is None:
            continue
        assert option.param_name is not None
        assert option.envvar == "GRANIAN_" + option.param_name.upper()


def test_bool_options_have_a_negative_flag() -> None:
    assert _option("websockets").secondary_flag == "--no-ws"
    assert _option("log_access").secondary_flag == "--no-access-log"
    assert _option("port").secondary_flag is None


# -- ranges -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "low", "high"), RANGES)
def test_table_ranges_are_granians(name: str, low: int, high: int | None) -> None:
    spec = _option(name).spec
    assert (spec.min, spec.max) == (low, high)


@pytest.mark.parametrize(("name", "low", "high"), RANGES)
def test_values_outside_the_range_are_refused(name: str, low: int, high: int | None) -> None:
    flag = _option(name).flag
    with pytest.raises(ConfigurationError, match=rf"^Invalid value for '{name}' \({flag}\): "):
        ServerConfig(**_changes(name, low - 1))
    if high is not None:
        with pytest.raises(ConfigurationError, match=r"is not in the range"):
            ServerConfig(**_changes(name, high + 1))


@pytest.mark.parametrize(("name", "low", "high"), RANGES)
def test_range_bounds_are_accepted(name: str, low: int, high: int | None) -> None:
    config_kwargs: dict[str, Any] = {name: low}
    if name == "blocking_threads":
        config_kwargs["interface"] = "wsgi"
    if name in NOT_IMPLEMENTED and low != GRANIAN_DEFAULTS[name]:
        with pytest.raises(ConfigurationError, match="is not implemented yet in granian-py$"):
            ServerConfig(**config_kwargs)
        return
    assert getattr(ServerConfig(**config_kwargs), name) == low


def test_range_message_reads_like_clicks() -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(workers=0)
    assert str(info.value) == (
        "Invalid value for 'workers' (--workers): 0 is not in the range x>=1."
    )
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(http1_header_read_timeout=60_001)
    assert str(info.value).endswith("60001 is not in the range 1<=x<=60000.")


# -- types and choices ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": "8000"}, "'port' (--port): expected an integer, got '8000'"),
        ({"workers": True}, "'workers' (--workers): expected an integer, got True"),
        ({"websockets": "yes"}, "'websockets' (--ws): expected a boolean"),
        ({"log_dictconfig": "x.json"}, "'log_dictconfig' (--log-config): expected a dict"),
        ({"uds": 3}, "'uds' (--uds): expected a path"),
        ({"ssl_crl": "one.pem"}, "'ssl_crl' (--ssl-crl): expected a list"),
        ({"interface": "cgi"}, "'cgi' is not one of 'asgi', 'asginl', 'rsgi', 'wsgi'."),
        ({"loop": "trio"}, "'trio' is not one of 'auto', 'asyncio', 'rloop', 'uvloop'."),
        ({"http": "3"}, "'3' is not one of 'auto', '1', '2'."),
        ({"log_level": "loud"}, "'loud' is not one of 'critical', 'error'"),
    ],
)
def test_wrong_types_and_choices_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(**changes)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_enums_and_strings_are_stored_as_plain_values() -> None:
    config = ServerConfig(
        interface=Interfaces.ASGI, http=HTTPModes.http1, loop=Loops.asyncio, log_level="DEBUG"
    )
    assert (config.interface, config.http, config.loop, config.log_level) == (
        "asgi",
        "1",
        "asyncio",
        "debug",
    )
    assert type(config.interface) is str
    assert ServerConfig(log_level=LogLevels.warn).log_level == "warn"


def test_paths_and_lists_are_normalized() -> None:
    config = ServerConfig(
        uds="/tmp/granian.sock",  # type: ignore[arg-type]
        reload_paths=("a", Path("b")),  # type: ignore[arg-type]
        reload_ignore_dirs=[],
        respawn_interval=2,
    )
    assert config.uds == Path("/tmp/granian.sock")
    assert config.reload_paths == [Path("a"), Path("b")]
    assert config.reload_ignore_dirs is None
    assert config.respawn_interval == 2.0
    assert isinstance(config.respawn_interval, float)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_float_option_must_be_finite(value: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(respawn_interval=value)
    assert str(info.value) == (
        f"Invalid value for 'respawn_interval' (--respawn-interval): {value} "
        "is not a finite number."
    )


# -- cross-field validation -----------------------------------------------------------------
@pytest.mark.parametrize("address", ["localhost", "example.com", "127.0.0", ""])
def test_address_must_be_an_ip_literal(address: str) -> None:
    with pytest.raises(ConfigurationError, match="is not an IP address"):
        ServerConfig(address=address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "::1", "10.1.2.3"])
def test_ip_literals_are_accepted(address: str) -> None:
    assert ServerConfig(address=address).address == address


def test_metrics_address_must_be_an_ip_literal() -> None:
    with pytest.raises(ConfigurationError, match="'metrics_address'"):
        ServerConfig(metrics_address="localhost")


@pytest.mark.parametrize("interface", ["asgi", "asginl", "rsgi"])
def test_blocking_threads_above_one_need_a_blocking_interface(interface: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(interface=interface, blocking_threads=2)
    assert str(info.value) == (
        f"--blocking-threads 2 is not supported by the {interface!r} interface: "
        "only blocking interfaces (wsgi) use more than 1"
    )
    assert ServerConfig(interface=interface, blocking_threads=1).blocking_threads == 1


def test_wsgi_accepts_many_blocking_threads() -> None:
    assert ServerConfig(interface="wsgi", blocking_threads=8).resolved_blocking_threads() == 8


@pytest.fixture
def without_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lifts the not-implemented gate, to reach the checks behind it."""
    monkeypatch.setattr(config_module, "_check_implemented", lambda option, value: None)


@pytest.mark.usefixtures("without_gate")
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ssl_cert": Path("c.pem")}, "--ssl-certificate and --ssl-keyfile must be given together"),
        ({"ssl_key": Path("k.pem")}, "--ssl-certificate and --ssl-keyfile must be given together"),
        ({"ssl_client_verify": True}, "--ssl-client-verify requires --ssl-ca"),
        (
            {"static_path_mount": [Path("a"), Path("b")], "static_path_route": ["/a"]},
            "--static-path-route is given 1 time(s) but --static-path-mount 2 time(s)",
        ),
    ],
)
def test_combinations_behind_the_gate(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(**changes)
    assert message in str(info.value)


@pytest.mark.usefixtures("without_gate")
def test_one_static_mount_defaults_to_the_static_route(tmp_path: Path) -> None:
    for name in ("assets", "a", "b"):
        (tmp_path / name).mkdir()
    config = ServerConfig(static_path_mount=[tmp_path / "assets"])
    assert config.resolved_static_paths() == [("/static", tmp_path / "assets")]
    pairs = ServerConfig(
        static_path_mount=[tmp_path / "a", tmp_path / "b"], static_path_route=["/a", "/b"]
    ).resolved_static_paths()
    assert pairs == [("/a", tmp_path / "a"), ("/b", tmp_path / "b")]


def test_access_log_format_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="Invalid access log format"):
        ServerConfig(log_access_format="%(status)d %(")
    assert ServerConfig(log_access_format="%(addr)s %(status)d").log_access_format


# -- the not-implemented gate -----------------------------------------------------------------
@pytest.mark.parametrize("name", list(NOT_IMPLEMENTED))
def test_not_implemented_options_are_refused(name: str) -> None:
    value, flag = NOT_IMPLEMENTED[name]
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(**{name: value})
    assert str(info.value) == f"{flag} is not implemented yet in granian-py"


def test_gate_lists_exactly_the_not_implemented_options() -> None:
    gated = {
        option.name for option in ServerConfig.options() if option.spec.implemented is not True
    }
    assert gated == set(NOT_IMPLEMENTED)


@pytest.mark.parametrize(
    "changes",
    [
        {"http": "1"},
        {"http": "auto"},
        {"websockets": False},
        {"workers": 4},
        {"uds": Path("/tmp/x.sock")},
        {"pid_file": Path("/tmp/x.pid")},
        {"factory": True},
        {"working_dir": Path(".")},
        {"url_path_prefix": "/api"},
        {"backpressure": 10},
        {"log_enabled": False, "log_level": "debug", "log_access": True},
        {"log_dictconfig": {"version": 1}},
        {"workers_kill_timeout": 5},
        {"respawn_failed_workers": False},
    ],
)
def test_implemented_options_are_accepted(changes: dict[str, Any]) -> None:
    config = ServerConfig(**changes)
    assert {name: getattr(config, name) for name in changes} == changes


# -- derived values ---------------------------------------------------------------------------
def test_backpressure_defaults_to_backlog_per_worker() -> None:
    assert ServerConfig().resolved_backpressure() == 1024
    assert ServerConfig(backlog=1000, workers=3).resolved_backpressure() == 333
    assert ServerConfig(backlog=128, workers=1000).resolved_backpressure() == 1
    assert ServerConfig(backpressure=7).resolved_backpressure() == 7


def test_blocking_threads_default_like_granian() -> None:
    assert ServerConfig(interface="asgi").resolved_blocking_threads() == 1
    assert ServerConfig(interface="rsgi").resolved_blocking_threads() == 1
    assert ServerConfig(interface="wsgi").resolved_blocking_threads() == 512
    assert ServerConfig(interface="wsgi", backpressure=3).resolved_blocking_threads() == 1


def test_http1_parser_auto_prefers_httptools() -> None:
    pytest.importorskip("httptools")
    assert ServerConfig().resolved_http1_parser() == "httptools"
    assert ServerConfig(http1_parser="h11").resolved_http1_parser() == "h11"


def test_replace_validates_again() -> None:
    config = ServerConfig(port=1234)
    assert config.replace(workers=2).port == 1234
    with pytest.raises(ConfigurationError):
        config.replace(workers=0)


def test_config_is_frozen_and_picklable() -> None:
    config = ServerConfig(interface="asgi", reload_paths=[Path("x")], log_dictconfig={"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(config)) == config


# -- durations --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 10),
        ("10s", 10),
        ("10m", 600),
        ("10m10s", 610),
        ("10h", 36_000),
        ("10d", 864_000),
        ("10d10h10m10s", 900_610),
        ("1h30s", 3_630),
        (" 5m ", 300),
        (42, 42),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "10x", "10s10m", "1.5h", "-5", "10 s", "m10", "١٠"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid duration$") as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} is not a valid duration"


def test_duration_range_messages() -> None:
    with pytest.raises(ValueError) as info:
        check_duration_range("2", 2, 5, 600)
    assert str(info.value) == "'2' is less than the minimum allowed value of 5 seconds"
    with pytest.raises(ValueError) as info:
        check_duration_range("11m", 660, 5, 600)
    assert str(info.value) == "'11m' is greater than the maximum allowed value of 600 seconds"
    check_duration_range("5", 5, 5, 600)


# -- the README option table -------------------------------------------------------------------
def _generator() -> Any:
    path = Path(__file__).resolve().parent.parent / "tools" / "gen_options_table.py"
    spec = importlib.util.spec_from_file_location("gen_options_table", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_table_lists_every_option() -> None:
    table = _generator().render_options_table()
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == len(ServerConfig.options())
    for option, row in zip(ServerConfig.options(), rows, strict=True):
        assert f"`{option.flag}`" in row if option.flag else "Python API only" in row
        if option.envvar:
            assert f"`{option.envvar}`" in row
    assert "`http1_settings.keep_alive`" in table


def test_readme_option_table_is_up_to_date() -> None:
    generator = _generator()
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    if generator.START not in text:  # the markers are not there yet: the table itself is checked
        assert generator.render_options_table().count("| `--") == len(
            [option for option in ServerConfig.options() if option.flag]
        )
        return
    expected = generator.with_table(text, generator.render_options_table())
    assert text == expected, "run: python tools/gen_options_table.py README.md"
