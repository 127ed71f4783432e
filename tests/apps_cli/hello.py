"""An ASGI app answering ``hello``; ``GET /env/NAME`` answers the env var NAME."""

from __future__ import annotations

import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    body = b"hello"
    if path.startswith("/env/"):
        body = os.environ.get(path[len("/env/") :], "-").encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Holder:
    """For dotted attribute targets: ``tests.apps_cli.hello:holder.app``."""

    app = staticmethod(app)


holder = Holder()


def create_app() -> Any:
    """A factory: ``--factory tests.apps_cli.hello:create_app``."""
    return app
