"""Fusion formulas on hand-computed micro-fixtures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hybridir import ConfigError
from hybridir.fusion import (
    METHODS,
    NORMALIZERS,
    FusionConfig,
    ScoredList,
    fuse,
    norm_arctan,
    norm_dbsf,
    norm_l2,
    norm_minmax,
    norm_rank,
    norm_tmm,
    norm_zscore,
)

BM25 = ScoredList("bm25", ["a", "b", "c"], np.array([6.0, 4.0, 2.0]))
DENSE = ScoredList("dense", ["b", "d"], np.array([0.8, 0.2]), theoretical_min=-1.0)


def scores_of(fused: object) -> dict[str, float]:
    return dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))  # type: ignore[attr-defined]


def test_normalizers_by_hand() -> None:
    s = np.array([6.0, 4.0, 2.0])
    assert norm_minmax(s, 0) == pytest.approx([1.0, 0.5, 0.0])
    std = math.sqrt(8 / 3)
    assert norm_zscore(s, 0) == pytest.approx([2 / std, 0.0, -2 / std])
    assert norm_l2(s, 0) == pytest.approx(s / math.sqrt(36 + 16 + 4))
    lo, hi = 4 - 3 * std, 4 + 3 * std
    assert norm_dbsf(s, 0) == pytest.approx((s - lo) / (hi - lo))
    outlier = np.array([100.0] + [1.0] * 20)  # beyond mean + 3σ: kept above 1, not clipped
    assert norm_dbsf(outlier, 0)[0] > 1.0
    assert norm_tmm(s, 0.0) == pytest.approx([1.0, 4 / 6, 2 / 6])
    assert norm_tmm(np.array([0.8, 0.2]), -1.0) == pytest.approx([1.0, 1.2 / 1.8])
    assert norm_arctan(s, 0.0) == pytest.approx(2 / math.pi * np.arctan(s))
    assert norm_arctan(np.array([-0.5]), -1.0) == pytest.approx([0.5 + math.atan(-0.5) / math.pi])
    assert norm_rank(s, 0) == pytest.approx([1.0, 2 / 3, 1 / 3])
    # Zero range is guarded, never a division by zero: a constant list is all top hits
    # (tests/unit/test_fusion_degenerate.py has every normalizer's rule).
    assert norm_minmax(np.array([3.0, 3.0]), 0).tolist() == [1.0, 1.0]


def test_rrf_by_hand() -> None:
    fused = fuse([BM25, DENSE], FusionConfig(method="rrf", rrf_k=60), k=10)
    assert scores_of(fused) == pytest.approx(
        {
            "b": 1 / (60 + 2) + 1 / (60 + 1),
            "a": 1 / (60 + 1),
            "d": 1 / (60 + 2),
            "c": 1 / (60 + 3),
        }
    )
    assert fused.doc_ids == ["b", "a", "d", "c"]
    # a and d tie at ... no: a = 1/61 > d = 1/62; weights scale each list's terms.
    weighted = fuse([BM25, DENSE], FusionConfig(method="rrf", weights={"dense": 2.0}), k=10)
    assert scores_of(weighted)["d"] == pytest.approx(2 / 62)


def test_convex_minmax_with_each_missing_rule() -> None:
    # minmax: bm25 a=1, b=.5, c=0; dense b=1, d=0. α = 0.7 weights dense.
    zero = fuse([BM25, DENSE], FusionConfig(method="convex", alpha=0.7), k=10)
    assert scores_of(zero) == pytest.approx({"a": 0.3, "b": 0.3 * 0.5 + 0.7, "c": 0.0, "d": 0.0})
    assert zero.doc_ids == ["b", "a", "c", "d"]  # c and d tie at 0: doc id breaks it
    # "min": a missing entry takes the list's lowest normalized score (0 here for both).
    low = fuse(
        [BM25, DENSE], FusionConfig(method="convex", alpha=0.7, missing="min", norm="tmm"), k=10
    )
    dense_min = 1.2 / 1.8  # tmm of 0.2 with θ=-1
    assert scores_of(low)["a"] == pytest.approx(0.3 * 1.0 + 0.7 * dense_min)
    assert scores_of(low)["d"] == pytest.approx(0.3 * (2 / 6) + 0.7 * dense_min)


def test_means_skip_absent_lists() -> None:
    cfg = {"norm": "minmax", "missing": "skip"}
    arith = scores_of(fuse([BM25, DENSE], FusionConfig(method="arithmetic_mean", **cfg), k=10))
    assert arith == pytest.approx({"a": 1.0, "b": 0.75, "c": 0.0, "d": 0.0})
    geo = scores_of(fuse([BM25, DENSE], FusionConfig(method="geometric_mean", **cfg), k=10))
    assert geo["b"] == pytest.approx(math.sqrt(0.5 * 1.0))
    harm = scores_of(fuse([BM25, DENSE], FusionConfig(method="harmonic_mean", **cfg), k=10))
    assert harm["b"] == pytest.approx(2 / (1 / 0.5 + 1 / 1.0))
    assert harm["c"] == 0.0


def test_combmnz_isr_and_log_isr_by_hand() -> None:
    mnz = scores_of(fuse([BM25, DENSE], FusionConfig(method="combmnz"), k=10))
    assert mnz["b"] == pytest.approx(2 * (0.5 + 1.0))
    assert mnz["a"] == pytest.approx(1.0)
    isr = scores_of(fuse([BM25, DENSE], FusionConfig(method="isr"), k=10))
    assert isr["b"] == pytest.approx(2 * (1 / 2**2 + 1 / 1**2))
    log_isr = scores_of(fuse([BM25, DENSE], FusionConfig(method="log_isr"), k=10))
    assert log_isr["b"] == pytest.approx(math.log(2) * (1 / 4 + 1))
    assert log_isr["a"] == 0.0  # log(1) = 0: ranx's definition


def test_explanation_arrays_and_k() -> None:
    fused = fuse([BM25, DENSE], FusionConfig(method="convex"), k=2)
    assert fused.doc_ids == ["b", "a"]
    assert fused.ranks.tolist() == [[2, 1], [1, 0]]
    assert np.isnan(fused.normalized[1, 1])


def test_empty_lists_and_bad_config() -> None:
    empty = ScoredList("dense", [], np.zeros(0))
    assert fuse([BM25, empty], FusionConfig(method="convex"), k=2).doc_ids == ["a", "b"]
    with pytest.raises(ConfigError, match=r"unknown fusion method 'magic'; valid: \["):
        FusionConfig(method="magic")
    with pytest.raises(ConfigError, match="unknown normalization"):
        FusionConfig(norm="softmax")
    with pytest.raises(ConfigError, match="alpha must be in"):
        FusionConfig(alpha=1.5)
    with pytest.raises(ConfigError, match="missing-score rule"):
        FusionConfig(missing="ignore")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # NaN compares false, so `< 0` checks let it through and it ranked by doc id.
        ({"weights": {"bm25": float("nan")}}, "weight of 'bm25' must be a finite number >= 0"),
        ({"weights": {"dense": -0.5}}, "weight of 'dense' must be a finite number >= 0"),
        ({"weights": {"dense": float("inf")}}, "weight of 'dense' must be a finite number"),
        ({"weights": {"bm25": "1"}}, "weight of 'bm25' must be a finite number"),
        ({"weights": {"bm25": 0.0, "dense": 0.0}}, "weights are all 0"),
        ({"rrf_k": float("nan")}, "rrf_k must be a finite number >= 0"),
        ({"per_query": float("inf")}, "per_query must be a finite number >= 0"),
        ({"reference": {"bm25": float("nan")}}, "reference of 'bm25' must be a finite"),
    ],
)
def test_fusion_numbers_must_be_finite_and_non_negative(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        FusionConfig(**settings)  # type: ignore[arg-type]


def test_a_zero_weight_still_fuses() -> None:
    # What coverage sets for a dense model that does not know the language.
    config = FusionConfig(method="convex", weights={"bm25": 1.0, "dense": 0.0})
    dense = ScoredList("dense", ["c", "b"], np.array([0.9, 0.1]), -1.0)
    assert fuse([BM25, dense], config, k=3).doc_ids[:2] == BM25.doc_ids[:2]


def test_config_round_trips_and_registries_are_complete() -> None:
    cfg = FusionConfig(method="convex", alpha=0.3, weights={"bm25": 1.0}, depths={"dense": 100})
    assert FusionConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.depth("dense") == 100
    assert cfg.depth("bm25") == 1000
    for name in METHODS:
        assert fuse([BM25, DENSE], FusionConfig(method=name), k=4).doc_ids
    for norm in NORMALIZERS:
        assert len(fuse([BM25, DENSE], FusionConfig(method="combsum", norm=norm), k=4).doc_ids) == 4
