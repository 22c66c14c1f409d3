"""Rerankers: the generic reorder step, the real CrossEncoder path on a tiny seeded model,
and the collaborative features (hand-computed micro-fixtures)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hybridir import Collection, Document
from hybridir.collection import Collection as _Collection
from hybridir.errors import ConfigError
from hybridir.learn.collaborative import _space_features
from hybridir.rerank import (
    CrossEncoderReranker,
    passage_texts,
    rerank,
    reranker_from_spec,
)
from hybridir.search import Searcher
from hybridir.types import Hit

DOCS = [
    Document("d1", "bm25 ranks documents by term statistics"),
    Document("d2", "dense vectors encode meaning of passages"),
    Document("d3", "hybrid search fuses sparse and dense lists"),
    Document("d4", "cross encoders read the query and passage together"),
    Document("d5", "reciprocal rank fusion combines rankings"),
    Document("d6", "term statistics drive sparse retrieval of documents"),
    Document("d7", "passages about cooking pasta"),
]


@pytest.fixture(scope="module")
def col(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    c = Collection.create(tmp_path_factory.mktemp("rr") / "c")
    c.add(DOCS)
    return c


class _Fixed:
    """Scores hits by a fixed table."""

    name = "fixed"

    def __init__(self, table: dict[str, float], depth: int) -> None:
        self.table = table
        self.depth = depth

    def scores(self, collection: _Collection, query: str, hits: Sequence[Hit]) -> np.ndarray:
        return np.array([self.table[h.doc_id] for h in hits])


def _hits(ids: Sequence[str]) -> list[Hit]:
    return [Hit(d, 10.0 - i, i + 1) for i, d in enumerate(ids)]


def test_rerank_reorders_the_head_and_keeps_the_tail(col: Collection) -> None:
    hits = _hits(["a", "b", "c", "d", "e"])
    fixed = _Fixed({"a": 0.1, "b": 0.9, "c": 0.9}, depth=3)
    out, seconds = rerank(fixed, col, "q", hits)
    # b and c tie at 0.9 → doc id order; the tail keeps its fused order below the head
    assert [h.doc_id for h in out] == ["b", "c", "a", "d", "e"]
    assert [h.rank for h in out] == [1, 2, 3, 4, 5]
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    assert scores[3] < 0.1
    assert out[0].contributions[-1].retriever == "rerank"
    assert out[0].contributions[-1].rank == 1
    assert out[3].contributions == ()
    assert seconds >= 0


def test_rerank_rejects_wrong_shapes(col: Collection) -> None:
    class Bad(_Fixed):
        def scores(self, collection: _Collection, query: str, hits: Sequence[Hit]) -> np.ndarray:
            return np.zeros(len(hits) + 1)

    with pytest.raises(Exception, match="returned"):
        rerank(Bad({}, depth=2), col, "q", _hits(["a", "b"]))


def test_cross_encoder_path_shapes_order_determinism_and_depth(
    col: Collection, tiny_cross_encoder: Path
) -> None:
    reranker = CrossEncoderReranker(str(tiny_cross_encoder), depth=4, batch_size=3)
    searcher = Searcher(col, "bm25", reranker=reranker)
    query = "sparse dense passages documents term rank"
    first = searcher.search(query, k=6)
    again = searcher.search(query, k=6)
    assert [h.doc_id for h in first.hits] == [h.doc_id for h in again.hits]
    assert [h.score for h in first.hits] == pytest.approx([h.score for h in again.hits])
    reranked = [h for h in first.hits if h.contributions[-1].retriever == "rerank"]
    assert len(reranked) == 4  # depth cap
    scores = [h.score for h in reranked]
    assert scores == sorted(scores, reverse=True)
    # the scores are the cross-encoder's own on (query, title + text) pairs
    texts = passage_texts(col, [h.doc_id for h in reranked])
    direct = reranker.model.predict([(query, t) for t in texts])
    assert scores == pytest.approx(np.asarray(direct, dtype=float).tolist(), abs=1e-5)
    plain = searcher.search(query, k=6, rerank=False)
    assert {h.doc_id for h in plain.hits[:4]} == {h.doc_id for h in reranked}
    assert "rerank" in first.timings
    assert "rerank" not in plain.timings


def test_reranker_specs(col: Collection) -> None:
    with pytest.raises(ConfigError, match="unknown reranker"):
        reranker_from_spec(col, "magic:x")
    with pytest.raises(ConfigError, match="needs a model"):
        reranker_from_spec(col, "cross-encoder")
    with pytest.raises(ConfigError, match="trained model"):
        reranker_from_spec(col, "collaborative")
    with pytest.raises(ConfigError, match="no reranker"):
        Searcher(col, "bm25").search("x", rerank=True)


def test_space_features_by_hand() -> None:
    sims = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.4], [0.2, 0.4, 1.0]])
    f = _space_features(sims)
    assert f.shape == (3, 5 + 2)
    assert list(f[0, :3]) == [1.0, 0.5, 0.2]
    assert np.isnan(f[0, 3:5]).all()
    # mean over the other candidates (self excluded), top 10 = all three here
    assert f[0, 5] == pytest.approx(0.35)
    assert f[1, 6] == pytest.approx(0.45)


def test_doc_vectors_are_unit_bm25_rows(col: Collection) -> None:
    index = col.bm25
    vectors = index.doc_vectors
    assert vectors.shape == (len(DOCS), index.stats.n_terms)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    assert norms == pytest.approx(np.ones(len(DOCS)))
    # row d1's weight on "statist" is the BM25 posting weight, scaled by the row norm
    (segment,) = index.indexes  # one add, one segment
    p = segment.postings
    t = index.vocabulary[col.analyzer.analyze("statistics")[0]]
    start, stop = p.indptr[t], p.indptr[t + 1]
    rows = list(p.doc_rows[start:stop])
    raw = segment.weights[start:stop][rows.index(0)]
    dense_row = np.asarray(vectors[0].todense()).ravel()
    by_hand = raw / np.linalg.norm(
        [segment.weights[j] for j in range(len(p.doc_rows)) if p.doc_rows[j] == 0]
    )
    assert dense_row[t] == pytest.approx(by_hand, rel=1e-6)
