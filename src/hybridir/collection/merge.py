"""The merge policy: which segments to fold together after a write, and their merged rows.

Small segments accumulate with live writes and mostly-deleted ones waste space; both slow
queries. After each write, the smallest segments are merged when there are more than
``max_segments``, as is any segment with more than ``dead_share`` deleted rows (a merge
keeps only live rows). ``max_segments=4`` keeps BM25 throughput within 20% of a fresh build
after 1,000 single adds (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.collection.manifest import Segment
from hybridir.collection.state import State
from hybridir.sparse.postings import Postings, append_postings, compact_postings


def merge_plan(segments: Sequence[Segment], max_segments: int, dead_share: float) -> list[int]:
    """Positions of the segments to merge now: the smallest ones when there are too many,
    plus any that is mostly deleted rows (nothing when that is one segment without
    deletions)."""
    live = [s.n_docs - s.n_dead for s in segments]
    chosen: set[int] = {i for i, s in enumerate(segments) if s.n_dead > dead_share * s.n_docs}
    if len(segments) > max_segments:
        order = sorted(range(len(segments)), key=lambda i: (live[i], i))
        chosen |= set(order[: len(segments) - max_segments // 2 + 1])
    if len(chosen) == 1 and segments[next(iter(chosen))].n_dead == 0:
        return []
    return sorted(chosen)


class Merged(NamedTuple):
    """The live rows of several segments, in order, as one segment's contents."""

    postings: Postings
    metadata: list[dict[str, Any]]
    vectors: NDArray[np.float32] | None
    impacts: Postings | None


def merged_rows(state: State, chosen: Sequence[int]) -> Merged:
    """The live rows of ``state``'s segments at positions ``chosen`` (at least one)."""
    if not chosen:
        raise ValueError("nothing to merge")
    parts = [(state.parts[i], state.live[i]) for i in chosen]
    postings = reduce(append_postings, [compact_postings(p.postings, live) for p, live in parts])
    impacts = None
    if all(p.impacts is not None for p, _ in parts):
        kept = [compact_postings(p.impacts, live) for p, live in parts if p.impacts is not None]
        impacts = reduce(append_postings, kept)
    metadata = [
        row
        for i in chosen
        for row, ok in zip(state.metadata(i), state.live[i].tolist(), strict=True)
        if ok
    ]
    vectors = [np.asarray(p.vectors)[live] for p, live in parts if p.vectors is not None]
    return Merged(postings, metadata, np.concatenate(vectors) if vectors else None, impacts)
