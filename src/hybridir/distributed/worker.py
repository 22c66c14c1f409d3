"""The shard worker: one Ray actor per shard, holding an ordinary collection.

:class:`ShardWorker` is a plain class; :mod:`hybridir.distributed.cluster` turns it into a
Ray actor with ``ray.remote(...)`` (so importing it never imports Ray). A restarted actor
runs ``__init__`` again, which reopens the shard from shared storage: the newest published
generation, as after any crash of a single collection.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybridir.collection import Collection, CollectionView
from hybridir.distributed.stats import (
    GlobalStats,
    ShardStats,
    StaleStatsError,
    global_bm25,
    global_splade,
    shard_stats,
)
from hybridir.types import Document

Hits = list[tuple[list[str], list[float]]]
"""Per query: doc ids and scores, best first."""


def _bm25(view: CollectionView, payload: Any, k: int, stats: GlobalStats) -> Hits:
    return [(h.doc_ids, h.scores) for h in global_bm25(view, stats).search(payload, k)]


def _splade(view: CollectionView, payload: Any, k: int, stats: GlobalStats) -> Hits:
    return [(h.doc_ids, h.scores) for h in global_splade(view, stats).search(payload, k)]


def _dense(view: CollectionView, payload: Any, k: int, stats: GlobalStats) -> Hits:
    if len(view) == 0:
        return [([], []) for _ in range(len(payload))]
    rows, scores = view.vectors.search(np.asarray(payload, dtype=np.float32), k)
    ids = view.bm25.doc_ids
    return [
        ([ids[r] for r in row], s.astype(float).tolist())
        for row, s in zip(rows, scores, strict=True)
    ]


SHARD_SEARCH = {"bm25": _bm25, "splade": _splade, "dense": _dense}
"""How a shard answers each list, from the coordinator's analysed/encoded queries."""


class ShardWorker:
    """Serves one shard: statistics, per-list top-k with global statistics, writes.

    Args:
        path: the shard's collection folder (on storage every node can read).
        shard: its number (to check the statistics it is asked to score with).
    """

    def __init__(self, path: str, shard: int) -> None:
        self.path = path
        self.shard = shard
        self.collection = Collection.open(path)
        self._stats: GlobalStats | None = None
        self._seen: tuple[int, int, int] | None = None
        self._current: CollectionView | None = None

    def _view(self) -> CollectionView:
        """The newest generation; ``manifest.json`` is re-read only when its file changed
        (a commit replaces it, so a new inode or mtime), which keeps a query's overhead low."""
        st = os.stat(Path(self.path) / "manifest.json")
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._current is None or seen != self._seen:
            self._current = self.collection.snapshot()
            self._seen = seen
        return self._current

    def info(self) -> dict[str, Any]:
        """Process, host and generation (tests use the pid to kill the actor)."""
        view = self.collection.snapshot()
        node = ""
        try:
            import ray

            node = ray.get_runtime_context().get_node_id()
        except ImportError:  # used in-process, without Ray
            pass
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "node": node,
            "shard": self.shard,
            "generation": view.generation,
            "documents": len(view),
        }

    def stats(self) -> ShardStats:
        return shard_stats(self.collection.snapshot())

    def term_order(self) -> dict[str, float]:
        """This shard's largest live BM25 weight of each term under the statistics set
        last (the coordinator merges them into the global term order)."""
        if self._stats is None:
            raise StaleStatsError(f"shard {self.shard} holds no statistics")
        return global_bm25(self._view(), self._stats).term_order()

    def set_stats(self, stats: GlobalStats) -> None:
        """Keep the global statistics to score with (sent once per change, not per query:
        a large vocabulary's document frequencies cost milliseconds to ship)."""
        self._stats = stats

    def search(self, requests: Mapping[str, tuple[Any, int]], key: str) -> dict[str, Hits]:
        """Top-k of each requested list (``{list: (queries, k)}``), scored with the global
        statistics identified by ``key`` (see :meth:`set_stats`)."""
        stats = self._stats
        if stats is None or stats.key != key:
            raise StaleStatsError(f"shard {self.shard} does not hold statistics {key}")
        view = self._view()
        if view.generation != stats.generations[self.shard]:
            raise StaleStatsError(
                f"shard {self.shard} is at generation {view.generation}, statistics are for "
                f"{stats.generations[self.shard]}"
            )
        return {
            name: SHARD_SEARCH[name](view, payload, k, stats)
            for name, (payload, k) in requests.items()
        }

    def search_packed(self, args: tuple[Mapping[str, tuple[Any, int]], str]) -> dict[str, Hits]:
        """:meth:`search` with one argument (the form a compiled Ray graph passes)."""
        return self.search(*args)

    def write(
        self,
        docs: Sequence[Mapping[str, Any]],
        vectors: Any = None,
        upsert: bool = False,
        allow_empty: bool = False,
    ) -> int:
        """Add (or upsert) documents in one transaction of this shard."""
        batch = [Document(**d) for d in docs]
        array = None if vectors is None else np.asarray(vectors, dtype=np.float32)
        if upsert:
            return self.collection.upsert(batch, vectors=array, allow_empty=allow_empty)
        return self.collection.add(batch, vectors=array, allow_empty=allow_empty)

    def existing(self, doc_ids: Sequence[str]) -> list[str]:
        """Which of ``doc_ids`` are live in this shard."""
        bm25 = self.collection.snapshot().bm25
        return [d for d in doc_ids if bm25.has(d)]

    def delete(self, doc_ids: Sequence[str], missing_ok: bool = False) -> int:
        return self.collection.delete(doc_ids, missing_ok=missing_ok)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        view = self.collection.snapshot()
        if not view.bm25.has(doc_id):
            return None
        doc = view.get(doc_id)
        return {
            "doc_id": doc.doc_id,
            "text": doc.text,
            "title": doc.title,
            "metadata": dict(doc.metadata),
        }

    def segments(self) -> list[str]:
        return [s.name for s in self.collection.snapshot().manifest.segments]
