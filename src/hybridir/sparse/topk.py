"""Exact top-k selection for the scoring kernels (numba, compiled on first use and cached).

Hits order by (score desc, tie key asc), the tie key being a row's doc-id sort position.
Small k uses a size-k min-heap whose root is the worst kept hit; large k packs each
candidate into one int64 key, selects the k smallest keys and sorts them, both by radix
(8-bit digits). Dense score arrays first get a safe threshold from the maxima of disjoint
row groups (strided groups for small k, contiguous blocks for large k), so most rows are
rejected without heap work.

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
def _full_block_maxima(bits, maxima):  # type: ignore[no-untyped-def]
    """:func:`_block_maxima` of the full blocks of ``_BLOCK`` rows.

    A function of its own, so the block size is a constant LLVM unrolls and vectorises:
    behind a runtime ``block == _BLOCK`` test, or with the block count passed in rather
    than derived from ``bits``, the same loop ran over twice as slow.
    """
    for blk in range(bits.shape[0] // _BLOCK):
        best = np.int32(0)
        for r in range(blk * _BLOCK, blk * _BLOCK + _BLOCK):
            v = bits[r]
            best = v if v > best else best
        maxima[blk] = best


@kernel()
def _block_maxima(bits, block, maxima):  # type: ignore[no-untyped-def]
    """Per block of ``block`` rows, the max of ``bits`` (int32 view of float32 scores >= 0).

    Non-negative IEEE floats order like their bit patterns, and an integer max reduction
    vectorises where the float one (NaN semantics) does not. The common block size goes to
    :func:`_full_block_maxima`, where it is a compile-time constant.
    """
    n = bits.shape[0]
    n_full = n // block
    if block == _BLOCK:
        _full_block_maxima(bits, maxima)
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


@kernel(inline="always")
def sift_min(heap, size, i):  # type: ignore[no-untyped-def]
    """Restore the min-heap property below ``heap[i]`` in ``heap[:size]`` (any numeric
    values: the int32 bits here, the float32 scores of :mod:`hybridir.sparse.kernels`)."""
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        if left + 1 < size and heap[left + 1] < heap[left]:
            child = left + 1
        if heap[child] < heap[i]:
            heap[i], heap[child] = heap[child], heap[i]
            i = child
        else:
            return


@kernel()
def _kth_largest_bits_heap(values, k):  # type: ignore[no-untyped-def]
    """The k-th largest of int32 ``values`` (``1 <= k <= len(values)``), for small k.

    A size-k min-heap with a root reject (Knuth, TAOCP vol. 3, 5.2.3): one comparison for
    most values, where the radix passes of :func:`_kth_largest_bits` clear and scan 4096
    histogram slots whatever the input size.
    """
    heap = np.empty(k, dtype=np.int32)
    for x in range(k):
        heap[x] = values[x]
    for start in range(k // 2 - 1, -1, -1):
        sift_min(heap, k, start)
    for x in range(k, values.shape[0]):
        v = values[x]
        if v > heap[0]:
            heap[0] = v
            sift_min(heap, k, 0)
    return heap[0]


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


_GROUPS = 128
"""Strided row groups for the small-k floor (at least this many; more on large arrays)."""


@kernel()
def _group_maxima(bits, n_groups, maxima):  # type: ignore[no-untyped-def]
    """``maxima[g]`` = the max of ``bits[g + j * n_groups]`` over the full rounds ``j``.

    Row groups strided by ``n_groups`` make the reduction vertical: each round is one
    contiguous slice maxed element-wise into ``maxima``, which LLVM vectorises. Contiguous
    blocks need a horizontal reduction per block, and that loop ran 8 times slower.
    """
    head = bits[:n_groups]
    for g in range(n_groups):
        maxima[g] = head[g]
    for j in range(1, bits.shape[0] // n_groups):
        row = bits[j * n_groups : j * n_groups + n_groups]
        for g in range(n_groups):
            v = row[g]
            best = maxima[g]
            maxima[g] = v if v > best else best


@kernel()
def _group_candidates(bits, k, maxima_buffer, cand):  # type: ignore[no-untyped-def]
    """The rows of a dense score array (int32 bits of float32 scores) that can be in the
    top k (``k <= HEAP_MAX_K``), into ``cand``; returns their count.

    The floor is the k-th largest maximum of disjoint row groups (:func:`_group_maxima`):
    k distinct rows reach it, so no row below it is a hit (Fagin-style threshold on
    partition maxima, as in block-max top-k; Ding & Suel 2011). Only the groups whose
    maximum reaches it are scanned, branch-free (which rows pass is data-dependent, and a
    branch on it was mispredicted often enough to cost more than the selection).
    """
    n = bits.shape[0]
    n_groups = max(_GROUPS, (n // 64 + 15) // 16 * 16)  # about 64 rows a group
    m = np.int64(0)
    if n < 2 * n_groups:  # too few rows for groups to pay: every positive row
        for r in range(n):
            cand[m] = r
            m += bits[r] > 0
        return m
    maxima = maxima_buffer[:n_groups]
    _group_maxima(bits, n_groups, maxima)
    floor_bits = max(_kth_largest_bits_heap(maxima, k), np.int32(1))  # only positive hits
    n_rounds = n // n_groups
    for g in range(n_groups):
        if maxima[g] < floor_bits:
            continue
        for j in range(n_rounds):
            row = np.uint32(g + j * n_groups)  # unsigned: no wrap-around test on the index
            cand[m] = row
            m += bits[row] >= floor_bits
    for r in range(n_rounds * n_groups, n):  # the last, partial round
        cand[m] = r
        m += bits[r] >= floor_bits
    return m


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

    Small k: the rows :func:`_group_candidates` keeps go to a size-k heap. Large k: only
    blocks whose maximum reaches the :func:`_dense_floor` threshold are visited, and their
    rows at or above it go to a radix selection and sort.
    """
    n = scores.shape[0]
    bits = scores.view(np.int32)
    if k > HEAP_MAX_K:
        floor_bits, block, maxima = _dense_floor(bits, k, maxima_buffer)
        floor_bits = max(floor_bits, np.int32(1))  # only positive scores are hits
        m = np.int64(0)
        for blk in range(maxima.shape[0]):
            if maxima[blk] < floor_bits:
                continue
            for r in range(blk * block, min(n, (blk + 1) * block)):
                cand[m] = r
                m += bits[r] >= floor_bits
        return top_k_by_sort(scores, cand, m, tie_key, row_of_key, k, out_rows, out_scores)
    m = _group_candidates(bits, k, maxima_buffer, cand)
    size = np.int64(0)
    root = np.float32(0.0)
    for j in range(m):
        r = cand[j]
        s = scores[r]
        # Equal scores can still enter (smaller tie key), hence "<", not "<=".
        if s < root or not live[r]:
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
