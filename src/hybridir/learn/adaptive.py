"""Per-query adaptive fusion weight: α predicted from query and score-distribution features.

HyPA-RAG (Kalra et al., NAACL 2025 industry track) sets the sparse/dense balance per query
from query properties; DAT (Hsu & Tzeng, 2025) from the lists' top results. We predict α of
a two-list convex combination from :func:`adaptive_features` with a small gradient-boosted
regressor, trained on each training query's best α on a grid. Queries where every α scores
the same carry no information and get weight 0; the others are weighted by how much α
matters for them (best minus worst metric), and a tie between several best α is broken
towards the fixed α that is best on the whole training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hybridir.backend import Backend
from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.fusion import METHODS, Fused, Prepared, fused_scores, select
from hybridir.learn._lgbm import booster_from_string, lightgbm
from hybridir.learn.dataset import TrainingSet, per_query, run_depth, top_run
from hybridir.learn.features import QueryContext, adaptive_feature_names, adaptive_features

Array = NDArray[np.float64]

ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))
PARAMS: dict[str, Any] = {
    "objective": "regression",
    "n_estimators": 100,
    "max_depth": 3,
    "num_leaves": 8,
    "learning_rate": 0.05,
    "min_child_samples": 20,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "random_state": 0,
    "verbose": -1,
}


@dataclass
class AdaptiveAlpha:
    """Convex fusion whose α (dense weight) comes from a model, per query."""

    kind: ClassVar[str] = "adaptive"
    booster: Any
    base: FusionConfig  # convex; its alpha is the best fixed α, used for nothing else
    lists: tuple[str, ...]
    info: dict[str, Any]

    @property
    def depths(self) -> dict[str, int]:
        return {n: self.base.depth(n) for n in self.lists}

    def alpha(self, collection: Backend, query: QueryContext, prepared: Prepared) -> float:
        features = adaptive_features(collection, query, prepared)[None, :]
        value = float(self.booster.predict(features, num_threads=1)[0])
        return min(max(value, 0.0), 1.0)

    def fuse(self, collection: Backend, query: QueryContext, prepared: Prepared, k: int) -> Fused:
        names = tuple(sl.name for sl in prepared.lists)
        if names != self.lists:
            raise InvalidInputError(
                f"model was trained on lists {list(self.lists)}, the query has {list(names)}"
            )
        config = replace(self.base, alpha=self.alpha(collection, query, prepared))
        fused, matrix = fused_scores(prepared, config)
        return select(prepared, fused, matrix, k)

    def meta(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "lists": list(self.lists), "info": self.info}

    def write(self, directory: Path) -> None:
        (directory / "model.txt").write_text(self.booster.model_to_string(), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> AdaptiveAlpha:
        booster = booster_from_string((directory / "model.txt").read_text(encoding="utf-8"))
        base = FusionConfig.from_dict(dict(meta["base"]))
        return cls(booster, base, tuple(meta["lists"]), dict(meta["info"]))


def convex_base(config: FusionConfig) -> FusionConfig:
    """The convex combination closest to ``config``: a weighted sum of normalized scores
    (``convex``, ``combsum``, ``dbsf``, ``tmm``) keeps its normalizer, anything else
    (rank-based, means) becomes min-max."""
    method = METHODS.get(config.method, None)
    if method is None or method.rank_transform is not None or method.combiner != "sum":
        return FusionConfig(method="convex", norm="minmax", depths=dict(config.depths))
    norm = method.default_norm if config.norm == "default" else config.norm
    return FusionConfig(
        method="convex", norm=norm, missing=config.missing, depths=dict(config.depths)
    )


def alpha_table(
    training: TrainingSet,
    prepared: Sequence[Prepared],
    base: FusionConfig,
    metric: str,
    alphas: Sequence[float] = ALPHAS,
) -> Array:
    """``metric`` of every training query (columns) at every α (rows)."""
    k = run_depth(metric)
    out = np.empty((len(alphas), len(training.qids)))
    for i, a in enumerate(alphas):
        config = replace(base, alpha=a)
        run = {
            q: top_run(p, fused_scores(p, config)[0], k)
            for q, p in zip(training.qids, prepared, strict=True)
        }
        out[i] = per_query(run, training.qrels, training.qids, metric)
    return out


def train_adaptive(
    collection: Backend,
    training: TrainingSet,
    base: FusionConfig | None = None,
    *,
    metric: str = "ndcg@10",
    alphas: Sequence[float] = ALPHAS,
) -> AdaptiveAlpha:
    """Fit the α model on ``training`` (two lists) around the convex setting ``base``."""
    if len(training.names) != 2:
        raise ConfigError(f"adaptive α needs exactly two lists, got {training.names}")
    base = replace(base or FusionConfig(method="convex", norm="minmax"), weights={})
    if base.method != "convex":
        raise ConfigError(f"adaptive α adjusts a convex combination, got {base.method!r}")
    depths = {n: base.depth(n) for n in training.names}
    base = replace(base, depths=depths)
    prepared = training.prepared(depths)
    table = alpha_table(training, prepared, base, metric, alphas)
    grid = np.asarray(alphas)
    fixed = float(grid[int(np.argmax(table.mean(axis=1)))])
    best = table.max(axis=0)
    targets = np.empty(len(training.qids))
    for j in range(len(training.qids)):
        winners = grid[table[:, j] >= best[j] - 1e-12]
        targets[j] = winners[int(np.argmin(np.abs(winners - fixed)))]
    weights = best - table.min(axis=0)
    features = np.vstack(
        [
            adaptive_features(collection, query, p)
            for query, p in zip(training.queries, prepared, strict=True)
        ]
    )
    keep = weights > 0
    if not keep.any():
        raise InvalidInputError("α changes the metric of no training query; nothing to learn")
    # Leaves of at least 20 queries (5% of them on small sets, at least 3).
    params = {**PARAMS, "min_child_samples": max(3, min(20, int(keep.sum()) // 20))}
    model = lightgbm().LGBMRegressor(**params)
    model.fit(features[keep], targets[keep], sample_weight=weights[keep])
    info = {
        "metric": metric,
        "fixed_alpha": fixed,
        "alphas": list(alphas),
        "features": adaptive_feature_names(training.names),
        "training_queries": int(keep.sum()),
        "params": params,
    }
    return AdaptiveAlpha(model.booster_, replace(base, alpha=fixed), tuple(training.names), info)
