"""Document store: SQLite table of documents, one row per stored version of a document.

A version carries the generation that added it and, once replaced or deleted, the
generation that removed it; at generation ``g`` the visible version of a document is the
one with ``added <= g`` and (``removed`` unset or ``removed > g``). A writer stages its
versions and removals under the next generation before publishing the manifest, so readers
of the current generation never see them; if the writer dies first, the next writer
discards them (:meth:`DocStore.discard_unpublished`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from hybridir.errors import IndexFormatError, NotFoundError
from hybridir.types import Document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    added INTEGER NOT NULL,
    removed INTEGER,
    PRIMARY KEY (doc_id, added)
)
"""
STORE = "docs.sqlite"
"""The store's file name in a collection folder."""
BUSY_TIMEOUT_S = 30.0
"""How long a statement waits for another connection's lock before failing."""
_VISIBLE = "added <= ? AND (removed IS NULL OR removed > ?)"
_CHUNK = 500


class DocStore:
    """Document versions of a collection; every read names the generation it reads as of.

    SQLite in WAL mode with ``synchronous=FULL``: a committed transaction is in the
    write-ahead log and fsynced before :meth:`stage` returns; readers in other processes
    keep reading while a writer commits. The file is only ever opened through SQLite (see
    :mod:`hybridir._atomic` for why a second descriptor would be fatal) and never created
    by opening: a missing store is an error, not an empty collection.
    """

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by the threads of a process
        if not create and not path.is_file():
            raise IndexFormatError(
                f"the document store {path} is missing: the collection is damaged "
                "(restore the folder from a backup or rebuild it with `hybridir index`)"
            )
        mode = "rwc" if create else "rw"
        try:
            self._db = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode={mode}",
                uri=True,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_S,
            )
            # WAL: readers in other processes keep reading while a writer commits.
            (journal,) = self._db.execute("PRAGMA journal_mode=WAL").fetchone()
            if str(journal).lower() != "wal":
                raise IndexFormatError(
                    f"{path}: SQLite cannot use its write-ahead log here (journal mode "
                    f"{journal!r}); put the collection on a local file system"
                )
            self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(f"document store {path} is unreadable: {exc}") from exc

    def quick_check(self) -> list[str]:
        """Problems SQLite finds in the store's pages (``PRAGMA quick_check``)."""
        try:
            rows = self._query("PRAGMA quick_check", ())
        except sqlite3.DatabaseError as exc:
            return [f"document store: {exc}"]
        return [f"document store: {r[0]}" for r in rows if r[0] != "ok"]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def count(self, generation: int) -> int:
        """Documents visible at ``generation``."""
        ((n,),) = self._query(f"SELECT COUNT(*) FROM docs WHERE {_VISIBLE}", _at(generation))
        return int(str(n))

    def discard_unpublished(self, generation: int) -> None:
        """Undo what a writer staged after the published ``generation`` (it never published)."""
        g = generation
        with self._lock, self._db:
            self._db.execute("DELETE FROM docs WHERE added > ?", (g,))
            self._db.execute("UPDATE docs SET removed = NULL WHERE removed > ?", (g,))

    def stage(self, docs: Sequence[Document], removed: Sequence[str], generation: int) -> None:
        """In one transaction: add ``docs`` and remove the versions of ``removed`` visible
        at ``generation - 1``, both under the unpublished ``generation``."""
        rows = ((d.doc_id, d.title, d.text, json.dumps(dict(d.metadata)), generation) for d in docs)
        with self._lock, self._db:
            for start in range(0, len(removed), _CHUNK):
                chunk = removed[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                self._db.execute(
                    f"UPDATE docs SET removed = ? WHERE {_VISIBLE} AND doc_id IN ({marks})",
                    (generation, *_at(generation - 1), *chunk),
                )
            self._db.executemany(
                "INSERT INTO docs (doc_id, title, text, metadata, added) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def get(self, doc_id: str, generation: int) -> Document:
        """The document called ``doc_id`` at ``generation``; :class:`NotFoundError` when absent."""
        rows = self._query(
            f"SELECT doc_id, title, text, metadata FROM docs WHERE doc_id = ? AND {_VISIBLE}",
            (doc_id, *_at(generation)),
        )
        if not rows:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return _document(rows[0])

    def get_many(self, doc_ids: Sequence[str], generation: int) -> list[Document]:
        """Documents in the order of ``doc_ids`` (each must exist), read with one query per
        :data:`_CHUNK` distinct ids."""
        wanted = list(dict.fromkeys(doc_ids))
        found: dict[str, Document] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT doc_id, title, text, metadata FROM docs "
                f"WHERE doc_id IN ({marks}) AND {_VISIBLE}",
                (*chunk, *_at(generation)),
            )
            found.update((str(row[0]), _document(row)) for row in rows)
        missing = [d for d in wanted if d not in found]
        if len(missing) == 1:
            raise NotFoundError(f"no document with id {missing[0]!r}")
        if missing:
            raise NotFoundError(f"no documents with ids {missing[:5]} ({len(missing)} missing)")
        return [found[d] for d in doc_ids]

    def iterate(self, generation: int) -> Iterator[Document]:
        """Documents visible at ``generation`` in the order they were added."""
        rows = self._query(
            f"SELECT doc_id, title, text, metadata FROM docs WHERE {_VISIBLE} ORDER BY rowid",
            _at(generation),
        )
        for row in rows:
            yield _document(row)


def _at(generation: int) -> tuple[int, int]:
    return generation, generation


def _document(row: tuple[object, ...]) -> Document:
    doc_id, title, text, meta = row
    return Document(
        doc_id=str(doc_id), title=str(title), text=str(text), metadata=json.loads(str(meta))
    )
