"""The server behind a real nginx, configured as its users deploy it.

nginx (Debian's package; `.ci/run` installs it) proxies HTTP/1.1 with a pool of
keep-alive upstream connections to three server processes: ASGI and WSGI on TCP, and
ASGI on a Unix socket whose mode comes from ``--uds-permissions``. When the tests run
as root, nginx's workers run as ``nobody``, so that mode is what lets them connect.

Each app location comes in three forms: nginx's defaults (bodies buffered both ways),
``-nobuf`` (request and response streamed through), and ``-https`` (nginx telling the
app that the client came over TLS).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import (
    free_ports,
    granian_command,
    start_process,
    wait_for_port,
    wait_for_unix_socket,
)

WAIT = 20.0
APPS = "tests.apps.behind_proxy"

_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  client_max_body_size 64m;
  upstream asgi {{ server 127.0.0.1:{asgi_port}; keepalive 8; keepalive_timeout 20s; }}
  upstream wsgi {{ server 127.0.0.1:{wsgi_port}; keepalive 8; keepalive_timeout 20s; }}
  upstream uds {{ server unix:{uds}; keepalive 8; keepalive_timeout 20s; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
{locations}
  }}
}}
"""

# nginx drops every inherited proxy_set_header once a block sets one: each sets all.
_HEADERS = """
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto {proto};"""

_LOCATION = """
    location /{upstream}/ {{
      proxy_pass http://{upstream}/;{headers}
    }}
    location /{upstream}-nobuf/ {{
      proxy_pass http://{upstream}/;{headers}
      proxy_request_buffering off;
      proxy_buffering off;
    }}
    location /{upstream}-https/ {{
      proxy_pass http://{upstream}/;{https_headers}
    }}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert found is not None, "nginx is not installed (apt-get install nginx)"
    return found


@dataclass
class Deployment:
    url: str
    directory: Path

    def errors(self) -> str:
        log = (self.directory / "error.log").read_text()
        return "\n".join(line for line in log.splitlines() if "[error]" in line or "[crit]" in line)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    nginx = _nginx()
    # nginx's workers (nobody, under root) need to reach the socket and temp directories.
    directory = Path(tempfile.mkdtemp(prefix="granian-nginx-"))
    directory.chmod(0o755)
    uds = directory / "app.sock"
    asgi_port, wsgi_port, port = free_ports(3)
    servers = [
        start_process(
            granian_command("--interface", "asgi", "--port", str(asgi_port), f"{APPS}:asgi_app"),
            asgi_port,
        ),
        start_process(
            granian_command("--interface", "wsgi", "--port", str(wsgi_port), f"{APPS}:wsgi_app"),
            wsgi_port,
        ),
        start_process(
            granian_command(
                "--interface", "asgi", "--uds", str(uds), "--uds-permissions", "0666",
                f"{APPS}:asgi_app",
            )
        ),
    ]  # fmt: skip
    locations = "".join(
        _LOCATION.format(
            upstream=name,
            headers=_HEADERS.format(proto="$scheme"),
            https_headers=_HEADERS.format(proto="https"),
        )
        for name in ("asgi", "wsgi", "uds")
    )
    conf = directory / "nginx.conf"
    conf.write_text(
        _NGINX_CONF.format(
            dir=directory,
            asgi_port=asgi_port,
            wsgi_port=wsgi_port,
            uds=uds,
            port=port,
            locations=locations,
        )
    )
    proxy = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(asgi_port, servers[0].proc)
        wait_for_port(wsgi_port, servers[1].proc)
        wait_for_unix_socket(uds, servers[2].proc)
        wait_for_port(port, proxy)
        yield Deployment(f"http://127.0.0.1:{port}", directory)
    finally:
        proxy.terminate()
        try:
            proxy.wait(WAIT)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
        for server in servers:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=deployment.url, timeout=WAIT) as http:
        yield http


BODY = os.urandom(3 * 1024 * 1024)


def _chunks(data: bytes, size: int = 100_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("upstream", ["asgi", "wsgi", "uds"])
def test_upstream_connections_are_kept_alive(client: httpx.Client, upstream: str) -> None:
    # Over TCP the app sees the port of nginx's upstream connection: one for all.
    answers = [client.get(f"/{upstream}/peer").json() for _ in range(20)]
    peers = {tuple(answer["client"]) if answer["client"] else None for answer in answers}
    assert len(peers) == 1, peers
    if upstream == "uds":
        assert peers == {None}  # a Unix socket peer has no address


@pytest.mark.parametrize("upstream", ["asgi", "wsgi", "uds"])
@pytest.mark.parametrize("buffering", ["", "-nobuf"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_request_bodies_arrive_whole(
    client: httpx.Client, upstream: str, buffering: str, framing: str
) -> None:
    # With buffering off, nginx streams a chunked upload on as a chunked upload.
    content = BODY if framing == "content-length" else _chunks(BODY)
    response = client.post(f"/{upstream}{buffering}/echo", content=content)
    assert response.status_code == 200
    assert response.content == BODY


@pytest.mark.parametrize("upstream", ["asgi", "uds"])
def test_large_responses_arrive_whole(client: httpx.Client, upstream: str) -> None:
    response = client.get(f"/{upstream}/big")
    assert response.status_code == 200
    assert response.content == bytes(range(256)) * (32 * 1024)


def test_streamed_response_passes_through_unbuffered(
    client: httpx.Client, deployment: Deployment
) -> None:
    gate = deployment.directory / "gate"
    with client.stream("GET", "/asgi-nobuf/gate", params={"file": str(gate)}) as response:
        received = b""
        chunks = response.iter_raw()
        while received != b"first;":  # arrives while the app still waits for the gate
            received += next(chunks)
        gate.touch()
        received += b"".join(chunks)
    assert received == b"first;second"


@pytest.mark.parametrize("upstream", ["asgi", "wsgi"])
def test_forwarded_headers_give_the_real_client(client: httpx.Client, upstream: str) -> None:
    # The client's own X-Forwarded-For is kept by nginx, which appends its peer; the
    # wrapper trusts 127.0.0.1 only, so the left entry is the client.
    headers = {"x-forwarded-for": "203.0.113.7"}
    answer = client.get(f"/{upstream}/forwarded", headers=headers).json()
    assert answer["client"] in (["203.0.113.7", 0], "203.0.113.7")
    assert answer["scheme"] == "http"
    answer = client.get(f"/{upstream}-https/forwarded").json()
    assert answer["client"] in (["127.0.0.1", 0], "127.0.0.1")
    assert answer["scheme"] == "https"


def test_app_errors_reach_the_client_and_spare_the_connection(
    client: httpx.Client, deployment: Deployment
) -> None:
    before = client.get("/asgi/peer").json()["client"]
    assert client.get("/asgi/boom").status_code == 500
    # A 500 with a complete response keeps the upstream connection: nginx reuses it.
    assert client.get("/asgi/peer").json()["client"] == before
    assert deployment.errors() == ""


@pytest.mark.parametrize("upstream", ["asgi", "uds"])
def test_websockets_pass_through(deployment: Deployment, upstream: str) -> None:
    url = deployment.url.replace("http://", "ws://") + f"/{upstream}/ws"
    blob = os.urandom(1024 * 1024)
    with connect(url, max_size=None, open_timeout=WAIT) as ws:
        for index in range(50):
            ws.send(f"message {index}")
            assert ws.recv(WAIT) == f"message {index}"
        ws.send(blob)
        assert ws.recv(WAIT) == blob


def test_nginx_logged_no_upstream_errors(client: httpx.Client, deployment: Deployment) -> None:
    for _ in range(3):
        assert client.get("/uds/peer").status_code == 200
    assert deployment.errors() == ""
