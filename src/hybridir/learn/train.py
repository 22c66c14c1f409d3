"""Train a learned fusion model, cross-validate it, and serve it from a collection.

``hybridir train`` = :func:`cross_validate` (honest gain on held-out training queries),
then :func:`fit` on every training query, then :func:`activate` (store the model in the
collection and make it the collection's fusion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from hybridir.backend import Backend
from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.learn._lgbm import lightgbm
from hybridir.learn.adaptive import convex_base, train_adaptive
from hybridir.learn.collaborative import ANCHORS, CollaborativeReranker, collaborative_features
from hybridir.learn.cv import CVReport, query_folds, report
from hybridir.learn.dataset import TrainingSet, fusion_run, per_query, run_depth
from hybridir.learn.models import FusionModel
from hybridir.learn.rescore import PARAMS, labels_for, train_rescorer
from hybridir.learn.store import save_model
from hybridir.search import Searcher


class Configurable(Protocol):
    """A collection whose fusion can be set (one collection, or a sharded one)."""

    @property
    def models_dir(self) -> Path: ...

    def set_fusion(self, fusion: FusionConfig) -> None: ...


Trainer = Callable[[Backend, TrainingSet, FusionConfig], FusionModel]


def _rescore(collection: Backend, training: TrainingSet, base: FusionConfig) -> FusionModel:
    return train_rescorer(collection, training)


def _adaptive(collection: Backend, training: TrainingSet, base: FusionConfig) -> FusionModel:
    return train_adaptive(collection, training, convex_base(base))


TRAINERS: dict[str, Trainer] = {"rescore": _rescore, "adaptive": _adaptive}
"""Learned fusion methods by name; each trains from a :class:`TrainingSet`."""


def fit(kind: str, collection: Backend, training: TrainingSet, base: FusionConfig) -> FusionModel:
    """Train a ``kind`` model on all of ``training``."""
    if kind not in TRAINERS:
        raise ConfigError(f"unknown learned method {kind!r}; valid: {sorted(TRAINERS)}")
    return TRAINERS[kind](collection, training, base)


def model_run(
    model: FusionModel, collection: Backend, training: TrainingSet, k: int
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
    collection: Backend,
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


def activate(collection: Configurable, model: FusionModel) -> FusionConfig:
    """Store ``model`` in ``collection`` and make it the collection's fusion."""
    name = save_model(collection.models_dir, model)
    config = FusionConfig(method=model.kind, depths=model.depths, model=name)
    collection.set_fusion(config)
    return config


def train_collaborative(
    searcher: Searcher, training: TrainingSet, depth: int = 50
) -> CollaborativeReranker:
    """Fit a :class:`CollaborativeReranker` on the searcher's fused top ``depth`` of each
    training query (its default fusion), with the LambdaRank settings of the rescorer."""
    backend = searcher.collection.snapshot()
    blocks, labels, groups = [], [], []
    for i, qid in enumerate(training.qids):
        lists = {name: ranked[i] for name, ranked in training.lists.items()}
        fused = searcher.fuse_lists(training.queries[i].text, lists, searcher.fusion, depth)
        y = labels_for(fused.doc_ids, training.qrels[qid])
        if not y.any():
            continue
        ranks = fused.ranks.astype(np.float64)
        blocks.append(collaborative_features(backend, fused.doc_ids, fused.scores, ranks))
        labels.append(y)
        groups.append(len(y))
    if not groups:
        raise InvalidInputError("no training query has a relevant document in its top hits")
    model = lightgbm().LGBMRanker(**PARAMS)
    model.fit(np.vstack(blocks), np.concatenate(labels), group=groups)
    info = {"params": PARAMS, "training_queries": len(groups), "anchors": ANCHORS}
    return CollaborativeReranker(model.booster_, depth, info)
