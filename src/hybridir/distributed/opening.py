"""Opening a collection folder, whichever kind it is: one collection, or a sharded one."""

from __future__ import annotations

from pathlib import Path

from hybridir.collection import Collection
from hybridir.distributed.cluster import ShardedCollection
from hybridir.distributed.layout import ShardedLayout

AnyCollection = Collection | ShardedCollection
"""What a front end searches and writes: both are a :class:`hybridir.backend.Source` and
take the same writes (``add``, ``upsert``, ``delete``, ``set_fusion`` …)."""


def open_collection(
    path: str | Path, *, wait: float = 0.0, ray_address: str | None = None
) -> AnyCollection:
    """The collection at ``path``: a sharded one (``sharded.json``, served by Ray at
    ``ray_address``) or an ordinary one (whose writes wait up to ``wait`` seconds for
    another process's).

    Raises:
        IndexFormatError: ``path`` is not a collection, or it is damaged or of another
            format version.
    """
    if ShardedLayout.is_sharded(path):
        return ShardedCollection(path, address=ray_address)
    return Collection.open(path, wait=wait)
