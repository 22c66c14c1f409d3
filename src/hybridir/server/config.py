"""Server settings: which collections, who may read and write, and the request limits."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hybridir.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A collection name: letters, digits, ``_ . -``; never a path."""


@dataclass(frozen=True)
class ServerConfig:
    """What the service serves and how.

    Args:
        collections: name → collection directory (names are the URL path segment).
        api_keys: accepted keys (header ``X-API-Key``); writes always need one, so with no
            keys the service is read-only.
        keys_for_reads: require a key for searches and reads too.
        max_body_bytes: largest request body accepted.
        max_k: largest ``k`` a search may ask for.
        max_query_chars: longest query accepted.
        max_batch: most documents in one write.
        cors_origins: origins allowed by CORS (none: CORS off).
        ray_address: Ray cluster serving the sharded collections among ``collections``.
        header_timeout: seconds a connection may take to send a request head, from its
            opening or the end of the previous response (slow or idle clients are closed).
        body_timeout: seconds a request body may take to arrive after its head (then 408).
        write_wait: seconds a write waits for another process writing to the same
            collection (a CLI ``add``, ``optimize``…) before answering 409.
    """

    collections: Mapping[str, Path]
    api_keys: frozenset[str] = frozenset()
    keys_for_reads: bool = False
    max_body_bytes: int = 8 * 2**20
    max_k: int = 1000
    max_query_chars: int = 2000
    max_batch: int = 1000
    cors_origins: Sequence[str] = field(default_factory=tuple)
    ray_address: str | None = None
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_wait: float = 30.0

    def __post_init__(self) -> None:
        for name in self.collections:
            if not NAME.match(name):
                raise ConfigError(f"invalid collection name {name!r} (letters, digits, _ . -)")
        if self.keys_for_reads and not self.api_keys:
            raise ConfigError("keys_for_reads needs at least one API key")
        for name in ("header_timeout", "body_timeout"):
            seconds = getattr(self, name)
            if not 0 < seconds < float("inf"):
                raise ConfigError(f"{name} must be a positive number of seconds, got {seconds!r}")
        if not 0 <= self.write_wait < float("inf"):
            raise ConfigError(f"write_wait must be >= 0 seconds, got {self.write_wait!r}")

    @classmethod
    def from_dirs(
        cls, directories: Sequence[str | Path], api_key_file: str | Path | None = None, **kw: object
    ) -> ServerConfig:
        """Collections named by their folder names; keys one per line from a file."""
        collections: dict[str, Path] = {}
        for d in directories:
            path = Path(d).resolve()
            if path.name in collections:
                raise ConfigError(f"two collections are named {path.name!r}")
            collections[path.name] = path
        keys: frozenset[str] = frozenset()
        if api_key_file is not None:
            lines = Path(api_key_file).read_text(encoding="utf-8").splitlines()
            keys = frozenset(line.strip() for line in lines if line.strip())
            if not keys:
                raise ConfigError(f"{api_key_file} holds no API key")
        return cls(collections, keys, **kw)  # type: ignore[arg-type]
