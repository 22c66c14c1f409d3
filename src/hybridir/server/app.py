"""The FastAPI application: search, documents, collection info, health and metrics.

Every handler is a thin adapter over :class:`~hybridir.search.Searcher` and
:class:`~hybridir.collection.Collection`. Searches run in FastAPI's thread pool and read one
generation each (the Searcher's snapshot), so they keep answering while a write commits;
writes to a collection are serialized by a lock (plus the collection's own writer lock
against other processes). Errors are RFC 9457 problem details without stack traces.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hybridir.collection import Collection
from hybridir.config import FusionConfig
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    UnavailableError,
)
from hybridir.search import HYBRID, Searcher, available_lists
from hybridir.server.body import BufferedBody
from hybridir.server.config import NAME, ServerConfig
from hybridir.server.jsonbody import BoundedJSONRoute
from hybridir.server.problems import PROBLEM, ProblemError, problem
from hybridir.types import Document, SearchResult

__all__ = ["PROBLEM", "ProblemError", "check_collections", "create_app", "problem"]

_STATUS: list[tuple[type[HybridirError], int]] = [
    (NotFoundError, 404),
    (InvalidInputError, 422),
    (ConfigError, 400),
    (MissingDependencyError, 501),
    (IndexFormatError, 500),
    (UnavailableError, 503),  # a shard of a sharded collection did not answer in time
    (HybridirError, 409),  # e.g. another process holds the writer lock
]


# -- request bodies -------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """``value`` if every number in it is finite. Why: filters and boosts are free-form
    JSON, so no field type refuses the ``NaN``/``Infinity`` a client may send; a NaN
    condition matches nothing without saying so, and an infinite boost makes scores that
    JSON cannot carry."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"numbers must be finite, got {item}")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


class FusionOverrides(BaseModel):
    """Fusion settings that override the collection's for one search."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: str | None = None
    norm: str | None = None
    alpha: float | None = Field(None, ge=0.0, le=1.0)
    rrf_k: float | None = Field(None, ge=0.0)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    query: str = Field(min_length=1)
    k: int = Field(10, ge=1)
    retriever: Literal["bm25", "splade", "dense", "hybrid"] | None = None
    fusion: FusionOverrides | None = None
    filter: Annotated[dict[str, Any] | None, AfterValidator(_finite)] = None
    boosts: Annotated[list[dict[str, Any]], AfterValidator(_finite)] = Field(default_factory=list)
    explain: bool = True
    rerank: bool | None = None
    allow_partial: bool = False


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(min_length=1)
    upsert: bool = False


# -- state ----------------------------------------------------------------------------------


@dataclass
class Served:
    """One served collection: its handle, searcher and write lock. A sharded collection
    (:class:`hybridir.distributed.cluster.ShardedCollection`) is both handle and searcher."""

    collection: Any  # Collection | ShardedCollection
    searcher: Any  # Searcher | ShardedCollection
    write_lock: threading.Lock


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


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class Keys:
    """API-key checks in constant time (every key compared, fixed-length digests)."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._digests = [_digest(k) for k in sorted(keys)]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def valid(self, given: str | None) -> bool:
        if given is None:
            return False
        probe = _digest(given)
        ok = False
        for digest in self._digests:
            ok |= hmac.compare_digest(probe, digest)
        return ok


# -- the app --------------------------------------------------------------------------------


def create_app(config: ServerConfig) -> FastAPI:
    """Build the service for ``config`` (collections are opened now, so a bad path fails
    at start-up rather than on the first request)."""
    served = {name: _serve(path, config) for name, path in sorted(config.collections.items())}
    keys = Keys(config.api_keys)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        for s in served.values():
            s.collection.close()

    app = FastAPIOffline(  # /docs and /redoc from packaged assets: no CDN, works offline
        title="hybridir",
        description="Hybrid sparse + dense search with per-hit explanations.",
        version=_version(),
        lifespan=lifespan,
        static_url="/static/docs",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.router.route_class = BoundedJSONRoute
    app.state.config = config
    app.state.metrics = metrics
    _install_middleware(app, config, metrics)
    _install_error_handlers(app)

    def reader(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if config.keys_for_reads and not keys.valid(x_api_key):
            raise ProblemError(401, "Unauthorized", "a valid X-API-Key header is required")

    def writer(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if not keys:
            raise ProblemError(
                403, "Forbidden", "writes are disabled: start the server with --api-key-file"
            )
        if not keys.valid(x_api_key):
            raise ProblemError(401, "Unauthorized", "a valid X-API-Key header is required")

    def lookup(name: str) -> Served:
        if not NAME.match(name) or name not in served:
            raise ProblemError(404, "Not Found", f"no collection named {name!r}")
        return served[name]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/collections", dependencies=[Depends(reader)])
    def list_collections() -> dict[str, list[dict[str, Any]]]:
        return {"collections": [_info(n, s) for n, s in served.items()]}

    @app.get("/collections/{name}", dependencies=[Depends(reader)])
    def collection_info(name: str) -> dict[str, Any]:
        s = lookup(name)
        return {**_info(name, s), "config": s.collection.snapshot().config.to_dict()}

    @app.post("/collections/{name}/search", dependencies=[Depends(reader)])
    def search(name: str, body: SearchRequest) -> dict[str, Any]:
        s = lookup(name)
        if body.k > config.max_k:
            raise ProblemError(422, "Unprocessable Content", f"k must be <= {config.max_k}")
        if len(body.query) > config.max_query_chars:
            raise ProblemError(
                422,
                "Unprocessable Content",
                f"query longer than {config.max_query_chars} characters",
            )
        fusion = None
        if body.fusion is not None:
            base = s.collection.snapshot().config.fusion
            changes = {k: v for k, v in body.fusion.model_dump().items() if v is not None}
            fusion = FusionConfig.from_dict(base.to_dict() | changes)
        result: SearchResult = s.searcher.search(
            body.query,
            body.k,
            retriever=body.retriever,
            fusion=fusion,
            rerank=body.rerank,
            explain=body.explain,
            filter=body.filter,
            boosts=body.boosts,
            allow_partial=body.allow_partial,
        )
        return result.to_dict()

    @app.post("/collections/{name}/documents", dependencies=[Depends(writer)])
    def add_documents(name: str, body: DocumentsRequest) -> dict[str, Any]:
        s = lookup(name)
        if len(body.documents) > config.max_batch:
            raise ProblemError(
                422, "Unprocessable Content", f"at most {config.max_batch} documents per request"
            )
        docs = [Document(d.id, d.text, d.title, d.metadata) for d in body.documents]
        with s.write_lock:
            n = s.collection.upsert(docs) if body.upsert else s.collection.add(docs)
        metrics.documents.labels(name).set(len(s.collection))
        return {"written": n, "documents": len(s.collection), "generation": s.collection.generation}

    # ``:path``: ids made from relative file paths hold "/" (docs/a/b.md), raw or as %2F
    @app.get("/collections/{name}/documents/{doc_id:path}", dependencies=[Depends(reader)])
    def get_document(name: str, doc_id: str) -> dict[str, Any]:
        s = lookup(name)
        doc = s.collection.snapshot().get(doc_id)
        return {
            "id": doc.doc_id,
            "title": doc.title,
            "text": doc.text,
            "metadata": dict(doc.metadata),
        }

    @app.delete("/collections/{name}/documents/{doc_id:path}", dependencies=[Depends(writer)])
    def delete_document(name: str, doc_id: str) -> dict[str, Any]:
        s = lookup(name)
        with s.write_lock:
            s.collection.delete([doc_id])
        metrics.documents.labels(name).set(len(s.collection))
        return {"deleted": 1, "documents": len(s.collection), "generation": s.collection.generation}

    @app.get("/metrics", dependencies=[Depends(reader)])
    def prometheus() -> Response:
        for n, s in served.items():
            view = s.collection.snapshot()
            metrics.documents.labels(n).set(len(view))
            metrics.segments.labels(n).set(len(view.manifest.segments))
            metrics.bytes.labels(n).set(_segment_bytes(view.directory, view.manifest))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("hybridir.server").joinpath("static/index.html").read_text("utf-8")

    return app


def check_collections(config: ServerConfig) -> None:
    """Open and close every collection of ``config``: the check :func:`create_app` makes,
    without keeping them open (``hybridir serve --workers N`` runs it before its workers
    open their own).

    Raises:
        HybridirError: a collection is missing, damaged or of another format version.
    """
    for path in config.collections.values():
        _serve(path, config).collection.close()


def _segment_bytes(directory: Any, manifest: Any) -> int:
    total = 0
    for seg in manifest.segments:
        for path in (directory / seg.name).rglob("*"):
            with contextlib.suppress(OSError):  # removed by a merge meanwhile
                total += path.stat().st_size if path.is_file() else 0
    return total


def _serve(path: Path, config: ServerConfig) -> Served:
    """A collection folder as served: a local collection (whose writes wait up to
    ``config.write_wait`` for other writers), or a sharded one on Ray (which answers the
    same calls: ``search``, ``add``/``upsert``/``delete``, ``snapshot``)."""
    from hybridir.distributed.layout import ShardedLayout

    if ShardedLayout.is_sharded(path):
        from hybridir.distributed.cluster import ShardedCollection

        sharded = ShardedCollection(path, address=config.ray_address)
        return Served(sharded, sharded, threading.Lock())
    collection = Collection.open(path, wait=config.write_wait)
    return Served(collection, Searcher(collection), threading.Lock())


def _retrievers(view: Any) -> list[str]:
    """The retrievers a collection can answer with (``hybrid`` when it has two lists)."""
    lists = available_lists(view)
    return [*lists, HYBRID] if len(lists) > 1 else lists


def _info(name: str, s: Served) -> dict[str, Any]:
    view = s.collection.snapshot()
    return {
        "name": name,
        "documents": len(view),
        "generation": view.generation,
        "segments": len(view.manifest.segments),
        "retrievers": _retrievers(view),
        "default_retriever": s.searcher.retriever,
    }


def _version() -> str:
    from hybridir import __version__

    return __version__


def _install_middleware(app: FastAPI, config: ServerConfig, metrics: Metrics) -> None:
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key"],
        )

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        label = getattr(route, "path", "unmatched")
        metrics.requests.labels(label, request.method, str(response.status_code)).inc()
        metrics.latency.labels(label).observe(time.perf_counter() - start)
        return response

    # outermost: bodies are refused (413, 408) before any other layer or handler runs
    app.add_middleware(BufferedBody, limit=config.max_body_bytes, timeout=config.body_timeout)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail)

    @app.exception_handler(HybridirError)
    async def on_library(request: Request, exc: HybridirError) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        title = {404: "Not Found", 422: "Unprocessable Content", 400: "Bad Request"}.get(
            status, "Conflict" if status == 409 else "Error"
        )
        return problem(status, title, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [_validation_message(e) for e in exc.errors()]
        return problem(422, "Unprocessable Content", "; ".join(parts)[:2000])

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        return problem(500, "Internal Server Error", "the server failed; see its log")


def _validation_message(error: Any) -> str:
    """``loc: msg`` of one validation error; for a body that is not JSON, with the parser's
    reason (FastAPI's message alone is "JSON decode error")."""
    where = ".".join(str(p) for p in error["loc"])
    reason = error.get("ctx", {}).get("error") if error["type"] == "json_invalid" else None
    return f"{where}: {error['msg']}" + (f" ({reason})" if reason else "")
