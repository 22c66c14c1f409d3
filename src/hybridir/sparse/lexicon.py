"""A vocabulary as a compiled hash table: the ids of a whole batch of terms in one call.

``dict.get`` over a batch of fresh strings costs a few cache misses per term: the dict's
index, its entry, the key string it compares with and the id's int object. On SciFact's
300 test queries, analysed with a new analyzer, that was 0.7 ms of a 4.7 ms batch. A
:class:`Lexicon` keeps the same vocabulary in one open-addressing table (linear probing,
Knuth, TAOCP vol. 3, 6.4) whose 16-byte slot holds the first 8 UTF-8 bytes of its key and
the key's id and length: a term of up to 8 bytes is confirmed by its slot alone, a longer
one by its remaining bytes. Hashes are those of :func:`hybridir.text.scan._hash` (FNV-1a
with a SplitMix64 finalizer) over the UTF-8 bytes; equal hashes are always confirmed by
comparing the bytes, so the ids are exactly ``dict.get``'s. The token table and stopword
set of :mod:`hybridir.text.scan` keep another layout (slot → key index, then the key's hash
and code points in arrays of their own): built over the vocabulary, it looked the same
batch up in 514 µs against 343 µs here, its two further arrays costing a dependent cache
miss each.

:meth:`hybridir.sparse.index.BM25Index.encode` uses it for batches of at least
:data:`LEXICON_MIN_TERMS` terms: there it is 1.4–1.7× faster than ``dict.get`` when the
caches are cold and even with it when they are warm (below, ``dict.get`` is as fast and
builds nothing).
Its kernels are cached and stamped like the scoring kernels
(:data:`hybridir.sparse.jit.KERNEL_MODULES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hybridir.sparse.jit import kernel
from hybridir.text.scan import _hash

LEXICON_MIN_TERMS = 256
"""From this many terms a batch is looked up in the :class:`Lexicon` (see the module
docstring and docs/benchmarks.md)."""

_EMPTY = -1
"""The meta word of an empty slot."""

_PREFIX = 8
"""Key bytes kept in the slot itself."""


def utf8_keys(terms: Sequence[str]) -> tuple[NDArray[np.uint8], NDArray[np.int64], bool]:
    """The terms' UTF-8 bytes, each followed by a newline, their offsets (term ``j`` is
    ``data[ptr[j] : ptr[j+1] - 1]``), and whether the offsets are still to be found.

    Terms without a newline of their own (the usual batch) are joined and encoded in one
    call, and the kernel that takes them finds the offsets (:func:`_line_offsets`; UTF-8
    gives the byte 10 to the newline only); a batch with one is encoded term by term.
    ``surrogatepass`` keeps the map one-to-one for any ``str``, lone surrogates included.
    """
    n = len(terms)
    ptr = np.empty(n + 1, dtype=np.int64)
    joined = "\n".join(terms)
    if joined.count("\n") == n - 1:
        data = (joined + "\n").encode("utf-8", "surrogatepass")
        return np.frombuffer(data, dtype=np.uint8), ptr, True
    encoded = [term.encode("utf-8", "surrogatepass") for term in terms]
    ptr[0] = 0
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n) + 1, out=ptr[1:])
    return np.frombuffer(b"\n".join(encoded) + b"\n", dtype=np.uint8), ptr, False


@kernel(inline="always")
def _line_offsets(data, ptr):  # type: ignore[no-untyped-def]
    """``ptr[0] = 0`` and ``ptr[j+1]`` = the offset just past the ``j``-th newline of
    ``data`` (``len(ptr) - 1`` newlines)."""
    ptr[0] = 0
    j = 0
    for i in range(data.shape[0]):
        if data[i] == 10:
            j += 1
            ptr[j] = i + 1


@kernel(inline="always")
def _prefix(data, start, end):  # type: ignore[no-untyped-def]
    """The first (up to) 8 bytes of ``data[start:end]``, little-endian, as an int64."""
    word = np.uint64(0)
    for i in range(start, min(end, start + _PREFIX)):
        word |= np.uint64(data[i]) << np.uint64(8 * (i - start))
    return np.int64(word)


@kernel(inline="always")
def _find(slots, keys, key_ptr, data, start, end):  # type: ignore[no-untyped-def]
    """The slot holding the key ``data[start:end]``, else the empty slot where it would
    go (as ``-1 - slot``)."""
    mask = slots.shape[0] // 2 - 1
    length = end - start
    word = _prefix(data, start, end)
    pos = np.int64(_hash(data, start, end) & np.uint64(mask))
    while True:
        meta = slots[2 * pos + 1]
        if meta == _EMPTY:
            return -1 - pos
        if slots[2 * pos] == word and (meta & 255) == min(length, 255):
            t = meta >> 8
            same = True
            if length > _PREFIX:  # the bytes after the prefix, in the key store
                first = key_ptr[t]
                if key_ptr[t + 1] - 1 - first != length:
                    same = False
                else:
                    for i in range(_PREFIX, length):
                        if keys[first + i] != data[start + i]:
                            same = False
                            break
            if same:
                return pos
        pos = (pos + 1) & mask


@kernel(nogil=True)
def build_slots(keys, key_ptr, split, size):  # type: ignore[no-untyped-def]
    """The slot table (``size`` slots, a power of two) of the keys
    ``keys[key_ptr[t] : key_ptr[t+1] - 1]`` (:func:`utf8_keys`) with ids ``t``:
    ``slots[2s]`` a key's first 8 bytes, ``slots[2s+1]`` its ``id << 8 | min(length, 255)``
    (``-1`` for an empty slot). ``split``: find ``key_ptr`` first. A key given twice keeps
    its later id, as a ``dict`` built in the same order does."""
    if split:
        _line_offsets(keys, key_ptr)
    slots = np.full(2 * size, _EMPTY, dtype=np.int64)
    for t in range(key_ptr.shape[0] - 1):
        start, end = key_ptr[t], key_ptr[t + 1] - 1
        pos = _find(slots, keys, key_ptr, keys, start, end)
        if pos < 0:
            pos = -1 - pos
            slots[2 * pos] = _prefix(keys, start, end)
        slots[2 * pos + 1] = (np.int64(t) << 8) | min(end - start, 255)
    return slots


@kernel(nogil=True)
def lookup_keys(slots, keys, key_ptr, data, ptr, split, out):  # type: ignore[no-untyped-def]
    """``out[j]`` = the id of ``data[ptr[j] : ptr[j+1] - 1]`` in the table (``-1``:
    absent); ``split``: find ``ptr`` first (:func:`utf8_keys`)."""
    if split:
        _line_offsets(data, ptr)
    for j in range(ptr.shape[0] - 1):
        pos = _find(slots, keys, key_ptr, data, ptr[j], ptr[j + 1] - 1)
        out[j] = slots[2 * pos + 1] >> 8 if pos >= 0 else -1


@dataclass(frozen=True)
class Lexicon:
    """Term → id over a fixed list of terms (ids are positions in it).

    Example:
        >>> lexicon = Lexicon.build(["cat", "dog", "hippopotamus"])
        >>> lexicon.lookup(["dog", "cow", "hippopotamus"]).tolist()
        [1, -1, 2]
    """

    slots: NDArray[np.int64]
    keys: NDArray[np.uint8]
    key_ptr: NDArray[np.int64]

    @classmethod
    def build(cls, terms: Sequence[str]) -> Lexicon:
        """The table of ``terms``, at most half full (a term given twice keeps its later
        id, as ``{term: i for i, term in enumerate(terms)}`` does)."""
        keys, key_ptr, split = utf8_keys(terms)
        size = 1 << max(4, (2 * len(terms)).bit_length())
        slots = build_slots(keys, key_ptr, split, size)
        return cls(slots, keys, key_ptr)

    def lookup(self, terms: Sequence[str]) -> NDArray[np.int64]:
        """Each term's id, ``-1`` where it is not in the lexicon (``dict.get``'s answer)."""
        data, ptr, split = utf8_keys(terms)
        out = np.empty(len(terms), dtype=np.int64)
        lookup_keys(self.slots, self.keys, self.key_ptr, data, ptr, split, out)
        return out

    @property
    def nbytes(self) -> int:
        """Memory held by the table and its key store."""
        return int(self.slots.nbytes + self.keys.nbytes + self.key_ptr.nbytes)
