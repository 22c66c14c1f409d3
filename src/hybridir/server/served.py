"""The served collections: where a collection folder becomes something the app serves."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridir.collection import Collection
from hybridir.distributed.cluster import ShardedCollection
from hybridir.distributed.layout import ShardedLayout
from hybridir.search import Searcher
from hybridir.server.config import ServerConfig

__all__ = ["Served", "check_collections", "close_all", "serve", "serve_all"]


@dataclass
class Served:
    """One served collection: its handle, searcher and write lock. A sharded collection
    (:class:`hybridir.distributed.cluster.ShardedCollection`) is both handle and searcher."""

    collection: Any  # Collection | ShardedCollection
    searcher: Any  # Searcher | ShardedCollection
    write_lock: threading.Lock


def serve(path: Path, config: ServerConfig) -> Served:
    """A collection folder as served: a local collection (whose writes wait up to
    ``config.write_wait`` for other writers), or a sharded one on Ray (which answers the
    same calls: ``search``, ``add``/``upsert``/``delete``, ``snapshot``).

    Raises:
        HybridirError: the folder is missing, damaged or of another format version.
    """
    if ShardedLayout.is_sharded(path):
        sharded = ShardedCollection(path, address=config.ray_address)
        return Served(sharded, sharded, threading.Lock())
    collection = Collection.open(path, wait=config.write_wait)
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
