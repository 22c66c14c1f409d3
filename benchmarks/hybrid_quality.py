"""BM25, dense and every fusion method on BEIR-format datasets (nDCG@10, Recall@100).

Each dataset is indexed once with BM25 + a dense encoder (embeddings come from the
hybridir embedding cache after the first run); both lists are retrieved once to depth 1000
and every fusion method is applied to the same lists through ``Searcher.fuse_run``, the code
path ``hybridir search`` and ``hybridir evaluate`` use.

    python benchmarks/hybrid_quality.py --datasets scifact,cranfield --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import BM25Config, DenseConfig, FusionConfig
from hybridir.eval import evaluate, load_beir
from hybridir.fusion import METHODS

METRICS = ["ndcg@10", "recall@100"]
DEFAULT_DATASETS = "scifact,cranfield,cacm,medline,adi,xquad-r/en"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--k1", type=float, default=0.9)
    parser.add_argument("--b", type=float, default=0.4)
    parser.add_argument("--depth", type=int, default=1000, help="candidates per list")
    parser.add_argument(
        "--alphas", default="", help="extra convex rows, e.g. 0.3,0.6,0.7 (weight of dense)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def systems(alphas: str) -> dict[str, FusionConfig | None]:
    """Single lists (None), every fusion method with its defaults, and extra convex alphas."""
    out: dict[str, FusionConfig | None] = {"bm25": None, "dense": None}
    for name in METHODS:
        out[name] = FusionConfig(method=name)
    for alpha in (float(a) for a in alphas.split(",") if a.strip()):
        out[f"convex α={alpha:g}"] = FusionConfig(method="convex", alpha=alpha)
    return out


def run_dataset(name: str, args: argparse.Namespace, err: Console) -> dict[str, Any]:
    data = load_beir(name, split="test")
    config = CollectionConfig(
        bm25=BM25Config(k1=args.k1, b=args.b),
        dense=DenseConfig(model=args.model, backend=args.backend),
    )
    with tempfile.TemporaryDirectory(prefix="hybridir-hq-") as tmp:
        start = time.perf_counter()
        collection = Collection.create(Path(tmp) / "c", config)
        collection.add(list(data.corpus()), show_progress=err.is_terminal, allow_empty=True)
        index_s = time.perf_counter() - start
        searcher = Searcher(collection)
        depths = FusionConfig(depths={"bm25": args.depth, "dense": args.depth})
        lists = searcher.retrieve_lists(data.queries, args.depth, "hybrid", depths)
        results: dict[str, dict[str, float]] = {}
        for system, fusion in systems(args.alphas).items():
            if fusion is None:
                run = {
                    q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists[system].items()
                }
            else:
                run = searcher.fuse_run(lists, fusion, args.depth)
            results[system] = evaluate(run, data.qrels, METRICS)
        collection.close()
    return {"queries": len(data.qrels), "index_seconds": index_s, "results": results}


def table(name: str, report: dict[str, Any]) -> Table:
    results = report["results"]
    best = max(
        (s for s in results if s not in ("bm25", "dense")), key=lambda s: results[s]["ndcg@10"]
    )
    out = Table(title=f"{name}: {report['queries']} queries")
    out.add_column("system")
    for m in METRICS:
        out.add_column(m, justify="right")
    for system, scores in results.items():
        label = f"{system} (best fusion)" if system == best else system
        out.add_row(label, *(f"{scores[m]:.4f}" for m in METRICS))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, err = Console(), Console(stderr=True)
    reports: dict[str, Any] = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        err.print(f"… {name}")
        reports[name] = run_dataset(name, args, err)
        out.print(table(name, reports[name]))
    if args.json:
        meta = {
            "model": args.model,
            "backend": args.backend,
            "k1": args.k1,
            "b": args.b,
            "depth": args.depth,
            "command": " ".join(sys.argv),
        }
        print(json.dumps({"datasets": reports, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
