"""Defaults that fit the data: analyzers for every benchmark language, corpus language
detection, ``language="auto"`` collections, the dense model that follows the language."""

from __future__ import annotations

import json
import warnings
from contextlib import closing
from pathlib import Path

import pytest

from hybridir import Searcher
from hybridir.collection import Collection
from hybridir.collection.language import LanguageMismatchWarning, choose_language
from hybridir.config import AnalyzerConfig, CollectionConfig
from hybridir.dense.coverage import MINILM, default_model
from hybridir.dense.encoders import USE_MULTILINGUAL
from hybridir.errors import ConfigError
from hybridir.text.analyzer import Analyzer
from hybridir.text.detect import detect_language, sample_texts
from hybridir.text.languages import (
    GENERIC,
    LANGUAGES,
    UnsupportedLanguageWarning,
    analyzer_language,
)
from hybridir.text.tokenize import word_tokens
from hybridir.types import Document

XQUAD_R = ["ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
MR_TYDI = ["ar", "bn", "en", "fi", "id", "ja", "ko", "ru", "sw", "te", "th"]
MIRACL = [
    "ar",
    "bn",
    "de",
    "en",
    "es",
    "fa",
    "fi",
    "fr",
    "hi",
    "id",
    "ja",
    "ko",
    "ru",
    "sw",
    "te",
    "th",
    "yo",
    "zh",
]


@pytest.mark.parametrize("code", sorted(set(XQUAD_R + MR_TYDI + MIRACL)))
def test_every_benchmark_language_has_its_own_analyzer(code: str) -> None:
    assert code in LANGUAGES
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning for these
        assert Analyzer(AnalyzerConfig(language=code)).analyze("Hello world 42")[-1] == "42"


def test_snowball_languages_name_pystemmer_algorithms() -> None:
    import Stemmer

    snowball = {s.stemmer.split(":", 1)[1] for s in LANGUAGES.values() if ":" in s.stemmer}
    assert snowball <= set(Stemmer.algorithms())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # Bengali "RAB" with a zero-width joiner inside its conjunct, then "officer"
        ("র\u200d্যাব কর্মকর্তা", ["র্যাব", "কর্মকর্তা"]),
        ("র্যাব", ["র্যাব"]),  # the same word typed without the joiner
        ("తెలుగు భాష ద్రావిడ", ["తెలుగు", "భాష", "ద్రావిడ"]),  # Telugu vowel signs, viramas
        ("हिन्दी भारत की राजभाषा", ["हिन्दी", "भारत", "की", "राजभाषा"]),
        ("क्\u200dया बात", ["क्या", "बात"]),  # Hindi, explicit joiner
        ("Tiếng Việt", ["Tiếng", "Việt"]),
        ("Mo fẹ́ràn ìwé", ["Mo", "fẹ́ràn", "ìwé"]),  # Yoruba tone marks (combining)
    ],
)
def test_indic_and_tone_marks_stay_inside_words(text: str, words: list[str]) -> None:
    assert word_tokens(text) == words


def test_persian_splits_at_the_zero_width_non_joiner_as_lucene_does() -> None:
    """Lucene's PersianCharFilter maps ZWNJ to a space: "books" is the word and its plural
    suffix, "I want" its prefix and verb."""
    from hybridir.text.tokenize import persian_word_tokens

    assert persian_word_tokens("می\u200cخواهم کتاب\u200cها") == ["می", "خواهم", "کتاب", "ها"]
    assert word_tokens("کتاب\u200cها") == ["کتابها"]  # other languages keep UAX #29's word
    assert (
        Analyzer(AnalyzerConfig(language="fa")).analyze("کتاب\u200cها")[0]
        == (Analyzer(AnalyzerConfig(language="fa")).analyze("کتاب")[0])
    )


def test_other_iso_codes_fall_back_to_generic_with_a_warning() -> None:
    with pytest.warns(UnsupportedLanguageWarning, match="no analyzer for language 'uk'"):
        assert analyzer_language("uk") == GENERIC
    with pytest.warns(UnsupportedLanguageWarning):
        terms = Analyzer(AnalyzerConfig(language="uk")).analyze("Київ Столиця")
    assert terms == ["київ", "столиця"]
    for garbage in ("klingon", "EN", "e1", "", "zh-cn"):
        with pytest.raises(ConfigError, match="ISO 639-1"):
            analyzer_language(garbage)


def _texts(data_dir: Path, language: str) -> list[str]:
    path = data_dir / "xquad-r" / language / "corpus.jsonl"
    if not path.is_file():
        pytest.skip(f"xquad-r/{language} not in the shared datasets")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


@pytest.mark.parametrize("method", ["py3langid", "script"])
@pytest.mark.parametrize("language", ["zh", "ru", "hi", "th"])
def test_detects_the_language_of_real_corpora(data_dir: Path, language: str, method: str) -> None:
    found = detect_language(_texts(data_dir, language), method)
    assert found.language == language
    assert found.share > 0.95
    assert found.texts == 200  # the first 100 and 100 seeded from the rest


def test_latin_script_needs_the_detector(data_dir: Path) -> None:
    texts = _texts(data_dir, "de")
    assert detect_language(texts, "py3langid").language == "de"
    assert detect_language(texts, "script").language is None  # script says Latin only


def test_sample_is_deterministic_and_bounded() -> None:
    texts = [f"text {i} " * 500 for i in range(10_000)]
    first = sample_texts(texts)
    assert first == sample_texts(list(texts))
    assert len(first) == 200
    assert first[:100] == [t[:1000] for t in texts[:100]]
    assert all(len(t) <= 1000 for t in first)


def test_mixed_corpus_has_no_dominant_language(data_dir: Path) -> None:
    mixed = [
        t
        for pair in zip(_texts(data_dir, "zh"), _texts(data_dir, "ru"), strict=False)
        for t in pair
    ]
    found = detect_language(mixed)
    assert found.language is None
    assert set(dict(found.votes)) == {"zh", "ru"}
    assert 0.5 <= found.share < 0.6
    with pytest.warns(UnsupportedLanguageWarning, match="no dominant language"):
        assert choose_language("auto", found).language == GENERIC


def test_a_given_language_is_kept_with_a_warning_when_the_documents_differ(
    data_dir: Path,
) -> None:
    found = detect_language(_texts(data_dir, "zh"))
    with pytest.warns(LanguageMismatchWarning, match=r"'en' but 100% .* in 'zh'"):
        assert choose_language("en", found).language == "en"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_language("zh", found).language == "zh"
        assert choose_language("auto", found).describe() == "language: zh (detected)"


def test_dense_default_follows_the_language() -> None:
    assert default_model("en") == MINILM
    for code in ("zh", "ru", "ar", "th", "de"):
        assert default_model(code) == USE_MULTILINGUAL
    for code in ("hi", "vi", GENERIC):  # no known model was trained on these
        assert default_model(code) is None


CHINESE = ["北京是中国的首都。", "上海是一个大城市。", "长城很长。", "我喜欢喝茶。"]


def _docs(texts: list[str]) -> list[Document]:
    return [Document(f"d{i}", t) for i, t in enumerate(texts)]


def test_auto_language_is_resolved_by_the_first_write_and_reopens(tmp_path: Path) -> None:
    config = CollectionConfig(analyzer=AnalyzerConfig(language="auto"))
    col = Collection.create(tmp_path / "c", config)
    col.add(_docs(CHINESE))
    assert col.config.analyzer.language == "zh"
    assert (
        json.loads((tmp_path / "c" / "manifest.json").read_text())["config"]["analyzer"]["language"]
        == "zh"
    )
    hits = Searcher(col).search("北京", k=1).hits  # bigrams: found with the zh analyzer
    assert [h.doc_id for h in hits] == ["d0"]
    col.close()
    # a notebook cell run again: the same "auto" config opens the collection
    again = Collection.create(tmp_path / "c", config, exist_ok=True)
    assert again.config.analyzer.language == "zh"
    assert len(again) == 4
    again.close()
    other = CollectionConfig(analyzer=AnalyzerConfig(language="ja"))
    with pytest.raises(ConfigError, match="another analyzer"):
        Collection.create(tmp_path / "c", other, exist_ok=True)


def test_a_second_writer_of_an_auto_collection_keeps_the_first_ones_language(
    tmp_path: Path,
) -> None:
    config = CollectionConfig(analyzer=AnalyzerConfig(language="auto"))
    Collection.create(tmp_path / "c", config).close()
    first, second = Collection.open(tmp_path / "c"), Collection.open(tmp_path / "c")
    assert second.config.analyzer.language == "auto"  # opened before anything was written
    first.add(_docs(CHINESE))
    russian = ["Москва столица России.", "Река Волга длинная.", "Я люблю чай."]
    second.add([Document(f"r{i}", t) for i, t in enumerate(russian)])
    assert second.config.analyzer.language == "zh"  # not re-detected from its Russian batch
    with closing(Collection.open(tmp_path / "c")) as col:
        assert col.config.analyzer.language == "zh"
        assert len(col) == len(CHINESE) + len(russian)
    first.close()
    second.close()


def test_default_config_reruns_with_exist_ok(tmp_path: Path) -> None:
    for _ in range(2):
        col = Collection.create(tmp_path / "c", exist_ok=True)
        col.upsert([Document("a", "red apples")])
        assert len(col) == 1
        col.close()


def test_a_long_file_cut_into_passages_votes_once() -> None:
    from hybridir.collection.language import document_texts

    long_file = [
        Document(f"long.md#{i}", f"English passage {i}", metadata={"parent_id": "long.md"})
        for i in range(300)
    ]
    others = [
        Document(f"{n}.md#0", t, metadata={"parent_id": f"{n}.md"})
        for n, t in (("a", "北京是中国的首都。"), ("b", "上海是一个大城市。"), ("c", "长城很长。"))
    ]
    texts = document_texts([*long_file, *others])
    assert texts == ["English passage 0", "北京是中国的首都。", "上海是一个大城市。", "长城很长。"]
    assert document_texts([Document("x", "t", title="T")]) == ["T\nt"]  # unchunked: each one
