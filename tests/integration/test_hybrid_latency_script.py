"""The hybrid latency benchmark runs end to end at a small size and reports sane JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("faiss")

# ~30-60 s: a fresh embedding cache, so the test encodes ~350 SciFact passages with MiniLM.
pytestmark = pytest.mark.slow

SMALL = [
    "--scifact-limit",
    "300",
    "--synthetic-vectors",
    "5000",
    "--synthetic-queries",
    "50",
    "--no-hnsw",
    "--encode-docs",
    "32",
    "--encode-repeats",
    "1",
    "--ndcg-docs",
    "200",
    "--ndcg-queries",
    "30",
    "--latency-queries",
    "30",
    "--repeats",
    "1",
    "--skip-onnx",
    "--json",
]
LATENCY_KEYS = ("p50_ms", "p95_ms", "mean_ms")


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("hybrid_latency")


def _positive_finite(section: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = section[key]
        assert isinstance(value, float), (key, value)
        assert math.isfinite(value), (key, value)
        assert value > 0, (key, value)


def test_small_run(
    bench: ModuleType,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not (data_dir / "scifact" / "corpus.jsonl").is_file():
        pytest.skip("scifact not in the shared datasets folder")
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))  # never the shared cache

    assert bench.main(SMALL) == 0

    result: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"scifact", "fusion_overhead", "synthetic", "encoding", "meta"}

    scifact = result["scifact"]
    assert (scifact["n_docs"], scifact["n_queries"], scifact["threads"]) == (300, 30, 1)
    for mode in ("bm25", "dense", "hybrid", "hybrid_explain"):
        _positive_finite(scifact[mode], LATENCY_KEYS)
    components = scifact["hybrid_components"]
    _positive_finite(components, ("query_encoding_ms", "bm25_ms", "vector_search_ms", "fusion_ms"))

    fusion = result["fusion_overhead"]
    for method in ("rrf", "convex", "dbsf", "combmnz"):
        _positive_finite(fusion[method], LATENCY_KEYS)
    assert isinstance(fusion["pass"], bool)
    assert fusion["depths"] == {"bm25": 1000, "dense": 100}

    synthetic = result["synthetic"]
    assert (synthetic["n_vectors"], synthetic["dim"]) == (5000, 384)
    _positive_finite(synthetic["flat"], ("build_s", *LATENCY_KEYS))
    _positive_finite(synthetic["flat"]["k100"], LATENCY_KEYS)
    assert synthetic["hnsw"] is None

    encoding = result["encoding"]
    _positive_finite(encoding["torch"], ("passages_per_s", "ndcg@10"))
    assert 0 < encoding["torch"]["ndcg@10"] <= 1
    assert "onnx" not in encoding
    assert encoding["onnx_speedup"] is None
    assert encoding["pass"] is None
    assert encoding["ndcg_subset"]["n_queries"] == 30
    assert (tmp_path / "cache" / "embeddings").is_dir()

    meta = result["meta"]
    assert len(meta["loadavg_1_5_15min"]["before"]) == 3
    assert len(meta["loadavg_1_5_15min"]["after"]) == 3
