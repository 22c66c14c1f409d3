"""Learned sparse retrieval (SPLADE impacts) alone and in two- and three-way hybrids.

On one dataset (SciFact by default; the offline ``splade-tiny`` and MiniLM) this reports:

* nDCG@10 / Recall@100 of BM25, splade-tiny, MiniLM, BM25 + splade, BM25 + MiniLM,
  splade + MiniLM and all three, each with the default fusion (DBSF) and tuned (the
  cross-validated grid of ``hybridir tune``, trained on the ``train`` split);
* single-query latency p50 / p95 of each (query encoding included);
* inference-free queries (IDF weights, and a token-weight table distilled from the SPLADE
  query encoder on the train queries) against full query encoding;
* document pruning to the top-N terms: quality against index size;
* index size on disk of each list;
* the impact index's throughput against BM25 on the same corpus (queries already
  encoded, so only the index is timed; repeated, medians) and the memory of each.

    python benchmarks/learned_sparse.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir._cache import cache_root
from hybridir.config import DenseConfig, FusionConfig, SpladeConfig
from hybridir.eval import evaluate_per_query, load_beir
from hybridir.eval.runner import cached_collection
from hybridir.learn.data import collect
from hybridir.learn.store import save_model
from hybridir.learn.token_weights import fit_token_weights
from hybridir.learn.tune import simplify, tune
from hybridir.query import prepare, splade_queries
from hybridir.types import RankedList, Run

METRICS = ["ndcg@10", "recall@100"]
COMBOS: dict[str, list[str]] = {
    "BM25": ["bm25"],
    "splade-tiny": ["splade"],
    "MiniLM": ["dense"],
    "BM25 + splade": ["bm25", "splade"],
    "BM25 + MiniLM": ["bm25", "dense"],
    "splade + MiniLM": ["splade", "dense"],
    "BM25 + splade + MiniLM": ["bm25", "splade", "dense"],
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--splade", default="splade-tiny")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--prune", default="32,64,128", help="top-N terms per document")
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-tuning", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def folder_bytes(collection: Collection, part: str) -> int:
    return sum(
        f.stat().st_size
        for seg in collection.manifest.segments
        for f in (collection.directory / seg.name / part).rglob("*")
        if f.is_file()
    )


def as_run(lists: Mapping[str, RankedList]) -> Run:
    return {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists.items()}


def evaluate(run: Run, qrels: Any) -> dict[str, float]:
    values = evaluate_per_query(run, qrels, METRICS)
    return {m: statistics.fmean(values[m].values()) for m in METRICS}


def clear_query_caches(collection: Collection) -> None:
    """Drop the encoders' query caches, so a latency includes encoding each query."""
    for encoder in (collection.encoder, collection.sparse_encoder):
        clear = getattr(encoder, "clear_cache", None)
        if clear is not None:
            clear()


def latency(
    fn: Callable[[str], object], queries: Sequence[str], collection: Collection
) -> tuple[float, float]:
    """(p50, p95) milliseconds of ``fn`` per query, after one warm-up call; queries are
    encoded afresh (the encoders' caches are cleared first)."""
    fn(queries[0])
    clear_query_caches(collection)
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(0.95 * len(times)))]


def throughput(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs (one warm-up first)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def index_memory(index: Any) -> int:
    """Bytes of a segmented sparse index's arrays: postings plus derived weights."""
    total = 0
    for part in index.indexes:
        p = part.postings
        total += sum(a.nbytes for a in (p.indptr, p.doc_rows, p.tfs, p.doc_lengths, p.tie_key))
        total += part.weights.nbytes + part.dense_rows[1].nbytes
    return total


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    test = load_beir(args.dataset, split="test")
    train = load_beir(args.dataset, split=args.train_split)
    splade = SpladeConfig(model=args.splade)
    config = CollectionConfig(splade=splade, dense=DenseConfig(model=args.model))
    with console.status("indexing (BM25, splade, MiniLM; encodings are cached)"):
        collection = cached_collection(args.dataset, config, cache_root("benchmark"))
    searcher = Searcher(collection)
    names = searcher.lists()
    result: dict[str, Any] = {"dataset": args.dataset, "splade": args.splade, "dense": args.model}
    result["index_bytes"] = {
        "bm25": folder_bytes(collection, "postings"),
        "splade": folder_bytes(collection, "impacts"),
        "dense": folder_bytes(collection, "vectors"),
    }
    depth = 1000
    fusion = FusionConfig(depths=dict.fromkeys(names, depth))
    console.print("retrieving test lists")
    lists = searcher.retrieve_lists(test.queries, depth, "hybrid", fusion)
    tuned: dict[str, FusionConfig] = {}
    if not args.skip_tuning:
        with console.status(f"tuning on {len(train.queries)} {args.train_split} queries"):
            training = collect(searcher, train.queries, train.qrels, dict.fromkeys(names, depth))
            for label, combo in COMBOS.items():
                if len(combo) > 1:
                    sub = training.only(combo)
                    tuned[label] = simplify(tune(sub, FusionConfig(), metric="ndcg@10").best, combo)
    rows: dict[str, dict[str, Any]] = {}
    sample = list(test.queries.values())[: args.latency_queries]
    for label, combo in COMBOS.items():
        row: dict[str, Any] = {}
        if len(combo) == 1:
            row["default"] = evaluate(as_run(lists[combo[0]]), test.qrels)
            mode = combo[0]

            def one(q: str, mode: str = mode) -> object:
                return searcher.search(q, 10, retriever=mode, explain=False)

        else:
            sub = {n: lists[n] for n in combo}
            row["default"] = evaluate(searcher.fuse_run(sub, fusion, depth), test.qrels)
            if label in tuned:
                row["tuned"] = evaluate(searcher.fuse_run(sub, tuned[label], depth), test.qrels)
                row["tuned_config"] = tuned[label].to_dict()

            def one(q: str, combo: list[str] = combo) -> object:
                view = collection.snapshot()
                queries = prepare(view, combo, [q])
                found = view.retrieve({n: (queries[n], 100) for n in combo}).lists
                got = {n: found[n][0] for n in combo}
                return searcher.fuse_lists(q, got, FusionConfig(), 10, view)

        row["latency_ms"] = latency(one, sample, collection)
        rows[label] = row
    result["systems"] = rows

    # Inference-free query modes against the full encoder.
    modes: dict[str, dict[str, Any]] = {}
    encoder = collection.sparse_encoder
    table = fit_token_weights(encoder, list(train.queries.values()), collection.splade.idf)
    table_name = save_model(collection.models_dir, table)
    for mode, model in (("encoder", None), ("idf", None), ("table", table_name)):
        collection.set_splade_query(mode, model)
        view_searcher = Searcher(collection)
        run = view_searcher.run(test.queries, depth, retriever="splade")
        got = view_searcher.retrieve_lists(test.queries, depth, "hybrid", fusion)
        three = evaluate(view_searcher.fuse_run(got, fusion, depth), test.qrels)
        weights_only = latency(
            lambda q: splade_queries(collection.snapshot(), [q]), sample, collection
        )
        modes[mode] = {
            "splade": evaluate(run, test.qrels),
            "three_way_default": three,
            "query_weights_ms": weights_only,
            "latency_ms": latency(
                lambda q, s=view_searcher: s.search(q, 10, retriever="splade", explain=False),
                sample,
                collection,
            ),
        }
    collection.set_splade_query("encoder")
    result["query_modes"] = modes

    # Pruning each document to its top-N terms.
    pruning: dict[str, dict[str, Any]] = {}
    for n in [int(x) for x in args.prune.split(",") if x]:
        pruned = cached_collection(
            args.dataset,
            CollectionConfig(splade=replace(splade, max_terms=n)),
            cache_root("benchmark"),
        )
        run = Searcher(pruned).run(test.queries, depth, retriever="splade")
        pruning[str(n)] = {
            **evaluate(run, test.qrels),
            "impact_bytes": folder_bytes(pruned, "impacts"),
            "postings": pruned.splade.stats.n_postings,
        }
        pruned.close()
    pruning["all"] = {
        **rows["splade-tiny"]["default"],
        "impact_bytes": result["index_bytes"]["splade"],
        "postings": collection.splade.stats.n_postings,
    }
    result["pruning"] = pruning

    # Index speed: the same queries, already analysed / weighted, k = 10 and 1000.
    texts = [*test.queries.values(), *train.queries.values()]
    analysed = [collection.analyzer.analyze(t) for t in texts]
    weighted = splade_queries(collection, texts)
    speed: dict[str, Any] = {"queries": len(texts)}
    for k in (10, 1000):
        bm25_s = throughput(lambda k=k: collection.bm25.search(analysed, k), args.repeats)
        imp_s = throughput(lambda k=k: collection.splade.search(weighted, k), args.repeats)
        speed[f"k{k}"] = {
            "bm25_qps": len(texts) / bm25_s,
            "splade_qps": len(texts) / imp_s,
            "splade_vs_bm25": bm25_s / imp_s,
        }
    speed["memory_bytes"] = {
        "bm25": index_memory(collection.bm25),
        "splade": index_memory(collection.splade),
    }
    speed["postings"] = {
        "bm25": collection.bm25.stats.n_postings,
        "splade": collection.splade.stats.n_postings,
    }
    speed["query_terms_mean"] = {
        "bm25": float(np.mean([len(set(a)) for a in analysed])),
        "splade": float(np.mean([len(w) for w in weighted])),
    }
    result["speed"] = speed
    report(console, result)
    if args.json:
        print(json.dumps(result))
    collection.close()
    return 0


def report(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{result['dataset']}: learned sparse, dense and BM25 (test split)")
    for col in ("system", "nDCG@10", "R@100", "tuned nDCG@10", "tuned R@100", "p50 ms", "p95 ms"):
        table.add_column(col)
    for label, row in result["systems"].items():
        tuned = row.get("tuned", {})
        table.add_row(
            label,
            f"{row['default']['ndcg@10']:.4f}",
            f"{row['default']['recall@100']:.4f}",
            f"{tuned['ndcg@10']:.4f}" if tuned else "",
            f"{tuned['recall@100']:.4f}" if tuned else "",
            f"{row['latency_ms'][0]:.1f}",
            f"{row['latency_ms'][1]:.1f}",
        )
    console.print(table)
    modes = Table(title="splade query weighting")
    for col in ("mode", "splade nDCG@10", "3-way nDCG@10", "weights p50 ms", "search p50 ms"):
        modes.add_column(col)
    for mode, row in result["query_modes"].items():
        modes.add_row(
            mode,
            f"{row['splade']['ndcg@10']:.4f}",
            f"{row['three_way_default']['ndcg@10']:.4f}",
            f"{row['query_weights_ms'][0]:.2f}",
            f"{row['latency_ms'][0]:.2f}",
        )
    console.print(modes)
    console.print({"index_bytes": result["index_bytes"], "pruning": result["pruning"]})
    console.print(result["speed"])


if __name__ == "__main__":
    sys.exit(main())
