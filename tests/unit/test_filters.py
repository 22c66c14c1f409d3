"""Metadata filters inside every list before top-k, and boosts after fusion."""

from __future__ import annotations

import numpy as np
import pytest

from hybridir import Collection, CollectionConfig, ConfigError, Document, Searcher
from hybridir.config import DenseConfig
from hybridir.filters import apply_boosts, filter_mask

WORDS = ["solar", "wind", "hydro", "coal", "grid", "storage"]


def _docs(n: int = 60) -> list[Document]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        meta: dict[str, object] = {"year": 2000 + i % 25, "lang": ["en", "de", "pl"][i % 3]}
        if i % 4 == 0:
            meta["tags"] = ["faq", "energy"] if i % 8 == 0 else ["news"]
        if i % 5 == 0:
            meta["url"] = f"https://{'docs.' if i % 10 == 0 else ''}example.com/p{i}"
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 9))))
        out.append(Document(f"d{i:02d}", text, metadata=meta))
    return out


@pytest.fixture(scope="module")
def col(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    config = CollectionConfig(dense=DenseConfig(model="unused: vectors are given"))
    c = Collection.create(tmp_path_factory.mktemp("f") / "c", config)
    docs = _docs()
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(len(docs), 6)).astype(np.float32)
    c.add(docs[:30], vectors=vectors[:30])
    c.add(docs[30:], vectors=vectors[30:])  # two segments
    c.delete(["d01", "d02"])
    return c


def _ids(col: Collection, spec: dict[str, object]) -> set[str]:
    mask = filter_mask(col.bm25.live_rows, col.metadata_column, spec)
    return {col.bm25.doc_ids[r] for r in np.flatnonzero(mask)}


def _by_hand(col: Collection, keep: object) -> set[str]:
    return {d.doc_id for d in col if keep(d.metadata)}  # type: ignore[operator]


def test_filter_operators(col: Collection) -> None:
    assert _ids(col, {"lang": "de"}) == _by_hand(col, lambda m: m["lang"] == "de")
    assert _ids(col, {"year": {"gte": 2010, "lt": 2015}}) == _by_hand(
        col, lambda m: 2010 <= m["year"] < 2015
    )
    assert _ids(col, {"tags": {"in": ["faq", "other"]}}) == _by_hand(
        col, lambda m: "faq" in m.get("tags", [])
    )
    assert _ids(col, {"url": {"exists": True}}) == _by_hand(col, lambda m: "url" in m)
    assert _ids(col, {"url": {"exists": False}, "lang": "pl"}) == _by_hand(
        col, lambda m: "url" not in m and m["lang"] == "pl"
    )
    assert "d01" not in _ids(col, {"lang": "de"})  # deleted rows never match
    bad_specs = (
        {"year": {"near": 3}},
        {"year": {"gte": "x"}},
        {"tags": {"in": "faq"}},
        {"year": float("nan")},
        {"year": {"in": [2001, float("inf")]}},
        {"year": {"lt": float("nan")}},
    )
    for bad in bad_specs:
        with pytest.raises(ConfigError):
            filter_mask(col.bm25.live_rows, col.metadata_column, bad)


def test_mongo_style_operators_work_and_other_dollar_keys_are_refused(col: Collection) -> None:
    assert _ids(col, {"year": {"$gte": 2010, "$lt": 2015}, "lang": {"$in": ["de"]}}) == _ids(
        col, {"year": {"gte": 2010, "lt": 2015}, "lang": {"in": ["de"]}}
    )
    assert _ids(col, {"lang": {"$eq": "pl"}}) == _by_hand(col, lambda m: m["lang"] == "pl")
    for bad, named in (
        ({"$or": [{"lang": "de"}, {"lang": "pl"}]}, "'$or' is not supported"),
        ({"$and": [{"lang": "de"}]}, "'$and' is not supported"),
        ({"lang": {"$ne": "de"}}, "unknown operator '$ne'"),
        ({"year": {"$nin": [2001]}}, "unknown operator '$nin'"),
    ):
        with pytest.raises(ConfigError, match=r"valid|operators: eq, in, exists") as info:
            filter_mask(col.bm25.live_rows, col.metadata_column, bad)
        assert named in str(info.value)
        assert "gte" in str(info.value)  # the valid operators are listed


def test_filtered_bm25_is_the_top_k_of_the_matching_documents(col: Collection) -> None:
    spec = {"lang": "en", "year": {"gte": 2005}}
    allowed = filter_mask(col.bm25.live_rows, col.metadata_column, spec)
    searcher = Searcher(col, "bm25")
    for query in ("solar grid", "coal", "wind storage hydro"):
        hits = searcher.search(query, k=5, filters=spec).hits
        scores = col.bm25.score_all(col.analyzer.analyze(query))
        terms = set(col.analyzer.analyze(query))
        ids = col.bm25.doc_ids
        pool = [
            (-scores[r], ids[r])
            for r in np.flatnonzero(allowed)
            if terms & set(col.analyzer.analyze(col.get(ids[r]).text))
        ]
        expected = [d for _, d in sorted(pool)[:5]]
        assert [h.doc_id for h in hits] == expected
        assert len(hits) == min(5, len(pool))  # k hits when k match, never padded


def test_filtered_dense_is_exact(col: Collection) -> None:
    spec = {"tags": {"in": ["news"]}}
    allowed = filter_mask(col.bm25.live_rows, col.metadata_column, spec)
    q = np.random.default_rng(9).normal(size=(1, 6)).astype(np.float32)
    rows, scores = col.vectors.search(q, 4, allowed)
    matching = np.flatnonzero(allowed)
    brute = col.vectors.vectors_of(matching.tolist()) @ q[0]
    order = sorted(range(len(matching)), key=lambda i: (-brute[i], col.bm25.doc_ids[matching[i]]))
    assert rows[0].tolist() == [int(matching[i]) for i in order[:4]]
    np.testing.assert_allclose(scores[0], brute[order[:4]], rtol=1e-6)


def test_boosts_reorder_and_explain(col: Collection) -> None:
    searcher = Searcher(col, "bm25")
    plain = searcher.search("solar", k=10).hits
    boosted = searcher.search(
        "solar", k=10, boosts=[{"field": "url", "host": "docs.example.com", "factor": 100.0}]
    ).hits
    docs_host = _by_hand(col, lambda m: "docs.example.com" in m.get("url", ""))
    lifted = [h.doc_id for h in boosted if h.contributions[-1].retriever == "boost"]
    assert lifted
    assert set(lifted) <= docs_host
    assert [h.doc_id for h in boosted[: len(lifted)]] == lifted  # boosted ones come first
    assert {h.doc_id for h in plain} != {h.doc_id for h in boosted} or [
        h.doc_id for h in plain
    ] != [h.doc_id for h in boosted]
    with pytest.raises(ConfigError, match="exactly one of"):
        searcher.search("solar", boosts=[{"field": "url", "factor": 2.0}])
    with pytest.raises(ConfigError, match="positive"):
        searcher.search("solar", boosts=[{"field": "lang", "value": "en", "factor": 0}])


def test_boost_scaling_keeps_signs() -> None:
    scores = np.array([-1.0, 0.5, 2.0])
    out = apply_boosts(scores, np.array([1.0, 3.0, 1.0]))
    np.testing.assert_allclose(out, [-1.0, 3.5, 2.0])


def test_wrong_embedding_dimension_is_rejected_whole(col: Collection) -> None:
    from hybridir import InvalidInputError

    before = len(col)
    generation = col.generation
    with pytest.raises(InvalidInputError, match=r"shape \(2, 6\)"):
        col.add(
            [Document("n1", "solar"), Document("n2", "wind")],
            vectors=np.zeros((2, 5), dtype=np.float32),
        )
    with pytest.raises(InvalidInputError, match="NaN"):
        col.add([Document("n1", "solar")], vectors=np.full((1, 6), np.nan, dtype=np.float32))
    assert len(col) == before
    assert col.generation == generation
