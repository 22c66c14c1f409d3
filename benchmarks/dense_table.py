"""Transformer-free dense queries: a distilled per-token table against the MiniLM encoder.

For each dataset (test split, or ``--split train`` to choose settings; the default BM25,
all-MiniLM-L6-v2 document vectors from the embedding cache, the default DBSF fusion, both
lists to depth 1000) this reports:

* nDCG@10 of dense alone and of the hybrid with the real query encoder and with a dense
  table fitted on the collection's own texts (titles, documents, sentences, random spans;
  ``hybridir.learn.dense_fit``), and on SciFact also with its ``train`` queries added;
* the table's fitting time (the first fit on a dataset encodes its sentences and spans;
  later ones read them from the embedding cache);
* query encoding, p50 µs per query: the encoder (its query cache cleared before each
  query) and the table through the query path (``hybridir.query.dense_queries``);
* on SciFact, in-process ``Searcher.search`` latency (k=10, no explanations, BM25 k1=0.9
  b=0.4, depths bm25 1000 / dense 100: the setting of ``hybrid_latency.py``) of BM25 alone,
  dense and hybrid with the table, and hybrid with the encoder.

Latencies run on ``--threads`` torch/FAISS threads; each query is timed ``--repeats`` times
(median), after 10 untimed queries; p50 over queries.

    python benchmarks/dense_table.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import BM25Config, DenseConfig, FusionConfig
from hybridir.eval import evaluate, load_beir
from hybridir.learn.dense_fit import TableFit, fit_dense_table
from hybridir.learn.store import save_model
from hybridir.query import dense_queries

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DATASETS = "scifact,cranfield,cacm,medline,adi"
DEPTH = 1000
LATENCY_DEPTHS = {"bm25": 1000, "dense": 100}
WARMUP = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--datasets", default=DATASETS)
    add("--budget", type=int, default=TableFit.budget, help="sentences + spans per table")
    add("--epochs", type=int, default=TableFit.epochs)
    add("--lr", type=float, default=TableFit.lr)
    add("--init", default=TableFit.init)
    add("--loss", default=TableFit.loss)
    add("--heads", type=int, default=TableFit.heads, help="attention heads (0: plain mean)")
    add("--seed", type=int, default=TableFit.seed, help="training text sample")
    add(
        "--split",
        default="test",
        choices=("test", "train"),
        help="queries evaluated (train: for choosing settings; no train-queries fit then)",
    )
    add("--threads", type=int, default=1, help="torch / FAISS threads while timing")
    add("--repeats", type=int, default=3, help="timings per query (median)")
    add("--no-latency", action="store_true", help="skip the SciFact search latency")
    add("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> TableFit:
    return TableFit(
        budget=args.budget,
        epochs=args.epochs,
        lr=args.lr,
        init=args.init,
        loss=args.loss,
        seed=args.seed,
        heads=args.heads,
    )


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def p50_us(queries: Sequence[str], run: Callable[[str], float], repeats: int) -> float:
    """Median over queries of each query's median time, in µs, after untimed warm-up."""
    for query in queries[:WARMUP]:
        run(query)
    per_query = [statistics.median(run(q) for _ in range(repeats)) for q in queries]
    return float(np.median(per_query) * 1e6)


def set_threads(n: int) -> None:
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def quality(collection: Collection, queries: dict[str, str], qrels: Any) -> dict[str, float]:
    """nDCG@10 of dense alone and of the collection's default hybrid."""
    searcher = Searcher(collection)
    fusion = collection.config.fusion
    lists = searcher.retrieve_lists(queries, DEPTH, "hybrid", fusion)
    dense = {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists["dense"].items()}
    hybrid = searcher.fuse_run(lists, fusion, DEPTH)
    return {
        "dense": evaluate(dense, qrels, ["ndcg@10"])["ndcg@10"],
        "hybrid": evaluate(hybrid, qrels, ["ndcg@10"])["ndcg@10"],
    }


def encoding_us(collection: Collection, queries: Sequence[str], repeats: int) -> float:
    """p50 µs of one query's dense vector as the collection's query mode makes it."""
    backend = collection.snapshot()
    encoder = collection.encoder

    def once(query: str) -> float:
        clear = getattr(encoder, "clear_cache", None)
        if clear is not None:
            clear()
        return timed(lambda: dense_queries(backend, [query]))

    return p50_us(queries, once, repeats)


def fit_table(
    collection: Collection, queries: Sequence[str], fit: TableFit, err: Console
) -> tuple[str, float, dict[str, Any]]:
    """Fit, store and activate a table; its name, fitting seconds and summary."""
    start = time.perf_counter()
    table = fit_dense_table(collection.encoder, collection.snapshot(), queries, fit)
    seconds = time.perf_counter() - start
    name = save_model(collection.models_dir, table)
    collection.set_dense_query("table", name)
    summary = {k: table.info[k] for k in ("texts", "tokens_fitted", "loss")}
    summary["heads"] = table.heads
    err.print(f"  fitted {name} in {seconds:.0f} s: {summary}")
    return name, seconds, summary


def run_dataset(name: str, args: argparse.Namespace, err: Console) -> dict[str, Any]:
    data = load_beir(name, split=args.split)
    queries = list(data.queries.values())
    out: dict[str, Any] = {"queries": len(data.qrels), "docs": 0}
    with tempfile.TemporaryDirectory(prefix="hybridir-dt-") as tmp:
        collection = Collection.create(Path(tmp) / "c", CollectionConfig(dense=DenseConfig()))
        collection.add(list(data.corpus()), show_progress=err.is_terminal, allow_empty=True)
        out["docs"] = len(collection)
        set_threads(args.threads)
        out["encoder"] = quality(collection, data.queries, data.qrels)
        out["encoder"]["encode_us"] = encoding_us(collection, queries, args.repeats)
        variants: dict[str, tuple[str, ...]] = {"table": ()}
        if name == "scifact" and args.split == "test":
            variants["table+train"] = tuple(load_beir(name, split="train").queries.values())
        for label, extra in variants.items():
            collection.set_dense_query("encoder")
            set_threads(2)
            _, seconds, summary = fit_table(collection, extra, settings(args), err)
            set_threads(args.threads)
            out[label] = quality(collection, data.queries, data.qrels)
            out[label] |= {"encode_us": encoding_us(collection, queries, args.repeats)}
            out[label] |= {"fit_seconds": seconds, **summary}
        collection.close()
    return out


LATENCY_MODES = {
    "bm25": ("table", "bm25"),
    "dense (table)": ("table", "dense"),
    "hybrid (encoder)": ("encoder", "hybrid"),
    "hybrid (table)": ("table", "hybrid"),
}
"""Timed searches: label → (dense query mode, retriever)."""


def search_p50_ms(
    collection: Collection,
    queries: Sequence[str],
    retriever: str,
    fusion: FusionConfig,
    repeats: int,
) -> float:
    """p50 ms of ``Searcher.search`` (k=10, no explanations), the encoder's query cache
    cleared before each query."""
    searcher = Searcher(collection)
    encoder = collection.encoder

    def once(query: str) -> float:
        clear = getattr(encoder, "clear_cache", None)
        if clear is not None:
            clear()
        return timed(
            lambda: searcher.search(query, k=10, retriever=retriever, fusion=fusion, explain=False)
        )

    return p50_us(queries, once, repeats) / 1e3


def search_latency(args: argparse.Namespace, err: Console) -> dict[str, Any]:
    """SciFact ``Searcher.search`` p50 ms: BM25 alone, dense and hybrid with the table,
    hybrid with the encoder."""
    data = load_beir("scifact", split="test")
    queries = list(data.queries.values())
    config = CollectionConfig(bm25=BM25Config(k1=0.9, b=0.4), dense=DenseConfig(model=MODEL))
    fusion = FusionConfig(depths=LATENCY_DEPTHS)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hybridir-dt-") as tmp:
        collection = Collection.create(Path(tmp) / "c", config)
        collection.add(list(data.corpus()), allow_empty=True)
        name, _, _ = fit_table(collection, (), settings(args), err)
        set_threads(args.threads)
        for label, (mode, retriever) in LATENCY_MODES.items():
            collection.set_dense_query(mode, None if mode == "encoder" else name)
            out[label] = search_p50_ms(collection, queries, retriever, fusion, args.repeats)
        collection.close()
    return out


def report(results: dict[str, Any]) -> Table:
    table = Table(title="dense table vs query encoder (nDCG@10; query encoding p50 µs)")
    for column in ("dataset", "query encoder", "dense", "hybrid", "encode µs", "fit s"):
        table.add_column(
            column, justify="left" if column in ("dataset", "query encoder") else "right"
        )
    for name, found in results.items():
        for label in ("encoder", "table", "table+train"):
            if label in found:
                row = found[label]
                fit = f"{row['fit_seconds']:.0f}" if "fit_seconds" in row else ""
                table.add_row(
                    name, label, f"{row['dense']:.4f}", f"{row['hybrid']:.4f}",
                    f"{row['encode_us']:.0f}", fit,
                )  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, err = Console(), Console(stderr=True)
    results: dict[str, Any] = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        err.print(f"… {name}")
        results[name] = run_dataset(name, args, err)
    out.print(report(results))
    latency = None
    if not args.no_latency:
        err.print("… SciFact search latency")
        latency = search_latency(args, err)
        out.print(f"SciFact search p50 ms: {json.dumps(latency)}")
    if args.json:
        fit = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings(args)).items()}
        meta = {"model": MODEL, "settings": fit, "threads": args.threads, "argv": sys.argv}
        print(json.dumps({"datasets": results, "latency": latency, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
