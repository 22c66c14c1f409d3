"""One generation of a collection loaded for reading: each segment's parts (postings,
vectors, impacts, metadata) and its live-row mask.

Segments never change, so a new generation reuses the loaded parts of every segment it
keeps and reads only the new ones. Files read lazily (metadata, a FAISS index) are opened at
load: an open file outlives its removal by a later merge, so a view of an old generation
keeps answering.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from hybridir.collection.manifest import METADATA, Manifest, Segment, verify_sizes
from hybridir.config import CollectionConfig
from hybridir.errors import IndexFormatError
from hybridir.sparse.postings import Postings, load_postings


@dataclass(frozen=True)
class Parts:
    """What one segment is made of, loaded once: segments never change, so a new
    generation reuses the parts of every segment it keeps (only new ones are read).

    Files read lazily (metadata, a FAISS index) are opened now: an open file outlives its
    removal by a later merge, so a view of an old generation keeps answering.
    """

    postings: Postings
    metadata: BinaryIO
    vectors: NDArray[np.float32] | None = None
    vector_dir: Path | None = None
    faiss: BinaryIO | None = None
    impacts: Postings | None = None


@dataclass
class State:
    """The loaded components of one manifest (never changed once built)."""

    manifest: Manifest
    parts: list[Parts]
    live: list[NDArray[np.bool_]]
    lock: threading.RLock = field(default_factory=threading.RLock)  # builds may nest
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def postings(self) -> list[Postings]:
        return [p.postings for p in self.parts]

    @property
    def impacts(self) -> list[Postings]:
        return [p.impacts for p in self.parts if p.impacts is not None]

    @property
    def vector_arrays(self) -> list[NDArray[np.float32]]:
        return [p.vectors for p in self.parts if p.vectors is not None]

    def metadata(self, i: int) -> list[dict[str, Any]]:
        """Row metadata of segment ``i`` (read from the file opened at load)."""
        handle = self.parts[i].metadata
        name = self.manifest.segments[i].name
        try:
            data = os.pread(handle.fileno(), os.fstat(handle.fileno()).st_size, 0)
            rows = json.loads(data.decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise IndexFormatError(f"cannot read the metadata of {name}: {exc}") from exc
        if not isinstance(rows, list) or len(rows) != self.manifest.segments[i].n_docs:
            raise IndexFormatError(f"the metadata of {name} does not match its rows")
        return rows


def segment_key(seg: Segment) -> tuple[Any, ...]:
    """What identifies a segment's content (its name, rows and recorded files)."""
    return (seg.name, seg.n_docs, tuple(sorted(seg.own_files().items())))


def load_parts(directory: Path, config: CollectionConfig, seg: Segment) -> Parts:
    verify_sizes(directory, seg)
    folder = directory / seg.name
    postings = load_postings(folder / "postings")
    if postings.n_docs != seg.n_docs:
        raise IndexFormatError(
            f"segment {seg.name} has {postings.n_docs} rows, manifest {seg.n_docs}"
        )
    try:
        metadata = open(folder / METADATA, "rb")  # noqa: SIM115 (kept open: see Parts)
    except OSError as exc:
        raise IndexFormatError(f"cannot read the metadata of {seg.name}: {exc}") from exc
    parts = Parts(postings, metadata)
    if config.dense is not None:
        from hybridir.dense.vectors import FAISS_FILE, VectorIndex

        vectors = VectorIndex.read_vectors(folder / "vectors")
        if vectors.ndim != 2 or vectors.shape[0] != seg.n_docs:
            raise IndexFormatError(f"segment {seg.name}: vectors of shape {vectors.shape}")
        faiss = None
        if config.dense.index != "Flat":
            try:
                faiss = open(folder / "vectors" / FAISS_FILE, "rb")  # noqa: SIM115
            except OSError as exc:
                raise IndexFormatError(f"segment {seg.name}: {exc}") from exc
        parts = replace(parts, vectors=vectors, vector_dir=folder / "vectors", faiss=faiss)
    if config.splade is not None:
        impacts = load_postings(folder / "impacts")
        if impacts.n_docs != seg.n_docs:
            raise IndexFormatError(f"segment {seg.name}: impacts and postings rows differ")
        parts = replace(parts, impacts=impacts)
    return parts


def live_mask(directory: Path, seg: Segment) -> NDArray[np.bool_]:
    mask = np.ones(seg.n_docs, dtype=np.bool_)
    if seg.dead is not None:
        try:
            dead = np.load(directory / seg.dead)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {seg.dead}: {exc}") from exc
        if (
            dead.ndim != 1
            or dead.dtype.kind not in "iu"
            or (len(dead) and (int(dead.min()) < 0 or int(dead.max()) >= seg.n_docs))
        ):
            raise IndexFormatError(f"{seg.dead} is damaged (rows outside segment {seg.name})")
        mask[dead] = False
    return mask


def _parts_config(manifest: Manifest) -> tuple[object, object]:
    """What a segment's loaded parts depend on (fusion or reranker changes do not)."""
    return manifest.config.dense, manifest.config.splade


def load_state(directory: Path, manifest: Manifest, previous: State | None = None) -> State:
    """Load ``manifest``'s components, reusing ``previous``'s parts of unchanged segments."""
    known = {}
    if previous is not None and _parts_config(previous.manifest) == _parts_config(manifest):
        known = {
            segment_key(seg): part
            for seg, part in zip(previous.manifest.segments, previous.parts, strict=True)
        }
    parts, live = [], []
    for seg in manifest.segments:
        part = known.get(segment_key(seg))
        if part is None:
            part = load_parts(directory, manifest.config, seg)
        parts.append(part)
        live.append(live_mask(directory, seg))
    return State(manifest, parts, live)


def load_with_retry(
    directory: Path, manifest: Manifest, previous: State | None = None, attempts: int = 20
) -> State:
    """Load ``manifest``'s components; if a writer removed them meanwhile (it published a
    newer generation and cleaned up), move to the newest manifest and try again."""
    for _ in range(attempts):
        try:
            return load_state(directory, manifest, previous)
        except IndexFormatError:
            latest = Manifest.read(directory)
            if latest.generation == manifest.generation:
                raise
            manifest = latest
    return load_state(directory, manifest, previous)
