"""The ``granian`` command, generated from the option table (``ServerConfig``).

No option is declared here: each row of ``ServerConfig.options()`` becomes one
click option with Granian's flag, ``GRANIAN_*`` env var, default and range.
"""

from __future__ import annotations

import json
import math
import os
from enum import Enum
from pathlib import Path
from typing import Any

import click
from granian_core.config import ConfigOption, ServerConfig
from granian_core.durations import check_duration_range, parse_duration
from granian_core.errors import FatalError
from granian_core.loading import patch_pypath

from . import __version__
from .http import HTTP1_FIELDS, HTTP2_FIELDS, HTTP1Settings, HTTP2Settings
from .server import Server

__all__ = ["Duration", "EnumType", "OctalIntType", "cli", "entrypoint"]

APP_HELP = "APP  Application target to serve.  [required]"
ENV_PREFIX = "GRANIAN"


class Duration(click.IntRange):
    """Seconds, written as ``90`` or with units in d, h, m, s order (``1m30s``)."""

    name = "duration"

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        super().__init__(min=min, max=max)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        try:
            seconds = parse_duration(value)
            check_duration_range(value, seconds, _as_int(self.min), _as_int(self.max))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return seconds


def _as_int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


class FiniteFloatRange(click.FloatRange):
    """click's float range without nan and infinities (nan passes any range check).

    Named ``float`` as Granian's plain FLOAT options are: ``'x' is not a valid float.``
    """

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number.", param, ctx)
        return number


class EnumType(click.Choice):  # type: ignore[type-arg]
    """A case-insensitive choice among an enum's values, converted to the member."""

    def __init__(self, enum: type[Enum], case_sensitive: bool = False) -> None:
        self._enum = enum
        super().__init__([str(member.value) for member in enum], case_sensitive=case_sensitive)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, self._enum):
            return value
        return self._enum(super().convert(value, param, ctx))


class OctalIntType(click.ParamType):  # type: ignore[type-arg]
    """An integer, read as octal when written with a leading ``0`` (``0660``, ``0o660``)."""

    name = "octal"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text, 8) if text.startswith("0") and text != "0" else int(text)
        except ValueError:
            self.fail(f"{value!r} is not a valid integer (use a leading 0 for octal)", param, ctx)


class JSONFileType(click.Path):
    """A JSON file holding a dict (``--log-config``), read into that dict."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, readable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        try:
            loaded = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.fail(f"{str(path)!r} is not a valid JSON file: {exc}", param, ctx)
        if not isinstance(loaded, dict):
            self.fail(f"{str(path)!r} must hold a JSON object (a logging dictConfig)", param, ctx)
        return loaded


# -- from the table to click ------------------------------------------------------------
def _param_type(option: ConfigOption) -> click.ParamType[Any] | None:
    spec = option.spec
    kind = spec.kind
    if kind == "choice":
        if spec.enum is not None:
            return EnumType(spec.enum)
        return click.Choice(spec.choice_values(), case_sensitive=False)
    if kind == "duration":
        return Duration(_as_int(spec.min), _as_int(spec.max))
    if kind == "int":
        if spec.min is None and spec.max is None:
            return click.INT
        return click.IntRange(_as_int(spec.min), _as_int(spec.max))
    if kind == "float":
        return FiniteFloatRange(spec.min, spec.max)
    if kind == "octal":
        return OctalIntType()
    if kind == "json":
        return JSONFileType()
    if kind in ("path", "file", "dir"):
        return click.Path(
            exists=spec.exists,
            file_okay=kind != "dir",
            dir_okay=kind != "file",
            path_type=Path,
        )
    if kind == "bool":
        return None
    return click.STRING


def _shown_default(option: ConfigOption) -> str | bool | None:
    """Granian's rendering: ``(enabled)``, ``(rsgi)``, ``8000``, or the table's hint."""
    default = option.default
    if default is None:
        return option.spec.default_help
    if isinstance(default, bool):
        return "enabled" if default else "disabled"
    if isinstance(default, str):
        return default
    return True


def _click_option(option: ConfigOption) -> click.Option:
    spec = option.spec
    assert option.flag is not None
    assert option.param_name is not None
    declaration = option.flag
    if option.secondary_flag is not None:
        declaration = f"{option.flag}/{option.secondary_flag}"
    return click.Option(
        [declaration, option.param_name],
        type=_param_type(option),
        default=option.default,
        multiple=spec.multiple,
        # No explicit envvar: the command's auto_envvar_prefix derives the same name, and
        # click then keeps env var names out of error messages, as Granian's CLI does.
        show_envvar=True,
        show_default=_shown_default(option),
        metavar=spec.metavar,
        help=spec.help,
    )


def _cli_options() -> list[ConfigOption]:
    return [option for option in ServerConfig.options() if option.flag is not None]


# -- from click back to the Python API ----------------------------------------------------
def _config_fields(params: dict[str, Any]) -> dict[str, Any]:
    """Option-table field values from the command's parameters."""
    fields: dict[str, Any] = {}
    for option in _cli_options():
        value = params[option.param_name or option.name]
        if option.spec.multiple:
            value = list(value) or None
        fields[option.name] = value
    return fields


def _granian_kwargs(fields: dict[str, Any]) -> dict[str, Any]:
    """``Granian(...)`` keyword arguments: ``http1_*``/``http2_*`` grouped into settings."""
    kwargs = dict(fields)
    http1 = {key: kwargs.pop(name) for key, name in HTTP1_FIELDS.items()}
    http2 = {key: kwargs.pop(name) for key, name in HTTP2_FIELDS.items()}
    kwargs["http1_settings"] = HTTP1Settings(**http1)
    kwargs["http2_settings"] = HTTP2Settings(**http2)
    return kwargs


def _serve(app: str, **params: Any) -> None:
    fields = _config_fields(params)
    patch_pypath(fields["working_dir"])
    try:
        Server(app, **_granian_kwargs(fields)).serve()
    except FatalError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(1) from None


def build_cli() -> click.Command:
    command = click.Command(
        "granian",
        params=[
            click.Argument(["app"], required=True),
            *(_click_option(option) for option in _cli_options()),
        ],
        callback=_serve,
        help=APP_HELP,
        context_settings={"show_default": True, "auto_envvar_prefix": ENV_PREFIX},
    )
    add_version = click.version_option(
        __version__, prog_name="granian", message="%(prog)s %(version)s"
    )
    return add_version(command)


cli = build_cli()


def entrypoint() -> None:
    cli(prog_name="granian", auto_envvar_prefix=ENV_PREFIX)
