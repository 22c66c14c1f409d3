"""BM25 over several segments with collection-wide statistics.

A live collection is a list of immutable segments (each its own :class:`Postings`) plus, per
segment, the rows deleted since it was written. :class:`SegmentedBM25` scores every segment
with the statistics of the *live* documents of all segments together — N, each term's
document frequency and the average length — so its scores equal those of one index built
from scratch over the surviving documents (the property ``tests/property`` checks), and it
merges the per-segment top-k by (score desc, doc id asc), the single index's order.

Rows are numbered across segments (segment 0's rows, then segment 1's, …); a deleted row
keeps its number until a merge rewrites its segment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from itertools import compress
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.config import BM25Config
from hybridir.sparse.bm25 import absent_scores
from hybridir.sparse.index import (
    BM25Index,
    BM25Stats,
    CorpusStats,
    QueryBatch,
    QueryTerms,
    SparseHits,
)
from hybridir.sparse.postings import Postings


class CollectionTotals(NamedTuple):
    """Statistics of a larger collection this index is one shard of: live documents, their
    total length, and the document frequency of every term (all shards together)."""

    n_docs: int
    total_length: int
    df: Mapping[str, float]


class SegmentedBM25:
    """Exact BM25 top-k over segments (see the module docstring).

    Args:
        segments: postings of each segment, in row order.
        live: per segment, which rows are not deleted (``None``: all).
        config: BM25 variant and parameters.
        totals: score with these statistics instead of this index's own (a shard of a
            sharded collection scores with the global ones, so its scores equal those of
            one collection holding every shard's documents).
        order: the largest live weight of each term over the whole sharded collection
            (the order a query's terms are added in; default: over these segments).
    """

    def __init__(
        self,
        segments: Sequence[Postings],
        live: Sequence[NDArray[np.bool_] | None],
        config: BM25Config | None = None,
        totals: CollectionTotals | None = None,
        order: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config or BM25Config()
        self._order_of = order
        self.segments = list(segments)
        self.live = [
            np.ones(p.n_docs, dtype=np.bool_) if m is None else np.asarray(m, dtype=np.bool_)
            for p, m in zip(self.segments, live, strict=True)
        ]
        sizes = [p.n_docs for p in self.segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        vocab: dict[str, int] = {}
        local_to_global = []
        for p in self.segments:
            local_to_global.append(
                np.fromiter(
                    (vocab.setdefault(t, len(vocab)) for t in p.terms),
                    dtype=np.int64,
                    count=p.n_terms,
                )
            )
        df = np.zeros(len(vocab), dtype=np.float64)
        total_length = 0
        n_live = 0
        n_postings = 0
        for p, mask, to_global in zip(self.segments, self.live, local_to_global, strict=True):
            term_of = np.repeat(to_global, np.diff(p.indptr))
            alive = mask[p.doc_rows]
            df += np.bincount(term_of[alive], minlength=len(vocab))
            n_postings += int(alive.sum())
            total_length += int(np.sum(p.doc_lengths[mask], dtype=np.int64))
            n_live += int(mask.sum())
        if totals is not None:
            # Terms only other shards hold still count for BM25L/BM25+'s absent-term score.
            for term in totals.df:
                vocab.setdefault(term, len(vocab))
            df = np.asarray([float(totals.df.get(t, 0.0)) for t in vocab], dtype=np.float64)
            n_live, total_length = totals.n_docs, totals.total_length
        self.vocabulary = vocab
        self.document_frequencies = df
        self._global_to_local = []
        for to_global in local_to_global:
            g2l = np.full(len(vocab), -1, dtype=np.int64)
            g2l[to_global] = np.arange(len(to_global))
            self._global_to_local.append(g2l)
        avg = total_length / max(n_live, 1)
        self.stats = BM25Stats(n_live, int(np.count_nonzero(df)), n_postings, avg)
        self.indexes = self._build_indexes(local_to_global)
        c = self.config
        # Terms of deleted documents only (df 0) never contribute: any finite value will do.
        safe_df = np.maximum(df, 1.0)
        self._absent = absent_scores(c.variant, safe_df, n_live, avg, c.k1, c.b, c.delta)
        self._has_absent = bool(np.any(self._absent[df > 0])) if len(df) else False

    def _build_indexes(self, local_to_global: Sequence[NDArray[np.int64]]) -> list[BM25Index]:
        """One index per segment, scoring with the collection-wide statistics and adding a
        query's terms in one collection-wide order (each term's largest live weight)."""
        indexes = [
            self._index(p, mask, g)
            for p, mask, g in zip(self.segments, self.live, local_to_global, strict=True)
        ]
        best = self.global_order(indexes, local_to_global)
        for index, g in zip(indexes, local_to_global, strict=True):
            index._order = best[g]
        return indexes

    def _index(
        self, postings: Postings, live: NDArray[np.bool_], to_global: NDArray[np.int64]
    ) -> BM25Index:
        """One segment's index, scoring with the collection-wide statistics."""
        df, st = self.document_frequencies, self.stats
        corpus = CorpusStats(st.n_docs, st.avg_doc_length, df[to_global])
        return BM25Index(postings, self.config, corpus, live)

    def global_order(
        self, indexes: Sequence[BM25Index], local_to_global: Sequence[NDArray[np.int64]]
    ) -> NDArray[np.float64]:
        """Each term's largest live weight over every segment (or the given ``order``)."""
        if self._order_of is not None:
            return np.asarray([float(self._order_of.get(t, 0.0)) for t in self.vocabulary])
        best = np.zeros(len(self.vocabulary), dtype=np.float64)
        for index, g in zip(indexes, local_to_global, strict=True):
            best[g] = np.maximum(best[g], index.live_term_max)
        return best

    def term_order(self) -> dict[str, float]:
        """The collection-wide term order as ``{term: largest live weight}`` (shards merge
        theirs with a maximum)."""
        vocab = self.vocabulary
        best = np.zeros(len(vocab), dtype=np.float64)
        for index, p in zip(self.indexes, self.segments, strict=True):
            g = np.asarray([vocab[t] for t in p.terms], dtype=np.int64)
            best[g] = np.maximum(best[g], index.live_term_max)
        return {t: float(best[i]) for t, i in vocab.items() if best[i] > 0}

    def constants(self, queries: Sequence[QueryTerms]) -> NDArray[np.float64] | None:
        """Each query's score for absent terms under the collection's vocabulary (only
        BM25L / BM25+ have one); summed like :meth:`BM25Index.encode` sums it."""
        if not self._has_absent:
            return None
        out = np.zeros(len(queries))
        df, vocab = self.document_frequencies, self.vocabulary
        for q, terms in enumerate(queries):
            tally: dict[int, float] = {}
            for term, weight in _weighted(terms):
                t = vocab.get(term)
                if t is not None and df[t] > 0:
                    tally[t] = tally.get(t, 0.0) + weight
            ids = np.fromiter(tally.keys(), dtype=np.int64, count=len(tally))
            weights = np.fromiter(tally.values(), dtype=np.float32, count=len(tally))
            out[q] = float(np.sum(self._absent[ids] * weights))
        return out

    # -- rows --------------------------------------------------------------------------
    @cached_property
    def doc_ids(self) -> tuple[str, ...]:
        """Doc id of every row (deleted rows included)."""
        return tuple(d for p in self.segments for d in p.doc_ids)

    @cached_property
    def doc_lengths(self) -> NDArray[np.int32]:
        """Index terms of every row."""
        if not self.segments:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([p.doc_lengths for p in self.segments]).astype(np.int32)

    @cached_property
    def live_rows(self) -> NDArray[np.bool_]:
        """Which rows are live."""
        if not self.live:
            return np.zeros(0, dtype=np.bool_)
        return np.concatenate(self.live)

    @cached_property
    def _row_of(self) -> dict[str, int]:
        ids = self.doc_ids
        return {ids[r]: int(r) for r in np.flatnonzero(self.live_rows)}

    def rows_of(self, doc_ids: Sequence[str]) -> list[int]:
        """Rows of live documents."""
        return [self._row_of[d] for d in doc_ids]

    def has(self, doc_id: str) -> bool:
        """Whether ``doc_id`` is a live document."""
        return doc_id in self._row_of

    def locate(self, row: int) -> tuple[int, int]:
        """(segment, row within the segment) of a row."""
        s = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return s, row - int(self.offsets[s])

    # -- scoring -----------------------------------------------------------------------
    def search(
        self,
        queries: Sequence[QueryTerms],
        k: int = 10,
        n_threads: int = 1,
        allowed: NDArray[np.bool_] | None = None,
    ) -> list[SparseHits]:
        """Top-k live documents of each analysed query (only documents with a query term);
        ``allowed`` (a row mask, e.g. a filter's) restricts them inside the top-k."""
        constants = self.constants(queries)
        if len(self.indexes) == 1:
            return self.indexes[0].search(queries, k, n_threads, constants, allowed)
        if not self.indexes:
            return [SparseHits([], []) for _ in queries]
        batch = self._encode_global(queries)
        n_q = len(queries)
        blocks_rows, blocks_scores = [], []
        for s, index in enumerate(self.indexes):
            local = self._local_batch(batch, s)
            mask = None if allowed is None else allowed[self.offsets[s] : self.offsets[s + 1]]
            rows, scores, counts = index.search_encoded(local, k, n_threads, mask)
            valid = np.arange(rows.shape[1])[None, :] < counts[:, None]
            blocks_rows.append(np.where(valid, rows.astype(np.int64) + self.offsets[s], -1))
            blocks_scores.append(np.where(valid, scores, -np.inf))
        rows = np.concatenate(blocks_rows, axis=1)
        scores = np.concatenate(blocks_scores, axis=1)
        if constants is not None:
            scores = np.where(rows >= 0, (scores + constants[:, None]).astype(np.float32), -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")
        ids = self.doc_ids
        out = []
        for q in range(n_q):
            top = order[q, : k + 1]
            picked = [int(j) for j in top if rows[q, j] >= 0]
            sel_scores = [float(scores[q, j]) for j in picked]
            # Equal scores from different segments: order them by doc id, exactly.
            if len(set(sel_scores)) < len(sel_scores) or (
                len(picked) > k and sel_scores[k - 1] == sel_scores[k]
            ):
                pool = sorted(
                    (-float(scores[q, j]), ids[rows[q, j]])
                    for j in range(rows.shape[1])
                    if rows[q, j] >= 0
                )[:k]
                out.append(SparseHits([d for _, d in pool], [-x for x, _ in pool]))
                continue
            picked = picked[:k]
            out.append(
                SparseHits([ids[rows[q, j]] for j in picked], [float(scores[q, j]) for j in picked])
            )
        return out

    def _encode_global(self, queries: Sequence[QueryTerms]) -> QueryBatch:
        """Queries as global term ids with weights (multiplicities for term lists), in
        first-occurrence order."""
        ptr: list[int] = [0]
        ids: list[int] = []
        counts: list[float] = []
        vocab = self.vocabulary
        for terms in queries:
            tally: dict[int, float] = {}
            for term, weight in _weighted(terms):
                t = vocab.get(term)
                if t is not None:
                    tally[t] = tally.get(t, 0.0) + weight
            ids += tally.keys()
            counts += tally.values()
            ptr.append(len(ids))
        return QueryBatch(
            np.asarray(ptr, dtype=np.int64),
            np.asarray(ids, dtype=np.int32),
            np.asarray(counts, dtype=np.float32),
            np.zeros(len(queries)),
        )

    def _local_batch(self, batch: QueryBatch, s: int) -> QueryBatch:
        """``batch`` in segment ``s``'s term ids (terms it lacks dropped)."""
        local = self._global_to_local[s][batch.q_terms]
        keep = local >= 0
        query_of = np.repeat(np.arange(len(batch.q_ptr) - 1), np.diff(batch.q_ptr))
        per_query = np.bincount(query_of[keep], minlength=len(batch.q_ptr) - 1)
        q_ptr = np.zeros(len(batch.q_ptr), dtype=np.int64)
        np.cumsum(per_query, out=q_ptr[1:])
        return QueryBatch(
            q_ptr, local[keep].astype(np.int32), batch.q_weights[keep], batch.constants
        )

    def score_all(self, terms: QueryTerms) -> NDArray[np.float64]:
        """BM25 score of every row (deleted rows: NaN), for oracles and explanations."""
        parts = []
        constants = self.constants([terms])
        constant = None if constants is None else float(constants[0])
        for index, mask in zip(self.indexes, self.live, strict=True):
            scores = index.score_all(terms, constant)
            parts.append(np.where(mask, scores, np.nan))
        return np.concatenate(parts) if parts else np.zeros(0)

    def matched_terms(self, rows: Sequence[int], terms: Sequence[str]) -> list[tuple[str, ...]]:
        """The distinct query terms that occur in each of ``rows`` (in query order): per
        segment, one binary search of its rows in each term's posting list."""
        distinct = list(dict.fromkeys(terms))
        at = np.asarray(rows, dtype=np.int64)
        if len(self.indexes) == 1:
            found = self.indexes[0].term_presence(at, distinct)
        else:
            found = np.zeros((len(distinct), len(at)), dtype=np.bool_)
            segment = np.searchsorted(self.offsets, at, side="right") - 1
            for s in np.unique(segment).tolist():
                pick = segment == s
                local = at[pick] - self.offsets[s]
                found[:, pick] = self.indexes[s].term_presence(local, distinct)
        return [tuple(compress(distinct, column)) for column in found.T.tolist()]

    @cached_property
    def doc_vectors(self) -> Any:
        """Rows as unit vectors of BM25 weights over the global vocabulary (scipy CSR)."""
        from scipy import sparse

        blocks = []
        for p, index in zip(self.segments, self.indexes, strict=True):
            local = index.doc_vectors.tocoo()
            to_global = np.asarray([self.vocabulary[t] for t in p.terms], dtype=np.int64)
            blocks.append(
                sparse.csr_matrix(
                    (local.data, (local.row, to_global[local.col])),
                    shape=(p.n_docs, len(self.vocabulary)),
                )
            )
        if not blocks:
            return sparse.csr_matrix((0, 0))
        return sparse.vstack(blocks).tocsr()


def _weighted(terms: QueryTerms) -> Iterator[tuple[str, float]]:
    """(term, weight) pairs: a mapping's items, or each listed term with weight 1."""
    if isinstance(terms, Mapping):
        yield from terms.items()
    else:
        for term in terms:
            yield term, 1.0
