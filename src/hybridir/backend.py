"""The query path's backend: what a :class:`~hybridir.search.Searcher` reads of a collection.

One narrow protocol, implemented by one collection's view
(:class:`hybridir.collection.CollectionView`) and by a sharded cluster's coordinator
(:class:`hybridir.distributed.cluster.ShardedView`), so every query feature (filters, boosts,
learned fusion, rerankers, explanations) runs the same code on both:

* queries are prepared once (analysed, encoded, weighted) by the query path
  (:mod:`hybridir.query`) with the backend's analyzer and encoders;
* :meth:`Backend.retrieve` answers, per list, ranked candidates for a depth inside the rows a
  filter allows;
* the rest are lookups by doc id (text, metadata, lengths, matched terms, vectors) and the
  collection-wide statistics the learned features read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hybridir.config import CollectionConfig
from hybridir.types import Document, Retrieval

if TYPE_CHECKING:
    from hybridir.dense.encoders import Encoder
    from hybridir.sparse.encoders import SparseEncoder
    from hybridir.text.analyzer import Analyzer


class Backend(Protocol):
    """One consistent state of a collection, as the query path reads it."""

    directory: Path

    @property
    def config(self) -> CollectionConfig: ...

    @property
    def generation(self) -> int: ...

    @property
    def models_dir(self) -> Path:
        """Where the collection's trained models live."""
        ...

    def __len__(self) -> int: ...

    def lists(self) -> list[str]:
        """The retrieval lists indexed, in fusion order."""
        ...

    @property
    def analyzer(self) -> Analyzer: ...

    @property
    def encoder(self) -> Encoder: ...

    @property
    def sparse_encoder(self) -> SparseEncoder: ...

    @property
    def splade_idf(self) -> Mapping[str, float]:
        """IDF of the learned sparse terms over the whole collection."""
        ...

    def retrieve(
        self,
        requests: Mapping[str, tuple[Any, int]],
        filters: Mapping[str, Any] | None = None,
        *,
        n_threads: int = 1,
        allow_partial: bool = False,
    ) -> Retrieval:
        """Per list ``{name: (prepared queries, depth)}``, the top hits of each query
        among the documents ``filters`` allows (:mod:`hybridir.filters`)."""
        ...

    def documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """The stored documents, in the order of ``doc_ids``, read as one batch (one
        document store query per 500 ids; on a sharded collection one call per shard that
        holds some of them); :class:`~hybridir.errors.NotFoundError` if one is absent."""
        ...

    def metadata(self, doc_ids: Sequence[str], field: str) -> list[Any]:
        """Field ``field`` of each document's metadata (``types.MISSING`` where absent)."""
        ...

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, list[int | None]]:
        """Live documents, and each BM25 index term's document frequency."""
        ...

    def doc_lengths(self, doc_ids: Sequence[str]) -> NDArray[np.float64]: ...

    def matched_terms(
        self, doc_ids: Sequence[str], terms: Sequence[str]
    ) -> list[tuple[str, ...]]: ...

    def splade_contributions(
        self, doc_ids: Sequence[str], weights: Mapping[str, float]
    ) -> list[tuple[tuple[str, float], ...]]: ...

    def term_vectors(self, doc_ids: Sequence[str]) -> list[dict[str, float]]:
        """Each document as a unit vector of BM25 weights by term."""
        ...

    def dense_vectors(self, doc_ids: Sequence[str]) -> NDArray[np.float32]: ...


class Source(Protocol):
    """What a :class:`~hybridir.search.Searcher` searches: a collection handle that gives
    one consistent :class:`Backend` per query (a local or a sharded collection)."""

    def snapshot(self) -> Backend: ...
