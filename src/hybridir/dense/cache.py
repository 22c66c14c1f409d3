"""Embedding cache: vectors by (encoder, text hash), so re-indexing never re-encodes.

One SQLite file per encoder configuration under ``$HYBRIDIR_CACHE/embeddings``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybridir._cache import cache_root
from hybridir.dense.encoders import Encoder, Vectors

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress


def text_key(text: str) -> str:
    """The cache key of a text (its SHA-1)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Persistent text → vector map for one encoder configuration."""

    def __init__(self, encoder_key: str, directory: Path | None = None) -> None:
        folder = directory or cache_root("embeddings")
        folder.mkdir(parents=True, exist_ok=True)
        slug = hashlib.sha1(encoder_key.encode()).hexdigest()[:16]
        self.path = folder / f"{slug}.sqlite"
        # Shared by every process that encodes with this model: WAL and a busy timeout so
        # concurrent writers queue instead of failing with "database is locked". A cache
        # may lose its last entries in a power cut (synchronous=NORMAL); they are re-encoded.
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (encoder TEXT)")
        with self._db:
            if self._db.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0:
                self._db.execute("INSERT INTO meta VALUES (?)", (encoder_key,))

    def get_many(self, texts: Sequence[str]) -> dict[str, bytes]:
        keys = list({text_key(t) for t in texts})
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(
                    f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk
                ).fetchall()
            )
        return found

    def put_many(self, texts: Sequence[str], vectors: Vectors) -> None:
        self.put_blobs(texts, [v.astype(np.float32).tobytes() for v in vectors])

    def put_blobs(self, texts: Sequence[str], blobs: Sequence[bytes]) -> None:
        """Store already-serialised values (e.g. sparse weights) by text."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?)",
                ((text_key(t), b) for t, b in zip(texts, blobs, strict=True)),
            )

    def close(self) -> None:
        self._db.close()


def encoder_key(encoder: Encoder) -> str:
    """What identifies an encoder's document vectors (model, backend, normalization…);
    ``all-MiniLM-L6-v2`` and ``sentence-transformers/all-MiniLM-L6-v2`` share vectors."""
    from hybridir.dense.encoders import hub_name

    parts = [
        hub_name(encoder.name),
        str(getattr(encoder, "backend", "")),
        str(getattr(encoder, "normalize", "")),
        str(getattr(encoder, "document_prompt", "")),
    ]
    return "|".join(parts)


def encode_documents_cached(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    show_progress: ShowProgress = False,
    cache: EmbeddingCache | None = None,
) -> Vectors:
    """Document vectors for ``texts``, encoding only those not in the cache."""
    store = cache or EmbeddingCache(encoder_key(encoder))
    try:
        found = store.get_many(texts)
        todo = list(dict.fromkeys(t for t in texts if text_key(t) not in found))
        if todo:
            fresh = encoder.encode_documents(todo, show_progress=show_progress)
            store.put_many(todo, fresh)
            found.update((text_key(t), v.tobytes()) for t, v in zip(todo, fresh, strict=True))
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = np.frombuffer(found[text_key(text)], dtype=np.float32)
        return out
    finally:
        if cache is None:
            store.close()
