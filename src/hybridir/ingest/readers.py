"""The document file readers, by file suffix, and reading one file into a
:class:`~hybridir.ingest.document.Loaded` with its file metadata.

:data:`READERS` maps a lower-case suffix to a :class:`Reader`; adding a format is adding an
entry. Every file read gets the metadata ``path`` (POSIX, relative to the folder read),
``modified`` (ISO-8601 UTC), ``sha256`` (of the file's bytes, for syncing by content) and
``format``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hybridir.errors import HybridirError
from hybridir.ingest.document import Loaded, Parsed, SourceError
from hybridir.ingest.markup import read_html, read_markdown, read_text
from hybridir.ingest.office import read_docx, read_pdf

logger = logging.getLogger(__name__)

FILE_METADATA = ("path", "modified", "sha256", "format")
"""The metadata fields every document read from a file gets."""

EMPTY = "empty file"
"""The skip reason of a file of zero bytes (or whitespace only)."""
NO_TEXT = "no text"
"""The skip reason of a file that parsed but holds no text."""

_MAX_REASON = 300


@dataclass(frozen=True)
class Reader:
    """A file format: its name (the ``format`` metadata) and its reader, which takes the
    file's bytes and its name (for messages) and returns the title and blocks."""

    format: str
    read: Callable[[bytes, str], Parsed]


READERS: dict[str, Reader] = {
    ".txt": Reader("text", read_text),
    ".md": Reader("markdown", read_markdown),
    ".markdown": Reader("markdown", read_markdown),
    ".html": Reader("html", read_html),
    ".htm": Reader("html", read_html),
    ".pdf": Reader("pdf", read_pdf),
    ".docx": Reader("docx", read_docx),
}
"""Document readers by lower-case file suffix."""


def reader_for(path: Path) -> Reader | None:
    """The reader of ``path``'s suffix (case-insensitive), or ``None`` for other files."""
    return READERS.get(path.suffix.lower())


def read_file(path: Path, doc_id: str, reader: Reader) -> Loaded:
    """Read one document file.

    Args:
        path: the file.
        doc_id: its id, also its ``path`` metadata and the name in error messages.
        reader: the reader of its format (:func:`reader_for`).

    Returns:
        The document, with ``path``, ``modified``, ``sha256`` and ``format`` metadata.

    Raises:
        SourceError: the file cannot be opened, is empty, is not a valid file of its format
            (the parser's complaint is the reason), or holds no text.
        MissingDependencyError: the format's library is not installed.
    """
    try:
        data = path.read_bytes()
        modified = path.stat().st_mtime
    except OSError as exc:
        raise SourceError(doc_id, f"cannot read the file ({exc.strerror or exc})") from None
    if not data.strip():
        raise SourceError(doc_id, EMPTY)
    parsed = _parse(reader, data, doc_id)
    if not parsed.has_text:
        raise SourceError(doc_id, NO_TEXT)
    metadata = {
        "path": doc_id,
        "modified": datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": reader.format,
    }
    return Loaded(doc_id, parsed.title, parsed.blocks, metadata)


def _parse(reader: Reader, data: bytes, doc_id: str) -> Parsed:
    """Run a reader; whatever a third-party parser raises on a malformed file becomes a
    :class:`SourceError` (parsers of untrusted bytes fail in many ways: pypdf raises
    ``PdfReadError`` but also ``KeyError`` or ``RecursionError`` on broken files)."""
    try:
        return reader.read(data, doc_id)
    except HybridirError:
        raise
    except Exception as exc:  # the parser's own failure on this file, reported by name
        logger.debug("reading %s failed", doc_id, exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"[:_MAX_REASON]
        raise SourceError(doc_id, f"not a readable {reader.format} file ({detail})") from None
