"""A Starlette app covering routes, JSON, bodies, streaming, files, background tasks, lifespan."""

from __future__ import annotations

import contextlib
import json
import queue
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

background_done: queue.Queue[str] = queue.Queue()


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    yield {"db": "connected"}


async def home(request: Request) -> Response:
    return PlainTextResponse("home")


async def user(request: Request) -> Response:
    return JSONResponse(
        {"id": int(request.path_params["user_id"]), "q": request.query_params.get("q")}
    )


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type", "text/plain"))


async def post_json(request: Request) -> Response:
    data = await request.json()
    return JSONResponse({"received": data, "keys": sorted(data)})


async def post_form(request: Request) -> Response:
    # python-multipart is not a test dependency: decode the urlencoded body ourselves.
    fields = parse_qs((await request.body()).decode())
    return JSONResponse({key: values[0] for key, values in fields.items()})


async def stream(request: Request) -> Response:
    async def numbers() -> AsyncIterator[bytes]:
        for index in range(10):
            yield json.dumps({"n": index}).encode() + b"\n"

    return StreamingResponse(numbers(), media_type="application/x-ndjson")


async def file(request: Request) -> Response:
    # Starlette answers with ``http.response.pathsend`` when the server offers it.
    return FileResponse(request.query_params["path"], media_type="application/octet-stream")


async def background(request: Request) -> Response:
    task = BackgroundTask(background_done.put, request.query_params.get("tag", "done"))
    return PlainTextResponse("accepted", status_code=202, background=task)


async def state(request: Request) -> Response:
    return PlainTextResponse(request.state.db)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/users/{user_id:int}", user),
        Route("/echo", echo, methods=["POST"]),
        Route("/json", post_json, methods=["POST"]),
        Route("/form", post_form, methods=["POST"]),
        Route("/stream", stream),
        Route("/file", file),
        Route("/background", background),
        Route("/state", state),
    ],
    lifespan=lifespan,
)
