"""An ASGI app for the memory monitor: reports its PID and RSS, and grows on request.

``GET /`` → the worker's PID; ``GET /rss`` → its resident memory in bytes (Linux);
``GET /grow/N`` → keeps N more MiB resident, then answers the PID.
"""

import os

_kept: list[bytes] = []
_MIB = 1024 * 1024


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = str(os.getpid())
    if path == "/rss":
        body = str(_rss())
    elif path.startswith("/grow/"):
        # bytes * n writes every page, so the memory is resident (bytearray(n) may not be).
        _kept.append(b"x" * (int(path[len("/grow/") :]) * _MIB))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})
