"""Static files (``--static-path-*``) served by a real server to real clients.

The site used throughout (``site`` fixture)::

    root/
      secret.txt               outside the mount: traversal targets
      assets-private/key.txt   a sibling whose name starts with the mount's name
      assets/                  the mount
        hello.txt  style.css  noext  big.bin  with space.txt  pipe (a FIFO)
        nested/deep/page.html
        docs/index.html        (a directory with an index)
        empty/                 (a directory without one)
        inside-link  -> hello.txt         (a symlink that stays inside)
        escape-link  -> ../secret.txt     (a symlink leading out)
        escape-dir   -> ..                (a directory symlink leading out)
"""

from __future__ import annotations

import mimetypes
import os
import subprocess
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError
from granian_core.exchange import HTTPExchange
from granian_core.interface import Interface
from granian_core.static.files import StaticFiles, StaticMount

from .conftest import ROOT, GranianProcess, ServerHandle, free_port, granian_command, run_server
from .helpers import complete_lifespan, connect, read_until_eof

SECRET = b"top secret\n"
HELLO = b"hello static\n"
BIG = bytes(range(256)) * 1200  # 300 KiB: more than one read and one window of frames
MTIME = 1_704_067_200
HTTP_MTIME = "Mon, 01 Jan 2024 00:00:00 GMT"
ETAG = f'"{MTIME * 10**9:x}-{len(HELLO):x}"'


@dataclass(frozen=True)
class Site:
    root: Path
    assets: Path
    other: Path


def build_site(root: Path) -> Site:
    assets = root / "assets"
    for directory in ("nested/deep", "docs", "empty"):
        (assets / directory).mkdir(parents=True)
    (root / "secret.txt").write_bytes(SECRET)
    (root / "assets-private").mkdir()
    (root / "assets-private" / "key.txt").write_bytes(SECRET)
    files = {
        "hello.txt": HELLO,
        "style.css": b"body{}\n",
        "noext": b"no extension\n",
        "big.bin": BIG,
        "with space.txt": b"spaced\n",
        "notes.txt.gz": b"\x1f\x8b not really gzip\n",
        "nested/deep/page.html": b"<p>deep</p>\n",
        "docs/index.html": b"<p>index</p>\n",
    }
    for name, content in files.items():
        (assets / name).write_bytes(content)
        os.utime(assets / name, (MTIME, MTIME))
    os.mkfifo(assets / "pipe")
    (assets / "inside-link").symlink_to("hello.txt")
    (assets / "escape-link").symlink_to("../secret.txt")
    (assets / "escape-dir").symlink_to("..")
    other = root / "other"
    other.mkdir()
    (other / "hello.txt").write_bytes(b"other\n")
    (other / "special").mkdir()
    (other / "special" / "x.txt").write_bytes(b"special\n")
    return Site(root, assets, other)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("site"))


# -- the apps behind the static routes: they say what reached them ---------------------------
async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await complete_lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app:" + scope["path"].encode()})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"app:" + environ["PATH_INFO"].encode("latin-1")]


async def rsgi_app(scope: Any, protocol: Any) -> None:
    protocol.response_bytes(200, [], b"app:" + scope.path.encode())


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[ServerHandle]:
    """ASGI over HTTP/1 with the mount at the default route, expires at its default."""
    with run_server(asgi_app, "asgi", static_path_mount=[site.assets]) as srv:
        yield srv


@pytest.fixture(scope="module", params=["h11", "httptools"])
def parser_server(site: Site, request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """The ``server`` setup on each HTTP/1 parser: raw request targets reach both as sent."""
    options = {"static_path_mount": [site.assets], "http1_parser": request.param}
    with run_server(asgi_app, "asgi", **options) as srv:
        yield srv


@pytest.fixture
def client(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as http:
        yield http


def raw_request(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Status and body for a request target sent as is (httpx would normalise ``..``)."""
    with connect(port) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".encode())
        data = read_until_eof(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- files ------------------------------------------------------------------------------------
def test_a_file_is_served_with_its_headers(client: httpx.Client) -> None:
    response = client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == HELLO
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["content-length"] == str(len(HELLO))
    assert response.headers["cache-control"] == "max-age=86400"
    assert response.headers["last-modified"] == HTTP_MTIME
    assert response.headers["etag"] == ETAG
    assert response.headers["server"] == "granian"
    assert "date" in response.headers
    assert "transfer-encoding" not in response.headers


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/static/nested/deep/page.html", b"<p>deep</p>\n"),
        ("/static/with%20space.txt", b"spaced\n"),
        ("/st%61tic/hello.txt", HELLO),  # matched after percent-decoding, like Granian
        ("/static//hello.txt", HELLO),
        ("/static/inside-link", HELLO),  # a symlink that stays inside the mount
        ("/static/hello.txt?v=3", HELLO),
    ],
)
def test_paths_that_name_a_file_inside_the_mount(
    client: httpx.Client, path: str, body: bytes
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == body


def test_content_type_comes_from_the_extension(client: httpx.Client) -> None:
    assert client.get("/static/style.css").headers["content-type"] == "text/css"
    page = client.get("/static/nested/deep/page.html")
    assert page.headers["content-type"] == "text/html"
    expected = mimetypes.guess_type("big.bin")[0]
    big = client.get("/static/big.bin")
    assert big.headers.get("content-type") == expected
    assert "content-type" not in client.get("/static/noext").headers
    # Sent as stored, without content-encoding: the type is the compression format's.
    gzipped = client.get("/static/notes.txt.gz")
    assert gzipped.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in gzipped.headers


def test_a_large_file_arrives_whole(client: httpx.Client) -> None:
    response = client.get("/static/big.bin")
    assert response.headers["content-length"] == str(len(BIG))
    assert response.content == BIG


def test_head_answers_the_headers_without_a_body(parser_server: ServerHandle) -> None:
    with connect(parser_server.port) as sock:
        sock.sendall(
            b"HEAD /static/hello.txt HTTP/1.1\r\nhost: t\r\n\r\n"
            b"GET /static/style.css HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
        data = read_until_eof(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: %d" % len(HELLO) in head
    # The next response follows the HEAD's head directly: the HEAD had no body.
    assert rest.startswith(b"HTTP/1.1 200 ")
    assert rest.endswith(b"body{}\n")


def test_methods_are_not_checked_and_a_body_is_discarded(server: ServerHandle) -> None:
    with connect(server.port) as sock:
        sock.sendall(
            b"POST /static/hello.txt HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n\r\nabcde"
            b"GET /other HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
        data = read_until_eof(sock)
    first, second = data.split(b"HTTP/1.1 200 ")[1:]
    assert first.endswith(HELLO)
    assert second.endswith(b"app:/other")


# -- 404s -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.txt",
        "/static/empty",  # a directory, and no --static-path-dir-to-file
        "/static/docs/",
        "/static",  # the mount itself is a directory too
        "/static/hello.txt/more",
        "/static/pipe",  # not a regular file: opening a FIFO would block
    ],
)
def test_what_is_not_a_file_is_a_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.content == b"Not found"


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/nested/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/..%2fsecret.txt",
        "/static/nested/deep/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/static/../assets-private/key.txt",  # a sibling starting with the mount's name
        "/static/escape-link",  # symlink to a file outside
        "/static/escape-dir/secret.txt",  # symlink to a directory outside
        "/static/hello.txt%00.png",
        "/static/%00",
        "/static/%2fetc%2fpasswd",
    ],
)
def test_traversal_is_a_404(parser_server: ServerHandle, target: str) -> None:
    status, body = raw_request(parser_server.port, target)
    assert status == 404
    assert body == b"Not found"


@pytest.mark.parametrize(
    "target",
    [
        "/static/hello.txt/",
        "/static/hello.txt%2f",
        "/static/hello.txt/.",
        "/static/missing/../hello.txt",  # the kernel refuses it: missing is no directory
        "/static/hello.txt/../hello.txt",
    ],
)
def test_a_file_has_one_url(parser_server: ServerHandle, target: str) -> None:
    # realpath tidies these up textually; the file system does not, nor does Granian.
    status, body = raw_request(parser_server.port, target)
    assert status == 404
    assert body == b"Not found"
    assert raw_request(parser_server.port, "/static/nested/../hello.txt") == (200, HELLO)


def _unreadable_file(tmp_path: Path) -> tuple[Path, str]:
    """A regular file this process cannot open: its mount and its name.

    Root reads any file whatever its mode, except write-only sysctl files (the kernel
    checks their owner bits even for root), so as root the mount is /proc/sys/vm.
    """
    if os.geteuid() == 0:
        return Path("/proc/sys/vm"), "drop_caches"
    locked = tmp_path / "locked.txt"
    locked.write_bytes(SECRET)
    locked.chmod(0)
    return tmp_path, "locked.txt"


def test_an_unreadable_file_is_a_404(tmp_path: Path) -> None:
    mount, name = _unreadable_file(tmp_path)
    with pytest.raises(PermissionError):
        (mount / name).open("rb")
    with run_server(asgi_app, "asgi", static_path_mount=[mount]) as srv:
        response = httpx.get(srv.url + "/static/" + name)
    assert response.status_code == 404


# -- what reaches the app -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/other", "/staticfoo", "/staticfoo/hello.txt", "/stat"])
def test_other_paths_reach_the_app(client: httpx.Client, path: str) -> None:
    """Routes match whole segments: ``/staticfoo`` is the app's (Granian would 404 it)."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == b"app:" + path.encode()


# -- conditional requests ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"if-none-match": ETAG},
        {"if-none-match": f'"other", W/{ETAG}'},
        {"if-none-match": "*"},
        {"if-modified-since": HTTP_MTIME},
        {"if-modified-since": "Tue, 02 Jan 2024 00:00:00 GMT"},
    ],
)
def test_a_current_copy_gets_a_304(client: httpx.Client, headers: dict[str, str]) -> None:
    for method in ("GET", "HEAD"):
        response = client.request(method, "/static/hello.txt", headers=headers)
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == ETAG
        assert response.headers["last-modified"] == HTTP_MTIME
        assert response.headers["cache-control"] == "max-age=86400"
        assert "content-type" not in response.headers


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"if-none-match": '"stale"'}),
        ("GET", {"if-modified-since": "Sun, 31 Dec 2023 23:59:59 GMT"}),
        ("GET", {"if-modified-since": "not a date"}),
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        ("GET", {"if-none-match": '"stale"', "if-modified-since": HTTP_MTIME}),
        ("POST", {"if-modified-since": HTTP_MTIME}),  # for GET and HEAD only
        ("GET", {"if-match": ETAG}),
        ("PUT", {"if-match": f'"other", {ETAG}'}),
        ("GET", {"if-match": "*"}),
        ("GET", {"if-unmodified-since": HTTP_MTIME}),
        ("GET", {"if-unmodified-since": "not a date"}),
        # If-Match wins over If-Unmodified-Since.
        ("GET", {"if-match": ETAG, "if-unmodified-since": "Sun, 31 Dec 2023 23:59:59 GMT"}),
    ],
)
def test_a_stale_copy_gets_the_file(
    client: httpx.Client, method: str, headers: dict[str, str]
) -> None:
    response = client.request(method, "/static/hello.txt", headers=headers)
    assert response.status_code == 200
    assert response.content == HELLO


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"if-match": '"other"'}),
        ("GET", {"if-match": f"W/{ETAG}"}),  # If-Match compares strongly: weak never matches
        ("HEAD", {"if-unmodified-since": "Sun, 31 Dec 2023 23:59:59 GMT"}),
        # A condition that would give GET a 304 refuses any other method (RFC 9110 13.1.2).
        ("POST", {"if-none-match": ETAG}),
        ("DELETE", {"if-none-match": "*"}),
        ("GET", {"if-match": '"other"', "if-none-match": ETAG}),  # If-Match is first
    ],
)
def test_a_failed_precondition_gets_a_412(
    client: httpx.Client, method: str, headers: dict[str, str]
) -> None:
    response = client.request(method, "/static/hello.txt", headers=headers)
    assert response.status_code == 412
    assert response.content == b""
    assert response.headers["etag"] == ETAG


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expires", "header"), [(0, None), (600, "max-age=600")])
def test_expires_sets_cache_control(site: Site, expires: int, header: str | None) -> None:
    with run_server(
        asgi_app, "asgi", static_path_mount=[site.assets], static_path_expires=expires
    ) as srv:
        response = httpx.get(srv.url + "/static/hello.txt")
    assert response.status_code == 200
    assert response.headers.get("cache-control") == header


def test_dir_to_file_serves_a_directory_index(site: Site) -> None:
    options = {"static_path_mount": [site.assets], "static_path_dir_to_file": "index.html"}
    with run_server(asgi_app, "asgi", **options) as srv, httpx.Client(base_url=srv.url) as http:
        for path in ("/static/docs", "/static/docs/"):
            response = http.get(path)
            assert response.status_code == 200
            assert response.content == b"<p>index</p>\n"
            assert response.headers["content-type"] == "text/html"
        assert http.get("/static/empty/").status_code == 404
        assert http.get("/static").status_code == 404  # no index.html at the mount's top
        assert http.get("/static/hello.txt").content == HELLO


def test_several_routes_most_specific_first(site: Site) -> None:
    options = {
        "static_path_route": ["/a/", "/b", "/a/special"],
        "static_path_mount": [site.assets, site.other, site.other / "special"],
    }
    with run_server(asgi_app, "asgi", **options) as srv, httpx.Client(base_url=srv.url) as http:
        assert http.get("/a/hello.txt").content == HELLO
        assert http.get("/b/hello.txt").content == b"other\n"
        assert http.get("/a/special/x.txt").content == b"special\n"
        assert http.get("/static/hello.txt").content == b"app:/static/hello.txt"
        assert http.get("/c").content == b"app:/c"


def test_a_symlinked_mount(site: Site, tmp_path: Path) -> None:
    """The mount's own symlinks are resolved once, not mistaken for an escape."""
    link = tmp_path / "current"
    link.symlink_to(site.assets)
    with run_server(asgi_app, "asgi", static_path_mount=[link]) as srv:
        assert httpx.get(srv.url + "/static/hello.txt").content == HELLO
        assert raw_request(srv.port, "/static/../secret.txt")[0] == 404


def test_a_root_route_owns_every_path(site: Site) -> None:
    with run_server(
        asgi_app, "asgi", static_path_route=["/"], static_path_mount=[site.assets]
    ) as srv:
        assert httpx.get(srv.url + "/hello.txt").content == HELLO
        assert httpx.get(srv.url + "/nope").status_code == 404
        assert raw_request(srv.port, "/../secret.txt")[0] == 404


# -- protocols and interfaces ---------------------------------------------------------------------
def test_http2(site: Site) -> None:
    with (
        run_server(asgi_app, "asgi", http="2", static_path_mount=[site.assets]) as srv,
        httpx.Client(base_url=srv.url, http1=False, http2=True) as http,
    ):
        response = http.get("/static/big.bin")
        assert response.http_version == "HTTP/2"
        assert response.headers["content-length"] == str(len(BIG))
        assert response.content == BIG
        head = http.head("/static/hello.txt")
        assert head.headers["content-length"] == str(len(HELLO))
        assert head.content == b""
        cached = http.get("/static/hello.txt", headers={"if-none-match": ETAG})
        assert cached.status_code == 304
        assert http.get("/static/%2e%2e/secret.txt").status_code == 404
        assert http.get("/static/missing").content == b"Not found"
        assert http.get("/elsewhere").content == b"app:/elsewhere"


@pytest.mark.parametrize(("interface", "app"), [("wsgi", wsgi_app), ("rsgi", rsgi_app)])
def test_other_interfaces(site: Site, interface: str, app: Any) -> None:
    with (
        run_server(app, interface, static_path_mount=[site.assets]) as srv,
        httpx.Client(base_url=srv.url) as http,
    ):
        response = http.get("/static/hello.txt")
        assert response.content == HELLO
        assert response.headers["cache-control"] == "max-age=86400"
        assert http.get("/static/missing").status_code == 404
        assert http.get("/page").content == b"app:/page"
        assert http.post("/page", content=b"a body").content == b"app:/page"


def test_the_wrapper_has_start_http_only_if_the_wrapped_interface_has() -> None:
    from granian_asgi import ASGIInterface
    from granian_core.interface import Interface
    from granian_core.static.interface import StaticFilesInterface, _wrapper_class
    from granian_wsgi import WSGIInterface

    assert _wrapper_class(WSGIInterface).start_http is StaticFilesInterface._start_inner
    assert _wrapper_class(ASGIInterface).start_http is Interface.start_http


# -- configuration ---------------------------------------------------------------------------------
def test_routes_are_normalised(site: Site) -> None:
    config = ServerConfig(
        static_path_route=["static/", "/", "/a/b/"],
        static_path_mount=[site.assets, site.other, site.assets],
    )
    assert config.static_path_route == ["/static", "/", "/a/b"]
    assert config.replace().static_path_route == ["/static", "/", "/a/b"]


def test_mounts_are_made_absolute(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(site.root)
    config = ServerConfig(static_path_mount=[Path("assets")])
    assert config.static_path_mount == [site.assets]
    assert config.resolved_static_paths() == [("/static", site.assets)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"static_path_route": ["/a", "/b"], "mounts": 1},
            "--static-path-route is given 2 time(s) but --static-path-mount 1 time(s)",
        ),
        (
            {"static_path_route": ["/a"], "mounts": 2},
            "--static-path-route is given 1 time(s) but --static-path-mount 2 time(s)",
        ),
        (
            {"static_path_route": ["/a"], "mounts": 0},
            "--static-path-route is given 1 time(s) but --static-path-mount 0 time(s)",
        ),
        ({"static_path_dir_to_file": "", "mounts": 1}, "--static-path-dir-to-file"),
        ({"static_path_dir_to_file": "/etc/passwd", "mounts": 1}, "--static-path-dir-to-file"),
        ({"static_path_route": ["/a?b"], "mounts": 1}, "--static-path-route"),
    ],
)
def test_invalid_static_settings(site: Site, changes: dict[str, Any], message: str) -> None:
    mounts = [site.assets] * changes.pop("mounts")
    with pytest.raises(ConfigurationError) as info:
        ServerConfig(static_path_mount=mounts or None, **changes)
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["missing", "secret.txt"])
def test_a_mount_must_be_a_directory(site: Site, name: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a directory"):
        ServerConfig(static_path_mount=[site.root / name])


# -- the command line ------------------------------------------------------------------------------
def test_cli_serves_static_files_and_logs_them(granian_proc: Any) -> None:
    """A relative mount (resolved against the launch directory) next to the app."""
    server: GranianProcess = granian_proc(
        "--interface", "asgi", "--access-log",
        "--static-path-mount", "tests/apps_cli/pkg", "--static-path-route", "/files/",
        "--static-path-expires", "10m",
        "tests.apps_cli.hello:app",
    )  # fmt: skip
    with httpx.Client(base_url=server.url) as http:
        response = http.get("/files/sub.py")
        assert response.status_code == 200
        assert response.content == (ROOT / "tests/apps_cli/pkg/sub.py").read_bytes()
        assert response.headers["cache-control"] == "max-age=600"
        assert http.get("/files/nope").status_code == 404
        assert http.get("/").content == b"hello"
    code, output = server.stop()
    assert code == 0
    # Unlike Granian, static requests are in the access log like any other.
    assert '"GET /files/sub.py HTTP/1.1" 200' in output
    assert '"GET /files/nope HTTP/1.1" 404' in output


def test_cli_mismatched_routes_and_mounts_is_a_one_line_error(site: Site) -> None:
    result = subprocess.run(
        granian_command(
            "--interface", "asgi", "--port", str(free_port()),
            "--static-path-route", "/a", "--static-path-route", "/b",
            "--static-path-mount", str(site.assets),
            "tests.apps_cli.hello:app",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "Error: --static-path-route is given 2 time(s) but --static-path-mount 1 time(s): "
        "give one route per mount\n"
    )
    assert "Traceback" not in result.stdout


class _VanishingFiles(StaticFiles):
    """Static routes whose file is deleted right after it is found: the find/open race."""

    def find(self, mount: StaticMount, rest: bytes) -> Any:
        found = super().find(mount, rest)
        if found is not None:
            os.unlink(found[0])
        return found


class _StaticOnly(Interface):
    """Every request goes to the app's ``StaticFiles`` table (the app is that table)."""

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        files: StaticFiles = self.app
        matched = files.match(exchange.raw_path)
        assert matched is not None
        return files.serve(exchange, *matched)


def test_a_file_gone_between_finding_and_opening_is_a_counted_404(tmp_path: Path) -> None:
    (tmp_path / "soon-gone.txt").write_bytes(b"here a moment")
    files = _VanishingFiles([StaticMount("/static", str(tmp_path))], None, 0)
    with run_server(files, interface=_StaticOnly) as server:
        response = httpx.get(f"{server.url}/static/soon-gone.txt", timeout=5)
    assert (response.status_code, response.content) == (404, b"Not found")
    # Counted with the other 404s (--metrics: static_requests_err), as a missing file is.
    assert (files.requests, files.not_found) == (1, 1)
