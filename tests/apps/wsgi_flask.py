"""A small Flask app: routes, a form POST, a file upload and a streamed response."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request, stream_with_context

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "Hello from Flask"


@app.get("/items/<int:item_id>")
def item(item_id: int) -> Response:
    return jsonify(id=item_id, q=request.args.get("q"), path=request.path)


@app.post("/form")
def form() -> Response:
    return jsonify(fields=request.form.to_dict(flat=False))


@app.post("/upload")
def upload() -> Response:
    uploaded = request.files["file"]
    data = uploaded.read()
    return jsonify(
        filename=uploaded.filename,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        note=request.form.get("note"),
    )


@app.get("/stream")
def stream() -> Response:
    count = int(request.args.get("n", "5"))

    def generate() -> Iterator[str]:
        for index in range(count):
            yield f"event {index}\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.get("/fail")
def fail() -> str:
    raise RuntimeError("unhandled in a view")
