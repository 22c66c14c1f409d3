"""Exact top-k selection for the scoring kernels (numba, compiled on first use).

Hits order by (score desc, tie key asc), the tie key being a row's doc-id sort position.
Small k uses a size-k min-heap whose root is the worst kept hit; large k packs each
candidate into one int64 key and partitions then sorts. Dense score arrays first get a safe
threshold from block maxima, so most rows are rejected without heap work.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
def top_k_dense(  # type: ignore[no-untyped-def]
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
    if k > HEAP_MAX_K:
        m = 0
        for blk in range(maxima.shape[0]):
            if maxima[blk] >= floor_bits:
                for r in range(blk * block, min(n, (blk + 1) * block)):
                    if bits[r] >= floor_bits:
                        cand[m] = r
                        m += 1
        return top_k_by_sort(scores, cand, m, tie_key, row_of_key, k, out_rows, out_scores)
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
def top_k_sparse(scores, touched, n_touched, tie_key, k, h_s, h_r, h_k, out_rows, out_scores):  # type: ignore[no-untyped-def]
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


HEAP_MAX_K = 64
"""Up to this k a size-k heap selects the hits; above it, a partition then a sort."""


@njit(cache=True)
def top_k_by_sort(scores, cand, n_cand, tie_key, row_of_key, k, out_rows, out_scores):  # type: ignore[no-untyped-def]
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
