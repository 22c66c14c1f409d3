"""Sentence and line boundaries, as character spans, for cutting blocks that are too long.

Sentences end at ``.``, ``!``, ``?``, ``…`` (followed by whitespace or the end, after any
closing quotes or brackets) and at ``。``, ``！``, ``？`` (full-width: no space needed). A
period does not end a sentence after an initial (``J. Smith``), a word with an inner period
(``e.g.``, ``U.S.``), a common abbreviation (``Dr.``, ``Fig.``, ``et al.``), and no Latin
terminator does before a lowercase letter (``approx. three``). These are the rules the
Punkt sentence tokenizer learns its statistics for (Kiss & Strunk, "Unsupervised
Multilingual Sentence Boundary Detection", Computational Linguistics 32(4), 2006: initials,
abbreviations, the case of the next word), reduced to fixed rules that need no trained model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import regex

Span = tuple[int, int]
"""``(start, end)`` character offsets into a text."""

# A word list reads best as one string; SIM905 would have it a 40-element literal.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs fig figs eq eqs no nos al cf approx ca vol pp ref refs "  # noqa: SIM905
    "dept inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
"""Lowercased words that a period usually abbreviates rather than ends (titles, citation
and figure references, months, company suffixes)."""

_CLOSERS = "\"'”’)\\]»」』）"


@cache
def _terminators() -> regex.Pattern[str]:
    latin = rf"[.!?…]+[{_CLOSERS}]*(?=\s|\Z)"
    cjk = rf"[。！？]+[{_CLOSERS}]*"
    return regex.compile(rf"(?P<latin>{latin})|(?P<cjk>{cjk})")


@cache
def _last_word() -> regex.Pattern[str]:
    return regex.compile(r"[\p{L}\p{N}.]*\Z")


@cache
def _next_char() -> regex.Pattern[str]:
    return regex.compile(r"\s*(\S?)")


def _ends_sentence(text: str, match: regex.Match[str]) -> bool:
    """Whether a Latin terminator match really ends a sentence (see the module docstring)."""
    following = _next_char().match(text, match.end())
    nxt = following.group(1) if following else ""
    if nxt and nxt.islower():
        return False
    if match.group().rstrip(_CLOSERS) != ".":
        return True
    # The word before the period, within a short look-back (words are short).
    found = _last_word().search(text, max(0, match.start() - 40), match.start())
    word = found.group() if found else ""
    if len(word) == 1 and word.isalpha():
        return False
    return "." not in word and word.lower() not in _ABBREVIATIONS


def _strip(text: str, start: int, end: int) -> Span | None:
    """``(start, end)`` narrowed to exclude surrounding whitespace, or ``None`` if blank."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The sentences of ``text[start:end]``, as spans of ``text`` without the whitespace
    between them; together they cover every non-blank character, in order.

    Example:
        >>> t = "Dr. Who ran. It was e.g. fast! 次に。終わり"
        >>> [t[a:b] for a, b in sentence_spans(t)]
        ['Dr. Who ran.', 'It was e.g. fast!', '次に。', '終わり']
    """
    stop = len(text) if end is None else end
    spans: list[Span] = []
    begin = start
    for match in _terminators().finditer(text, start, stop):
        if match.group("latin") and not _ends_sentence(text, match):
            continue
        span = _strip(text, begin, match.end())
        if span is not None:
            spans.append(span)
        begin = match.end()
    tail = _strip(text, begin, stop)
    if tail is not None:
        spans.append(tail)
    return spans


def line_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The non-blank lines of ``text[start:end]`` (list items, table rows, code lines), as
    spans of ``text`` without their surrounding whitespace."""
    stop = len(text) if end is None else end
    spans: list[Span] = []
    begin = start
    while begin < stop:
        newline = text.find("\n", begin, stop)
        line_end = stop if newline < 0 else newline
        span = _strip(text, begin, line_end)
        if span is not None:
            spans.append(span)
        begin = line_end + 1
    return spans


SPLITTERS: dict[str, Callable[[str, int, int | None], list[Span]]] = {
    "heading": sentence_spans,
    "paragraph": sentence_spans,
    "list": line_spans,
    "table": line_spans,
    "code": line_spans,
}
"""How a block of each kind (:data:`hybridir.ingest.document.BLOCK_KINDS`) is cut when it is
too long: prose into sentences; lists, tables and code into lines (items, rows)."""
