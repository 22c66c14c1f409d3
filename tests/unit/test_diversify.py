"""Diversification (MMR, clusters) on hand-computed micro-fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from hybridir import ConfigError, InvalidInputError
from hybridir.config import DIVERSIFY_METHODS, DiversifyConfig
from hybridir.diversify import diversify, kmeans_labels, mmr_order
from hybridir.types import Hit, ListContribution


def hits_of(*ids: str, scores: list[float] | None = None) -> list[Hit]:
    """Fused hits best first; scores default to n, n-1, …, 1."""
    values = scores or [float(len(ids) - i) for i in range(len(ids))]
    bm25 = ListContribution("bm25", 1.0, 1.0, 1)
    return [Hit(d, s, r, (bm25,)) for r, (d, s) in enumerate(zip(ids, values, strict=True), 1)]


def ids(hits: list[Hit]) -> list[str]:
    return [h.doc_id for h in hits]


def moved(hit: Hit) -> ListContribution | None:
    return next((c for c in hit.contributions if c.retriever == "diversify"), None)


# Four candidates. Fused scores 1.0, 0.9, 0.6, 0.2 → min-max relevance 1, 0.875, 0.5, 0.
# cos(a,b) = 0.8, cos(a,c) = 0, cos(a,d) = 0.6, cos(b,c) = 0.6, cos(b,d) = 0, cos(c,d) = -0.8.
FOUR = hits_of("a", "b", "c", "d", scores=[1.0, 0.9, 0.6, 0.2])
FOUR_VECS = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, -0.8]], dtype=np.float32)


def test_mmr_by_hand_lambda_half() -> None:
    # λ = 0.5, MMR = 0.5·rel - 0.5·max cos to the picks.
    # 1: a (most relevant, no penalty): 0.5.
    # 2: b = 0.4375 - 0.4 = 0.0375, c = 0.25 - 0 = 0.25, d = 0 - 0.3 = -0.3 → c.
    # 3: b penalty max(0.8, 0.6) = 0.8 → 0.0375; d max(0.6, -0.8) = 0.6 → -0.3 → b.
    # 4: d, penalty max(0.6, cos(b,d) = 0) = 0.6 → -0.3.
    out = diversify(FOUR, FOUR_VECS, DiversifyConfig(method="mmr", lambda_=0.5), k=4)
    assert ids(out) == ["a", "c", "b", "d"]
    assert [h.rank for h in out] == [1, 2, 3, 4]
    assert [h.score for h in out] == [1.0, 0.6, 0.9, 0.2]  # fused scores kept
    assert moved(out[0]) is None
    assert moved(out[3]) is None
    c, b = moved(out[1]), moved(out[2])
    assert c is not None
    assert b is not None
    assert (c.raw_score, c.normalized_score, c.rank) == pytest.approx((0.25, 0.0, 3))
    assert (b.raw_score, b.normalized_score, b.rank) == pytest.approx((0.0375, 0.8, 2))
    assert out[1].contributions[0].retriever == "bm25"  # appended, the lists' parts kept
    # k = 2 stops after the second pick.
    assert ids(diversify(FOUR, FOUR_VECS, DiversifyConfig(lambda_=0.5), k=2)) == ["a", "c"]


def test_mmr_order_values_by_hand() -> None:
    sims = FOUR_VECS.astype(np.float64) @ FOUR_VECS.T.astype(np.float64)
    picked = mmr_order(np.array([1.0, 0.875, 0.5, 0.0]), sims, 0.5, 4)
    assert picked.order.tolist() == [0, 2, 1, 3]
    assert picked.values == pytest.approx([0.5, 0.25, 0.0375, -0.3])


def test_mmr_demotes_duplicates() -> None:
    # x, y, z orthogonal; x2 = x and y2 = y. Relevance 1, .75, .5, .25, 0; λ = 0.5:
    # 2: x2 .375 - .5 = -.125, y .25, y2 .125, z 0 → y;  3: x2 -.125, y2 .125 - .5, z 0 → z;
    # 4: x2 -.125 > y2 -.375 → x2, then y2.
    hits = hits_of("x", "x2", "y", "y2", "z")
    vecs = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    out = diversify(hits, vecs, DiversifyConfig(lambda_=0.5), k=5)
    assert ids(out) == ["x", "y", "z", "x2", "y2"]
    dup = moved(out[3])
    assert dup is not None
    assert dup.normalized_score == pytest.approx(1.0)
    assert dup.rank == 2


def test_lambda_one_keeps_the_fused_order() -> None:
    rng = np.random.default_rng(7)
    hits = hits_of(*[f"d{i}" for i in range(8)])
    vecs = rng.normal(size=(8, 16)).astype(np.float32)
    out = diversify(hits, vecs, DiversifyConfig(lambda_=1.0), k=8)
    assert out == hits  # same ids, ranks, scores; no explanation added


def test_equal_scores_and_ties_go_to_the_fused_rank() -> None:
    # Equal fused scores: relevance 1.0 for all (fusion.span_normalize); identical vectors
    # tie on every MMR value, so the fused order stands.
    hits = hits_of("p", "q", "r", scores=[0.5, 0.5, 0.5])
    vecs = np.ones((3, 4), dtype=np.float32)
    assert ids(diversify(hits, vecs, DiversifyConfig(lambda_=0.3), k=3)) == ["p", "q", "r"]


def test_depth_limits_the_candidates_and_the_tail_follows() -> None:
    hits = hits_of("x", "x2", "y", "t1", "t2")
    vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)  # the first depth=3 hits
    cfg = DiversifyConfig(lambda_=0.5, depth=3)
    out = diversify(hits, vecs, cfg, k=5)
    assert ids(out) == ["x", "y", "x2", "t1", "t2"]
    assert [h.rank for h in out] == [1, 2, 3, 4, 5]
    assert moved(out[3]) is None
    assert moved(out[4]) is None
    assert ids(diversify(hits, vecs, cfg, k=2)) == ["x", "y"]


# Three obvious groups: A near e1 (hits 1, 3, 5), B near e2 (hits 2, 6), C near e3 (hit 4).
GROUPS = np.array(
    [
        [1.0, 0.02, 0.0],
        [0.0, 1.0, 0.03],
        [0.98, 0.0, 0.02],
        [0.01, 0.0, 1.0],
        [1.0, 0.03, 0.01],
        [0.02, 0.99, 0.0],
    ],
    dtype=np.float32,
)


def test_clusters_pick_one_per_group() -> None:
    hits = hits_of("a1", "b1", "a2", "c1", "a3", "b2")
    out = diversify(hits, GROUPS, DiversifyConfig(method="clusters"), k=3)
    # K = min(3, 6) = 3: representatives a1, b1, c1 (best of each group), in fused order.
    assert ids(out) == ["a1", "b1", "c1"]
    c1 = moved(out[2])
    assert c1 is not None
    assert c1.raw_score == 2.0
    assert c1.rank == 4
    # Its largest cosine to a hit above it: c1·a1 = 0.01, c1·b1 = 0.03 (raw dot products),
    # so b1's: 0.03 / (√1.0001 · √1.0009).
    expected = 0.03 / (np.sqrt(1.0001) * np.sqrt(1.0009))
    assert c1.normalized_score == pytest.approx(expected, rel=1e-6)


def test_kmeans_finds_the_groups_for_any_seed() -> None:
    unit = GROUPS / np.linalg.norm(GROUPS, axis=1, keepdims=True)
    for seed in range(10):
        labels = kmeans_labels(unit.astype(np.float64), 3, seed=seed).tolist()
        assert labels[0] == labels[2] == labels[4]
        assert labels[1] == labels[5]
        assert len({labels[0], labels[1], labels[3]}) == 3


def test_clusters_fill_in_fused_order_when_fewer_clusters_than_k() -> None:
    # Two distinct vectors among five hits: k-means++ stops at two centers (never two on
    # one point), so two representatives, then the rest in fused order.
    hits = hits_of("p1", "p2", "q1", "p3", "q2")
    vecs = np.array([[1, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    out = diversify(hits, vecs, DiversifyConfig(method="clusters"), k=4)
    assert ids(out) == ["p1", "q1", "p2", "p3"]
    assert [moved(h) is None for h in out] == [True, False, False, True]
    q1, p2 = moved(out[1]), moved(out[2])
    assert q1 is not None
    assert p2 is not None
    assert (q1.raw_score, q1.rank) == (1.0, 3)
    assert (p2.raw_score, p2.normalized_score, p2.rank) == pytest.approx((0.0, 1.0, 2))


def test_deterministic() -> None:
    rng = np.random.default_rng(3)
    hits = hits_of(*[f"d{i}" for i in range(30)])
    vecs = rng.normal(size=(30, 8)).astype(np.float32)
    for method in DIVERSIFY_METHODS:
        cfg = DiversifyConfig(method=method)
        assert diversify(hits, vecs, cfg, k=10) == diversify(hits, vecs.copy(), cfg, k=10)


def test_bad_inputs() -> None:
    cfg = DiversifyConfig()
    with pytest.raises(InvalidInputError, match=r"one row per candidate.*got shape \(3, 2\)"):
        diversify(FOUR, FOUR_VECS[:3], cfg, k=2)
    with pytest.raises(InvalidInputError, match="one row per candidate"):
        diversify(FOUR, FOUR_VECS.ravel(), cfg, k=2)
    with pytest.raises(InvalidInputError, match="k must be >= 1"):
        diversify(FOUR, FOUR_VECS, cfg, k=0)
    bad = FOUR_VECS.copy()
    bad[1, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        diversify(FOUR, bad, cfg, k=2)
    # depth 2: only the first two hits are candidates, so four rows do not match.
    with pytest.raises(InvalidInputError, match=r"= 2 of 4 hits"):
        diversify(FOUR, FOUR_VECS, DiversifyConfig(depth=2), k=2)
    assert diversify([], np.zeros((0, 2), dtype=np.float32), cfg, k=3) == []
    with pytest.raises(ConfigError, match="unknown diversification"):
        DiversifyConfig(method="dpp")
