"""BM25 formulas against hand-computed values, and the top-k kernel against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybridir import BM25Config, ConfigError
from hybridir.sparse.bm25 import VARIANTS
from hybridir.sparse.index import BM25Index
from hybridir.sparse.postings import append_postings, build_from_terms
from hybridir.text.batch import term_ids_of

# Three documents; lengths 3, 2, 4; avgdl = 3; N = 3.
DOCS = [["a", "b", "a"], ["b", "c"], ["a", "c", "c", "d"]]
IDS = ["d1", "d2", "d3"]


def index(variant: str, k1: float = 1.2, b: float = 0.75, delta: float = 0.5) -> BM25Index:
    return BM25Index(
        build_from_terms(DOCS, IDS), BM25Config(variant=variant, k1=k1, b=b, delta=delta)
    )


def norm(dl: float) -> float:
    return 1 - 0.75 + 0.75 * dl / 3


def test_lucene_scores_by_hand() -> None:
    # Query "a": df=2 → idf = ln(1 + (3 - 2 + .5)/(2 + .5)) = ln(1.6).
    idf = math.log(1 + 1.5 / 2.5)
    d1 = idf * 2 / (2 + 1.2 * norm(3))
    d3 = idf * 1 / (1 + 1.2 * norm(4))
    scores = index("lucene").score_all(["a"])
    assert scores == pytest.approx([d1, 0.0, d3], rel=1e-6)


def test_atire_and_robertson_by_hand() -> None:
    # "d": df=1. ATIRE idf = ln(3/1); Robertson idf = ln((3-1+.5)/(1+.5)) = ln(5/3).
    tf_okapi = 2.2 * 1 / (1 + 1.2 * norm(4))
    assert index("atire").score_all(["d"])[2] == pytest.approx(math.log(3) * tf_okapi, rel=1e-6)
    tf_lucene = 1 / (1 + 1.2 * norm(4))
    robertson = index("robertson").score_all(["d"])[2]
    assert robertson == pytest.approx(math.log(5 / 3) * tf_lucene, rel=1e-6)
    # "a" and "c" are in 2 of 3 docs: Robertson's inner ratio < 1 → floored idf 0.
    assert index("robertson").score_all(["c"]).tolist() == [0.0, 0.0, 0.0]


def test_bm25l_and_bm25plus_score_absent_terms_by_hand() -> None:
    # BM25L "b" (df=2): idf = ln(4/2.5); c = tf/norm; absent docs get (k1+1)δ/(k1+δ).
    idf_l = math.log(4 / 2.5)
    c1 = 1 / norm(3)
    expected_l = [
        idf_l * 2.2 * (c1 + 0.5) / (1.2 + c1 + 0.5),
        idf_l * 2.2 * (1 / norm(2) + 0.5) / (1.2 + 1 / norm(2) + 0.5),
        idf_l * 2.2 * 0.5 / (1.2 + 0.5),
    ]
    assert index("bm25l").score_all(["b"]) == pytest.approx(expected_l, rel=1e-6)
    # BM25+ "b": idf = ln(4/2); absent docs get idf·δ.
    idf_p = math.log(2)
    expected_p = [
        idf_p * (2.2 / (1 + 1.2 * norm(3)) + 0.5),
        idf_p * (2.2 / (1 + 1.2 * norm(2)) + 0.5),
        idf_p * 0.5,
    ]
    assert index("bm25+").score_all(["b"]) == pytest.approx(expected_p, rel=1e-6)
    # search() returns only documents that contain a query term, with the full score.
    hits = index("bm25+").search([["b"]], k=10)[0]
    assert hits.doc_ids == ["d1", "d2"] or hits.doc_ids == ["d2", "d1"]
    assert sorted(hits.scores) == pytest.approx(sorted(expected_p[:2]), rel=1e-6)


def test_repeated_query_terms_count_twice() -> None:
    idx = index("lucene")
    assert idx.score_all(["a", "a"]) == pytest.approx(2 * idx.score_all(["a"]))


def test_unknown_variant_and_bad_parameters() -> None:
    with pytest.raises(ConfigError, match=r"unknown BM25 variant 'okapi'.*valid"):
        BM25Config(variant="okapi")
    with pytest.raises(ConfigError, match="b must be in"):
        BM25Config(b=1.5)
    with pytest.raises(ConfigError, match="k1 must be"):
        BM25Config(k1=-1)
    # A title counted 10^11 times ran out of memory at index time instead of saying so.
    with pytest.raises(ConfigError, match=r"title_weight must be in \[0, 100\], got 101"):
        BM25Config(title_weight=101)
    assert BM25Config(title_weight=100).title_weight == 100
    assert set(VARIANTS) == {"lucene", "robertson", "atire", "bm25l", "bm25+"}


def brute_force_top_k(scores: np.ndarray, ids: list[str], k: int) -> list[tuple[str, float]]:
    hits = [(ids[i], float(s)) for i, s in enumerate(scores) if s > 0]
    hits.sort(key=lambda h: (-h[1], h[0]))
    return hits[:k]


@pytest.mark.parametrize("n_docs", [7, 300, 2000])
@pytest.mark.parametrize("threads", [1, 2])
def test_top_k_equals_brute_force_with_ties(n_docs: int, threads: int) -> None:
    rng = np.random.default_rng(n_docs)
    # A small vocabulary and short documents make many exact ties; ids are shuffled so that
    # row order and id order differ.
    vocab = [f"t{i}" for i in range(12)]
    docs = [list(rng.choice(vocab, size=int(rng.integers(1, 4)))) for _ in range(n_docs)]
    ids = [f"doc{int(x):05d}" for x in rng.permutation(n_docs)]
    idx = BM25Index(build_from_terms(docs, ids), BM25Config(b=0.0))
    queries = [list(rng.choice(vocab, size=int(rng.integers(1, 5)))) for _ in range(40)]
    queries.append(["unknown-term"])
    for k in (1, 3, 10, 65, 100, n_docs + 5):
        results = idx.search(queries, k=k, n_threads=threads)
        for terms, hits in zip(queries, results, strict=True):
            scores = idx.score_all(terms).astype(np.float32)
            expected = brute_force_top_k(scores, ids, k)
            assert hits.doc_ids == [d for d, _ in expected]
            assert hits.scores == pytest.approx([s for _, s in expected], rel=1e-6)


def test_appending_postings_equals_building_at_once() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(50)]
    docs = [list(rng.choice(vocab, size=int(rng.integers(1, 30)))) for _ in range(120)]
    ids = [f"d{i}" for i in range(120)]
    whole = build_from_terms(docs, ids)
    parts = append_postings(
        build_from_terms(docs[:70], ids[:70]), build_from_terms(docs[70:], ids[70:])
    )
    a, b = BM25Index(whole), BM25Index(parts)
    assert a.stats == b.stats
    for term in vocab[:20]:
        assert a.score_all([term]) == pytest.approx(b.score_all([term]), rel=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_pruned_top_k_equals_brute_force(threads: int) -> None:
    # Zipf-like vocabulary: queries mixing rare (high-impact) and very common terms are the
    # ones where max-score pruning skips the common terms' long lists.
    rng = np.random.default_rng(42)
    n_docs = 3000
    vocab = np.array([f"t{i}" for i in range(3000)])
    probs = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    probs /= probs.sum()
    docs = [list(rng.choice(vocab, size=int(rng.integers(5, 60)), p=probs)) for _ in range(n_docs)]
    ids = [f"d{int(x):05d}" for x in rng.permutation(n_docs)]
    idx = BM25Index(build_from_terms(docs, ids), BM25Config())
    df = dict(zip(idx.postings.terms, idx.postings.document_frequencies(), strict=True))
    rare = [t for t, n in df.items() if 5 <= n <= 40]
    common = sorted(df, key=lambda t: -df[t])[:30]
    queries = [
        [
            *rng.choice(rare, size=int(rng.integers(1, 3))),
            *rng.choice(common, size=int(rng.integers(1, 5))),
        ]
        for _ in range(80)
    ]
    for k in (1, 5, 10, 100):
        results = idx.search(queries, k=k, n_threads=threads)
        for terms, hits in zip(queries, results, strict=True):
            exact = idx.score_all(terms)  # float64: may order float32 near-ties differently
            expected = brute_force_top_k(exact, ids, k)
            assert hits.scores == pytest.approx([s for _, s in expected], rel=1e-5)
            score_of = dict(zip(ids, exact.tolist(), strict=True))
            for got, (want, want_score) in zip(hits.doc_ids, expected, strict=True):
                assert got == want or score_of[got] == pytest.approx(want_score, rel=1e-6)
            # Nothing clearly above the k-th score is missing.
            kth = expected[-1][1]
            must = {d for d, sc in score_of.items() if sc > kth * (1 + 1e-5)}
            assert must <= set(hits.doc_ids)


def test_batch_encoding_counts_each_querys_terms_in_first_occurrence_order() -> None:
    """``encode`` of term lists (one vectorised pass over the batch) gives what a per-query
    count does: distinct in-vocabulary terms in order of first occurrence, weighted by
    their counts, unknown terms dropped, empty queries empty."""
    from collections import Counter

    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    docs = [list(rng.choice(words[:30], size=12)) for _ in range(50)]
    index = BM25Index(build_from_terms(docs, [str(i) for i in range(50)]))
    queries = [list(rng.choice(words, size=int(rng.integers(0, 9)))) for _ in range(200)]
    queries += [[], ["w39", "w39"], ["w1", "w2", "w1", "w38", "w1"]]
    batch = index.encode(queries)
    for q, terms in enumerate(queries):
        counted = Counter(t for t in terms if t in index.vocabulary)
        lo, hi = batch.q_ptr[q], batch.q_ptr[q + 1]
        assert batch.q_terms[lo:hi].tolist() == [index.vocabulary[t] for t in counted]
        assert batch.q_weights[lo:hi].tolist() == [float(c) for c in counted.values()]
    assert batch.q_ptr[-1] == len(batch.q_terms)
    # The same batch given as term ids (``Analyzer.term_ids``' form) encodes the same.
    as_ids = index.encode(term_ids_of(queries))
    for got, want in zip(as_ids, batch, strict=True):
        np.testing.assert_array_equal(got, want)


def test_query_term_counts_compiled_and_in_numpy_agree() -> None:
    """The compiled count of each query's terms and the numpy one give the same arrays."""
    from hybridir.sparse import fallback
    from hybridir.sparse.kernels import count_query_terms

    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 12, size=300)
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    found = rng.integers(-1, 25, size=int(ptr[-1])).astype(np.int64)
    got = count_query_terms(found, ptr, 25)
    want = fallback.count_query_terms(found, ptr, 25)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("variant", ["lucene", "bm25+"])
def test_analysed_ids_encode_as_their_term_lists(variant: str) -> None:
    """A batch analysed to ids (the compiled path and the regex path) encodes exactly as its
    term lists do, the absent-term constants of BM25+ included."""
    from hybridir.sparse.warmup import warm_kernels
    from hybridir.text.analyzer import BATCH_MIN_CHARS, Analyzer

    warm_kernels()  # the large batch then takes the compiled path
    docs = [Analyzer().analyze(t) for t in ["The cats sat", "a dog's bark", "cats and dogs"]]
    idx = BM25Index(build_from_terms(docs, ["a", "b", "c"]), BM25Config(variant=variant))
    texts = ["Cats, cats and unknown words", "", "the the", "Dogs barked at a cat's tail"]
    large = texts * (BATCH_MIN_CHARS // sum(map(len, texts)) + 1)
    for batch in (texts, large):
        analyzer = Analyzer()
        want = idx.encode([analyzer.analyze(t) for t in batch])
        ids = Analyzer()
        got = idx.encode(ids.term_ids(batch))
        assert (ids._table is not None) == (batch is large)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
