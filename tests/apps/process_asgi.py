"""An ASGI app for process-model tests: reports its PID, or kills its worker.

``/slow?PATH`` creates the file PATH once the request is inside the app, then sleeps 1 s
(``/slower?PATH``: 3 s; ``/stuck?PATH``: 60 s).
"""

import asyncio
import os

_SLEEPS = {"/slow": 1.0, "/slower": 3.0, "/stuck": 60.0}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/crash":
        os._exit(3)
    if scope["path"] in _SLEEPS:
        if scope["query_string"]:
            with open(scope["query_string"].decode(), "w"):
                pass
        await asyncio.sleep(_SLEEPS[scope["path"]])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
