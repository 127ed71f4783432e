"""The ASGI ``tls`` extension (asgiref's TLS extension 0.2) of a TLS connection.

The facts never change during a connection, so the extension dict is built once and
then shared by every scope of the connection (and of any connection with identical
facts): the per-request cost is one dict lookup.
"""

from __future__ import annotations

import ssl
from typing import Any

from granian_core.exchange import TLSInfo
from granian_core.tls import (
    PerTLSFacts,
    certificate_subject,
    cipher_suite_number,
    tls_version_number,
)

__all__ = ["tls_extension"]


def _build(tls: TLSInfo) -> dict[str, Any]:
    chain = tls.client_cert_chain
    return {
        "server_cert": ssl.DER_cert_to_PEM_cert(tls.server_cert) if tls.server_cert else None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(cert) for cert in chain],
        "client_cert_name": certificate_subject(chain[0]) if chain else None,
        # The handshake fails on a client certificate that does not verify, so a
        # connection that exists either has a verified one or none.
        "client_cert_error": None,
        "tls_version": tls_version_number(tls.version),
        "cipher_suite": cipher_suite_number(tls.cipher),
    }


#: ``scope["extensions"]["tls"]`` for a connection with these TLS facts.
tls_extension = PerTLSFacts(_build)
