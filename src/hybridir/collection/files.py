"""The files a writer makes, removes and locks: segment folders, deletion lists, orphans,
the writer lock, and the crash points the crash tests stop a commit at.

Every file is made durable before the manifest that names it is published
(docs/architecture.md, "Durability"): a segment folder is fsynced file by file, folder by
folder, then its entry; a deletion list likewise.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from hybridir._atomic import fsync_dir, fsync_tree
from hybridir.collection.manifest import (
    DEAD_NAME,
    DELETES,
    METADATA,
    SEGMENT_NAME,
    Manifest,
    Segment,
    file_sums,
    tree_files,
)
from hybridir.config import DenseConfig
from hybridir.errors import WriterBusyError
from hybridir.learn.store import TMP_PREFIX
from hybridir.sparse.postings import Postings, save_postings
from hybridir.sparse.segments import SegmentedBM25

LOCK = "write.lock"
_ORPHAN_TEMP = re.compile(r"^\.manifest\.json\..*\.tmp$")


def save_segment(
    directory: Path,
    name: str,
    postings: Postings,
    metadata: list[dict[str, Any]],
    vectors: NDArray[np.float32] | None = None,
    dense: DenseConfig | None = None,
    impacts: Postings | None = None,
) -> Segment:
    """Write segment folder ``name`` (postings, impacts, row metadata, vectors with the
    ``dense`` index), fsync it (files, folders, its entry) and return it with its files'
    sizes and checksums."""
    folder = directory / name
    if folder.exists():  # left by a writer that died before publishing
        shutil.rmtree(folder)
    save_postings(postings, folder / "postings")
    if impacts is not None:
        save_postings(impacts, folder / "impacts")
    # Metadata beside the postings, row by row: filters and boosts read it per segment.
    (folder / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
    if vectors is not None and dense is not None:
        from hybridir.dense.vectors import VectorIndex  # faiss

        VectorIndex(np.asarray(vectors, dtype=np.float32), dense.index).save(folder / "vectors")
    fsync_tree(folder)
    return Segment(name, postings.n_docs, files=file_sums(directory, tree_files(directory, name)))


def with_deletions(
    directory: Path,
    segments: Sequence[Segment],
    live: Sequence[NDArray[np.bool_]],
    bm25: SegmentedBM25,
    removed: Sequence[str],
    generation: int,
) -> list[Segment]:
    """``segments`` with the rows of ``removed`` added to their deleted rows: a new,
    durable deletion list only for the segments that change."""
    out = list(segments)
    if not removed:
        return out
    by_segment: dict[int, list[int]] = {}
    for row in bm25.rows_of(removed):
        s, local = bm25.locate(row)
        by_segment.setdefault(s, []).append(local)
    deletes = directory / DELETES
    if not deletes.is_dir():
        deletes.mkdir()
        fsync_dir(directory)
    for s, rows in by_segment.items():
        seg = out[s]
        dead = np.unique(np.asarray(np.flatnonzero(~live[s]).tolist() + rows, dtype=np.int64))
        path = f"{DELETES}/{seg.name}-{generation:06d}.npy"
        np.save(directory / path, dead)
        fsync_tree(directory / path)
        files = {**seg.own_files(), **file_sums(directory, [path])}
        out[s] = Segment(seg.name, seg.n_docs, path, len(dead), files)
    return out


def remove(directory: Path, names: Iterable[str]) -> None:
    """Remove files and folders of the collection named relative to it."""
    for name in names:
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def orphans(directory: Path, manifest: Manifest) -> list[str]:
    """Names (relative to ``directory``) of hybridir's own files that ``manifest`` does not
    reference: segment folders, deletion lists, temporary manifests, and model folders
    a killed ``save_model`` left half-written. Anything else in the folder is left alone."""
    referenced = manifest.referenced()
    found = [
        entry.name
        for entry in directory.iterdir()
        if ((SEGMENT_NAME.match(entry.name) and entry.is_dir()) or _ORPHAN_TEMP.match(entry.name))
        and entry.name not in referenced
    ]
    if (directory / DELETES).is_dir():
        for entry in (directory / DELETES).iterdir():
            name = f"{DELETES}/{entry.name}"
            if DEAD_NAME.match(name) and name not in referenced:
                found.append(name)
    models = directory / "models"
    if models.is_dir():
        stale = time.time() - 3600  # a model being saved right now is not an orphan yet
        found += [
            f"models/{entry.name}"
            for entry in models.iterdir()
            if entry.name.startswith(TMP_PREFIX) and entry.stat().st_mtime < stale
        ]
    return sorted(found)


def flock_until(handle: IO[Any], deadline: float, message: Callable[[], str]) -> None:
    """Take an exclusive ``flock`` on ``handle``, polling until ``deadline`` (``flock``
    has no timeout of its own)."""
    pause = 0.005
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterBusyError(message()) from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)


def orphans_unless_writing(directory: Path) -> list[str]:
    """:func:`orphans` of the published manifest, or ``[]`` while a writer holds the lock
    (what it is writing is not an orphan)."""
    with open(directory / LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        try:
            return orphans(directory, Manifest.read(directory))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def crashpoint(name: str) -> None:
    """Fault injection for the crash tests: with ``HYBRIDIR_CRASH_AT=<name>[:<n>]`` in the
    environment, the process kills itself with SIGKILL the ``n``-th time (default 1st) it
    reaches the point ``name`` of a commit. Points, in commit order: ``segment-written``
    (segment and deletion files durable), ``staged`` (document versions committed, manifest
    not yet replaced), ``published`` (manifest replaced, old files not yet removed),
    ``merge-written`` (a merged segment written, not yet published)."""
    spec = os.environ.get("HYBRIDIR_CRASH_AT")
    if not spec or spec.partition(":")[0] != name:
        return
    _CRASH_COUNTS[name] = _CRASH_COUNTS.get(name, 0) + 1
    if _CRASH_COUNTS[name] >= int(spec.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_CRASH_COUNTS: dict[str, int] = {}
