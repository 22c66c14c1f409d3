"""BM25 index: postings + a BM25 config → exact top-k search over analysed queries."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.config import BM25Config
from hybridir.errors import ConfigError
from hybridir.sparse.bm25 import absent_scores, posting_weights
from hybridir.sparse.kernels import search_batch
from hybridir.sparse.postings import Postings


class SparseHits(NamedTuple):
    """Top-k of one query: doc ids and scores, best first (score desc, doc id asc)."""

    doc_ids: list[str]
    scores: list[float]


class BM25Stats(NamedTuple):
    """Collection statistics BM25 depends on."""

    n_docs: int
    n_terms: int
    n_postings: int
    avg_doc_length: float


class _QueryBatch(NamedTuple):
    q_ptr: NDArray[np.int64]
    q_terms: NDArray[np.int32]
    q_weights: NDArray[np.float32]
    constants: NDArray[np.float64]


class BM25Index:
    """Exact BM25 top-k over :class:`Postings`.

    Posting weights are derived from raw statistics when first needed and cached; the
    kernel then does term-at-a-time accumulation with a size-k heap (see
    :mod:`hybridir.sparse.kernels`).

    Args:
        postings: the index arrays.
        config: BM25 variant and parameters.
    """

    def __init__(self, postings: Postings, config: BM25Config | None = None) -> None:
        self.postings = postings
        self.config = config or BM25Config()
        self.vocabulary = {term: i for i, term in enumerate(postings.terms)}
        self._live = np.ones(postings.n_docs, dtype=np.bool_)
        self._scratch: dict[
            int, tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int32]]
        ] = {}
        self._stamp = 0
        self._lock = threading.Lock()

    @cached_property
    def stats(self) -> BM25Stats:
        p = self.postings
        total = float(np.sum(p.doc_lengths, dtype=np.int64))
        return BM25Stats(p.n_docs, p.n_terms, int(p.indptr[-1]), total / max(p.n_docs, 1))

    @cached_property
    def _df(self) -> NDArray[np.float64]:
        return self.postings.document_frequencies().astype(np.float64)

    @cached_property
    def weights(self) -> NDArray[np.float32]:
        """BM25 weight of every posting under the current statistics."""
        p, c, st = self.postings, self.config, self.stats
        df_per_posting = np.repeat(self._df, np.diff(p.indptr))
        lens = p.doc_lengths[p.doc_rows].astype(np.float64)
        w = posting_weights(
            c.variant,
            p.tfs.astype(np.float64),
            lens,
            df_per_posting,
            st.n_docs,
            st.avg_doc_length,
            c.k1,
            c.b,
            c.delta,
        )
        return w.astype(np.float32)

    @cached_property
    def _absent(self) -> NDArray[np.float64]:
        st, c = self.stats, self.config
        return absent_scores(c.variant, self._df, st.n_docs, st.avg_doc_length, c.k1, c.b, c.delta)

    @cached_property
    def _has_absent_scores(self) -> bool:
        return bool(np.any(self._absent))

    def _encode(self, queries: Sequence[Sequence[str]]) -> _QueryBatch:
        """Query terms → ids with multiplicities; out-of-vocabulary terms are dropped."""
        ptr = [0]
        ids: list[int] = []
        counts: list[int] = []
        vocab = self.vocabulary
        get = vocab.get
        for terms in queries:
            tids = [t for t in map(get, terms) if t is not None]
            if len(set(tids)) == len(tids):
                ids += tids
                counts += [1] * len(tids)
            else:
                tally = Counter(tids)
                ids += tally.keys()
                counts += tally.values()
            ptr.append(len(ids))
        q_ptr = np.asarray(ptr, dtype=np.int64)
        q_terms = np.asarray(ids, dtype=np.int32)
        q_weights = np.asarray(counts, dtype=np.float32)
        constants = np.zeros(len(queries))
        if self._has_absent_scores:
            # Summed per query (not via a batch-wide cumsum) so a query's scores do not
            # depend on the batch it came in.
            absent = self._absent[q_terms] * q_weights
            for q in range(len(queries)):
                constants[q] = float(np.sum(absent[q_ptr[q] : q_ptr[q + 1]]))
        return _QueryBatch(q_ptr, q_terms, q_weights, constants)

    def _scratch_for(
        self, n_threads: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int32]]:
        if n_threads not in self._scratch:
            n = self.postings.n_docs
            self._scratch[n_threads] = (
                np.zeros((n_threads, n), dtype=np.float32),
                np.zeros((n_threads, n), dtype=np.int64),
                np.zeros((n_threads, n), dtype=np.int32),
            )
        return self._scratch[n_threads]

    def search_arrays(
        self, queries: Sequence[Sequence[str]], k: int, n_threads: int = 1
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]:
        """Top-k rows, scores and hit counts per query, as arrays (row -1 pads)."""
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if n_threads < 1:
            raise ConfigError(f"n_threads must be >= 1, got {n_threads}")
        batch = self._encode(queries)
        p = self.postings
        weights = self.weights
        with self._lock:
            scratch = self._scratch_for(n_threads)
            stamp = self._stamp
            self._stamp += len(queries)
            rows, scores, counts = search_batch(
                p.indptr,
                p.doc_rows,
                weights,
                self._live,
                p.tie_key,
                batch.q_ptr,
                batch.q_terms,
                batch.q_weights,
                min(k, max(p.n_docs, 1)),
                *scratch,
                stamp,
            )
        if np.any(batch.constants):
            scores = (scores + batch.constants[:, None]).astype(np.float32)
        return rows, scores, counts

    def search(
        self, queries: Sequence[Sequence[str]], k: int = 10, n_threads: int = 1
    ) -> list[SparseHits]:
        """Top-k documents of each analysed query (only documents with a query term)."""
        rows, scores, counts = self.search_arrays(queries, k, n_threads)
        ids = self.postings.doc_ids
        return [
            SparseHits([ids[r] for r in rows[q, : counts[q]]], scores[q, : counts[q]].tolist())
            for q in range(len(queries))
        ]

    def score_all(self, terms: Sequence[str]) -> NDArray[np.float64]:
        """BM25 score of every row for one analysed query (for oracles and explanations)."""
        batch = self._encode([terms])
        p = self.postings
        out = np.full(p.n_docs, batch.constants[0], dtype=np.float64)
        w = self.weights
        for t, qw in zip(batch.q_terms, batch.q_weights, strict=True):
            sl = slice(p.indptr[t], p.indptr[t + 1])
            out[p.doc_rows[sl]] += float(qw) * w[sl].astype(np.float64)
        return out

    def matched_terms(self, row: int, terms: Sequence[str]) -> tuple[str, ...]:
        """The distinct query terms that occur in ``row`` (binary search in each posting list)."""
        p = self.postings
        found = []
        for term in dict.fromkeys(terms):
            t = self.vocabulary.get(term)
            if t is None:
                continue
            sl = p.doc_rows[p.indptr[t] : p.indptr[t + 1]]
            i = int(np.searchsorted(sl, row))
            if i < sl.shape[0] and sl[i] == row:
                found.append(term)
        return tuple(found)

    def rows_of(self, doc_ids: Sequence[str]) -> list[int]:
        """Rows of the given doc ids (built once, on first use)."""
        return [self._row_of[d] for d in doc_ids]

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.postings.doc_ids)}
