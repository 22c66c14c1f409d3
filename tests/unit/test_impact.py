"""Impact index: quantization by hand, exact top-k against brute force, segment exactness,
term contributions, inference-free weights and the token-weight table (no model needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridir.config import SpladeConfig
from hybridir.errors import ConfigError
from hybridir.learn.token_weights import fit_token_weights
from hybridir.sparse.encoders import SparseVector
from hybridir.sparse.impact import (
    SegmentedImpacts,
    build_impacts,
    idf_queries,
    quantize,
    table_queries,
)

VOCAB = tuple(f"t{i}" for i in range(40))


def vec(pairs: dict[int, float]) -> SparseVector:
    ids = np.asarray(sorted(pairs), dtype=np.int32)
    return SparseVector(ids, np.asarray([pairs[i] for i in sorted(pairs)], dtype=np.float32))


def test_quantize_by_hand() -> None:
    scale = 4.0 / 255  # 0.0156862…
    q = quantize(vec({3: 0.005, 5: 0.5, 7: 2.0, 9: 9.0}), scale)
    # 0.005/scale = 0.32 → dropped; 0.5/scale = 31.875 → 32; 2.0/scale = 127.5 → 128
    # (round half to even); 9.0 clips to 255.
    assert q.ids.tolist() == [5, 7, 9]
    assert q.weights.tolist() == [32.0, 128.0, 255.0]


def test_quantize_keeps_top_terms_with_ties_by_id() -> None:
    q = quantize(vec({1: 1.0, 2: 3.0, 4: 1.0, 6: 2.0}), 1 / 255, max_terms=3)
    assert q.ids.tolist() == [1, 2, 6]  # 1.0 tie between ids 1 and 4: the smaller id stays


def random_vectors(rng: np.random.Generator, n: int) -> list[SparseVector]:
    out = []
    for _ in range(n):
        ids = rng.choice(len(VOCAB), size=int(rng.integers(0, 12)), replace=False)
        out.append(vec({int(i): float(rng.uniform(0.0, 3.0)) for i in ids}))
    return out


def brute_force(
    vectors: list[SparseVector], doc_ids: list[str], query: dict[str, float], scale: float
) -> list[tuple[str, float]]:
    """Dot products in the kernel's own arithmetic order-independent float64, sorted by
    (score desc, doc id asc), documents with a positive score only."""
    out = []
    for d, v in zip(doc_ids, vectors, strict=True):
        q = quantize(v, scale)
        w = {VOCAB[i]: float(np.float32(x * scale)) for i, x in zip(q.ids, q.weights, strict=True)}
        s = sum(qw * w[t] for t, qw in query.items() if t in w)
        if s > 0:
            out.append((d, s))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def test_top_k_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = random_vectors(rng, 200)
    doc_ids = [f"d{i:03d}" for i in range(200)]
    scale = SpladeConfig().scale
    index = SegmentedImpacts([build_impacts(vectors, VOCAB, doc_ids, scale)], [None], scale)
    for _ in range(20):
        terms = rng.choice(len(VOCAB), size=5, replace=False)
        query = {VOCAB[int(t)]: float(np.float32(rng.uniform(0.1, 2.0))) for t in terms}
        expected = brute_force(vectors, doc_ids, query, scale)[:10]
        (hits,) = index.search([query], 10)
        assert hits.doc_ids == [d for d, _ in expected]
        np.testing.assert_allclose(hits.scores, [s for _, s in expected], rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 59), max_size=3))
def test_segments_and_deletions_equal_a_fresh_build(seed: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    vectors = random_vectors(rng, 60)
    doc_ids = [f"d{i:02d}" for i in range(60)]
    dead = set(rng.choice(60, size=10, replace=False).tolist())
    scale = 0.05
    bounds = [0, *sorted(set(cuts)), 60]
    segments, live = [], []
    for a, b in itertools.pairwise(bounds):
        segments.append(build_impacts(vectors[a:b], VOCAB, doc_ids[a:b], scale))
        live.append(np.asarray([i not in dead for i in range(a, b)]))
    split = SegmentedImpacts(segments, live, scale)
    kept = [i for i in range(60) if i not in dead]
    fresh = SegmentedImpacts(
        [build_impacts([vectors[i] for i in kept], VOCAB, [doc_ids[i] for i in kept], scale)],
        [None],
        scale,
    )
    queries = [
        {VOCAB[int(t)]: float(np.float32(rng.uniform(0.1, 2.0))) for t in rng.choice(40, 6)}
        for _ in range(5)
    ]
    for k in (1, 5, 100):
        assert split.search(queries, k) == fresh.search(queries, k)


def test_term_contributions_sum_to_the_score() -> None:
    rng = np.random.default_rng(1)
    vectors = random_vectors(rng, 50)
    doc_ids = [f"d{i}" for i in range(50)]
    index = SegmentedImpacts([build_impacts(vectors, VOCAB, doc_ids, 0.02)], [None], 0.02)
    query = {VOCAB[i]: 1.5 - 0.1 * i for i in range(10)}
    (hits,) = index.search([query], 5)
    for doc_id, score in zip(hits.doc_ids, hits.scores, strict=True):
        parts = index.term_contributions(index.rows_of([doc_id])[0], query, top=100)
        assert sum(w for _, w in parts) == pytest.approx(score, rel=1e-5)
        assert [w for _, w in parts] == sorted((w for _, w in parts), reverse=True)


class FakeEncoder:
    """A stand-in SPLADE encoder: whitespace tokens of a fixed vocabulary, and query
    weights that are a known function of the token."""

    name = "fake"
    vocab = ("[PAD]", "apple", "banana", "cherry", "date")

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return [[self.vocab.index(w) for w in t.split() if w in self.vocab] for t in texts]

    def encode_queries(self, texts: list[str]) -> list[SparseVector]:
        out = []
        for ids in self.tokenize(texts):
            # apple → 2.0, banana → 0 (ignored, like a stopword), others → 1.0; plus an
            # expansion term the text does not contain.
            weights = {i: {1: 2.0, 2: 0.0}.get(i, 1.0) for i in set(ids)}
            weights[4] = 0.5
            out.append(vec({i: w for i, w in weights.items() if w > 0}))
        return out


def test_idf_query_weights() -> None:
    docs = [vec({1: 1.0}), vec({1: 1.0, 2: 1.0}), vec({3: 1.0})]
    index = SegmentedImpacts(
        [build_impacts(docs, FakeEncoder.vocab, ["a", "b", "c"], 0.1)], [None], 0.1
    )
    (weights,) = idf_queries(FakeEncoder(), lambda: index.idf, ["apple apple cherry date"], None)
    idf = lambda df: float(np.log1p((3 - df + 0.5) / (df + 0.5)))  # noqa: E731
    # apple twice (df 2), cherry once (df 1); date is in no document and is dropped.
    assert weights == pytest.approx({"apple": 2 * idf(2), "cherry": idf(1)})


def test_token_weight_table_distils_the_encoder() -> None:
    encoder = FakeEncoder()
    idf = {"apple": 0.5, "banana": 0.7, "cherry": 1.0, "date": 2.0}
    table = fit_token_weights(encoder, ["apple banana", "apple cherry"], idf)
    w = table.weights
    # Seen tokens: their mean self-weight; banana was ignored by the encoder.
    assert w[1] == pytest.approx(2.0)
    assert w[2] == 0.0
    assert w[3] == pytest.approx(1.0)
    # Unseen "date": the line through (idf, weight) of seen tokens at idf 2.0.
    slope, intercept = np.polyfit([0.5, 0.7, 1.0], [2.0, 0.0, 1.0], 1)
    assert w[4] == pytest.approx(max(intercept + slope * 2.0, 0.0), abs=1e-6)
    (weights,) = table_queries(encoder, None, ["cherry apple apple"], table)  # type: ignore[arg-type]
    assert weights == pytest.approx({"cherry": 1.0, "apple": 4.0})


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="query mode"):
        SpladeConfig(query_mode="magic")
    with pytest.raises(ConfigError, match="query_model"):
        SpladeConfig(query_mode="table")
    with pytest.raises(ConfigError, match="max_terms"):
        SpladeConfig(max_terms=0)
    assert SpladeConfig.from_dict(SpladeConfig(max_terms=8).to_dict()) == SpladeConfig(max_terms=8)
