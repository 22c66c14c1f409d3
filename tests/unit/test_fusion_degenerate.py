"""Fusion of degenerate lists: a single hit, or scores that are all equal (issue 15 item 7).

Every document of such a list is that list's top hit. The range normalizers (min-max,
theoretical min-max, DBSF) map it to 1.0; z-score maps it to 0.0 (the list's mean); the
scale-free ones (l2, arctan, rank) follow their own formulas. Expected values are computed
by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybridir.fusion import (
    NORMALIZERS,
    FusionConfig,
    ScoredList,
    fuse,
    norm_arctan,
    norm_l2,
    norm_rank,
    norm_tmm,
    norm_zscore,
    scored_list,
    span_normalize,
)
from hybridir.types import RankedList

CONSTANT = np.array([2.0, 2.0, 2.0])
SINGLE = np.array([5.0])


@pytest.mark.parametrize("name", ["minmax", "dbsf"])
def test_range_normalizers_map_a_constant_list_to_one(name: str) -> None:
    fn = NORMALIZERS[name]
    assert fn(CONSTANT, 0.0).tolist() == [1.0, 1.0, 1.0]
    assert fn(SINGLE, 0.0).tolist() == [1.0]
    assert fn(np.array([-0.4]), -1.0).tolist() == [1.0]  # a lone cosine similarity


def test_tmm_constant_lists() -> None:
    # (2 - 0) / (2 - 0) = 1 and (0.3 + 1) / (0.3 + 1) = 1: tmm needed no rule for these...
    assert norm_tmm(CONSTANT, 0.0).tolist() == [1.0, 1.0, 1.0]
    assert norm_tmm(np.array([0.3]), -1.0).tolist() == [1.0]
    # ...only for a list at its theoretical minimum (span 0), which was 0 / 1e-9 = 0.
    assert norm_tmm(np.array([-1.0, -1.0]), -1.0).tolist() == [1.0, 1.0]


def test_zscore_maps_a_constant_list_to_its_mean() -> None:
    assert norm_zscore(CONSTANT, 0.0).tolist() == [0.0, 0.0, 0.0]
    assert norm_zscore(SINGLE, 0.0).tolist() == [0.0]


def test_scale_free_normalizers_are_unchanged() -> None:
    # l2: 2 / √(3·2²) = 1/√3 each; a single hit 5/5 = 1.
    assert norm_l2(CONSTANT, 0.0) == pytest.approx([1 / math.sqrt(3)] * 3)
    assert norm_l2(SINGLE, 0.0).tolist() == [1.0]
    # arctan: each score alone, 2/π·atan(2) for BM25-like lists.
    assert norm_arctan(CONSTANT, 0.0) == pytest.approx([2 / math.pi * math.atan(2.0)] * 3)
    # rank: 1 - (rank - 1)/n by position, ties included (ranx "rank").
    assert norm_rank(CONSTANT, 0.0) == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert norm_rank(SINGLE, 0.0).tolist() == [1.0]


def test_span_guard_is_continuous_and_keeps_order() -> None:
    # Span 4e-10 < 1e-9: 1 - (3e-10 - s) / 1e-9 → [1.0, 1 - 4e-10/1e-9 = 0.6].
    near = span_normalize(np.array([3e-10, -1e-10]), -1e-10, 3e-10)
    assert near == pytest.approx([1.0, 0.6])
    # Span exactly 1e-9: the plain formula, and the guard's formula gives the same [1, 0].
    edge = np.array([1e-9, 0.0])
    assert span_normalize(edge, 0.0, 1e-9) == pytest.approx([1.0, 0.0])
    assert 1.0 - (1e-9 - edge) / 1e-9 == pytest.approx([1.0, 0.0])
    # A real spread: (s - lo) / (hi - lo), ranx's min-max.
    assert span_normalize(np.array([6.0, 4.0, 2.0]), 2.0, 6.0).tolist() == [1.0, 0.5, 0.0]


# -- the issue's case: BM25 finds one (long) document, dense ten others -----------------------

DENSE_IDS = [f"d{i}" for i in range(10)]
DENSE_SCORES = [0.80 - 0.02 * i for i in range(10)]  # 0.80, 0.78, …, 0.62


def issue_lists() -> list[ScoredList]:
    """The lists as the Searcher hands them to fuse() (scored_list: depth cut and floor)."""
    bm25 = scored_list("bm25", RankedList(["long"], [14.2]), depth=1000)
    dense = scored_list("dense", RankedList(DENSE_IDS, DENSE_SCORES), depth=1000)
    return [bm25, dense]


def fused(config: FusionConfig) -> tuple[list[str], dict[str, float]]:
    out = fuse(issue_lists(), config, k=11)
    return out.doc_ids, dict(zip(out.doc_ids, out.scores.tolist(), strict=True))


def test_default_fusion_dbsf_ranks_the_lone_bm25_hit_first() -> None:
    # BM25: a single hit → 1.0. Dense: mean 0.71, σ = 0.02·√((10² - 1)/12) = 0.057446,
    # s ↦ 0.5 + (s - 0.71) / 6σ: d0 = 0.5 + 0.09/0.344674 = 0.761116, d9 = 0.238884.
    # Absent entries are 0 (missing="zero"), weights 1: long = 1.0 > d0 > … > d9.
    # Before the rule, long was 0 + 0 = 0 and ranked last (below d9's 0.2389).
    order, scores = fused(FusionConfig())
    assert FusionConfig().method == "dbsf"
    assert order == ["long", *DENSE_IDS]
    sigma = 0.02 * math.sqrt(99 / 12)
    assert scores["long"] == 1.0
    for doc_id, s in zip(DENSE_IDS, DENSE_SCORES, strict=True):
        assert scores[doc_id] == pytest.approx(0.5 + (s - 0.71) / (6 * sigma))
    assert scores["d0"] == pytest.approx(0.761116, abs=1e-6)


def test_minmax_lone_bm25_hit_is_a_top_hit() -> None:
    # combsum min-max, weights 1: long = 1.0 (BM25) + 0; dense dᵢ = (9 - i)/9, so d0 = 1.0
    # ties long and the doc id breaks it ("d0" < "long").
    order, scores = fused(FusionConfig(method="combsum", norm="minmax"))
    assert order == ["d0", "long", *DENSE_IDS[1:]]
    assert scores["long"] == 1.0
    assert scores["d0"] == pytest.approx(1.0)
    # convex α = 0.7 (dense): long = 0.3·1.0 = 0.3; dᵢ = 0.7·(9 - i)/9: d5 = 0.3111 > 0.3 >
    # d6 = 0.2333, so long is seventh.
    order, scores = fused(FusionConfig(method="convex", alpha=0.7))
    assert order == [*DENSE_IDS[:6], "long", *DENSE_IDS[6:]]
    assert scores["long"] == pytest.approx(0.3)
    assert scores["d5"] == pytest.approx(0.7 * 4 / 9)


def test_zscore_lone_bm25_hit_sits_at_the_mean() -> None:
    # long = 0 (its list's mean) + 0; dense zᵢ = (sᵢ - 0.71)/σ > 0 for d0…d4, < 0 for d5…d9.
    order, scores = fused(FusionConfig(method="combsum", norm="zscore"))
    assert order == [*DENSE_IDS[:5], "long", *DENSE_IDS[5:]]
    assert scores["long"] == 0.0
    assert scores["d4"] == pytest.approx(0.01 / (0.02 * math.sqrt(99 / 12)))


def test_tmm_lone_bm25_hit() -> None:
    # tmm: long = (14.2 - 0)/(14.2 - 0) = 1; dense dᵢ = (sᵢ + 1)/(0.80 + 1), d0 = 1 ties long.
    order, scores = fused(FusionConfig(method="tmm"))
    assert order[:2] == ["d0", "long"]
    assert scores["d9"] == pytest.approx(1.62 / 1.8)
