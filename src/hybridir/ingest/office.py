"""Readers of binary document formats: PDF (pypdf) and Word ``.docx`` (python-docx).

Both take the file's bytes and its name (for error messages) and return a
:class:`~hybridir.ingest.document.Parsed`. Both libraries are optional
(``pip install 'hybridir[files]'``) and imported when first used.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from hybridir.errors import missing_dependency
from hybridir.ingest.document import Block, Parsed, SourceError
from hybridir.ingest.markup import Outline

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

ENCRYPTED = "encrypted PDF (a password is needed to open it)"
"""The skip reason of a PDF that does not open without a password."""
NO_TEXT_LAYER = "no text layer (image-only PDF; run OCR first)"
"""The skip reason of a PDF whose pages hold no extractable text (scans)."""

_HEADING_STYLE = re.compile(r"heading (\d)$", re.IGNORECASE)


# -- PDF ---------------------------------------------------------------------------------------


def read_pdf(data: bytes, where: str) -> Parsed:
    """A PDF: one paragraph block per page that has text, with its 1-based ``page``. The
    title is the document information's ``/Title``, else the first line of text.

    A PDF encrypted with an empty user password (restrictions only) is opened; one that needs
    a password is refused. Text is extracted by pypdf's ``PageObject.extract_text``
    (https://pypdf.readthedocs.io/en/stable/user/extract-text.html), which reads the text
    layer only: scanned pages need OCR first.

    Raises:
        SourceError: an encrypted PDF, a PDF without pages, or one with no text layer.
    """
    try:
        from pypdf import PdfReader
    except ImportError:
        raise missing_dependency("pypdf", "files") from None
    reader = PdfReader(io.BytesIO(data))
    # decrypt("") opens owner-password-only files; 0 (PasswordType.NOT_DECRYPTED) means no.
    if reader.is_encrypted and not reader.decrypt(""):
        raise SourceError(where, ENCRYPTED)
    if len(reader.pages) == 0:
        raise SourceError(where, "PDF without pages")
    blocks = tuple(
        Block(text, (), number, "paragraph")
        for number, page in enumerate(reader.pages, start=1)
        if (text := _page_text(page.extract_text()))
    )
    if not blocks:
        raise SourceError(where, NO_TEXT_LAYER)
    info = reader.metadata
    title = (info.title or "").strip() if info is not None else ""
    return Parsed(title or blocks[0].text.splitlines()[0].strip(), blocks)


def _page_text(text: str | None) -> str:
    """A page's extracted text without trailing spaces and blank edges (``""`` if none)."""
    lines = [line.rstrip() for line in (text or "").splitlines()]
    return "\n".join(lines).strip("\n") if any(lines) else ""


# -- Word --------------------------------------------------------------------------------------


def read_docx(data: bytes, where: str) -> Parsed:
    """A Word ``.docx`` document: ``Title`` and ``Heading N`` paragraphs set the heading
    path; other paragraphs are blocks, consecutive ``List …`` paragraphs one list block, and
    each table a table block (one row per line, cells joined by `` | ``), in document order.
    The title is the core properties' title, else the first heading.

    Read by python-docx's ``Document.iter_inner_content``, which yields paragraphs and
    tables in body order (https://python-docx.readthedocs.io/en/latest/api/document.html).
    """
    try:
        import docx
        from docx.text.paragraph import Paragraph
    except ImportError:
        raise missing_dependency("python-docx", "files") from None
    document = docx.Document(io.BytesIO(data))
    outline = Outline()
    items: list[str] = []
    for part in document.iter_inner_content():
        if isinstance(part, Paragraph) and _is_list_item(part):
            if part.text.strip():
                items.append(f"- {part.text.strip()}")
            continue
        outline.add("\n".join(items), "list")
        items = []
        if isinstance(part, Paragraph):
            _paragraph(outline, part)
        else:
            outline.add("\n".join(_table_rows(part)), "table")
    outline.add("\n".join(items), "list")
    title = (document.core_properties.title or "").strip()
    return Parsed(title or outline.first_heading(), tuple(outline.blocks))


def _style_name(paragraph: Paragraph) -> str:
    """The paragraph's style name (``""`` when it has none)."""
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _is_list_item(paragraph: Paragraph) -> bool:
    """Whether the paragraph has one of Word's list styles (``List Bullet``, ``List Number``,
    ``List Paragraph``…)."""
    return _style_name(paragraph).lower().startswith("list")


def _paragraph(outline: Outline, paragraph: Paragraph) -> None:
    """Add a paragraph: a heading (``Title`` counts as level 0, above ``Heading 1``) or a
    paragraph block."""
    text = paragraph.text.strip()
    name = _style_name(paragraph)
    level = _HEADING_STYLE.match(name)
    if text and (level or name.lower() == "title"):
        outline.heading(int(level.group(1)) if level else 0, text)
    else:
        outline.add(text)


def _table_rows(table: Table) -> list[str]:
    """One line per row with text, its cells' texts joined by `` | ``."""
    rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    return [" | ".join(row) for row in rows if any(row)]
