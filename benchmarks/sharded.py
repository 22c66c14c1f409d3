"""Cost of the sharded path on Ray against one in-process collection, and Ray Data encoding
against in-process encoding.

1. Per-query overhead: the same SciFact queries (k=10) through
   :class:`~hybridir.distributed.cluster.ShardedCollection` (``--shards`` shard actors on a
   local Ray cluster) and through a :class:`~hybridir.search.Searcher` over one collection
   holding the same documents and vectors; p50 / p95 of each and the p50 difference, for
   BM25 and for the hybrid (query encoding included in both). The results are checked equal.
2. Encoding throughput: ``--encode-docs`` SciFact documents encoded with MiniLM in-process
   (one model, batch 32) and with Ray Data (:func:`~hybridir.distributed.indexing.
   encode_distributed`, two encoder actors of 0.5 CPU), documents per second.

    python benchmarks/sharded.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from hybridir import Collection, CollectionConfig, Searcher
from hybridir._cache import cache_root
from hybridir.config import DenseConfig
from hybridir.dense.cache import encode_documents_cached
from hybridir.dense.encoders import make_encoder
from hybridir.distributed.cluster import ShardedCollection
from hybridir.distributed.indexing import encode_distributed
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.eval import load_beir
from hybridir.eval.datasets import read_corpus, resolve_dataset


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--encode-docs", type=int, default=1024)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def percentiles(times: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def timed(fn: Callable[[str], Any], queries: Sequence[str]) -> list[float]:
    fn(queries[0])
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    console = Console(stderr=True)
    docs = list(read_corpus(resolve_dataset(args.dataset) / "corpus.jsonl"))
    config = CollectionConfig(dense=DenseConfig())
    encoder = make_encoder(config.dense)
    with console.status("document vectors (embedding cache)"):
        vectors = encode_documents_cached(encoder, [f"{d.title} {d.text}".strip() for d in docs])
    cache_root("benchmark").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache_root("benchmark"), prefix="sharded-"))
    single = Collection.create(work / "single", config)
    single.add(docs, vectors=vectors, allow_empty=True)
    layout = ShardedLayout.create(work / "sharded", config, args.shards)
    for i, path in enumerate(layout.shard_dirs):
        rows = [r for r, d in enumerate(docs) if shard_of(d.doc_id, args.shards) == i]
        part = Collection.open(path)
        part.add([docs[r] for r in rows], vectors=vectors[rows], allow_empty=True)
        part.close()
    sharded = ShardedCollection(work / "sharded")
    searcher = Searcher(single)
    over_shards = Searcher(sharded)  # the same query path over the cluster
    data = load_beir(args.dataset)
    queries = list(data.queries.values())[: args.queries]
    result: dict[str, Any] = {
        "dataset": args.dataset,
        "shards": args.shards,
        "queries": len(queries),
    }
    for mode in ("bm25", "hybrid"):
        same = over_shards.run(data.queries, 100, retriever=mode) == searcher.run(
            data.queries, 100, retriever=mode
        )
        clear = getattr(single.encoder, "clear_cache", None)
        one: list[float] = []
        many: list[float] = []
        for _ in range(2):  # interleaved rounds, so drift hits both paths alike
            if clear:
                clear()
            one += timed(
                lambda q, m=mode: searcher.search(q, 10, retriever=m, explain=False), queries
            )
            sharded.encoder.clear_cache()  # type: ignore[attr-defined]
            many += timed(
                lambda q, m=mode: over_shards.search(q, 10, retriever=m, explain=False), queries
            )
        p50_one, p95_one = percentiles(one)
        p50_many, p95_many = percentiles(many)
        result[mode] = {
            "identical_results": same,
            "in_process_ms": [p50_one, p95_one],
            "sharded_ms": [p50_many, p95_many],
            "overhead_p50_ms": p50_many - p50_one,
        }
        console.print(f"{mode}: {result[mode]}")
    texts = [f"{d.title} {d.text}".strip() for d in docs[: args.encode_docs]]
    if not texts:  # --encode-docs 0: latency only
        if args.json:
            print(json.dumps(result))
        shutil.rmtree(work, ignore_errors=True)
        return 0
    fresh = make_encoder(DenseConfig())
    fresh.encode_documents(texts[:32])  # load and warm the model
    start = time.perf_counter()
    fresh.encode_documents(texts)
    in_process = time.perf_counter() - start
    start = time.perf_counter()
    encode_distributed(texts, DenseConfig(), work / "encode", batch_size=128)
    distributed = time.perf_counter() - start
    result["encoding"] = {
        "docs": len(texts),
        "in_process_docs_per_s": len(texts) / in_process,
        "ray_data_docs_per_s": len(texts) / distributed,
        "ray_vs_in_process": in_process / distributed,
    }
    console.print(result["encoding"])
    if args.json:
        print(json.dumps(result))
    sharded.close()
    single.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
