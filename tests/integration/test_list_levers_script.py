"""benchmarks/list_levers.py: its recomputed BM25 is hybridir's BM25 (the oracle behind the
BM25+ and bigram rows of docs/benchmarks.md), its MaxP windows cover a long text as
ChunkConfig would, and its ADI report reproduces the default hybrid of the fusion table and,
with bm25s's analyzer, REFERENCE.md's two ADI fusions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import AnalyzerConfig
from hybridir.eval import load_beir
from hybridir.eval.readers import read_corpus
from hybridir.text.analyzer import Analyzer


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("list_levers")


def test_recomputed_bm25_scores_equal_hybridir_s(
    bench: ModuleType, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    config = CollectionConfig(analyzer=AnalyzerConfig(language="en"))
    collection = Collection.create(tmp_path / "adi", config)
    collection.add(read_corpus(data_dir / "adi" / "corpus.jsonl"))
    analyzer = Analyzer(config.analyzer)
    corpus = bench.Corpus("adi", analyzer)
    queries = load_beir("adi").queries
    searcher = Searcher(collection)
    for text in queries.values():
        terms = analyzer.analyze(text)
        mine = corpus.bm25(terms)
        hits = searcher.search(text, k=100, retriever="bm25", fields=()).hits
        assert {h.doc_id for h in hits} == set(mine)
        for hit in hits:
            assert hit.score == pytest.approx(mine[hit.doc_id], rel=1e-5)
        # BM25+ adds delta / (k1 + 1) × idf for each matched query term, nothing else.
        plus = corpus.bm25(terms, delta=1.0)
        for doc, score in mine.items():
            matched = [t for t in terms if corpus.tf[doc].get(t)]
            extra = sum(corpus.idf[t] for t in matched) / (bench.K1 + 1)
            assert plus[doc] == pytest.approx(score + extra)
    collection.close()


def test_maxp_windows_cover_a_long_text_with_the_chunk_overlap(bench: ModuleType) -> None:
    from transformers import AutoTokenizer

    from hybridir.dense.encoders import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(bench.MINILM))
    assert bench.windows(tokenizer, "a short abstract about lungs") == []
    # Words that are one word piece each, so a window's text tokenizes back to its ids.
    words = ["blood", "cell", "lung", "heart", "acid", "level", "human", "tissue"]
    text = " ".join(words[(i * 5) % 7] for i in range(600))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > bench.MODEL_WINDOW
    found = bench.windows(tokenizer, text)
    pieces = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in found]
    step = bench.WINDOW - bench.OVERLAP
    assert len(found) == 1 + -(-(len(ids) - bench.WINDOW) // step)
    for i, piece in enumerate(pieces):
        assert piece == ids[i * step : i * step + bench.WINDOW]
    assert pieces[-1][-1] == ids[-1]


@pytest.mark.slow
def test_adi_report_reproduces_the_default_hybrid(
    bench: ModuleType,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    assert bench.main(["--datasets", "adi", "--json", "--more-lists"]) == 0
    row = json.loads(capsys.readouterr().out)
    # docs/benchmarks.md, the fusion table at k1 1.2 / b 0.75: BM25 0.4814, DBSF 0.5500.
    assert row["bm25 (hybridir)"]["ndcg@10"] == 0.4814
    assert row["bm25 (recomputed)"]["ndcg@10"] == 0.4814
    assert row["hybrid"]["ndcg@10"] == 0.5500
    # The grid's bm25s-analyzer rows rebuild REFERENCE.md's ADI fusions (convex 0.5418,
    # RRF 0.5265, both over the k1 0.9 / b 0.4 list).
    ref = "grid: bm25s (snowball, 2+ chars), k1 0.9 b 0.4"
    assert row[f"{ref}, convex 0.5 (min-max)"]["ndcg@10"] == 0.5418
    assert row[f"{ref}, rrf"]["ndcg@10"] == 0.5265
    assert row["grid: lucene porter, k1 1.2 b 0.75, dbsf"]["ndcg@10"] == 0.5500
    # --more-lists: each other offline list alone is below the default hybrid on ADI, and
    # every fusion with them is a different ranking from the default's.
    for name in ("splade", "use"):
        assert 0.3 < row[name]["ndcg@10"] < row["hybrid"]["ndcg@10"]
    for name in ("bm25 + dense + splade", "bm25 + dense + use", "bm25 + dense + splade + use"):
        assert row[name]["ndcg@10"] != row["hybrid"]["ndcg@10"]
        assert 0.0 <= row[name]["p_vs_hybrid"] <= 1.0
    # ADI's documents all fit MiniLM's window: MaxP changes nothing there.
    assert row["hybrid, dense maxp"]["ndcg@10"] == 0.5500
    for name, cell in row.items():
        if isinstance(cell, dict) and name != "hybrid":
            assert 0.0 <= cell["p_vs_hybrid"] <= 1.0
