"""The analyzer quality benchmark runs end to end on an English subset and reports sane JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EN_SETTINGS = {"default", "no-stem", "no-stem-no-stop", "xx", "snowball:english"}
ROW_KEYS = {
    "dataset",
    "language",
    "setting",
    "analyzer_language",
    "stemmer",
    "stopword_source",
    "ndcg@10",
    "recall@100",
    "index_seconds",
    "setup_seconds",
    "n_docs",
    "n_queries",
}


@pytest.fixture(scope="module")
def script(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("analyzer_quality")


def test_english_subset(
    script: ModuleType,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not (data_dir / "xquad-r" / "en" / "corpus.jsonl").is_file():
        pytest.skip("xquad-r/en not in the shared datasets folder")
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    assert script.main(["--datasets", "xquad-r/en", "--limit-queries", "50", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| dataset |")
    result: dict[str, Any] = json.loads(lines[-1])
    _check_rows_and_ranges(result)
    _check_stemmer_names(result)
    _check_stemming_not_much_worse(result)


def _check_rows_and_ranges(result: dict[str, Any]) -> None:
    rows = result["results"]
    assert {r["setting"] for r in rows} == EN_SETTINGS
    assert len(rows) == len(EN_SETTINGS)
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["dataset"] == "xquad-r/en"
        assert row["language"] == "en"
        assert 0.0 <= row["ndcg@10"] <= 1.0
        assert 0.0 <= row["recall@100"] <= 1.0
        assert row["index_seconds"] >= 0.0
        assert row["n_queries"] == 50
        assert row["n_docs"] == 1180
    bm25 = result["meta"]["bm25"]
    assert (bm25["variant"], bm25["k1"], bm25["b"]) == ("lucene", 0.9, 0.4)


def _check_stemmer_names(result: dict[str, Any]) -> None:
    by_setting = {r["setting"]: r for r in result["results"]}
    assert by_setting["default"]["stemmer"] == "porter"
    assert by_setting["default"]["stopword_source"] == "lucene"
    assert by_setting["no-stem"]["stemmer"] == "none"
    assert by_setting["no-stem-no-stop"]["stopword_source"] == "none"
    assert by_setting["xx"]["analyzer_language"] == "xx"
    assert by_setting["snowball:english"]["stemmer"] == "snowball:english"


def _check_stemming_not_much_worse(result: dict[str, Any]) -> None:
    by_setting = {r["setting"]: r for r in result["results"]}
    assert by_setting["default"]["ndcg@10"] >= by_setting["no-stem"]["ndcg@10"] - 0.05
    (effect,) = result["stemming_effect"]
    assert effect["delta_vs_no_stem"] == pytest.approx(
        by_setting["default"]["ndcg@10"] - by_setting["no-stem"]["ndcg@10"]
    )


def test_unknown_dataset_is_a_usage_error(
    script: ModuleType, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    with pytest.raises(SystemExit) as exc:
        script.main(["--datasets", "no-such-set"])
    assert exc.value.code == 2
