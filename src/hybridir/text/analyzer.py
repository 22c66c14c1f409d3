"""Analyzer: text → index terms (tokenize, normalise, drop stopwords, stem).

Terms are memoised per raw token, so each distinct surface form is normalised and stemmed
once, whatever the corpus size (the trick bm25s uses with PyStemmer, applied per token).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import cast

from hybridir.config import AnalyzerConfig
from hybridir.text.languages import language_spec, stopwords
from hybridir.text.stemmers import Stemmer, get_stemmer
from hybridir.text.tokenize import TOKENIZERS, Tokenizer

_POSSESSIVES = ("'s", "’s", "＇s")
_DROPPED = ""
"""The memo's term for a token that yields none (a stopword, too short or too long)."""
_UNSEEN = None
"""What the memo gives for a token it has not normalised yet."""


def fold_accents(token: str) -> str:
    """Strip combining marks after NFKD decomposition (``"Łódź"`` keeps ``ł``: it is a letter)."""
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def strip_possessive(token: str) -> str:
    """Lucene ``EnglishPossessiveFilter``: drop a trailing ``'s`` (any apostrophe form)."""
    for suffix in _POSSESSIVES:
        if token.endswith(suffix):
            return token[: -len(suffix)]
    return token


class Analyzer:
    """Turns text into index terms according to an :class:`AnalyzerConfig`.

    Example:
        >>> Analyzer(AnalyzerConfig(language="en")).analyze("The cat's whiskers")
        ['cat', 'whisker']
    """

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        spec = language_spec(self.config.language)
        self._tokenize: Tokenizer = TOKENIZERS[spec.tokenizer]
        source = spec.stopwords if self.config.stopwords == "default" else self.config.stopwords
        self._stopwords = stopwords(self.config.language, source)
        stemmer_name = spec.stemmer if self.config.stemmer == "default" else self.config.stemmer
        self.stemmer_name = stemmer_name
        self._stem: Stemmer = get_stemmer(stemmer_name)
        self._possessive = self.config.language == "en"
        self._memo: dict[str, str] = {}  # raw token → index term ("" when dropped)

    def _normalise(self, tokens: list[str]) -> None:
        """Fill the memo for tokens not seen before (one batched stemmer call)."""
        cfg = self.config
        fresh: list[str] = []
        keys: list[str] = []
        for raw in dict.fromkeys(tokens):
            if raw in self._memo:
                continue
            token = raw.lower() if cfg.lowercase else raw
            if self._possessive:
                token = strip_possessive(token)
            if cfg.fold_accents:
                token = fold_accents(token)
            if (
                not cfg.min_token_length <= len(token) <= cfg.max_token_length
                or token in self._stopwords
            ):
                self._memo[raw] = _DROPPED
                continue
            fresh.append(token)
            keys.append(raw)
        for raw, stem in zip(keys, self._stem(fresh), strict=True):
            self._memo[raw] = stem or _DROPPED

    def analyze(self, text: str) -> list[str]:
        """Index terms of ``text`` in order (duplicates kept)."""
        tokens = self._tokenize(text)
        # Per-token work runs in C (map, filter); only unseen tokens reach Python.
        found = list(map(self._memo.get, tokens))
        if _UNSEEN in found:
            self._normalise(tokens)
            return self._terms(tokens)
        return _kept(cast(list[str], found))

    def analyze_many(self, texts: Iterable[str]) -> list[list[str]]:
        """:meth:`analyze` over many texts (text by text: holding every text's tokens at
        once to normalise them in one batch measured slower on SciFact)."""
        return list(map(self.analyze, texts))

    def _terms(self, tokens: list[str]) -> list[str]:
        """Index terms of tokens already in the memo."""
        return _kept(list(map(self._memo.__getitem__, tokens)))


def _kept(terms: list[str]) -> list[str]:
    """``terms`` without the dropped ones."""
    return list(filter(None, terms)) if _DROPPED in terms else terms
