"""Self-supervised calibration (issue 19): does the calibrated default ever lose to its best
list, on data nobody judged?

For every dataset and encoder: BM25, dense, the default hybrid before this work (DBSF over
both lists), the fusion a new collection gets (the same, or BM25 alone where the dense
model does not cover the language: :mod:`hybridir.dense.coverage`), the hybrid after
``calibrate`` (pseudo-queries drawn from the collection, no judgments), the
judgment-tuned hybrid (α, RRF or DBSF chosen on the test qrels, 5-fold cross-validated, so
held out: an upper reference no unjudged collection has), and the adaptive α trained on
the same judgments (per-query α, 5-fold CV; to compare with the unsupervised per-query
weights calibration may choose). nDCG@10 and Recall@100 on the test queries; a paired
randomization test of the calibrated hybrid against the better single list (by nDCG@10);
calibration seconds and the setting it chose. Collections come from the benchmark cache
(vectors from the embedding cache) and are calibrated on a copy.

    python benchmarks/calibration.py --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir._cache import cache_root
from hybridir.config import AnalyzerConfig, DenseConfig, FusionConfig
from hybridir.errors import InvalidInputError
from hybridir.eval import evaluate_per_query, load_beir
from hybridir.eval.runner import cached_collection
from hybridir.eval.significance import randomization_test
from hybridir.learn.calibrate import CalibrationResult, calibrate
from hybridir.learn.data import collect
from hybridir.learn.train import cross_validate
from hybridir.learn.tune import tune, weight_grid
from hybridir.types import Run

METRICS = ["ndcg@10", "recall@100"]
ENGLISH = ("scifact", "cranfield", "cacm", "medline", "adi")
MULTILINGUAL = (
    *(f"xquad-r/{x}" for x in ("ar", "de", "en", "hi", "ru", "th", "zh")),
    "poquad-dev-pl",
)
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    runs = [f"{d}:{MINILM}" for d in (*ENGLISH, *MULTILINGUAL)]
    runs += [f"{d}:use-m" for d in MULTILINGUAL]
    parser.add_argument("--runs", default=",".join(runs), help="dataset:model pairs")
    parser.add_argument("--queries", type=int, default=200, help="pseudo-queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tuned", action="store_true", help="skip the judgment-tuned row")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--jsonl", type=Path, default=None, help="append each report here")
    return parser.parse_args(argv)


def language(dataset: str) -> str:
    """``xquad-r/de`` → ``de``, ``poquad-dev-pl`` → ``pl``, anything else English."""
    tail = dataset.rstrip("/").split("/")[-1]
    if tail.endswith("-pl"):
        return "pl"
    return tail if dataset.startswith("xquad-r/") else "en"


def scores(run: Run, qrels: Any, qids: list[str]) -> dict[str, dict[str, float]]:
    values = evaluate_per_query(run, qrels, METRICS)
    return {m: {q: values[m][q] for q in qids} for m in METRICS}


def tuned_grid(names: list[str], depth: int) -> list[FusionConfig]:
    """The judgment-tuned reference's grid: α of a DBSF-normalized convex combination in
    steps of 0.1 (Mr. TyDi's per-language weight), RRF and the default; the full ``tune``
    grid on every test query of the multilingual sets costs minutes per set."""
    depths = dict.fromkeys(names, depth)
    grid = [
        FusionConfig(method="convex", norm="dbsf", weights=w, depths=depths)
        for w in weight_grid(names, 0.1)
    ]
    return [*grid, FusionConfig(method="rrf", depths=depths), FusionConfig(depths=depths)]


def run_dataset(dataset: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    data = load_beir(dataset)
    config = CollectionConfig(
        analyzer=AnalyzerConfig(language=language(dataset)), dense=DenseConfig(model=model)
    )
    cached = cached_collection(dataset, config, cache_root("benchmark"))
    source = cached.directory
    cached.close()
    with tempfile.TemporaryDirectory(prefix="hybridir-calibration-") as tmp:
        shutil.copytree(source, Path(tmp) / "c")
        collection = Collection.open(Path(tmp) / "c")
        searcher = Searcher(collection)
        depth = 1000
        base = FusionConfig(depths=dict.fromkeys(searcher.lists(), depth))
        lists = searcher.retrieve_lists(data.queries, depth, "hybrid", base)
        qids = list(data.queries)
        rows: dict[str, dict[str, dict[str, float]]] = {}
        for name in ("bm25", "dense"):
            run = {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists[name].items()}
            rows[name] = scores(run, data.qrels, qids)
        before = FusionConfig()  # the default before this work: DBSF over every list
        rows["default"] = scores(searcher.fuse_run(lists, before, depth), data.qrels, qids)
        created = collection.config.fusion  # with the dense list left out where uncovered
        rows["created"] = scores(searcher.fuse_run(lists, created, depth), data.qrels, qids)
        result: CalibrationResult | None = None
        declined: str | None = None
        try:
            result = calibrate(collection, queries=args.queries, seed=args.seed)
        except InvalidInputError as exc:  # too few pseudo-queries: the fusion stays as created
            declined = str(exc)
        after = collection.config.fusion
        rows["calibrated"] = scores(searcher.fuse_run(lists, after, depth), data.qrels, qids)
        tuned = adaptive = None
        if not args.no_tuned:
            judged = collect(searcher, data.queries, data.qrels, dict.fromkeys(lists, depth))
            grid = tuned_grid(judged.names, depth)
            tuned = tune(judged, FusionConfig(), grid=grid).cv.learned
            convex = FusionConfig(method="convex", norm="dbsf")
            adaptive = cross_validate(
                "adaptive", collection.snapshot(), judged, FusionConfig(), base=convex
            ).learned
        source_of = collection.config.fusion_source()
        collection.close()
    means = {s: {m: float(np.mean(list(v[m].values()))) for m in METRICS} for s, v in rows.items()}
    best = max(("bm25", "dense"), key=lambda s: means[s]["ndcg@10"])
    test = randomization_test(rows[best]["ndcg@10"], rows["calibrated"]["ndcg@10"])
    below = means["calibrated"]["ndcg@10"] < means[best]["ndcg@10"] and test.p_value < 0.05
    return {
        "dataset": dataset,
        "model": model,
        "queries": len(qids),
        "means": means,
        "tuned_ndcg@10": tuned,
        "adaptive_ndcg@10": adaptive,
        "best_list": best,
        "p_vs_best_list": test.p_value,
        "significantly_below_best_list": below,
        "calibration": None if result is None else result.evidence.to_dict(),
        "declined": declined,
        "applied": result is not None and result.applied,
        "fusion_source": source_of,
    }


def render(console: Console, reports: list[dict[str, Any]]) -> None:
    table = Table(title="Calibrated default against its lists (nDCG@10 / Recall@100)")
    columns = ("dataset", "dense", "BM25", "dense list", "default", "created", "calibrated")
    for column in (*columns, "tuned", "adaptive"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    table.add_column("p vs best list", justify="right")
    table.add_column("chosen")
    table.add_column("s", justify="right")

    def cell(r: dict[str, Any], system: str) -> str:
        m = r["means"][system]
        return f"{m['ndcg@10']:.4f} / {m['recall@100']:.4f}"

    for r in reports:
        evidence = r["calibration"] or {"fusion": {"method": "declined"}, "seconds": 0.0}
        fusion = evidence["fusion"]
        chosen = f"{fusion['method']} {fusion.get('norm')} α={fusion.get('alpha')}"
        if fusion.get("weights"):
            chosen = f"{fusion['method']} {fusion.get('norm')} {fusion['weights']}"
        if r["calibration"] is None:
            chosen = "declined (too few pseudo-queries)"
        tuned = r["tuned_ndcg@10"]
        table.add_row(
            r["dataset"],
            "MiniLM" if r["model"] == MINILM else r["model"],
            cell(r, "bm25"),
            cell(r, "dense"),
            cell(r, "default"),
            cell(r, "created"),
            cell(r, "calibrated"),
            "–" if tuned is None else f"{tuned:.4f}",
            "–" if r["adaptive_ndcg@10"] is None else f"{r['adaptive_ndcg@10']:.4f}",
            f"{r['p_vs_best_list']:.3f}" + (" ▼" if r["significantly_below_best_list"] else ""),
            chosen + ("" if r["applied"] else " (kept)"),
            f"{evidence['seconds']:.0f}",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console, err = Console(), Console(stderr=True)
    reports = []
    for item in args.runs.split(","):
        dataset, _, model = item.partition(":")
        with err.status(f"{dataset} with {model}"):
            reports.append(run_dataset(dataset, model or MINILM, args))
        if args.jsonl is not None:
            with args.jsonl.open("a") as sink:
                sink.write(json.dumps(reports[-1]) + "\n")
        err.print(f"done {dataset} ({model})")
    render(console, reports)
    if args.json:
        print(json.dumps({"reports": reports, "queries": args.queries, "seed": args.seed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
