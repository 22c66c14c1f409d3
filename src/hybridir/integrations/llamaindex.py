"""A LlamaIndex retriever over a hybridir collection, local or served over HTTP.

Needs the ``llamaindex`` extra (``pip install 'hybridir[llamaindex]'``).

Example:
    >>> from hybridir.integrations.llamaindex import HybridirRetriever
    >>> retriever = HybridirRetriever.from_collection("my-col", k=5)  # doctest: +SKIP
    >>> nodes = retriever.retrieve("heat pumps in cold climates")  # doctest: +SKIP
    >>> nodes[0].node.node_id, nodes[0].score, nodes[0].node.metadata["title"]  # doctest: +SKIP
    ('d7', 7.31, 'Heat pumps')
    >>> from llama_index.core.query_engine import RetrieverQueryEngine  # doctest: +SKIP
    >>> engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

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
from hybridir.types import PARENT, Hit

try:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import (
        NodeRelationship,
        NodeWithScore,
        QueryBundle,
        RelatedNodeInfo,
        TextNode,
    )
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise missing_dependency("llama-index-core", "llamaindex") from exc

__all__ = ["HybridirRetriever"]

RANKING = ("id", "score", "rank", "passage_id")
"""Metadata keys kept out of the text an LLM or an embedding model sees (the node's score
carries the ranking; the title stays, it is content)."""


class HybridirRetriever(BaseRetriever):
    """LlamaIndex retriever: the top ``k`` hits of a hybridir search as scored ``TextNode``\\ s.

    Each node has ``id_`` = the hit's doc id, ``text`` = its text (``""`` when ``fields``
    leaves the text out), ``metadata`` = the document's own metadata plus ``id``, ``score``,
    ``rank``, ``title`` and ``passage_id`` (these win over same-named metadata; all but the
    title are excluded from the LLM's and the embedder's view), and, for a passage, its
    parent document as the ``SOURCE`` relationship. The score is the hit's fused score.
    Build one with :meth:`from_collection` (searched in this process) or :meth:`from_url`
    (a ``hybridir serve``); ``retrieve`` and ``aretrieve`` work as for any retriever
    (``aretrieve`` is native async over HTTP, a worker thread locally).

    Args:
        client: where searches go (:class:`~hybridir.integrations._common.SearchClient`).
        k: hits per query.
        retriever: ``"bm25"``, ``"splade"``, ``"dense"``, ``"hybrid"``, or ``None`` for the
            collection's default.
        fusion: :class:`~hybridir.config.FusionConfig` fields overriding the collection's
            (over HTTP only ``method``, ``norm``, ``alpha``, ``rrf_k``).
        filters: metadata filters (:mod:`hybridir.filters`).
        group_by: ``"passage"``, or ``"document"`` for one hit per parent document.
        fields: content of each hit: ``"title"``, ``"text"``, ``"snippet"``, ``"metadata"``.
        callback_manager: LlamaIndex callbacks (default: ``Settings.callback_manager``'s).
        verbose: LlamaIndex's verbose flag.

    Raises:
        ConfigError: an option out of its range or choices (the message lists them).

    The options live in :attr:`options` (a frozen
    :class:`~hybridir.integrations._common.SearchOptions`; change them with
    ``dataclasses.replace``).
    """

    def __init__(
        self,
        client: SearchClient,
        *,
        k: int = 4,
        retriever: str | None = None,
        fusion: Mapping[str, Any] | None = None,
        filters: Mapping[str, Any] | None = None,
        group_by: GroupBy = "passage",
        fields: Sequence[str] = DEFAULT_FIELDS,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        self.client = client
        self.options: SearchOptions = options_from(k, retriever, fusion, filters, group_by, fields)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

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
            **options: the constructor's keyword arguments (``k``, ``retriever``,
                ``fusion``, ``filters``, ``group_by``, ``fields``, ``callback_manager``).

        Raises:
            IndexFormatError: the folder is not a collection.
        """
        return cls(local_client(collection, wait=wait, ray_address=ray_address), **options)

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
        return cls(client, **options)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [_node(h) for h in self.client.search(query_bundle.query_str, self.options)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self.client.asearch(query_bundle.query_str, self.options)
        return [_node(h) for h in hits]


def _node(hit: Hit) -> NodeWithScore:
    metadata = hit_metadata(hit)
    hidden = [*RANKING, *(["title"] if hit.title is None else [])]
    parent = (hit.metadata or {}).get(PARENT)
    relationships = {}
    if isinstance(parent, str) and parent != hit.doc_id:
        relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=parent)
    node = TextNode(
        id_=hit.doc_id,
        text=hit.text or "",
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
        relationships=relationships,
    )
    return NodeWithScore(node=node, score=hit.score)
