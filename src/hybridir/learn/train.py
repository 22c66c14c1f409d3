"""Train a learned fusion model, cross-validate it, and serve it from a collection.

``hybridir train`` = :func:`cross_validate` (honest gain on held-out training queries),
then :func:`fit` on every training query, then :func:`activate` (store the model in the
collection and make it the collection's fusion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from hybridir.config import FusionConfig
from hybridir.errors import ConfigError
from hybridir.fusion import Fused, Prepared
from hybridir.learn.cv import CVReport, query_folds, report
from hybridir.learn.data import TrainingSet, fusion_run, per_query, run_depth
from hybridir.learn.features import QueryContext
from hybridir.learn.store import StoredModel, save_model

if TYPE_CHECKING:
    from hybridir.collection import Collection, CollectionView


class FusionModel(StoredModel, Protocol):
    """A trained model that fuses one query's lists."""

    @property
    def depths(self) -> dict[str, int]: ...

    def fuse(
        self, collection: CollectionView, query: QueryContext, prepared: Prepared, k: int
    ) -> Fused: ...


Trainer = Callable[["CollectionView", TrainingSet, FusionConfig], FusionModel]


def _rescore(collection: CollectionView, training: TrainingSet, base: FusionConfig) -> FusionModel:
    from hybridir.learn.rescore import train_rescorer

    return train_rescorer(collection, training)


def _adaptive(collection: CollectionView, training: TrainingSet, base: FusionConfig) -> FusionModel:
    from hybridir.learn.adaptive import convex_base, train_adaptive

    return train_adaptive(collection, training, convex_base(base))


TRAINERS: dict[str, Trainer] = {"rescore": _rescore, "adaptive": _adaptive}
"""Learned fusion methods by name; each trains from a :class:`TrainingSet`."""


def fit(
    kind: str, collection: CollectionView, training: TrainingSet, base: FusionConfig
) -> FusionModel:
    """Train a ``kind`` model on all of ``training``."""
    if kind not in TRAINERS:
        raise ConfigError(f"unknown learned method {kind!r}; valid: {sorted(TRAINERS)}")
    return TRAINERS[kind](collection, training, base)


def model_run(
    model: FusionModel, collection: CollectionView, training: TrainingSet, k: int
) -> dict[str, dict[str, float]]:
    """Fuse every query of ``training`` with ``model``."""
    out = {}
    for q, query, prepared in zip(
        training.qids, training.queries, training.prepared(model.depths), strict=True
    ):
        fused = model.fuse(collection, query, prepared, k)
        out[q] = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
    return out


def cross_validate(
    kind: str,
    collection: CollectionView,
    training: TrainingSet,
    baseline: FusionConfig,
    *,
    base: FusionConfig | None = None,
    metric: str = "ndcg@10",
    n_folds: int = 5,
    seed: int = 0,
) -> CVReport:
    """Out-of-fold ``metric`` of ``kind`` models against ``baseline`` fusion."""
    k = run_depth(metric)
    qids = training.qids
    baseline = replace(baseline, depths={n: baseline.depth(n) for n in training.names})
    prepared = training.prepared(baseline.depths)
    reference = per_query(fusion_run(qids, prepared, baseline, k), training.qrels, qids, metric)
    learned = np.empty(len(qids))
    for held_out in query_folds(len(qids), n_folds, seed):
        rest = np.setdiff1d(np.arange(len(qids)), held_out)
        model = fit(kind, collection, training.subset(rest.tolist()), base or baseline)
        held = training.subset(held_out.tolist())
        run = model_run(model, collection, held, k)
        learned[held_out] = per_query(run, held.qrels, held.qids, metric)
    return report(metric, qids, reference, learned, n_folds)


def activate(collection: Collection, model: FusionModel) -> FusionConfig:
    """Store ``model`` in ``collection`` and make it the collection's fusion."""
    name = save_model(collection.models_dir, model)
    config = FusionConfig(method=model.kind, depths=model.depths, model=name)
    collection.set_fusion(config)
    return config
