"""A folder of "own documents" built with the real libraries, for ingest, CLI and HTTP tests.

Import it from any test (``tests/`` is on ``sys.path`` under pytest's default import mode)::

    from own_docs import make_folder

    expected = make_folder(tmp_path / "docs")
    # index tmp_path / "docs", then compare with expected["ids"], expected["titles"], ...
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import docx
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

ENCRYPTED_REASON = "encrypted PDF (a password is needed to open it)"
IMAGE_ONLY_REASON = "no text layer (image-only PDF; run OCR first)"

_MARKDOWN = """\
# Setup guide

Install the package with pip before the first run.

## Requirements

- Python 3.11 or newer
- a C compiler
  - only for the optional extras

```bash
pip install hybridir
```

| extra | what for |
|---|---|
| files | PDF and Word readers |

### Optional GPU

GPU support speeds up dense encoding.
"""

_HTML = """\
<!doctype html>
<html>
<head>
  <title>Hybrid search explained</title>
  <style>.junk { color: red }</style>
  <script>var scriptJunk = 1;</script>
</head>
<body>
  <header>HeaderJunk site banner</header>
  <nav><a href="/">NavJunk home</a> <a href="/about">NavJunk about</a></nav>
  <div class="content">
    <h1>Hybrid retrieval</h1>
    <p>Dense and sparse result lists are <b>fused</b> into one ranking.</p>
    <h2>Fusion</h2>
    <p>Reciprocal rank fusion adds one over sixty plus the rank.</p>
    <ul><li>BM25 finds exact terms</li><li>embeddings find paraphrases</li></ul>
    <aside>AsideJunk related posts</aside>
  </div>
  <footer>FooterJunk copyright</footer>
  <script>trackingJunk();</script>
</body>
</html>
"""

PDF_PAGES = ("Revenue grew in the first quarter.", "Costs fell in the second quarter.")


def make_pdf(pages: tuple[str, ...], title: str | None = None) -> bytes:
    """A PDF with one line of Helvetica text per page (fpdf2); ``""`` makes a page with a
    drawn rectangle and no text, as a scan without OCR has."""
    pdf = FPDF()
    if title is not None:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.cell(text=text)
        else:
            pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def _encrypted(pdf: bytes) -> bytes:
    """``pdf`` encrypted with a user password (pypdf ``PdfWriter.encrypt``)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx(path: Path) -> None:
    """A Word file: a Heading 1, two paragraphs, a Heading 2, a bulleted list and a table."""
    document = docx.Document()
    document.add_heading("Team memo", level=1)
    document.add_paragraph("The search service moves to the new cluster on Monday.")
    document.add_paragraph("Queries keep working during the move.")
    document.add_heading("Owners", level=2)
    document.add_paragraph("Alice runs the migration", style="List Bullet")
    document.add_paragraph("Bob watches the dashboards", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    cells = [("service", "owner"), ("search", "Alice")]
    for row, (left, right) in zip(table.rows, cells, strict=True):
        row.cells[0].text, row.cells[1].text = left, right
    document.save(str(path))


def make_folder(path: Path) -> dict[str, Any]:
    """Build a folder of real documents (made by fpdf2, pypdf, python-docx) under ``path``.

    Files (ids are POSIX paths relative to ``path``):

    - ``notes.txt``: plain text; title ``"Release notes"``.
    - ``guides/setup.md``: Markdown with ``# Setup guide``, ``## Requirements`` (a nested
      list, a bash code fence, a table) and ``### Optional GPU``; title ``"Setup guide"``.
    - ``guides/page.html``: ``<title>Hybrid search explained</title>``, h1 ``Hybrid
      retrieval``, h2 ``Fusion``, a list; junk whose text contains ``Junk`` in script,
      style, header, nav, aside and footer (none of it may be read).
    - ``papers/report.pdf``: 2 pages (:data:`PDF_PAGES`), metadata title
      ``"Quarterly report"``.
    - ``memo.docx``: Heading 1 ``Team memo``, paragraphs, Heading 2 ``Owners``, a bulleted
      list and a 2×2 table; no core-properties title, so the title is ``"Team memo"``.
    - skipped: ``papers/locked.pdf`` (encrypted with a user password),
      ``papers/scan.pdf`` (a page with no text layer), ``papers/broken.pdf`` (random
      bytes), ``empty.txt`` (zero bytes).
    - left out: ``image.png`` (no reader: counted as unsupported), ``.hidden/secret.md``
      and ``.draft.md`` (hidden: never read, never counted).

    Returns:
        ``{"ids": [...], "titles": {id: title}, "skipped": {id: reason or reason prefix},
        "unsupported": {".png": 1}, "formats": {format: count}, "hidden": [...]}``.
    """
    (path / "guides").mkdir(parents=True, exist_ok=True)
    (path / "papers").mkdir(exist_ok=True)
    (path / ".hidden").mkdir(exist_ok=True)
    (path / "notes.txt").write_text(
        "Release notes\nVersion 2.0\n\nHybrid search fuses BM25 and dense lists.\n", "utf-8"
    )
    (path / "guides" / "setup.md").write_text(_MARKDOWN, "utf-8")
    (path / "guides" / "page.html").write_text(_HTML, "utf-8")
    (path / "papers" / "report.pdf").write_bytes(make_pdf(PDF_PAGES, title="Quarterly report"))
    (path / "papers" / "locked.pdf").write_bytes(_encrypted(make_pdf(("Top secret plans.",))))
    (path / "papers" / "scan.pdf").write_bytes(make_pdf(("",)))
    (path / "papers" / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    _docx(path / "memo.docx")
    (path / "empty.txt").write_bytes(b"")
    (path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (path / ".hidden" / "secret.md").write_text("# Hidden\n\nNever read.\n", "utf-8")
    (path / ".draft.md").write_text("# Draft\n\nNever read.\n", "utf-8")
    titles = {
        "guides/page.html": "Hybrid search explained",
        "guides/setup.md": "Setup guide",
        "memo.docx": "Team memo",
        "notes.txt": "Release notes",
        "papers/report.pdf": "Quarterly report",
    }
    return {
        "ids": sorted(titles),
        "titles": titles,
        "skipped": {
            "empty.txt": "empty file",
            "papers/broken.pdf": "not a readable pdf file",
            "papers/locked.pdf": ENCRYPTED_REASON,
            "papers/scan.pdf": IMAGE_ONLY_REASON,
        },
        "unsupported": {".png": 1},
        "formats": {"docx": 1, "html": 1, "markdown": 1, "pdf": 1, "text": 1},
        "hidden": [".draft.md", ".hidden/secret.md"],
    }
