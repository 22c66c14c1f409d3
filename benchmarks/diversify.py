"""Diversification for RAG: nDCG@10 against redundancy of the top 10, MMR λ grid and clusters.

One SciFact collection (the default configuration: BM25 k1=1.2 b=0.75 + all-MiniLM-L6-v2,
cached under ``$HYBRIDIR_CACHE/benchmark``; document vectors come from the embedding cache)
answers the test queries through ``Searcher.search`` with the default hybrid (DBSF), each
to depth ``--depth`` (the diversification candidates, ``DiversifyConfig.depth``). The top
``--k`` of every system is then derived from the same hits by the public
:func:`hybridir.diversify.diversify`, with the candidates' vectors from the snapshot's
``Backend.dense_vectors``:

* ``none``: the fused top k as is;
* ``mmr λ=…``: maximal marginal relevance for each ``--lambdas`` value;
* ``clusters``: TopClustRAG-style K-Means, one representative per cluster.

Measured per system: nDCG@10 (trec_eval semantics, every judged query; a diversified list
keeps fused scores, so its order is passed to the evaluator as scores ``k, k-1, …``),
redundancy (the mean pairwise cosine similarity of the top-k dense vectors, averaged over
queries) and the median milliseconds of the ``diversify`` call. The suggested λ is the one
with the lowest redundancy among those losing at most ``--max-loss`` nDCG@10.

    .venv/bin/python benchmarks/diversify.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from hybridir import CollectionConfig, Searcher
from hybridir._cache import cache_root
from hybridir.config import DenseConfig, DiversifyConfig
from hybridir.diversify import diversify, unit_rows
from hybridir.eval import evaluate, load_beir
from hybridir.eval.runner import cached_collection
from hybridir.types import Hit, Run

NONE = "none"


class Query(NamedTuple):
    """One query's fused candidates and their unit dense vectors (same order)."""

    hits: list[Hit]
    unit: NDArray[np.float64]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--depth", type=int, default=50, help="diversification candidates")
    parser.add_argument("--k", type=int, default=10, help="hits kept (and measured)")
    parser.add_argument("--lambdas", default="0.5,0.6,0.7,0.8,0.9")
    parser.add_argument("--max-loss", type=float, default=0.01, help="nDCG@10 allowed to lose")
    parser.add_argument("--queries", type=int, default=0, help="first N queries (0 = all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def systems(lambdas: str, depth: int) -> dict[str, DiversifyConfig | None]:
    """``none``, one MMR system per λ, and clusters, all over the same ``depth`` candidates."""
    out: dict[str, DiversifyConfig | None] = {NONE: None}
    for lam in (float(x) for x in lambdas.split(",") if x.strip()):
        out[f"mmr λ={lam:g}"] = DiversifyConfig(method="mmr", lambda_=lam, depth=depth)
    out["clusters"] = DiversifyConfig(method="clusters", depth=depth)
    return out


def candidates(searcher: Searcher, queries: dict[str, str], depth: int) -> dict[str, Query]:
    """Each query's top ``depth`` default-hybrid hits and their dense vectors."""
    backend = searcher.collection.snapshot()
    out: dict[str, Query] = {}
    for qid, text in queries.items():
        hits = list(searcher.search(text, k=depth, explain=False).hits)
        vectors = backend.dense_vectors([h.doc_id for h in hits])
        out[qid] = Query(hits, unit_rows(vectors))
    return out


def redundancy(unit: NDArray[np.float64]) -> float:
    """Mean pairwise cosine similarity of the rows (0 for fewer than two)."""
    n = unit.shape[0]
    if n < 2:
        return 0.0
    sims = unit @ unit.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def top_k(query: Query, config: DiversifyConfig | None, k: int) -> tuple[list[Hit], float]:
    """The system's top ``k`` and the milliseconds ``diversify`` took (0 for ``none``)."""
    if config is None:
        return query.hits[:k], 0.0
    vectors = query.unit[: config.depth].astype(np.float32)
    start = time.perf_counter()
    hits = diversify(query.hits, vectors, config, k)
    return hits, (time.perf_counter() - start) * 1e3


def measure(
    per_query: dict[str, Query], config: DiversifyConfig | None, k: int, qrels: Any
) -> dict[str, float]:
    """nDCG@k, mean redundancy of the top k and median diversify milliseconds."""
    run: Run = {}
    redundancies: list[float] = []
    times: list[float] = []
    for qid, query in per_query.items():
        hits, ms = top_k(query, config, k)
        # Diversified hits keep their fused scores: rank order is handed over as scores.
        run[qid] = {h.doc_id: float(k - i) for i, h in enumerate(hits)}
        row = {h.doc_id: i for i, h in enumerate(query.hits)}
        redundancies.append(redundancy(query.unit[[row[h.doc_id] for h in hits]]))
        times.append(ms)
    ndcg = evaluate(run, qrels, [f"ndcg@{k}"])[f"ndcg@{k}"]
    return {
        "ndcg": ndcg,
        "redundancy": statistics.fmean(redundancies),
        "ms_p50": statistics.median(times),
    }


def suggest(results: dict[str, dict[str, float]], max_loss: float) -> str | None:
    """The MMR system with the lowest redundancy among those within ``max_loss`` nDCG."""
    floor = results[NONE]["ndcg"] - max_loss
    ok = [s for s in results if s.startswith("mmr") and results[s]["ndcg"] >= floor]
    return min(ok, key=lambda s: results[s]["redundancy"]) if ok else None


def render(results: dict[str, dict[str, float]], k: int, title: str) -> Table:
    base = results[NONE]
    table = Table(title=title)
    for col in ("system", f"nDCG@{k}", "Δ", f"redundancy@{k}", "Δ", "diversify p50 ms"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['ndcg']:.4f}",
            f"{r['ndcg'] - base['ndcg']:+.4f}",
            f"{r['redundancy']:.4f}",
            f"{r['redundancy'] - base['redundancy']:+.4f}",
            f"{r['ms_p50']:.2f}",
        )
    return table


def first(mapping: dict[str, str], limit: int) -> dict[str, str]:
    """The first ``limit`` entries (all when 0)."""
    keys: Sequence[str] = list(mapping)[: limit or None]
    return {q: mapping[q] for q in keys}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    data = load_beir(args.dataset, split=args.split)
    queries = first(data.queries, args.queries)
    qrels = {q: data.qrels[q] for q in queries if q in data.qrels}
    config = CollectionConfig(dense=DenseConfig())
    with console.status(f"{args.dataset}: collection and {len(queries)} hybrid queries"):
        collection = cached_collection(args.dataset, config, cache_root("benchmark"))
        per_query = candidates(Searcher(collection), queries, args.depth)
    results = {
        name: measure(per_query, cfg, args.k, qrels)
        for name, cfg in systems(args.lambdas, args.depth).items()
    }
    collection.close()
    best = suggest(results, args.max_loss)
    title = (
        f"{args.dataset} ({len(queries)} queries): default hybrid top {args.k} from "
        f"{args.depth} candidates"
    )
    console.print(render(results, args.k, title))
    console.print(f"suggested: {best} (lowest redundancy within {args.max_loss} nDCG@{args.k})")
    if args.json:
        out = {
            "dataset": args.dataset,
            "queries": len(queries),
            "depth": args.depth,
            "k": args.k,
            "results": results,
            "suggested": best,
        }
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
