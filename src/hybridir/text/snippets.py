"""Snippets: a short window of a text around its densest cluster of matched query terms.

A word of the text (a run of non-space characters) matches when one of its index terms,
as the collection's analyzer makes them, is one of the query's: matching is on stemmed
terms, so ``panels`` matches the query ``panel`` exactly as BM25 counted it. The window of
``words`` words that holds the most distinct query terms (then the most matches; the
earliest on ties) is centred on its matches, HTML-escaped, and each matched word wrapped in
``<mark>…</mark>`` (only its word characters: ``(<mark>panels</mark>),``), with ``…`` where
text was cut. The result is an HTML fragment: ``&``, ``<``, ``>`` and quotes of the text
are escaped, so the only markup in it is :data:`MARK`.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from hybridir.errors import ConfigError
from hybridir.text.analyzer import Analyzer

SNIPPET_WORDS = 40
"""Words in a snippet by default."""
MARK = ("<mark>", "</mark>")
"""What a matched word is wrapped in."""
ELLIPSIS = "…"
"""Marks text cut before or after the window."""
WORD_MEMO = 200_000
"""Words whose index terms a :class:`WordTerms` remembers (a few tens of MB at most)."""


class Window(NamedTuple):
    """Words ``start`` (inclusive) to ``end`` (exclusive) of a text."""

    start: int
    end: int


def best_window(matches: Sequence[tuple[int, frozenset[str]]], n_words: int, size: int) -> Window:
    """The window of ``size`` words (of ``n_words``) around the densest cluster of matches.

    ``matches`` are (word position, query terms of that word), in position order. Every
    window that starts at a match is scored by (distinct query terms, matched words) and
    the best (earliest on ties) is widened evenly on both sides of its first and last
    match to ``size`` words, within the text. No match: the first ``size`` words.
    """
    _check_size(size)
    if not matches:
        return Window(0, min(size, n_words))
    best: tuple[int, int] = (-1, -1)
    first = last = 0
    for i, (start, _) in enumerate(matches):
        terms: set[str] = set()
        j = i
        while j < len(matches) and matches[j][0] < start + size:
            terms |= matches[j][1]
            j += 1
        score = (len(terms), j - i)
        if score > best:
            best, first, last = score, start, matches[j - 1][0]
    slack = size - (last - first + 1)
    begin = max(0, first - (slack + 1) // 2)  # odd slack: the extra word before
    end = min(n_words, begin + size)
    return Window(max(0, end - size), end)


class WordTerms:
    """The index terms of words (runs of non-space characters), memoised with the words
    that hold each term: snippets of a server's queries keep meeting the same words, and
    analysing a word alone is the bulk of a snippet's cost. Holds at most ``limit`` words
    (then starts afresh).

    Args:
        analyzer: the collection's analyzer.
        limit: the most words remembered.
    """

    def __init__(self, analyzer: Analyzer, limit: int = WORD_MEMO) -> None:
        self.analyzer = analyzer
        self.limit = limit
        self._memo: dict[str, frozenset[str]] = {}
        self._by_term: dict[str, set[str]] = {}

    def learn(self, words: set[str]) -> set[str]:
        """Analyse the ``words`` not seen before; returns them."""
        new = words.difference(self._memo)  # set minus dict: C-speed, by the set's size
        if len(self._memo) + len(new) > self.limit:
            self._memo.clear()  # a plain reset: rare, and cheaper than LRU bookkeeping
            self._by_term.clear()
            new = set(words)
        for word in new:
            terms = frozenset(self.analyzer.analyze(word))
            self._memo[word] = terms
            for term in terms:
                self._by_term.setdefault(term, set()).add(word)
        return new

    def terms(self, word: str) -> frozenset[str]:
        """``word``'s index terms."""
        found = self._memo.get(word)
        return frozenset(self.analyzer.analyze(word)) if found is None else found

    def words_with(self, terms: Iterable[str]) -> set[str]:
        """The words seen so far that hold one of ``terms``."""
        return set().union(*(self._by_term.get(t, ()) for t in terms))


class Snippets:
    """Snippets of texts for one query (see the module docstring).

    Args:
        analyzer: the collection's analyzer (the BM25 index terms).
        query: the query text; its index terms are the ones highlighted.
        words: words per snippet.
        vocabulary: a memo of words' index terms kept across queries (by default one for
            this query only); it must use ``analyzer``.

    Example:
        >>> Snippets(Analyzer(), "solar panel").snippet("Cheap solar panels & wind", 3)
        'Cheap <mark>solar</mark> <mark>panels</mark> …'
    """

    def __init__(
        self,
        analyzer: Analyzer,
        query: str,
        words: int = SNIPPET_WORDS,
        vocabulary: WordTerms | None = None,
    ) -> None:
        _check_size(words)
        if vocabulary is not None and vocabulary.analyzer is not analyzer:
            raise ConfigError("the snippets' word memo belongs to another analyzer")
        self.terms = frozenset(analyzer.analyze(query))
        self.words = words
        self.vocabulary = vocabulary or WordTerms(analyzer)
        self._matching = self.vocabulary.words_with(self.terms)
        self._marks: dict[str, str] = {}

    def matched(self, words: Iterable[str]) -> dict[str, frozenset[str]]:
        """The distinct ``words`` that hold a query term, with the query terms each holds
        (set operations over the memo; only words never seen before are analysed)."""
        vocabulary, terms = self.vocabulary, self.terms
        distinct = set(words)
        for word in vocabulary.learn(distinct):
            if not terms.isdisjoint(vocabulary.terms(word)):
                self._matching.add(word)
        return {w: vocabulary.terms(w) & terms for w in distinct & self._matching}

    def snippet(self, text: str, words: int | None = None) -> str:
        """The HTML snippet of ``text`` (``words`` per snippet, else the default)."""
        tokens = text.split()
        found = self.matched(tokens)
        matches = [(i, found[t]) for i, t in enumerate(tokens) if t in found]
        window = best_window(matches, len(tokens), words or self.words)
        parts = [ELLIPSIS] if window.start > 0 else []
        plain: list[str] = []  # unmatched words are escaped a run at a time
        for token in tokens[window.start : window.end]:
            if token in found:
                if plain:
                    parts.append(html.escape(" ".join(plain)))
                    plain = []
                parts.append(self._marked(token))
            else:
                plain.append(token)
        if plain:
            parts.append(html.escape(" ".join(plain)))
        if window.end < len(tokens):
            parts.append(ELLIPSIS)
        return " ".join(parts)

    def _marked(self, word: str) -> str:
        """``word`` escaped, with each of its word runs that holds a query term wrapped in
        :data:`MARK` (the whole word when the terms span runs); once per query and word."""
        marked = self._marks.get(word)
        if marked is None:
            runs = pieces(word)
            found = self.matched(text for text, is_word in runs if is_word)
            hit = [is_word and text in found for text, is_word in runs]
            if not any(hit):
                hit = [True]
                runs = [(word, True)]
            marked = "".join(
                f"{MARK[0]}{html.escape(text)}{MARK[1]}" if h else html.escape(text)
                for (text, _), h in zip(runs, hit, strict=True)
            )
            self._marks[word] = marked
        return marked


def _check_size(words: int) -> None:
    if words < 1:
        raise ConfigError(f"a snippet needs at least one word, got {words}")


def _is_word_char(c: str) -> bool:
    """Letters, digits, underscore and combining marks: what the tokenizers keep."""
    return c.isalnum() or c == "_" or unicodedata.category(c).startswith("M")


def pieces(word: str) -> list[tuple[str, bool]]:
    """``word`` cut into runs of word characters (joined across an inner ``'``, ``’`` or
    ``.``, as the tokenizers join them) and runs of other characters, each with whether
    it is a word run."""
    out: list[tuple[str, bool]] = []
    for i, c in enumerate(word):
        inner = (
            c in "'’."
            and 0 < i < len(word) - 1
            and _is_word_char(word[i - 1])
            and _is_word_char(word[i + 1])
        )
        kind = inner or _is_word_char(c)
        if out and out[-1][1] == kind:
            out[-1] = (out[-1][0] + c, kind)
        else:
            out.append((c, kind))
    return out


def highlighted(fragment: str) -> list[tuple[str, bool]]:
    """A snippet's plain text pieces, each with whether it was marked (for front ends that
    draw the highlight themselves, e.g. a terminal)."""
    pieces: list[tuple[str, bool]] = []
    inside = False
    for part in re.split(f"({re.escape(MARK[0])}|{re.escape(MARK[1])})", fragment):
        if part in MARK:
            inside = part == MARK[0]
        elif part:
            pieces.append((html.unescape(part), inside))
    return pieces
