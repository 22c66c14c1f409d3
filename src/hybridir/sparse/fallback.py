"""The query kernels in plain numpy, for a process whose kernels are not compiled yet.

:func:`score_queries` takes the arguments of :func:`hybridir.sparse.kernels.score_queries`
and fills the same outputs with the same hits and bit-identical scores, without numba: a
fresh install answers its first query at once while the kernels compile in the background
(:mod:`hybridir.sparse.jit`). It scores every posting of the query's terms (no pruning,
no dense rows), so it is slower on large collections; it is a stopgap, never the steady
state.

Why the scores are identical: both add each term's float32 product ``q_weight · weight``
to a float32 accumulator, term by term in the same order (decreasing ``q_weight ·
order_key``, ties by position), so every sum rounds the same way. The kernel's dense rows
add ``q_weight · 0`` for the rows a term lacks, which leaves a sum unchanged, and its
pruning only skips rows that cannot reach the top k.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def score_queries(
    indptr: Array,
    doc_rows: Array,
    weights: Array,
    dense_of_term: Array,
    dense_weights: Array,
    term_max: Array,
    order_key: Array,
    live: Array,
    dead_rows: Array,
    tie_key: Array,
    row_of_key: Array,
    q_ptr: Array,
    q_terms: Array,
    q_weights: Array,
    k: int,
    first: int,
    last: int,
    scores: Array,
    seen: Array,
    touched: Array,
    buffer: Array,
    maxima_buffer: Array,
    stamp_base: int,
    out_rows: Array,
    out_scores: Array,
    out_counts: Array,
) -> None:
    """Exact top-k of queries ``first..last-1`` into ``out_*[q]``, as the kernel does.

    The arguments the kernel needs only for its pruning, dense rows and scratch buffers
    (``dense_of_term`` … ``term_max``, ``dead_rows``, ``row_of_key``, ``scores`` …
    ``stamp_base``) are accepted and ignored.
    """
    n_docs = live.shape[0]
    for q in range(first, last):
        lo, hi = int(q_ptr[q]), int(q_ptr[q + 1])
        terms, q_w = q_terms[lo:hi], q_weights[lo:hi]
        acc = np.zeros(n_docs, dtype=np.float32)
        key = q_w.astype(np.float64) * order_key[terms]
        for j in np.argsort(-key, kind="stable").tolist():
            start, end = int(indptr[terms[j]]), int(indptr[terms[j] + 1])
            acc[doc_rows[start:end]] += q_w[j] * weights[start:end]
        hits = np.flatnonzero((acc > 0) & live)
        best = hits[np.lexsort((tie_key[hits], -acc[hits]))[:k]]
        out_rows[q, : len(best)] = best
        out_scores[q, : len(best)] = acc[best]
        out_counts[q] = len(best)


def count_query_terms(
    found: Array, ptr: Array, n_terms: int
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    """:func:`hybridir.sparse.kernels.count_query_terms` by one sort of (query, term) keys:
    each query's distinct known terms in order of first occurrence, with their counts."""
    n_queries = len(ptr) - 1
    query = np.repeat(np.arange(n_queries, dtype=np.int64), np.diff(ptr))
    known = found >= 0
    key = query[known] * n_terms + found[known]
    unique, first, counts = np.unique(key, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    unique, counts = unique[order], counts[order]
    q_ptr = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(unique // n_terms, minlength=n_queries), out=q_ptr[1:])
    return q_ptr, (unique % n_terms).astype(np.int32), counts.astype(np.float32)
