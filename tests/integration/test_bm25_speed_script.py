"""The BM25 speed benchmark runs end to end at a small size and reports sane JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("bm25s")

# ~30-45 s for the file: bm25s compiles its numba kernels in every process (no disk cache).
pytestmark = pytest.mark.slow

HEADLINE = ("qps_ratio", "qps_ratio_2threads", "index_ratio", "memory_ratio")


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("bm25_speed")


def _last_json(out: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _assert_positive_finite(section: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = section[key]
        assert isinstance(value, float), (key, value)
        assert math.isfinite(value), (key, value)
        assert value > 0, (key, value)


def test_synthetic_only(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--synthetic-docs", "20000", "--synthetic-queries", "2000", "--repeats", "1"]
    assert bench.main([*argv, "--json", "--skip-scifact"]) == 0
    result = _last_json(capsys.readouterr().out)
    assert set(result) == {"scifact", "synthetic", "meta"}
    assert result["scifact"] is None
    synthetic = result["synthetic"]
    _assert_positive_finite(synthetic, HEADLINE)
    assert synthetic["n_docs"] == 20000
    assert synthetic["n_queries"] == 2000
    for metric in synthetic["metrics"].values():
        assert metric["ratio"] == pytest.approx(metric["hybridir"] / metric["bm25s"])
    # Same term ids for both engines: scores agree exactly, documents up to ties.
    agreement = synthetic["agreement"]["same_tokens"]
    assert agreement["equal_scores"] > 0.99
    assert agreement["mean_overlap"] > 0.95
    assert result["meta"]["versions"]["bm25s"]


def test_scifact_subset(
    bench: ModuleType, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (data_dir / "scifact" / "corpus.jsonl").is_file():
        pytest.skip("scifact not in the shared datasets folder")
    argv = ["--scifact-limit", "500", "--synthetic-docs", "0", "--repeats", "1"]
    assert bench.main([*argv, "--json", "--skip-memory", f"--data-dir={data_dir}"]) == 0
    result = _last_json(capsys.readouterr().out)
    assert result["synthetic"] is None
    scifact = result["scifact"]
    keys = ("qps_ratio", "qps_ratio_2threads", "index_ratio", "index_tok_ratio", "qps_tok_ratio")
    _assert_positive_finite(scifact, keys)
    assert scifact["n_docs"] == 500
    assert scifact["n_queries"] == 300
    assert scifact["k_deep"] == 500
    assert scifact["agreement"]["same_tokens"]["equal_scores"] > 0.95


def test_a_series_runs_each_process_once_with_json(bench: ModuleType) -> None:
    argv = ["--synthetic-docs", "0", "--runs", "3", "--json", "--repeats=2", "--runs=3"]
    assert bench.child_argv(argv) == ["--synthetic-docs", "0", "--repeats=2", "--runs=1", "--json"]


def test_a_series_reports_each_ratio_with_its_median_and_minimum(bench: ModuleType) -> None:
    def run(ratio: float, tantivy: float | None) -> dict[str, Any]:
        metric = {"label": "tokenize + retrieve", "ratio": ratio, "tantivy_ratio": tantivy}
        return {"scifact": {"metrics": {"qps_tok_k10_t1": metric}}, "synthetic": None}

    runs = [run(2.3, 1.2), run(1.9, None), run(2.1, 1.1)]
    summary = bench.ratio_summary(runs)
    assert set(summary) == {"scifact"}
    row = summary["scifact"]["qps_tok_k10_t1"]
    assert row["ratios"] == [2.3, 1.9, 2.1]
    assert row["median_ratio"] == 2.1
    assert row["min_ratio"] == 1.9
    assert "median_tantivy_ratio" not in row  # not measured in every run
    assert row["label"] == "tokenize + retrieve"
