"""What ``hybridir check`` verifies: every file a generation needs against the sizes and
CRC-32 checksums in its manifest, each segment's contents (postings against document
lengths, metadata rows, deletion lists, vectors), and the document store against the index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridir.collection.manifest import METADATA, Manifest, Segment, verify_checksums
from hybridir.collection.state import load_state
from hybridir.config import CollectionConfig
from hybridir.docstore import STORE, DocStore
from hybridir.errors import HybridirError
from hybridir.sparse.postings import ARRAYS, Postings


def check_generation(directory: Path, manifest: Manifest, store: DocStore) -> list[str]:
    """Problems of the generation ``manifest`` publishes (an empty list when sound)."""
    problems: list[str] = []
    for seg in manifest.segments:
        problems += [f"{seg.name}: {p}" for p in verify_checksums(directory, seg)]
        if not seg.files:
            problems += missing_files(directory, manifest.config, seg)
    if problems:
        return problems
    try:
        state = load_state(directory, manifest)
        metadata = [state.metadata(i) for i in range(len(state.parts))]
    except HybridirError as exc:
        return [str(exc)]
    live_ids: list[str] = []
    for seg, part, mask, rows in zip(
        manifest.segments, state.parts, state.live, metadata, strict=True
    ):
        problems += check_postings(seg.name, part.postings)
        if int((~mask).sum()) != seg.n_dead:
            problems.append(f"{seg.name}: {int((~mask).sum())} deleted rows, manifest {seg.n_dead}")
        if not all(isinstance(r, dict) for r in rows):
            problems.append(f"{seg.name}: metadata rows are not JSON objects")
        live_ids += [d for d, ok in zip(part.postings.doc_ids, mask.tolist(), strict=True) if ok]
        if part.impacts is not None:
            problems += check_postings(f"{seg.name}/impacts", part.impacts)
            if part.impacts.doc_ids != part.postings.doc_ids:
                problems.append(f"{seg.name}: impact rows and postings rows differ")
        if part.vectors is not None:
            if manifest.dim is not None and part.vectors.shape[1] != manifest.dim:
                dim = part.vectors.shape[1]
                problems.append(f"{seg.name}: vectors of dimension {dim}, not {manifest.dim}")
            if not np.isfinite(part.vectors).all():
                problems.append(f"{seg.name}: vectors hold NaN or infinite values")
    if len(live_ids) != len(set(live_ids)):
        problems.append("a doc id is live in more than one row")
    if len(live_ids) != manifest.n_docs:
        problems.append(f"{len(live_ids)} live rows, manifest says {manifest.n_docs}")
    if not (directory / STORE).is_file():
        return [*problems, f"the document store {STORE} is missing"]
    problems += store.quick_check()
    visible = {d.doc_id for d in store.iterate(manifest.generation)}
    if visible != set(live_ids):
        extra = sorted(visible - set(live_ids))[:5]
        lost = sorted(set(live_ids) - visible)[:5]
        problems.append(
            f"document store and index disagree: only stored {extra}, only indexed {lost}"
        )
    return problems


def missing_files(directory: Path, config: CollectionConfig, seg: Segment) -> list[str]:
    """Files a segment without recorded checksums (format 2) needs but lacks."""
    needed = [METADATA, *(f"postings/{a}.npy" for a in ARRAYS), "postings/terms.json"]
    needed.append("postings/doc_ids.json")
    if config.splade is not None:
        needed += [p.replace("postings/", "impacts/") for p in needed if p.startswith("postings/")]
    if config.dense is not None:
        needed.append("vectors/vectors.npy")
    return [
        f"{seg.name}: {n} is missing" for n in needed if not (directory / seg.name / n).is_file()
    ]


def check_postings(name: str, p: Postings) -> list[str]:
    """The checks too slow for every open (structure is checked by ``load_postings``)."""
    problems = []
    if np.any(p.tfs <= 0):
        problems.append(f"{name}: a posting has a non-positive term frequency")
    lengths = np.bincount(p.doc_rows, weights=p.tfs, minlength=p.n_docs)
    if not np.array_equal(lengths.astype(np.int64), np.asarray(p.doc_lengths, dtype=np.int64)):
        problems.append(f"{name}: document lengths differ from their postings")
    return problems
