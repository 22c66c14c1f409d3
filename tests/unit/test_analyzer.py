"""Analyzer behaviour on hand-checked inputs."""

from __future__ import annotations

import pytest

from hybridir import Analyzer, AnalyzerConfig, ConfigError
from hybridir.text.analyzer import fold_accents, strip_possessive
from hybridir.text.languages import LANGUAGES, language_spec
from hybridir.text.tokenize import cjk_bigram_tokens, word_tokens


def test_english_matches_lucene_english_analyzer() -> None:
    # Lucene EnglishAnalyzer: StandardTokenizer, possessive filter, lowercase, 33 stopwords,
    # PorterStemFilter.
    terms = Analyzer().analyze("The runner's shoes are running into the U.S. Labs, 3.5 times")
    assert terms == ["runner", "shoe", "run", "u.", "lab", "3.5", "time"]


def test_word_tokens_keep_inner_apostrophes_periods_and_marks() -> None:
    assert word_tokens("don't stop: e.g. 3.5% snake_case") == [
        "don't",
        "stop",
        "e.g",
        "3.5",
        "snake_case",
    ]
    # Devanagari vowel signs are combining marks; they must stay inside the word.
    assert word_tokens("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]


def test_cjk_bigrams_like_lucene_cjk_bigram_filter() -> None:
    assert cjk_bigram_tokens("北京大学 in 中") == ["北京", "京大", "大学", "in", "中"]
    assert Analyzer(AnalyzerConfig(language="zh")).analyze("我爱北京") == ["我爱", "爱北", "北京"]
    assert Analyzer(AnalyzerConfig(language="th")).analyze("ภาษา") == ["ภา", "าษ", "ษา"]


def test_possessive_and_accent_folding() -> None:
    assert strip_possessive("john's") == "john"
    assert strip_possessive("john’s") == "john"
    assert strip_possessive("boss") == "boss"
    assert fold_accents("café naïve") == "cafe naive"
    folded = Analyzer(AnalyzerConfig(language="xx", fold_accents=True)).analyze("Ćma Żółw")
    assert folded == ["cma", "zołw"]  # ł is a letter of its own, not an accented l


@pytest.mark.parametrize(
    ("stemmer", "expected"),
    [
        ("snowball:polish", ["komponent", "skład", "tor", "mojżesz"]),
        ("stempel", ["komponent", "składać", "tora", "mojżeszowy"]),
        ("morfeusz", ["komponent", "składać", "tora", "mojżeszowy"]),
    ],
)
def test_polish_stemmers(stemmer: str, expected: list[str]) -> None:
    analyzer = Analyzer(AnalyzerConfig(language="pl", stemmer=stemmer, stopwords="none"))
    assert analyzer.analyze("komponentów składała Tora Mojżeszowi") == expected


def test_stopwords_can_be_disabled() -> None:
    with_stop = Analyzer(AnalyzerConfig(language="en")).analyze("the cat")
    without = Analyzer(AnalyzerConfig(language="en", stopwords="none")).analyze("the cat")
    assert with_stop == ["cat"]
    assert without == ["the", "cat"]


def test_every_registered_language_builds_and_analyzes() -> None:
    for code in LANGUAGES:
        assert isinstance(Analyzer(AnalyzerConfig(language=code)).analyze("Hello world 42"), list)


def test_unknown_language_and_stemmer_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown language 'klingon'.*valid: .*en"):
        language_spec("klingon")
    with pytest.raises(ConfigError, match="unknown stemmer"):
        Analyzer(AnalyzerConfig(stemmer="nope"))
    with pytest.raises(ConfigError, match="PyStemmer has no algorithm"):
        Analyzer(AnalyzerConfig(stemmer="snowball:elvish"))
    with pytest.raises(ConfigError):
        AnalyzerConfig(min_token_length=0)


def test_config_round_trips_through_json() -> None:
    import json

    cfg = AnalyzerConfig(language="pl", stemmer="stempel", fold_accents=True)
    assert AnalyzerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="unknown AnalyzerConfig field"):
        AnalyzerConfig.from_dict({"langauge": "en"})


def test_analysis_is_deterministic_and_memo_independent() -> None:
    text = "Running runners ran; the runner's run"
    a = Analyzer()
    first = a.analyze(text)
    assert a.analyze(text) == first
    assert Analyzer().analyze(text) == first


def test_stopword_sources_are_selectable() -> None:
    text = "Im Jahr 1990 war die Zeit"
    # German keeps content words by default: stopwords-iso lists "jahr" and "zeit".
    assert Analyzer(AnalyzerConfig(language="de", stemmer="none")).analyze(text) == [
        "im",
        "jahr",
        "1990",
        "war",
        "die",
        "zeit",
    ]
    iso = Analyzer(AnalyzerConfig(language="de", stemmer="none", stopwords="iso"))
    assert iso.analyze(text) == ["1990"]
    with pytest.raises(ConfigError, match="stopwords must be one of"):
        AnalyzerConfig(stopwords="klingon")
    with pytest.raises(ConfigError, match="no Lucene stopword list for language 'de'"):
        Analyzer(AnalyzerConfig(language="de", stopwords="lucene"))
