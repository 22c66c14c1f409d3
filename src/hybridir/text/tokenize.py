"""Tokenizers: Unicode text → raw tokens, before normalisation.

``word`` follows the shape of Lucene's StandardTokenizer (UAX #29 word boundaries) closely
enough for BM25 parity with Pyserini: runs of letters, marks, digits and underscore, kept
together across an inner apostrophe or period (``don't``, ``u.s``, ``3.5``) and across the
zero-width joiner and non-joiner (UAX #29 rule WB4: Format and Extend characters never
split a word), which are then dropped from the token as Lucene's Indic normalizers drop them
(Bengali ``র‍্যাব`` is one word, ``র্যাব``, with or without its joiner).
``persian_word`` first maps the zero-width non-joiner to a space (Lucene's
PersianCharFilter). ``cjk_bigram`` also turns runs of Han, Kana, Hangul and Thai characters
into overlapping character bigrams, as Lucene's CJKBigramFilter does (a lone character
stays a unigram).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import cache

Tokenizer = Callable[[str], list[str]]

# Scripts written without spaces; ranges from the Unicode blocks of Han, Hiragana,
# Katakana, Hangul and Thai.
_CJK_RANGES = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"  # Hangul
    "\u0e00-\u0e7f"  # Thai
)


@cache
def _mark_class() -> str:
    """Character-class body of every combining mark in the BMP (``re`` lacks ``\\p{M}``).

    Built on first use, not at import, and cached: Devanagari, Thai and Arabic words need
    their vowel signs, which ``\\w`` does not match.
    """
    marks = [
        chr(c)
        for c in range(sys.maxunicode if sys.maxunicode < 0x10000 else 0x10000)
        if unicodedata.category(chr(c)).startswith("M")
    ]
    return "".join(re.escape(m) for m in marks)


JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner
INNER_CHARS = "'’."
"""Characters that join two word-character runs into one token (``don't``, ``u.s``)."""


@cache
def word_chars() -> str:
    """Pattern of a run of word characters (``\\w`` and every BMP combining mark)."""
    return rf"[\w{_mark_class()}]+"


@cache
def _unit() -> str:
    """Pattern of a run of word characters, joiners allowed between them."""
    chars = word_chars()
    return rf"{chars}(?:[{JOINERS}]+{chars})*"


@cache
def _word_pattern() -> re.Pattern[str]:
    unit = _unit()
    return re.compile(rf"{unit}(?:[{INNER_CHARS}]{unit})*")


@cache
def _cjk_pattern() -> re.Pattern[str]:
    unit = _unit()
    return re.compile(rf"([{_CJK_RANGES}]+)|({unit}(?:[{INNER_CHARS}]{unit})*)")


def without_joiners(tokens: list[str]) -> list[str]:
    """``tokens`` with the zero-width joiners dropped (kept inside words by the pattern)."""
    return [t.replace("\u200c", "").replace("\u200d", "") for t in tokens]


def has_joiner(text: str) -> bool:
    """Whether ``text`` holds a zero-width joiner or non-joiner."""
    return "\u200c" in text or "\u200d" in text


def word_tokens(text: str) -> list[str]:
    """Split ``text`` into word tokens (UAX #29-like; see module docstring)."""
    tokens: list[str] = _word_pattern().findall(text)
    return without_joiners(tokens) if has_joiner(text) else tokens


def persian_word_tokens(text: str) -> list[str]:
    """``word`` tokens after Lucene's PersianCharFilter, which turns the zero-width
    non-joiner into a space: Persian writes it inside compounds and before suffixes
    (``کتاب‌ها`` is ``کتاب`` + ``ها``), where Lucene's PersianAnalyzer splits."""
    return word_tokens(text.replace("\u200c", " "))


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def cjk_bigram_tokens(text: str) -> list[str]:
    """Word tokens, with Han/Kana/Hangul/Thai runs turned into overlapping bigrams.

    Source: Lucene ``CJKBigramFilter`` (bigrams of adjacent CJK characters, unigrams for
    isolated ones); Thai is treated the same way instead of with a dictionary segmenter.
    """
    tokens: list[str] = []
    for cjk, word in _cjk_pattern().findall(text):
        if cjk:
            # A CJK run may still contain non-CJK word characters after it; the regex
            # alternation gives those their own match, so only the run is bigrammed here.
            tokens.extend(_bigrams(cjk))
        else:
            tokens.append(word)
    return without_joiners(tokens) if has_joiner(text) else tokens


TOKENIZERS: dict[str, Tokenizer] = {
    "word": word_tokens,
    "persian_word": persian_word_tokens,
    "cjk_bigram": cjk_bigram_tokens,
}
"""Tokenizer registry, keyed by the name used in language specs."""
