"""Stemmers and lemmatizers, one registry, each built lazily.

A stemmer maps a list of lowercase tokens to their stems (same length, same order). Factories
import their package only when called, so ``import hybridir`` stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

from hybridir.errors import ConfigError, missing_dependency

logger = logging.getLogger(__name__)

Stemmer = Callable[[list[str]], list[str]]
"""Maps tokens to stems, one for one."""


def snowball(algorithm: str) -> Stemmer:
    """A Snowball stemmer from PyStemmer (``"english"``, ``"porter"``, ``"polish"``, …).

    ``"porter"`` is Porter's original 1980 algorithm, the one Lucene's ``PorterStemFilter``
    and therefore Pyserini's default English analyzer use.
    """
    import Stemmer as pystemmer  # noqa: N813

    if algorithm not in pystemmer.algorithms():
        raise ConfigError(
            f"PyStemmer has no algorithm {algorithm!r}; valid: {sorted(pystemmer.algorithms())}"
        )
    stemmer = pystemmer.Stemmer(algorithm)
    # The analyzers memoise stems per raw token already; PyStemmer's own word cache only
    # adds bookkeeping (stemming SciFact's 46k distinct tokens: 13 ms without it, 49 ms
    # with its default 10,000 entries). Its stems are the same either way.
    stemmer.maxCacheSize = 0
    stem_words: Stemmer = stemmer.stemWords
    return stem_words


@cache
def _stempel_table() -> Callable[[str], str | None]:
    try:
        from pystempel import Stemmer as StempelStemmer
    except ImportError as exc:
        raise missing_dependency("pystempel", "polish") from exc
    # The Polimorf-trained table (Lucene's default for Polish); loading takes a few seconds,
    # hence the cache.
    stem: Callable[[str], str | None] = StempelStemmer.polimorf()
    return stem


def stempel() -> Stemmer:
    """Polish Stempel stemmer (Białecki; Lucene ``StempelPolishStemFilter``), via pystempel."""
    table = _stempel_table()

    def stem_words(tokens: list[str]) -> list[str]:
        out = []
        for token in tokens:
            stem = table(token)
            out.append(stem if stem else token)
        return out

    return stem_words


@cache
def _morfeusz() -> object:
    try:
        import morfeusz2
    except ImportError as exc:
        raise missing_dependency("morfeusz2", "polish") from exc
    return morfeusz2.Morfeusz(generate=False)


def morfeusz() -> Stemmer:
    """Polish lemmatizer Morfeusz 2 (Woliński, SGJP dictionary): first lemma of each token.

    Homonym tags such as ``"zamek:s1"`` are stripped; unknown words are kept as they are.
    """
    analyser = _morfeusz()

    def lemmatize(tokens: list[str]) -> list[str]:
        out = []
        for token in tokens:
            analyses = analyser.analyse(token)  # type: ignore[attr-defined]
            lemma = analyses[0][2][1].split(":", 1)[0] if analyses else token
            out.append(lemma.lower() if lemma else token)
        return out

    return lemmatize


def identity() -> Stemmer:
    """No stemming."""
    return list


STEMMERS: dict[str, Callable[[], Stemmer]] = {
    "none": identity,
    "porter": lambda: snowball("porter"),
    "stempel": stempel,
    "morfeusz": morfeusz,
}
"""Named stemmers; ``snowball:<algorithm>`` names any PyStemmer algorithm as well."""


def get_stemmer(name: str) -> Stemmer:
    """Build the stemmer called ``name`` (a :data:`STEMMERS` key or ``snowball:<algorithm>``)."""
    if name.startswith("snowball:"):
        return snowball(name.split(":", 1)[1])
    try:
        factory = STEMMERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown stemmer {name!r}; valid: {sorted(STEMMERS)} or 'snowball:<algorithm>'"
        ) from None
    return factory()
