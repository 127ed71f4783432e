"""TLS: the server ``SSLContext`` built from the ``ssl_*`` options, and per-connection facts.

``build_ssl_context`` runs in the main process before any worker starts, so an
unusable certificate, key, CA or CRL stops the server with one line naming the
file (a :class:`ConfigurationError`). Workers build their own context the same
way (an ``SSLContext`` cannot be pickled to a spawned process).

``connection_info`` reads a connection's :class:`TLSInfo` once, after the handshake;
both HTTP/1 and HTTP/2 use it. The last section turns those facts into the standard
encodings interface adapters publish (IANA numbers, RFC 4514 names).
"""

from __future__ import annotations

import contextlib
import functools
import re
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from .caches import remember
from .errors import ConfigurationError
from .exchange import ConnectionInfo, TLSInfo

if TYPE_CHECKING:
    import asyncio

    from .config import ServerConfig

__all__ = [
    "TLS_HANDSHAKE_TIMEOUT",
    "PerTLSFacts",
    "ServerSSLContext",
    "alpn_protocols",
    "build_ssl_context",
    "certificate_issuer",
    "certificate_subject",
    "cipher_suite_number",
    "connection_info",
    "tls_info",
    "tls_version_number",
]

_T = TypeVar("_T")


class PerTLSFacts(Generic[_T]):
    """``build(tls)`` computed once per distinct TLS facts, in a bounded cache.

    What an adapter derives from a connection's TLS facts (a scope extension, environ
    keys) never changes during the connection; without client certificates every
    connection of a worker even shares one entry, with mTLS there is one per client
    certificate. Safe from several threads: single dict operations are atomic, and two
    threads building the same entry build equal ones. Callers must not mutate results.
    """

    def __init__(self, build: Callable[[TLSInfo], _T], limit: int = 1024) -> None:
        self._build = build
        self._limit = limit
        self._cache: dict[TLSInfo, _T] = {}

    def __call__(self, tls: TLSInfo) -> _T:
        value = self._cache.get(tls)
        if value is None:
            # Many client certificates are rare: starting over keeps the table bounded.
            value = remember(self._cache, tls, self._build(tls), self._limit)
        return value


#: Seconds a client gets to complete the TLS handshake (asyncio runs each handshake
#: on its own, so a stalled one only ever holds its own connection).
TLS_HANDSHAKE_TIMEOUT = 10.0

_MIN_VERSIONS = {"tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}
_ALPN = {"auto": ["h2", "http/1.1"], "1": ["http/1.1"], "2": ["h2"]}
_ENCRYPTED_KEY_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")
_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"
_CERT_END_MARKER = b"-----END CERTIFICATE-----"
#: Ends every PEM key header: PRIVATE, RSA/EC PRIVATE, ENCRYPTED PRIVATE.
_KEY_MARKER = b"PRIVATE KEY-----"
#: Where OpenSSL's message says it came from ("(_ssl.c:3926)"): noise for a user.
_SOURCE_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)")
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
    """OpenSSL's reason code in words ("PEM_LIB" → "pem lib"), else its message."""
    if exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return _SOURCE_LOCATION.sub("", str(exc.strerror or exc))


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path, password: str | None) -> bytes:
    cert_pem = _read(cert, "SSL certificate file")
    key_pem = _read(key, "SSL key file")
    if _CERT_MARKER not in cert_pem:
        raise ConfigurationError(f"The SSL certificate file {cert} holds no PEM certificate")
    if cert_pem.count(_CERT_MARKER) != cert_pem.count(_CERT_END_MARKER):
        raise ConfigurationError(f"The SSL certificate file {cert} holds a truncated certificate")
    if _KEY_MARKER not in key_pem:
        raise ConfigurationError(f"The SSL key file {key} holds no PEM private key")
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
    end = cert_pem.index(_CERT_END_MARKER, first) + len(_CERT_END_MARKER)
    return ssl.PEM_cert_to_DER_cert(cert_pem[first:end].decode("ascii"))


def _chain_error(exc: ssl.SSLError, cert: Path, key: Path, encrypted: bool) -> str:
    reason = _reason(exc)
    words = reason.lower()
    if "mismatch" in words or "no certificate assigned" in words:  # or a key of another type
        return f"The SSL key file {key} does not match the certificate {cert}"
    if encrypted and ("decrypt" in words or "pem lib" in words or "bad password" in words):
        return f"Cannot decrypt the SSL key file {key}: wrong password"
    if "pem lib" in words:  # OpenSSL could not decode one of the two
        reason = "one of them is not valid PEM"
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
    peer = ssl_object.getpeercert(binary_form=True)
    return TLSInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn_protocol=ssl_object.selected_alpn_protocol(),
        server_cert=getattr(ssl_object.context, "server_cert_der", None),
        client_cert_chain=_client_chain(ssl_object, peer) if peer else (),
    )


def _client_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket, leaf: bytes) -> tuple[bytes, ...]:
    """The certificates the client sent, leaf first (only the leaf before Python 3.13)."""
    sent = getattr(ssl_object, "get_unverified_chain", None)
    chain = sent() if sent is not None else None
    # Trust only the documented shape (DER bytes, the leaf first); else report the leaf.
    if chain and all(isinstance(cert, bytes) for cert in chain) and chain[0] == leaf:
        return tuple(chain)
    return (leaf,)


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


# -- the facts in the encodings applications expect ----------------------------------------
#: ``SSLObject.version()`` → the protocol version number on the wire.
_TLS_VERSION_NUMBERS = {
    "SSLv3": 0x0300,
    "TLSv1": 0x0301,
    "TLSv1.1": 0x0302,
    "TLSv1.2": 0x0303,
    "TLSv1.3": 0x0304,
}


def tls_version_number(version: str | None) -> int | None:
    """``"TLSv1.3"`` → ``0x0304``; None when unknown."""
    return _TLS_VERSION_NUMBERS.get(version) if version is not None else None


def cipher_suite_number(cipher: str | None) -> int | None:
    """An OpenSSL cipher name → its 16-bit IANA number (``TLS_AES_128_GCM_SHA256`` → 0x1301)."""
    return _cipher_suite_numbers().get(cipher) if cipher is not None else None


@functools.cache
def _cipher_suite_numbers() -> dict[str, int]:
    # OpenSSL ids are 0x0300XXXX: the low 16 bits are the IANA number. Every suite the
    # library knows is listed, not just the defaults, whatever the server context allows.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with contextlib.suppress(ssl.SSLError):  # a library without these keywords: its defaults
        context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}


def certificate_subject(der: bytes) -> str | None:
    """The subject of a DER certificate as an RFC 4514 string; None if it cannot be read."""
    names = _certificate_names(der)
    return names[1] if names is not None else None


def certificate_issuer(der: bytes) -> str | None:
    """The issuer of a DER certificate as an RFC 4514 string; None if it cannot be read."""
    names = _certificate_names(der)
    return names[0] if names is not None else None


# A DER element is (tag, start of its content, end of its content) within the certificate.
_Element = tuple[int, int, int]

_SEQUENCE = 0x30
_SET = 0x31
_OID = 0x06
_EXPLICIT_VERSION = 0xA0

#: RFC 4514 §3 short names, plus two registered ones (RFC 3039/PKCS #9) common in client certs.
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}

#: ASN.1 string tags → codec. Other value types are written as ``#`` + hex of their DER.
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString (as OpenSSL reads it)
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}

_ESCAPED = frozenset('"+,;<>\\')


@functools.lru_cache(maxsize=256)
def _certificate_names(der: bytes) -> tuple[str, str] | None:
    """``(issuer, subject)`` of a certificate, read from its TBSCertificate (RFC 5280 §4.1)."""
    try:
        _, cert_start, cert_end = _element(der, 0, len(der))
        _, tbs_start, tbs_end = _element(der, cert_start, cert_end)
        fields = list(_children(der, tbs_start, tbs_end))
        if fields and fields[0][0] == _EXPLICIT_VERSION:
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject
        issuer, subject = fields[2], fields[4]
        return _distinguished_name(der, issuer), _distinguished_name(der, subject)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _element(data: bytes, offset: int, limit: int) -> _Element:
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used by X.509 names")
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[offset : offset + size], "big")
        offset += size
    end = offset + length
    if end > limit:
        raise ValueError("DER element overruns its parent")
    return tag, offset, end


def _children(data: bytes, start: int, end: int) -> list[_Element]:
    children = []
    while start < end:
        child = _element(data, start, end)
        children.append(child)
        start = child[2]
    return children


def _distinguished_name(data: bytes, name: _Element) -> str:
    tag, start, end = name
    if tag != _SEQUENCE:
        raise ValueError("a Name is a SEQUENCE")
    rdns = []
    for rdn_tag, rdn_start, rdn_end in _children(data, start, end):
        if rdn_tag != _SET:
            raise ValueError("an RDN is a SET")
        pairs = [_attribute(data, pair) for pair in _children(data, rdn_start, rdn_end)]
        rdns.append("+".join(pairs))
    return ",".join(reversed(rdns))  # RFC 4514: the last RDN of the sequence comes first


def _attribute(data: bytes, pair: _Element) -> str:
    _, start, end = pair
    oid, value = _children(data, start, end)
    if oid[0] != _OID:
        raise ValueError("an attribute type is an OID")
    dotted = _dotted_oid(data[oid[1] : oid[2]])
    short = _SHORT_NAMES.get(dotted)
    codec = _STRING_CODECS.get(value[0])
    if short is None or codec is None:
        # RFC 4514 §2.4: an unnamed type or a non-string value is ``#`` + the hex of its
        # whole DER element, which starts right where the OID element ends.
        return f"{short or dotted}=#{data[oid[2] : value[2]].hex()}"
    return f"{short}={_escape(data[value[1] : value[2]].decode(codec))}"


def _dotted_oid(body: bytes) -> str:
    if not body:
        raise ValueError("empty OID")
    arcs: list[int] = []
    current = 0
    for byte in body:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, (first, arcs[0] - 40 * first, *arcs[1:])))


def _escape(value: str) -> str:
    """RFC 4514 §2.4 escaping of an attribute value."""
    out = [f"\\{char}" if char in _ESCAPED else "\\00" if char == "\0" else char for char in value]
    if out and out[0] in (" ", "#"):
        out[0] = "\\" + out[0]
    if out and out[-1] == " ":
        out[-1] = "\\ "
    return "".join(out)
