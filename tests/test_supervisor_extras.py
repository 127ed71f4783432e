"""The supervisor's optional features: configuration checks and their missing extras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import watchfiles
from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError
from granian_core.server import rss
from granian_core.server.reload import build_filter

from .conftest import ROOT, free_port

APP = "tests.apps.process_asgi:app"


@pytest.mark.parametrize(
    "changes",
    [
        {"workers_lifetime": 60},
        {"workers_max_rss": 512, "rss_samples": 3, "rss_sample_interval": 5},
        {"process_name": "web"},
        {"env_files": [Path(".env")]},
        {"reload": True, "reload_paths": [Path(".")], "reload_tick": 100},
        {"reload": True, "reload_filter": watchfiles.PythonFilter},
    ],
)
def test_supervisor_options_are_accepted(changes: dict[str, Any]) -> None:
    config = ServerConfig(**changes)
    assert {name: getattr(config, name) for name in changes} == changes


def test_lifetime_keeps_granians_minimum() -> None:
    with pytest.raises(ConfigurationError, match="59 is not in the range x>=60"):
        ServerConfig(workers_lifetime=59)


@pytest.mark.parametrize("value", [watchfiles.PythonFilter(), dict, "DefaultFilter"])
def test_reload_filter_must_be_a_watchfiles_filter_class(value: object) -> None:
    with pytest.raises(ConfigurationError, match="expected a watchfiles.BaseFilter subclass"):
        ServerConfig(reload=True, reload_filter=value)  # type: ignore[arg-type]


def test_reload_filter_extends_the_default_lists_without_mutating_them(tmp_path: Path) -> None:
    defaults = watchfiles.DefaultFilter.ignore_dirs
    config = ServerConfig(
        reload=True,
        reload_ignore_dirs=["skipme"],
        reload_ignore_patterns=[r"\.log$"],
        reload_ignore_paths=[tmp_path / "private"],
    )
    watch_filter = build_filter(config)
    assert isinstance(watch_filter, watchfiles.DefaultFilter)
    assert watchfiles.DefaultFilter.ignore_dirs == defaults
    modified = watchfiles.Change.modified
    assert watch_filter(modified, str(tmp_path / "app.py"))
    assert not watch_filter(modified, str(tmp_path / "skipme" / "app.py"))
    assert not watch_filter(modified, str(tmp_path / "__pycache__" / "app.pyc"))
    assert not watch_filter(modified, str(tmp_path / "server.log"))
    assert not watch_filter(modified, str(tmp_path / "private" / "key.py"))


def test_a_custom_filter_class_is_extended_too(tmp_path: Path) -> None:
    config = ServerConfig(
        reload=True, reload_filter=watchfiles.PythonFilter, reload_ignore_dirs=["skipme"]
    )
    watch_filter = build_filter(config)
    assert isinstance(watch_filter, watchfiles.PythonFilter)
    modified = watchfiles.Change.modified
    assert watch_filter(modified, str(tmp_path / "app.py"))
    assert not watch_filter(modified, str(tmp_path / "notes.txt"))
    assert not watch_filter(modified, str(tmp_path / "skipme" / "app.py"))


# -- missing extras -------------------------------------------------------------------------
MISSING = [
    ("setproctitle", {"process_name": "web"}, "--process-name requires the setproctitle"),
    ("dotenv", {"env_files": [Path(".env")]}, "--env-files requires the python-dotenv"),
    ("watchfiles", {"reload": True}, "--reload requires the watchfiles package"),
]


@pytest.mark.parametrize(("module", "changes", "message"), MISSING)
def test_a_missing_extra_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, module: str, changes: dict[str, Any], message: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    with pytest.raises(ConfigurationError, match=message):
        ServerConfig(**changes)


def test_max_rss_without_a_way_to_read_memory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rss, "rss_readable", lambda: False)
    with pytest.raises(ConfigurationError, match="--workers-max-rss needs /proc"):
        ServerConfig(workers_max_rss=100)
    # --reload disables the memory monitor, so nothing needs reading then.
    assert ServerConfig(workers_max_rss=100, reload=True).workers_max_rss == 100


_CLI_WITHOUT = (
    "import sys; sys.modules[{module!r}] = None; sys.argv[0] = 'granian'; "
    "from granian.cli import entrypoint; entrypoint()"
)


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("setproctitle", ["--process-name", "web"], "--process-name requires the setproctitle"),
        ("dotenv", ["--env-files", "pytest.ini"], "--env-files requires the python-dotenv"),
        ("watchfiles", ["--reload"], "--reload requires the watchfiles package"),
    ],
)
def test_cli_without_the_extra_exits_1_with_one_line(
    module: str, args: list[str], message: str
) -> None:
    command = [sys.executable, "-c", _CLI_WITHOUT.format(module=module)]
    result = subprocess.run(
        [*command, *args, "--port", str(free_port()), APP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {message}")
    assert len(result.stderr.splitlines()) == 1
