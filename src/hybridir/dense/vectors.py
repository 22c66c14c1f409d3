"""Vector index: FAISS behind a small class, rows aligned with the collection's rows.

The index kind is a FAISS factory string (``"Flat"`` = exact inner product, ``"HNSW32"``,
``"IVF256,PQ16"``…); rows are the collection's rows, so doc ids come from the same sidecar as
BM25's. FAISS pads missing results with -1; :meth:`VectorIndex.search` never returns them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError, IndexFormatError, InvalidInputError, missing_dependency

VECTORS_FILE = "vectors.npy"
FAISS_FILE = "index.faiss"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise missing_dependency("faiss-cpu", "dense") from exc
    return faiss


class VectorIndex:
    """Inner-product search over float32 row vectors.

    Args:
        vectors: (rows × dim) float32, row ``i`` belonging to collection row ``i``.
        factory: FAISS index factory string; ``"Flat"`` is exact.
        index: a trained FAISS index over ``vectors`` (from :meth:`load`), else built here.
    """

    def __init__(
        self, vectors: NDArray[np.float32], factory: str = "Flat", index: Any | None = None
    ) -> None:
        if vectors.ndim != 2:
            raise InvalidInputError(f"vectors must be 2-D, got shape {vectors.shape}")
        self.vectors = vectors
        self.factory = factory
        self._index = index if index is not None else self._build()

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def _build(self) -> Any:
        faiss = _faiss()
        try:
            index = faiss.index_factory(self.dim, self.factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ConfigError(f"FAISS cannot build index {self.factory!r}: {exc}") from exc
        data = np.ascontiguousarray(self.vectors, dtype=np.float32)
        if not index.is_trained:
            index.train(data)
        if len(data):
            index.add(data)
        return index

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]]]:
        """Top-k rows and scores per query (best first; ties by row order)."""
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise InvalidInputError(
                f"query vectors must have shape (n, {self.dim}), got {queries.shape}"
            )
        k = min(k, len(self))
        if k == 0 or len(queries) == 0:
            empty = [np.zeros(0, dtype=np.int64)] * len(queries)
            return empty, [np.zeros(0, dtype=np.float32)] * len(queries)
        scores, rows = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        keep = rows >= 0
        return (
            [r[m] for r, m in zip(rows, keep, strict=True)],
            [s[m] for s, m in zip(scores, keep, strict=True)],
        )

    def save(self, directory: Path) -> None:
        """Write the vectors (and a non-flat FAISS index) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / VECTORS_FILE, self.vectors)
        if self.factory != "Flat":
            _faiss().write_index(self._index, str(directory / FAISS_FILE))

    @classmethod
    def load(
        cls,
        directory: Path,
        factory: str = "Flat",
        mmap: bool = True,
        vectors: NDArray[np.float32] | None = None,
        index_file: BinaryIO | None = None,
    ) -> VectorIndex:
        """Read what :meth:`save` wrote (``vectors``: already read by :meth:`read_vectors`;
        ``index_file``: the FAISS file opened earlier, so a snapshot still reads it after a
        merge removed the folder)."""
        if vectors is None:
            vectors = cls.read_vectors(directory, mmap)
        index = None
        if factory != "Flat":
            try:
                if index_file is None:
                    index = _faiss().read_index(str(directory / FAISS_FILE))
                else:
                    data = os.pread(index_file.fileno(), os.fstat(index_file.fileno()).st_size, 0)
                    index = _faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8))
            except (OSError, RuntimeError) as exc:
                raise IndexFormatError(
                    f"cannot read the vector index in {directory}: {exc}"
                ) from exc
        return cls(np.asarray(vectors, dtype=np.float32), factory, index)

    @staticmethod
    def read_vectors(directory: Path, mmap: bool = True) -> NDArray[np.float32]:
        """The saved vectors of ``directory`` (memory-mapped when ``mmap``)."""
        try:
            vectors: NDArray[np.float32] = np.load(
                directory / VECTORS_FILE, mmap_mode="r" if mmap else None
            )
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read vectors in {directory}: {exc}") from exc
        return vectors


class SegmentedVectors:
    """Exact search over the vector indexes of a collection's segments, skipping deleted
    rows; rows are numbered across segments as in :class:`hybridir.sparse.segments.SegmentedBM25`.

    Each segment is asked for ``k`` plus its number of deleted rows, so ``k`` live rows
    survive the filter; the per-segment lists merge by (score desc, doc id asc), which is
    also the order of a single index (ties in FAISS come in row order otherwise).
    """

    def __init__(
        self,
        indexes: Sequence[VectorIndex],
        live: Sequence[NDArray[np.bool_]],
        doc_ids: Sequence[str],
        dim: int,
    ) -> None:
        self.indexes = list(indexes)
        self.live = list(live)
        self.doc_ids = doc_ids
        self.dim = dim
        sizes = [len(index) for index in self.indexes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        """Live rows."""
        return int(sum(int(m.sum()) for m in self.live))

    def search(
        self, queries: NDArray[np.float32], k: int, allowed: NDArray[np.bool_] | None = None
    ) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]]]:
        """Top-k live rows and scores per query (best first; ties by doc id). With
        ``allowed`` (a filter's row mask) only those rows are scored, exactly, by brute
        force over their vectors."""
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise InvalidInputError(
                f"query vectors must have shape (n, {self.dim}), got {queries.shape}"
            )
        found: list[list[tuple[NDArray[np.int64], NDArray[np.float32]]]] = [
            [] for _ in range(len(queries))
        ]
        for s, (index, mask) in enumerate(zip(self.indexes, self.live, strict=True)):
            offset = int(self.offsets[s])
            if allowed is None:
                top_rows, top_scores = _live_top(index, mask, queries, k)
            else:
                keep = mask & allowed[offset : offset + len(mask)]
                top_rows, top_scores = _masked_top(index, keep, queries, k)
            for q, (rows, scores) in enumerate(zip(top_rows, top_scores, strict=True)):
                found[q].append((rows + offset, scores))
        out_rows, out_scores = [], []
        for parts in found:
            rows, scores = self._best(parts, k)
            out_rows.append(rows)
            out_scores.append(scores)
        return out_rows, out_scores

    def _best(
        self, parts: list[tuple[NDArray[np.int64], NDArray[np.float32]]], k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The best ``k`` of the segments' candidates by (score desc, doc id asc): a stable
        numpy sort by score, and the full sort by (score, doc id) only when equal scores
        reach into the top ``k`` (rare: identical vectors)."""
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
        scores = np.concatenate([p[1] for p in parts]).astype(np.float32, copy=False)
        order = np.argsort(-scores, kind="stable")
        rows, scores = rows[order], scores[order]
        head = min(k, len(scores) - 1)
        if head > 0 and bool(np.any(scores[1 : head + 1] == scores[:head])):
            ids = self.doc_ids
            pairs = zip(scores.tolist(), rows.tolist(), strict=True)
            ranked = sorted(pairs, key=lambda p: (-p[0], ids[p[1]]))
            rows = np.asarray([r for _, r in ranked], dtype=np.int64)
            scores = np.asarray([s for s, _ in ranked], dtype=np.float32)
        return rows[:k], scores[:k]

    def vectors_of(self, rows: Sequence[int]) -> NDArray[np.float32]:
        """The stored vectors of ``rows``."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for i, row in enumerate(rows):
            s = int(np.searchsorted(self.offsets, row, side="right")) - 1
            out[i] = self.indexes[s].vectors[row - int(self.offsets[s])]
        return out


def _live_top(
    index: VectorIndex, live: NDArray[np.bool_], queries: NDArray[np.float32], k: int
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]]]:
    """Each query's live rows of ``index`` that can be in its top ``k``: the best ``k`` live
    ones plus every row tied with the k-th. FAISS cuts ties by row order, and a merge by
    doc id must see them all, so it is asked for more while its cut may split a tie (one
    row beyond the live ``k`` tells: a search ends at once unless that row ties the cut)."""
    want = min(len(index), k + 1 + len(live) - int(live.sum()))
    while True:
        rows, scores = index.search(queries, want)
        kept_rows, kept_scores, again = [], [], False
        for r_all, s_all in zip(rows, scores, strict=True):
            keep = live[r_all]
            r, s = r_all[keep], s_all[keep]
            if len(s) >= k:
                cut = s[k - 1]
                again = again or (want < len(index) and bool(s_all[-1] == cut))
                r, s = r[s >= cut], s[s >= cut]
            kept_rows.append(r)
            kept_scores.append(s)
        if not again:
            return kept_rows, kept_scores
        want = min(len(index), 2 * want)


def _masked_top(
    index: VectorIndex, keep: NDArray[np.bool_], queries: NDArray[np.float32], k: int
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]]]:
    """Exact top ``k`` (plus ties with the k-th) among the rows in ``keep``."""
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return [empty[0]] * len(queries), [empty[1]] * len(queries)
    # einsum, not a BLAS product: each score is summed the same way whatever the other rows
    # are, so a document scores identically in one collection and in any shard of it
    # (a matrix product's rounding depends on the row's position in the block).
    scores = np.einsum(
        "qd,nd->qn", np.asarray(queries, dtype=np.float32), np.asarray(index.vectors[rows])
    )
    out_rows, out_scores = [], []
    for s in scores:
        if len(s) > k:
            cut = np.partition(s, len(s) - k)[len(s) - k]
            sel = s >= cut
        else:
            sel = np.ones(len(s), dtype=np.bool_)
        out_rows.append(rows[sel].astype(np.int64))
        out_scores.append(s[sel].astype(np.float32))
    return out_rows, out_scores
