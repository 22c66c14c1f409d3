"""Numba kernels for building postings and exact top-k term-at-a-time scoring.

Compiled on first call and cached on disk (:mod:`hybridir.sparse.jit`); nothing compiles at
import. :func:`score_queries` releases the GIL, so callers parallelise a batch with plain
threads, each owning its scratch buffers (numba's ``parallel=True`` made the same loop ten
times slower here). Each kernel is compiled for one signature only: callers pass plain, writable,
C-contiguous arrays (memory-mapped postings are mapped copy-on-write).
"""

from __future__ import annotations

import numpy as np

from hybridir.sparse.jit import kernel
from hybridir.sparse.topk import (
    HEAP_MAX_K,
    _heap_drain,
    _heap_offer,
    sift_min,
    top_k_by_sort,
    top_k_dense,
)


@kernel()
def build_postings(term_ids, doc_ptr, n_terms):  # type: ignore[no-untyped-def]
    """Term-major postings from token term ids grouped per document.

    Two counting passes (document frequency, then placement), so each term's postings come
    out sorted by document row without a sort: O(tokens + terms).

    Args:
        term_ids: int32 term id of every token, documents concatenated.
        doc_ptr: int64 offsets, ``doc_ptr[d]:doc_ptr[d+1]`` are document ``d``'s tokens.
        n_terms: vocabulary size.

    Returns:
        ``(indptr int64[n_terms+1], doc_rows int32[nnz], tfs int32[nnz])``.
    """
    n_docs = doc_ptr.shape[0] - 1
    df = np.zeros(n_terms, dtype=np.int64)
    last = np.full(n_terms, -1, dtype=np.int64)
    for d in range(n_docs):
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            t = term_ids[i]
            if last[t] != d:
                last[t] = d
                df[t] += 1
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    for t in range(n_terms):
        indptr[t + 1] = indptr[t] + df[t]
    nnz = indptr[n_terms]
    doc_rows = np.empty(nnz, dtype=np.int32)
    tfs = np.zeros(nnz, dtype=np.int32)
    cursor = indptr[:-1].copy()
    slot = np.empty(n_terms, dtype=np.int64)
    last[:] = -1
    for d in range(n_docs):
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            t = term_ids[i]
            if last[t] != d:
                last[t] = d
                slot[t] = cursor[t]
                cursor[t] += 1
                doc_rows[slot[t]] = d
            tfs[slot[t]] += 1
    return indptr, doc_rows, tfs


_MAX_CHECKS = 2
"""Pruning checks per query at most (each costs a pass over the touched rows)."""

_PRUNE_MARGIN = 1e-5
"""Relative slack on upper bounds, so float32 rounding never makes pruning inexact."""


@kernel()
def count_query_terms(found, ptr, n_terms):  # type: ignore[no-untyped-def]
    """Each query's distinct known terms in order of first occurrence, with their counts.

    Args:
        found: int64 term id of every query token (``-1``: not in the vocabulary),
            queries concatenated.
        ptr: int64 offsets, query ``q``'s tokens are ``found[ptr[q]:ptr[q+1]]``.
        n_terms: vocabulary size.

    Returns:
        ``(q_ptr int64[n_queries+1], q_terms int32, q_weights float32)``.
    """
    n_queries = ptr.shape[0] - 1
    last = np.full(n_terms, -1, dtype=np.int32)  # the query that last met each term
    slot = np.empty(n_terms, dtype=np.int64)  # where in the output it did
    q_ptr = np.zeros(n_queries + 1, dtype=np.int64)
    terms = np.empty(found.shape[0], dtype=np.int32)
    weights = np.empty(found.shape[0], dtype=np.float32)
    n = 0
    for q in range(n_queries):
        for i in range(ptr[q], ptr[q + 1]):
            t = found[i]
            if t < 0:
                continue
            if last[t] == q:
                weights[slot[t]] += 1
            else:
                last[t] = q
                slot[t] = n
                terms[n] = t
                weights[n] = 1
                n += 1
        q_ptr[q + 1] = n
    return q_ptr, terms[:n].copy(), weights[:n].copy()


@kernel()
def _kth_largest(scores, touched, n_touched, k, heap):  # type: ignore[no-untyped-def]
    """The k-th largest of ``scores[touched[:n_touched]]`` (requires ``n_touched >= k``).

    A size-k min-heap of scores with a root reject: one comparison for most rows (numba's
    ``np.partition`` copies and was several times slower here).
    """
    for x in range(k):
        heap[x] = scores[touched[x]]
    # heapify
    for start in range(k // 2 - 1, -1, -1):
        sift_min(heap, k, start)
    for x in range(k, n_touched):
        s = scores[touched[x]]
        if s > heap[0]:
            heap[0] = s
            sift_min(heap, k, np.int64(0))
    return heap[0]


@kernel()
def _finish_by_lookup(  # type: ignore[no-untyped-def]
    indptr,
    doc_rows,
    weights,
    q_terms,
    q_weights,
    order,
    lo,
    start,
    scores,
    touched,
    n_cand,
):
    """Add the remaining terms' weights to the candidates only, by binary search.

    Posting lists are sorted by row, so each (candidate, term) pair costs O(log df)
    instead of a scan of the whole list.
    """
    for i in range(start, order.shape[0]):
        j = lo + order[i]
        t = q_terms[j]
        qw = q_weights[j]
        begin = indptr[t]
        end = indptr[t + 1]
        for x in range(n_cand):
            r = touched[x]
            left = begin
            right = end
            while left < right:  # the first posting with a row >= r
                mid = (left + right) >> 1
                if doc_rows[mid] < r:
                    left = mid + 1
                else:
                    right = mid
            if left < end and doc_rows[left] == r:
                scores[r] += qw * weights[left]


@kernel()
def _by_decreasing_key(key, src, dst):  # type: ignore[no-untyped-def]
    """Positions of ``key`` by decreasing value, equal values in position order: a stable
    bottom-up merge sort (what ``np.argsort(-key, kind="mergesort")`` gives).

    ``src`` and ``dst`` (int64, as long as ``key`` at least) are scratch; the result is a
    view of one of them.
    """
    n = key.shape[0]
    src = src[:n]
    dst = dst[:n]
    for i in range(n):
        src[i] = i
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            for o in range(lo, hi):
                # the right run's head goes first only when strictly greater (stability)
                if j < hi and (i >= mid or key[src[j]] > key[src[i]]):
                    dst[o] = src[j]
                    j += 1
                else:
                    dst[o] = src[i]
                    i += 1
        src, dst = dst, src
        width *= 2
    return src


@kernel(inline="always")
def _scatter(rows, term_weights, qw, scores):  # type: ignore[no-untyped-def]
    """``scores[rows[i]] += qw * term_weights[i]`` for one posting list.

    Rows go in as unsigned: numba wraps negative signed indices around (a test and an add
    per posting), which made this loop, the kernel's hottest, 1.6x slower on SciFact.
    """
    for i in range(rows.shape[0]):
        scores[np.uint32(rows[i])] += qw * term_weights[i]


@kernel(inline="always")
def _accumulate_dense(t, qw, indptr, doc_rows, weights, dense_of_term, dense_weights, scores):  # type: ignore[no-untyped-def]
    d = dense_of_term[t]
    if d >= 0:
        # Frequent terms also have a dense weight row: a contiguous, vectorised add beats
        # scattering their long posting lists.
        row = dense_weights[d]
        for r in range(scores.shape[0]):
            scores[r] += qw * row[r]
    else:
        begin, end = indptr[t], indptr[t + 1]
        _scatter(doc_rows[begin:end], weights[begin:end], qw, scores)


@kernel(inline="always")
def _accumulate_sparse(  # type: ignore[no-untyped-def]
    t, qw, indptr, doc_rows, weights, live, scores, seen, stamp, touched, n_touched
):
    for p in range(indptr[t], indptr[t + 1]):
        r = doc_rows[p]
        if seen[r] != stamp:
            if not live[r]:
                continue
            seen[r] = stamp
            touched[n_touched] = r
            n_touched += 1
            scores[r] = qw * weights[p]
        else:
            scores[r] += qw * weights[p]
    return n_touched


@kernel()
def _scatter_top_k(  # type: ignore[no-untyped-def]
    indptr,
    doc_rows,
    weights,
    live,
    tie_key,
    q_terms,
    q_weights,
    lo,
    order,
    k,
    scores,
    h_s,
    h_r,
    h_k,
    out_rows,
    out_scores,
):
    """Exact top-k (k <= HEAP_MAX_K) of one sparse query into a zeroed dense accumulator.

    Term at a time, each posting is one branch-free add into ``scores`` (all zero on
    entry), in ``order``. A second pass over the same postings reads each row's sum, resets
    it to zero (so ``scores`` is all zero again on return, and a row in several lists is
    offered once: its later visits read 0) and offers the live positive ones to a size-k
    heap with a root reject. Against per-row "seen" stamps and a touched list (one more
    random access and a hard-to-predict branch per posting), this is the plain scatter of
    a dense accumulator (Turtle & Flood 1995, term-at-a-time) with the reset confined to
    the rows the query touched.
    """
    for i in range(order.shape[0]):
        j = lo + order[i]
        t = q_terms[j]
        qw = q_weights[j]
        begin, end = indptr[t], indptr[t + 1]
        _scatter(doc_rows[begin:end], weights[begin:end], qw, scores)
    size = np.int64(0)
    root = np.float32(0.0)
    for i in range(order.shape[0]):
        t = q_terms[lo + i]
        for p in range(indptr[t], indptr[t + 1]):
            r = np.uint32(doc_rows[p])  # unsigned: no wrap-around test (see _scatter)
            s = scores[r]
            scores[r] = 0.0
            # "not s > 0" also drops zero sums and rows already offered (now 0)
            if not s > 0.0 or s < root or not live[r]:
                continue
            size = _heap_offer(h_s, h_r, h_k, size, k, s, np.int64(r), tie_key[r])
            if size == k:
                root = h_s[0]
    return _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores)


@kernel(nogil=True)
def score_queries(  # type: ignore[no-untyped-def]
    indptr,
    doc_rows,
    weights,
    dense_of_term,
    dense_weights,
    term_max,
    order_key,
    live,
    dead_rows,
    tie_key,
    row_of_key,
    q_ptr,
    q_terms,
    q_weights,
    k,
    first,
    last,
    scores,
    seen,
    touched,
    buffer,
    maxima_buffer,
    stamp_base,
    out_rows,
    out_scores,
    out_counts,
):
    """Exact top-k of queries ``first..last-1``, term at a time, into ``out_*[q]``.

    Terms are taken by decreasing ``qw · order_key`` (the caller passes each term's largest
    live weight over the whole collection, so every segment of a live collection, and a
    fresh build of its live documents, adds a document's term weights in the same order and
    gets bit-identical float32 scores); pruning uses the upper bounds ``qw · term_max``.
    ``scores`` is all zero on entry and on return (callers allocate it zeroed; every path
    zeroes what it wrote). A sparse query with ``k <= HEAP_MAX_K`` scatters into it and
    resets only the rows its postings name (:func:`_scatter_top_k`). For larger k,
    accumulators start sparse: only touched rows are visited, marked by
    ``seen[r] == stamp`` (stamps never repeat across calls, as callers advance
    ``stamp_base``, so ``seen`` is never cleared). ``scores``, ``seen``, ``touched``,
    ``buffer`` (float32) and ``maxima_buffer`` (int32) are the caller's scratch, one row
    each per collection row (allocating them per call cost more than scoring a short
    query on a large collection); per-term scratch is allocated once per call.

    Pruning (sparse queries with k > HEAP_MAX_K; exact; Turtle & Flood's max-score idea,
    term at a time): after a term, when the remaining terms' upper bounds sum below the
    current k-th accumulator, no untouched row can enter the top k; the rows that still can
    are finished by binary search in the remaining posting lists instead of scanning them.

    A query whose lists cover a quarter of the collection is dense from the start
    (contiguous adds for frequent terms, block-threshold selection, reset at the end); a
    sparse one never touches more rows than its lists hold, so it stays sparse.
    """
    n_docs = scores.shape[0]
    h_s = np.empty(k, dtype=np.float32)
    h_r = np.empty(k, dtype=np.int32)
    h_k = np.empty(k, dtype=np.int32)
    # Per-term scratch, sized once for the longest query (not allocated per query).
    most_terms = 0
    for q in range(first, last):
        most_terms = max(most_terms, q_ptr[q + 1] - q_ptr[q])
    ub_buffer = np.empty(most_terms, dtype=np.float64)
    key_buffer = np.empty(most_terms, dtype=np.float64)
    order_src = np.empty(most_terms, dtype=np.int64)
    order_dst = np.empty(most_terms, dtype=np.int64)
    for q in range(first, last):
        lo = q_ptr[q]
        n_terms = q_ptr[q + 1] - lo
        ub = ub_buffer[:n_terms]
        key = key_buffer[:n_terms]
        rest_ub = 0.0
        rest_postings = 0
        for x in range(n_terms):
            t = q_terms[lo + x]
            ub[x] = q_weights[lo + x] * term_max[t]
            key[x] = q_weights[lo + x] * order_key[t]
            rest_ub += ub[x]
            rest_postings += indptr[t + 1] - indptr[t]
        # Highest-impact (rarest) terms first: they decide the top k early, which lets
        # the long lists of frequent terms be skipped (see the docstring).
        order = _by_decreasing_key(key, order_src, order_dst)
        # A query whose lists cover a quarter of the collection goes dense from the start:
        # a reset plus contiguous adds beat per-row bookkeeping, and pruning rarely pays.
        dense = 4 * rest_postings >= n_docs
        if not dense and k <= HEAP_MAX_K:
            out_counts[q] = _scatter_top_k(
                indptr,
                doc_rows,
                weights,
                live,
                tie_key,
                q_terms,
                q_weights,
                lo,
                order,
                k,
                scores,
                h_s,
                h_r,
                h_k,
                out_rows[q],
                out_scores[q],
            )
            continue
        n_touched = np.int64(0)
        stamp = stamp_base + q + 1
        done_ub = 0.0  # no accumulator can exceed the bounds of the terms already scored
        checks = 0
        for i in range(n_terms):
            j = lo + order[i]
            t = q_terms[j]
            df = indptr[t + 1] - indptr[t]
            rest_ub -= ub[order[i]]
            done_ub += ub[order[i]]
            rest_postings -= df
            if dense:
                _accumulate_dense(
                    t, q_weights[j], indptr, doc_rows, weights, dense_of_term, dense_weights, scores
                )
                continue
            n_touched = _accumulate_sparse(
                t,
                q_weights[j],
                indptr,
                doc_rows,
                weights,
                live,
                scores,
                seen,
                stamp,
                touched,
                n_touched,
            )
            # The k-th accumulator costs O(touched) to find: look for it only when it is
            # likely to beat the remaining bounds (under half of what was scored so far),
            # when the lists it would skip are much longer, and twice per query at most.
            if (
                i + 1 < n_terms
                and checks < _MAX_CHECKS
                and 2 * rest_ub < done_ub
                and k <= n_touched
                and 16 * n_touched <= rest_postings
            ):
                checks += 1
                theta = _kth_largest(scores, touched, n_touched, k, buffer)
                bound = rest_ub * (1.0 + _PRUNE_MARGIN)
                if bound < theta:
                    # No untouched row can reach the k-th score any more: keep the rows
                    # that still can, and finish them by lookup.
                    n_cand = np.int64(0)
                    for x in range(n_touched):
                        if scores[touched[x]] + bound >= theta:
                            n_cand += 1
                    if 16 * n_cand < rest_postings:
                        n_cand = np.int64(0)
                        for x in range(n_touched):
                            r = touched[x]
                            if scores[r] + bound >= theta:
                                touched[n_cand] = r
                                n_cand += 1
                            else:
                                scores[r] = 0.0  # dropped: zero again (see below)
                        _finish_by_lookup(
                            indptr,
                            doc_rows,
                            weights,
                            q_terms,
                            q_weights,
                            order,
                            lo,
                            i + 1,
                            scores,
                            touched,
                            n_cand,
                        )
                        n_touched = n_cand
                        break
        if dense:
            for r in dead_rows:
                scores[r] = 0.0
            out_counts[q] = top_k_dense(
                scores,
                live,
                tie_key,
                row_of_key,
                k,
                maxima_buffer,
                touched,
                h_s,
                h_r,
                h_k,
                out_rows[q],
                out_scores[q],
            )
            scores[:] = 0.0
            continue
        # sparse with k > HEAP_MAX_K (smaller k went to _scatter_top_k)
        out_counts[q] = top_k_by_sort(
            scores, touched, n_touched, tie_key, row_of_key, k, out_rows[q], out_scores[q]
        )
        for x in range(n_touched):
            scores[touched[x]] = 0.0
