"""Hybrid query latency, fusion overhead, vector search at scale and encoder throughput.

Four measurements in one run; ``--json`` makes the last stdout line one JSON object.

1. **SciFact query latency.** One collection (BM25 k1=0.9 b=0.4 + all-MiniLM-L6-v2 on the
   torch backend; document vectors come from the hybridir embedding cache under
   ``$HYBRIDIR_CACHE`` when present) answers the 300 test queries one at a time through
   ``Searcher.search`` for ``bm25``, ``dense``, ``hybrid`` (the default fusion, depths bm25
   1000 / dense 100) and ``hybrid`` with explanations, on ``--threads`` threads. The hybrid
   query is also split into its parts: query encoding, BM25 retrieval (with analysis) to
   depth 1000, vector search to depth 100 and ``fuse()``.
2. **Fusion overhead.** ``fuse()`` alone on the real SciFact lists at those depths, for rrf,
   convex (min-max), dbsf and combmnz; target p50 < 1 ms.
3. **Synthetic vectors.** ``--synthetic-vectors`` unit-normalized random float32 vectors
   (dim 384, generated in batches, never stored) in a ``Flat`` (exact) and an ``HNSW32``
   ``VectorIndex``: build time, single-query latency, and HNSW recall@10 against Flat.
   Uniform random vectors are the hard case for graph indexes; recall on real embeddings
   is higher.
4. **Encoding.** Passages/s of the ONNX (fp32) and ONNX int8 backends against the
   sentence-transformers torch backend on the same ``--encode-docs`` SciFact passages (batch
   32), and dense nDCG@10 of each backend on a SciFact *subset*: every document judged for a
   test query plus the first ``--ndcg-docs`` other documents (0 = the full corpus), so each
   backend encodes the same documents. Target: ONNX >= 2x torch with nDCG@10 loss <= 0.005.

Method:
    * Latencies are wall time (``perf_counter``). The first 10 queries run untimed
      (warm-up), then each query runs ``--repeats`` times; its median counts, and p50 / p95 /
      mean are over queries. The four modes alternate query by query.
    * The encoder's query cache is cleared before every dense and hybrid query, so each one
      pays for its query encoding. Other memos (the analyzer's, the stemmer's) stay warm
      across repeats of a query, as they would for a repeated query in a server.
    * Search-time thread counts (torch, FAISS) are set to ``--threads`` for the latency
      measurements and restored afterwards; index builds and document encoding use the
      libraries' defaults (ONNX Runtime picks its own intra-op pool, one thread per core).
    * Throughput repeats alternate between backends so that load from other processes
      affects each alike; the median of ``--encode-repeats`` counts.

Example:
    HYBRIDIR_CACHE=/tmp/hcache .venv/bin/python benchmarks/hybrid_latency.py \\
        --synthetic-vectors 1000000 --encode-docs 512 --ndcg-docs 2000 --json
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import BM25Config, DenseConfig, FusionConfig
from hybridir.dense.cache import encode_documents_cached
from hybridir.dense.encoders import Encoder, SentenceTransformerEncoder
from hybridir.dense.vectors import VectorIndex
from hybridir.eval import BeirDataset, evaluate, load_beir
from hybridir.fusion import ScoredList, fuse, scored_list
from hybridir.learn.dense_fit import train_dense_table
from hybridir.query import bm25_queries, dense_queries
from hybridir.types import RankedList

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEPTHS = {"bm25": 1000, "dense": 100}
FUSION_METHODS = ("rrf", "convex", "dbsf", "combmnz")
FUSION_TARGET_MS = 1.0
ONNX_BACKENDS = ("onnx", "onnx-int8")
SPEEDUP_TARGET = 2.0
NDCG_LOSS_TARGET = 0.005
DIM = 384
K = 10
WARMUP_QUERIES = 10
MODES = {
    "bm25": ("bm25", False),
    "dense": ("dense", False),
    "hybrid": ("hybrid", False),
    "hybrid_explain": ("hybrid", True),
}
"""Timed query modes: report key → (``Searcher.search`` retriever, explain)."""
Vectors = NDArray[np.float32]


# --------------------------------------------------------------------------- timing


class Latency(NamedTuple):
    """Summary of per-query latencies in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return self._asdict()


def summarize(seconds: Sequence[float]) -> Latency:
    """p50 / p95 / mean in ms of per-query wall times given in seconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    p50, p95 = np.percentile(ms, [50, 95])
    return Latency(float(p50), float(p95), float(ms.mean()), len(ms))


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def per_item_median(items: Sequence[Any], run: Callable[[Any], float], repeats: int) -> list[float]:
    """Median over ``repeats`` of ``run(item)`` per item, after untimed runs of the first few."""
    for item in items[:WARMUP_QUERIES]:
        run(item)
    return [statistics.median(run(item) for _ in range(repeats)) for item in items]


@contextmanager
def search_threads(n: int) -> Iterator[None]:
    """Limit torch and FAISS to ``n`` threads, restoring their counts afterwards."""
    import faiss
    import torch

    torch_before, faiss_before = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        faiss.omp_set_num_threads(faiss_before)


def clear_query_cache(encoder: Encoder) -> None:
    """Empty the encoder's query LRU cache (it has no public method for that)."""
    cache = getattr(encoder, "_cache", None)
    if cache is not None:
        cache.clear()


# --------------------------------------------------------------------------- inputs


def doc_text(doc: Document) -> str:
    """What the collection encodes for a document (the same string hits the same cache row)."""
    return f"{doc.title} {doc.text}".strip()


def load_dataset(data_dir: Path | None) -> BeirDataset:
    """SciFact test split, from ``data_dir/scifact`` or by name (``$HYBRIDIR_DATA``)."""
    return load_beir(data_dir / "scifact" if data_dir else "scifact", split="test")


def first_docs(dataset: BeirDataset, limit: int) -> list[Document]:
    """The first ``limit`` corpus documents (all when ``limit`` is 0)."""
    return list(itertools.islice(dataset.corpus(), limit or None))


def first_queries(dataset: BeirDataset, limit: int) -> BeirDataset:
    """The dataset with only its first ``limit`` queries and their judgments (0 = all)."""
    qids = list(dataset.queries)[: limit or None]
    return replace(
        dataset,
        queries={q: dataset.queries[q] for q in qids},
        qrels={q: dataset.qrels[q] for q in qids if q in dataset.qrels},
    )


def ndcg_subset(dataset: BeirDataset, others: int) -> list[Document]:
    """Documents judged for a test query plus the first ``others`` others (0 = all)."""
    judged = {doc_id for per_query in dataset.qrels.values() for doc_id in per_query}
    docs: list[Document] = []
    n_other = 0
    for doc in dataset.corpus():
        if doc.doc_id in judged:
            docs.append(doc)
        elif not others or n_other < others:
            docs.append(doc)
            n_other += 1
    return docs


# --------------------------------------------------------------------------- 1. SciFact latency


def build_collection(directory: Path, docs: Sequence[Document], err: Console) -> float:
    """Index ``docs`` with BM25 + MiniLM (torch) into ``directory``; returns seconds."""
    config = CollectionConfig(
        bm25=BM25Config(k1=0.9, b=0.4), dense=DenseConfig(model=MODEL, backend="torch")
    )
    start = time.perf_counter()
    collection = Collection.create(directory, config)
    collection.add(docs, show_progress=err.is_terminal, allow_empty=True)
    collection.close()
    return time.perf_counter() - start


def search_seconds(
    searcher: Searcher, query: str, mode: str, explain: bool, fusion: FusionConfig
) -> float:
    """Wall seconds of one ``Searcher.search``, the query cache cleared first."""
    if mode != "bm25":
        clear_query_cache(cast(Collection, searcher.collection).encoder)
    return timed(
        partial(searcher.search, query, k=K, retriever=mode, fusion=fusion, explain=explain)
    )


def mode_latencies(searcher: Searcher, queries: Sequence[str], repeats: int) -> dict[str, Latency]:
    """Per-query latency of ``Searcher.search`` in every mode of :data:`MODES`.

    Modes alternate query by query, so a change in machine load hits each of them alike.
    """
    fusion = FusionConfig(depths=DEPTHS)
    for query in queries[:WARMUP_QUERIES]:
        for mode, explain in MODES.values():
            search_seconds(searcher, query, mode, explain, fusion)
    samples: dict[str, list[float]] = {key: [] for key in MODES}
    for query in queries:
        for key, (mode, explain) in MODES.items():
            runs = [search_seconds(searcher, query, mode, explain, fusion) for _ in range(repeats)]
            samples[key].append(statistics.median(runs))
    return {key: summarize(values) for key, values in samples.items()}


def hybrid_parts_once(collection: Collection, query: str, fusion: FusionConfig) -> list[float]:
    """Seconds of query encoding, BM25, vector search and fusion for one hybrid query."""
    clear_query_cache(collection.encoder)
    t0 = time.perf_counter()
    vector = dense_queries(collection, [query])  # the collection's query mode
    t1 = time.perf_counter()
    terms = bm25_queries(collection, [query])
    hits = collection.bm25.search(terms, fusion.depth("bm25"), 1)[0]
    sparse = RankedList(hits.doc_ids, hits.scores)
    t2 = time.perf_counter()
    rows, scores = collection.vectors.search(vector, fusion.depth("dense"))
    t3 = time.perf_counter()
    ids = collection.bm25.doc_ids
    dense = RankedList([ids[r] for r in rows[0]], scores[0].astype(float).tolist())
    lists = scored_lists({"bm25": sparse, "dense": dense}, fusion)
    t4 = time.perf_counter()
    fuse(lists, fusion, K)
    t5 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2, t5 - t4]


def hybrid_components(
    collection: Collection, queries: Sequence[str], repeats: int
) -> dict[str, Latency]:
    """The hybrid query split into its stages, each summarized over queries."""
    fusion = FusionConfig(depths=DEPTHS)
    names = ("query_encoding", "bm25", "vector_search", "fusion")
    for query in queries[:WARMUP_QUERIES]:
        hybrid_parts_once(collection, query, fusion)
    per_query: list[list[float]] = []
    for query in queries:
        samples = [hybrid_parts_once(collection, query, fusion) for _ in range(repeats)]
        per_query.append([statistics.median(column) for column in zip(*samples, strict=True)])
    return {name: summarize([row[i] for row in per_query]) for i, name in enumerate(names)}


def bench_latency(
    collection: Collection, queries: Sequence[str], args: argparse.Namespace, err: Console
) -> dict[str, Any]:
    """Section 1: per-query latency of every mode and the hybrid component split."""
    searcher = Searcher(collection)
    with search_threads(args.threads):
        err.print(f"… latency: {', '.join(MODES)} ({len(queries)} queries × {args.repeats})")
        gc.collect()
        latencies = mode_latencies(searcher, queries, args.repeats)
        err.print("… latency: hybrid components")
        parts = hybrid_components(collection, queries, args.repeats)
    out: dict[str, Any] = {key: lat.to_json() for key, lat in latencies.items()}
    components: dict[str, Any] = {f"{name}_ms": lat.p50_ms for name, lat in parts.items()}
    components["detail"] = {name: lat.to_json() for name, lat in parts.items()}
    components["other_mean_ms"] = out["hybrid"]["mean_ms"] - sum(p.mean_ms for p in parts.values())
    out["hybrid_components"] = components
    return out


# --------------------------------------------------------------------------- 2. fusion overhead


def scored_lists(lists: Mapping[str, RankedList], fusion: FusionConfig) -> list[ScoredList]:
    """Ranked lists cut to their fusion depth, as ``fuse()`` takes them (the Searcher's way)."""
    return [scored_list(name, ranked, fusion.depth(name)) for name, ranked in lists.items()]


def fuse_seconds(lists: Sequence[ScoredList], config: FusionConfig) -> float:
    """Wall seconds of one ``fuse()`` call, cut to the top ``K`` as ``Searcher.search`` does."""
    return timed(partial(fuse, lists, config, K))


def bench_fusion(
    collection: Collection, queries: Mapping[str, str], repeats: int, err: Console
) -> dict[str, Any]:
    """Section 2: ``fuse()`` alone on real SciFact lists at depths bm25 1000 / dense 100."""
    err.print(f"… fusion overhead: retrieving lists for {len(queries)} queries")
    searcher = Searcher(collection)
    base = FusionConfig(depths=DEPTHS)
    retrieved = searcher.retrieve_lists(queries, K, "hybrid", base)
    per_query = [
        scored_lists({name: retrieved[name][qid] for name in retrieved}, base) for qid in queries
    ]
    candidates = [len({d for sl in lists for d in sl.doc_ids}) for lists in per_query]
    out: dict[str, Any] = {}
    for method in FUSION_METHODS:
        config = FusionConfig(method=method, depths=DEPTHS)
        gc.collect()
        seconds = per_item_median(per_query, partial(fuse_seconds, config=config), repeats)
        out[method] = summarize(seconds).to_json()
    out["depths"] = dict(DEPTHS)
    out["candidates_mean"] = float(np.mean(candidates))
    out["target_p50_ms"] = FUSION_TARGET_MS
    out["pass"] = all(out[m]["p50_ms"] < FUSION_TARGET_MS for m in FUSION_METHODS)
    return out


# --------------------------------------------------------------------------- 3. synthetic


def unit_vectors(n: int, dim: int, seed: int, batch: int = 65_536) -> Vectors:
    """``n`` random unit-length float32 vectors, generated batch by batch in place."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, batch):
        block = rng.standard_normal((min(batch, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def single_query_latency(index: VectorIndex, queries: Vectors, k: int, threads: int) -> Latency:
    """Latency of one-query searches (a few untimed first)."""
    with search_threads(threads):
        for q in queries[:3]:
            index.search(q[None, :], k)
        return summarize([timed(partial(index.search, q[None, :], k)) for q in queries])


def recall_at(found: Sequence[NDArray[np.int64]], truth: Sequence[NDArray[np.int64]]) -> float:
    """Mean fraction of the exact top-k rows that the approximate search returned."""
    hits = [len(np.intersect1d(f, t)) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def build_index(vectors: Vectors, factory: str) -> tuple[VectorIndex, float]:
    """A ``VectorIndex`` and its build seconds (library-default threads)."""
    gc.collect()
    start = time.perf_counter()
    index = VectorIndex(vectors, factory)
    return index, time.perf_counter() - start


def bench_flat(
    vectors: Vectors, queries: Vectors, threads: int
) -> tuple[dict[str, Any], list[NDArray[np.int64]]]:
    """Flat index build and latency; also the exact top-10 rows of each query."""
    flat, build_s = build_index(vectors, "Flat")
    k10 = single_query_latency(flat, queries, K, threads)
    k100 = single_query_latency(flat, queries, 100, threads)
    truth, _ = flat.search(queries, K)
    report = {"build_s": build_s, **k10.to_json(), "k10": k10.to_json(), "k100": k100.to_json()}
    return report, truth


def bench_hnsw(
    vectors: Vectors, queries: Vectors, truth: list[NDArray[np.int64]], threads: int
) -> dict[str, Any]:
    """HNSW32 build, latency and recall@10 vs Flat, at the default efSearch and a sweep."""
    hnsw, build_s = build_index(vectors, "HNSW32")
    # VectorIndex has no search-time parameters; efSearch is set on its FAISS index.
    params = hnsw._index.hnsw
    default_ef = int(params.efSearch)
    sweep = []
    for ef in sorted({default_ef, 64, 256}):
        params.efSearch = ef
        latency = single_query_latency(hnsw, queries, K, threads)
        found, _ = hnsw.search(queries, K)
        sweep.append({"ef_search": ef, "recall@10": recall_at(found, truth), **latency.to_json()})
    params.efSearch = default_ef
    default = next(row for row in sweep if row["ef_search"] == default_ef)
    return {"build_s": build_s, **default, "ef_sweep": sweep}


def bench_synthetic(args: argparse.Namespace, err: Console) -> dict[str, Any]:
    """Section 3: Flat and HNSW32 over random unit vectors."""
    n, n_queries = args.synthetic_vectors, args.synthetic_queries
    err.print(f"… synthetic: generating {n:,} × {DIM} vectors ({n * DIM * 4 / 2**30:.2f} GiB)")
    vectors = unit_vectors(n, DIM, seed=args.seed)
    queries = unit_vectors(n_queries, DIM, seed=args.seed + 1)
    err.print("… synthetic: Flat")
    flat, truth = bench_flat(vectors, queries, args.threads)
    gc.collect()  # the Flat index's copy of the vectors goes before HNSW builds its own
    hnsw = None
    if args.hnsw:
        err.print("… synthetic: HNSW32 (building takes minutes at 1M vectors)")
        hnsw = bench_hnsw(vectors, queries, truth, args.threads)
    return {"n_vectors": n, "dim": DIM, "n_queries": n_queries, "flat": flat, "hnsw": hnsw}


# --------------------------------------------------------------------------- 4. encoding


def load_encoder(backend: str, batch_size: int) -> tuple[SentenceTransformerEncoder, float]:
    """An encoder and its load seconds (which include the one-time ONNX export)."""
    start = time.perf_counter()
    encoder = SentenceTransformerEncoder(MODEL, backend=backend, batch_size=batch_size)
    return encoder, time.perf_counter() - start


def throughput(
    encoders: Mapping[str, Encoder], texts: Sequence[str], repeats: int, warmup: int
) -> dict[str, float]:
    """Passages/s per backend: median over repeats that alternate between backends."""
    for encoder in encoders.values():
        encoder.encode_documents(texts[:warmup])
    samples: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(repeats):
        for name, encoder in encoders.items():
            gc.collect()
            samples[name].append(timed(partial(encoder.encode_documents, texts)))
    return {name: len(texts) / statistics.median(s) for name, s in samples.items()}


def dense_ndcg(encoder: Encoder, docs: Sequence[Document], dataset: BeirDataset) -> float:
    """nDCG@10 of exact dense retrieval over ``docs`` (vectors through the embedding cache)."""
    index = VectorIndex(encode_documents_cached(encoder, [doc_text(d) for d in docs]))
    qids = list(dataset.queries)
    rows, scores = index.search(encoder.encode_queries([dataset.queries[q] for q in qids]), 100)
    run = {
        qid: {docs[r].doc_id: float(s) for r, s in zip(row, score, strict=True)}
        for qid, row, score in zip(qids, rows, scores, strict=True)
    }
    return evaluate(run, dataset.qrels, ["ndcg@10"])["ndcg@10"]


def load_encoders(
    backends: Sequence[str], batch_size: int, err: Console
) -> tuple[dict[str, Encoder], dict[str, float], dict[str, str]]:
    """Encoders and load seconds by backend, and the error of each ONNX backend that failed."""
    encoders: dict[str, Encoder] = {}
    load_s: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in backends:
        err.print(f"… encoding: loading {name} (the first ONNX load exports the model)")
        try:
            encoders[name], load_s[name] = load_encoder(name, batch_size)
        except Exception as exc:  # report a broken backend, still measure the others
            if name == "torch":
                raise
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            err.print(f"[red]… encoding: {name} failed to load: {errors[name][:200]}[/red]")
    return encoders, load_s, errors


def compare_backends(
    rates: Mapping[str, float],
    ndcg: Mapping[str, float],
    load_s: Mapping[str, float],
    errors: Mapping[str, str],
) -> dict[str, Any]:
    """Per-backend numbers, ratios against torch and the pass/fail of each ONNX variant."""
    out: dict[str, Any] = {name: {"error": message} for name, message in errors.items()}
    for name, rate in rates.items():
        row: dict[str, Any] = {
            "passages_per_s": rate,
            "ndcg@10": ndcg[name],
            "load_s": load_s[name],
        }
        row["speedup_vs_torch"] = rate / rates["torch"]
        row["ndcg_loss_vs_torch"] = ndcg["torch"] - ndcg[name]
        if name != "torch":
            row["pass"] = bool(
                row["speedup_vs_torch"] >= SPEEDUP_TARGET
                and row["ndcg_loss_vs_torch"] <= NDCG_LOSS_TARGET
            )
        out[name] = row
    onnx = [name for name in ONNX_BACKENDS if name in rates]
    out["onnx_speedup"] = out.get("onnx", {}).get("speedup_vs_torch")
    out["onnx_int8_speedup"] = out.get("onnx-int8", {}).get("speedup_vs_torch")
    out["passing_backends"] = [name for name in onnx if out[name]["pass"]]
    out["failed_backends"] = sorted(errors)
    out["pass"] = bool(out["passing_backends"]) if onnx else None
    return out


def bench_encoding(dataset: BeirDataset, args: argparse.Namespace, err: Console) -> dict[str, Any]:
    """Section 4: torch vs ONNX vs ONNX int8 throughput and subset nDCG@10."""
    backends = ["torch"] if args.skip_onnx else ["torch", *ONNX_BACKENDS]
    encoders, load_s, errors = load_encoders(backends, args.batch_size, err)
    texts = [doc_text(d) for d in first_docs(dataset, args.encode_docs)]
    err.print(f"… encoding: {len(texts)} passages × {args.encode_repeats} per backend")
    rates = throughput(encoders, texts, args.encode_repeats, args.batch_size)
    judged = first_queries(dataset, args.ndcg_queries)
    subset = ndcg_subset(judged, args.ndcg_docs)
    ndcg = {}
    for name, encoder in encoders.items():
        err.print(f"… encoding: nDCG@10 with {name} on {len(subset)} docs")
        ndcg[name] = dense_ndcg(encoder, subset, judged)
    out = compare_backends(rates, ndcg, load_s, errors)
    out["n_passages"] = len(texts)
    out["batch_size"] = args.batch_size
    out["ndcg_subset"] = {
        "n_docs": len(subset),
        "other_docs": args.ndcg_docs,
        "n_queries": len(judged.queries),
        "full_corpus": args.ndcg_docs == 0,
        "description": subset_description(args.ndcg_docs, len(subset), len(judged.queries)),
    }
    out["targets"] = {"speedup": SPEEDUP_TARGET, "ndcg_loss": NDCG_LOSS_TARGET}
    return out


def subset_description(others: int, n_docs: int, n_queries: int) -> str:
    queries = f"{n_queries} SciFact test queries"
    if not others:
        return f"nDCG@10 of {queries} on the full corpus ({n_docs} docs)"
    return (
        f"nDCG@10 of {queries} on a SciFact SUBSET of {n_docs} docs: every doc judged for "
        f"those queries plus the first {others} other corpus docs (not comparable to "
        "full-corpus nDCG@10)"
    )


# --------------------------------------------------------------------------- report


def latency_row(table: Table, label: str, lat: Mapping[str, Any]) -> None:
    table.add_row(label, f"{lat['p50_ms']:.2f}", f"{lat['p95_ms']:.2f}", f"{lat['mean_ms']:.2f}")


def latency_table(title: str) -> Table:
    table = Table(title=title)
    table.add_column("what")
    for column in ("p50 ms", "p95 ms", "mean ms"):
        table.add_column(column, justify="right")
    return table


def render_scifact(console: Console, report: Mapping[str, Any]) -> None:
    table = latency_table(
        f"SciFact per-query latency ({report['n_docs']} docs, {report['n_queries']} queries, "
        f"{report['threads']} thread(s), k={K})"
    )
    for key in ("bm25", "dense", "hybrid", "hybrid_explain"):
        latency_row(table, key, report[key])
    for name, lat in report["hybrid_components"]["detail"].items():
        latency_row(table, f"  hybrid: {name}", lat)
    console.print(table)


def render_fusion(console: Console, report: Mapping[str, Any]) -> None:
    table = latency_table(
        f"fuse() alone, depths {report['depths']}, "
        f"{report['candidates_mean']:.0f} candidates/query on average"
    )
    for method in FUSION_METHODS:
        latency_row(table, method, report[method])
    table.caption = f"target p50 < {FUSION_TARGET_MS} ms: {verdict(report['pass'])}"
    console.print(table)


def render_synthetic(console: Console, report: Mapping[str, Any]) -> None:
    table = Table(title=f"Synthetic {report['n_vectors']:,} × {report['dim']} unit vectors")
    for column in ("index", "build s", "k", "p50 ms", "p95 ms", "recall@10"):
        table.add_column(column, justify="right" if column != "index" else "left")
    flat = report["flat"]
    for k in (10, 100):
        lat = flat[f"k{k}"]
        build = f"{flat['build_s']:.1f}" if k == 10 else ""
        table.add_row("Flat", build, str(k), f"{lat['p50_ms']:.2f}", f"{lat['p95_ms']:.2f}", "1")
    if report["hnsw"] is not None:
        hnsw = report["hnsw"]
        for i, row in enumerate(hnsw["ef_sweep"]):
            table.add_row(
                f"HNSW32 efSearch={row['ef_search']}",
                f"{hnsw['build_s']:.1f}" if i == 0 else "",
                "10",
                f"{row['p50_ms']:.2f}",
                f"{row['p95_ms']:.2f}",
                f"{row['recall@10']:.3f}",
            )
    console.print(table)


def render_encoding(console: Console, report: Mapping[str, Any]) -> None:
    table = Table(title=f"Encoding {report['n_passages']} SciFact passages, batch 32")
    for column in ("backend", "passages/s", "× torch", "nDCG@10", "loss", "pass"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for name in ("torch", *ONNX_BACKENDS):
        if name not in report:
            continue
        row = report[name]
        if "error" in row:
            table.add_row(name, "failed to load", "", "", "", "FAIL")
            continue
        table.add_row(
            name,
            f"{row['passages_per_s']:.1f}",
            f"{row['speedup_vs_torch']:.2f}",
            f"{row['ndcg@10']:.4f}",
            f"{row['ndcg_loss_vs_torch']:+.4f}",
            verdict(row["pass"]) if "pass" in row else "",
        )
    table.caption = (
        f"{report['ndcg_subset']['description']}. Target: some ONNX backend >= "
        f"{SPEEDUP_TARGET}x torch with nDCG@10 loss <= {NDCG_LOSS_TARGET}: "
        f"{verdict(report['pass'])}"
    )
    console.print(table)


def verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "not measured"}[passed]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def meta(argv: Sequence[str], load_before: list[float], args: argparse.Namespace) -> dict[str, Any]:
    """Versions, machine, settings and system load (other processes skew timings)."""
    import torch

    packages = ("hybridir", "numpy", "torch", "sentence-transformers", "faiss-cpu")
    versions: dict[str, str | None] = {p: metadata.version(p) for p in packages}
    for optional in ("onnxruntime", "optimum-onnx"):
        try:
            versions[optional] = metadata.version(optional)
        except metadata.PackageNotFoundError:
            versions[optional] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "search_threads": args.threads,
        "default_torch_threads": torch.get_num_threads(),
        "model": MODEL,
        "command": shlex.join(["python", "benchmarks/hybrid_latency.py", *argv]),
        "timing": "per query: median of --repeats after warm-up; p50/p95/mean over queries",
        "loadavg_1_5_15min": {"before": load_before, "after": list(os.getloadavg())},
    }


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--data-dir", type=Path, default=None, help="folder holding scifact/ (else by name)")
    add("--scifact-limit", type=int, default=0, help="index only the first N docs (0 = all)")
    add("--latency-queries", type=int, default=0, help="time only the first N queries (0 = all)")
    add("--repeats", type=int, default=3, help="timed runs per query (median counts)")
    add("--threads", type=int, default=1, help="torch / FAISS threads while timing queries")
    add(
        "--dense-query",
        choices=["encoder", "table"],
        default="encoder",
        help="dense query vectors from MiniLM, or from a dense-table fitted on the collection",
    )
    add("--synthetic-vectors", type=int, default=1_000_000, help="0 skips section 3")
    add("--synthetic-queries", type=int, default=200)
    add("--hnsw", action=argparse.BooleanOptionalAction, default=True, help="build HNSW32")
    add("--encode-docs", type=int, default=512, help="passages timed per backend; 0 skips 4")
    add("--encode-repeats", type=int, default=3)
    add("--batch-size", type=int, default=32)
    add("--ndcg-docs", type=int, default=2000, help="non-judged docs in the nDCG subset; 0 = all")
    add("--ndcg-queries", type=int, default=0, help="first N test queries for nDCG (0 = all)")
    add("--skip-onnx", action="store_true", help="encode with torch only (no ONNX export)")
    add("--seed", type=int, default=13)
    add("--json", action="store_true", help="print one JSON object as the last stdout line")
    return parser


def run_scifact(
    dataset: BeirDataset, args: argparse.Namespace, err: Console
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sections 1 and 2 over one temporary SciFact collection."""
    docs = first_docs(dataset, args.scifact_limit)
    qids = list(dataset.queries)[: args.latency_queries or None]
    queries = {qid: dataset.queries[qid] for qid in qids}
    with tempfile.TemporaryDirectory(prefix="hybridir-latency-") as tmp:
        err.print(f"… SciFact: indexing {len(docs)} docs (vectors from the embedding cache)")
        index_s = build_collection(Path(tmp) / "scifact", docs, err)
        collection = Collection.open(Path(tmp) / "scifact")
        fit_s = None
        try:
            if args.dense_query == "table":
                err.print("… fitting the dense query table (issue 16)")
                start = time.perf_counter()
                train_dense_table(collection, docs, show_progress=err.is_terminal)
                fit_s = time.perf_counter() - start
            scifact = bench_latency(collection, list(queries.values()), args, err)
            fusion = bench_fusion(collection, queries, args.repeats, err)
        finally:
            collection.close()
    scifact.update(n_docs=len(docs), n_queries=len(queries), threads=args.threads)
    scifact.update(index_s=index_s, repeats=args.repeats, depths=dict(DEPTHS))
    scifact.update(dense_query=args.dense_query, table_fit_s=fit_s)
    return scifact, fusion


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    load_before = list(os.getloadavg())
    out, err = Console(), Console(stderr=True)
    dataset = load_dataset(args.data_dir)
    scifact, fusion = run_scifact(dataset, args, err)
    render_scifact(out, scifact)
    render_fusion(out, fusion)
    synthetic = None
    if args.synthetic_vectors:
        synthetic = bench_synthetic(args, err)
        render_synthetic(out, synthetic)
    encoding = None
    if args.encode_docs:
        encoding = bench_encoding(dataset, args, err)
        render_encoding(out, encoding)
    if args.json:
        report = {
            "scifact": scifact,
            "fusion_overhead": fusion,
            "synthetic": synthetic,
            "encoding": encoding,
            "meta": meta(argv, load_before, args),
        }
        print(json.dumps(report, allow_nan=False, default=finite))
    return 0


def finite(value: object) -> object:
    """JSON fallback for numpy scalars."""
    if isinstance(value, np.generic):
        item = value.item()
        return None if isinstance(item, float) and not math.isfinite(item) else item
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
