"""Prometheus metrics of one app, and the middleware that counts and times its requests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "measure"]


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


async def measure(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: count each request by route template, method and status, and time it
    (into the metrics of the app serving it)."""
    metrics: Metrics = request.app.state.metrics
    start = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    label = getattr(route, "path", "unmatched")
    metrics.requests.labels(label, request.method, str(response.status_code)).inc()
    metrics.latency.labels(label).observe(time.perf_counter() - start)
    return response
