"""Prometheus metrics of one app, and the middleware that counts and times its requests."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Measured", "Metrics"]


class Metrics:
    """Prometheus metrics of one app (its own registry, so apps do not share counters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hybridir_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hybridir_request_seconds", "Request latency", ["route"], registry=self.registry
        )
        self.documents = Gauge(
            "hybridir_collection_documents",
            "Live documents",
            ["collection"],
            registry=self.registry,
        )
        self.segments = Gauge(
            "hybridir_collection_segments", "Segments", ["collection"], registry=self.registry
        )
        self.bytes = Gauge(
            "hybridir_collection_bytes",
            "Bytes of segment files",
            ["collection"],
            registry=self.registry,
        )

    def observe(self, name: str, view: Any) -> None:
        """Set the gauges of collection ``name`` from ``view``, a ``snapshot()`` of it (local
        or sharded: ``Any`` like :class:`~hybridir.server.served.Served`'s handle)."""
        self.documents.labels(name).set(len(view))
        self.segments.labels(name).set(len(view.manifest.segments))
        self.bytes.labels(name).set(_segment_bytes(view))


def _segment_bytes(view: Any) -> int:
    total = 0
    for seg in view.manifest.segments:
        for path in (view.directory / seg.name).rglob("*"):
            with contextlib.suppress(OSError):  # removed by a merge meanwhile
                total += path.stat().st_size if path.is_file() else 0
    return total


class Measured:
    """ASGI middleware: count each request by route template, method and status, and time it
    to its last byte (into ``metrics``); a request whose handler raised counts as a 500.

    Why plain ASGI, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
    the rest of the app in a task of its own and streams the response through a memory
    channel, which cost a search request more than its metrics are worth.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            label = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(label, scope["method"], str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - start)
