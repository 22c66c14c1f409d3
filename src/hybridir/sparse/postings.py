"""Term-major postings: the arrays a BM25 index is made of, built, saved and memory-mapped.

The index keeps raw term frequencies and document lengths, never precomputed BM25 weights,
so collection statistics (N, df, avgdl) can change and scores follow exactly (weights are a
cache derived at open time, see :mod:`hybridir.sparse.index`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import IndexFormatError
from hybridir.sparse.kernels import build_postings
from hybridir.text.batch import term_ids_of

ARRAYS = ("indptr", "doc_rows", "tfs", "doc_lengths", "tie_key")


@dataclass(frozen=True)
class Postings:
    """Postings of a document set, rows ``0..n_docs-1``.

    Attributes:
        terms: term of each term id.
        doc_ids: external id of each row.
        indptr: int64[n_terms + 1]; term ``t``'s postings are ``indptr[t]:indptr[t+1]``.
        doc_rows: int32 row of each posting, ascending within a term.
        tfs: term frequency (or, in an impact index, quantized weight) of each posting;
            int32 in memory, stored in the narrowest unsigned type that holds it.
        doc_lengths: int32 number of index terms of each row.
        tie_key: int32 position of each row's doc id in sorted order (ties break by doc id).
    """

    terms: tuple[str, ...]
    doc_ids: tuple[str, ...]
    indptr: NDArray[np.int64]
    doc_rows: NDArray[np.int32]
    tfs: NDArray[np.integer[Any]]
    doc_lengths: NDArray[np.int32]
    tie_key: NDArray[np.int32]

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    def document_frequencies(self) -> NDArray[np.int64]:
        """Number of rows containing each term."""
        return np.diff(self.indptr)


def tie_keys(doc_ids: Sequence[str]) -> NDArray[np.int32]:
    """Rank of each id in sorted order, so equal scores rank by doc id ascending."""
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
    keys = np.empty(len(doc_ids), dtype=np.int32)
    keys[np.asarray(order, dtype=np.int64)] = np.arange(len(doc_ids), dtype=np.int32)
    return keys


def build_from_ids(
    term_ids: NDArray[np.int32],
    doc_ptr: NDArray[np.int64],
    terms: Sequence[str],
    doc_ids: Sequence[str],
) -> Postings:
    """Postings from flat token term ids (``doc_ptr`` delimits documents)."""
    indptr, doc_rows, tfs = build_postings(term_ids, doc_ptr, len(terms))
    return Postings(
        terms=tuple(terms),
        doc_ids=tuple(doc_ids),
        indptr=indptr,
        doc_rows=doc_rows,
        tfs=tfs,
        doc_lengths=np.diff(doc_ptr).astype(np.int32),
        tie_key=tie_keys(doc_ids),
    )


def build_from_terms(docs_terms: Sequence[Sequence[str]], doc_ids: Sequence[str]) -> Postings:
    """Postings from analysed documents (lists of index terms), in row order; term ids in
    order of first occurrence. Per-token work runs in C (``dict.fromkeys``, ``map``)."""
    found = term_ids_of(docs_terms)
    return build_from_ids(found.ids, found.ptr, found.terms, doc_ids)


def save_postings(postings: Postings, directory: Path) -> None:
    """Write ``postings`` into an empty ``directory`` as ``.npy`` arrays plus JSON sidecars."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ARRAYS:
        array = getattr(postings, name)
        if name == "tfs":
            array = _narrow(array)
        np.save(directory / f"{name}.npy", array)
    (directory / "terms.json").write_text(json.dumps(list(postings.terms)), encoding="utf-8")
    (directory / "doc_ids.json").write_text(json.dumps(list(postings.doc_ids)), encoding="utf-8")


def _narrow(values: NDArray[np.integer[Any]]) -> NDArray[np.integer[Any]]:
    """``values`` as uint8 or uint16 when they fit (positive counts and impacts)."""
    top = int(values.max()) if len(values) else 0
    if len(values) and int(values.min()) < 0:
        return values
    for dtype in (np.uint8, np.uint16):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values


def load_postings(directory: Path, mmap: bool = True) -> Postings:
    """Read postings written by :func:`save_postings` (arrays memory-mapped when ``mmap``:
    copy-on-write, so they are writable arrays like built ones and the kernels have one
    compiled signature; the files never change)."""
    try:
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="c" if mmap else None)
            for name in ARRAYS
        }
        terms = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        doc_ids = json.loads((directory / "doc_ids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexFormatError(f"cannot read postings in {directory}: {exc}") from exc
    problem = structure_problem(terms, doc_ids, arrays)
    if problem is not None:
        raise IndexFormatError(f"postings in {directory} are damaged: {problem}")
    return Postings(terms=tuple(terms), doc_ids=tuple(doc_ids), **arrays)


def structure_problem(terms: Any, doc_ids: Any, arrays: dict[str, Any]) -> str | None:
    """What makes loaded postings unusable, or ``None``: the checks that keep the
    unchecked numba kernels inside their arrays (shapes, integer types, offsets rising
    from 0 to the posting count, rows inside the segment). One pass over each array."""
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        return "terms.json is not a list of strings"
    if not isinstance(doc_ids, list) or not all(isinstance(d, str) for d in doc_ids):
        return "doc_ids.json is not a list of strings"
    for name, array in arrays.items():
        if array.ndim != 1 or array.dtype.kind not in "iu":
            return f"{name} is not a 1-D integer array ({array.dtype}, shape {array.shape})"
    indptr, rows = arrays["indptr"], arrays["doc_rows"]
    n_docs, n_postings = len(doc_ids), len(rows)
    if len(indptr) != len(terms) + 1:
        return f"{len(indptr)} term offsets for {len(terms)} terms"
    if len(arrays["tfs"]) != n_postings:
        return f"{len(arrays['tfs'])} frequencies for {n_postings} postings"
    for name in ("doc_lengths", "tie_key"):
        if len(arrays[name]) != n_docs:
            return f"{len(arrays[name])} {name} for {n_docs} documents"
    if int(indptr[0]) != 0 or int(indptr[-1]) != n_postings or np.any(np.diff(indptr) < 0):
        return "term offsets do not rise from 0 to the number of postings"
    if n_postings and (int(rows.min()) < 0 or int(rows.max()) >= n_docs):
        return "a posting points outside the segment"
    return None


def append_postings(base: Postings, extra: Postings) -> Postings:
    """Postings of ``base``'s rows followed by ``extra``'s rows (renumbered after them).

    Exact by construction: raw term frequencies and lengths are concatenated, so every
    statistic equals that of a build from all documents at once.
    """
    vocab = {term: i for i, term in enumerate(base.terms)}
    new_terms = [t for t in extra.terms if t not in vocab]
    terms = base.terms + tuple(new_terms)
    for t in new_terms:
        vocab[t] = len(vocab)
    remap = np.asarray([vocab[t] for t in extra.terms], dtype=np.int64)
    term_of = np.concatenate(
        [
            np.repeat(np.arange(base.n_terms, dtype=np.int64), np.diff(base.indptr)),
            np.repeat(remap, np.diff(extra.indptr)),
        ]
    )
    # A stable sort by term keeps base postings before extra ones, so rows stay ascending.
    order = np.argsort(term_of, kind="stable")
    counts = np.bincount(term_of, minlength=len(terms))
    indptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    doc_rows = np.concatenate([base.doc_rows, extra.doc_rows + np.int32(base.n_docs)])[order]
    tfs = np.concatenate([base.tfs, extra.tfs])[order]
    doc_ids = base.doc_ids + extra.doc_ids
    return Postings(
        terms=terms,
        doc_ids=doc_ids,
        indptr=indptr,
        doc_rows=doc_rows.astype(np.int32),
        tfs=tfs.astype(np.int32),
        doc_lengths=np.concatenate([base.doc_lengths, extra.doc_lengths]).astype(np.int32),
        tie_key=tie_keys(doc_ids),
    )


def compact_postings(postings: Postings, keep: NDArray[np.bool_]) -> Postings:
    """The rows of ``postings`` where ``keep`` is true, renumbered in order; terms left
    without postings are dropped (a merge that purges deleted documents)."""
    p = postings
    new_row = np.cumsum(keep, dtype=np.int64) - 1
    term_of = np.repeat(np.arange(p.n_terms, dtype=np.int64), np.diff(p.indptr))
    alive = keep[p.doc_rows]
    counts = np.bincount(term_of[alive], minlength=p.n_terms)
    used = np.flatnonzero(counts)
    indptr = np.zeros(len(used) + 1, dtype=np.int64)
    np.cumsum(counts[used], out=indptr[1:])
    doc_ids = tuple(d for d, k in zip(p.doc_ids, keep.tolist(), strict=True) if k)
    return Postings(
        terms=tuple(p.terms[t] for t in used.tolist()),
        doc_ids=doc_ids,
        indptr=indptr,
        doc_rows=new_row[p.doc_rows[alive]].astype(np.int32),
        tfs=np.asarray(p.tfs[alive], dtype=np.int32),
        doc_lengths=np.asarray(p.doc_lengths[keep], dtype=np.int32),
        tie_key=tie_keys(doc_ids),
    )


def empty_postings() -> Postings:
    """Postings of no documents."""
    return Postings(
        terms=(),
        doc_ids=(),
        indptr=np.zeros(1, dtype=np.int64),
        doc_rows=np.zeros(0, dtype=np.int32),
        tfs=np.zeros(0, dtype=np.int32),
        doc_lengths=np.zeros(0, dtype=np.int32),
        tie_key=np.zeros(0, dtype=np.int32),
    )
