"""One request with a plain client before measuring: a server that answers wrongly (an
error page, a truncated body) must show "n/a", not a high req/s."""

from __future__ import annotations

import http.client

from .paths import HOST
from .results import WorkloadFailed
from .workloads import Workload


def check_response(port: int, workload: Workload) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    body = b"b" * workload.body_size
    method = "POST" if workload.body_size else "GET"
    try:
        conn.request(method, workload.path, body=body or None)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise WorkloadFailed(f"probe failed: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if response.status != 200 or len(data) != workload.expect_length:
        raise WorkloadFailed(
            f"probe: status {response.status}, {len(data)} B (want 200, {workload.expect_length} B)"
        )
    if body and data != body:
        raise WorkloadFailed("probe: the echoed body differs from the request body")
