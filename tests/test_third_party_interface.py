"""A third-party interface, published only through the entry-point group, is found and served."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import httpx

from .conftest import ROOT, free_port, granian_command, start_process, wait_for_port

ADAPTER = '''
from granian_core.interface import Interface


class EchoPathInterface(Interface):
    """Calls the app with the request path and sends what it returns."""

    def handle_http(self, exchange):
        return self._serve(exchange)

    async def _serve(self, exchange):
        body = self.app(exchange.path).encode()
        exchange.send_response(200, [(b"x-interface", b"echo-path")], body)
'''

APP = """
def app(path):
    return "third party saw " + path
"""


def _install_fake_distribution(site: Path) -> None:
    """What `pip install` of a tiny adapter package leaves on sys.path."""
    (site / "echo_path_iface.py").write_text(textwrap.dedent(ADAPTER))
    (site / "echo_path_app.py").write_text(textwrap.dedent(APP))
    dist_info = site / "echo_path_iface-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: echo-path-iface\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[granian.interfaces]\nechopath = echo_path_iface:EchoPathInterface\n"
    )


def test_entry_point_interface_is_listed_and_served(tmp_path: Path) -> None:
    _install_fake_distribution(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    listed = subprocess.run(
        granian_command("--help"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert "echopath" in listed.stdout

    port = free_port()
    handle = start_process(
        granian_command("--interface", "echopath", "echo_path_app:app", "--port", str(port)),
        port,
        {"PYTHONPATH": str(tmp_path)},
    )
    try:
        wait_for_port(port, handle.proc)
        response = httpx.get(f"{handle.url}/some/where", timeout=10)
    finally:
        code, out = handle.stop()
    assert response.status_code == 200
    assert response.text == "third party saw /some/where"
    assert response.headers["x-interface"] == "echo-path"
    assert code == 0, out


def test_unknown_interface_is_a_clean_error() -> None:
    result = subprocess.run(
        granian_command("--interface", "nope", "examples.hello_asgi:app"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Invalid value for '--interface'" in result.stderr
    assert "Traceback" not in result.stderr
