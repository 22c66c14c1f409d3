"""The served collections: where a collection folder becomes something the app serves."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hybridir.collection.writer import Collection
from hybridir.distributed.opening import AnyCollection, open_collection
from hybridir.search import Searcher
from hybridir.server.config import ServerConfig

__all__ = ["Served", "check_collections", "close_all", "serve", "serve_all"]


@dataclass
class Served:
    """One served collection: its handle (one collection or a sharded one), the one
    query path over it, and the lock that serializes its writes in this process."""

    collection: AnyCollection
    searcher: Searcher
    write_lock: threading.Lock

    def searches_inline(self, rerank: bool | None) -> bool:
        """Whether a search runs on the event loop itself rather than in a worker thread:
        yes for a local collection whose query path runs no model (no query encoder, or
        inference-free tables, and no reranker), while no write of this server is under way
        (a write holds the document store's connection for its commit).

        Why: such a search is Python and NumPy holding the GIL for a few milliseconds; a
        worker thread adds no parallelism, only GIL hand-offs with the loop, which cost
        ~2 ms of CPU per request under concurrent load (measured: 5.9 against 4.0 ms per
        SciFact hybrid request). Model inference releases the GIL, and a sharded search
        waits on Ray; those stay in threads so the loop keeps serving meanwhile.
        """
        if not isinstance(self.collection, Collection) or self.write_lock.locked():
            return False
        config = self.collection.config
        reranks = bool(config.rerank) if rerank is None else rerank
        dense_free = config.dense is None or config.dense.query_mode == "table"
        splade_free = config.splade is None or config.splade.query_mode != "encoder"
        return not reranks and dense_free and splade_free


def serve(path: Path, config: ServerConfig) -> Served:
    """A collection folder as served: a local collection (whose writes wait up to
    ``config.write_wait`` for other writers), or a sharded one on Ray; both searched by
    the one :class:`~hybridir.search.Searcher`.

    Raises:
        HybridirError: the folder is missing, damaged or of another format version.
    """
    collection = open_collection(path, wait=config.write_wait, ray_address=config.ray_address)
    return Served(collection, Searcher(collection), threading.Lock())


def serve_all(config: ServerConfig) -> dict[str, Served]:
    """Every collection of ``config``, opened, by name (sorted)."""
    return {name: serve(path, config) for name, path in sorted(config.collections.items())}


def close_all(served: Mapping[str, Served]) -> None:
    """Close every served collection's handle."""
    for s in served.values():
        s.collection.close()


def check_collections(config: ServerConfig) -> None:
    """Open and close every collection of ``config``: the check
    :func:`~hybridir.server.app.create_app` makes, without keeping them open
    (``hybridir serve --workers N`` runs it before its workers open their own).

    Raises:
        HybridirError: a collection is missing, damaged or of another format version.
    """
    for path in config.collections.values():
        serve(path, config).collection.close()
