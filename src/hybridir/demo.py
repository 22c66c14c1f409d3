"""``make demo``: index SciFact with BM25 + MiniLM, evaluate BM25, dense and hybrid side by
side, and show example queries with each hit's per-list explanation."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hybridir.collection import Collection
from hybridir.config import BM25Config, CollectionConfig, DenseConfig
from hybridir.search import Searcher

_METRICS = ["ndcg@10", "recall@100", "mrr@10", "map@100"]
_SYSTEMS = ("bm25", "dense", "hybrid")


def run_demo(dataset: str, out: Console, err: Console) -> None:
    """Build, evaluate and query a hybrid collection of ``dataset``, printing as it goes."""
    from hybridir.eval.datasets import load_beir
    from hybridir.eval.metrics import evaluate

    data = load_beir(dataset, split="test")
    docs = list(data.corpus())
    out.print(
        f"[bold]{data.name}[/]: {len(docs)} documents, {len(data.qrels)} test queries ({data.path})"
    )
    config = CollectionConfig(bm25=BM25Config(), dense=DenseConfig())
    with tempfile.TemporaryDirectory(prefix="hybridir-demo-") as tmp:
        start = time.perf_counter()
        collection = Collection.create(Path(tmp) / "col", config)
        out.print(
            "indexing BM25 + all-MiniLM-L6-v2 (first run encodes every document on the "
            "CPU; later runs reuse the embedding cache)"
        )
        collection.add(docs, show_progress=True, allow_empty=True)
        out.print(f"indexed in {time.perf_counter() - start:.1f} s")
        searcher = Searcher(collection)
        table = Table(
            title=f"{data.name} test: trec_eval metrics "
            f"(hybrid = {searcher.fusion.method}, default settings)"
        )
        table.add_column("system")
        for m in _METRICS:
            table.add_column(m, justify="right")
        table.add_column("queries/s", justify="right")
        for system in _SYSTEMS:
            start = time.perf_counter()
            run = searcher.run(data.queries, k=1000, retriever=system)
            qps = len(data.queries) / (time.perf_counter() - start)
            scores = evaluate(run, data.qrels, _METRICS)
            table.add_row(system, *(f"{scores[m]:.4f}" for m in _METRICS), f"{qps:,.0f}")
        out.print(table)
        _show_examples(searcher, data.queries, out)
        collection.close()


def _show_examples(searcher: Searcher, queries: dict[str, str], out: Console) -> None:
    for qid in list(queries)[:3]:
        result = searcher.search(queries[qid], k=3)
        table = Table(title=f"query {qid}: {queries[qid]}", title_justify="left")
        for column in (
            "rank",
            "doc_id",
            "fused",
            "bm25 rank",
            "dense rank",
            "matched terms",
            "title",
        ):
            table.add_column(column)
        docs = searcher.collection.snapshot().documents([h.doc_id for h in result.hits])
        for hit, doc in zip(result.hits, docs, strict=True):
            ranks = {c.retriever: c.rank for c in hit.contributions}
            matched = next((c.matched_terms for c in hit.contributions if c.matched_terms), ())
            table.add_row(
                str(hit.rank),
                hit.doc_id,
                f"{hit.score:.4f}",
                str(ranks.get("bm25") or "-"),
                str(ranks.get("dense") or "-"),
                " ".join(matched),
                doc.title[:50],
            )
        out.print(table)
