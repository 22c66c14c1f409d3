"""The load benchmark runs end to end, small and BM25-only, with zero errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def test_load_small_run(
    load_benchmark: Callable[[str], ModuleType],
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    bench = load_benchmark("load")
    args = ["--dataset", "adi", "--retriever", "bm25", "--concurrency", "1,4"]
    assert bench.main([*args, "--requests", "40", "--write-batch", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for row in report["quiet"] + report["writing"]:
        assert row["errors"] == 0
        assert row["requests"] == 40
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert [r["concurrency"] for r in report["quiet"]] == [1, 4]
    assert all(r["write_errors"] == 0 for r in report["writing"])
    assert sum(r["write_batches"] for r in report["writing"]) >= 1
