"""The batch analyzer (compiled scan, :mod:`hybridir.text.batch`) against the regex path:
the same raw tokens, the same terms, the same term ids and postings, for every text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridir import AnalyzerConfig, Collection, Document
from hybridir.sparse.postings import Postings, build_from_ids, build_from_terms
from hybridir.sparse.warmup import warm_kernels
from hybridir.text import analyzer as analyzer_module
from hybridir.text.analyzer import Analyzer, fold_accents
from hybridir.text.batch import TermIds, TokenTable, char_classes, concat_term_ids
from hybridir.text.scan import INNER, JOINER, OTHER, WORD
from hybridir.text.stemmers import get_stemmer
from hybridir.text.tokenize import _mark_class, word_tokens

# Characters the word pattern treats specially, and neighbours of every class.
TRICKY = (
    "aAzZ09_ '’＇.,-\u200c\u200d\u200c\u200d"  # apostrophes, period, joiners
    "\u0301\u0308\u093f\u0e31"  # combining marks (accent, diaeresis, Devanagari, Thai)
    "éÉßİıΣσςŁłﬁ²½Ⅻ"  # case and compatibility oddities, numerics
    "日本語한국어ไทย"  # CJK, Hangul, Thai
    "कि\u0915\u094d\u0937र्याब"  # Devanagari, a virama
    "\U0001d400\U0001f600\U00010400\U00020000"  # astral letter, emoji, Deseret, Han ext. B
    "\ud800"  # a lone surrogate
    "\n\t\u00a0\u2028"  # whitespace
)

texts_strategy = st.lists(
    st.one_of(
        st.text(alphabet=st.sampled_from(TRICKY), max_size=40),
        st.text(max_size=30),  # any code point
        st.lists(
            st.sampled_from(["the", "a", "of", "cat's", "Don’t", "U.S.", "3.5", "i", "x" * 300]),
            max_size=8,
        ).map(" ".join),
    ),
    max_size=12,
)


@pytest.fixture(scope="module", autouse=True)
def _kernels_ready() -> None:
    warm_kernels()


@pytest.fixture
def always_batch() -> Iterator[None]:
    """Every batch goes through the compiled scan, whatever its size."""
    with patch.object(analyzer_module, "BATCH_MIN_CHARS", 0):
        yield


def _lines(lines: str) -> list[str]:
    """The identity normaliser: each raw token is its own term."""
    return lines.split("\n")


def _regex_terms(config: AnalyzerConfig, texts: list[str]) -> list[list[str]]:
    regex = Analyzer(config)
    return [regex.analyze(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(texts_strategy)
def test_the_scan_finds_the_regex_tokens(texts: list[str]) -> None:
    table = TokenTable(_lines)  # identity "normaliser": terms are the raw tokens
    assert table.term_ids(texts).lists() == [word_tokens(t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(texts_strategy, texts_strategy)
def test_batches_give_the_regex_paths_terms(first: list[str], second: list[str]) -> None:
    with patch.object(analyzer_module, "BATCH_MIN_CHARS", 0):
        analyzer = Analyzer(AnalyzerConfig(language="en"))
        # Two batches, so the second meets tokens the first interned.
        assert analyzer.analyze_many(first) == _regex_terms(analyzer.config, first)
        assert analyzer.analyze_many(second) == _regex_terms(analyzer.config, second)


ascii_texts = st.lists(
    st.lists(
        st.one_of(
            st.sampled_from(["The", "THE", "of", "Cat's", "CAT'S", "it's", "x's's", "'s", "ﬁsh"]),
            st.text(alphabet="aAbBsS'’._0 ", min_size=1, max_size=12),
        ),
        max_size=10,
    ).map(" ".join),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    ascii_texts,
    st.booleans(),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(["en", "de", "pl"]),
)
def test_the_compiled_ascii_lane_normalises_as_the_analyzer(
    texts: list[str], lowercase: bool, min_length: int, extra: int, language: str
) -> None:
    """ASCII tokens normalised in compiled code (case, possessive, length limits,
    stopwords) get the terms the analyzer's own code gives, whatever the settings."""
    config = AnalyzerConfig(
        language=language,
        lowercase=lowercase,
        min_token_length=min_length,
        max_token_length=min_length + extra,
    )
    with patch.object(analyzer_module, "BATCH_MIN_CHARS", 0):
        analyzer = Analyzer(config)
        assert analyzer.analyze_many(texts) == _regex_terms(config, texts)
        assert analyzer.analyze_many(texts[::-1]) == _regex_terms(config, texts[::-1])


@pytest.mark.usefixtures("always_batch")
@pytest.mark.parametrize("language", ["en", "de", "fr", "ru", "ar", "hi", "el", "pl", "tr"])
@pytest.mark.parametrize("fold", [False, True])
def test_every_word_language_agrees(language: str, fold: bool) -> None:
    texts = [
        "The cat's whiskers don’t TWITCH; U.S. 3.5 kg.",
        "Über Straße Ærøskøbing naïve café résumé",
        "Москва — столица России, ёлки-палки",
        "المدرسة الكبيرة في القاهرة",
        "हिन्दी भाषा में लिखा गया पाठ",
        "Αθήνα ΟΔΟΣ σοφός",
        "Zażółć gęślą jaźń İstanbul ılık",
        "র\u200d্যাব a\u200cb c\u200d.d",
        "",
    ]
    config = AnalyzerConfig(language=language, fold_accents=fold)
    assert Analyzer(config).analyze_many(texts) == _regex_terms(config, texts)


@pytest.mark.usefixtures("always_batch")
def test_only_stopwords_and_empty_texts_give_empty_lists() -> None:
    texts = ["", "the a of and", "   ", "..''’’", "\u200d\u200c"]
    assert Analyzer().analyze_many(texts) == [[], [], [], [], []]
    found = Analyzer().term_ids(texts)
    assert found.terms == []
    assert found.ids.size == 0
    assert found.ptr.tolist() == [0] * 6


def _same_postings(a: Postings, b: Postings) -> None:
    assert a.terms == b.terms
    assert a.doc_ids == b.doc_ids
    for name in ("indptr", "doc_rows", "tfs", "doc_lengths", "tie_key"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@settings(max_examples=100, deadline=None)
@given(texts_strategy)
def test_term_ids_build_the_postings_of_the_terms(texts: list[str]) -> None:
    doc_ids = [f"d{i}" for i in range(len(texts))]
    expected = build_from_terms(_regex_terms(AnalyzerConfig(), texts), doc_ids)
    for min_chars in (0, 10**9):  # the batch path and the text-by-text one
        with patch.object(analyzer_module, "BATCH_MIN_CHARS", min_chars):
            found = Analyzer().term_ids(texts)
        _same_postings(build_from_ids(found.ids, found.ptr, found.terms, doc_ids), expected)


@settings(max_examples=100, deadline=None)
@given(texts_strategy, st.integers(min_value=0, max_value=3))
def test_fields_weight_the_title(texts: list[str], weight: int) -> None:
    titles, bodies = texts[: len(texts) // 2], texts[len(texts) // 2 : 2 * (len(texts) // 2)]
    regex = Analyzer()
    expected = [
        regex.analyze(a) * weight + regex.analyze(b) for a, b in zip(titles, bodies, strict=True)
    ]
    doc_ids = [f"d{i}" for i in range(len(titles))]
    for min_chars in (0, 10**9):
        with patch.object(analyzer_module, "BATCH_MIN_CHARS", min_chars):
            found = Analyzer().fields_term_ids(titles, bodies, weight)
        assert found.lists() == expected
        _same_postings(
            build_from_ids(found.ids, found.ptr, found.terms, doc_ids),
            build_from_terms(expected, doc_ids),
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(texts_strategy, max_size=4))
def test_concatenated_parts_number_terms_by_first_occurrence(parts: list[list[str]]) -> None:
    with patch.object(analyzer_module, "BATCH_MIN_CHARS", 0):
        analyzer = Analyzer()
        merged = concat_term_ids([analyzer.term_ids(p) for p in parts])
    every = [t for p in parts for t in p]
    assert merged.lists() == _regex_terms(AnalyzerConfig(), every)
    expected = build_from_terms(merged.lists(), [str(i) for i in range(len(every))])
    assert tuple(merged.terms) == expected.terms


def test_many_distinct_tokens_grow_the_table() -> None:
    words = [f"w{i}x{i * 7919 % 1000}" for i in range(30_000)]
    texts = [" ".join(words[i : i + 300]) for i in range(0, len(words), 300)]
    table = TokenTable(_lines)
    found = table.term_ids(texts)
    assert found.lists() == [t.split() for t in texts]
    assert len(found.terms) == len(words)
    # A second pass finds every token interned: no new terms, the same ids.
    again = table.term_ids(texts)
    np.testing.assert_array_equal(again.ids, found.ids)
    assert len(again.terms) == len(words)


def test_small_batches_take_the_regex_path() -> None:
    analyzer = Analyzer()
    assert analyzer.analyze_many(["The cat's whiskers"]) == [["cat", "whisker"]]
    assert analyzer._table is None  # below BATCH_MIN_CHARS: no scan table was made


def test_other_tokenizers_keep_the_regex_path() -> None:
    texts = ["日本語のテキスト" * 3000, "کتاب\u200cها " * 3000]
    for language in ("ja", "fa"):
        analyzer = Analyzer(AnalyzerConfig(language=language))
        assert analyzer.analyze_many(texts) == [analyzer.analyze(t) for t in texts]
        assert analyzer._table is None


def test_the_class_table_matches_the_word_pattern() -> None:
    classes = char_classes()
    word = re.compile(rf"[\w{_mark_class()}]")
    sample = [*range(0x3000), *range(0xD7F0, 0xE010), 0xFF07, 0x1D400, 0x1F600, 0x20000, 0x10FFFF]
    for cp in sample:
        ch = chr(cp)
        expected = (
            JOINER
            if ch in "\u200c\u200d"
            else INNER
            if ch in "'’."
            else WORD
            if word.fullmatch(ch)
            else OTHER
        )
        assert classes[cp] == expected, hex(cp)


def test_folding_leaves_ascii_alone() -> None:
    # The normaliser skips fold_accents for ASCII tokens on this ground.
    every = "".join(map(chr, range(128)))
    assert fold_accents(every) == every
    assert unicodedata.normalize("NFKD", every) == every


def test_stems_do_not_depend_on_pystemmers_cache() -> None:
    import Stemmer

    words = ["running", "cats", "generalizations", "ponies", "caresses", "relational"] * 5
    assert get_stemmer("porter")(words) == Stemmer.Stemmer("porter").stemWords(words)


def test_a_collection_write_indexes_what_index_terms_gives(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vocab = ["Cat's", "dogs", "the", "Über", "U.S.", "3.5", "naïve", "running", "a\u200db", "x"]
    docs = [
        Document(
            f"d{i:04d}",
            " ".join(rng.choice(vocab, size=int(rng.integers(1, 60)))),
            title=" ".join(rng.choice(vocab, size=int(rng.integers(0, 4)))),
        )
        for i in range(1500)
    ]
    assert sum(len(d.text) + len(d.title) for d in docs) > analyzer_module.BATCH_MIN_CHARS
    collection = Collection.create(tmp_path / "c")
    collection.add(docs)
    view = collection.snapshot()
    (written,) = view.bm25.segments
    expected = build_from_terms([view.index_terms(d) for d in docs], [d.doc_id for d in docs])
    _same_postings(written, expected)


def test_term_ids_lists_round_trip() -> None:
    found = TermIds(np.array([1, 0, 1], dtype=np.int32), np.array([0, 2, 3]), ["a", "b"])
    assert found.lists() == [["b", "a"], ["b"]]
