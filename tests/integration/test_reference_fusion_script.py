"""benchmarks/reference_fusion.py rebuilds ../shared/REFERENCE.md's ADI row exactly (bm25s
with both settings, MiniLM, RRF and convex of the k1 0.9 / b 0.4 list): the oracle for the
claim in docs/benchmarks.md that the reference fuses that list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

# ../shared/REFERENCE.md, row "adi" (nDCG@10, four decimals)
REFERENCE_ADI = {
    "bm25s 0.9/0.4": 0.4802,
    "bm25s 1.2/0.75": 0.4832,
    "MiniLM": 0.4975,
    "RRF of bm25s 0.9/0.4": 0.5265,
    "convex of bm25s 0.9/0.4": 0.5418,
}


def test_reference_row_of_adi_is_rebuilt(
    load_benchmark: Callable[[str], ModuleType],
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    bench = load_benchmark("reference_fusion")
    assert bench.main(["--datasets", "adi", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    got = row["ndcg@10"]
    for name, value in REFERENCE_ADI.items():
        assert round(got[name], 4) == value, name
    assert row["best_reference"] == "convex of bm25s 1.2/0.75"  # 0.5467 on ADI
    assert 0.0 < row["p"] <= 1.0
