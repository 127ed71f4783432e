"""Target loading: Granian's APP syntax, factories, working dir, and one-line errors."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from granian_core.errors import FatalError
from granian_core.loading import TargetLoadError, load_target, patch_pypath, split_target

from tests.apps_cli import hello

APPS = Path(__file__).resolve().parent / "apps_cli"


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loading edits sys.path and sys.modules: give each test its own copies."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = dict(sys.modules)
    yield
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]


def _module_dir(tmp_path: Path, source: str) -> tuple[Path, str]:
    """A directory holding one uniquely named module with ``source``."""
    name = f"granian_target_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(source)
    return tmp_path, name


# -- syntax -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("main", ("main", "app")),
        ("main:application", ("main", "application")),
        ("pkg.mod:obj.attr", ("pkg.mod", "obj.attr")),
        ("dir/main.py:app", ("dir/main.py", "app")),
        ("C:\\apps\\main.py:api", ("C:\\apps\\main.py", "api")),
        ("C:/apps/main.py", ("C:/apps/main.py", "app")),
    ],
)
def test_split_target(target: str, expected: tuple[str, str]) -> None:
    assert split_target(target) == expected


@pytest.mark.parametrize("target", ["", ":app", "main:"])
def test_split_target_rejects_empty_parts(target: str) -> None:
    with pytest.raises(TargetLoadError, match="Invalid application target"):
        split_target(target)


def test_attribute_defaults_to_app() -> None:
    assert load_target("tests.apps_cli.hello") is hello.app


def test_named_and_dotted_attributes() -> None:
    assert load_target("tests.apps_cli.hello:create_app") is hello.create_app
    assert load_target("tests.apps_cli.hello:holder.app") is hello.app


def test_package_module() -> None:
    assert load_target("tests.apps_cli.pkg.sub:application") is hello.app
    assert load_target("tests.apps_cli.pkg") is hello.app


def test_py_file_path_is_converted_to_its_dotted_module() -> None:
    target = str(APPS / "pkg" / "sub.py") + ":application"
    assert load_target(target) is hello.app
    assert "tests.apps_cli.pkg.sub" in sys.modules
    # The first directory outside the packages is made importable.
    assert sys.path[0] == str(APPS.parent.parent)


def test_file_path_without_the_py_suffix(tmp_path: Path) -> None:
    # Granian takes "src/app:app" for src/app.py (Flask's prepare_import does the same).
    directory, name = _module_dir(tmp_path, "app = 'no suffix'\n")
    assert load_target(f"{directory / name}:app") == "no suffix"
    with pytest.raises(TargetLoadError, match="no such file or directory"):
        load_target(f"{directory / 'missing'}:app")


def test_package_directory_path() -> None:
    assert load_target(str(APPS / "pkg")) is hello.app


def test_file_outside_packages(tmp_path: Path) -> None:
    directory, name = _module_dir(tmp_path, "app = 'from a file'\n")
    assert load_target(f"{directory / name}.py") == "from a file"
    assert sys.path[0] == str(tmp_path.resolve())


# -- factory ----------------------------------------------------------------------------------
def test_factory_is_called() -> None:
    assert load_target("tests.apps_cli.hello:create_app", factory=True) is hello.app


def test_factory_must_be_callable(tmp_path: Path) -> None:
    directory, name = _module_dir(tmp_path, "app = 3\n")
    with pytest.raises(TargetLoadError) as info:
        load_target(f"{name}:app", factory=True, working_dir=directory)
    assert str(info.value) == f"Factory '{name}:app' is not callable"


def test_factory_failure_is_one_line(tmp_path: Path) -> None:
    source = "def make():\n    raise ValueError('bad\\nsettings')\n"
    directory, name = _module_dir(tmp_path, source)
    with pytest.raises(TargetLoadError) as info:
        load_target(f"{name}:make", factory=True, working_dir=directory)
    assert str(info.value) == (
        f"Error calling factory '{name}:make': ValueError: bad settings"
        f" (at {directory / name}.py:2)"  # outside the current dir: absolute
    )


# -- sys.path -----------------------------------------------------------------------------------
def test_working_dir_is_put_first_on_sys_path(tmp_path: Path) -> None:
    directory, name = _module_dir(tmp_path, "app = 'from working dir'\n")
    assert load_target(name, working_dir=directory) == "from working dir"
    assert sys.path[0] == str(directory.resolve())


def test_without_working_dir_the_current_directory_comes_first() -> None:
    patch_pypath(None)
    assert sys.path[0] == ""
    patch_pypath(None)
    assert sys.path[:2] != ["", ""]


def test_working_dir_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    patch_pypath(Path("sub"))
    assert sys.path[0] == str((tmp_path / "sub").resolve())


# -- errors -----------------------------------------------------------------------------------
def test_missing_module() -> None:
    with pytest.raises(TargetLoadError) as info:
        load_target("granian_no_such_module")
    assert str(info.value) == "Could not import module 'granian_no_such_module'"
    assert isinstance(info.value, FatalError)


def test_missing_submodule_and_parent_package() -> None:
    with pytest.raises(TargetLoadError, match=r"^Could not import module 'tests.apps_cli.nope'$"):
        load_target("tests.apps_cli.nope")
    with pytest.raises(TargetLoadError, match=r"^Could not import module 'nopkg.mod'$"):
        load_target("nopkg.mod:app")


def test_missing_file_path() -> None:
    with pytest.raises(TargetLoadError) as info:
        load_target("does/not/exist.py:app")
    assert str(info.value) == (
        "Could not import module 'does/not/exist.py': no such file or directory"
    )


def test_missing_attribute() -> None:
    with pytest.raises(TargetLoadError) as info:
        load_target("tests.apps_cli.hello:nope")
    assert str(info.value) == "Attribute 'nope' not found in module 'tests.apps_cli.hello'"
    with pytest.raises(TargetLoadError) as info:
        load_target("tests.apps_cli.hello:holder.nope")
    assert str(info.value) == "Attribute 'holder.nope' not found in module 'tests.apps_cli.hello'"


def test_import_error_inside_the_module_names_both() -> None:
    with pytest.raises(TargetLoadError) as info:
        load_target("tests.apps_cli.broken_import")
    assert str(info.value) == (
        "Error importing 'tests.apps_cli.broken_import': ModuleNotFoundError: "
        "No module named 'granian_py_tests_missing_dependency'"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_other_errors_at_import_time() -> None:
    with pytest.raises(TargetLoadError) as info:
        load_target("tests.apps_cli.raises_on_import")
    # One line still, and it says where in the app's code (relative to the current dir).
    assert str(info.value) == (
        "Error importing 'tests.apps_cli.raises_on_import': RuntimeError: boom at import time"
        " (at tests/apps_cli/raises_on_import.py:3)"
    )


def test_syntax_error_is_one_line(tmp_path: Path) -> None:
    directory, name = _module_dir(tmp_path, "def broken(:\n")
    with pytest.raises(TargetLoadError) as info:
        load_target(name, working_dir=directory)
    message = str(info.value)
    assert message.startswith(f"Error importing '{name}': SyntaxError: ")
    assert "\n" not in message
