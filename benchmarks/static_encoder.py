"""The static encoder (``static:all-MiniLM-L6-v2``) against the MiniLM it is distilled from.

Three measurements in one run; ``--json`` makes the last stdout line one JSON object.

1. **Speed.** Documents/s of the static encoder and of all-MiniLM-L6-v2 (sentence-transformers,
   torch backend, batch 32) on the same first ``--speed-docs`` SciFact documents (title and
   abstract, as a collection encodes them), called directly (no embedding cache). Rounds
   alternate the encoders so that load from other processes affects both alike; MiniLM runs
   once per round, the static encoder ``--static-inner`` times; the median counts. Also the
   static encoder's single-query latency (p50 / p95 over the SciFact test queries).
2. **Quality.** On each dataset (test split), two collections with the default BM25 (k1 =
   1.2, b = 0.75): one with MiniLM (document vectors from the hybridir embedding cache when
   present), one with the static encoder. Every list is retrieved to depth 1000 and fused
   by the default fusion (``FusionConfig()``: DBSF) through ``Searcher.fuse_run``, as
   ``benchmarks/hybrid_quality.py`` does. ``kept`` is the share of the MiniLM hybrid's gain
   over BM25 that the static hybrid keeps: (hybrid_static - bm25) / (hybrid_minilm - bm25).
   The same lists are also fused by RRF and by convex combinations with a small weight on
   the dense list (:data:`FUSIONS`), for both encoders; those rows are fixed settings for
   comparison, not tuned on held-out queries.
3. **Size.** Bytes of each collection's vector files, and of each model on disk.

The static model is distilled on first use into the hybridir cache (about a minute on two
cores; ``distill_seconds`` is 0 when it was already there).

Example:
    .venv/bin/python benchmarks/static_encoder.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.config import DenseConfig, FusionConfig
from hybridir.dense.encoders import Encoder, SentenceTransformerEncoder, resolve_model
from hybridir.dense.static import StaticEncoder
from hybridir.eval import evaluate, load_beir

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
STATIC = "static:all-MiniLM-L6-v2"
DATASETS = "scifact,cranfield,cacm,medline,adi"
METRICS = ["ndcg@10", "recall@100"]
DEPTH = 1000
FUSIONS = {
    "hybrid": FusionConfig(),
    "rrf": FusionConfig(method="rrf"),
    "convex α=0.2": FusionConfig(method="convex", alpha=0.2),
    "convex α=0.3": FusionConfig(method="convex", alpha=0.3),
}
"""Fused runs by label: the default hybrid (DBSF), then comparison settings."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DATASETS, help="comma-separated; '' skips")
    parser.add_argument("--speed-docs", type=int, default=2000, help="0 skips the speed part")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (MiniLM once each)")
    parser.add_argument("--static-inner", type=int, default=5, help="static runs per round")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def folder_bytes(path: Path, match: Callable[[Path], bool] = lambda p: True) -> int:
    """Total size of the files under ``path`` that ``match`` accepts."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and match(p))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed(
    static: Encoder, minilm: Encoder, args: argparse.Namespace, err: Console
) -> dict[str, Any]:
    """Documents/s of both encoders on the same SciFact documents (medians of alternating runs)."""
    data = load_beir("scifact", split="test")
    docs = [d for _, d in zip(range(args.speed_docs), data.corpus(), strict=False)]
    texts = [f"{d.title} {d.text}".strip() for d in docs]
    static.encode_documents(texts[:64])  # warm-up: first-call costs are not throughput
    minilm.encode_documents(texts[:64])
    minilm_s: list[float] = []
    static_s: list[float] = []
    for round_ in range(args.rounds):
        err.print(f"  speed round {round_ + 1}/{args.rounds}")
        minilm_s.append(timed(lambda: minilm.encode_documents(texts)))
        static_s.extend(
            timed(lambda: static.encode_documents(texts)) for _ in range(args.static_inner)
        )
    queries = list(data.queries.values())
    latency = sorted(timed(partial(static.encode_queries, [q])) for q in queries)
    minilm_rate = len(texts) / statistics.median(minilm_s)
    static_rate = len(texts) / statistics.median(static_s)
    return {
        "docs": len(texts),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "minilm_seconds": minilm_s,
        "static_seconds": static_s,
        "minilm_docs_per_s": minilm_rate,
        "static_docs_per_s": static_rate,
        "speedup": static_rate / minilm_rate,
        "static_query_ms_p50": 1000 * latency[len(latency) // 2],
        "static_query_ms_p95": 1000 * latency[int(0.95 * (len(latency) - 1))],
    }


def lists_and_sizes(
    name: str, dense: DenseConfig, err: Console
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Scores of bm25, dense and each of :data:`FUSIONS` on one dataset, and the sizes."""
    data = load_beir(name, split="test")
    with tempfile.TemporaryDirectory(prefix="hybridir-static-") as tmp:
        start = time.perf_counter()
        collection = Collection.create(Path(tmp) / "c", CollectionConfig(dense=dense))
        collection.add(list(data.corpus()), show_progress=err.is_terminal, allow_empty=True)
        index_s = time.perf_counter() - start
        searcher = Searcher(collection)
        lists = searcher.retrieve_lists(data.queries, DEPTH, "hybrid", FusionConfig())
        runs = {
            n: {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in per.items()}
            for n, per in lists.items()
        }
        for label, fusion in FUSIONS.items():
            runs[label] = searcher.fuse_run(lists, fusion, DEPTH)
        vectors = folder_bytes(collection.directory, lambda p: "vectors" in p.parts)
        sizes = {"docs": len(collection), "index_seconds": index_s, "vector_bytes": vectors}
        collection.close()
    scores = {n: evaluate(run, data.qrels, METRICS) for n, run in runs.items()}
    return scores, sizes | {"queries": len(data.qrels)}


def quality(name: str, err: Console) -> dict[str, Any]:
    """nDCG@10 / Recall@100 of BM25, each dense list and each fusion, and the kept shares."""
    err.print(f"… {name}: MiniLM")
    minilm, minilm_sizes = lists_and_sizes(name, DenseConfig(model=MODEL), err)
    err.print(f"… {name}: static")
    static, static_sizes = lists_and_sizes(name, DenseConfig(model=STATIC), err)
    results = {"bm25": static["bm25"]}
    for label in ("dense", *FUSIONS):
        results[f"{label}_minilm"] = minilm[label]
        results[f"{label}_static"] = static[label]
    bm25 = results["bm25"]
    kept = {
        label: {m: (static[label][m] - bm25[m]) / (minilm[label][m] - bm25[m]) for m in METRICS}
        for label in FUSIONS
    }
    return {
        "results": results,
        "kept": kept,
        "bm25_identical": minilm["bm25"] == static["bm25"],
        "minilm": minilm_sizes,
        "static": static_sizes,
    }


def quality_table(reports: dict[str, Any]) -> Table:
    names = list(reports)
    out = Table(title="nDCG@10 (default BM25; hybrid = DBSF, the default; depth 1000)")
    out.add_column("system")
    for name in names:
        out.add_column(name, justify="right")
    out.add_column("mean", justify="right")
    for label in ("bm25", "dense", *FUSIONS):
        for system in [label] if label == "bm25" else [f"{label}_minilm", f"{label}_static"]:
            values = [reports[n]["results"][system]["ndcg@10"] for n in names]
            out.add_row(system, *(f"{v:.4f}" for v in values), f"{statistics.mean(values):.4f}")
        if label in FUSIONS:
            kept = [reports[n]["kept"][label]["ndcg@10"] for n in names]
            mean = statistics.mean(kept)
            out.add_row(f"{label} kept", *(f"{v:.0%}" for v in kept), f"{mean:.0%}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, err = Console(), Console(stderr=True)
    start = time.perf_counter()
    static = StaticEncoder(STATIC, source=resolve_model(MODEL))
    distill_s = time.perf_counter() - start
    report: dict[str, Any] = {
        "model_bytes": {
            "static": folder_bytes(static.path),
            "minilm": folder_bytes(Path(resolve_model(MODEL))),
        },
        "static_dim": static.dim,
        "static_model": static.path.name,
        "distill_seconds": distill_s,
    }
    if args.speed_docs:
        minilm = SentenceTransformerEncoder(MODEL)
        report["speed"] = speed(static, minilm, args, err)
        s = report["speed"]
        out.print(
            f"speed on {s['docs']} SciFact docs: MiniLM {s['minilm_docs_per_s']:.1f} docs/s, "
            f"static {s['static_docs_per_s']:.0f} docs/s ({s['speedup']:.0f}x); static query "
            f"p50 {s['static_query_ms_p50']:.3f} ms"
        )
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    report["datasets"] = {name: quality(name, err) for name in datasets}
    if datasets:
        out.print(quality_table(report["datasets"]))
    report["meta"] = {
        "command": shlex.join(sys.argv),
        "model2vec": metadata.version("model2vec"),
        "torch_threads": _torch_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report))
    return 0


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


if __name__ == "__main__":
    sys.exit(main())
