"""Readers of text formats: plain text, Markdown and HTML, each into a title and blocks.

Every reader takes the file's bytes and its name (for error messages) and returns a
:class:`~hybridir.ingest.document.Parsed`; a file it cannot decode raises
:class:`~hybridir.ingest.document.SourceError`. Markdown is parsed into tokens by
markdown-it-py (CommonMark plus GFM tables) and HTML into a tree by selectolax's Lexbor
engine; both are optional (``pip install 'hybridir[files]'``) and imported when first used.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hybridir.errors import missing_dependency
from hybridir.ingest.document import Block, BlockKind, Parsed, SourceError

if TYPE_CHECKING:
    from markdown_it.token import Token
    from selectolax.lexbor import LexborNode

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_CHARSET = re.compile(rb"""<meta[^>]*charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_text(data: bytes, where: str) -> str:
    """Decode UTF-8 text (a byte-order mark is dropped, line ends become ``\\n``).

    Raises:
        SourceError: the bytes are not UTF-8, or hold NUL bytes (a binary file).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(where, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    if "\x00" in text:
        raise SourceError(where, "binary content (NUL bytes) in a text file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped (``""`` if none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces, as a browser renders them."""
    return " ".join(text.split())


# -- plain text --------------------------------------------------------------------------------


def read_text(data: bytes, where: str) -> Parsed:
    """A plain-text file: one paragraph block per run of lines between blank lines; the
    title is the first non-blank line."""
    text = decode_text(data, where)
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return Parsed(_first_line(text), tuple(Block(p) for p in paragraphs))


# -- Markdown ----------------------------------------------------------------------------------


@dataclass
class Outline:
    """The heading path while walking a document, and the blocks emitted so far."""

    path: list[tuple[int, str]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    first_h1: str = ""

    def heading(self, level: int, text: str) -> None:
        """Enter a heading of ``level`` (1 = outermost), closing any at or below it."""
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        if level == 1 and not self.first_h1:
            self.first_h1 = text
        self.add(text, "heading")

    def add(self, text: str, kind: BlockKind = "paragraph") -> None:
        """Emit a block under the current heading path (blank text is dropped)."""
        if text.strip():
            self.blocks.append(Block(text, tuple(t for _, t in self.path), None, kind))

    def first_heading(self) -> str:
        """The text of the document's first heading block, or ``""``."""
        return next((b.text for b in self.blocks if b.kind == "heading"), "")


def _inline_text(token: Token) -> str:
    """The plain text of an inline token: its text, code spans and image descriptions,
    without markup (markdown-it-py puts those in ``children``)."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child))
    return "".join(parts).strip()


@dataclass
class _MarkdownWalk:
    """State of one pass over markdown-it-py's flat token stream."""

    outline: Outline = field(default_factory=Outline)
    lists: list[str] = field(default_factory=list)  # open lists' item markers ("-" or "1.")
    list_lines: list[str] = field(default_factory=list)
    marker: str | None = None  # the marker of a list item whose first line is not out yet
    rows: list[str] | None = None  # the rows of an open table
    cells: list[str] = field(default_factory=list)

    def inline(self, text: str) -> None:
        """Place inline text in the open table, list, or a paragraph of its own."""
        if self.rows is not None:
            self.cells.append(text)
        elif self.lists:
            indent = "  " * (len(self.lists) - 1)
            lead = f"{self.marker} " if self.marker else "  "
            self.list_lines.append(f"{indent}{lead}{text}")
            self.marker = None
        else:
            self.outline.add(text)

    def literal(self, text: str, kind: BlockKind) -> None:
        """A code or HTML block: a line of the open list, else a block of its own."""
        if self.lists:
            self.list_lines.append(text)
        else:
            self.outline.add(text, kind)

    def token(self, tok: Token, following: Token | None) -> bool:
        """Handle one token; return whether it used ``following`` (a heading's text)."""
        kind = tok.type
        if kind == "heading_open" and following is not None:
            self.outline.heading(int(tok.tag[1:]), _inline_text(following))
            return True
        if kind in ("bullet_list_open", "ordered_list_open"):
            self.lists.append("-" if kind == "bullet_list_open" else "{}.")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self.outline.add("\n".join(self.list_lines), "list")
                self.list_lines = []
        elif kind == "list_item_open":
            self.marker = self.lists[-1].format(tok.info or "1")
        elif kind == "table_open":
            self.rows = []
        elif kind == "tr_close" and self.rows is not None:
            self.rows.append(" | ".join(self.cells))
            self.cells = []
        elif kind == "table_close" and self.rows is not None:
            self.outline.add("\n".join(self.rows), "table")
            self.rows = None
        elif kind == "inline":
            self.inline(_inline_text(tok))
        elif kind in ("fence", "code_block"):
            self.literal(tok.content.rstrip("\n"), "code")
        elif kind == "html_block":
            self.literal(_html_fragment_text(tok.content), "paragraph")
        return False


def read_markdown(data: bytes, where: str) -> Parsed:
    """A Markdown file: headings set the heading path of the blocks below them; paragraphs,
    whole lists (one item per line, nesting indented), code blocks and tables (one row per
    line) are blocks. The title is the first heading.

    Parsed by markdown-it-py in CommonMark mode with GFM tables enabled
    (https://markdown-it-py.readthedocs.io/en/latest/using.html).
    """
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise missing_dependency("markdown-it-py", "files") from None
    tokens = MarkdownIt("commonmark").enable("table").parse(decode_text(data, where))
    walk = _MarkdownWalk()
    i = 0
    while i < len(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        i += 2 if walk.token(tokens[i], following) else 1
    return Parsed(walk.outline.first_heading(), tuple(walk.outline.blocks))


# -- HTML --------------------------------------------------------------------------------------

_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "nav", "aside", "svg", "canvas", "iframe"}
    | {"object", "form", "button", "select", "head"}
)
"""Elements whose text is never main text: code, page chrome, widgets."""
_PAGE_CHROME = frozenset({"header", "footer"})
"""Dropped when the main text is the whole ``<body>`` (inside ``<main>``/``<article>`` a
``<header>`` usually holds the article's own title)."""
_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "dfn", "em", "i", "kbd"}
    | {"mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
    | {"img", "wbr", "del", "ins", "label", "font"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def _html_decode(data: bytes, where: str) -> str:
    """UTF-8, else the charset a ``<meta>`` tag declares in the first 1,024 bytes (a short
    form of the HTML standard's encoding prescan)."""
    try:
        return decode_text(data, where)
    except SourceError:
        declared = _CHARSET.search(data[:1024])
        if declared is None:
            raise
        try:
            return data.decode(codecs.lookup(declared.group(1).decode("ascii")).name)
        except (LookupError, UnicodeDecodeError):
            raise SourceError(where, "not decodable with its declared charset") from None


@dataclass
class _HtmlWalk:
    """State of one pass over an HTML tree: the outline and the open run of inline text."""

    drop: frozenset[str]
    outline: Outline = field(default_factory=Outline)
    run: list[str] = field(default_factory=list)

    def flush(self) -> None:
        """End the open run of inline text as a paragraph."""
        self.outline.add(_squash("".join(self.run)))
        self.run = []

    def walk(self, node: LexborNode) -> None:
        """Emit the blocks of ``node``'s children, in document order."""
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text" or tag in _INLINE:
                self.run.append(_flat_text(child))
            elif tag in self.drop or tag.startswith("-"):
                continue
            else:
                self.flush()
                self.element(tag, child)
                self.flush()

    def element(self, tag: str, node: LexborNode) -> None:
        """One block-level element: a heading, code, a list, a table or a container."""
        if tag in _HEADINGS:
            self.outline.heading(_HEADINGS[tag], _squash(_flat_text(node)))
        elif tag == "pre":
            self.outline.add(node.text().strip("\n"), "code")
        elif tag in ("ul", "ol"):
            items = [_squash(_flat_text(li)) for li in _children(node, "li")]
            self.outline.add("\n".join(f"- {item}" for item in items if item), "list")
        elif tag == "table":
            self.outline.add("\n".join(_table_rows(node)), "table")
        else:
            self.walk(node)


def _flat_text(node: LexborNode) -> str:
    """The text of ``node`` as a browser lays it out on one line: inline elements run
    together, block elements and ``<br>`` are set apart by spaces, scripts and styles are
    left out (whitespace is not squashed here, so the pieces can be joined)."""
    if node.tag == "-text":
        return node.text(deep=False)
    if node.tag == "br":
        return " "
    parts: list[str] = []
    for child in node.iter(include_text=True):
        tag = child.tag or ""
        if tag == "-text":
            parts.append(child.text(deep=False))
        elif tag in _INLINE:
            parts.append(_flat_text(child))
        elif tag not in _DROPPED and not tag.startswith("-"):
            parts.append(f" {_flat_text(child)} ")
    return "".join(parts)


def _children(node: LexborNode, *tags: str) -> list[LexborNode]:
    """The element children of ``node`` named one of ``tags``."""
    return [c for c in node.iter() if c.tag in tags]


def _table_rows(table: LexborNode) -> list[str]:
    """One line per row, its cells' texts joined by `` | `` (nested tables inline)."""
    cells = [
        [_squash(_flat_text(c)) for c in _children(row, "td", "th")] for row in table.css("tr")
    ]
    return [" | ".join(row) for row in cells if any(row)]


def _html_fragment_text(fragment: str) -> str:
    """The text of an HTML fragment inside Markdown (tags dropped, whitespace squashed)."""
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        raise missing_dependency("selectolax", "files") from None
    body = LexborHTMLParser(fragment).body
    return _squash(body.text(separator=" ")) if body is not None else ""


def read_html(data: bytes, where: str) -> Parsed:
    """An HTML page's main text: ``<main>``, else a lone ``<article>``, else ``<body>``,
    without scripts, styles, navigation, asides and (for ``<body>``) page header and footer.
    ``h1``-``h6`` set the heading path; paragraphs, lists, ``pre`` and tables (one row per
    line) are blocks, and loose text between them forms paragraphs. The title is
    ``<title>``, else the first ``h1``.

    Parsed by selectolax's Lexbor engine (https://selectolax.readthedocs.io/en/latest/lexbor.html).
    """
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        raise missing_dependency("selectolax", "files") from None
    tree = LexborHTMLParser(_html_decode(data, where))
    title_node = tree.css_first("title")
    title = _squash(title_node.text()) if title_node is not None else ""
    articles = tree.css("article")
    root = tree.css_first("main") or (articles[0] if len(articles) == 1 else None)
    drop = _DROPPED if root is not None else _DROPPED | _PAGE_CHROME
    root = root or tree.body
    walk = _HtmlWalk(drop)
    if root is not None:
        walk.walk(root)
        walk.flush()
    return Parsed(title or walk.outline.first_h1, tuple(walk.outline.blocks))
