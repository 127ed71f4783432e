"""Which peers may speak for a client: the ``trusted_hosts`` rules.

``*`` alone trusts everyone (with or without a peer address: a Unix socket has
none); otherwise each entry is an IP network in CIDR form, an IP address, or any
other string matched literally (a Unix socket path, a name).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["TrustedHosts"]

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedHosts:
    """A parsed ``trusted_hosts`` value; ``host in trusted`` tells whether to trust ``host``."""

    __slots__ = ("addresses", "literals", "networks", "trust_all")

    def __init__(self, trusted_hosts: str | Iterable[str]) -> None:
        entries = _split(trusted_hosts) if isinstance(trusted_hosts, str) else list(trusted_hosts)
        self.addresses: set[_IPAddress] = set()
        self.networks: list[_IPNetwork] = []
        self.literals: set[str] = set()
        # Only "*" on its own trusts everyone, as in Granian: beside other entries it is
        # a literal (trusting no one more), so a list cannot open up by accident.
        self.trust_all = entries == ["*"]
        if self.trust_all:
            return
        for entry in entries:
            self._add(entry.strip())

    def _add(self, entry: str) -> None:
        try:
            if "/" in entry:
                # Strict: "10.0.0.1/8" (host bits set) is no network, so it stays a literal.
                self.networks.append(ipaddress.ip_network(entry))
            else:
                self.addresses.add(ipaddress.ip_address(entry))
        except ValueError:
            self.literals.add(entry)

    def __contains__(self, host: object) -> bool:
        if self.trust_all:
            return True
        if not host or not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        if address in self.addresses:
            return True
        return any(address in network for network in self.networks)

    def client_host(self, forwarded_for: str) -> str:
        """The client named by an ``X-Forwarded-For`` value.

        Walks the proxy chain from the nearest hop back and stops at the first
        host not trusted: entries left of it could have been forged by it.
        """
        hosts = _split(forwarded_for)
        if self.trust_all:
            return hosts[0]
        for host in reversed(hosts):
            if host not in self:
                return host
        return hosts[0]


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",")]
