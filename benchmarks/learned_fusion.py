"""Fusion learned from relevance judgments against fixed fusion, and what it costs per query.

Trains on one dataset's judged split (SciFact ``train`` by default) and reports on its
``test`` split: BM25, dense, default RRF, the hybridir default (DBSF), the tuned fusion
(cross-validated grid), learned rescoring, adaptive α next to the best fixed α of the same
normalization, and the collaborative reranker, with paired randomization tests against
default RRF. The SciFact-trained models are then applied unchanged to other collections
(``--transfer``), as a user would apply them to their own data, and the latency each
learned step adds per query is measured on the test queries (p50/p95).

    python benchmarks/learned_fusion.py --json
    python benchmarks/learned_fusion.py --transfer cranfield,cacm,medline --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import DenseConfig, FusionConfig
from hybridir.eval import evaluate_per_query, load_beir, randomization_test
from hybridir.eval.datasets import BeirDataset
from hybridir.learn.data import collect
from hybridir.learn.dataset import TrainingSet
from hybridir.learn.models import load_model
from hybridir.learn.store import StoredModel, save_model
from hybridir.learn.train import fit, train_collaborative
from hybridir.learn.tune import simplify, tune
from hybridir.types import RankedList, Run

METRICS = ["ndcg@10", "recall@100", "mrr@10"]
BASELINE = "rrf (default)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="scifact", help="dataset whose judgments train")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--test-split", default="test")
    parser.add_argument("--transfer", default="", help="datasets to apply the models to")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="keep collections here")
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument(
        "--allow-same-split",
        action="store_true",
        help="train and report on the same split (smoke tests only: optimistic numbers)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def open_collection(name: str, work: Path, model: str, err: Console) -> Collection:
    """The dataset's BM25 + dense collection (built on first use; embeddings cached)."""
    from hybridir.eval.datasets import read_corpus, resolve_dataset

    path = work / name.replace("/", "-")
    if (path / "manifest.json").is_file():
        return Collection.open(path)
    err.print(f"indexing {name} …")
    collection = Collection.create(path, CollectionConfig(dense=DenseConfig(model=model)))
    collection.add(
        read_corpus(resolve_dataset(name) / "corpus.jsonl"), show_progress=True, allow_empty=True
    )
    return collection


def per_query_scores(run: Run, data: BeirDataset) -> dict[str, dict[str, float]]:
    return evaluate_per_query(run, data.qrels, METRICS)


def summarize(runs: Mapping[str, Run], data: BeirDataset) -> dict[str, dict[str, Any]]:
    """Mean metrics per system and the randomization p of nDCG@10 against default RRF."""
    scored = {name: per_query_scores(run, data) for name, run in runs.items()}
    base = scored[BASELINE]["ndcg@10"]
    out = {}
    for name, values in scored.items():
        row: dict[str, Any] = {m: statistics.fmean(values[m].values()) for m in METRICS}
        if name != BASELINE:
            row["p_vs_rrf"] = randomization_test(base, values["ndcg@10"]).p_value
        out[name] = row
    return out


class Trained:
    """What training on the source dataset produced."""

    def __init__(self) -> None:
        self.tuned: FusionConfig = FusionConfig()
        self.models: dict[str, StoredModel] = {}
        self.fixed_alpha: FusionConfig = FusionConfig()
        self.notes: dict[str, Any] = {}


def train_all(collection: Collection, training: TrainingSet, folds: int, err: Console) -> Trained:
    out = Trained()
    default = collection.config.fusion
    with err.status("tuning fusion (grid × cross-validation)"):
        result = tune(training, default, n_folds=folds)
    out.tuned = simplify(result.best, training.names)
    out.notes["tune_cv"] = result.cv._asdict()
    out.notes["tuned"] = out.tuned.to_dict()
    for kind in ("rescore", "adaptive"):
        with err.status(f"training {kind}"):
            out.models[kind] = fit(kind, collection, training, default)
    adaptive: Any = out.models["adaptive"]
    out.fixed_alpha = adaptive.base  # the best fixed α of the adaptive model's normalizer
    out.notes["fixed_alpha"] = adaptive.base.to_dict()
    with err.status("training the collaborative reranker"):
        out.models["collaborative"] = train_collaborative(Searcher(collection), training)
    return out


def install(collection: Collection, trained: Trained) -> dict[str, str]:
    """Store the trained models in ``collection``; returns their names."""
    return {kind: save_model(collection.models_dir, m) for kind, m in trained.models.items()}


def system_runs(
    collection: Collection, data: BeirDataset, trained: Trained, names: Mapping[str, str]
) -> dict[str, Run]:
    searcher = Searcher(collection)
    queries = data.queries
    depth = 1000
    lists = searcher.retrieve_lists(queries, depth, "hybrid", FusionConfig())
    runs: dict[str, Run] = {
        "bm25": {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists["bm25"].items()},
        "dense": {
            q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in lists["dense"].items()
        },
    }

    def fused(config: FusionConfig) -> Run:
        return searcher.fuse_run(lists, config, depth, queries)

    runs[BASELINE] = fused(FusionConfig(method="rrf"))
    runs["dbsf (hybridir default)"] = fused(FusionConfig())
    runs["tuned fusion"] = fused(trained.tuned)
    runs["fixed tuned α"] = fused(trained.fixed_alpha)
    for kind in ("rescore", "adaptive"):
        model: Any = trained.models[kind]
        config = FusionConfig(method=kind, depths=model.depths, model=names[kind])
        runs[f"{kind} (learned)"] = fused(config)
    collab = load_model(collection.models_dir, names["collaborative"])
    reranking = Searcher(collection, reranker=collab)  # type: ignore[arg-type]
    runs["collaborative rerank"] = reranking.run(queries, 100)
    return runs


def latencies(
    collection: Collection, data: BeirDataset, names: Mapping[str, str], limit: int
) -> dict[str, dict[str, float]]:
    """Per-query milliseconds of the fuse step (fixed vs learned) and of reranking, on
    lists retrieved beforehand (100 + 100 candidates for the learned methods)."""
    searcher = Searcher(collection)
    queries = dict(list(data.queries.items())[:limit])
    lists = searcher.retrieve_lists(queries, 1000, "hybrid", FusionConfig())
    rescore: Any = load_model(collection.models_dir, names["rescore"])
    configs = {
        "dbsf fusion (1000+1000)": FusionConfig(),
        "rescore (50+50)": FusionConfig(
            method="rescore", depths={"bm25": 50, "dense": 50}, model=names["rescore"]
        ),
        "rescore (100+100)": FusionConfig(
            method="rescore", depths=rescore.depths, model=names["rescore"]
        ),
        "adaptive α (1000+1000)": FusionConfig(method="adaptive", model=names["adaptive"]),
    }
    out = {}
    for label, config in configs.items():
        out[label] = _timed(
            queries, lists, lambda q, one, c=config: searcher.fuse_lists(queries[q], one, c, 10)
        )
        out[label]["candidates"] = statistics.median(
            len({d for name, r in lists.items() for d in r[q].doc_ids[: config.depth(name)]})
            for q in queries
        )
    collab: Any = load_model(collection.models_dir, names["collaborative"])
    reranking = Searcher(collection, reranker=collab)
    times = []
    for text in queries.values():
        result = reranking.search(text, 10, explain=False)
        times.append(result.timings["rerank"] / 1e3)
    out["collaborative rerank (50)"] = _percentiles(times)
    return out


def _timed(
    queries: Mapping[str, str],
    lists: Mapping[str, Mapping[str, RankedList]],
    fn: Callable[[str, dict[str, RankedList]], object],
) -> dict[str, float]:
    times = []
    for q in queries:
        one = {name: per_query[q] for name, per_query in lists.items()}
        fn(q, one)  # warm (model load, numba, caches)
        start = time.perf_counter()
        for _ in range(3):
            fn(q, one)
        times.append((time.perf_counter() - start) / 3)
    return _percentiles(times)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": statistics.median(ordered) * 1e3,
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3,
    }


def render(console: Console, title: str, rows: Mapping[str, Mapping[str, Any]]) -> None:
    table = Table(title=title)
    table.add_column("system")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    table.add_column("p vs RRF (nDCG@10)", justify="right")
    for name, row in rows.items():
        p = row.get("p_vs_rrf")
        table.add_row(name, *(f"{row[m]:.4f}" for m in METRICS), "" if p is None else f"{p:.3g}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console, err = Console(), Console(stderr=True)
    if args.train_split == args.test_split and not args.allow_same_split:
        err.print("error: training and test splits are the same; pass --allow-same-split")
        return 2
    with tempfile.TemporaryDirectory(prefix="hybridir-learned-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = open_collection(args.train, work, args.model, err)
        train = load_beir(args.train, split=args.train_split)
        test = load_beir(args.train, split=args.test_split)
        searcher = Searcher(source)
        with err.status(f"retrieving {len(train.queries)} training queries"):
            training = collect(searcher, train.queries, train.qrels, {"bm25": 1000, "dense": 1000})
        start = time.perf_counter()
        trained = train_all(source, training, args.folds, err)
        train_seconds = time.perf_counter() - start
        names = install(source, trained)
        report: dict[str, Any] = {
            "train": f"{args.train}/{args.train_split} ({len(training.qids)} judged queries)",
            "test": f"{args.train}/{args.test_split}",
            "training_seconds": train_seconds,
            "notes": trained.notes,
            "results": {args.train: summarize(system_runs(source, test, trained, names), test)},
            "latency": latencies(source, test, names, args.latency_queries),
        }
        for name in (n for n in args.transfer.split(",") if n.strip()):
            target = open_collection(name, work, args.model, err)
            data = load_beir(name, split="test")
            report["results"][name] = summarize(
                system_runs(target, data, trained, install(target, trained)), data
            )
    for dataset, rows in report["results"].items():
        render(console, f"{dataset} (test); trained on {report['train']}", rows)
    lat = Table(title="fuse / rerank step per query (ms), lists retrieved beforehand")
    for column in ("step", "median candidates", "p50", "p95"):
        lat.add_column(column)
    for label, value in report["latency"].items():
        count = value.get("candidates")
        lat.add_row(
            label,
            "" if count is None else f"{count:.0f}",
            f"{value['p50_ms']:.3f}",
            f"{value['p95_ms']:.3f}",
        )
    console.print(lat)
    console.print(f"tuned: {json.dumps(trained.notes['tuned'])}")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
