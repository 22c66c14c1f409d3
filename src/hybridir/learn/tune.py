"""Cross-validated grid search over the fixed fusion methods.

Why a grid and not Bayesian optimisation: the space is small and mostly discrete (method ×
normalizer × a weight × RRF's k × two depths, a few hundred points), one point costs tens
of milliseconds once the candidate lists are in memory (:mod:`hybridir.learn.data`), and a
grid scores every point on every query once, so each cross-validation fold picks its winner
from the same score matrix without re-running anything; it is also exactly reproducible.
Bayesian search pays off for expensive, continuous spaces, which this is not.

Ties between settings go to the earlier grid entry, and the grid lists simpler settings
first (the collection's current fusion leads), so an ambiguous win never moves the default.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.config import FusionConfig
from hybridir.fusion import Prepared
from hybridir.learn.cv import CVReport, query_folds, report
from hybridir.learn.dataset import TrainingSet, fusion_run, per_query, run_depth

Array = NDArray[np.float64]

RRF_KS = (10.0, 30.0, 60.0, 100.0)
ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))
CONVEX_NORMS = ("minmax", "zscore", "dbsf", "tmm", "arctan")
DEPTHS = (100, 1000)


def weight_grid(lists: Sequence[str], step: float = 0.1) -> list[dict[str, float]]:
    """Weight vectors on the simplex over ``lists`` (two lists: ``1-α, α``)."""
    n = round(1 / step)
    out = []
    for parts in itertools.product(range(n, -1, -1), repeat=len(lists)):
        if sum(parts) == n:
            out.append({name: round(p * step, 4) for name, p in zip(lists, parts, strict=True)})
    return out


def default_grid(lists: Sequence[str], depth_options: Sequence[int] = DEPTHS) -> list[FusionConfig]:
    """RRF (k × weights), convex combinations (normalizer × weights, missing as zero, and as
    the list minimum for min-max) and CombMNZ, each at every combination of list depths.

    With three or more lists the grid stays a few hundred points: weights in steps of 0.2
    and one depth shared by every list (the full product would be thousands)."""
    many = len(lists) > 2
    weights = weight_grid(lists, 0.2 if many else 0.1)
    rrf_weights = [w for w in weights if all(v > 0 for v in w.values())]
    base: list[FusionConfig] = []
    for rrf_k in RRF_KS:
        base += [FusionConfig(method="rrf", rrf_k=rrf_k, weights=w) for w in rrf_weights]
    for norm in CONVEX_NORMS:
        base += [FusionConfig(method="convex", norm=norm, weights=w) for w in weights]
    base += [
        FusionConfig(method="convex", norm="minmax", missing="min", weights=w) for w in weights
    ]
    base.append(FusionConfig(method="combmnz"))
    out = []
    combos = (
        [(d,) * len(lists) for d in depth_options]
        if many
        else list(itertools.product(depth_options, repeat=len(lists)))
    )
    for combo in combos:
        depths = dict(zip(lists, combo, strict=True))
        out += [replace(c, depths=depths) for c in base]
    return out


class TuneResult(NamedTuple):
    """The winning setting (chosen on all training queries) and its cross-validated gain."""

    best: FusionConfig
    baseline: FusionConfig
    cv: CVReport
    fold_winners: list[FusionConfig]
    n_settings: int


def score_matrix(
    training: TrainingSet,
    configs: Sequence[FusionConfig],
    metric: str,
    progress: Callable[[int], None] | None = None,
) -> Array:
    """``metric`` of every query (columns) under every setting (rows)."""
    k = run_depth(metric)
    out = np.empty((len(configs), len(training.qids)))
    cache: dict[tuple[tuple[str, int], ...], list[Prepared]] = {}
    for i, config in enumerate(configs):
        key = tuple(sorted((n, config.depth(n)) for n in training.names))
        if key not in cache:
            cache[key] = training.prepared(dict(key))  # each depth setting prepared once
        run = fusion_run(training.qids, cache[key], config, k)
        out[i] = per_query(run, training.qrels, training.qids, metric)
        if progress is not None:
            progress(i + 1)
    return out


def tune(
    training: TrainingSet,
    baseline: FusionConfig,
    *,
    metric: str = "ndcg@10",
    n_folds: int = 5,
    grid: Sequence[FusionConfig] | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> TuneResult:
    """Pick the fusion setting with the best mean ``metric`` on ``training``.

    Each fold's winner is chosen on the other folds and scored on its held-out queries;
    those out-of-fold values against ``baseline``'s give the reported gain and interval.
    """
    names = training.names
    baseline = replace(baseline, depths={n: baseline.depth(n) for n in names})
    configs = [baseline, *(grid if grid is not None else default_grid(names))]
    scores = score_matrix(training, configs, metric, progress)
    folds = query_folds(len(training.qids), n_folds, seed)
    out_of_fold = np.empty(len(training.qids))
    winners = []
    for held_out in folds:
        train = np.setdiff1d(np.arange(len(training.qids)), held_out)
        pick = int(np.argmax(scores[:, train].mean(axis=1)))  # first of equals
        winners.append(configs[pick])
        out_of_fold[held_out] = scores[pick, held_out]
    best = configs[int(np.argmax(scores.mean(axis=1)))]
    cv = report(metric, training.qids, scores[0], out_of_fold, n_folds)
    return TuneResult(best, baseline, cv, winners, len(configs))


def simplify(config: FusionConfig, lists: Sequence[str]) -> FusionConfig:
    """Write a two-list convex setting as ``alpha`` (the dense weight) instead of weights."""
    if config.method == "convex" and len(lists) == 2 and config.weights:
        return replace(config, alpha=float(config.weights[lists[1]]), weights={})
    return config
