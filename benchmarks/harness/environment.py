"""Installs what the suite needs: load tools (apt) and one venv per peer (pip).

Each venv records what it was built from in a stamp file, so a second run skips the install
and a change of requirements (or of our packages' pyproject files) rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .paths import PACKAGES_DIR, VENVS_DIR

# Debian package providing each command.
_TOOL_PACKAGES = {"wrk": "wrk", "h2load": "nghttp2-client", "taskset": "util-linux"}
_STAMP = ".bench-stamp.json"


class SetupError(RuntimeError):
    """The environment cannot be prepared (missing root, failed install...)."""


@dataclass(frozen=True)
class VenvSpec:
    name: str
    requirements: tuple[str, ...]
    editable: tuple[Path, ...] = ()

    @property
    def path(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"


def _our_packages() -> tuple[Path, ...]:
    return tuple(sorted(p.parent for p in PACKAGES_DIR.glob("*/pyproject.toml")))


VENVS: dict[str, VenvSpec] = {
    spec.name: spec
    for spec in (
        VenvSpec("tools", ("matplotlib>=3.7", "psutil>=6", "uvloop>=0.19", "py-spy")),
        VenvSpec(
            "uvicorn",
            ("uvicorn>=0.30", "httptools>=0.6", "uvloop>=0.19", "h11>=0.14", "websockets>=13"),
        ),
        VenvSpec("hypercorn", ("hypercorn>=0.17", "uvloop>=0.19")),
        VenvSpec("gunicorn", ("gunicorn>=23",)),
        VenvSpec("granian", ("granian[uvloop]>=2.8,<2.9",)),
        VenvSpec("ours", ("uvloop>=0.19", "httptools>=0.6"), _our_packages()),
    )
}


def ensure_tools() -> None:
    """Install wrk, h2load and taskset through apt-get when any is missing."""
    missing = sorted({pkg for cmd, pkg in _TOOL_PACKAGES.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SetupError(f"missing Debian packages {missing}; install them or run as root")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", *missing], env=env)


def _stamp_for(spec: VenvSpec) -> dict[str, object]:
    digest = hashlib.sha256()
    for package in spec.editable:
        digest.update((package / "pyproject.toml").read_bytes())
    return {
        "requirements": list(spec.requirements),
        "editable": [str(p) for p in spec.editable],
        "pyprojects": digest.hexdigest(),
        "python": sys.version.split()[0],
    }


def _is_current(spec: VenvSpec, stamp: dict[str, object]) -> bool:
    stamp_file = spec.path / _STAMP
    if not (spec.python.exists() and stamp_file.exists()):
        return False
    try:
        return bool(json.loads(stamp_file.read_text()) == stamp)
    except ValueError:
        return False


def ensure_venv(spec: VenvSpec) -> VenvSpec:
    """Create/refresh the venv of ``spec`` and return it."""
    stamp = _stamp_for(spec)
    if _is_current(spec, stamp):
        return spec
    print(f"preparing venv {spec.path.relative_to(VENVS_DIR.parent)}", flush=True)
    if spec.path.exists():
        shutil.rmtree(spec.path)
    _run([sys.executable, "-m", "venv", str(spec.path)])
    pip = [str(spec.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    editable = [arg for package in spec.editable for arg in ("-e", str(package))]
    _run([*pip, *spec.requirements, *editable])
    (spec.path / _STAMP).write_text(json.dumps(stamp, indent=1))
    return spec


def installed_versions(python: Path, distributions: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``distributions`` as seen by ``python`` (missing ones are left out)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code, *distributions], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        return {}
    return dict(json.loads(done.stdout))


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise SetupError(f"command failed ({done.returncode}): {' '.join(argv)}\n{tail}")
