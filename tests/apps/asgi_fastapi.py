"""A FastAPI app covering path/query params, pydantic bodies, errors, streaming, background."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import AsyncIterator

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

background_done: queue.Queue[str] = queue.Queue()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, int]]:
    yield {"answer": 42}


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
    if item_id == 0:
        raise HTTPException(status_code=404, detail="no item zero")
    return {"item_id": item_id, "q": q}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict[str, object]:
    return {"name": item.name, "total": item.price * 2, "tags": item.tags}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for index in range(5):
            yield f"part-{index}\n".encode()

    return StreamingResponse(parts(), media_type="text/plain")


@app.post("/notify", status_code=202)
async def notify(tag: str, tasks: BackgroundTasks) -> dict[str, str]:
    tasks.add_task(background_done.put, tag)
    return {"queued": tag}


@app.get("/state")
async def state(request: Request) -> dict[str, int]:
    return {"answer": request.state.answer}
