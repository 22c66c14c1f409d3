"""Analyzer: text → index terms (tokenize, normalise, drop stopwords, stem).

Terms are memoised per raw token, so each distinct surface form is normalised and stemmed
once, whatever the corpus size (the trick bm25s uses with PyStemmer, applied per token).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import filterfalse
from typing import cast

from hybridir.config import AnalyzerConfig
from hybridir.text.batch import AsciiRules, TermIds, TokenTable, batch_local, term_ids_of
from hybridir.text.languages import language_spec, stopwords
from hybridir.text.stemmers import Stemmer, get_stemmer
from hybridir.text.tokenize import TOKENIZERS, Tokenizer

_POSSESSIVES = ("'s", "’s", "＇s")
_APOSTROPHES = "'’＇"
_POSSESSIVE_AT_END = re.compile("['’＇]s$", re.MULTILINE)
"""A trailing possessive of each newline-separated token (:func:`strip_possessive`)."""
_DROPPED = ""
"""The memo's term for a token that yields none (a stopword, too short or too long)."""
_UNSEEN = None
"""What the memo gives for a token it has not normalised yet."""

BATCH_MIN_CHARS = 1_000
"""Below this many characters a batch is analysed text by text (the regex path): the
compiled scan's fixed costs (a table, kernel calls) outweigh it. Measured on SciFact
queries (`docs/benchmarks.md`): the two break even near 300 characters for
:meth:`Analyzer.term_ids` and near 900 for :meth:`Analyzer.analyze_many`."""


def fold_accents(token: str) -> str:
    """Strip combining marks after NFKD decomposition (``"Łódź"`` keeps ``ł``: it is a letter)."""
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def strip_possessive(token: str) -> str:
    """Lucene ``EnglishPossessiveFilter``: drop a trailing ``'s`` (any apostrophe form)."""
    # Every suffix is two characters long.
    return token[:-2] if token.endswith(_POSSESSIVES) else token


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
        self._batchable = spec.tokenizer == "word"
        self._table: TokenTable | None = None  # the batch path's raw tokens, made on use
        self._table_lock = threading.Lock()

    def normalise(self, raws: list[str]) -> list[str]:
        """Index term of each raw token (``""`` when it yields none: a stopword, too short
        or too long), with one stemmer call for them all. Both the memo of :meth:`analyze`
        and the batch path (:meth:`term_ids`) are filled from here."""
        return self.normalise_lines("\n".join(raws)) if raws else []

    def normalise_lines(self, lines: str) -> list[str]:
        """:meth:`normalise` of the raw tokens in ``lines``, one per line (no token holds a
        newline; the batch path has them joined so already).

        The steps run over the whole string and over sets (one ``lower``, in which a
        newline ends a final sigma's context as a token's end does; the tokens to drop
        found by set intersection and a length pattern; one stemmer call for the rest), so
        the per-token Python work is a few C calls.
        """
        cfg = self.config
        joined = lines.lower() if cfg.lowercase else lines
        if self._possessive and any(q in joined for q in _APOSTROPHES):
            # strip_possessive on every token at once: a possessive at each line's end.
            joined = _POSSESSIVE_AT_END.sub("", joined)
        tokens = joined.split("\n")
        # NFKD leaves ASCII as it is and no ASCII character combines.
        if cfg.fold_accents and not joined.isascii():
            tokens = [t if t.isascii() else fold_accents(t) for t in tokens]
            joined = "\n".join(tokens)
        drop = _bad_lengths(joined, cfg.min_token_length, cfg.max_token_length)
        drop.update(self._stopwords.intersection(tokens))
        kept = list(filterfalse(drop.__contains__, tokens))
        term_of = dict(zip(kept, self._stem(kept), strict=True))
        term_of.update(dict.fromkeys(drop, _DROPPED))
        return list(map(term_of.__getitem__, tokens))

    def _normalise(self, tokens: list[str]) -> None:
        """Fill the memo for tokens not seen before (one batched stemmer call)."""
        unseen = [raw for raw in dict.fromkeys(tokens) if raw not in self._memo]
        self._memo.update(zip(unseen, self.normalise(unseen), strict=True))

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
        """:meth:`analyze` of each text (the same lists): a large batch goes through the
        compiled scan (:mod:`hybridir.text.batch`) once its kernels are ready, a small one
        or one in another tokenizer text by text."""
        texts = texts if isinstance(texts, Sequence) else list(texts)
        if self._use_batch(texts):
            return self._batch_ids(texts).lists()
        return list(map(self.analyze, texts))

    def term_ids(self, texts: Sequence[str]) -> TermIds:
        """The terms of :meth:`analyze_many` as ids numbered in order of first occurrence
        (the numbering of :func:`hybridir.sparse.postings.build_from_terms`)."""
        if self._use_batch(texts):
            return self._batch_ids(texts)
        return term_ids_of(list(map(self.analyze, texts)))

    def fields_term_ids(
        self, titles: Sequence[str], texts: Sequence[str], title_weight: int
    ) -> TermIds:
        """Per document, title terms ``title_weight`` times then text terms, as ids in
        order of first occurrence (a collection's index terms, see
        :meth:`hybridir.collection.view.CollectionView.index_terms`)."""
        if len(titles) != len(texts):
            raise ValueError(f"{len(titles)} titles for {len(texts)} texts")
        both = [*titles, *texts]
        if not self._use_batch(both):
            analyze = self.analyze
            return term_ids_of(
                [
                    analyze(title) * title_weight + analyze(text)
                    for title, text in zip(titles, texts, strict=True)
                ]
            )
        from hybridir.text.scan import weighted_fields

        found = self._batch_ids(both)
        ids, ptr = weighted_fields(found.ids, found.ptr, len(texts), max(title_weight, 0))
        return batch_local(ids, ptr, found.terms)

    def _use_batch(self, texts: Sequence[str]) -> bool:
        """Whether ``texts`` go through the compiled scan: the ``word`` tokenizer, a batch
        of at least :data:`BATCH_MIN_CHARS`, and kernels that need no compiling now
        (:data:`hybridir.sparse.jit.READINESS`, which starts their background compile)."""
        if not self._batchable or sum(map(len, texts)) < BATCH_MIN_CHARS:
            return False
        from hybridir.sparse.jit import READINESS
        from hybridir.text.scan import scan_tokens

        return READINESS(scan_tokens)

    def _batch_ids(self, texts: Sequence[str]) -> TermIds:
        """Term ids of ``texts`` by the compiled scan, into this analyzer's term table."""
        with self._table_lock:
            if self._table is None:
                cfg = self.config
                ascii = AsciiRules(
                    lowercase=cfg.lowercase,
                    strip_possessive=self._possessive,
                    min_length=cfg.min_token_length,
                    max_length=cfg.max_token_length,
                    stopwords=self._stopwords,
                    stem=self._stem,
                )
                self._table = TokenTable(self.normalise_lines, ascii)
        return self._table.term_ids(texts)

    def _terms(self, tokens: list[str]) -> list[str]:
        """Index terms of tokens already in the memo."""
        return _kept(list(map(self._memo.__getitem__, tokens)))


@lru_cache(maxsize=16)
def _length_pattern(min_length: int, max_length: int) -> re.Pattern[str]:
    """Whole lines longer than ``max_length`` or shorter than ``min_length`` characters."""
    short = f"|.{{0,{min_length - 1}}}" if min_length > 1 else ""
    return re.compile(f"^(?:.{{{max_length + 1},}}{short})$", re.MULTILINE)


def _bad_lengths(lines: str, min_length: int, max_length: int) -> set[str]:
    """The lines of ``lines`` too short or too long to be index terms, found by one pattern
    over the whole string (not a length per token), and the empty token, whose term is
    none whatever the limits."""
    found = {""}
    if min_length > 1 or len(lines) > max_length:
        found.update(_length_pattern(min_length, max_length).findall(lines))
    return found


def _kept(terms: list[str]) -> list[str]:
    """``terms`` without the dropped ones."""
    return list(filter(None, terms)) if _DROPPED in terms else terms
