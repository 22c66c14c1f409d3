"""A user's own documents into a collection: read a source (:mod:`hybridir.ingest`), cut
long documents into passages by the collection's :class:`~hybridir.config.ChunkConfig`,
and write them in one transaction; :func:`sync_folder` makes a collection equal a folder.

Passages of one source document share its metadata plus ``parent_id``/``passage``
(:data:`hybridir.types.PARENT`, :data:`~hybridir.types.PASSAGE`). Re-adding a document
(``upsert``) replaces all of its old passages, even when it now has fewer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridir.config import CollectionConfig
from hybridir.errors import InvalidInputError
from hybridir.ingest.chunking import chunk_many, too_long
from hybridir.ingest.document import Loaded
from hybridir.ingest.report import SourceReport
from hybridir.ingest.sources import SourceDocuments, load_source
from hybridir.ingest.tokens import token_counter
from hybridir.types import PARENT, Document

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress
    from hybridir.collection.writer import Collection

logger = logging.getLogger(__name__)

SHA256 = "sha256"
"""Metadata field of a document read from a file: the SHA-256 of the file's bytes."""


@dataclass
class IngestReport:
    """What a source write did.

    ``documents`` source documents became ``passages`` stored units (equal without
    chunking); ``skipped`` names every file left out with the reason; ``metadata_fields``
    the source fields kept as metadata; ``truncated`` how many stored units are longer than
    the encoder's window (only without chunking; they are encoded truncated).
    """

    documents: int = 0
    passages: int = 0
    written: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    metadata_fields: list[str] = field(default_factory=list)
    truncated: int = 0
    source: SourceReport | None = None
    """What the reader did (formats, unsupported files, the fields used)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI ``--json``, HTTP)."""
        return {
            "documents": self.documents,
            "passages": self.passages,
            "written": self.written,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "metadata_fields": self.metadata_fields,
            "truncated": self.truncated,
            "source": None if self.source is None else self.source.to_dict(),
        }


def units(config: CollectionConfig, loaded: Iterable[Loaded]) -> Iterator[Document]:
    """The documents to store for ``loaded``: its passages when ``config`` chunks, else
    each document whole."""
    if config.chunking is None:
        for doc in loaded:
            yield doc.to_document()
        return
    yield from chunk_many(loaded, config.chunking, token_counter(config))


def count_truncated(config: CollectionConfig, docs: Sequence[Document]) -> int:
    """How many of ``docs`` an encoder of a collection with ``config`` truncates (0 without
    a dense or learned sparse list, or when it chunks)."""
    if config.chunking is not None or (config.dense is None and config.splade is None):
        return 0
    counter = token_counter(config)
    if counter.window is None:
        return 0
    # a token covers at least one character: shorter texts cannot exceed the window
    long = [_full(d) for d in docs if len(_full(d)) > counter.window]
    return too_long(long, counter) if long else 0


def warn_truncated(n: int, window: str = "the encoder's window") -> None:
    """Say once per write how many documents an encoder truncates."""
    if n:
        logger.warning(
            "%d document(s) are longer than %s and are encoded truncated: their ends are "
            "invisible to dense/learned sparse retrieval; index with chunking "
            "(CLI --chunk-size, ChunkConfig) to split them into passages",
            n,
            window,
        )


def add_source(
    collection: Collection,
    source: str | Path,
    *,
    upsert: bool = False,
    show_progress: ShowProgress = False,
    allow_empty: bool = False,
    **options: Any,
) -> IngestReport:
    """Read ``source`` (see :func:`hybridir.ingest.sources.load_source`; ``options`` are
    its field mapping and error policy), chunk by the collection's config and write it in
    one transaction. With ``upsert`` a document already stored is replaced with all its
    passages; without, an id already stored is an error and nothing is written."""
    docs, report = read_units(collection.config, source, show_progress, **options)
    if upsert:
        parents = {str(d.metadata.get(PARENT, d.doc_id)) for d in docs}
        stale = _stale(collection, parents, {d.doc_id for d in docs})
        n = collection.update(docs, stale, show_progress=show_progress)
        report.deleted = n - len(docs)
    else:
        collection.add(docs, show_progress=show_progress, allow_empty=allow_empty)
    report.written = len(docs)
    return report


def sync_folder(
    collection: Collection,
    folder: str | Path,
    *,
    show_progress: ShowProgress = False,
    **options: Any,
) -> IngestReport:
    """Make ``collection`` equal ``folder`` in one transaction: files new or changed since
    the last sync (by SHA-256 of their bytes) are upserted as their passages, documents
    whose file is gone are deleted (every stored document without a file in the folder:
    the collection mirrors the folder), unchanged files are not touched. A second run
    with nothing changed writes nothing (the generation stays the same)."""
    path = Path(folder)
    if not path.is_dir():
        raise InvalidInputError(f"{folder}: sync needs a folder of files")
    found = load_source(path, **options)
    loaded = list(_reading(found, show_progress, "Reading"))
    report = _report(found, loaded)
    stored = _stored(collection)
    fresh = [d for d in loaded if stored.get(d.doc_id, (None, []))[0] != d.metadata.get(SHA256)]
    report.unchanged = len(loaded) - len(fresh)
    keep = {d.doc_id for d in loaded}
    # a file that failed to read this time keeps its stored passages (never delete on error)
    keep |= {_relative(p) for p, _ in report.skipped}
    docs = list(units(collection.config, _reading(fresh, show_progress, "Chunking", len(fresh))))
    report.passages = len(docs)
    new_ids = {d.doc_id for d in docs}
    delete = [
        i
        for parent, (_, ids) in stored.items()
        if parent not in keep or parent in {d.doc_id for d in fresh}
        for i in ids
        if i not in new_ids
    ]
    if not docs and not delete:
        return report
    report.truncated = count_truncated(collection.config, docs)
    n = collection.update(docs, delete, show_progress=show_progress)
    report.written = len(docs)
    report.deleted = n - len(docs)
    return report


def _reading(
    items: Iterable[Loaded], show: ShowProgress, label: str, total: int | None = None
) -> Iterable[Loaded]:
    """``items`` with a progress bar (count, rate, and time left when ``total`` is known)."""
    from hybridir._progress import track

    return track(items, label, total, show)


def _stored(collection: Collection) -> dict[str, tuple[str | None, list[str]]]:
    """``{source document id: (its sha256, its stored ids)}`` of the current generation."""
    out: dict[str, tuple[str | None, list[str]]] = {}
    for doc in collection.snapshot():
        parent = str(doc.metadata.get(PARENT, doc.doc_id))
        digest = doc.metadata.get(SHA256)
        _, ids = out.setdefault(parent, (digest if isinstance(digest, str) else None, []))
        ids.append(doc.doc_id)
    return out


def _stale(collection: Collection, parents: set[str], new_ids: set[str]) -> list[str]:
    """Stored passages of ``parents`` that the new version does not have."""
    stored = _stored(collection)
    return [i for p in parents for i in stored.get(p, (None, []))[1] if i not in new_ids]


def _report(found: SourceDocuments, loaded: Sequence[Loaded]) -> IngestReport:
    report = IngestReport(documents=len(loaded), source=found.report)
    report.skipped = list(found.report.skipped)
    report.metadata_fields = sorted(found.report.metadata_fields)
    return report


def _relative(path: str) -> str:
    return Path(path).as_posix()


def _skipped_note(report: IngestReport) -> str:
    if not report.skipped:
        return ""
    named = "; ".join(f"{p}: {r}" for p, r in report.skipped[:5])
    return f" ({len(report.skipped)} skipped: {named})"


def _full(doc: Document) -> str:
    return f"{doc.title} {doc.text}" if doc.title else doc.text


def read_units(
    config: CollectionConfig,
    source: str | Path,
    show_progress: ShowProgress = False,
    **options: Any,
) -> tuple[list[Document], IngestReport]:
    """Every document to store for ``source`` under ``config`` (chunked or whole), and the
    report, without a collection (the sharded indexer's input)."""
    return chunk_loaded(config, *load_units(source, show_progress, **options), show_progress)


def load_units(
    source: str | Path, show_progress: ShowProgress = False, **options: Any
) -> tuple[list[Loaded], IngestReport, str]:
    """The records of ``source``, read and parsed once (:func:`chunk_loaded` cuts them,
    under one config or another), with the reading report."""
    found = load_source(source, **options)
    loaded = list(_reading(found, show_progress, "Reading"))
    return loaded, _report(found, loaded), str(source)


def chunk_loaded(
    config: CollectionConfig,
    loaded: list[Loaded],
    report: IngestReport,
    source: str,
    show_progress: ShowProgress = False,
) -> tuple[list[Document], IngestReport]:
    """The documents to store of records :func:`load_units` read (chunked or whole, by
    ``config``), and ``report`` with their counts.

    Raises:
        InvalidInputError: no record gave a document.
    """
    docs = list(units(config, _reading(loaded, show_progress, "Chunking", len(loaded))))
    report.passages = report.written = len(docs)
    if not docs:
        raise InvalidInputError(f"{source}: no readable documents{_skipped_note(report)}")
    report.truncated = count_truncated(config, docs)
    return docs, report
