"""Calibration on real data (ADI with MiniLM): a dense list that is noise drags the default
hybrid below BM25, and calibration, without any judgment, finds it out and repairs the
hybrid; the CLI calibrates at index time, on demand, and ``evaluate`` says where the
fusion came from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_process import run_cli
from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import DenseConfig
from hybridir.dense.encoders import SentenceTransformerEncoder
from hybridir.eval import evaluate, load_beir
from hybridir.eval.datasets import read_corpus
from hybridir.learn.calibrate import calibrate


def _ndcg(searcher: Searcher, queries: dict[str, str], qrels: object, retriever: str) -> float:
    run = searcher.run(queries, 100, retriever=retriever)
    return float(evaluate(run, qrels, ["ndcg@10"])["ndcg@10"])  # type: ignore[arg-type]


def test_calibration_finds_a_noise_dense_list_and_repairs_the_hybrid(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = Collection.create(tmp_path / "adi", CollectionConfig(dense=DenseConfig()))
    collection.add(read_corpus(data_dir / "adi" / "corpus.jsonl"))
    rng = np.random.default_rng(0)

    def noise(self: SentenceTransformerEncoder, texts: list[str]) -> np.ndarray:
        vectors = rng.standard_normal((len(texts), 384)).astype(np.float32)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit

    monkeypatch.setattr(SentenceTransformerEncoder, "encode_queries", noise)
    data = load_beir(data_dir / "adi")
    searcher = Searcher(collection)
    bm25 = _ndcg(searcher, data.queries, data.qrels, "bm25")
    default = _ndcg(searcher, data.queries, data.qrels, "hybrid")
    assert default < bm25 - 0.05  # the failure calibration exists for

    result = calibrate(collection, queries=120)
    evidence = collection.config.calibration
    assert evidence is not None
    assert result.applied
    assert evidence.queries == 120
    assert evidence.lists["dense"] < evidence.lists["bm25"] / 3  # chance level against BM25
    assert evidence.cv_gain > 0
    assert collection.config.fusion_source() == "calibration"
    calibrated = _ndcg(Searcher(collection), data.queries, data.qrels, "hybrid")
    assert calibrated >= bm25 - 0.02
    assert calibrated > default + 0.05


def test_the_cli_calibrates_at_index_time_on_demand_and_evaluate_reports_it(
    data_dir: Path, tmp_path: Path
) -> None:
    adi, col = str(data_dir / "adi"), str(tmp_path / "col")
    done = run_cli("index", adi, col, "--dense", "all-MiniLM-L6-v2", "--json")
    assert done.returncode == 0, done.stderr
    indexed = json.loads(done.stdout)
    assert indexed["calibration"]["queries"] == 200
    assert set(indexed["calibration"]["lists"]) == {"bm25", "dense"}
    assert "calibrated on 200 pseudo-queries" in done.stderr

    again = run_cli("calibrate", col, "--queries", "60", "--seed", "1", "--dry-run", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["applied"] is False
    assert report["calibration"]["queries"] == 60
    stored = Collection.open(col).config.calibration
    assert stored is not None
    assert stored.queries == 200  # a dry run stores nothing

    # ...and reports what a real run with the same draw then serves.
    real = run_cli("calibrate", col, "--queries", "60", "--seed", "1", "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout)["calibration"]["fusion"] == report["calibration"]["fusion"]
    assert Collection.open(col).config.fusion.to_dict() == report["calibration"]["fusion"]
    back = run_cli("calibrate", col, "--json")  # the index-time calibration again
    assert back.returncode == 0, back.stderr
    stored = Collection.open(col).config.calibration
    assert stored is not None
    assert stored.queries == 200

    scored = run_cli("evaluate", adi, "--collection", col, "--json")
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert result["fusion_source"].startswith("calibrated on 200 pseudo-queries")
    assert result["fusion"] == stored.fusion
    table = run_cli("evaluate", adi, "--collection", col, "--fusion", "rrf")
    assert "(from options)" in table.stdout

    bm25_only = run_cli("index", adi, str(tmp_path / "bm25"), "--dense", "none", "--json")
    assert "calibration" not in json.loads(bm25_only.stdout)  # one list: nothing to weigh
    refused = run_cli("calibrate", str(tmp_path / "bm25"))
    assert refused.returncode == 1
    assert "two lists" in refused.stderr
