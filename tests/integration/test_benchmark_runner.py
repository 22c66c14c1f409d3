"""`hybridir benchmark` end to end on ADI: runs, tables, significance marks and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from hybridir.cli import main
from hybridir.eval import evaluate, load_beir, read_run


def test_benchmark_writes_every_file(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'datasets = ["adi"]\n'
        'systems = ["bm25", "dense", "rrf", "tuned"]\n'
        'metrics = ["ndcg@10", "recall@100"]\n'
        'tune_on = "adi"\n'
        'tune_split = "test"  # ADI has no train split; only a smoke test may do this\n'
    )
    out = tmp_path / "out"
    assert main(["benchmark", str(spec), "--out", str(out)]) == 0
    for name in ("results.md", "results.csv", "results.json", "report.html"):
        assert (out / name).is_file()
    data = load_beir("adi")
    report = json.loads((out / "results.json").read_text())
    for system in ("bm25", "dense", "rrf", "tuned"):
        run = read_run(out / "runs" / "adi" / f"{system}.trec")
        # the table's numbers are those of the run files it wrote
        expected = evaluate(run, data.qrels, ["ndcg@10"])["ndcg@10"]
        assert report["means"]["adi"][system]["ndcg@10"] == pytest.approx(expected, abs=1e-4)
    assert report["p_values"]["adi"]["bm25"]["ndcg@10"] is None
    assert 0 < report["p_values"]["adi"]["rrf"]["ndcg@10"] <= 1
    assert report["tuned"]["adi"]["bm25+dense"]["method"] in {"rrf", "convex", "combmnz", "dbsf"}
    assert report["spec"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 4 * 2
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3  # bars, a recall curve, win/loss
    assert "average" in (out / "results.md").read_text()
    # a second run reuses the cached collection and gives the same table
    assert main(["benchmark", str(spec), "--out", str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / "results.json").read_text())["means"] == report["means"]


def test_rerun_reuses_cached_lists_and_writes_identical_files(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hybridir.eval.runner import Spec, run
    from hybridir.search import Searcher

    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "hcache"))
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    spec = Spec(
        datasets=["adi"],
        systems=["bm25", "dense", "rrf", "tuned"],
        tune_on="adi",
        tune_split="test",  # ADI has no train split; only a smoke test may do this
        depth=100,
    )
    cache = tmp_path / "cache"
    first: list[str] = []
    run(spec, tmp_path / "a", cache, first.append)
    # retrieved once: tuning on the same judged queries already reuses those lists
    assert [m for m in first if "retrieving" in m] == ["adi:test: retrieving 35 queries"]

    def no_retrieval(*args: object, **kwargs: object) -> None:
        raise AssertionError("retrieval should have been reused from the cache")

    monkeypatch.setattr(Searcher, "retrieve_lists", no_retrieval)
    second: list[str] = []
    run(spec, tmp_path / "b", cache, second.append)
    assert "adi:test: reused cached runs (bm25, dense) for 35 queries" in second
    assert not any("retrieving" in m for m in second)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 4 + 4  # results.md/.csv/.json, report.html, four run files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    # a damaged cache entry is recomputed, not fatal, and gives the same files again
    monkeypatch.undo()
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    entries = sorted((cache / "runs").glob("*.json.gz"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:100])
    third: list[str] = []
    run(spec, tmp_path / "c", cache, third.append)
    assert "adi:test: retrieving 35 queries" in third
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name


def test_spec_language_follows_the_dataset_name() -> None:
    from hybridir.eval.runner import Spec

    spec = Spec(datasets=["scifact"], systems=["bm25"], languages={"mrtydi/fi": "xx"})
    assert spec.language("scifact") == "en"
    assert spec.language("pirb/scifact-pl") == "pl"
    assert spec.language("miracl/ja") == "ja"
    assert spec.language("mrtydi/sw") == "sw"  # Swahili: the registry has it
    assert spec.language("x/zu") == "xx"  # no Zulu analyzer: language-neutral
    assert spec.language("mrtydi/fi") == "xx"  # the spec's choice wins


def test_learned_sparse_and_three_way_systems(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from hybridir.eval.runner import Spec, run

    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    systems = ["bm25", "splade", "dense", "bm25+splade", "hybrid3", "tuned3"]
    spec = Spec(datasets=["adi"], systems=systems, tune_on="adi", tune_split="test", depth=100)
    results = run(spec, tmp_path / "out", tmp_path / "cache")
    data = load_beir("adi")
    for system in systems:
        trec = read_run(tmp_path / "out" / "runs" / "adi" / f"{system}.trec")
        expected = evaluate(trec, data.qrels, ["ndcg@10"])["ndcg@10"]
        assert results.means["adi"][system]["ndcg@10"] == pytest.approx(expected, abs=1e-4)
    assert set(results.tuned["adi"]) == {"bm25+splade+dense"}
    # the runner's collection holds all three lists, and the single lists differ
    assert results.means["adi"]["splade"] != results.means["adi"]["bm25"]
