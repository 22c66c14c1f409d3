"""The learned-fusion benchmark runs end to end on ADI and reports every system and step."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("lightgbm")

pytestmark = pytest.mark.slow

SYSTEMS = {
    "bm25",
    "dense",
    "rrf (default)",
    "dbsf (hybridir default)",
    "tuned fusion",
    "fixed tuned α",
    "rescore (learned)",
    "adaptive (learned)",
    "collaborative rerank",
}


def test_learned_fusion_end_to_end(
    load_benchmark: Callable[[str], ModuleType],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    bench = load_benchmark("learned_fusion")
    # ADI has only a test split: refused unless explicitly allowed (smoke test only)
    assert bench.main(["--train", "adi", "--train-split", "test"]) == 2
    args = ["--train", "adi", "--train-split", "test", "--allow-same-split", "--folds", "3"]
    work = tmp_path / "work"
    assert bench.main([*args, "--latency-queries", "5", "--work", str(work), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = report["results"]["adi"]
    assert set(rows) == SYSTEMS
    for name, row in rows.items():
        assert 0.0 <= row["ndcg@10"] <= 1.0
        assert 0.0 <= row["recall@100"] <= 1.0
        assert ("p_vs_rrf" in row) == (name != "rrf (default)")
    # trained and scored on the same queries, the rescorer must beat fixed RRF on them
    assert rows["rescore (learned)"]["ndcg@10"] > rows["rrf (default)"]["ndcg@10"]
    assert set(report["latency"]) == {
        "dbsf fusion (1000+1000)",
        "rescore (50+50)",
        "rescore (100+100)",
        "adaptive α (1000+1000)",
        "collaborative rerank (50)",
    }
    for value in report["latency"].values():
        assert 0 < value["p50_ms"] <= value["p95_ms"]
    assert report["notes"]["tuned"]["method"] in {"rrf", "convex", "combmnz", "dbsf"}
    assert (work / "adi" / "models").is_dir()
