"""The workloads: what is requested, how (wrk, h2load, WebSocket or idle-connection client),
and which interfaces run it."""

from __future__ import annotations

from dataclasses import dataclass

ALL_INTERFACES = ("asgi", "rsgi", "wsgi")


@dataclass(frozen=True)
class Workload:
    name: str
    driver: str  # "wrk" | "h2load" | "ws" | "rss"
    description: str
    path: str = "/hello"
    connections: int = 64
    body_size: int = 0  # > 0: POST a body of that size
    expect_length: int = 13  # body length of a correct response (checked before measuring)
    streams: int = 1  # h2load concurrent streams per connection
    interfaces: tuple[str, ...] = ALL_INTERFACES
    fresh_server: bool = False  # run on a server started for it alone

    @property
    def unit(self) -> str:
        return {"ws": "msg/s", "rss": "MiB"}.get(self.driver, "req/s")

    @property
    def higher_is_better(self) -> bool:
        return self.driver != "rss"


WORKLOADS: tuple[Workload, ...] = (
    Workload("hello", "wrk", "GET, 13 B body", interfaces=(*ALL_INTERFACES, "raw")),
    Workload("get-10k", "wrk", "GET, 10 KiB body", path="/10k", expect_length=10 * 1024),
    Workload(
        "post-1k", "wrk", "POST 1 KiB, echoed", path="/echo", body_size=1024, expect_length=1024
    ),
    Workload(
        "post-100k-stream",
        "wrk",
        "POST 100 KiB, echoed chunk by chunk",
        path="/stream-echo",
        body_size=100 * 1024,
        expect_length=100 * 1024,
        connections=16,
    ),
    Workload("get-1m", "wrk", "GET, 1 MiB body", path="/1m", expect_length=1 << 20, connections=16),
    Workload("file-50k", "wrk", "GET a 50 KiB file", path="/file50k", expect_length=50 * 1024),
    Workload(
        "sleep-10ms", "wrk", "app sleeps 10 ms, 512 connections", path="/sleep10ms", connections=512
    ),
    Workload("h2c-1", "h2load", "h2c GET hello, 1 conn x 16 streams", connections=1, streams=16),
    Workload("h2c-16", "h2load", "h2c GET hello, 16 conns x 4 streams", connections=16, streams=4),
    Workload(
        "ws-echo",
        "ws",
        "WebSocket echo, 16 B messages, 2x8 clients",
        connections=8,
        interfaces=("asgi", "rsgi"),
    ),
    Workload(
        "rss-10k-idle",
        "rss",
        "worker RSS holding 10k idle keep-alive conns",
        connections=10_000,
        fresh_server=True,
    ),
)

BY_NAME = {workload.name: workload for workload in WORKLOADS}
