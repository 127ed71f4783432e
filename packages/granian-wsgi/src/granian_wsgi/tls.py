"""The mod_ssl-style ``environ`` keys (``HTTPS``, ``SSL_*``) of a TLS connection.

The keys depend only on the connection's TLS facts, so they are built once per
distinct facts and then merged into every request's environ of that connection.
"""

from __future__ import annotations

import ssl

from granian_core.exchange import TLSInfo
from granian_core.tls import PerTLSFacts, certificate_issuer, certificate_subject

__all__ = ["ssl_environ"]


def _build(tls: TLSInfo) -> dict[str, str]:
    keys = {"HTTPS": "on"}
    if tls.version is not None:
        keys["SSL_PROTOCOL"] = tls.version
    if tls.cipher is not None:
        keys["SSL_CIPHER"] = tls.cipher
    if tls.server_cert:
        keys["SSL_SERVER_CERT"] = ssl.DER_cert_to_PEM_cert(tls.server_cert)
    keys.update(_client_keys(tls.client_cert_chain))
    return keys


def _client_keys(chain: tuple[bytes, ...]) -> dict[str, str]:
    if not chain:
        return {"SSL_CLIENT_VERIFY": "NONE"}
    leaf = chain[0]
    # The handshake fails on a client certificate that does not verify: one we see passed.
    keys = {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": ssl.DER_cert_to_PEM_cert(leaf)}
    subject, issuer = certificate_subject(leaf), certificate_issuer(leaf)
    if subject is not None:
        keys["SSL_CLIENT_S_DN"] = subject
    if issuer is not None:
        keys["SSL_CLIENT_I_DN"] = issuer
    for index, cert in enumerate(chain[1:]):
        keys[f"SSL_CLIENT_CERT_CHAIN_{index}"] = ssl.DER_cert_to_PEM_cert(cert)
    return keys


#: The TLS keys for a connection with these facts (never mutate the result).
ssl_environ = PerTLSFacts(_build)
