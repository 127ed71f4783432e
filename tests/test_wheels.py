"""tests/build_wheels.py's checks catch broken packaging (on hand-made wheels; no build)."""

from __future__ import annotations

import tarfile
import zipfile
from io import BytesIO
from pathlib import Path

from tests.build_wheels import (
    Built,
    check_cli,
    check_interfaces,
    check_sdist,
    check_siblings,
    read_wheel,
)

OTHERS = ["granian-core", "granian-asgi", "granian-rsgi", "granian-wsgi", "granian-proxies"]


def make_wheel(
    path: Path,
    name: str,
    package: str,
    *,
    requires: tuple[str, ...] = (),
    entry_points: str = "",
    files: tuple[str, ...] = ("__init__.py", "py.typed"),
    tag: str = "py3-none-any",
    requires_python: str = ">=3.10",
) -> Path:
    dist_info = f"{name.replace('-', '_')}-0.1.0.dist-info"
    metadata = [f"Name: {name}", "Version: 0.1.0", f"Requires-Python: {requires_python}"]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    wheel_path = path / f"{name.replace('-', '_')}-0.1.0-{tag}.whl"
    with zipfile.ZipFile(wheel_path, "w") as wheel:
        for file in files:
            wheel.writestr(f"{package}/{file}", "")
        wheel.writestr(f"{dist_info}/METADATA", "\n".join(metadata) + "\n")
        wheel.writestr(f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        if entry_points:
            wheel.writestr(f"{dist_info}/entry_points.txt", entry_points)
    return wheel_path


def read(wheel: Path, package: str) -> Built:
    built = Built(wheel.parent, package, wheel, wheel)
    read_wheel(built)
    return built


def test_a_good_wheel_has_no_problems(tmp_path: Path) -> None:
    built = read(make_wheel(tmp_path, "granian-core", "granian_core"), "granian_core")
    assert built.problems == []
    assert (built.name, str(built.version)) == ("granian-core", "0.1.0")


def test_missing_py_typed_and_strays(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "granian-core",
        "granian_core",
        files=("__init__.py", "__pycache__/x.cpython-311.pyc"),
        tag="cp311-cp311-linux_x86_64",
        requires_python=">=3.11",
    )
    problems = " | ".join(read(wheel, "granian_core").problems)
    assert "lacks granian_core/py.typed" in problems
    assert "compiled files" in problems
    assert "not pure Python" in problems
    assert "excludes 3.10" in problems


def test_the_cli_wheel_must_declare_script_and_depend_on_everything(tmp_path: Path) -> None:
    others = [
        read(make_wheel(tmp_path, name, name.replace("-", "_")), name.replace("-", "_"))
        for name in OTHERS
    ]
    cli = read(
        make_wheel(tmp_path, "granian", "granian", requires=("granian-core>=0.1", "click>=8")),
        "granian",
    )
    check_cli([cli, *others])
    assert cli.problems == [
        "console script 'granian = granian.cli:entrypoint' not declared",
        "does not depend on granian-asgi, granian-proxies, granian-rsgi, granian-wsgi",
    ]


def test_a_complete_cli_wheel_passes(tmp_path: Path) -> None:
    others = [
        read(make_wheel(tmp_path, name, name.replace("-", "_")), name.replace("-", "_"))
        for name in OTHERS
    ]
    wheel = make_wheel(
        tmp_path,
        "granian",
        "granian",
        requires=tuple(f"{name}>=0.1,<0.2" for name in OTHERS),
        entry_points="[console_scripts]\ngranian = granian.cli:entrypoint\n",
    )
    cli = read(wheel, "granian")
    check_cli([cli, *others])
    check_siblings([cli, *others])
    assert cli.problems == []


def test_sibling_versions_must_satisfy_requirements(tmp_path: Path) -> None:
    core = read(make_wheel(tmp_path, "granian-core", "granian_core"), "granian_core")
    asgi = read(
        make_wheel(tmp_path, "granian-asgi", "granian_asgi", requires=("granian-core>=0.2",)),
        "granian_asgi",
    )
    check_siblings([core, asgi])
    assert asgi.problems == ["requires granian-core>=0.2 but 0.1.0 is built"]


def test_every_interface_must_be_registered(tmp_path: Path) -> None:
    asgi = read(
        make_wheel(
            tmp_path,
            "granian-asgi",
            "granian_asgi",
            entry_points="[granian.interfaces]\nasgi = a:A\nasginl = a:B\n",
        ),
        "granian_asgi",
    )
    cli = read(make_wheel(tmp_path, "granian", "granian"), "granian")
    check_interfaces([asgi, cli])
    assert cli.problems == ["no wheel registers the interfaces rsgi, wsgi"]


def test_sdist_must_carry_the_sources(tmp_path: Path) -> None:
    sdist_path = tmp_path / "granian_core-0.1.0.tar.gz"
    with tarfile.open(sdist_path, "w:gz") as sdist:
        for name in ("pyproject.toml", "src/granian_core/__init__.py"):
            info = tarfile.TarInfo(f"granian_core-0.1.0/{name}")
            sdist.addfile(info, BytesIO(b""))
    built = Built(tmp_path, "granian_core", sdist_path, sdist_path)
    check_sdist(built)
    assert built.problems == ["sdist lacks README.md", "sdist lacks src/granian_core/py.typed"]
