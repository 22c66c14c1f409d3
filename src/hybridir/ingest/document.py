"""What a reader makes of one source document: a title, metadata and an ordered list of blocks.

A :class:`Block` is one unit of the document's structure (a heading, a paragraph, a list, a
code fence, a table) with the heading path above it and, for PDFs, its 1-based page. The
chunker cuts blocks into passages and carries ``headings`` and ``page`` into each passage's
metadata (:data:`~hybridir.types.HEADINGS`, :data:`~hybridir.types.PAGES`); without chunking,
:meth:`Loaded.to_document` makes one :class:`~hybridir.types.Document` of the whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hybridir.errors import InvalidInputError
from hybridir.types import Document

BlockKind = Literal["heading", "paragraph", "list", "code", "table"]
"""What a block is: a heading, a paragraph, a (whole) list, a code block, a table."""

BLOCK_KINDS: tuple[BlockKind, ...] = ("heading", "paragraph", "list", "code", "table")
"""Every :data:`BlockKind`, in a fixed order."""

BLOCK_SEPARATOR = "\n\n"
"""What joins blocks into a document's text (a blank line, as between paragraphs)."""


@dataclass(frozen=True)
class Block:
    """One structural unit of a document, in reading order.

    Args:
        text: the block's text (a table is one row per line, cells separated by `` | ``;
            a list is one item per line).
        headings: the heading path the block sits under, outermost first. A heading block's
            path ends with the heading itself.
        page: the 1-based page the block is on (PDFs), else ``None``.
        kind: what the block is (:data:`BlockKind`).
    """

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    kind: BlockKind = "paragraph"


@dataclass(frozen=True)
class Parsed:
    """What a file reader found in one file: its title (``""`` if none) and its blocks."""

    title: str
    blocks: tuple[Block, ...]

    @property
    def has_text(self) -> bool:
        """Whether any block holds more than whitespace."""
        return any(b.text.strip() for b in self.blocks)


class SourceError(InvalidInputError):
    """One document of a source could not be read (a file, or a row of a table).

    ``where`` names it (a file's path relative to the folder read, or ``"<file>:<line>"``)
    and ``reason`` says why, e.g. ``"encrypted PDF"``; the message is ``"<where>: <reason>"``.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class Loaded:
    """A document as read from its source, before any chunking.

    Args:
        doc_id: the id the document gets in a collection (for files: the POSIX path relative
            to the folder read, e.g. ``"guides/setup.md"``).
        title: the document's title (``""`` when it has none).
        blocks: the document's blocks in reading order.
        metadata: JSON-serialisable attributes (for files: ``path``, ``modified``, ``sha256``,
            ``format``; for tables: every column that is not the id, text or title).
    """

    doc_id: str
    title: str
    blocks: tuple[Block, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The blocks' texts joined by blank lines (blank blocks left out)."""
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks if b.text.strip())

    def to_document(self) -> Document:
        """The whole document as one :class:`~hybridir.types.Document` (no chunking).

        Example:
            >>> Loaded("a", "A", (Block("one"), Block("two"))).to_document().text
            'one\\n\\ntwo'
        """
        return Document(
            doc_id=self.doc_id, text=self.text, title=self.title, metadata=dict(self.metadata)
        )
