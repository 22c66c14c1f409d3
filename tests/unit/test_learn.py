"""Learned fusion: features, cross-validation, grid tuning, model storage (micro-fixtures)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, NotFoundError
from hybridir.fusion import ScoredList, prepare
from hybridir.learn.cv import bootstrap_ci, query_folds, report
from hybridir.learn.dataset import TrainingSet, fusion_run, per_query, run_depth
from hybridir.learn.features import (
    QueryContext,
    candidate_feature_names,
    candidate_features,
    shape_features,
    token_features,
)
from hybridir.learn.models import load_model
from hybridir.learn.store import save_model
from hybridir.learn.tune import default_grid, simplify, tune, weight_grid
from hybridir.search import RankedList


def test_candidate_features_by_hand() -> None:
    bm25 = ScoredList("bm25", ["a", "b"], np.array([4.0, 2.0]))
    dense = ScoredList("dense", ["c", "a"], np.array([0.9, 0.5]), -1.0)
    prepared = prepare([bm25, dense])
    assert prepared.ids == ["a", "b", "c"]
    query = np.array([2.0, 1.5, 2.5, 0.0])
    rows = candidate_features(prepared, query, np.array([10.0, 20.0, 30.0]))
    names = candidate_feature_names(["bm25", "dense"])
    assert rows.shape == (3, len(names)) == (3, 6 * 2 + 4 + 1)
    col = {n: i for i, n in enumerate(names)}
    # a: bm25 rank 1 (raw 4, norm 1), dense rank 2 (raw 0.5, norm 0)
    a, b, c = rows
    assert a[col["bm25.raw"]] == 4.0
    assert a[col["bm25.norm"]] == 1.0
    assert a[col["dense.rank"]] == 2.0
    assert a[col["dense.norm"]] == 0.0
    # b is absent from dense: NaN scores, rank = len + 1, present 0; list max/min still set
    assert math.isnan(b[col["dense.raw"]])
    assert math.isnan(b[col["dense.norm"]])
    assert b[col["dense.rank"]] == 3.0
    assert b[col["dense.present"]] == 0.0
    assert b[col["dense.list_max"]] == 0.9
    assert b[col["dense.list_min"]] == 0.5
    assert c[col["bm25.present"]] == 0.0
    assert c[col["dense.norm"]] == 1.0
    assert list(c[col["q_terms"] : col["q_oov_share"] + 1]) == list(query)
    assert c[col["doc_length"]] == 30.0


def test_token_and_shape_features() -> None:
    ids, numbers = token_features("BRCA1 mutation in 42 p53 cases")
    assert ids == pytest.approx(2 / 6)
    assert numbers == pytest.approx(1 / 6)
    assert list(token_features("")) == [0.0, 0.0]
    top, gap12, gap10, _ = shape_features(np.array([10.0, 6.0, 2.0]))
    assert (top, gap12, gap10) == (10.0, 0.5, 1.0)


def test_folds_partition_queries_deterministically() -> None:
    folds = query_folds(23, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert {len(f) for f in folds} == {4, 5}
    assert [f.tolist() for f in folds] == [f.tolist() for f in query_folds(23, 5, seed=3)]
    with pytest.raises(ConfigError):
        query_folds(3, 5)
    with pytest.raises(ConfigError):
        query_folds(10, 1)


def test_bootstrap_interval_brackets_the_mean() -> None:
    diffs = np.random.default_rng(0).normal(0.05, 0.1, 400)
    low, high = bootstrap_ci(diffs)
    assert low < diffs.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * diffs.std() / 20, rel=0.15)
    assert bootstrap_ci(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))
    r = report("ndcg@10", [f"q{i}" for i in range(400)], np.zeros(400), diffs, 5)
    assert r.gain == pytest.approx(diffs.mean())
    assert r.p_value < 0.01


def test_weight_grid_and_default_grid() -> None:
    two = weight_grid(["bm25", "dense"])
    assert len(two) == 11
    assert two[0] == {"bm25": 1.0, "dense": 0.0}
    assert all(sum(w.values()) == pytest.approx(1.0) for w in weight_grid(["a", "b", "c"]))
    grid = default_grid(["bm25", "dense"], (100, 1000))
    assert len(grid) == len(set(map(repr, grid)))  # no duplicates
    assert {c.method for c in grid} == {"rrf", "convex", "combmnz"}
    assert {tuple(c.depths.values()) for c in grid} == {
        (100, 100),
        (100, 1000),
        (1000, 100),
        (1000, 1000),
    }
    tuned = simplify(
        FusionConfig(method="convex", weights={"bm25": 0.3, "dense": 0.7}), ["bm25", "dense"]
    )
    assert tuned.alpha == 0.7
    assert not tuned.weights


def _toy_training(n: int = 40) -> TrainingSet:
    """Queries whose one relevant document is first in the dense list and 5th in BM25."""
    qids, lists_b, lists_d, qrels = [], [], [], {}
    for i in range(n):
        ids = [f"q{i}d{j}" for j in range(6)]
        rel = ids[4]
        lists_b.append(RankedList(ids, [6.0 - j for j in range(6)]))
        dense_ids = [rel, *[d for d in ids if d != rel]]
        lists_d.append(RankedList(dense_ids, [0.9 - 0.1 * j for j in range(6)]))
        qids.append(f"q{i}")
        qrels[f"q{i}"] = {rel: 1}
    contexts = [QueryContext("x", ("x",)) for _ in qids]
    return TrainingSet(qids, contexts, {"bm25": lists_b, "dense": lists_d}, qrels)


def test_tune_finds_the_dense_heavy_setting() -> None:
    training = _toy_training()
    baseline = FusionConfig(method="convex", norm="minmax", alpha=0.0)
    grid = [
        FusionConfig(method="convex", norm="minmax", alpha=0.0, weights=w)
        for w in weight_grid(["bm25", "dense"])
    ]
    result = tune(training, baseline, grid=grid, n_folds=4)
    assert result.best.weights["dense"] > 0.5
    assert result.cv.baseline == pytest.approx(
        per_query(
            fusion_run(training.qids, training.prepared({}), baseline, 10),
            training.qrels,
            training.qids,
            "ndcg@10",
        ).mean()
    )
    assert result.cv.learned == pytest.approx(1.0)
    assert result.cv.gain > 0.5
    assert result.cv.ci_low > 0
    assert len(result.fold_winners) == 4


def test_run_depth() -> None:
    assert run_depth("ndcg@10") == 10
    assert run_depth("map") == 1000


class _Toy:
    kind = "rescore"

    def __init__(self, payload: str) -> None:
        self.payload = payload

    def meta(self) -> dict[str, object]:
        return {"payload": self.payload}

    def write(self, directory: Path) -> None:
        (directory / "weights.txt").write_text(self.payload)


def test_store_names_by_content_and_never_half_writes(tmp_path: Path) -> None:
    first = save_model(tmp_path, _Toy("w=1"))  # type: ignore[arg-type]
    again = save_model(tmp_path, _Toy("w=1"))  # type: ignore[arg-type]
    other = save_model(tmp_path, _Toy("w=2"))  # type: ignore[arg-type]
    assert first == again != other
    assert first.startswith("rescore-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({first, other})
    with pytest.raises(NotFoundError):
        load_model(tmp_path, "rescore-000000000000")


def test_learned_methods_need_a_model_name() -> None:
    with pytest.raises(ConfigError, match="trained model"):
        FusionConfig(method="rescore")
    assert FusionConfig(method="adaptive", model="adaptive-1").model == "adaptive-1"
