"""An ASGI app for process-model tests: reports its PID, or kills its worker.

``/slow?PATH`` creates the file PATH once the request is inside the app, then sleeps 1 s
(``/slower?PATH``: 3 s).
"""

import asyncio
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/crash":
        os._exit(3)
    if scope["path"] in ("/slow", "/slower"):
        if scope["query_string"]:
            with open(scope["query_string"].decode(), "w"):
                pass
        await asyncio.sleep(1.0 if scope["path"] == "/slow" else 3.0)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
