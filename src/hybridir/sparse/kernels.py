"""Numba kernels for building postings and exact top-k term-at-a-time scoring.

Compiled on first call and cached on disk (``cache=True``); nothing compiles at import.
:func:`score_queries` releases the GIL, so callers parallelise a batch with plain threads,
each owning its scratch buffers (numba's ``parallel=True`` made the same loop ten times
slower here).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
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


@njit(cache=True, inline="always")
def _worse(s_a, k_a, s_b, k_b):  # type: ignore[no-untyped-def]
    """True when hit a ranks below hit b: lower score, or equal score and larger tie key."""
    return s_a < s_b or (s_a == s_b and k_a > k_b)


@njit(cache=True)
def _sift_down(h_s, h_r, h_k, size, i):  # type: ignore[no-untyped-def]
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(h_s[right], h_k[right], h_s[left], h_k[left]):
            child = right
        if _worse(h_s[child], h_k[child], h_s[i], h_k[i]):
            h_s[i], h_s[child] = h_s[child], h_s[i]
            h_r[i], h_r[child] = h_r[child], h_r[i]
            h_k[i], h_k[child] = h_k[child], h_k[i]
            i = child
        else:
            return


@njit(cache=True)
def _heap_offer(h_s, h_r, h_k, size, k, s, r, kk):  # type: ignore[no-untyped-def]
    """Offer hit (s, r, kk) to a size-k min-heap (root = worst kept); returns the new size."""
    if size < k:
        i = size
        h_s[i] = s
        h_r[i] = r
        h_k[i] = kk
        while i > 0:
            parent = (i - 1) // 2
            if _worse(h_s[i], h_k[i], h_s[parent], h_k[parent]):
                h_s[i], h_s[parent] = h_s[parent], h_s[i]
                h_r[i], h_r[parent] = h_r[parent], h_r[i]
                h_k[i], h_k[parent] = h_k[parent], h_k[i]
                i = parent
            else:
                break
        return size + 1
    if _worse(h_s[0], h_k[0], s, kk):
        h_s[0] = s
        h_r[0] = r
        h_k[0] = kk
        _sift_down(h_s, h_r, h_k, size, 0)
    return size


@njit(cache=True)
def _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """Pop worst-first into the tail of the output so the best hit ends up first."""
    n = size
    while size > 0:
        size -= 1
        out_rows[size] = h_r[0]
        out_scores[size] = h_s[0]
        h_s[0] = h_s[size]
        h_r[0] = h_r[size]
        h_k[0] = h_k[size]
        _sift_down(h_s, h_r, h_k, size, 0)
    return n


_BLOCK = 64


@njit(cache=True)
def _block_maxima(bits, block, maxima):  # type: ignore[no-untyped-def]
    """Per block of ``block`` rows, the max of ``bits`` (int32 view of float32 scores >= 0).

    Non-negative IEEE floats order like their bit patterns, and an integer max reduction
    vectorises where the float one (NaN semantics) does not. The common block size is a
    compile-time constant so LLVM can unroll it.
    """
    n = bits.shape[0]
    n_full = n // block
    if block == _BLOCK:
        for blk in range(n_full):
            best = np.int32(0)
            for r in range(blk * _BLOCK, blk * _BLOCK + _BLOCK):
                v = bits[r]
                best = v if v > best else best
            maxima[blk] = best
    else:
        for blk in range(n_full):
            best = np.int32(0)
            for r in range(blk * block, blk * block + block):
                v = bits[r]
                best = v if v > best else best
            maxima[blk] = best
    if n_full < maxima.shape[0]:
        best = np.int32(0)
        for r in range(n_full * block, n):
            v = bits[r]
            best = v if v > best else best
        maxima[n_full] = best


@njit(cache=True)
def _dense_floor(bits, k, maxima_buffer):  # type: ignore[no-untyped-def]
    """A safe threshold for a dense score array: the k-th largest block maximum.

    At least k rows (one per block) reach it, so no row below it can be in the top k.
    Blocks are sized to give about 4k of them (64 rows at most); below 8 rows per block the
    floor would cost as much as it saves, so every row is kept (one block per row is never
    built). Returns ``(floor_bits, block, maxima)``; ``floor_bits`` is 0 without a floor.
    """
    n = bits.shape[0]
    block = min(_BLOCK, n // (4 * k))
    if block < 8:
        block = n if n > 0 else 1
    n_blocks = (n + block - 1) // block
    maxima = maxima_buffer[:n_blocks]
    _block_maxima(bits, block, maxima)
    floor_bits = np.int32(0)
    if n_blocks > k:
        floor_bits = np.partition(maxima.copy(), n_blocks - k)[n_blocks - k]
    return floor_bits, block, maxima


@njit(cache=True)
def _top_k_dense(  # type: ignore[no-untyped-def]
    scores,
    live,
    tie_key,
    row_of_key,
    k,
    maxima_buffer,
    cand,
    h_s,
    h_r,
    h_k,
    out_rows,
    out_scores,
):
    """Exact top-k over every row with a positive score (deleted rows must hold 0).

    Only blocks whose maximum reaches the :func:`_dense_floor` threshold are visited; their
    rows at or above it go to the heap (small k) or to a partition and sort (large k).
    """
    n = scores.shape[0]
    bits = scores.view(np.int32)
    floor_bits, block, maxima = _dense_floor(bits, k, maxima_buffer)
    floor_bits = max(floor_bits, np.int32(1))  # only positive scores are hits
    if k > _HEAP_MAX_K:
        m = 0
        for blk in range(maxima.shape[0]):
            if maxima[blk] >= floor_bits:
                for r in range(blk * block, min(n, (blk + 1) * block)):
                    if bits[r] >= floor_bits:
                        cand[m] = r
                        m += 1
        return _top_k_by_sort(scores, cand, m, tie_key, row_of_key, k, out_rows, out_scores)
    floor_value = np.array([floor_bits], dtype=np.int32).view(np.float32)[0]
    size = 0
    root = floor_value
    for blk in range(maxima.shape[0]):
        # Equal scores can still enter (smaller tie key), hence "<", not "<=".
        if maxima[blk] < floor_bits:
            continue
        for r in range(blk * block, min(n, (blk + 1) * block)):
            s = scores[r]
            if s < root or not live[r]:
                continue
            size = _heap_offer(h_s, h_r, h_k, size, k, s, r, tie_key[r])
            if size == k:
                root = max(h_s[0], floor_value)
    return _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores)


@njit(cache=True)
def _top_k_sparse(scores, touched, n_touched, tie_key, k, h_s, h_r, h_k, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """Exact top-k over the touched rows with a positive score (rows are distinct)."""
    size = 0
    root = np.float32(0.0)
    for j in range(n_touched):
        r = touched[j]
        s = scores[r]
        if s < root or s <= 0.0:
            continue
        size = _heap_offer(h_s, h_r, h_k, size, k, s, r, tie_key[r])
        if size == k:
            root = h_s[0]
    return _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores)


_HEAP_MAX_K = 64
"""Up to this k a size-k heap selects the hits; above it, a partition then a sort."""


@njit(cache=True)
def _top_k_by_sort(scores, cand, n_cand, tie_key, row_of_key, k, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """Exact top-k of the candidate rows with a positive score, for large k.

    Each candidate becomes one int64 key, (inverted score bits) << 32 | tie key: non-negative
    float32 scores order like their bit patterns, so ascending keys are (score desc, doc id
    asc) and every key is unique. A partition keeps the k smallest, a sort orders them:
    O(candidates + k log k) instead of a heap's O(candidates · log k).
    """
    bits = scores.view(np.int32)
    keys = np.empty(n_cand, dtype=np.int64)
    m = 0
    for j in range(n_cand):
        r = cand[j]
        b = bits[r]
        if b > 0:
            keys[m] = (np.int64(0x7FFFFFFF - b) << 32) | np.int64(tie_key[r])
            m += 1
    chosen = keys[:m]
    if m > k:
        chosen = np.partition(chosen, k - 1)[:k]
    chosen = np.sort(chosen)
    for i in range(chosen.shape[0]):
        r = row_of_key[chosen[i] & 0xFFFFFFFF]
        out_rows[i] = r
        out_scores[i] = scores[r]
    return chosen.shape[0]


_PRUNE_MARGIN = 1e-5
"""Relative slack on upper bounds, so float32 rounding never makes pruning inexact."""


@njit(cache=True)
def _kth_largest(scores, touched, n_touched, k, buffer):  # type: ignore[no-untyped-def]
    """The k-th largest of ``scores[touched[:n_touched]]`` (requires ``n_touched >= k``)."""
    for x in range(n_touched):
        buffer[x] = scores[touched[x]]
    return np.partition(buffer[:n_touched], n_touched - k)[n_touched - k]


@njit(cache=True)
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
        rows = doc_rows[begin : indptr[t + 1]]
        for x in range(n_cand):
            r = touched[x]
            pos = np.searchsorted(rows, r)
            if pos < rows.shape[0] and rows[pos] == r:
                scores[r] += qw * weights[begin + pos]


@njit(cache=True)
def _to_dense(scores, touched, n_touched, buffer):  # type: ignore[no-untyped-def]
    """Turn sparse accumulators (valid only at touched rows) into a dense score array."""
    for x in range(n_touched):
        buffer[x] = scores[touched[x]]
    scores[:] = 0.0
    for x in range(n_touched):
        scores[touched[x]] = buffer[x]


@njit(cache=True, inline="always")
def _accumulate_dense(t, qw, indptr, doc_rows, weights, dense_of_term, dense_weights, scores):  # type: ignore[no-untyped-def]
    d = dense_of_term[t]
    if d >= 0:
        # Frequent terms also have a dense weight row: a contiguous, vectorised add beats
        # scattering their long posting lists.
        row = dense_weights[d]
        for r in range(scores.shape[0]):
            scores[r] += qw * row[r]
    else:
        for p in range(indptr[t], indptr[t + 1]):
            scores[doc_rows[p]] += qw * weights[p]


@njit(cache=True, inline="always")
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


@njit(cache=True, nogil=True)
def score_queries(  # type: ignore[no-untyped-def]
    indptr,
    doc_rows,
    weights,
    dense_of_term,
    dense_weights,
    term_max,
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
    stamp_base,
    out_rows,
    out_scores,
    out_counts,
):
    """Exact top-k of queries ``first..last-1``, term at a time, into ``out_*[q]``.

    Terms are taken by decreasing upper bound (``qw · term_max``). Accumulators start
    sparse: only touched rows are visited, marked by ``seen[r] == stamp`` (stamps never
    repeat across calls, as callers advance ``stamp_base``, so buffers are never cleared).

    Pruning (exact; Turtle & Flood's max-score idea, term at a time): after a term, when the
    remaining terms' upper bounds sum below the current k-th accumulator, no untouched row
    can enter the top k; the rows that still can are finished by binary search in the
    remaining posting lists instead of scanning them.

    When the touched rows would exceed a quarter of the collection, the accumulators turn
    dense (reset, contiguous adds for frequent terms, block-threshold selection).
    """
    n_docs = scores.shape[0]
    maxima_buffer = np.empty(n_docs, dtype=np.int32)
    buffer = np.empty(n_docs, dtype=np.float32)
    h_s = np.empty(k, dtype=np.float32)
    h_r = np.empty(k, dtype=np.int32)
    h_k = np.empty(k, dtype=np.int32)
    for q in range(first, last):
        lo = q_ptr[q]
        n_terms = q_ptr[q + 1] - lo
        ub = np.empty(n_terms, dtype=np.float64)
        rest_ub = 0.0
        rest_postings = 0
        for x in range(n_terms):
            t = q_terms[lo + x]
            ub[x] = q_weights[lo + x] * term_max[t]
            rest_ub += ub[x]
            rest_postings += indptr[t + 1] - indptr[t]
        # Highest-impact (rarest) terms first: they decide the top k early, which lets
        # the long lists of frequent terms be skipped (see the docstring).
        order = np.argsort(-ub, kind="mergesort")
        dense = False
        n_touched = 0
        stamp = stamp_base + q + 1
        for i in range(n_terms):
            j = lo + order[i]
            t = q_terms[j]
            df = indptr[t + 1] - indptr[t]
            rest_ub -= ub[order[i]]
            rest_postings -= df
            if not dense and 4 * (n_touched + df) > n_docs:
                _to_dense(scores, touched, n_touched, buffer)
                dense = True
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
            if i + 1 < n_terms and k <= n_touched <= rest_postings:
                theta = _kth_largest(scores, touched, n_touched, k, buffer)
                bound = rest_ub * (1.0 + _PRUNE_MARGIN)
                if bound < theta:
                    # No untouched row can reach the k-th score any more: keep the rows
                    # that still can, and finish them by lookup.
                    n_cand = 0
                    for x in range(n_touched):
                        if scores[touched[x]] + bound >= theta:
                            n_cand += 1
                    if 16 * n_cand < rest_postings:
                        n_cand = 0
                        for x in range(n_touched):
                            if scores[touched[x]] + bound >= theta:
                                touched[n_cand] = touched[x]
                                n_cand += 1
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
            out_counts[q] = _top_k_dense(
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
            continue
        if k > _HEAP_MAX_K:
            out_counts[q] = _top_k_by_sort(
                scores, touched, n_touched, tie_key, row_of_key, k, out_rows[q], out_scores[q]
            )
        else:
            out_counts[q] = _top_k_sparse(
                scores, touched, n_touched, tie_key, k, h_s, h_r, h_k, out_rows[q], out_scores[q]
            )
