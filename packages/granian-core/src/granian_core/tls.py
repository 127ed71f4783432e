"""TLS: the server ``SSLContext`` built from the ``ssl_*`` options, and per-connection facts.

``build_ssl_context`` runs in the main process before any worker starts, so an
unusable certificate, key, CA or CRL stops the server with one line naming the
file (a :class:`ConfigurationError`). Workers build their own context the same
way (an ``SSLContext`` cannot be pickled to a spawned process).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigurationError
from .exchange import ConnectionInfo, TLSInfo

if TYPE_CHECKING:
    import asyncio

    from .config import ServerConfig

__all__ = [
    "TLS_HANDSHAKE_TIMEOUT",
    "ServerSSLContext",
    "alpn_protocols",
    "build_ssl_context",
    "connection_info",
    "tls_info",
]

#: Seconds a client gets to complete the TLS handshake (asyncio runs each handshake
#: on its own, so a stalled one only ever holds its own connection).
TLS_HANDSHAKE_TIMEOUT = 10.0

_MIN_VERSIONS = {"tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}
_ALPN = {"auto": ["h2", "http/1.1"], "1": ["http/1.1"], "2": ["h2"]}
_ENCRYPTED_KEY_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")
_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"
_CRL_MARKER = b"-----BEGIN X509 CRL-----"


class ServerSSLContext(ssl.SSLContext):
    """An ``SSLContext`` that also remembers the server certificate (DER) for ``TLSInfo``."""

    server_cert_der: bytes | None = None


def alpn_protocols(http_mode: str) -> list[str]:
    """ALPN protocols offered for ``--http`` (auto: h2 first, then http/1.1)."""
    return list(_ALPN[http_mode])


def build_ssl_context(config: ServerConfig) -> ServerSSLContext | None:
    """The server context for ``config``, or None when TLS is not configured."""
    cert, key = config.ssl_cert, config.ssl_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        missing = "--ssl-certificate" if cert is None else "--ssl-keyfile"
        raise ConfigurationError(f"TLS needs both a certificate and a key: {missing} is missing")
    if config.ssl_client_verify and config.ssl_ca is None:
        raise ConfigurationError("--ssl-client-verify needs --ssl-ca (the CA to verify clients)")
    context = ServerSSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.options |= ssl.OP_NO_COMPRESSION
    context.minimum_version = _MIN_VERSIONS[config.ssl_protocol_min]
    context.server_cert_der = _load_chain(context, Path(cert), Path(key), config.ssl_key_password)
    if config.ssl_ca is not None:
        _load_ca(context, Path(config.ssl_ca))
        # Without --ssl-client-verify a CA still lets clients present a certificate.
        context.verify_mode = ssl.CERT_REQUIRED if config.ssl_client_verify else ssl.CERT_OPTIONAL
    for crl in config.ssl_crl or ():
        _load_crl(context, Path(crl))
    if config.ssl_crl:
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    context.set_alpn_protocols(alpn_protocols(config.http))
    return context


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the {what} {path}: {exc.strerror}") from None


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc).replace("_", " ").lower()


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path, password: str | None) -> bytes:
    cert_pem = _read(cert, "SSL certificate file")
    key_pem = _read(key, "SSL key file")
    if _CERT_MARKER not in cert_pem:
        raise ConfigurationError(f"The SSL certificate file {cert} holds no PEM certificate")
    encrypted = any(marker in key_pem for marker in _ENCRYPTED_KEY_MARKERS)
    if encrypted and password is None:
        raise ConfigurationError(
            f"The SSL key file {key} is encrypted: pass its password (--ssl-keyfile-password)"
        )
    try:
        # A callable, never None: OpenSSL would otherwise prompt on the terminal.
        context.load_cert_chain(cert, key, password=(password or "").encode)
    except ssl.SSLError as exc:
        raise ConfigurationError(_chain_error(exc, cert, key, encrypted)) from None
    first = cert_pem.index(_CERT_MARKER)
    end_marker = b"-----END CERTIFICATE-----"
    end = cert_pem.index(end_marker, first) + len(end_marker)
    return ssl.PEM_cert_to_DER_cert(cert_pem[first:end].decode("ascii"))


def _chain_error(exc: ssl.SSLError, cert: Path, key: Path, encrypted: bool) -> str:
    reason = _reason(exc)
    if "mismatch" in reason:
        return f"The SSL key file {key} does not match the certificate {cert}"
    if encrypted and ("decrypt" in reason or "pem lib" in reason or "bad password" in reason):
        return f"Cannot decrypt the SSL key file {key}: wrong password"
    return f"Cannot load the SSL certificate {cert} with the key {key}: {reason}"


def _load_ca(context: ssl.SSLContext, ca: Path) -> None:
    pem = _read(ca, "SSL CA file")
    if _CERT_MARKER not in pem:
        raise ConfigurationError(f"The SSL CA file {ca} holds no PEM certificate")
    try:
        context.load_verify_locations(cafile=str(ca))
    except ssl.SSLError as exc:
        raise ConfigurationError(f"Cannot load the SSL CA file {ca}: {_reason(exc)}") from None


def _load_crl(context: ssl.SSLContext, crl: Path) -> None:
    pem = _read(crl, "SSL CRL file")
    if _CRL_MARKER not in pem:
        raise ConfigurationError(f"The SSL CRL file {crl} holds no PEM certificate revocation list")
    try:
        context.load_verify_locations(cafile=str(crl))
    except ssl.SSLError as exc:
        raise ConfigurationError(f"Cannot load the SSL CRL file {crl}: {_reason(exc)}") from None


# -- per connection -------------------------------------------------------------------------
def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> TLSInfo:
    """The TLS facts of an established connection."""
    cipher = ssl_object.cipher()
    context = ssl_object.context
    peer = ssl_object.getpeercert(binary_form=True)
    chain: tuple[bytes, ...] = (peer,) if peer else ()
    verified_chain = getattr(ssl_object, "get_verified_chain", None)  # Python >= 3.13
    if peer and verified_chain is not None:
        # Leaf first; the chain ends with the CA the server trusts.
        chain = tuple(cert for cert in verified_chain() if isinstance(cert, bytes)) or chain
    return TLSInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn_protocol=ssl_object.selected_alpn_protocol(),
        server_cert=getattr(context, "server_cert_der", None),
        client_cert_chain=chain,
    )


def connection_info(transport: asyncio.BaseTransport) -> ConnectionInfo:
    """``ConnectionInfo`` from a transport: addresses, scheme and TLS facts."""
    ssl_object = transport.get_extra_info("ssl_object")
    scheme = "https" if ssl_object is not None else "http"
    tls = tls_info(ssl_object) if ssl_object is not None else None
    local = transport.get_extra_info("sockname")
    if isinstance(local, (str, bytes)):  # AF_UNIX: the socket path
        path = local if isinstance(local, str) else local.decode(errors="replace")
        return ConnectionInfo(None, (path, 0), scheme, unix_path=path, tls=tls)
    return ConnectionInfo(
        _address(transport.get_extra_info("peername")), _address(local), scheme, tls=tls
    )


def _address(address: object) -> tuple[str, int] | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return None
