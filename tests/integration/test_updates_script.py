"""The live-collection write benchmark runs end to end at a small size."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def test_updates_small_run(
    load_benchmark: Callable[[str], ModuleType],
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    bench = load_benchmark("updates")
    args = ["--dataset", "adi", "--batches", "1,10", "--small-adds", "20"]
    assert bench.main([*args, "--large-docs", "2000", "--repeats", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["add_docs_per_s"]) == {"1", "10"}
    assert all(rate > 0 for rate in report["add_docs_per_s"].values())
    small = report["after_small_adds"]
    assert small["identical_runs"] is True  # 20 single adds answer exactly like a rebuild
    assert small["segments"] <= 4  # the merge policy keeps the segment count bounded
    assert small["worst_segments"] <= 4
    assert small["ratio"] > 0
    assert report["delete"]["deleted"] == 20
    assert report["delete"]["seconds"] > 0
