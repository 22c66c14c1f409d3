"""The shard worker: one Ray actor per shard, holding an ordinary collection.

:class:`ShardWorker` is a plain class; :mod:`hybridir.distributed.cluster` turns it into a
Ray actor with ``ray.remote(...)`` (so importing it never imports Ray). A restarted actor
runs ``__init__`` again, which reopens the shard from shared storage: the newest published
generation, as after any crash of a single collection.

A shard answers the query backend's calls (:class:`hybridir.backend.Backend`) with its own
:class:`~hybridir.collection.CollectionView` scored with the cluster's global statistics
(:class:`ShardView`): the one implementation of retrieval, filters and lookups runs here
exactly as it runs for one collection.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
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
from hybridir.errors import ConfigError
from hybridir.sparse.impact import SegmentedImpacts
from hybridir.sparse.segments import SegmentedBM25
from hybridir.types import Document, RankedList

LOOKUPS = frozenset(
    {
        "documents",
        "metadata",
        "doc_lengths",
        "matched_terms",
        "splade_contributions",
        "term_vectors",
        "dense_vectors",
    }
)
"""The backend's per-document calls a coordinator may route to the shard owning the ids."""


class ShardView(CollectionView):
    """One shard's generation as one collection of the whole cluster would see it: BM25
    and impacts scored with the global statistics (every other part is the shard's own)."""

    def __init__(self, view: CollectionView, stats: GlobalStats) -> None:
        super().__init__(view.directory, view._shared, view._state)
        self.stats = stats

    @property
    def bm25(self) -> SegmentedBM25:
        return global_bm25(self, self.stats)

    @property
    def splade(self) -> SegmentedImpacts:
        return global_splade(self, self.stats)


class ShardWorker:
    """Serves one shard: statistics, the backend's calls under global statistics, writes.

    Args:
        path: the shard's collection folder (on storage every node can read).
        shard: its number (to check the statistics it is asked to score with).
    """

    def __init__(self, path: str, shard: int) -> None:
        self.path = path
        self.shard = shard
        self.collection = Collection.open(path)
        self._stats: GlobalStats | None = None

    def info(self) -> dict[str, Any]:
        """Process, host and generation (tests use the pid to kill the actor)."""
        view = self.collection.snapshot()
        node = ""
        try:
            import ray  # present when running as an actor

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
        return global_bm25(self.collection.snapshot(), self._stats).term_order()

    def set_stats(self, stats: GlobalStats) -> None:
        """Keep the global statistics to score with (sent once per change, not per query:
        a large vocabulary's document frequencies cost milliseconds to ship)."""
        self._stats = stats

    def _view(self, key: str) -> ShardView:
        """The newest generation, scored with the statistics identified by ``key``."""
        stats = self._stats
        if stats is None or stats.key != key:
            raise StaleStatsError(f"shard {self.shard} does not hold statistics {key}")
        view = self.collection.snapshot()
        if view.generation != stats.generations[self.shard]:
            raise StaleStatsError(
                f"shard {self.shard} is at generation {view.generation}, statistics are for "
                f"{stats.generations[self.shard]}"
            )
        return ShardView(view, stats)

    def search(
        self,
        requests: Mapping[str, tuple[Any, int]],
        key: str,
        filters: Mapping[str, Any] | None = None,
    ) -> dict[str, list[RankedList]]:
        """:meth:`~hybridir.collection.CollectionView.retrieve` on this shard, scored with
        the global statistics ``key`` (see :meth:`set_stats`)."""
        return self._view(key).retrieve(requests, filters).lists

    def search_packed(
        self, args: tuple[Mapping[str, tuple[Any, int]], str, Mapping[str, Any] | None]
    ) -> dict[str, list[RankedList]]:
        """:meth:`search` with one argument (the form a compiled Ray graph passes)."""
        return self.search(*args)

    def lookup(self, method: str, key: str, doc_ids: Sequence[str], *args: Any) -> Any:
        """A per-document backend call (one of :data:`LOOKUPS`) for ids this shard holds."""
        if method not in LOOKUPS:
            raise ConfigError(f"unknown lookup {method!r}; valid: {sorted(LOOKUPS)}")
        return getattr(self._view(key), method)(doc_ids, *args)

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

    def check(self) -> list[str]:
        return self.collection.check()

    def orphans(self) -> list[str]:
        return self.collection.orphans()

    def optimize(self) -> None:
        self.collection.optimize()

    def segments(self) -> list[str]:
        return [s.name for s in self.collection.snapshot().manifest.segments]
