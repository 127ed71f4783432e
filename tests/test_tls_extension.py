"""TLS facts for applications: the ASGI ``tls`` extension and the WSGI ``HTTPS``/``SSL_*`` keys.

Real servers, real TLS (trustme certificates made here), real clients: httpx over
HTTP/1.1 and HTTP/2 (with a client certificate for mTLS) and websockets over wss.
Expected values are computed independently of the server: PEM from the stdlib,
names from ``cryptography``, cipher numbers from the IANA registry.
"""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from granian_core.tls import (
    certificate_issuer,
    certificate_subject,
    cipher_suite_number,
    tls_version_number,
)
from websockets.sync.client import connect

WAIT = 10.0

#: From the IANA "TLS Cipher Suites" registry (RFC 8446 and RFC 5289).
IANA_CIPHER_SUITES = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B,
    "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
}

#: A client subject with characters RFC 4514 escapes.
CLIENT_COMMON_NAME = "Zoë, client #1"


@dataclass
class PKI:
    ca_file: Path
    cert: Path
    key: Path
    server_pem: str  # the server leaf, as the stdlib writes PEM
    client_cert: Path
    client_key: Path
    client_pem: str
    ca_pem: str
    client_subject: str  # RFC 4514, from cryptography
    client_issuer: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    tmp = tmp_path_factory.mktemp("tls-extension")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org", common_name=CLIENT_COMMON_NAME)
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(tmp / "cert.pem"), append=True)
    server.private_key_pem.write_to_path(str(tmp / "key.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp / "client.key"))
    client_x509 = x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes())
    return PKI(
        ca_file=tmp / "ca.pem",
        cert=tmp / "cert.pem",
        key=tmp / "key.pem",
        server_pem=_normalized_pem(server.cert_chain_pems[0].bytes()),
        client_cert=tmp / "client.pem",
        client_key=tmp / "client.key",
        client_pem=_normalized_pem(client.cert_chain_pems[0].bytes()),
        ca_pem=_normalized_pem(ca.cert_pem.bytes()),
        client_subject=client_x509.subject.rfc4514_string(),
        client_issuer=client_x509.issuer.rfc4514_string(),
    )


def _chain_seen(pki: PKI) -> list[str]:
    """The client's chain as the server sees it, leaf first.

    OpenSSL completes a client certificate's chain from the client's trust store, so
    the test client sends its leaf and the CA. The server can read more than the leaf
    only where ``ssl`` has ``get_unverified_chain`` (Python >= 3.13).
    """
    if hasattr(ssl.SSLObject, "get_unverified_chain"):
        return [pki.client_pem, pki.ca_pem]
    return [pki.client_pem]


def _normalized_pem(pem: bytes) -> str:
    return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(pem.decode("ascii")))


def _client_context(pki: PKI, *, with_cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if with_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


def _mtls_options(pki: PKI) -> dict[str, Any]:
    return {
        "ssl_cert": pki.cert,
        "ssl_key": pki.key,
        "ssl_ca": pki.ca_file,
        "ssl_client_verify": True,
    }


@dataclass
class Negotiated:
    """What the client saw of the TLS session."""

    version: str
    cipher: str


def _get_twice(url: str, context: ssl.SSLContext, http2: bool) -> tuple[Negotiated, list[Any]]:
    """Two requests on one connection: the client's view of TLS and both JSON bodies."""
    with httpx.Client(http2=http2, verify=context, timeout=WAIT) as client:
        responses = [client.get(f"{url}/tls"), client.get(f"{url}/tls")]
        ssl_object = responses[0].extensions["network_stream"].get_extra_info("ssl_object")
        negotiated = Negotiated(ssl_object.version(), ssl_object.cipher()[0])
    expected_version = "HTTP/2" if http2 else "HTTP/1.1"
    for response in responses:
        assert response.status_code == 200
        assert response.http_version == expected_version
    return negotiated, [response.json() for response in responses]


# -- the apps ------------------------------------------------------------------------------
class ASGIRecorder:
    """An ASGI app that keeps every scope and answers with its ``extensions`` as JSON."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        self.scopes.append(scope)
        body = json.dumps(scope["extensions"]).encode()
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            # Answer only once the client asks: it reads its TLS facts while the
            # connection is surely still open.
            await receive()
            await send({"type": "websocket.send", "text": body.decode()})
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


_WSGI_KEYS = ("HTTPS", "wsgi.url_scheme", "SERVER_PROTOCOL")


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with the TLS-related environ keys as JSON."""
    keys = {
        key: value for key, value in environ.items() if key.startswith("SSL_") or key in _WSGI_KEYS
    }
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps(keys).encode()]


def _asgi_extension(pki: PKI, negotiated: Negotiated, *, client_cert: bool) -> dict[str, Any]:
    return {
        "server_cert": pki.server_pem,
        "client_cert_chain": _chain_seen(pki) if client_cert else [],
        "client_cert_name": pki.client_subject if client_cert else None,
        "client_cert_error": None,
        "tls_version": {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}[negotiated.version],
        "cipher_suite": IANA_CIPHER_SUITES[negotiated.cipher],
    }


# -- ASGI ----------------------------------------------------------------------------------
@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_asgi_mtls_extension(serve: Any, pki: PKI, http2: bool) -> None:
    app = ASGIRecorder()
    with serve(app, interface="asginl", **_mtls_options(pki)) as srv:
        negotiated, bodies = _get_twice(srv.url, _client_context(pki), http2)
    assert negotiated.version == "TLSv1.3"  # the server's default minimum
    expected = _asgi_extension(pki, negotiated, client_cert=True)
    assert expected["tls_version"] == 0x0304
    trailers = {"http.response.trailers": {}} if http2 else {}
    for body in bodies:
        assert body == {"http.response.pathsend": {}, **trailers, "tls": expected}
    first, second = app.scopes
    assert first["scheme"] == second["scheme"] == "https"
    assert first["http_version"] == ("2" if http2 else "1.1")
    # Computed once for the connection, not per request.
    assert first["extensions"]["tls"] is second["extensions"]["tls"]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_asgi_tls_without_client_certificate(serve: Any, pki: PKI, http2: bool) -> None:
    app = ASGIRecorder()
    with serve(app, interface="asginl", ssl_cert=pki.cert, ssl_key=pki.key) as srv:
        negotiated, bodies = _get_twice(srv.url, _client_context(pki, with_cert=False), http2)
    expected = _asgi_extension(pki, negotiated, client_cert=False)
    for body in bodies:
        assert body["tls"] == expected


def test_asgi_tls12_cipher_suite_number(serve: Any, pki: PKI) -> None:
    """A pinned TLS 1.2 suite: the numbers are the IANA ones for exactly that suite."""
    app = ASGIRecorder()
    context = _client_context(pki)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    options = {**_mtls_options(pki), "ssl_protocol_min": "tls1.2"}
    with serve(app, interface="asginl", **options) as srv:
        negotiated, bodies = _get_twice(srv.url, context, http2=True)
    assert negotiated == Negotiated("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert bodies[0]["tls"]["tls_version"] == 0x0303
    assert bodies[0]["tls"]["cipher_suite"] == 0xC02B
    assert bodies[0]["tls"] == _asgi_extension(pki, negotiated, client_cert=True)


def test_asgi_cleartext_has_no_tls_extension(serve: Any) -> None:
    app = ASGIRecorder()
    with serve(app, interface="asginl") as srv:
        response = httpx.get(f"{srv.url}/plain", timeout=WAIT)
    assert response.json() == {"http.response.pathsend": {}}


def test_asgi_websocket_over_mtls(serve: Any, pki: PKI) -> None:
    app = ASGIRecorder()
    with serve(app, interface="asginl", **_mtls_options(pki)) as srv:
        uri = f"wss://127.0.0.1:{srv.port}/ws"
        with connect(uri, ssl=_client_context(pki), open_timeout=WAIT) as ws:
            tls_socket = ws.socket
            assert isinstance(tls_socket, ssl.SSLSocket)
            cipher = tls_socket.cipher()
            assert cipher is not None
            negotiated = Negotiated(str(tls_socket.version()), cipher[0])
            ws.send("go")
            extensions = json.loads(ws.recv(timeout=WAIT))
    assert extensions == {
        "websocket.http.response": {},
        "tls": _asgi_extension(pki, negotiated, client_cert=True),
    }
    assert app.scopes[0]["scheme"] == "wss"


# -- WSGI ----------------------------------------------------------------------------------
def _wsgi_expected(pki: PKI, negotiated: Negotiated, http2: bool) -> dict[str, str]:
    further = {f"SSL_CLIENT_CERT_CHAIN_{n}": pem for n, pem in enumerate(_chain_seen(pki)[1:])}
    return further | {
        "HTTPS": "on",
        "wsgi.url_scheme": "https",
        "SERVER_PROTOCOL": "HTTP/2" if http2 else "HTTP/1.1",
        "SSL_PROTOCOL": negotiated.version,
        "SSL_CIPHER": negotiated.cipher,
        "SSL_SERVER_CERT": pki.server_pem,
        "SSL_CLIENT_VERIFY": "SUCCESS",
        "SSL_CLIENT_CERT": pki.client_pem,
        "SSL_CLIENT_S_DN": pki.client_subject,
        "SSL_CLIENT_I_DN": pki.client_issuer,
    }


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_wsgi_mtls_environ(serve: Any, pki: PKI, http2: bool) -> None:
    with serve(wsgi_app, interface="wsgi", **_mtls_options(pki)) as srv:
        negotiated, bodies = _get_twice(srv.url, _client_context(pki), http2)
    assert negotiated.version == "TLSv1.3"
    for body in bodies:
        assert body == _wsgi_expected(pki, negotiated, http2)


def test_wsgi_tls_without_client_certificate(serve: Any, pki: PKI) -> None:
    with serve(wsgi_app, interface="wsgi", ssl_cert=pki.cert, ssl_key=pki.key) as srv:
        negotiated, bodies = _get_twice(srv.url, _client_context(pki, with_cert=False), False)
    assert bodies[0] == {
        "HTTPS": "on",
        "wsgi.url_scheme": "https",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SSL_PROTOCOL": "TLSv1.3",
        "SSL_CIPHER": negotiated.cipher,
        "SSL_SERVER_CERT": pki.server_pem,
        "SSL_CLIENT_VERIFY": "NONE",
    }


def test_wsgi_cleartext_ignores_process_environment(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTPS``/``SSL_*`` in the process environment never reach a cleartext request."""
    monkeypatch.setenv("HTTPS", "on")
    monkeypatch.setenv("SSL_CLIENT_S_DN", "CN=impostor")
    with serve(wsgi_app, interface="wsgi") as srv:
        response = httpx.get(f"{srv.url}/plain", timeout=WAIT)
    assert response.json() == {"wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}


# -- the encodings ---------------------------------------------------------------------------
def _self_signed(name: x509.Name) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuer")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_rfc4514_names_match_cryptography() -> None:
    attribute = x509.NameAttribute
    name = x509.Name(
        [
            x509.RelativeDistinguishedName([attribute(NameOID.DOMAIN_COMPONENT, "org")]),
            x509.RelativeDistinguishedName([attribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName(
                [
                    attribute(NameOID.ORGANIZATION_NAME, 'A,b+c"d<e>f;g\\h '),
                    attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "#ops"),
                ]
            ),
            x509.RelativeDistinguishedName([attribute(NameOID.COMMON_NAME, " Zoë")]),
        ]
    )
    der = _self_signed(name)
    subject = certificate_subject(der)
    # As stored: DER sorts the members of a multi-valued RDN (a SET OF).
    assert subject == x509.load_der_x509_certificate(der).subject.rfc4514_string()
    assert subject == 'CN=\\ Zoë,OU=\\#ops+O=A\\,b\\+c\\"d\\<e\\>f\\;g\\\\h\\ ,C=FR,DC=org'
    assert certificate_issuer(der) == "CN=Issuer"


def test_rfc4514_unnamed_types_are_hex_encoded() -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.org"),
            x509.NameAttribute(NameOID.TITLE, "boss"),  # no RFC 4514 short name
        ]
    )
    # UTF8String "boss" is 0c 04 62 6f 73 73.
    assert (
        certificate_subject(_self_signed(name))
        == "2.5.4.12=#0c04626f7373,emailAddress=a@example.org"
    )


def test_unreadable_certificates_have_no_name() -> None:
    assert certificate_subject(b"") is None
    assert certificate_subject(b"\x30\x82\xff\xff") is None
    assert certificate_issuer(b"not a certificate") is None


def test_version_and_cipher_numbers() -> None:
    assert tls_version_number("TLSv1.3") == 0x0304
    assert tls_version_number("TLSv1.2") == 0x0303
    assert tls_version_number(None) is None
    assert tls_version_number("QUIC") is None
    for name, number in IANA_CIPHER_SUITES.items():
        assert cipher_suite_number(name) == number
    assert cipher_suite_number("NOT-A-CIPHER") is None
    assert cipher_suite_number(None) is None
