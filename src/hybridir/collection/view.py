"""A collection as of one generation, and the query backend it implements.

:class:`CollectionView` is what one query reads: the segments' BM25, impact and vector
indexes over the live rows, the document store at that generation, metadata columns. It
implements the query path's backend (:class:`hybridir.backend.Backend`): ranked candidates
per list for prepared queries and a filter, and per-document lookups (text, metadata,
lengths, matched terms, vectors) by doc id. A shard of a sharded collection is such a view
scored with the cluster's global statistics, so both run the same code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hybridir.collection.manifest import Manifest
from hybridir.collection.state import State
from hybridir.config import CollectionConfig, DenseConfig, SpladeConfig, indexed_lists
from hybridir.docstore import STORE, DocStore
from hybridir.errors import ConfigError
from hybridir.filters import filter_mask
from hybridir.sparse.segments import SegmentedBM25
from hybridir.text.analyzer import Analyzer
from hybridir.text.batch import TermIds
from hybridir.types import MISSING, Document, RankedList, Retrieval

if TYPE_CHECKING:
    from hybridir.dense.encoders import Encoder
    from hybridir.dense.vectors import SegmentedVectors
    from hybridir.sparse.encoders import SparseEncoder
    from hybridir.sparse.impact import SegmentedImpacts

Mask = NDArray[np.bool_]
T = TypeVar("T")


class DocView:
    """The documents of one generation (a view over the shared store)."""

    def __init__(self, store: DocStore, generation: int) -> None:
        self._store = store
        self.generation = generation

    def get(self, doc_id: str) -> Document:
        return self._store.get(doc_id, self.generation)

    def get_many(self, doc_ids: Sequence[str]) -> list[Document]:
        return self._store.get_many(doc_ids, self.generation)

    def __len__(self) -> int:
        return self._store.count(self.generation)

    def __iter__(self) -> Iterator[Document]:
        return self._store.iterate(self.generation)


class Shared:
    """What every view of one open collection shares: the document store and the models."""

    def __init__(self, directory: Path, *, create: bool = False) -> None:
        self.store = DocStore(directory / STORE, create=create)
        self._analyzer: tuple[Any, Analyzer] | None = None
        self._encoder: tuple[DenseConfig, Encoder] | None = None
        self._sparse: tuple[tuple[str, int, int], SparseEncoder] | None = None
        self._lock = threading.Lock()

    def analyzer(self, config: CollectionConfig) -> Analyzer:
        with self._lock:
            built = self._analyzer
            # Identity first: every query asks, and comparing the configs costs microseconds.
            if built is None or (built[0] is not config.analyzer and built[0] != config.analyzer):
                self._analyzer = built = (config.analyzer, Analyzer(config.analyzer))
            return built[1]

    def encoder(self, dense: DenseConfig) -> Encoder:
        with self._lock:
            if self._encoder is None or self._encoder[0] != dense:
                from hybridir.dense.encoders import make_encoder  # torch: on first use

                self._encoder = (dense, make_encoder(dense))
            return self._encoder[1]

    def sparse_encoder(self, splade: SpladeConfig) -> SparseEncoder:
        key = (splade.model, splade.batch_size, splade.max_length)
        with self._lock:
            if self._sparse is None or self._sparse[0] != key:
                from hybridir.sparse.encoders import SpladeEncoder  # torch: on first use

                encoder = SpladeEncoder(
                    splade.model, batch_size=splade.batch_size, max_length=splade.max_length
                )
                self._sparse = (key, encoder)
            return self._sparse[1]


class CollectionView:
    """A collection as of one generation: everything a query reads."""

    def __init__(self, directory: Path, shared: Shared, state: State) -> None:
        self.directory = directory
        self._shared = shared
        self._state = state

    # -- what it is --------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        return self._state.manifest

    @property
    def generation(self) -> int:
        return self._state.manifest.generation

    @property
    def config(self) -> CollectionConfig:
        return self._state.manifest.config

    def __len__(self) -> int:
        """Live documents."""
        return self._state.manifest.n_docs

    @property
    def has_dense(self) -> bool:
        return self.config.dense is not None

    @property
    def has_splade(self) -> bool:
        return self.config.splade is not None

    @property
    def models_dir(self) -> Path:
        """Where trained models of this collection live (one folder per model)."""
        return self.directory / "models"

    def snapshot(self) -> CollectionView:
        """This view (it already stands for one generation)."""
        return self

    def lists(self) -> list[str]:
        """The retrieval lists indexed here, in fusion order (BM25 first)."""
        return indexed_lists(self.config)

    # -- components --------------------------------------------------------------------
    @property
    def analyzer(self) -> Analyzer:
        return self._shared.analyzer(self.config)

    @property
    def encoder(self) -> Encoder:
        """The dense encoder (loaded on first use, shared by every view)."""
        return self._shared.encoder(self._dense_config())

    @property
    def sparse_encoder(self) -> SparseEncoder:
        """The learned sparse encoder (loaded on first use, shared by every view)."""
        return self._shared.sparse_encoder(self._splade_config())

    @property
    def bm25(self) -> SegmentedBM25:
        """BM25 over the live documents of every segment (built once per generation)."""
        return self._cached("bm25", self._build_bm25)

    def _build_bm25(self) -> SegmentedBM25:
        return SegmentedBM25(self._state.postings, self._state.live, self.config.bm25)

    @property
    def vectors(self) -> SegmentedVectors:
        """Exact dense search over the live rows, rows aligned with :attr:`bm25`'s."""
        from hybridir.dense.vectors import SegmentedVectors, VectorIndex  # faiss

        dense = self._dense_config()

        def build() -> tuple[list[VectorIndex], int]:
            indexes = [
                VectorIndex.load(
                    part.vector_dir or self.directory,
                    dense.index,
                    vectors=part.vectors,
                    index_file=part.faiss,
                )
                for part in self._state.parts
            ]
            dim = self.manifest.dim or (indexes[0].dim if indexes else self.encoder.dim)
            return indexes, dim

        indexes, dim = self._cached("vectors", build)
        return SegmentedVectors(indexes, self._state.live, self.bm25.doc_ids, dim)

    @property
    def splade(self) -> SegmentedImpacts:
        """Exact learned sparse (impact) search over the live rows, rows aligned with
        :attr:`bm25`'s."""
        return self._cached("splade", self._build_splade)

    def _build_splade(self) -> SegmentedImpacts:
        from hybridir.sparse.impact import SegmentedImpacts

        scale = self._splade_config().scale
        return SegmentedImpacts(self._state.impacts, self._state.live, scale)

    @property
    def splade_idf(self) -> Mapping[str, float]:
        """Lucene IDF of the learned sparse terms (inference-free query weights)."""
        return self.splade.idf

    def _cached(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per generation (views of one generation share it)."""
        state = self._state
        with state.lock:
            if key not in state.cache:
                state.cache[key] = build()
            value: T = state.cache[key]
            return value

    def _splade_config(self) -> SpladeConfig:
        if self.config.splade is None:
            raise ConfigError(
                f"collection {self.directory} has no learned sparse index; create it with "
                "CollectionConfig(splade=SpladeConfig(...)) or `index --splade MODEL`"
            )
        return self.config.splade

    def _dense_config(self) -> DenseConfig:
        if self.config.dense is None:
            raise ConfigError(
                f"collection {self.directory} has no dense index; "
                "create it with CollectionConfig(dense=DenseConfig(...)) or `index --dense MODEL`"
            )
        return self.config.dense

    def metadata_column(self, name: str) -> NDArray[np.object_]:
        """Value of metadata field ``name`` for every row (:data:`MISSING` where absent),
        read once per generation and field."""

        def rows() -> list[list[dict[str, Any]]]:
            return [self._state.metadata(i) for i in range(len(self._state.parts))]

        def build() -> NDArray[np.object_]:
            values = [m.get(name, MISSING) for seg in self._cached("meta", rows) for m in seg]
            column = np.empty(len(values), dtype=object)
            column[:] = values
            return column

        out: NDArray[np.object_] = self._cached(f"meta:{name}", build)
        return out

    # -- documents ---------------------------------------------------------------------
    @property
    def docs(self) -> DocView:
        return DocView(self._shared.store, self.generation)

    def get(self, doc_id: str) -> Document:
        """The stored document ``doc_id``."""
        return self.docs.get(doc_id)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.docs)

    def index_terms(self, doc: Document) -> list[str]:
        """Index terms of a document: title terms ``title_weight`` times, then text terms."""
        title = self.analyzer.analyze(doc.title) if doc.title else []
        return title * self.config.bm25.title_weight + self.analyzer.analyze(doc.text)

    def index_term_ids(self, docs: Sequence[Document]) -> TermIds:
        """:meth:`index_terms` of each document as ids in order of first occurrence (the
        batch analyzer's compiled path, :meth:`Analyzer.fields_term_ids`)."""
        return self.analyzer.fields_term_ids(
            [d.title for d in docs], [d.text for d in docs], self.config.bm25.title_weight
        )

    # -- the query backend (hybridir.backend.Backend) ---------------------------------
    def retrieve(
        self,
        requests: Mapping[str, tuple[Any, int]],
        filters: Mapping[str, Any] | None = None,
        *,
        n_threads: int = 1,
        allow_partial: bool = False,
    ) -> Retrieval:
        """Each requested list's top hits (``{list: (prepared queries, depth)}``), inside
        the rows that ``filters`` allows (:mod:`hybridir.filters`)."""
        allowed = None
        if filters is not None:
            allowed = filter_mask(self.bm25.live_rows, self.metadata_column, filters)
        return Retrieval(
            {
                name: LIST_SEARCH[name](self, payload, depth, n_threads, allowed)
                for name, (payload, depth) in requests.items()
            }
        )

    def documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """The stored documents, in the order of ``doc_ids`` (one store query per 500 ids)."""
        return self.docs.get_many(doc_ids)

    def metadata(self, doc_ids: Sequence[str], field: str) -> list[Any]:
        """Metadata field ``field`` of each document (:data:`MISSING` where absent)."""
        column = self.metadata_column(field)
        return [column[r] for r in self.bm25.rows_of(doc_ids)]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, list[int | None]]:
        """Live documents, and each BM25 term's document frequency (``None``: unknown)."""
        index = self.bm25
        df = index.document_frequencies
        found = [index.vocabulary.get(t) for t in terms]
        return index.stats.n_docs, [None if t is None else int(df[t]) for t in found]

    def doc_lengths(self, doc_ids: Sequence[str]) -> NDArray[np.float64]:
        """Index terms of each document."""
        index = self.bm25
        return np.asarray(index.doc_lengths[index.rows_of(doc_ids)], dtype=np.float64)

    def matched_terms(self, doc_ids: Sequence[str], terms: Sequence[str]) -> list[tuple[str, ...]]:
        """The distinct query ``terms`` each document contains."""
        index = self.bm25
        return index.matched_terms(index.rows_of(doc_ids), terms)

    def splade_contributions(
        self, doc_ids: Sequence[str], weights: Mapping[str, float]
    ) -> list[tuple[tuple[str, float], ...]]:
        """Each document's top learned sparse terms for query ``weights``, as (term, q·w)."""
        index = self.splade
        return [index.term_contributions(r, weights) for r in self.bm25.rows_of(doc_ids)]

    def term_vectors(self, doc_ids: Sequence[str]) -> list[dict[str, float]]:
        """Each document as a unit vector of BM25 weights by term."""
        index = self.bm25
        terms = self._cached("terms", lambda: _by_id(index.vocabulary))
        rows = index.doc_vectors[index.rows_of(doc_ids)]
        return [
            {
                terms[int(t)]: float(w)
                for t, w in zip(
                    rows.indices[rows.indptr[i] : rows.indptr[i + 1]],
                    rows.data[rows.indptr[i] : rows.indptr[i + 1]],
                    strict=True,
                )
            }
            for i in range(len(doc_ids))
        ]

    def dense_vectors(self, doc_ids: Sequence[str]) -> NDArray[np.float32]:
        """The stored dense vector of each document."""
        return self.vectors.vectors_of(self.bm25.rows_of(doc_ids))


def _by_id(vocabulary: Mapping[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, t in vocabulary.items():
        terms[t] = term
    return terms


def _bm25(view: CollectionView, terms: Any, k: int, threads: int, allowed: Mask | None) -> Any:
    return [RankedList(h.doc_ids, h.scores) for h in view.bm25.search(terms, k, threads, allowed)]


def _splade(view: CollectionView, weights: Any, k: int, threads: int, allowed: Mask | None) -> Any:
    hits = view.splade.search(weights, k, threads, allowed)
    return [RankedList(h.doc_ids, h.scores) for h in hits]


def _dense(view: CollectionView, vectors: Any, k: int, threads: int, allowed: Mask | None) -> Any:
    queries = np.asarray(vectors, dtype=np.float32)
    if len(view) == 0:
        return [RankedList([], []) for _ in range(len(queries))]
    rows, scores = view.vectors.search(queries, k, allowed)
    ids = view.bm25.doc_ids
    return [
        RankedList([ids[r] for r in row.tolist()], score.astype(float).tolist())
        for row, score in zip(rows, scores, strict=True)
    ]


LIST_SEARCH = {"bm25": _bm25, "splade": _splade, "dense": _dense}
"""How a view answers each list for prepared queries (analysed terms, term weights,
vectors): the one implementation, run by one collection and by every shard."""
