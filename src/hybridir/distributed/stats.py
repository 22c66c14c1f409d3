"""Global statistics of a sharded collection, and shard views that score with them.

BM25 depends on the collection: N, each term's document frequency and the average document
length. A shard scoring with its own statistics would rank differently from one collection
holding every document, so each shard reports its live statistics
(:func:`shard_stats`), the coordinator sums them (:func:`merge_stats`; the distributed
IDF of Lucene's ``DfsQueryThenFetch``), and every shard scores with the sums
(:func:`global_bm25`). Learned sparse weights need no statistics, but the order in which a
query's terms are added must be the same everywhere for float32 sums to agree, so the
largest live weight of each term is merged too (a maximum), as is the learned sparse df
for inference-free IDF queries.

BM25 weights depend on the global statistics, and the order in which a query's terms are
added follows each term's largest live weight, so that order is a second round: with the
merged counts every shard reports its largest weights (:meth:`ShardWorker.term_order`), and
their maximum completes the statistics.

Statistics are tied to the shard generations they were computed from; a shard asked to
score with another generation's statistics refuses (:class:`StaleStatsError`), and the
coordinator recomputes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from hybridir.errors import HybridirError
from hybridir.sparse.segments import CollectionTotals

if TYPE_CHECKING:
    from hybridir.collection import CollectionView
    from hybridir.sparse.impact import SegmentedImpacts
    from hybridir.sparse.segments import SegmentedBM25


class StaleStatsError(HybridirError):
    """A shard was asked to score with statistics of another generation."""


@dataclass(frozen=True)
class ShardStats:
    """One shard's live statistics at one generation."""

    generation: int
    n_docs: int
    total_length: int
    bm25_df: dict[str, int]
    splade_df: dict[str, int] | None = None
    splade_max: dict[str, float] | None = None


@dataclass(frozen=True)
class GlobalStats:
    """Statistics of all shards together, and the shard generations they hold for."""

    generations: tuple[int, ...]
    bm25: CollectionTotals
    splade: CollectionTotals | None = None
    splade_max: dict[str, float] | None = None
    bm25_order: dict[str, float] | None = None

    @cached_property
    def idf(self) -> dict[str, float]:
        """Lucene IDF over the learned sparse df of every shard (inference-free queries)."""
        from hybridir.sparse.impact import lucene_idf

        return {} if self.splade is None else lucene_idf(self.splade.n_docs, self.splade.df)

    @property
    def key(self) -> str:
        """Identifies the statistics (the shard generations they were merged from, and
        whether the BM25 term order is merged in yet)."""
        ident = [list(self.generations), self.bm25_order is not None]
        return hashlib.sha1(json.dumps(ident).encode()).hexdigest()[:16]


def shard_stats(view: CollectionView) -> ShardStats:
    """The live statistics of one shard."""
    bm25 = view.bm25
    total = sum(
        int(np.sum(np.asarray(p.doc_lengths)[m], dtype=np.int64))
        for p, m in zip(bm25.segments, bm25.live, strict=True)
    )
    df = {t: int(bm25.document_frequencies[i]) for t, i in bm25.vocabulary.items()}
    splade_df = splade_max = None
    if view.has_splade:
        sp = view.splade
        splade_df = {t: int(sp.document_frequencies[i]) for t, i in sp.vocabulary.items()}
        splade_max = sp.term_order()
    return ShardStats(view.generation, bm25.stats.n_docs, total, df, splade_df, splade_max)


def merge_stats(stats: Sequence[ShardStats]) -> GlobalStats:
    """Sum the shards' counts (and take the largest impact of each term)."""
    n = sum(s.n_docs for s in stats)
    df: dict[str, float] = {}
    for s in stats:
        for t, c in s.bm25_df.items():
            df[t] = df.get(t, 0.0) + c
    bm25 = CollectionTotals(n, sum(s.total_length for s in stats), df)
    splade: CollectionTotals | None = None
    best: dict[str, float] | None = None
    if all(s.splade_df is not None for s in stats) and stats:
        sdf: dict[str, float] = {}
        best = {}
        for s in stats:
            for t, c in (s.splade_df or {}).items():
                sdf[t] = sdf.get(t, 0.0) + c
            for t, m in (s.splade_max or {}).items():
                best[t] = max(best.get(t, 0.0), m)
        splade = CollectionTotals(n, 0, sdf)
    return GlobalStats(tuple(s.generation for s in stats), bm25, splade, best)


def merge_orders(orders: Sequence[dict[str, float]]) -> dict[str, float]:
    """The collection-wide BM25 term order: each term's largest live weight on any shard."""
    best: dict[str, float] = {}
    for order in orders:
        for t, w in order.items():
            if w > best.get(t, 0.0):
                best[t] = w
    return best


def global_bm25(view: CollectionView, stats: GlobalStats) -> SegmentedBM25:
    """``view``'s BM25 scored with the global statistics and term order (built once per
    generation)."""
    from hybridir.sparse.segments import SegmentedBM25

    state = view._state
    key = f"bm25-global:{stats.key}"
    with state.lock:
        if key not in state.cache:
            state.cache[key] = SegmentedBM25(
                state.postings, state.live, view.config.bm25, stats.bm25, stats.bm25_order
            )
        index: SegmentedBM25 = state.cache[key]
    return index


def global_splade(view: CollectionView, stats: GlobalStats) -> SegmentedImpacts:
    """``view``'s impact index with the global term order and df (built once)."""
    from hybridir.sparse.impact import SegmentedImpacts

    config = view._splade_config()
    state = view._state
    key = f"splade-global:{stats.key}"
    with state.lock:
        if key not in state.cache:
            state.cache[key] = SegmentedImpacts(
                state.impacts, state.live, config.scale, stats.splade, stats.splade_max
            )
        index: SegmentedImpacts = state.cache[key]
    return index
