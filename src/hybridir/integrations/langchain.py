"""A LangChain retriever over a hybridir collection, local or served over HTTP.

Needs the ``langchain`` extra (``pip install 'hybridir[langchain]'``).

Example:
    >>> from hybridir.integrations.langchain import HybridirRetriever
    >>> retriever = HybridirRetriever.from_collection("my-col", k=5)  # doctest: +SKIP
    >>> docs = retriever.invoke("heat pumps in cold climates")  # doctest: +SKIP
    >>> docs[0].id, docs[0].metadata["score"], docs[0].metadata["title"]  # doctest: +SKIP
    ('d7', 7.31, 'Heat pumps')
    >>> remote = HybridirRetriever.from_url(  # doctest: +SKIP
    ...     "http://127.0.0.1:8000", "my-col", api_key="…", retriever="hybrid")
    >>> await remote.ainvoke("heat pumps")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import ConfigDict, Field

from hybridir.backend import Source
from hybridir.content import DEFAULT_FIELDS
from hybridir.errors import missing_dependency
from hybridir.grouping import GroupBy
from hybridir.integrations._common import (
    RemoteClient,
    SearchClient,
    SearchOptions,
    hit_metadata,
    local_client,
    options_from,
)
from hybridir.types import Hit

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise missing_dependency("langchain-core", "langchain") from exc

__all__ = ["HybridirRetriever"]


class HybridirRetriever(BaseRetriever):
    """LangChain retriever: the top ``k`` hits of a hybridir search as ``Document``\\ s.

    Each document has ``page_content`` = the hit's text (``""`` when ``fields`` leaves the
    text out), ``id`` = its doc id, and ``metadata`` = the document's own metadata plus
    ``id``, ``score``, ``rank``, ``title`` and ``passage_id`` (these win over same-named
    metadata). Build one with :meth:`from_collection` (searched in this process) or
    :meth:`from_url` (a ``hybridir serve``); ``invoke``, ``batch`` and their async forms work
    as for any retriever (``ainvoke`` is native async over HTTP, a worker thread locally).

    Attributes:
        client: where searches go (:class:`~hybridir.integrations._common.SearchClient`).
        k: hits per query.
        retriever: ``"bm25"``, ``"splade"``, ``"dense"``, ``"hybrid"``, or ``None`` for the
            collection's default.
        fusion: :class:`~hybridir.config.FusionConfig` fields overriding the collection's
            (over HTTP only ``method``, ``norm``, ``alpha``, ``rrf_k``).
        filters: metadata filters (:mod:`hybridir.filters`).
        group_by: ``"passage"``, or ``"document"`` for one hit per parent document.
        fields: content of each hit: ``"title"``, ``"text"``, ``"snippet"``, ``"metadata"``.

    Raises:
        pydantic.ValidationError: an option out of its range or choices.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: SearchClient = Field(exclude=True)
    k: int = 4
    retriever: str | None = None
    fusion: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    group_by: GroupBy = "passage"
    fields: tuple[str, ...] = DEFAULT_FIELDS

    def model_post_init(self, context: Any, /) -> None:
        _ = self.options  # refuse bad options when built, not at the first query

    @classmethod
    def from_collection(
        cls,
        collection: str | os.PathLike[str] | Source,
        *,
        wait: float = 0.0,
        ray_address: str | None = None,
        **options: Any,
    ) -> HybridirRetriever:
        """A retriever searching ``collection`` in this process.

        Args:
            collection: a collection folder (one collection, or a sharded one served by Ray
                at ``ray_address``) or an open collection.
            wait: seconds a write through the opened collection waits for another's.
            ray_address: the Ray cluster of a sharded folder.
            **options: the retriever's fields (``k``, ``retriever``, ``fusion``, ``filters``,
                ``group_by``, ``fields``).

        Raises:
            IndexFormatError: the folder is not a collection.
        """
        return cls(client=local_client(collection, wait=wait, ray_address=ray_address), **options)

    @classmethod
    def from_url(
        cls,
        url: str,
        collection: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> HybridirRetriever:
        """A retriever asking the collection ``collection`` of the ``hybridir serve`` at
        ``url`` (the key sent as ``X-API-Key``; ``timeout`` seconds per request).

        ``transport`` / ``async_transport`` replace httpx's network transports (e.g.
        ``httpx.ASGITransport(create_app(config))`` for the async one). ``**options`` as
        in :meth:`from_collection`. A failed search raises the library's error for the
        answered status (:class:`~hybridir.errors.NotFoundError` for 404, ...), and
        :class:`~hybridir.errors.UnavailableError` when the server does not answer.
        """
        client = RemoteClient(
            url,
            collection,
            api_key=api_key,
            timeout=timeout,
            transport=transport,
            async_transport=async_transport,
        )
        return cls(client=client, **options)

    @property
    def options(self) -> SearchOptions:
        """The search options these fields make."""
        return options_from(
            self.k, self.retriever, self.fusion, self.filters, self.group_by, self.fields
        )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [_document(h) for h in self.client.search(query, self.options)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [_document(h) for h in await self.client.asearch(query, self.options)]


def _document(hit: Hit) -> Document:
    return Document(page_content=hit.text or "", metadata=hit_metadata(hit), id=hit.doc_id)
