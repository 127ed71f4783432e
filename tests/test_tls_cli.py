"""HTTPS through `python -m granian`: serving, and one-line errors for bad files."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import trustme

from .conftest import ROOT, free_port, granian_command, start_process, wait_for_port


def _pki(tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return ca, cert_path, key_path


def test_https_serves_with_the_https_scheme(tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    port = free_port()
    command = granian_command(
        "--interface", "asgi", "--ssl-certificate", str(cert), "--ssl-keyfile", str(key),
        "--port", str(port), "tests.apps.scheme_asgi:app",
    )  # fmt: skip
    handle = start_process(command, port)
    try:
        wait_for_port(port, handle.proc)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with httpx.Client(verify=context, http2=True) as client:
            h2 = client.get(f"https://127.0.0.1:{port}/scope")
        with httpx.Client(verify=context) as client:
            h1 = client.get(f"https://127.0.0.1:{port}/scope")
    finally:
        code, out = handle.stop()
    assert code == 0, out
    assert f"Listening at: https://127.0.0.1:{port}" in out
    assert h2.http_version == "HTTP/2"
    assert h1.http_version == "HTTP/1.1"
    assert h1.json()["scheme"] == "https"
    assert h2.json()["scheme"] == "https"


def test_unreadable_key_is_a_one_line_error(tmp_path: Path) -> None:
    _, cert, _ = _pki(tmp_path)
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a key\n")
    result = subprocess.run(
        granian_command(
            "--interface", "asgi", "--ssl-certificate", str(cert), "--ssl-keyfile", str(bogus),
            "--port", "0", "tests.apps.scheme_asgi:app",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert str(bogus) in errors[0] or str(cert) in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
