"""Which shard owns a document: a stable hash of its id (never Python's salted ``hash()``)."""

from __future__ import annotations

import hashlib

from hybridir.errors import ConfigError


def shard_of(doc_id: str, n_shards: int) -> int:
    """The shard (``0 … n_shards-1``) that owns ``doc_id``: the first 8 bytes of its
    BLAKE2b digest, modulo ``n_shards`` (the same on every machine and Python version)."""
    if n_shards < 1:
        raise ConfigError(f"n_shards must be >= 1, got {n_shards}")
    digest = hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_shards
