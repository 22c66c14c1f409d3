"""Exact top-k selection for the scoring kernels (numba, compiled on first use and cached).

Hits order by (score desc, tie key asc), the tie key being a row's doc-id sort position.
Small k uses a size-k min-heap whose root is the worst kept hit; large k packs each
candidate into one int64 key, selects the k smallest keys and sorts them, both by radix
(8-bit digits). Dense score arrays first get a safe threshold from block maxima, so most
rows are rejected without heap work.

Selections and sorts are written out here rather than taken from numba's ``np.partition`` /
``np.sort``: those compile for several seconds each, and a fresh install compiles every
kernel once (:mod:`hybridir.sparse.jit`).
"""

from __future__ import annotations

import numpy as np

from hybridir.sparse.jit import kernel


@kernel(inline="always")
def _worse(s_a, k_a, s_b, k_b):  # type: ignore[no-untyped-def]
    """True when hit a ranks below hit b: lower score, or equal score and larger tie key."""
    return s_a < s_b or (s_a == s_b and k_a > k_b)


@kernel()
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


@kernel()
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
        _sift_down(h_s, h_r, h_k, size, np.int64(0))
    return size


@kernel()
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
        _sift_down(h_s, h_r, h_k, size, np.int64(0))
    return n


_BLOCK = 64


@kernel()
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


@kernel()
def _kth_largest_bits(values, k):  # type: ignore[no-untyped-def]
    """The k-th largest of non-negative int32 ``values`` (``1 <= k <= len(values)``).

    Radix selection from the top, 11 + 10 + 10 bits: each pass counts the values that share
    the digits chosen so far and picks the next digit that holds the k-th. Three passes over
    the values, no copy.
    """
    hist = np.empty(2048, dtype=np.int64)
    prefix = 0
    need = k
    for p in range(3):
        shift = 20 - 10 * p
        width = 11 if p == 0 else 10
        high = shift + width
        hist[: 1 << width] = 0
        for v in values:
            if (v >> high) == prefix:
                hist[(v >> shift) & ((1 << width) - 1)] += 1
        d = (1 << width) - 1
        while hist[d] < need:
            need -= hist[d]
            d -= 1
        prefix = (prefix << width) | d
    return np.int32(prefix)


@kernel()
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
        floor_bits = _kth_largest_bits(maxima, k)
    return floor_bits, block, maxima


@kernel()
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
    rows at or above it go to the heap (small k) or to a radix selection and sort (large k).
    """
    n = scores.shape[0]
    bits = scores.view(np.int32)
    floor_bits, block, maxima = _dense_floor(bits, k, maxima_buffer)
    floor_bits = max(floor_bits, np.int32(1))  # only positive scores are hits
    if k > HEAP_MAX_K:
        m = np.int64(0)
        for blk in range(maxima.shape[0]):
            if maxima[blk] >= floor_bits:
                for r in range(blk * block, min(n, (blk + 1) * block)):
                    if bits[r] >= floor_bits:
                        cand[m] = r
                        m += 1
        return top_k_by_sort(scores, cand, m, tie_key, row_of_key, k, out_rows, out_scores)
    holder = np.empty(1, dtype=np.float32)  # the floor as a float: its bits, read back
    holder.view(np.int32)[0] = floor_bits
    floor_value = holder[0]
    size = np.int64(0)
    root = floor_value
    for blk in range(maxima.shape[0]):
        # Equal scores can still enter (smaller tie key), hence "<", not "<=".
        if maxima[blk] < floor_bits:
            continue
        for r in range(blk * block, min(n, (blk + 1) * block)):
            s = scores[r]
            if s < root or not live[r]:
                continue
            size = _heap_offer(h_s, h_r, h_k, size, k, s, np.int64(r), tie_key[r])
            if size == k:
                root = max(h_s[0], floor_value)
    return _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores)


@kernel()
def top_k_sparse(scores, touched, n_touched, tie_key, k, h_s, h_r, h_k, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """Exact top-k over the touched rows with a positive score (rows are distinct)."""
    size = np.int64(0)
    root = np.float32(0.0)
    for j in range(n_touched):
        r = touched[j]
        s = scores[r]
        if s < root or s <= 0.0:
            continue
        size = _heap_offer(h_s, h_r, h_k, size, k, s, np.int64(r), tie_key[r])
        if size == k:
            root = h_s[0]
    return _heap_drain(h_s, h_r, h_k, size, out_rows, out_scores)


HEAP_MAX_K = 64
"""Up to this k a size-k heap selects the hits; above it, a partition then a sort."""


@kernel()
def _select_smallest(keys, m, k, spare):  # type: ignore[no-untyped-def]
    """Reorder ``keys[:m]`` (distinct, non-negative int64) so ``keys[:k]`` are the k smallest.

    Radix selection from the top byte down: keys whose digit is below the one holding the
    k-th smallest are kept, those above dropped, the rest go on to the next digit. Each pass
    only reads the keys still undecided. ``spare`` holds at least ``m`` keys.
    """
    hist = np.empty(256, dtype=np.int64)
    kept = np.int64(0)
    n = m
    need = k
    shift = 56
    while need > 0 and need < n and shift >= 0:
        for d in range(256):
            hist[d] = 0
        for i in range(kept, kept + n):
            hist[(keys[i] >> shift) & 255] += 1
        below = 0
        d = 0
        while below + hist[d] < need:
            below += hist[d]
            d += 1
        w = kept
        s = 0
        for i in range(kept, kept + n):
            x = keys[i]
            digit = (x >> shift) & 255
            if digit < d:
                keys[w] = x  # w <= i: never overwrites an unread key
                w += 1
            elif digit == d:
                spare[s] = x
                s += 1
        for j in range(s):
            keys[w + j] = spare[j]
        kept = w
        n = s
        need -= below
        shift -= 8
    return kept + need


@kernel()
def _radix_sort(keys, n, spare):  # type: ignore[no-untyped-def]
    """Sort ``keys[:n]`` (non-negative int64) ascending in place: LSD radix, 8-bit digits,
    skipping the digits every key shares (the high bytes of small tie keys, for one)."""
    hist = np.empty(256, dtype=np.int64)
    src = keys
    dst = spare
    swapped = False
    for shift in range(0, 64, 8):
        hist[:] = 0
        for i in range(n):
            hist[(src[i] >> shift) & 255] += 1
        if n == 0 or hist[(src[0] >> shift) & 255] == n:
            continue
        total = 0
        for d in range(256):
            count = hist[d]
            hist[d] = total
            total += count
        for i in range(n):
            x = src[i]
            d = (x >> shift) & 255
            dst[hist[d]] = x
            hist[d] += 1
        src, dst = dst, src
        swapped = not swapped
    if swapped:
        for i in range(n):
            keys[i] = src[i]


@kernel()
def top_k_by_sort(scores, cand, n_cand, tie_key, row_of_key, k, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """Exact top-k of the candidate rows with a positive score, for large k.

    Each candidate becomes one int64 key, (inverted score bits) << 32 | tie key: non-negative
    float32 scores order like their bit patterns, so ascending keys are (score desc, doc id
    asc) and every key is unique. A radix selection keeps the k smallest, a radix sort orders
    them: O(candidates + k) instead of a heap's O(candidates · log k).
    """
    bits = scores.view(np.int32)
    keys = np.empty(n_cand, dtype=np.int64)
    spare = np.empty(n_cand, dtype=np.int64)
    m = np.int64(0)
    for j in range(n_cand):
        r = cand[j]
        b = bits[r]
        if b > 0:
            keys[m] = (np.int64(0x7FFFFFFF - b) << 32) | np.int64(tie_key[r])
            m += 1
    if m > k:
        m = _select_smallest(keys, m, k, spare)
    _radix_sort(keys, m, spare)
    for i in range(m):
        r = row_of_key[keys[i] & 0xFFFFFFFF]
        out_rows[i] = r
        out_scores[i] = scores[r]
    return m
