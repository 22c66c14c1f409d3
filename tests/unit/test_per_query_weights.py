"""Per-query list weights from the lists' score shapes (issue 19, item 2), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hybridir.config import FusionConfig
from hybridir.errors import ConfigError
from hybridir.fusion import ScoredList, fuse, head_separation, list_weights, query_factors


def _list(name: str, scores: list[float]) -> ScoredList:
    return ScoredList(name, [f"{name}{i}" for i in range(len(scores))], np.asarray(scores))


def test_head_separation_by_hand() -> None:
    flat = [1.0] * 30
    assert head_separation(np.asarray(flat)) == 0.0  # no spread: nothing stands out
    assert head_separation(np.asarray([5.0] * 10)) == 0.0  # too short to measure
    peaked = np.asarray([3.0] * 10 + [1.0] * 30)  # head 3, tail 1: mean 1.5, std sqrt(0.75)
    assert head_separation(peaked) == pytest.approx((3.0 - 1.5) / np.sqrt(0.75))
    # only the top 100 count, and the scale does not matter
    long = np.concatenate([peaked, np.zeros(200)])
    assert head_separation(long) == pytest.approx(head_separation(np.pad(peaked, (0, 60))))
    assert head_separation(10 * peaked) == pytest.approx(head_separation(peaked))


def test_query_factors_scale_by_the_typical_separation_within_bounds() -> None:
    peaked = [3.0] * 10 + [1.0] * 30
    sep = head_separation(np.asarray(peaked))
    lists = [_list("bm25", peaked), _list("dense", peaked), _list("splade", [1.0] * 3)]
    factors = query_factors(lists, {"bm25": sep / 2, "dense": sep * 100}, gamma=1.0)
    assert factors.tolist() == pytest.approx([2.0, 0.25, 1.0])  # 0.01 clipped; no reference: 1
    assert query_factors(lists, {"bm25": sep / 2}, gamma=2.0)[0] == pytest.approx(4.0)


def test_per_query_weights_change_only_what_they_should() -> None:
    peaked = [3.0] * 10 + [1.0] * 30
    lists = [_list("bm25", peaked), _list("dense", peaked)]
    plain = FusionConfig(method="convex", alpha=0.5)
    sep = head_separation(np.asarray(peaked))
    weighted = FusionConfig(method="convex", alpha=0.5, per_query=1.0, reference={"bm25": sep})
    assert list_weights(lists, plain).tolist() == [0.5, 0.5]
    assert list_weights(lists, weighted).tolist() == pytest.approx([0.5, 0.5])  # typical: 1
    skewed = FusionConfig(
        method="convex", alpha=0.5, per_query=1.0, reference={"bm25": sep, "dense": 2 * sep}
    )
    assert list_weights(lists, skewed).tolist() == pytest.approx([0.5, 0.25])
    top = fuse(lists, skewed, 1).doc_ids
    assert top == ["bm250"]  # equal normalized scores, BM25 weighs more
    assert FusionConfig.from_dict(skewed.to_dict()) == skewed
    with pytest.raises(ConfigError, match="per_query"):
        FusionConfig(per_query=-1.0)
