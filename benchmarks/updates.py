"""Live-collection writes: add throughput, query speed after many small adds, bulk delete.

1. Add throughput (documents/s, BM25 collection) for batches of 1, 100 and 10,000 SciFact
   abstracts (repeated with new ids when the corpus runs out), each batch one transaction.
2. Query throughput (BM25, SciFact test queries, 1 thread) after 1,000 single-document adds
   on top of the rest of the corpus, against a fresh build of the same documents; the
   ratio must stay within 20% (segments are merged as the policy says, no optimize).
3. Time to delete 1% of a large synthetic collection (``--large-docs``, default 1M
   documents of ~60 Zipf-distributed tokens) in one transaction.

    python benchmarks/updates.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hybridir import Collection, Document, Searcher
from hybridir.eval import load_beir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--batches", default="1,100,10000", help="batch sizes to time")
    parser.add_argument("--small-adds", type=int, default=1000)
    parser.add_argument("--large-docs", type=int, default=1_000_000)
    parser.add_argument("--delete-share", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3, help="query timing repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def corpus(name: str, n: int) -> list[Document]:
    """``n`` documents from the dataset, cycling with fresh ids when it runs out."""
    base = list(load_beir(name, split="test").corpus())
    return [
        Document(
            f"{base[i % len(base)].doc_id}-{i}", base[i % len(base)].text, base[i % len(base)].title
        )
        for i in range(n)
    ]


def add_throughput(name: str, sizes: list[int], work: Path) -> dict[str, float]:
    """Documents per second when adding in batches of each size (median of the batches)."""
    out = {}
    for size in sizes:
        rounds = max(1, min(20, 20_000 // size))
        docs = corpus(name, size * (rounds + 1))
        col = Collection.create(work / f"add-{size}")
        col.add(docs[:size], allow_empty=True)  # a non-empty collection to add to
        rates = []
        for r in range(1, rounds + 1):
            batch = docs[r * size : (r + 1) * size]
            start = time.perf_counter()
            col.add(batch, allow_empty=True)
            rates.append(size / (time.perf_counter() - start))
        out[str(size)] = statistics.median(rates)
        col.close()
    return out


def query_rate(col: Collection, queries: dict[str, str], repeats: int) -> float:
    searcher = Searcher(col, "bm25")
    searcher.run(queries, 10)  # warm: numba, weights, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        searcher.run(queries, 10)
        times.append(time.perf_counter() - start)
    return len(queries) / statistics.median(times)


def after_small_adds(name: str, n_small: int, repeats: int, work: Path) -> dict[str, Any]:
    data = load_beir(name, split="test")
    docs = list(data.corpus())
    live = Collection.create(work / "live")
    live.add(docs[:-n_small], allow_empty=True)
    start = time.perf_counter()
    for doc in docs[-n_small:]:
        live.add([doc], allow_empty=True)
    seconds = time.perf_counter() - start
    fresh = Collection.create(work / "fresh")
    fresh.add(docs, allow_empty=True)
    live_rate = query_rate(live, data.queries, repeats)
    fresh_rate = query_rate(fresh, data.queries, repeats)
    same = Searcher(live, "bm25").run(data.queries, 10) == Searcher(fresh, "bm25").run(
        data.queries, 10
    )
    segments = len(live.manifest.segments)
    # The merge policy cycles between 2 and max_segments segments: also time the worst point.
    extra = [Document(f"extra-{i}", d.text, d.title) for i, d in enumerate(docs[:50])]
    for doc in extra:
        if len(live.manifest.segments) == live.max_segments:
            break
        live.add([doc])
    worst_rate = query_rate(live, data.queries, repeats)
    return {
        "small_adds": n_small,
        "small_adds_per_s": n_small / seconds,
        "segments": segments,
        "live_qps": live_rate,
        "fresh_qps": fresh_rate,
        "ratio": live_rate / fresh_rate,
        "identical_runs": same,
        "worst_segments": len(live.manifest.segments),
        "worst_qps": worst_rate,
        "worst_ratio": worst_rate / fresh_rate,
    }


def synthetic(n: int, seed: int = 0) -> list[Document]:
    """Documents of ~60 tokens drawn from a Zipf vocabulary (as in bm25_speed.py)."""
    rng = np.random.default_rng(seed)
    vocab = np.asarray([f"t{i}" for i in range(200_000)])
    lengths = rng.integers(30, 90, size=n)
    tokens = np.minimum(rng.zipf(1.2, size=int(lengths.sum())) - 1, len(vocab) - 1)
    words = vocab[tokens]
    out, pos = [], 0
    for i, length in enumerate(lengths.tolist()):
        out.append(Document(f"s{i}", " ".join(words[pos : pos + length].tolist())))
        pos += length
    return out


def bulk_delete(n_docs: int, share: float, work: Path, err: Console) -> dict[str, Any]:
    from hybridir.config import AnalyzerConfig, CollectionConfig

    # Synthetic tokens are not English: no stemming or stopwords, as in bm25_speed.py.
    config = CollectionConfig(analyzer=AnalyzerConfig(stemmer="none", stopwords="none"))
    col = Collection.create(work / "large", config)
    with err.status(f"building a {n_docs:,}-document collection"):
        start = time.perf_counter()
        col.add(synthetic(n_docs))
        build = time.perf_counter() - start
    rng = np.random.default_rng(1)
    victims = [f"s{i}" for i in rng.choice(n_docs, size=int(n_docs * share), replace=False)]
    start = time.perf_counter()
    col.delete(victims)
    seconds = time.perf_counter() - start
    assert len(col) == n_docs - len(victims)
    return {"docs": n_docs, "deleted": len(victims), "seconds": seconds, "build_seconds": build}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console, err = Console(), Console(stderr=True)
    sizes = [int(s) for s in args.batches.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="hybridir-updates-") as tmp:
        work = Path(tmp)
        with err.status("timing adds"):
            adds = add_throughput(args.dataset, sizes, work)
        with err.status(f"{args.small_adds} single-document adds"):
            small = after_small_adds(args.dataset, args.small_adds, args.repeats, work)
        delete = bulk_delete(args.large_docs, args.delete_share, work, err)
    table = Table(title="live collection writes (BM25, 1 thread)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for size, rate in adds.items():
        table.add_row(f"add, batches of {int(size):,} (docs/s)", f"{rate:,.0f}")
    table.add_row(
        f"{small['small_adds']} single adds (docs/s)", f"{small['small_adds_per_s']:,.1f}"
    )
    table.add_row("segments after them", str(small["segments"]))
    table.add_row("queries/s after them", f"{small['live_qps']:,.0f}")
    table.add_row("queries/s, fresh build", f"{small['fresh_qps']:,.0f}")
    table.add_row("ratio (target ≥ 0.80)", f"{small['ratio']:.2f}")
    table.add_row("identical runs", str(small["identical_runs"]))
    table.add_row(
        f"ratio at {small['worst_segments']} segments (the policy's most)",
        f"{small['worst_ratio']:.2f}",
    )
    table.add_row(
        f"delete {delete['deleted']:,} of {delete['docs']:,} docs (s)", f"{delete['seconds']:.2f}"
    )
    console.print(table)
    if args.json:
        print(json.dumps({"add_docs_per_s": adds, "after_small_adds": small, "delete": delete}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
