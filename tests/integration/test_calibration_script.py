"""The calibration benchmark runs end to end on ADI with MiniLM (the cache of the run lives
in a temporary folder), and its report holds every row the issue asks for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def test_calibration_small_run(
    load_benchmark: Callable[[str], ModuleType],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    bench = load_benchmark("calibration")
    sink = tmp_path / "reports.jsonl"
    args = ["--runs", "adi", "--queries", "60", "--json", "--jsonl", str(sink)]
    assert bench.main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (adi,) = report["reports"]
    assert json.loads(sink.read_text()) == adi
    assert set(adi["means"]) == {"bm25", "dense", "default", "created", "calibrated"}
    for row in adi["means"].values():
        assert 0.0 < row["ndcg@10"] <= 1.0
        assert 0.0 < row["recall@100"] <= 1.0
    assert adi["calibration"]["queries"] == 60
    assert 0.0 < adi["tuned_ndcg@10"] <= 1.0
    assert 0.0 < adi["adaptive_ndcg@10"] <= 1.0
    assert adi["best_list"] in {"bm25", "dense"}
    assert 0.0 < adi["p_vs_best_list"] <= 1.0
