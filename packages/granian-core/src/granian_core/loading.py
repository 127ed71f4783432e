"""Import the application named by a target string (Granian's ``APP`` syntax).

``module.path:attr.sub`` — the module part may also be a ``.py`` file or a
package directory; the attribute defaults to ``app``; with ``factory`` the
attribute is called to build the app. Every failure is a :class:`TargetLoadError`
with one line naming the module, which the worker prints as-is.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import FatalError

__all__ = ["TargetLoadError", "load_target", "patch_pypath", "split_target"]

DEFAULT_ATTRIBUTE = "app"

#: The first ``:`` not followed by a path separator, so ``C:\\apps\\main.py:app`` splits right.
_TARGET_SEPARATOR = re.compile(r":(?![\\/])")


class TargetLoadError(FatalError):
    """The target cannot be imported, lacks the attribute, or its factory failed."""


def patch_pypath(working_dir: Path | None = None) -> None:
    """Put ``working_dir`` (resolved) or ``''`` (the current directory) first on sys.path."""
    entry = str(working_dir.resolve()) if working_dir is not None else ""
    if not sys.path or sys.path[0] != entry:
        sys.path.insert(0, entry)


def split_target(target: str) -> tuple[str, str]:
    """``(module, attribute)`` of a target; the attribute defaults to ``app``."""
    parts = _TARGET_SEPARATOR.split(target, maxsplit=1)
    module = parts[0]
    attribute = parts[1] if len(parts) == 2 else DEFAULT_ATTRIBUTE
    if not module or not attribute:
        raise TargetLoadError(f"Invalid application target {target!r}: expected 'module:attribute'")
    return module, attribute


def load_target(target: str, *, factory: bool = False, working_dir: Path | None = None) -> Any:
    """The application object ``target`` names (built by calling it when ``factory``)."""
    patch_pypath(working_dir)
    module_ref, attribute = split_target(target)
    module_name = _module_name(module_ref)
    module = _import(module_name)
    app = _resolve_attribute(module, module_name, attribute)
    if factory:
        app = _call_factory(app, target)
    return app


def _module_name(module_ref: str) -> str:
    """A dotted module name; a file or package path is converted and made importable."""
    if not _looks_like_path(module_ref):
        return module_ref
    path = Path(module_ref)
    if not path.exists() and not module_ref.endswith(".py"):
        path = Path(module_ref + ".py")  # "src/app" names src/app.py too, as in Granian
    if not path.exists():
        raise TargetLoadError(f"Could not import module {module_ref!r}: no such file or directory")
    return _dotted_name_of(path.resolve())


def _looks_like_path(module_ref: str) -> bool:
    return (
        module_ref.endswith(".py")
        or os.sep in module_ref
        or "/" in module_ref
        or (os.altsep is not None and os.altsep in module_ref)
    )


def _dotted_name_of(path: Path) -> str:
    """Walk up while the parent is a package; put the first non-package dir on sys.path."""
    if path.suffix == ".py":
        path = path.with_suffix("")
    if path.name == "__init__":
        path = path.parent
    names = [path.name]
    parent = path.parent
    while (parent / "__init__.py").exists() and parent.parent != parent:
        names.append(parent.name)
        parent = parent.parent
    if sys.path[0] != str(parent):
        sys.path.insert(0, str(parent))
    return ".".join(reversed(names))


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if _is_target_itself(exc.name, module_name):
            raise TargetLoadError(f"Could not import module {module_name!r}") from exc
        raise _import_error(module_name, exc) from exc
    except Exception as exc:
        raise _import_error(module_name, exc) from exc


def _is_target_itself(missing: str | None, module_name: str) -> bool:
    """Whether the missing module is the target or one of its parent packages."""
    return missing is not None and (module_name == missing or module_name.startswith(missing + "."))


def _import_error(module_name: str, exc: BaseException) -> TargetLoadError:
    return TargetLoadError(f"Error importing {module_name!r}: {_one_line(exc)}{_where(exc)}")


def _resolve_attribute(module: Any, module_name: str, attribute: str) -> Any:
    value = module
    for name in attribute.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise TargetLoadError(
                f"Attribute {attribute!r} not found in module {module_name!r}"
            ) from None
    return value


def _call_factory(factory: Any, target: str) -> Any:
    if not callable(factory):
        raise TargetLoadError(f"Factory {target!r} is not callable")
    try:
        return factory()
    except Exception as exc:
        raise TargetLoadError(
            f"Error calling factory {target!r}: {_one_line(exc)}{_where(exc)}"
        ) from exc


def _where(exc: BaseException) -> str:
    """`` (at FILE:LINE)``: where in the app's code ``exc`` was raised, so the one line
    still leads to the bug. Empty for a SyntaxError (its message says where) and for a
    missing module (the import statement is not the bug)."""
    if isinstance(exc, (SyntaxError, ModuleNotFoundError)):
        return ""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    with contextlib.suppress(ValueError):  # another drive (Windows): keep it absolute
        relative = os.path.relpath(filename)
        if not relative.startswith(os.pardir):
            filename = relative
    return f" (at {filename}:{tb.tb_lineno})"


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())
