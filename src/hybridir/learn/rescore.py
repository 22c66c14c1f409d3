"""Learned rescoring of fusion candidates: PIRB's hybrid step as a served fusion method.

Every document in any list (each cut to its depth) gets :func:`candidate_features`, and a
LambdaRank gradient-boosted ranker (Burges, MSR-TR-2010-82; LightGBM's ``lambdarank``)
trained on judged queries orders them. PIRB (Dadas et al., LREC-COLING 2024) used an
XGBoost pairwise ranker of 100 trees of depth 6 over similar features; we keep that size.
Unjudged candidates count as non-relevant; queries without a relevant candidate carry no
gradient and are left out of training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hybridir.backend import Backend
from hybridir.errors import InvalidInputError
from hybridir.fusion import Fused, Prepared, select
from hybridir.learn._lgbm import booster_from_string, lightgbm
from hybridir.learn.dataset import TrainingSet
from hybridir.learn.features import (
    QueryContext,
    candidate_feature_names,
    candidate_features,
    query_features,
)

Array = NDArray[np.float64]

PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "n_estimators": 100,
    "max_depth": 6,
    "num_leaves": 31,
    "learning_rate": 0.05,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "random_state": 0,
    "verbose": -1,
}
"""LightGBM ranker settings (PIRB's size: 100 trees, depth 6); deterministic."""

DEFAULT_DEPTHS = {"bm25": 100, "dense": 100}
"""Candidates per list: rescoring cost grows with the union, and deeper lists rarely add a
relevant document a model can lift into the top 10."""


def features_for(collection: Backend, query: QueryContext, prepared: Prepared) -> Array:
    """Candidate feature rows of one query against ``collection``'s statistics."""
    lengths = collection.doc_lengths(prepared.ids)
    return candidate_features(prepared, query_features(collection, query), lengths)


@dataclass
class Rescorer:
    """A trained rescoring model; ``fuse`` ranks one query's candidates with it."""

    kind: ClassVar[str] = "rescore"
    booster: Any
    lists: tuple[str, ...]
    depths: dict[str, int]
    info: dict[str, Any]

    def scores(self, features: Array) -> Array:
        out: Array = self.booster.predict(features, num_threads=1)
        return out

    def fuse(self, collection: Backend, query: QueryContext, prepared: Prepared, k: int) -> Fused:
        """Top ``k`` of the candidates by the model's score, with min-max normalized scores
        per list in the explanation."""
        _check_lists(self.lists, prepared)
        features = features_for(collection, query, prepared)
        n_lists = len(self.lists)
        width = len(features[0]) if len(features) else 0
        normalized = features[:, 1 : n_lists * 6 : 6].T if width else np.zeros((n_lists, 0))
        return select(prepared, self.scores(features), np.asarray(normalized), k)

    def meta(self) -> dict[str, Any]:
        return {"lists": list(self.lists), "depths": self.depths, "info": self.info}

    def write(self, directory: Path) -> None:
        (directory / "model.txt").write_text(self.booster.model_to_string(), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> Rescorer:
        booster = booster_from_string((directory / "model.txt").read_text(encoding="utf-8"))
        return cls(booster, tuple(meta["lists"]), dict(meta["depths"]), dict(meta["info"]))


def _check_lists(expected: Sequence[str], prepared: Prepared) -> None:
    names = tuple(sl.name for sl in prepared.lists)
    if names != tuple(expected):
        raise InvalidInputError(
            f"model was trained on lists {list(expected)}, the query has {list(names)}"
        )


def labels_for(doc_ids: Sequence[str], judged: Mapping[str, int]) -> NDArray[np.int32]:
    """Relevance grade of each candidate (0 when unjudged or negative)."""
    return np.asarray([max(int(judged.get(d, 0)), 0) for d in doc_ids], dtype=np.int32)


def train_rescorer(
    collection: Backend,
    training: TrainingSet,
    depths: Mapping[str, int] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Rescorer:
    """Fit a :class:`Rescorer` on ``training``'s queries.

    Raises:
        InvalidInputError: no training query has a relevant document among its candidates.
    """
    depths = {n: int((depths or DEFAULT_DEPTHS).get(n, 100)) for n in training.names}
    blocks, labels, groups = [], [], []
    for i, prepared in enumerate(training.prepared(depths)):
        y = labels_for(prepared.ids, training.qrels[training.qids[i]])
        if not y.any():
            continue
        blocks.append(features_for(collection, training.queries[i], prepared))
        labels.append(y)
        groups.append(len(y))
    if not groups:
        raise InvalidInputError("no training query has a relevant document among its candidates")
    model = lightgbm().LGBMRanker(**{**PARAMS, **(params or {})})
    model.fit(np.vstack(blocks), np.concatenate(labels), group=groups)
    info = {
        "params": {**PARAMS, **(params or {})},
        "features": candidate_feature_names(training.names),
        "training_queries": len(groups),
        "training_rows": int(sum(groups)),
    }
    json.dumps(info)  # fail early on a parameter that cannot be stored
    return Rescorer(model.booster_, tuple(training.names), depths, info)
