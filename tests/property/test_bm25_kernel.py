"""Property: the compiled BM25 kernel returns exactly what the numpy fallback returns (the
same rows in the same order, bit-identical float32 scores) on every path it takes: sparse
queries (scatter + reset), dense ones (strided group floor for small k, block floor for
large k), with many ties, deleted rows, filter masks and deep k, one thread or two, and
over repeated searches that reuse the same scratch buffers (which every path must leave
zeroed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import hybridir.sparse.index as index_module
from hybridir import BM25Config
from hybridir.sparse.index import BM25Index
from hybridir.sparse.postings import build_from_terms

Hits = tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]


def corpus(seed: int, n_docs: int, n_vocab: int, zipf: bool) -> tuple[list[list[str]], list[str]]:
    """Short documents over a small vocabulary (many exact ties), ids shuffled so that row
    order and id order differ; ``zipf`` skews term frequencies (long and short lists)."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"t{i}" for i in range(n_vocab)])
    probs = 1.0 / np.arange(1, n_vocab + 1) ** (1.1 if zipf else 0.0)
    probs /= probs.sum()
    docs = [list(rng.choice(vocab, size=int(rng.integers(1, 6)), p=probs)) for _ in range(n_docs)]
    ids = [f"doc{int(x):06d}" for x in rng.permutation(n_docs)]
    return docs, ids


def queries(seed: int, n_vocab: int, n: int) -> list[list[str]]:
    rng = np.random.default_rng(seed + 1)
    out = [[f"t{int(t)}" for t in rng.integers(0, n_vocab, size=int(rng.integers(1, 6)))]]
    out += [[f"t{int(t)}" for t in rng.integers(0, n_vocab, size=int(rng.integers(1, 6)))]]
    out += [[f"t{int(t)}" for t in rng.integers(0, 4, size=int(rng.integers(1, 4)))]]  # common
    out += [["t0", "t1", "t2", f"t{n_vocab - 1}"], ["unknown-term"], []]
    for _ in range(n):
        out.append([f"t{int(t)}" for t in rng.integers(0, n_vocab, size=int(rng.integers(1, 7)))])
    return out


def fallback_hits(
    idx: BM25Index, batch: Any, k: int, live: NDArray[np.bool_] | None, monkeypatch: Any
) -> Hits:
    """What the numpy fallback answers (the kernel's exactness reference)."""
    with monkeypatch.context() as m:
        m.setattr(index_module, "READINESS", lambda _dispatcher: False)
        return idx.search_encoded(batch, k, 1, live)


def kernel_hits(
    idx: BM25Index,
    batch: Any,
    k: int,
    threads: int,
    live: NDArray[np.bool_] | None,
    monkeypatch: Any,
) -> Hits:
    """What the compiled kernel answers (compiled here if no warm-up has cached it)."""
    with monkeypatch.context() as m:
        m.setattr(index_module, "READINESS", lambda _dispatcher: True)
        return idx.search_encoded(batch, k, threads, live)


def assert_same(got: Hits, want: Hits) -> None:
    rows, scores, counts = got
    w_rows, w_scores, w_counts = want
    np.testing.assert_array_equal(counts, w_counts)
    np.testing.assert_array_equal(rows, w_rows)
    np.testing.assert_array_equal(scores.view(np.int32), w_scores.view(np.int32))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**16),
    n_docs=st.sampled_from([1, 5, 63, 255, 256, 300, 1000, 2500]),
    n_vocab=st.sampled_from([3, 12, 60]),
    zipf=st.booleans(),
    delete_share=st.sampled_from([0.0, 0.1, 0.6]),
    filtered=st.booleans(),
    variant=st.sampled_from(["lucene", "bm25+"]),
)
def test_kernel_equals_fallback(
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    n_docs: int,
    n_vocab: int,
    zipf: bool,
    delete_share: float,
    filtered: bool,
    variant: str,
) -> None:
    docs, ids = corpus(seed, n_docs, n_vocab, zipf)
    rng = np.random.default_rng(seed + 2)
    live = rng.random(n_docs) >= delete_share
    idx = BM25Index(build_from_terms(docs, ids), BM25Config(variant=variant), live=live)
    mask = (rng.random(n_docs) < 0.5) if filtered else None
    batch = idx.encode(queries(seed, n_vocab, 12))
    # Every k path (heap, heap at its limit, sort), twice each: the second search reuses the
    # scratch the first one left, which must be zero again.
    for k in (1, 3, 10, 64, 65, 200, n_docs + 3):
        want = fallback_hits(idx, batch, k, mask, monkeypatch)
        for threads in (1, 2, 1):
            assert_same(kernel_hits(idx, batch, k, threads, mask, monkeypatch), want)


@pytest.mark.parametrize("k", [1, 10, 64, 100])
def test_kernel_equals_fallback_on_many_groups(monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    """A collection large enough for more row groups than the minimum (and a partial last
    round), with a term in every document so that queries go dense."""
    docs, ids = corpus(7, 20_011, 400, zipf=True)
    docs = [[*d, "all"] for d in docs]
    rng = np.random.default_rng(3)
    live = rng.random(len(docs)) >= 0.05
    idx = BM25Index(build_from_terms(docs, ids), BM25Config(), live=live)
    batch = idx.encode([["all"], ["all", "t0"], ["t5", "t1", "all"], ["t399"], ["t3", "t9"]])
    want = fallback_hits(idx, batch, k, None, monkeypatch)
    for threads in (1, 2):
        assert_same(kernel_hits(idx, batch, k, threads, None, monkeypatch), want)
