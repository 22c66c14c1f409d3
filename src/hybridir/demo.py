"""``make demo``: index SciFact, evaluate BM25 and show example queries with their hits."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hybridir.collection import Collection
from hybridir.config import BM25Config, CollectionConfig
from hybridir.search import Searcher

_SETTINGS = {
    "BM25 k1=0.9 b=0.4 (Pyserini default)": BM25Config(k1=0.9, b=0.4),
    "BM25 k1=1.2 b=0.75": BM25Config(k1=1.2, b=0.75),
}
_METRICS = ["ndcg@10", "recall@100", "mrr@10", "map@100"]


def run_demo(dataset: str, out: Console, err: Console) -> None:
    """Build, evaluate and query a collection of ``dataset``, printing as it goes."""
    from hybridir.eval.datasets import load_beir, read_corpus
    from hybridir.eval.metrics import evaluate

    data = load_beir(dataset, split="test")
    docs = list(read_corpus(data.path / "corpus.jsonl"))
    out.print(
        f"[bold]{data.name}[/]: {len(docs)} documents, {len(data.qrels)} test queries ({data.path})"
    )
    table = Table(title=f"{data.name} test: trec_eval metrics")
    table.add_column("system")
    for m in _METRICS:
        table.add_column(m, justify="right")
    table.add_column("index s", justify="right")
    table.add_column("queries/s", justify="right")
    with tempfile.TemporaryDirectory(prefix="hybridir-demo-") as tmp:
        searcher = None
        for i, (label, bm25) in enumerate(_SETTINGS.items()):
            start = time.perf_counter()
            collection = Collection.create(Path(tmp) / f"c{i}", CollectionConfig(bm25=bm25))
            collection.add(docs, show_progress=err.is_terminal)
            built = time.perf_counter() - start
            searcher = Searcher(collection)
            start = time.perf_counter()
            run = searcher.run(data.queries, k=1000)
            qps = len(data.queries) / (time.perf_counter() - start)
            scores = evaluate(run, data.qrels, _METRICS)
            table.add_row(
                label, *(f"{scores[m]:.4f}" for m in _METRICS), f"{built:.1f}", f"{qps:,.0f}"
            )
        out.print(table)
        assert searcher is not None
        _show_examples(searcher, data.queries, out)


def _show_examples(searcher: Searcher, queries: dict[str, str], out: Console) -> None:
    for qid in list(queries)[:3]:
        result = searcher.search(queries[qid], k=3)
        table = Table(title=f"query {qid}: {queries[qid]}", title_justify="left")
        for column in ("rank", "doc_id", "score", "matched terms", "title"):
            table.add_column(column)
        for hit in result.hits:
            doc = searcher.collection.get(hit.doc_id)
            table.add_row(
                str(hit.rank),
                hit.doc_id,
                f"{hit.score:.3f}",
                " ".join(hit.contributions[0].matched_terms),
                doc.title[:60],
            )
        out.print(table)
