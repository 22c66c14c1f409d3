"""Batch analysis for the ``word`` tokenizer: many texts → term ids, in compiled code.

The texts are scanned as code points by :func:`hybridir.text.scan.scan_tokens`, which finds
the same tokens as the ``word`` regular expression and interns each distinct raw token
once; only the raw tokens never seen before are normalised. Those of ASCII characters
only are lowercased, stripped of a possessive and filtered (length, stopwords) in compiled
code too (:func:`hybridir.text.scan.ascii_forms`, under the analyzer's :class:`AsciiRules`),
so just their forms come back to Python, for one stemmer call; every other new token goes
through the analyzer's own normalisation, exactly as the tokens of
:meth:`hybridir.text.analyzer.Analyzer.analyze` do. Term ids then follow by an array
gather. The per-token work of the regex path (``re.findall``, memo look-ups) is what this
saves: bm25s (Lù, 2024) shows the same split of tokenizing from stemming the vocabulary.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain, islice, pairwise
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hybridir.text.tokenize import (
    INNER_CHARS,
    JOINERS,
    has_joiner,
    without_joiners,
    word_chars,
)

MAX_CODE_POINT = 0x10FFFF
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class TermIds:
    """Index terms of several texts as ids.

    Attributes:
        ids: int32 term id of every kept token, texts concatenated.
        ptr: int64 offsets; text ``t``'s terms are ``ids[ptr[t]:ptr[t+1]]``.
        terms: the term of each id.
    """

    ids: NDArray[np.int32]
    ptr: NDArray[np.int64]
    terms: list[str]

    def lists(self) -> list[list[str]]:
        """The terms of each text, as :meth:`Analyzer.analyze` gives them."""
        table = np.empty(len(self.terms), dtype=object)
        table[:] = self.terms
        flat: list[str] = table[self.ids].tolist()
        bounds = self.ptr.tolist()
        return [flat[a:b] for a, b in pairwise(bounds)]


def term_ids_of(docs_terms: Sequence[Sequence[str]]) -> TermIds:
    """Term lists as ids numbered in order of first occurrence (per-token work in C:
    ``dict.fromkeys``, ``map``); what :func:`hybridir.sparse.postings.build_from_terms`
    indexes, and the regex path's :meth:`Analyzer.term_ids`."""
    vocab = {term: i for i, term in enumerate(dict.fromkeys(chain.from_iterable(docs_terms)))}
    ptr = np.zeros(len(docs_terms) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in docs_terms], out=ptr[1:])
    ids = np.fromiter(
        map(vocab.__getitem__, chain.from_iterable(docs_terms)), dtype=np.int32, count=int(ptr[-1])
    )
    return TermIds(ids, ptr, list(vocab))


@cache
def char_classes() -> NDArray[np.uint8]:
    """Class of every code point (:data:`hybridir.text.scan.WORD`, …), from the ``word``
    tokenizer's own character class, so both agree by construction (about 0.1 s, once)."""
    from hybridir.text.scan import INNER, JOINER, WORD

    every = np.arange(MAX_CODE_POINT + 1, dtype=np.uint32).tobytes()
    text = every.decode("utf-32-le", "surrogatepass")
    classes = np.zeros(MAX_CODE_POINT + 1, dtype=np.uint8)
    for run in re.finditer(word_chars(), text):
        classes[run.start() : run.end()] = WORD
    for ch, kind in [(c, JOINER) for c in JOINERS] + [(c, INNER) for c in INNER_CHARS]:
        if classes[ord(ch)] != 0:  # pragma: no cover - the pattern keeps them apart
            raise AssertionError(f"{ch!r} is both a word character and a separator")
        classes[ord(ch)] = kind
    return classes


def code_points(texts: Sequence[str]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """The texts' code points, joined, and each text's offsets among them."""
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), out=ptr[1:])
    return cps, ptr


Normaliser = Callable[[str], list[str]]
"""Raw tokens, one per line, → their index terms (``""`` for a dropped token), one for one."""


@dataclass(frozen=True)
class AsciiRules:
    """How an analyzer normalises a token of ASCII characters only, which the compiled
    lane (:func:`hybridir.text.scan.ascii_forms`) then does before ``stem``: lowercase
    (``A``-``Z``), strip a trailing ``'s``, drop forms outside the length limits or among
    the stopwords."""

    lowercase: bool
    strip_possessive: bool
    min_length: int
    max_length: int
    stopwords: frozenset[str]
    stem: Callable[[list[str]], list[str]]


class TokenTable:
    """The raw tokens an analyzer has met and the term of each (thread-safe).

    Kept for the analyzer's lifetime, like its memo, so a raw token is normalised once.
    With ``ascii`` rules, ASCII tokens are normalised in compiled code and only their
    forms reach Python (to be stemmed); every other token goes through ``normalise``.
    """

    def __init__(self, normalise: Normaliser, ascii: AsciiRules | None = None) -> None:
        self._normalise = normalise
        self._ascii = ascii
        self._lane: tuple[NDArray[np.int64], tuple[NDArray[Any], ...]] | None = None
        self._lock = threading.Lock()
        # Room for a few thousand raw tokens (a batch of queries) before the first growth.
        self._slots = np.full(8192, -1, dtype=np.int32)
        self._hashes = np.zeros(4096, dtype=np.uint64)
        self._key_ptr = np.zeros(4097, dtype=np.int64)
        self._store = np.zeros(32768, dtype=np.uint32)
        self._n_raw = 0
        self._raw_term = np.zeros(0, dtype=np.int32)  # term id of each raw id, -1 dropped
        # Each term's id + 1 ("" → 0: a dropped token), and the terms by id.
        self._term_id: dict[str, int] = {"": 0}
        self._terms: list[str] = []

    def term_ids(self, texts: Sequence[str]) -> TermIds:
        """Index terms of each text, as ids numbered in order of first occurrence in the
        batch, with only the terms it uses (the numbering of
        :func:`hybridir.sparse.postings.build_from_terms`)."""
        from hybridir.text.scan import kept_terms

        with self._lock:
            raw_ids, tok_ptr = self._scan(texts)
            ids, ptr = kept_terms(raw_ids, tok_ptr, self._raw_term)
            return batch_local(ids, ptr, self._terms)

    def _scan(self, texts: Sequence[str]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """Raw ids of every token; the raw tokens new to the table get their term."""
        from hybridir.text.scan import scan_tokens

        cps, text_ptr = code_points(texts)
        classes = char_classes()
        first_new = self._n_raw
        state = np.array([0, 0, 0, self._n_raw, 0], dtype=np.int64)
        raw_ids = np.empty(len(cps) // 2 + len(texts), dtype=np.int32)
        tok_ptr = np.zeros(len(texts) + 1, dtype=np.int64)
        while not scan_tokens(cps, text_ptr, classes, self._arrays(), state, raw_ids, tok_ptr):
            self._grow(int(state[3]), int(state[4]))
        self._n_raw = int(state[3])
        self._add_terms(first_new, self._n_raw)
        return raw_ids[: int(state[2])], tok_ptr

    def _arrays(
        self,
    ) -> tuple[NDArray[np.int32], NDArray[np.uint64], NDArray[np.int64], NDArray[np.uint32]]:
        """The hash table's arrays, as :func:`hybridir.text.scan.scan_tokens` takes them."""
        return self._slots, self._hashes, self._key_ptr, self._store

    def _grow(self, n_raw: int, size: int) -> None:
        """Room for one more raw token of ``size`` code points (capacities doubled)."""
        from hybridir.text.scan import rehash

        if 2 * (n_raw + 1) > len(self._slots):
            self._slots = rehash(self._hashes, n_raw, 2 * len(self._slots))
        if n_raw + 1 >= len(self._hashes):
            self._hashes = _resized(self._hashes, 2 * len(self._hashes))
            self._key_ptr = _resized(self._key_ptr, len(self._hashes) + 1)
        need = int(self._key_ptr[n_raw]) + size
        if need > len(self._store):
            self._store = _resized(self._store, max(need, 2 * len(self._store)))

    def _add_terms(self, first: int, last: int) -> None:
        """Normalise the raw tokens ``first..last-1``, just interned, and record their
        terms."""
        from hybridir.text.scan import ascii_forms, token_lines

        ids = np.full(last - first, -1, dtype=np.int32)
        others = np.arange(first, last)
        if self._ascii is not None and last > first:
            rules, stopwords = self._ascii_lane(self._ascii)
            status = np.empty(last - first, dtype=np.int8)
            room = int(self._key_ptr[last] - self._key_ptr[first]) + last - first
            out = np.empty(room, dtype=np.uint8)  # ASCII forms: one byte each
            size = ascii_forms(
                self._store, self._key_ptr, first, last, rules, stopwords, status, out
            )
            if size:
                forms = out[: size - 1].tobytes().decode("ascii").split("\n")
                ids[status == 1] = self._ids(self._ascii.stem(forms))
            others = np.flatnonzero(status == 2) + first
        if others.size:
            lines = token_lines(self._store, self._key_ptr, others).tobytes()
            text = lines.decode("utf-32-le", "surrogatepass")
            if has_joiner(text):
                text = "\n".join(without_joiners(text.split("\n")))
            ids[others - first] = self._ids(self._normalise(text))
        self._raw_term = np.concatenate([self._raw_term, ids])

    def _ids(self, terms: list[str]) -> NDArray[np.int32]:
        """Each term's id (``-1`` for ``""``), new terms numbered on: one ``setdefault``
        pass in C, each new term's default being the dictionary's size just before it."""
        term_id = self._term_id
        before = len(term_id)
        found = np.fromiter(
            map(term_id.setdefault, terms, iter(term_id.__len__, -1)),
            dtype=np.int32,
            count=len(terms),
        )
        if len(term_id) > before:  # the new terms are the dictionary's last keys
            self._terms.extend(reversed(list(islice(reversed(term_id), len(term_id) - before))))
        return found - 1

    def _ascii_lane(self, rules: AsciiRules) -> tuple[NDArray[np.int64], tuple[NDArray[Any], ...]]:
        """The rules as :func:`hybridir.text.scan.ascii_forms` takes them."""
        if self._lane is None:
            numbers = [rules.lowercase, rules.strip_possessive, rules.min_length, rules.max_length]
            self._lane = (np.array(numbers, dtype=np.int64), ascii_set(rules.stopwords))
        return self._lane


@lru_cache(maxsize=32)
def ascii_set(words: frozenset[str]) -> tuple[NDArray[Any], ...]:
    """The ASCII words of ``words`` as a compiled set ``(slots, hashes, ptr, store)`` (the
    layout of the token table; built once per stopword list)."""
    from hybridir.text.scan import hash_all, rehash

    plain = sorted(w for w in words if w.isascii())
    cps, ptr = code_points(plain)
    hashes = hash_all(cps, ptr)
    slots = rehash(hashes, len(plain), 1 << (2 * len(plain) + 1).bit_length())
    return slots, hashes, ptr, cps


def _resized(array: NDArray[_T], size: int) -> NDArray[_T]:
    """``array``'s values followed by room for more, ``size`` in all (``size >= len``)."""
    out = np.zeros(size, dtype=array.dtype)
    out[: len(array)] = array
    return out


def batch_local(ids: NDArray[np.int32], ptr: NDArray[np.int64], terms: list[str]) -> TermIds:
    """``ids`` (into ``terms``) renumbered in order of first occurrence, with only the
    terms they use: the numbering :func:`hybridir.sparse.postings.build_from_terms` gives."""
    from hybridir.text.scan import first_occurrence

    local, order = first_occurrence(ids, len(terms))
    return TermIds(local, ptr, list(map(terms.__getitem__, order.tolist())))


def concat_term_ids(parts: Sequence[TermIds]) -> TermIds:
    """The texts of ``parts``, in order, as one :class:`TermIds` numbered in order of first
    occurrence (each part's terms are in that order, so the merged numbering is too)."""
    vocab: dict[str, int] = {}
    ids: list[NDArray[np.int32]] = []
    ptrs: list[NDArray[np.int64]] = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for part in parts:
        remap = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in part.terms),
            dtype=np.int32,
            count=len(part.terms),
        )
        ids.append(remap[part.ids])
        ptrs.append(part.ptr[1:] + offset)
        offset += int(part.ptr[-1])
    return TermIds(
        np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32),
        np.concatenate(ptrs),
        list(vocab),
    )


def warm_batch_kernels() -> None:
    """Run every kernel of the batch path once, table growth included (compiling them, or
    loading them from the cache), with the argument types real batches pass."""
    from hybridir.text.scan import weighted_fields

    rules = AsciiRules(True, True, 2, 20, frozenset({"the", "zł"}), list)
    table = TokenTable(lambda lines: lines.lower().split("\n"), rules)
    texts = [" ".join(f"w{i}" for i in range(5000)), "Don’t u.s. the Cat's 3.5 a\u200db", "", "x"]
    found = table.term_ids(texts)
    ids, ptr = weighted_fields(found.ids, found.ptr, len(texts) // 2, 2)
    batch_local(ids, ptr, found.terms)
