"""Compiled kernels of the batch analyzer (:mod:`hybridir.text.batch`): the ``word``
tokenizer's token boundaries found on code points, raw tokens interned in a hash table.

:func:`scan_tokens` finds exactly the matches of :func:`hybridir.text.tokenize._word_pattern`
(``unit(['’.]unit)*``, ``unit`` a run of word characters with runs of zero-width joiners
allowed between them). The pattern is deterministic: once a match starts at a word
character it can always stop, and every optional step (a joiner run, an inner apostrophe
or period) needs a word character after it, so the greedy match ``re`` returns is the
longest one, found here in one forward pass without backtracking. Which code points are
word characters, joiners or inner punctuation comes from a class table built with the
same regular expression (:func:`hybridir.text.batch.char_classes`), so the two agree on
every character by construction.

Raw tokens are interned by open addressing (linear probing, Knuth, TAOCP vol. 3, 6.4) on
an FNV-1a hash (Fowler, Noll, Vo) of their code points with a SplitMix64 finalizer
(Steele, Lea, Flood, OOPSLA 2014); equal hashes are always confirmed by comparing the code
points, so a collision never merges two tokens.

:func:`ascii_forms` normalises new ASCII tokens as the analyzer would before stemming
(ASCII lowercasing is ``A``-``Z`` → ``a``-``z``, exactly what ``str.lower`` does to them),
checking stopwords in a set of the same layout (:func:`hash_all`, :func:`_member`).

The kernels are cached by :func:`hybridir.sparse.jit.kernel` and stamped with this file
(:data:`hybridir.sparse.jit.KERNEL_MODULES`).
"""

from __future__ import annotations

import numpy as np

from hybridir.sparse.jit import kernel

OTHER = 0
WORD = 1
JOINER = 2
INNER = 3
"""Classes of a code point: not in a token, word character (``\\w`` or a combining mark),
zero-width (non-)joiner, and the apostrophes or period that may join two runs."""

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


@kernel(nogil=True)
def _token_end(cps, i, end, classes):  # type: ignore[no-untyped-def]
    """End (exclusive) of the token whose first word character precedes ``i``."""
    while True:
        while i < end and classes[cps[i]] == WORD:
            i += 1
        if i >= end:
            return i
        kind = classes[cps[i]]
        if kind == JOINER:
            j = i + 1
            while j < end and classes[cps[j]] == JOINER:
                j += 1
            if j < end and classes[cps[j]] == WORD:
                i = j
                continue
            return i
        if kind == INNER and i + 1 < end and classes[cps[i + 1]] == WORD:
            i += 1
            continue
        return i


@kernel(nogil=True)
def _hash(cps, start, end):  # type: ignore[no-untyped-def]
    """64-bit FNV-1a of ``cps[start:end]``, finalized with SplitMix64's mixer."""
    h = np.uint64(_FNV_OFFSET)
    for q in range(start, end):
        h = (h ^ np.uint64(cps[q])) * np.uint64(_FNV_PRIME)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@kernel(nogil=True)
def _same(store, key_start, cps, start, end):  # type: ignore[no-untyped-def]
    """Whether ``store[key_start:]`` begins with the code points ``cps[start:end]``."""
    q = 0
    while q < end - start and store[key_start + q] == cps[start + q]:
        q += 1
    return q == end - start


@kernel(nogil=True)
def rehash(hashes, n_raw, size):  # type: ignore[no-untyped-def]
    """A slot table of ``size`` (a power of two) holding raw ids ``0..n_raw-1``."""
    slots = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for r in range(n_raw):
        pos = np.int64(hashes[r] & mask)
        while slots[pos] >= 0:
            pos = (pos + 1) & (size - 1)
        slots[pos] = r
    return slots


@kernel(nogil=True)
def scan_tokens(cps, text_ptr, classes, table, state, raw_ids, tok_ptr):  # type: ignore[no-untyped-def]
    """Raw-token ids of every token of every text, interning tokens not seen before.

    Stops early, with ``state`` saying where, when the table is full: the caller grows
    it and calls again (so the loop never reallocates).

    Args:
        cps: uint32 code points of the texts, concatenated.
        text_ptr: int64 offsets; text ``t`` is ``cps[text_ptr[t]:text_ptr[t+1]]``.
        classes: uint8 class (:data:`WORD`, …) of every code point ``0..0x10FFFF``.
        table: ``(slots, hashes, key_ptr, store)``: the int32 hash table of raw ids
            (power-of-two size, ``-1`` empty, at most half full), the uint64 hash of each
            raw id, and int64 offsets of each raw id's uint32 code points in ``store``.
        state: int64 ``[text, position, tokens written, raw ids, size]``: where to
            resume, updated in place (``size``: code points of the token that did not
            fit). Raw ids interned by this scan follow those there were, their code points
            in ``store`` in id order.
        raw_ids: int32 out, the raw id of every token (room for ``len(cps) // 2 +
            len(text_ptr)``, the most tokens there can be).
        tok_ptr: int64 out ``[n_texts + 1]``; text ``t``'s tokens are
            ``raw_ids[tok_ptr[t]:tok_ptr[t+1]]``.

    Returns:
        Whether every text was scanned (``False``: grow the table and call again).
    """
    slots, hashes, key_ptr, store = table
    n_texts = text_ptr.shape[0] - 1
    mask = slots.shape[0] - 1
    t, i, n_tok, n_raw = state[0], state[1], state[2], state[3]
    full = False
    while t < n_texts:
        end = text_ptr[t + 1]
        while i < end:
            if classes[cps[i]] != WORD:
                i += 1
                continue
            start = i
            stop = _token_end(cps, i + 1, end, classes)
            size = stop - start
            h = _hash(cps, start, stop)
            pos = np.int64(h & np.uint64(mask))
            r = np.int64(slots[pos])
            while r >= 0:
                if (
                    hashes[r] == h
                    and key_ptr[r + 1] - key_ptr[r] == size
                    and _same(store, key_ptr[r], cps, start, stop)
                ):
                    break
                pos = (pos + 1) & mask
                r = np.int64(slots[pos])
            if r < 0:
                if (
                    2 * (n_raw + 1) > slots.shape[0]
                    or n_raw + 1 >= hashes.shape[0]
                    or key_ptr[n_raw] + size > store.shape[0]
                ):
                    full = True
                    state[4] = size
                    break
                r = n_raw
                store[key_ptr[r] : key_ptr[r] + size] = cps[start:stop]
                key_ptr[r + 1] = key_ptr[r] + size
                hashes[r] = h
                slots[pos] = r
                n_raw += 1
            raw_ids[n_tok] = r
            n_tok += 1
            i = stop
        if full:
            break
        tok_ptr[t + 1] = n_tok
        t += 1
        if t < n_texts:
            i = text_ptr[t]
    state[0], state[1], state[2], state[3] = t, i, n_tok, n_raw
    return not full


@kernel(nogil=True)
def kept_terms(raw_ids, tok_ptr, raw_term):  # type: ignore[no-untyped-def]
    """Term ids of the tokens (``raw_term[raw id]``), the dropped ones (``-1``) left out.

    Returns:
        ``(term_ids int32, ptr int64[n_texts+1])``.
    """
    n_texts = tok_ptr.shape[0] - 1
    out = np.empty(raw_ids.shape[0], dtype=np.int32)
    ptr = np.zeros(n_texts + 1, dtype=np.int64)
    n = 0
    for t in range(n_texts):
        for i in range(tok_ptr[t], tok_ptr[t + 1]):
            term = raw_term[raw_ids[i]]
            if term >= 0:
                out[n] = term
                n += 1
        ptr[t + 1] = n
    return out[:n].copy(), ptr


@kernel(nogil=True)
def weighted_fields(term_ids, ptr, n_docs, weight):  # type: ignore[no-untyped-def]
    """Per document, field-1 terms ``weight`` times then field-2 terms.

    ``term_ids``/``ptr`` hold ``2 * n_docs`` texts: document ``d``'s first field is text
    ``d``, its second text ``n_docs + d``.

    Returns:
        ``(term_ids int32, ptr int64[n_docs+1])``.
    """
    total = 0
    for d in range(n_docs):
        total += weight * (ptr[d + 1] - ptr[d]) + ptr[n_docs + d + 1] - ptr[n_docs + d]
    out = np.empty(total, dtype=np.int32)
    out_ptr = np.zeros(n_docs + 1, dtype=np.int64)
    n = 0
    for d in range(n_docs):
        for _ in range(weight):
            for i in range(ptr[d], ptr[d + 1]):
                out[n] = term_ids[i]
                n += 1
        for i in range(ptr[n_docs + d], ptr[n_docs + d + 1]):
            out[n] = term_ids[i]
            n += 1
        out_ptr[d + 1] = n
    return out, out_ptr


@kernel(nogil=True)
def first_occurrence(term_ids, n_terms):  # type: ignore[no-untyped-def]
    """Term ids renumbered ``0, 1, …`` in order of first occurrence.

    Returns:
        ``(local int32, order int64)``: the renumbered ids, and the old id of each new one.
    """
    local_of = np.full(n_terms, -1, dtype=np.int32)
    order = np.empty(min(n_terms, term_ids.shape[0]), dtype=np.int64)
    local = np.empty(term_ids.shape[0], dtype=np.int32)
    n = 0
    for i in range(term_ids.shape[0]):
        t = term_ids[i]
        if local_of[t] < 0:
            local_of[t] = n
            order[n] = t
            n += 1
        local[i] = local_of[t]
    return local, order[:n].copy()


@kernel(nogil=True)
def hash_all(cps, ptr):  # type: ignore[no-untyped-def]
    """:func:`_hash` of each key ``cps[ptr[j]:ptr[j+1]]`` (a set's keys, for :func:`rehash`)."""
    n = ptr.shape[0] - 1
    hashes = np.empty(max(n, 1), dtype=np.uint64)
    for j in range(n):
        hashes[j] = _hash(cps, ptr[j], ptr[j + 1])
    return hashes


@kernel(nogil=True)
def _member(keys, cps, start, end):  # type: ignore[no-untyped-def]
    """Whether ``cps[start:end]`` is a key of the set ``keys = (slots, hashes, ptr, store)``.

    The same probe as :func:`scan_tokens`' own, which keeps it inline: a shared probe
    function (even inlined by numba) made the scan about a quarter slower on SciFact."""
    slots, hashes, key_ptr, store = keys
    mask = slots.shape[0] - 1
    h = _hash(cps, start, end)
    pos = np.int64(h & np.uint64(mask))
    while slots[pos] >= 0:
        k = slots[pos]
        if (
            hashes[k] == h
            and key_ptr[k + 1] - key_ptr[k] == end - start
            and _same(store, key_ptr[k], cps, start, end)
        ):
            return True
        pos = (pos + 1) & mask
    return False


@kernel(nogil=True)
def ascii_forms(store, key_ptr, first, last, rules, stopwords, status, out):  # type: ignore[no-untyped-def]
    """The analyzer's normalisation of the ASCII raw tokens ``first..last-1``, before
    stemming: lowercase (``A``-``Z`` only, as ``str.lower`` on ASCII), a trailing ``'s``
    stripped, then dropped when too short, too long or a stopword.

    Args:
        store, key_ptr: the raw tokens' code points (:func:`scan_tokens`'s table).
        rules: int64 ``[lowercase, strip_possessive, min_length, max_length]``.
        stopwords: the stopword set as ``(slots, hashes, ptr, store)``.
        status: int8 out, per token: 0 dropped, 1 kept (its form is the next line of
            ``out``), 2 not ASCII (left to the analyzer's own code).
        out: uint8 out, room for the tokens' characters (ASCII: one byte each) and a
            newline after each.

    Returns:
        How many bytes of ``out`` hold the kept forms, a newline after each.
    """
    lowercase, possessive, min_length, max_length = rules[0], rules[1], rules[2], rules[3]
    n = 0
    for r in range(first, last):
        a, b = key_ptr[r], key_ptr[r + 1]
        plain = True
        for i in range(a, b):
            if store[i] >= 128:
                plain = False
                break
        if not plain:
            status[r - first] = 2
            continue
        start = n
        for i in range(a, b):
            c = store[i]
            if lowercase and 65 <= c <= 90:
                c += 32
            out[n] = c
            n += 1
        if possessive and n - start >= 2 and out[n - 1] == 115 and out[n - 2] == 39:
            n -= 2  # "'s"
        size = n - start
        if size == 0 or size < min_length or size > max_length or _member(stopwords, out, start, n):
            n = start
            status[r - first] = 0
            continue
        out[n] = 10
        n += 1
        status[r - first] = 1
    return n


@kernel(nogil=True)
def token_lines(store, key_ptr, ids):  # type: ignore[no-untyped-def]
    """The code points of raw tokens ``ids``, a newline between each two."""
    n = ids.shape[0]
    total = max(n - 1, 0)
    for j in range(n):
        total += key_ptr[ids[j] + 1] - key_ptr[ids[j]]
    out = np.empty(total, dtype=np.uint32)
    at = 0
    for j in range(n):
        if j:
            out[at] = 10
            at += 1
        for i in range(key_ptr[ids[j]], key_ptr[ids[j] + 1]):
            out[at] = store[i]
            at += 1
    return out
