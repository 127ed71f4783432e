"""Build every package under packages/ and check what would be published.

For each package: an sdist, then a wheel built from that sdist (so a file
missing from the sdist breaks the wheel), with ``python -m build`` in an
isolated environment. Then, per wheel: pure Python, the import package with
its ``py.typed``, no compiled leftovers, ``Requires-Python >= 3.10``; across
wheels: every dependency on a sibling is satisfied by the sibling's version,
the four interfaces are registered, and ``granian`` declares its console
script and depends on every other package.

Usage: ``python tests/build_wheels.py [--outdir DIR]`` (a temp dir by default).
Prints one line per package and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
CLI_DISTRIBUTION = "granian"
CONSOLE_SCRIPT = "granian = granian.cli:entrypoint"
INTERFACES_GROUP = "granian.interfaces"
INTERFACES = {"asgi", "asginl", "rsgi", "wsgi"}
BUILD_TIMEOUT = 600
PARALLEL_BUILDS = 2


@dataclass
class Built:
    """One package's artifacts and what its wheel says about itself."""

    source: Path
    import_name: str
    wheel: Path
    sdist: Path
    name: str = ""
    version: Version = Version("0")
    requires: list[Requirement] = field(default_factory=list)
    entry_points: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def package_dirs() -> list[Path]:
    return sorted(path.parent for path in PACKAGES.glob("*/pyproject.toml"))


def import_name(package_dir: Path) -> str:
    """The one import package under ``src/``."""
    names = [init.parent.name for init in (package_dir / "src").glob("*/__init__.py")]
    if len(names) != 1:
        raise SystemExit(f"{package_dir.name}: expected one package under src/, found {names}")
    return names[0]


def find_uv() -> str | None:
    """uv, if around: its isolated build environments are far faster than pip's."""
    return os.environ.get("HATCH_UV") or shutil.which("uv")


def build_command(package_dir: Path, outdir: Path, uv: str | None) -> list[str]:
    command = [sys.executable, "-m", "build", "--outdir", str(outdir)]
    if uv is not None:
        command += ["--installer", "uv"]
    return [*command, str(package_dir)]


def build_env(uv: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if uv is not None:  # build looks uv up on PATH
        env["PATH"] = os.pathsep.join((str(Path(uv).parent), env.get("PATH", "")))
    return env


def build(package_dir: Path, outdir: Path) -> Built:
    if outdir.exists() and any(outdir.iterdir()):
        raise SystemExit(f"{outdir} is not empty: give an empty --outdir")
    uv = find_uv()
    result = subprocess.run(
        build_command(package_dir, outdir, uv),
        env=build_env(uv),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{package_dir.name}: build failed (exit {result.returncode})")
    wheels = list(outdir.glob("*.whl"))
    sdists = list(outdir.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise SystemExit(f"{package_dir.name}: expected one wheel and one sdist in {outdir}")
    return Built(package_dir, import_name(package_dir), wheels[0], sdists[0])


# -- reading the artifacts ----------------------------------------------------------------
def read_wheel(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        dist_info = _dist_info_dir(names)
        metadata = HeaderParser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        wheel_info = HeaderParser().parsestr(wheel.read(f"{dist_info}/WHEEL").decode())
        entry_points_path = f"{dist_info}/entry_points.txt"
        if entry_points_path in names:
            built.entry_points = _parse_entry_points(wheel.read(entry_points_path).decode())
    built.name = metadata["Name"]
    built.version = Version(metadata["Version"])
    built.requires = [Requirement(req) for req in metadata.get_all("Requires-Dist") or []]
    _check_wheel_files(built, names, metadata["Requires-Python"], wheel_info.get_all("Tag"))


def _dist_info_dir(names: list[str]) -> str:
    dirs = {name.split("/", 1)[0] for name in names if ".dist-info/" in name}
    if len(dirs) != 1:
        raise SystemExit(f"expected one .dist-info directory, found {sorted(dirs)}")
    return dirs.pop()


def _parse_entry_points(text: str) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    current: set[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], set())
        elif line and current is not None:
            name, _, target = line.partition("=")
            current.add(f"{name.strip()} = {target.strip()}")
    return groups


def _check_wheel_files(
    built: Built, names: list[str], requires_python: str | None, tags: list[str] | None
) -> None:
    package = built.import_name
    for required in (f"{package}/__init__.py", f"{package}/py.typed"):
        if required not in names:
            built.problems.append(f"wheel lacks {required}")
    stray = [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".so"))]
    if stray:
        built.problems.append(f"wheel contains compiled files: {stray[:3]}")
    outside = [n for n in names if not n.startswith((f"{package}/", f"{_dist_info_dir(names)}/"))]
    if outside:
        built.problems.append(f"wheel contains files outside {package}/: {outside[:3]}")
    if tags != ["py3-none-any"]:
        built.problems.append(f"wheel is not pure Python (tags {tags})")
    if requires_python is None or Version("3.10") not in SpecifierSet(requires_python):
        built.problems.append(f"Requires-Python {requires_python!r} excludes 3.10")


def check_sdist(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    package = f"src/{built.import_name}"
    for required in (
        "pyproject.toml",
        "README.md",
        f"{package}/__init__.py",
        f"{package}/py.typed",
    ):
        if required not in names:
            built.problems.append(f"sdist lacks {required}")


# -- checks across packages -----------------------------------------------------------------
def check_siblings(everything: list[Built]) -> None:
    """Every dependency on a sibling accepts the version built here."""
    versions = {canonicalize_name(built.name): built.version for built in everything}
    for built in everything:
        for requirement in built.requires:
            if requirement.marker is not None and "extra" in str(requirement.marker):
                continue
            sibling = versions.get(canonicalize_name(requirement.name))
            if sibling is not None and not requirement.specifier.contains(
                sibling, prereleases=True
            ):
                built.problems.append(f"requires {requirement} but {sibling} is built")


def check_cli(everything: list[Built]) -> None:
    by_name: dict[str, Built] = {canonicalize_name(built.name): built for built in everything}
    cli = by_name.get(CLI_DISTRIBUTION)
    if cli is None:
        raise SystemExit(f"no {CLI_DISTRIBUTION!r} distribution under {PACKAGES}")
    if CONSOLE_SCRIPT not in cli.entry_points.get("console_scripts", set()):
        cli.problems.append(f"console script {CONSOLE_SCRIPT!r} not declared")
    required = {canonicalize_name(req.name) for req in cli.requires if req.marker is None}
    missing = sorted(set(by_name) - {CLI_DISTRIBUTION} - required)
    if missing:
        cli.problems.append(f"does not depend on {', '.join(missing)}")


def check_interfaces(everything: list[Built]) -> None:
    registered = {
        entry.split(" = ", 1)[0]
        for built in everything
        for entry in built.entry_points.get(INTERFACES_GROUP, set())
    }
    missing = sorted(INTERFACES - registered)
    if missing:
        cli = next(b for b in everything if canonicalize_name(b.name) == CLI_DISTRIBUTION)
        cli.problems.append(f"no wheel registers the interfaces {', '.join(missing)}")


# -- main ----------------------------------------------------------------------------------------
def build_and_read(package_dir: Path, outdir: Path) -> Built:
    built = build(package_dir, outdir / package_dir.name)
    read_wheel(built)
    check_sdist(built)
    return built


def build_all(outdir: Path) -> list[Built]:
    # Builds wait on subprocesses and downloads: two at a time halves the wall time.
    with ThreadPoolExecutor(max_workers=PARALLEL_BUILDS) as pool:
        jobs = [pool.submit(build_and_read, path, outdir) for path in package_dirs()]
        return [job.result() for job in jobs]


def run(outdir: Path) -> int:
    everything = build_all(outdir)
    check_siblings(everything)
    check_cli(everything)
    check_interfaces(everything)
    failed = False
    for built in everything:
        status = "FAIL" if built.problems else "ok"
        print(f"{status:4} {built.name} {built.version}: {built.wheel.name}, {built.sdist.name}")
        for problem in built.problems:
            print(f"     - {problem}")
        failed = failed or bool(built.problems)
    print(f"{len(everything)} packages built in {outdir}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, help="keep the artifacts here (default: temp)")
    args = parser.parse_args(argv)
    if args.outdir is not None:
        args.outdir.mkdir(parents=True, exist_ok=True)
        return run(args.outdir.resolve())
    with tempfile.TemporaryDirectory(prefix="granian-wheels-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
