"""TLS: ``build_ssl_context`` (options → SSLContext, one-line errors) and real HTTPS.

Certificates are made at test time with trustme (and ``cryptography`` for
encrypted keys and CRLs); nothing is checked in.
"""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError
from granian_core.tls import alpn_protocols, build_ssl_context, tls_info

from .test_http2_server import Routes, serve_h2

PASSWORD = "s3cret"


@dataclass
class PKI:
    ca: trustme.CA
    ca_file: Path
    cert: Path  # server certificate chain (PEM)
    key: Path
    cert_der: bytes
    client_cert: Path
    client_key: Path
    client_der: bytes
    other_key: Path  # a key that matches no certificate
    pkcs8_encrypted_key: Path
    traditional_encrypted_key: Path
    revoking_crl: Path  # revokes the client certificate
    empty_crl: Path


def _crl(ca: trustme.CA, revoked_serials: list[int], path: Path) -> Path:
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=1))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(minutes=1))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path


def _encrypted(key_pem: bytes, fmt: serialization.PrivateFormat, path: Path) -> Path:
    key = serialization.load_pem_private_key(key_pem, password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            fmt,
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        )
    )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    tmp = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org")
    stranger = trustme.CA().issue_cert("localhost")
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(tmp / "cert.pem"), append=True)
    server.private_key_pem.write_to_path(str(tmp / "key.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp / "client.key"))
    stranger.private_key_pem.write_to_path(str(tmp / "other.key"))
    client_cert = x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes())
    key_pem = server.private_key_pem.bytes()
    return PKI(
        ca=ca,
        ca_file=tmp / "ca.pem",
        cert=tmp / "cert.pem",
        key=tmp / "key.pem",
        cert_der=ssl.PEM_cert_to_DER_cert(server.cert_chain_pems[0].bytes().decode()),
        client_cert=tmp / "client.pem",
        client_key=tmp / "client.key",
        client_der=client_cert.public_bytes(serialization.Encoding.DER),
        other_key=tmp / "other.key",
        pkcs8_encrypted_key=_encrypted(
            key_pem, serialization.PrivateFormat.PKCS8, tmp / "pkcs8-encrypted.key"
        ),
        traditional_encrypted_key=_encrypted(
            key_pem, serialization.PrivateFormat.TraditionalOpenSSL, tmp / "trad-encrypted.key"
        ),
        revoking_crl=_crl(ca, [client_cert.serial_number], tmp / "revoking.crl"),
        empty_crl=_crl(ca, [], tmp / "empty.crl"),
    )


def _config(**options: Any) -> ServerConfig:
    return ServerConfig(interface="rsgi", port=0, **options)


def _context(pki: PKI, **options: Any) -> ssl.SSLContext:
    context = build_ssl_context(_config(ssl_cert=pki.cert, ssl_key=pki.key, **options))
    assert context is not None
    return context


def _memory_handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """A complete TLS handshake through memory BIOs (no sockets); the server's SSLObject."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    client_obj = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, obj in (("client", client_obj), ("server", server_obj)):
            if done[name]:
                continue
            try:
                obj.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return server_obj
    raise AssertionError("handshake did not complete")


def _client_context(pki: PKI, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


# -- build_ssl_context ------------------------------------------------------------------------
def test_no_tls_without_certificate() -> None:
    assert build_ssl_context(_config()) is None


def test_context_defaults(pki: PKI) -> None:
    context = _context(pki)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3  # Granian's default
    assert context.options & ssl.OP_NO_COMPRESSION
    # OP_NO_COMPRESSION was added to the defaults, not assigned over them.
    assert context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF


def test_minimum_tls12(pki: PKI) -> None:
    assert _context(pki, ssl_protocol_min="tls1.2").minimum_version == ssl.TLSVersion.TLSv1_2


def test_client_verification_modes(pki: PKI) -> None:
    assert _context(pki, ssl_ca=pki.ca_file).verify_mode == ssl.CERT_OPTIONAL
    required = _context(pki, ssl_ca=pki.ca_file, ssl_client_verify=True)
    assert required.verify_mode == ssl.CERT_REQUIRED
    with_crl = _context(
        pki, ssl_ca=pki.ca_file, ssl_client_verify=True, ssl_crl=[pki.empty_crl, pki.revoking_crl]
    )
    assert with_crl.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF


@pytest.mark.parametrize(
    ("mode", "client_offers", "selected"),
    [
        ("auto", ["http/1.1", "h2"], "h2"),  # the server's preference wins
        ("auto", ["http/1.1"], "http/1.1"),
        ("1", ["h2", "http/1.1"], "http/1.1"),
        ("2", ["h2", "http/1.1"], "h2"),
    ],
)
def test_alpn_per_http_mode(pki: PKI, mode: str, client_offers: list[str], selected: str) -> None:
    server = _context(pki, http=mode)
    server_obj = _memory_handshake(server, _client_context(pki, client_offers))
    assert server_obj.selected_alpn_protocol() == selected
    assert (
        alpn_protocols(mode) == {"auto": ["h2", "http/1.1"], "1": ["http/1.1"], "2": ["h2"]}[mode]
    )


def test_tls_info_of_a_handshake(pki: PKI) -> None:
    server_obj = _memory_handshake(_context(pki), _client_context(pki, ["h2"]))
    info = tls_info(server_obj)
    assert info.version == "TLSv1.3"
    assert info.cipher
    assert info.cipher.startswith("TLS_")
    assert info.alpn_protocol == "h2"
    assert info.server_cert == pki.cert_der
    assert info.client_cert_chain == ()


@pytest.mark.parametrize("key_attr", ["pkcs8_encrypted_key", "traditional_encrypted_key"])
def test_encrypted_keys_with_their_password(pki: PKI, key_attr: str) -> None:
    key = getattr(pki, key_attr)
    config = _config(ssl_cert=pki.cert, ssl_key=key, ssl_key_password=PASSWORD)
    context = build_ssl_context(config)
    assert context is not None
    assert _memory_handshake(context, _client_context(pki)).version() == "TLSv1.3"


def _error(**options: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        build_ssl_context(_config(**options))
    message = str(info.value)
    assert "\n" not in message  # one line
    return message


@pytest.mark.parametrize("key_attr", ["pkcs8_encrypted_key", "traditional_encrypted_key"])
def test_encrypted_key_errors(pki: PKI, key_attr: str) -> None:
    key = getattr(pki, key_attr)
    wrong = _error(ssl_cert=pki.cert, ssl_key=key, ssl_key_password="nope")
    assert wrong == f"Cannot decrypt the SSL key file {key}: wrong password"
    missing = _error(ssl_cert=pki.cert, ssl_key=key)
    assert missing == (
        f"The SSL key file {key} is encrypted: pass its password (--ssl-keyfile-password)"
    )


def test_mismatched_key(pki: PKI) -> None:
    message = _error(ssl_cert=pki.cert, ssl_key=pki.other_key)
    assert message == f"The SSL key file {pki.other_key} does not match the certificate {pki.cert}"


def test_unreadable_or_wrong_files(pki: PKI, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    assert _error(ssl_cert=missing, ssl_key=pki.key).startswith(
        f"Cannot read the SSL certificate file {missing}: "
    )
    assert _error(ssl_cert=pki.cert, ssl_key=missing).startswith(
        f"Cannot read the SSL key file {missing}: "
    )
    assert _error(ssl_cert=pki.key, ssl_key=pki.key) == (
        f"The SSL certificate file {pki.key} holds no PEM certificate"
    )
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    assert _error(ssl_cert=pki.cert, ssl_key=garbage) == (
        f"The SSL key file {garbage} holds no PEM private key"
    )
    pem = pki.cert.read_bytes()
    truncated = tmp_path / "truncated.pem"
    truncated.write_bytes(pem[: pem.index(b"-----END CERTIFICATE-----")])
    assert _error(ssl_cert=truncated, ssl_key=pki.key) == (
        f"The SSL certificate file {truncated} holds a truncated certificate"
    )
    damaged = tmp_path / "damaged.pem"
    damaged.write_bytes(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    assert _error(ssl_cert=damaged, ssl_key=pki.key) == (
        f"Cannot load the SSL certificate {damaged} with the key {pki.key}: "
        "one of them is not valid PEM"
    )


def test_a_key_of_another_type_does_not_match(pki: PKI, tmp_path: Path) -> None:
    # OpenSSL says "no certificate assigned" when the key's type differs from the
    # certificate's (an RSA key for an EC certificate, or the reverse).
    cert_key = serialization.load_pem_private_key(pki.key.read_bytes(), password=None)
    other: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if isinstance(cert_key, rsa.RSAPrivateKey)
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    other_type = tmp_path / "other-type.key"
    other_type.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert _error(ssl_cert=pki.cert, ssl_key=other_type) == (
        f"The SSL key file {other_type} does not match the certificate {pki.cert}"
    )


def test_bad_ca_and_crl_files(pki: PKI, tmp_path: Path) -> None:
    assert _error(ssl_cert=pki.cert, ssl_key=pki.key, ssl_ca=pki.key) == (
        f"The SSL CA file {pki.key} holds no PEM certificate"
    )
    assert _error(
        ssl_cert=pki.cert, ssl_key=pki.key, ssl_ca=pki.ca_file, ssl_crl=[pki.empty_crl, pki.ca_file]
    ) == (f"The SSL CRL file {pki.ca_file} holds no PEM certificate revocation list")
    broken = tmp_path / "broken.crl"
    broken.write_text("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    assert _error(ssl_cert=pki.cert, ssl_key=pki.key, ssl_crl=[broken]).startswith(
        f"Cannot load the SSL CRL file {broken}: "
    )


def test_client_verify_needs_a_ca(pki: PKI) -> None:
    with pytest.raises(ConfigurationError, match="--ssl-ca"):
        build_ssl_context(_config(ssl_cert=pki.cert, ssl_key=pki.key, ssl_client_verify=True))


def test_certificate_needs_a_key(pki: PKI) -> None:
    with pytest.raises(ConfigurationError):
        build_ssl_context(_config(ssl_cert=pki.cert))


# -- real HTTPS connections -------------------------------------------------------------------
def _tls_facts(routes: Routes) -> dict[str, Any]:
    (exchange,) = routes.seen
    tls = exchange.conn.tls
    assert tls is not None
    return {
        "scheme": exchange.conn.scheme,
        "http_version": exchange.http_version,
        "version": tls.version,
        "alpn": tls.alpn_protocol,
        "server_cert": tls.server_cert,
        "client_chain": tls.client_cert_chain,
    }


def test_https_h2_with_httpx(pki: PKI) -> None:
    routes = Routes()
    with (
        serve_h2(routes, ssl_cert=pki.cert, ssl_key=pki.key, http="auto") as srv,
        httpx.Client(http2=True, verify=_client_context(pki)) as client,
    ):
        response = client.post(f"{srv.url}/echo", content=b"secure")
    assert response.http_version == "HTTP/2"
    assert response.content == b"secure"
    assert _tls_facts(routes) == {
        "scheme": "https",
        "http_version": "2",
        "version": "TLSv1.3",
        "alpn": "h2",
        "server_cert": pki.cert_der,
        "client_chain": (),
    }


def test_https_http11_client_gets_http1(pki: PKI) -> None:
    """ALPN "http/1.1" on an ``--http auto`` server hands the connection to HTTP/1."""

    routes = Routes()
    with (
        serve_h2(routes, ssl_cert=pki.cert, ssl_key=pki.key, http="auto") as srv,
        httpx.Client(http2=False, verify=_client_context(pki)) as client,
    ):
        response = client.post(f"{srv.url}/echo", content=b"one-one")
    assert response.http_version == "HTTP/1.1"
    assert response.content == b"one-one"
    facts = _tls_facts(routes)
    assert facts["alpn"] == "http/1.1"
    assert facts["http_version"] == "1.1"
    assert facts["scheme"] == "https"


def test_curl_http2_over_tls(pki: PKI) -> None:
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    features = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout
    assert "HTTP2" in features, "this curl has no HTTP/2 support"
    with serve_h2(ssl_cert=pki.cert, ssl_key=pki.key, http="auto") as srv:
        result = subprocess.run(
            [
                curl,
                "-sS",
                "--http2",
                "--cacert",
                str(pki.ca_file),
                "--data-binary",
                "tls",
                "-w",
                "|%{http_version}",
                f"{srv.url}/echo",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    assert result.stdout == "tls|2"


def test_mutual_tls(pki: PKI) -> None:
    routes = Routes()
    options: dict[str, Any] = {
        "ssl_cert": pki.cert,
        "ssl_key": pki.key,
        "ssl_ca": pki.ca_file,
        "ssl_client_verify": True,
    }
    with serve_h2(routes, **options) as srv:
        anonymous = _client_context(pki, ["h2"])
        with pytest.raises(httpx.TransportError), httpx.Client(http2=True, verify=anonymous) as c:
            c.get(srv.url).raise_for_status()  # the handshake fails: no HTTP error
        authenticated = _client_context(pki, ["h2"])
        authenticated.load_cert_chain(pki.client_cert, pki.client_key)
        with httpx.Client(http2=True, verify=authenticated) as client:
            response = client.get(srv.url)
    assert response.status_code == 200
    chain = _tls_facts(routes)["client_chain"]
    assert chain[0] == pki.client_der


@pytest.mark.parametrize("revoked", [True, False])
def test_crl_rejects_revoked_client_certificates(pki: PKI, revoked: bool) -> None:
    crl = pki.revoking_crl if revoked else pki.empty_crl
    options: dict[str, Any] = {
        "ssl_cert": pki.cert,
        "ssl_key": pki.key,
        "ssl_ca": pki.ca_file,
        "ssl_client_verify": True,
        "ssl_crl": [crl],
    }
    with serve_h2(**options) as srv:
        context = _client_context(pki, ["h2"])
        context.load_cert_chain(pki.client_cert, pki.client_key)
        with httpx.Client(http2=True, verify=context) as client:
            if revoked:
                with pytest.raises(httpx.TransportError):
                    client.get(srv.url).raise_for_status()
            else:
                assert client.get(srv.url).status_code == 200


@pytest.mark.parametrize(("minimum", "accepted"), [("tls1.3", False), ("tls1.2", True)])
def test_minimum_protocol_version(pki: PKI, minimum: str, accepted: bool) -> None:
    with serve_h2(ssl_cert=pki.cert, ssl_key=pki.key, ssl_protocol_min=minimum) as srv:
        context = _client_context(pki, ["h2"])
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(http2=True, verify=context) as client:
            if accepted:
                assert client.get(srv.url).status_code == 200
            else:
                with pytest.raises(httpx.TransportError):
                    client.get(srv.url)


def test_stalled_handshakes_do_not_block_other_connections(pki: PKI) -> None:
    with serve_h2(ssl_cert=pki.cert, ssl_key=pki.key) as srv:
        silent = socket.create_connection(("127.0.0.1", srv.port))  # connects, sends nothing
        partial = socket.create_connection(("127.0.0.1", srv.port))
        partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
        try:
            with httpx.Client(http2=True, verify=_client_context(pki)) as client:
                response = client.get(f"{srv.url}/echo")
        finally:
            silent.close()
            partial.close()
    assert response.status_code == 200


def test_handshake_timeout_closes_a_stalled_client(pki: PKI) -> None:
    with serve_h2(ssl_cert=pki.cert, ssl_key=pki.key, handshake_timeout=0.3) as srv:
        silent = socket.create_connection(("127.0.0.1", srv.port))
        silent.settimeout(10)
        started = time.monotonic()
        try:
            data = silent.recv(1024)
        except ConnectionResetError:
            data = b""
        finally:
            silent.close()
    assert data == b""  # closed by the server
    assert time.monotonic() - started < 10
