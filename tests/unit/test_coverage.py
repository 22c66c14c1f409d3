"""Encoder coverage: a known model that does not cover the collection's language is said
so at creation, and the default fusion leaves its list out; a fusion given is kept."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hybridir import Collection, CollectionConfig
from hybridir.config import AnalyzerConfig, DenseConfig, FusionConfig
from hybridir.dense.coverage import covered_languages, covers


def test_known_models_declare_their_languages() -> None:
    assert covered_languages("all-MiniLM-L6-v2") == frozenset({"en"})
    assert covered_languages("sentence-transformers/all-MiniLM-L6-v2") == frozenset({"en"})
    assert covered_languages("static:all-MiniLM-L6-v2") == frozenset({"en"})
    assert covers("use-m", "pl")
    assert covers("use-m", "th")
    assert not covers("use-m", "hi")  # not among USE's 16 languages
    assert covered_languages("my-org/unknown-model") is None
    assert covers("my-org/unknown-model", "hi")  # unknown: assumed to cover
    assert not covers("my-org/unknown-model", "hi", declared=["en", "de"])  # as declared
    assert covers("all-MiniLM-L6-v2", "de", declared=("en", "de"))  # the declaration wins


def _create(path: Path, language: str, fusion: FusionConfig | None = None) -> CollectionConfig:
    config = CollectionConfig(
        analyzer=AnalyzerConfig(language=language),
        dense=DenseConfig(),
        fusion=fusion or FusionConfig(),
    )
    return Collection.create(path, config).config


def test_an_uncovered_language_leaves_the_dense_list_out_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        hindi = _create(tmp_path / "hi", "hi")
    assert "does not cover language 'hi'" in caplog.text
    assert hindi.fusion.method == "convex"
    assert dict(hindi.fusion.weights) == {"bm25": 1.0, "dense": 0.0}
    assert Collection.open(tmp_path / "hi").config.fusion == hindi.fusion  # stored

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        english = _create(tmp_path / "en", "en")
    assert english.fusion == FusionConfig()
    assert "does not cover" not in caplog.text

    given = FusionConfig(method="rrf")
    with caplog.at_level(logging.WARNING):
        kept = _create(tmp_path / "hi-rrf", "hi", given)
    assert kept.fusion == given
    assert "kept the fusion given" in caplog.text


def test_a_declared_model_is_checked_and_the_declaration_round_trips(tmp_path: Path) -> None:
    dense = DenseConfig(model="my-org/english-only", languages=("en",))
    config = CollectionConfig(analyzer=AnalyzerConfig(language="pl"), dense=dense)
    created = Collection.create(tmp_path / "pl", config).config
    assert dict(created.fusion.weights) == {"bm25": 1.0, "dense": 0.0}
    again = Collection.open(tmp_path / "pl").config
    assert again.dense is not None
    assert again.dense.languages == ("en",)
    assert CollectionConfig.from_dict(again.to_dict()) == again
