"""Hypercorn settings the CLI cannot set (loaded with ``-c file:...``).

Hypercorn closes a connection after 1,000 requests by default (GOAWAY on HTTP/2, which
h2load does not recover from); no other server here does, so the limit is lifted.
"""

keep_alive_max_requests = 1_000_000_000
