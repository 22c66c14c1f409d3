"""Every fusion method that ranx implements gives ranx's fused scores and ranking on real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import BM25Config, FusionConfig
from hybridir.eval import load_beir
from hybridir.search import RankedList

ranx = pytest.importorskip("ranx")

# hybridir method (and normalization) → ranx (norm, method, params)
CASES = {
    ("rrf", "default"): (None, "rrf", {"k": 60}),
    ("isr", "default"): (None, "isr", {}),
    ("log_isr", "default"): (None, "log_isr", {}),
    ("combsum", "minmax"): ("min-max", "sum", {}),
    ("combmnz", "minmax"): ("min-max", "mnz", {}),
    ("combmax", "minmax"): ("min-max", "max", {}),
    ("combsum", "zscore"): ("zmuv", "sum", {}),
    ("combsum", "rank"): ("rank", "sum", {}),
    ("convex", "minmax"): ("min-max", "wsum", {"weights": [0.3, 0.7]}),
}

Lists = dict[str, dict[str, RankedList]]


@pytest.fixture(scope="module")
def two_real_lists(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Lists:
    """BM25 (Lucene, k1=0.9 b=0.4) and BM25 (ATIRE, k1=1.5 b=0.9, no stopwords) on SciFact."""
    data = load_beir(data_dir / "scifact", split="test")
    docs = list(data.corpus())
    queries = dict(list(data.queries.items())[:100])
    lists: Lists = {}
    for name, config in (
        ("bm25", CollectionConfig(bm25=BM25Config(k1=0.9, b=0.4))),
        ("other", CollectionConfig(bm25=BM25Config(variant="atire", k1=1.5, b=0.9))),
    ):
        col = Collection.create(tmp_path_factory.mktemp(name) / "c", config)
        col.add(docs)
        lists[name] = Searcher(col).retrieve_lists(queries, 100, "bm25", FusionConfig())["bm25"]
    # ranx orders tied scores arbitrarily (unstable argsort), so rank-based methods can only be
    # compared on lists without ties: keep the queries whose two lists have none. A one-hit
    # list is left out too: min-max maps it to 1.0 here and to 0.0 in ranx, a documented
    # divergence (hybridir.fusion's docstring; test_constant_lists_diverge_from_ranx below).
    tie_free = [
        q
        for q in queries
        if all(len(set(lists[n][q].scores)) == len(lists[n][q].scores) > 1 for n in lists)
    ]
    assert len(tie_free) >= 50
    return {n: {q: per_query[q] for q in tie_free} for n, per_query in lists.items()}


def ranx_run(per_query: dict[str, RankedList]) -> object:
    # Insertion order = rank order, as ranx's rank-based methods read it.
    return ranx.Run({q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in per_query.items()})


@pytest.mark.parametrize(("ours", "theirs"), list(CASES.items()), ids=[m for m, _ in CASES])
def test_fusion_equals_ranx(
    two_real_lists: Lists, ours: tuple[str, str], theirs: tuple[str | None, str, dict[str, object]]
) -> None:
    method, norm = ours
    ranx_norm, ranx_method, params = theirs
    # hybridir's fuse() sees the lists as "bm25" and "dense"-less names; build it directly.
    from hybridir.fusion import ScoredList, fuse

    config = FusionConfig(method=method, norm=norm, alpha=0.7)
    expected = ranx.fuse(
        runs=[ranx_run(two_real_lists["bm25"]), ranx_run(two_real_lists["other"])],
        norm=ranx_norm,
        method=ranx_method,
        params=params,
    ).to_dict()
    for qid, first in two_real_lists["bm25"].items():
        second = two_real_lists["other"][qid]
        fused = fuse(
            [
                ScoredList("bm25", first.doc_ids, np.asarray(first.scores)),
                ScoredList("other", second.doc_ids, np.asarray(second.scores)),
            ],
            config,
            k=200,
        )
        theirs_q = expected[qid]
        assert set(fused.doc_ids) == set(theirs_q)
        ours_scores = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
        for doc_id, score in theirs_q.items():
            assert ours_scores[doc_id] == pytest.approx(score, rel=1e-6, abs=1e-9)
        # Same ranking, ties broken by doc id on both sides.
        ranked = sorted(theirs_q.items(), key=lambda kv: (-kv[1], kv[0]))
        top = [d for d, _ in ranked[:20]]
        mine = fused.doc_ids[:20]
        for a, b in zip(top, mine, strict=True):
            assert a == b or theirs_q[a] == pytest.approx(theirs_q[b], rel=1e-9)


def test_constant_lists_diverge_from_ranx() -> None:
    """ranx's min-max sends a one-hit or constant list to 0.0 (``(s - min) / 1e-9``), sinking
    its documents; hybridir sends it to 1.0 (every document is the list's top hit). Where the
    list has a spread the two agree (above); z-score agrees everywhere (0.0, the mean)."""
    from ranx.normalization import min_max_norm, zmuv_norm

    from hybridir.fusion import norm_minmax, norm_zscore

    run = ranx.Run({"q": {"a": 3.0, "b": 3.0}, "r": {"c": 7.0}})
    assert min_max_norm(run).to_dict() == {"q": {"a": 0.0, "b": 0.0}, "r": {"c": 0.0}}
    assert norm_minmax(np.array([3.0, 3.0]), 0.0).tolist() == [1.0, 1.0]
    assert norm_minmax(np.array([7.0]), 0.0).tolist() == [1.0]
    assert zmuv_norm(run).to_dict() == {"q": {"a": 0.0, "b": 0.0}, "r": {"c": 0.0}}
    assert norm_zscore(np.array([3.0, 3.0]), 0.0).tolist() == [0.0, 0.0]
