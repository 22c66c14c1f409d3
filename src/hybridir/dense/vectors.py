"""Vector index: FAISS behind a small class, rows aligned with the collection's rows.

The index kind is a FAISS factory string (``"Flat"`` = exact inner product, ``"HNSW32"``,
``"IVF256,PQ16"``…); rows are the collection's rows, so doc ids come from the same sidecar as
BM25's. FAISS pads missing results with -1; :meth:`VectorIndex.search` never returns them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    def load(cls, directory: Path, factory: str = "Flat", mmap: bool = True) -> VectorIndex:
        """Read what :meth:`save` wrote."""
        try:
            vectors = np.load(directory / VECTORS_FILE, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read vectors in {directory}: {exc}") from exc
        index = None
        if factory != "Flat":
            index = _faiss().read_index(str(directory / FAISS_FILE))
        return cls(np.asarray(vectors, dtype=np.float32), factory, index)
