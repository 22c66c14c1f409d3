"""What the framework adapters share: the search options, and a small search client with two
implementations, a local :class:`~hybridir.search.Searcher` over a collection
(:class:`LocalClient`) and the HTTP API of ``hybridir serve`` (:class:`RemoteClient`).

Both clients answer the same :class:`SearchOptions` with the same :class:`~hybridir.types.Hit`
records (the HTTP answer is read back into hits: JSON carries a float exactly), so an adapter
turns hits into its framework's documents in one place whichever client it holds.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from hybridir.backend import Source
from hybridir.config import FusionConfig
from hybridir.content import DEFAULT_FIELDS, check_fields
from hybridir.distributed.opening import open_collection
from hybridir.errors import (
    ConfigError,
    HybridirError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from hybridir.grouping import GroupBy, check_group_by
from hybridir.query import RETRIEVERS
from hybridir.search import HYBRID, Searcher
from hybridir.types import Hit, ListContribution

__all__ = [
    "LocalClient",
    "RemoteClient",
    "SearchClient",
    "SearchOptions",
    "hit_metadata",
    "local_client",
    "options_from",
]

HTTP_FUSION_KEYS = ("method", "norm", "alpha", "rrf_k")
"""The fusion settings the HTTP API lets one search override (its ``FusionOverrides``)."""


@dataclass(frozen=True)
class SearchOptions:
    """How an adapter searches: the keyword arguments of
    :meth:`~hybridir.search.Searcher.search` that a RAG retriever needs.

    Args:
        k: hits per query (LangChain's usual 4).
        retriever: ``"bm25"``, ``"splade"``, ``"dense"``, ``"hybrid"``, or ``None`` for the
            collection's default (hybrid when it has two lists).
        fusion: fusion settings overriding the collection's for these searches
            (:class:`~hybridir.config.FusionConfig` fields; over HTTP only ``method``,
            ``norm``, ``alpha`` and ``rrf_k``).
        filters: metadata filters (:mod:`hybridir.filters`), applied inside every list.
        group_by: ``"passage"`` or ``"document"`` (one hit per parent document).
        fields: the content each hit carries (:data:`hybridir.content.FIELDS`: ``title``,
            ``text`` or ``snippet``, ``metadata``).

    Raises:
        ConfigError: a value out of its range or choices (the message lists them).
        InvalidInputError: ``fields`` is one string, not a sequence of names.
    """

    k: int = 4
    retriever: str | None = None
    fusion: Mapping[str, Any] | None = None
    filters: Mapping[str, Any] | None = None
    group_by: GroupBy = "passage"
    fields: tuple[str, ...] = DEFAULT_FIELDS

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be an integer >= 1, got {self.k!r}")
        retrievers = sorted([*RETRIEVERS, HYBRID])
        if self.retriever is not None and self.retriever not in retrievers:
            raise ConfigError(f"unknown retriever {self.retriever!r}; valid: {retrievers}")
        check_group_by(self.group_by)
        check_fields(self.fields)
        if self.fusion is not None:
            FusionConfig.from_dict(dict(self.fusion))  # unknown keys and bad values, early

    def fusion_over(self, base: FusionConfig) -> FusionConfig | None:
        """The overrides merged onto ``base`` (the collection's fusion) as the HTTP API
        merges them; ``None`` without overrides."""
        if not self.fusion:
            return None
        return FusionConfig.from_dict(base.to_dict() | dict(self.fusion))

    def request_body(self, query: str) -> dict[str, Any]:
        """The JSON body of ``POST /collections/{name}/search`` for ``query``.

        Raises:
            ConfigError: ``fusion`` sets something the HTTP API cannot override.
        """
        body: dict[str, Any] = {
            "query": query,
            "k": self.k,
            "group_by": self.group_by,
            "fields": list(self.fields),
            "explain": False,
        }
        if self.retriever is not None:
            body["retriever"] = self.retriever
        if self.filters is not None:
            body["filter"] = dict(self.filters)
        if self.fusion:
            extra = sorted(set(self.fusion) - set(HTTP_FUSION_KEYS))
            if extra:
                raise ConfigError(
                    f"the HTTP API cannot override fusion {extra}; "
                    f"it takes {list(HTTP_FUSION_KEYS)} (set others on the collection)"
                )
            body["fusion"] = dict(self.fusion)
        return body


@runtime_checkable
class SearchClient(Protocol):
    """Where an adapter's searches go: a local collection or a ``hybridir serve``."""

    def search(self, query: str, options: SearchOptions) -> list[Hit]:
        """The hits of ``query``, best first."""
        ...

    async def asearch(self, query: str, options: SearchOptions) -> list[Hit]:
        """:meth:`search` without blocking the event loop."""
        ...


class LocalClient:
    """Searches a collection in this process through a :class:`~hybridir.search.Searcher`.

    Args:
        collection: an open collection (anything with ``snapshot()``: a
            :class:`~hybridir.collection.Collection` or a sharded one).

    Example:
        >>> client = LocalClient(Collection.open("my-col"))  # doctest: +SKIP
        >>> client.search("heat pumps", SearchOptions(k=3))[0].doc_id  # doctest: +SKIP
        'd7'
    """

    def __init__(self, collection: Source) -> None:
        self.searcher = Searcher(collection)

    def search(self, query: str, options: SearchOptions) -> list[Hit]:
        result = self.searcher.search(
            query,
            options.k,
            retriever=options.retriever,
            # the collection's fusion (a snapshot) is read only when there is something to merge
            fusion=options.fusion_over(self.searcher.fusion) if options.fusion else None,
            filters=options.filters,
            group_by=options.group_by,
            fields=options.fields,
            explain=False,  # matched terms are no part of a framework's document
        )
        return list(result.hits)

    async def asearch(self, query: str, options: SearchOptions) -> list[Hit]:
        # The query path is CPU work that releases the GIL in its kernels: a worker thread
        # keeps the event loop answering meanwhile.
        return await asyncio.to_thread(self.search, query, options)


def local_client(
    collection: str | os.PathLike[str] | Source,
    *,
    wait: float = 0.0,
    ray_address: str | None = None,
) -> LocalClient:
    """A :class:`LocalClient` over ``collection``: an open collection, or a folder opened here
    (one collection, or a sharded one served by Ray at ``ray_address``; ``wait`` as in
    :meth:`Collection.open <hybridir.collection.Collection.open>`).

    Raises:
        IndexFormatError: the folder is not a collection, or is damaged.
    """
    if isinstance(collection, str | os.PathLike):
        return LocalClient(open_collection(Path(collection), wait=wait, ray_address=ray_address))
    return LocalClient(collection)


class RemoteClient:
    """Searches a collection served by ``hybridir serve`` over HTTP (httpx).

    Args:
        url: the server's base URL, e.g. ``"http://127.0.0.1:8000"``.
        collection: the served collection's name.
        api_key: sent as ``X-API-Key`` (needed when the server requires keys for reads).
        timeout: seconds for each request (connect, read, write, pool).
        transport: an httpx transport for the blocking client (tests, proxies, retries).
        async_transport: an httpx transport for the async client, e.g.
            ``httpx.ASGITransport(app)`` to talk to an app in-process.

    One blocking ``httpx.Client`` serves every thread; each async search opens its own
    ``httpx.AsyncClient``, since an async client belongs to one event loop (a given
    ``async_transport`` is shared by them and left open).

    Example:
        >>> client = RemoteClient("http://127.0.0.1:8000", "sf")  # doctest: +SKIP
        >>> client.search("statins", SearchOptions(k=3))[0].doc_id  # doctest: +SKIP
        '4983'
    """

    def __init__(
        self,
        url: str,
        collection: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.collection = collection
        self.path = f"/collections/{quote(collection, safe='')}/search"
        self._settings: dict[str, Any] = {
            "base_url": self.url,
            "timeout": timeout,
            "headers": {"X-API-Key": api_key} if api_key is not None else {},
        }
        self._client = httpx.Client(**self._settings, transport=transport)
        self._async_transport = _Borrowed(async_transport) if async_transport else None

    def search(self, query: str, options: SearchOptions) -> list[Hit]:
        body = options.request_body(query)
        try:
            response = self._client.post(self.path, json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return _hits(self._answer(response))

    async def asearch(self, query: str, options: SearchOptions) -> list[Hit]:
        body = options.request_body(query)
        settings = self._settings | {"transport": self._async_transport}
        try:
            async with httpx.AsyncClient(**settings) as client:
                response = await client.post(self.path, json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return _hits(self._answer(response))

    def close(self) -> None:
        """Close the blocking client's connections."""
        self._client.close()

    def _unreachable(self, exc: Exception) -> UnavailableError:
        return UnavailableError(f"hybridir server at {self.url} did not answer: {exc!r}")

    def _answer(self, response: httpx.Response) -> Mapping[str, Any]:
        """The JSON of a 200 answer; an error answer as the library's error of its status
        (the server's problem-details ``detail`` as the message)."""
        if response.status_code == 200:
            answer: Mapping[str, Any] = response.json()
            return answer
        try:
            problem = response.json()
        except ValueError:  # not JSON: a proxy's page, say
            problem = None
        detail = problem.get("detail") if isinstance(problem, dict) else None
        detail = detail or response.text[:500]
        message = f"{self.url} {self.collection!r}: HTTP {response.status_code}: {detail}"
        raise _ERRORS.get(response.status_code, HybridirError)(message)


class _Borrowed(httpx.AsyncBaseTransport):
    """A caller's async transport lent to one ``AsyncClient`` per search: closing that
    client must not close the transport the next search uses."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Leave the transport open: its owner closes it."""


_ERRORS: dict[int, type[HybridirError]] = {
    400: ConfigError,
    404: NotFoundError,
    422: InvalidInputError,
    503: UnavailableError,
}
"""HTTP status → the error a local search raises for the same cause (the server's map)."""


def _hits(answer: Mapping[str, Any]) -> list[Hit]:
    """The hits of a search answer (``SearchResult.to_dict``), as the local search gives."""
    return [
        Hit(
            h["doc_id"],
            h["score"],
            h["rank"],
            tuple(_contribution(c) for c in h.get("lists", ())),
            h.get("title"),
            h.get("text"),
            h.get("metadata"),
            h.get("passage_id"),
        )
        for h in answer["hits"]
    ]


def _contribution(part: Mapping[str, Any]) -> ListContribution:
    return ListContribution(
        part["retriever"],
        part["raw_score"],
        part["normalized_score"],
        part["rank"],
        tuple(part.get("matched_terms", ())),
        tuple((t, w) for t, w in part.get("term_scores", ())),
    )


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A framework document's metadata: the hit's own metadata plus ``id``, ``score``,
    ``rank``, ``title`` and ``passage_id`` (which win over same-named metadata)."""
    return {
        **(hit.metadata or {}),
        "id": hit.doc_id,
        "score": hit.score,
        "rank": hit.rank,
        "title": hit.title,
        "passage_id": hit.passage_id,
    }


def options_from(
    k: int,
    retriever: str | None,
    fusion: Mapping[str, Any] | None,
    filters: Mapping[str, Any] | None,
    group_by: GroupBy,
    fields: Sequence[str],
) -> SearchOptions:
    """:class:`SearchOptions` from an adapter's settings (``fields`` as a tuple)."""
    check_fields(fields)  # before tuple() reads a lone string letter by letter
    return SearchOptions(k, retriever, fusion, filters, group_by, tuple(fields))
