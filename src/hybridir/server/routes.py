"""The HTTP API's routes: thin adapters over :class:`~hybridir.search.Searcher` and
:class:`~hybridir.collection.Collection`.

Each handler takes what it needs from the app serving it through the dependencies of
:mod:`hybridir.server.deps`. Handlers are plain functions, so FastAPI runs them in its thread
pool, except search, which runs a model-free search on the event loop itself and the rest in
the pool (:meth:`~hybridir.server.served.Served.searches_inline`). A search reads one
generation (the Searcher's snapshot) and keeps answering while a write commits; writes to a
collection are serialized by its lock (plus the collection's own writer lock against other
processes).
"""

from __future__ import annotations

from functools import partial
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hybridir.config import DiversifyConfig, FusionConfig
from hybridir.content import DEFAULT_FIELDS
from hybridir.search import HYBRID
from hybridir.server.deps import ConfigDep, MetricsDep, ServedDep, lookup, reader, writer
from hybridir.server.jsonbody import BoundedJSONRoute
from hybridir.server.problems import ProblemError
from hybridir.server.schemas import DiversifyIn, DocumentsRequest, SearchRequest
from hybridir.server.served import Served
from hybridir.types import Document, SearchResult

__all__ = ["router"]

router = APIRouter(route_class=BoundedJSONRoute)
"""Every route of the API, in the order the OpenAPI document lists them."""


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/collections", dependencies=[Depends(reader)])
def list_collections(served: ServedDep) -> dict[str, list[dict[str, Any]]]:
    return {"collections": [_info(n, s) for n, s in served.items()]}


@router.get("/collections/{name}", dependencies=[Depends(reader)])
def collection_info(name: str, served: ServedDep) -> dict[str, Any]:
    s = lookup(served, name)
    return {**_info(name, s), "config": s.collection.snapshot().config.to_dict()}


@router.post("/collections/{name}/search", dependencies=[Depends(reader)])
async def search(
    name: str, body: SearchRequest, served: ServedDep, config: ConfigDep
) -> dict[str, Any]:
    s = lookup(served, name)
    if body.k > config.max_k:
        raise ProblemError(422, "Unprocessable Content", f"k must be <= {config.max_k}")
    if len(body.query) > config.max_query_chars:
        raise ProblemError(
            422,
            "Unprocessable Content",
            f"query longer than {config.max_query_chars} characters",
        )
    run = partial(_search, s, body)
    if s.searches_inline(body.rerank):  # see Served.searches_inline
        return run()
    return await run_in_threadpool(run)


def _search(s: Served, body: SearchRequest) -> dict[str, Any]:
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
        filters=body.filter,
        boosts=body.boosts,
        allow_partial=body.allow_partial,
        fields=DEFAULT_FIELDS if body.fields is None else body.fields,
        group_by=body.group_by,
        diversify=_diversify(body.diversify),
    )
    return result.to_dict()


def _diversify(asked: DiversifyIn | bool | None) -> DiversifyConfig | bool | None:
    if isinstance(asked, DiversifyIn):
        return DiversifyConfig(asked.method, asked.lambda_, asked.depth)
    return asked


@router.post("/collections/{name}/documents", dependencies=[Depends(writer)])
def add_documents(
    name: str, body: DocumentsRequest, served: ServedDep, config: ConfigDep, metrics: MetricsDep
) -> dict[str, Any]:
    s = lookup(served, name)
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
@router.get("/collections/{name}/documents/{doc_id:path}", dependencies=[Depends(reader)])
def get_document(name: str, doc_id: str, served: ServedDep) -> dict[str, Any]:
    (doc,) = lookup(served, name).collection.snapshot().documents([doc_id])
    return {
        "id": doc.doc_id,
        "title": doc.title,
        "text": doc.text,
        "metadata": dict(doc.metadata),
    }


@router.delete("/collections/{name}/documents/{doc_id:path}", dependencies=[Depends(writer)])
def delete_document(
    name: str, doc_id: str, served: ServedDep, metrics: MetricsDep
) -> dict[str, Any]:
    s = lookup(served, name)
    with s.write_lock:
        s.collection.delete([doc_id])
    metrics.documents.labels(name).set(len(s.collection))
    return {"deleted": 1, "documents": len(s.collection), "generation": s.collection.generation}


@router.get("/metrics", dependencies=[Depends(reader)])
def prometheus(served: ServedDep, metrics: MetricsDep) -> Response:
    for n, s in served.items():
        metrics.observe(n, s.collection.snapshot())
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> str:
    return resources.files("hybridir.server").joinpath("static/index.html").read_text("utf-8")


def _retrievers(view: Any) -> list[str]:
    """The retrievers a collection can answer with (``hybrid`` when it has two lists)."""
    lists = view.lists()
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
