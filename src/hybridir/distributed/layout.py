"""On-disk layout of a sharded collection: ``sharded.json`` plus one collection per shard.

::

    <root>/sharded.json     {"format", "n_shards", "config"}
    <root>/shard-000/       an ordinary collection (see :mod:`hybridir.collection`)
    <root>/shard-001/ …
    <root>/models/          trained models (fusion, rerankers, token tables) of the whole

Every shard has the same index configuration, so a shard can be opened, checked and
optimized with the single-collection tools, and a one-shard collection is an ordinary one.
What happens on the coordinator (fusion, reranking, query weighting) is configured in
``sharded.json`` alone (:meth:`ShardedLayout.with_config`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from hybridir._atomic import atomic_write_text
from hybridir.collection import Collection
from hybridir.config import CollectionConfig
from hybridir.errors import ConfigError, IndexFormatError, NotFoundError

LAYOUT = "sharded.json"
FORMAT = "hybridir-sharded-1"
MAX_SHARDS = 1024
"""Most shards one collection is split into (each is a collection of its own on disk)."""


@dataclass(frozen=True)
class ShardedLayout:
    """Where a sharded collection's shards live and how they are configured."""

    directory: Path
    n_shards: int
    config: CollectionConfig
    stamp: tuple[int, ...] = field(default=(), compare=False)

    def shard_dir(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:03d}"

    @property
    def shard_dirs(self) -> list[Path]:
        return [self.shard_dir(i) for i in range(self.n_shards)]

    @staticmethod
    def is_sharded(directory: str | Path) -> bool:
        return (Path(directory) / LAYOUT).is_file()

    @classmethod
    def create(
        cls,
        directory: str | Path,
        config: CollectionConfig,
        n_shards: int,
        *,
        overwrite: bool = False,
    ) -> ShardedLayout:
        """Create ``n_shards`` empty shard collections under ``directory``."""
        if not 1 <= n_shards <= MAX_SHARDS:
            raise ConfigError(f"n_shards must be in [1, {MAX_SHARDS}], got {n_shards}")
        root = Path(directory)
        if root.exists() and any(root.iterdir()):
            if not overwrite:
                raise ConfigError(f"{root} exists and is not empty; pass overwrite=True")
            if not cls.is_sharded(root):
                raise ConfigError(f"refusing to overwrite {root}: not a sharded collection")
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        layout = cls(root, n_shards, config)
        for path in layout.shard_dirs:
            Collection.create(path, config).close()
        return layout.with_config(config)

    def with_config(self, config: CollectionConfig) -> ShardedLayout:
        """Write ``config`` into ``sharded.json`` (atomically) and return the new layout."""
        body = {"format": FORMAT, "n_shards": self.n_shards, "config": config.to_dict()}
        atomic_write_text(self.directory / LAYOUT, json.dumps(body, indent=2))
        return replace(self, config=config, stamp=_stamp(self.directory))

    def reloaded(self) -> ShardedLayout:
        """This layout, read again if ``sharded.json`` changed (another process set the
        fusion, say); a stat when it did not."""
        return self if _stamp(self.directory) == self.stamp else self.open(self.directory)

    @classmethod
    def open(cls, directory: str | Path) -> ShardedLayout:
        root = Path(directory)
        if not cls.is_sharded(root):
            raise NotFoundError(f"{root} is not a sharded collection (no {LAYOUT})")
        try:
            body = json.loads((root / LAYOUT).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {root / LAYOUT}: {exc}") from exc
        if body.get("format") != FORMAT:
            raise IndexFormatError(f"{root / LAYOUT}: unknown format {body.get('format')!r}")
        config = CollectionConfig.from_dict(body["config"])
        return cls(root, int(body["n_shards"]), config, _stamp(root))


def _stamp(root: Path) -> tuple[int, ...]:
    st = os.stat(root / LAYOUT)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
