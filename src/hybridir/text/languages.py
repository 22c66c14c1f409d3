"""Language registry: ISO 639-1 code → tokenizer, stopword source and default stemmer.

Every language of XQuAD-R, Mr. TyDi and MIRACL has an entry. Another well-formed ISO 639-1
code gets the generic analyzer (Unicode words, lowercased) with an
:class:`UnsupportedLanguageWarning`; a code that is not shaped like one is a
:class:`~hybridir.errors.ConfigError`. ``"auto"`` (:data:`hybridir.config.AUTO`) stands for
a language still to be detected from the documents (:mod:`hybridir.text.detect`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import NamedTuple

from hybridir.config import AUTO
from hybridir.errors import ConfigError


class UnsupportedLanguageWarning(UserWarning):
    """A language has no analyzer of its own; the generic one is used."""


class LanguageSpec(NamedTuple):
    """How one language is analysed by default.

    ``stopwords`` names a source of :data:`STOPWORD_SOURCES`: ``"lucene"`` (the list shipped
    in ``text/data``, English only), ``"iso"`` (the stopwords-iso collection) or ``"none"``.
    """

    name: str
    tokenizer: str
    stemmer: str
    stopwords: str


def _snowball(name: str, stopwords: str = "none") -> LanguageSpec:
    return LanguageSpec(name, "word", f"snowball:{name}", stopwords)


LANGUAGES: dict[str, LanguageSpec] = {
    # English reproduces Lucene's EnglishAnalyzer as Pyserini uses it: possessive removal,
    # Lucene's 33 stopwords, original Porter stemmer.
    "en": LanguageSpec("english", "word", "porter", "lucene"),
    # Polish: Snowball's Polish stemmer (PyStemmer 3). On PoQuAD-PL it ties with Stempel
    # (0.8540 vs 0.8558 nDCG@10, randomization p = 0.57) and Morfeusz (0.8532) at a fifth of
    # their cost; see docs/benchmarks.md.
    "pl": LanguageSpec("polish", "word", "snowball:polish", "iso"),
    # Stopwords: the stopwords-iso lists hold content words ("jahr", "год", "zeit"), so they
    # are off by default; only Arabic and Polish measured better with them (XQuAD-R, PoQuAD).
    "ar": _snowball("arabic", "iso"),
    "hy": _snowball("armenian"),
    "eu": _snowball("basque"),
    "ca": _snowball("catalan"),
    "cs": _snowball("czech"),
    "da": _snowball("danish"),
    "nl": _snowball("dutch"),
    "eo": _snowball("esperanto"),
    "et": _snowball("estonian"),
    "fi": _snowball("finnish"),
    "fr": _snowball("french"),
    "de": _snowball("german"),
    "el": _snowball("greek"),
    "hi": _snowball("hindi"),
    "hu": _snowball("hungarian"),
    "id": _snowball("indonesian"),
    "ga": _snowball("irish"),
    "it": _snowball("italian"),
    "lt": _snowball("lithuanian"),
    "ne": _snowball("nepali"),
    "no": _snowball("norwegian"),
    # Persian: the zero-width non-joiner separates words, as in Lucene's PersianAnalyzer.
    "fa": LanguageSpec("persian", "persian_word", "snowball:persian", "none"),
    "pt": _snowball("portuguese"),
    "ro": _snowball("romanian"),
    "ru": _snowball("russian"),
    "sr": _snowball("serbian"),
    "es": _snowball("spanish"),
    "sv": _snowball("swedish"),
    "ta": _snowball("tamil"),
    "tr": _snowball("turkish"),
    "yi": _snowball("yiddish"),
    "st": _snowball("sesotho"),
    # No stemmer: Unicode words, lowercased, as Lucene does for these (no Lucene analyzer for
    # Vietnamese, Swahili or Yoruba; Vietnamese syllables are space-separated words).
    "vi": LanguageSpec("vietnamese", "word", "none", "none"),
    "bn": LanguageSpec("bengali", "word", "none", "none"),
    "te": LanguageSpec("telugu", "word", "none", "none"),
    "sw": LanguageSpec("swahili", "word", "none", "none"),
    "yo": LanguageSpec("yoruba", "word", "none", "none"),
    # Scripts without spaces: character bigrams (Lucene CJKAnalyzer style), no stemming.
    "zh": LanguageSpec("chinese", "cjk_bigram", "none", "none"),
    "ja": LanguageSpec("japanese", "cjk_bigram", "none", "none"),
    "ko": LanguageSpec("korean", "cjk_bigram", "none", "none"),
    "th": LanguageSpec("thai", "cjk_bigram", "none", "none"),
    # No language-specific processing: Unicode words, lowercased.
    "xx": LanguageSpec("generic", "word", "none", "none"),
}
"""Every supported language; ``xx`` is language-neutral."""


GENERIC = "xx"
"""The language-neutral entry of :data:`LANGUAGES`."""

_ISO_639_1 = re.compile(r"[a-z]{2}")


def analyzer_language(code: str) -> str:
    """The :data:`LANGUAGES` key that analyses ``code``: itself when registered (or
    ``"auto"``), else :data:`GENERIC` with an :class:`UnsupportedLanguageWarning`.

    Raises:
        ConfigError: ``code`` is not shaped like an ISO 639-1 code (two lowercase letters).
    """
    if code in LANGUAGES or code == AUTO:
        return code
    if not _ISO_639_1.fullmatch(code):
        raise ConfigError(
            f"unknown language {code!r}; valid: an ISO 639-1 code (two lowercase letters) or "
            f"'auto'; with an analyzer of their own: {', '.join(sorted(LANGUAGES))}"
        )
    warnings.warn(
        f"no analyzer for language {code!r}: using the generic one (Unicode words, "
        f"lowercased, no stemming or stopwords); languages with their own: "
        f"{', '.join(sorted(LANGUAGES))}",
        UnsupportedLanguageWarning,
        stacklevel=2,
    )
    return GENERIC


def language_spec(code: str) -> LanguageSpec:
    """The spec of ``code`` (see :func:`analyzer_language`; ``"auto"``, a language not yet
    detected, analyses generically: only an empty collection has it)."""
    key = analyzer_language(code)
    return LANGUAGES[GENERIC if key == AUTO else key]


def _lucene_list(code: str) -> frozenset[str]:
    text = resources.files("hybridir.text").joinpath(f"data/stopwords_{code}_lucene.txt")
    if not text.is_file():
        raise ConfigError(f"no Lucene stopword list for language {code!r} (English only)")
    return frozenset(w for w in text.read_text(encoding="utf-8").split() if w)


def _iso_list(code: str) -> frozenset[str]:
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords(code))


STOPWORD_SOURCES: dict[str, Callable[[str], frozenset[str]]] = {
    "none": lambda code: frozenset(),
    "lucene": _lucene_list,
    "iso": _iso_list,
}


@cache
def stopwords(code: str, source: str) -> frozenset[str]:
    """The stopword set of a language from ``source`` (see :class:`LanguageSpec`)."""
    try:
        loader = STOPWORD_SOURCES[source]
    except KeyError:
        raise ConfigError(
            f"unknown stopword source {source!r}; valid: {sorted(STOPWORD_SOURCES)}"
        ) from None
    return loader(code)
