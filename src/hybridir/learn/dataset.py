"""Training material for the learned methods: each judged query's candidate lists, kept in
memory, and the fusion runs and metrics cross-validation computes from them.

Retrieval runs once per query at the deepest depth any candidate setting needs
(:func:`hybridir.learn.data.collect`); tuning and training then cut, fuse and score those
lists in memory, many times over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hybridir.config import FusionConfig
from hybridir.eval.metrics import evaluate_per_query
from hybridir.fusion import Prepared, ScoredList, fused_scores, prepare, scored_list, top_k_order
from hybridir.learn.features import QueryContext
from hybridir.types import Qrels, RankedList, Run

Array = NDArray[np.float64]


@dataclass(frozen=True)
class TrainingSet:
    """Judged queries with every list of the collection retrieved to ``depths``."""

    qids: list[str]
    queries: list[QueryContext]
    lists: dict[str, list[RankedList]]  # retriever → per query, aligned with qids
    qrels: Qrels

    @property
    def names(self) -> list[str]:
        return list(self.lists)

    def prepared(self, depths: Mapping[str, int]) -> list[Prepared]:
        """Each query's lists cut to ``depths`` (by retriever), ready for fusion."""
        return [prepare(self.scored(i, depths)) for i in range(len(self.qids))]

    def scored(self, i: int, depths: Mapping[str, int]) -> list[ScoredList]:
        return [
            scored_list(name, ranked[i], int(depths.get(name, len(ranked[i].doc_ids))))
            for name, ranked in self.lists.items()
        ]

    def only(self, names: Sequence[str]) -> TrainingSet:
        """The same queries with only the lists ``names`` (to tune a subset of lists)."""
        return TrainingSet(self.qids, self.queries, {n: self.lists[n] for n in names}, self.qrels)

    def subset(self, positions: Sequence[int]) -> TrainingSet:
        """The queries at ``positions`` (for cross-validation folds)."""
        qids = [self.qids[i] for i in positions]
        return TrainingSet(
            qids,
            [self.queries[i] for i in positions],
            {n: [r[i] for i in positions] for n, r in self.lists.items()},
            {q: self.qrels[q] for q in qids},
        )


def top_run(prepared: Prepared, scores: Array, k: int) -> dict[str, float]:
    """The best ``k`` documents of one query as a run entry."""
    idx = top_k_order(scores, prepared.ids, k)
    return {prepared.ids[int(j)]: float(scores[j]) for j in idx}


def fusion_run(
    qids: Sequence[str], prepared: Sequence[Prepared], config: FusionConfig, k: int
) -> Run:
    """Fuse every query under ``config``."""
    return {
        q: top_run(p, fused_scores(p, config)[0], k) for q, p in zip(qids, prepared, strict=True)
    }


def per_query(run: Run, qrels: Qrels, qids: Sequence[str], metric: str) -> Array:
    """``metric`` of each of ``qids`` (trec_eval semantics), in that order."""
    values = evaluate_per_query(run, {q: qrels[q] for q in qids}, [metric])[metric]
    return np.asarray([values[q] for q in qids], dtype=np.float64)


def run_depth(metric: str) -> int:
    """How deep a run must be to compute ``metric`` (its cutoff, else 1000)."""
    _, _, cutoff = metric.partition("@")
    return int(cutoff) if cutoff.isdigit() else 1000
