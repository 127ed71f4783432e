"""Write the option table (from ``ServerConfig``) into a markdown file.

Usage: ``python tools/gen_options_table.py README.md [--check]``

The table replaces whatever is between ``<!-- options:start -->`` and
``<!-- options:end -->``. With ``--check`` nothing is written: the exit status is
1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from granian.http import HTTP1_FIELDS, HTTP2_FIELDS
from granian_core.config import ConfigOption, ServerConfig, describe_range

START = "<!-- options:start -->"
END = "<!-- options:end -->"

_SETTINGS_ARGUMENT = {
    **{field: f"http1_settings.{key}" for key, field in HTTP1_FIELDS.items()},
    **{field: f"http2_settings.{key}" for key, field in HTTP2_FIELDS.items()},
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _flags(option: ConfigOption) -> str:
    if option.flag is None:
        return "(Python API only)"
    flags = f"`{option.flag}`"
    if option.secondary_flag is not None:
        flags += f" / `{option.secondary_flag}`"
    return flags


def _default(option: ConfigOption) -> str:
    default = option.default
    if default is None:
        return option.spec.default_help or ""
    if isinstance(default, bool):
        return "enabled" if default else "disabled"
    return f"`{default}`"


def _accepted(option: ConfigOption) -> str:
    spec = option.spec
    if spec.kind == "choice":
        return ", ".join(f"`{choice}`" for choice in spec.choice_values())
    parts = []
    if spec.kind == "octal":
        return "file mode, e.g. `0660`"
    if spec.min is not None or spec.max is not None:
        parts.append(f"`{describe_range(spec.min, spec.max)}`")
    if spec.kind == "duration":
        parts.append("duration")
    if spec.multiple:
        parts.append("repeatable")
    return ", ".join(parts)


def _row(option: ConfigOption) -> str:
    argument = _SETTINGS_ARGUMENT.get(option.name, option.name)
    description = option.spec.help
    if option.spec.implemented is False:
        description += " (not implemented yet)"
    elif isinstance(option.spec.implemented, tuple):
        values = dict.fromkeys((option.default, *option.spec.implemented))  # each once
        allowed = ", ".join(repr(value) for value in values)
        description += f" (only {allowed} implemented yet)"
    cells = [
        _flags(option),
        f"`{option.envvar}`" if option.envvar else "",
        f"`{argument}`",
        _default(option),
        _accepted(option),
        description,
    ]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def render_options_table() -> str:
    """The markdown table, one row per option, in ``granian --help`` order."""
    lines = [
        "| option | env var | `Granian(...)` argument | default | accepts | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(_row(option) for option in ServerConfig.options())
    return "\n".join(lines) + "\n"


def with_table(text: str, table: str) -> str:
    """``text`` with the table between the markers; ``ValueError`` if they are missing."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"expected {START} ... {END} markers")
    return text[: start + len(START)] + "\n\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--check", action="store_true", help="only report if out of date")
    args = parser.parse_args(argv)
    text = args.file.read_text(encoding="utf-8")
    updated = with_table(text, render_options_table())
    if updated == text:
        return 0
    if args.check:
        print(f"{args.file}: the option table is out of date", file=sys.stderr)
        return 1
    args.file.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
