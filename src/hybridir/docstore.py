"""Document store: SQLite table of id, title, text and JSON metadata, one row per index row.

Rows carry the generation that added them; rows of a generation the manifest never
published (a writer died between the store commit and the manifest rename) are invisible
and removed by the next writer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from hybridir.errors import IndexFormatError, NotFoundError
from hybridir.types import Document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    row INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    generation INTEGER NOT NULL
)
"""


class DocStore:
    """Documents of a collection, addressed by row (index order) or doc id."""

    def __init__(self, path: Path, generation: int) -> None:
        self.path = path
        self.generation = generation
        try:
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(f"document store {path} is unreadable: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM docs WHERE generation <= ?", (self.generation,)
        ).fetchone()
        return int(n)

    def discard_unpublished(self) -> None:
        """Delete rows written for a generation that was never published."""
        with self._db:
            self._db.execute("DELETE FROM docs WHERE generation > ?", (self.generation,))

    def existing_ids(self, doc_ids: Sequence[str]) -> list[str]:
        """Which of ``doc_ids`` are already stored."""
        found: list[str] = []
        for start in range(0, len(doc_ids), 500):
            chunk = doc_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += [
                r[0]
                for r in self._db.execute(
                    f"SELECT doc_id FROM docs WHERE generation <= ? AND doc_id IN ({marks})",
                    (self.generation, *chunk),
                )
            ]
        return found

    def stage(self, docs: Sequence[Document], first_row: int, generation: int) -> None:
        """Insert ``docs`` at rows ``first_row…`` tagged with the unpublished ``generation``."""
        rows = (
            (first_row + i, d.doc_id, d.title, d.text, json.dumps(dict(d.metadata)), generation)
            for i, d in enumerate(docs)
        )
        with self._db:
            self._db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)

    def publish(self, generation: int) -> None:
        """Make rows up to ``generation`` visible to this handle."""
        self.generation = generation

    def get(self, doc_id: str) -> Document:
        """The document called ``doc_id``; :class:`NotFoundError` when absent."""
        row = self._db.execute(
            "SELECT doc_id, title, text, metadata FROM docs WHERE doc_id = ? AND generation <= ?",
            (doc_id, self.generation),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return Document(doc_id=row[0], title=row[1], text=row[2], metadata=json.loads(row[3]))

    def get_many(self, doc_ids: Sequence[str]) -> list[Document]:
        """Documents in the order of ``doc_ids`` (each must exist)."""
        return [self.get(d) for d in doc_ids]

    def __iter__(self) -> Iterator[Document]:
        cursor = self._db.execute(
            "SELECT doc_id, title, text, metadata FROM docs WHERE generation <= ? ORDER BY row",
            (self.generation,),
        )
        for doc_id, title, text, meta in cursor:
            yield Document(doc_id=doc_id, title=title, text=text, metadata=json.loads(meta))
