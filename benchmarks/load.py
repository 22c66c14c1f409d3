"""Load on a real ``hybridir serve`` (loopback only): hybrid search throughput and latency at
several concurrencies, then again while documents are being added through the API.

Starts the server on 127.0.0.1 over a SciFact collection (BM25 + MiniLM; built on first use
into ``--work``, embeddings from the cache), sends ``--requests`` searches per concurrency
level from that many client threads, and reports requests/s, p50 and p99 latency and the
error count; the "while writing" rows run the same load while a writer posts batches of
documents. Bounded in count and time.

    python benchmarks/load.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from hybridir import Collection, CollectionConfig
from hybridir.config import DenseConfig
from hybridir.eval import load_beir

KEY = "load-benchmark-key"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--retriever", default="hybrid", choices=["bm25", "dense", "hybrid"])
    parser.add_argument(
        "--dense-query",
        default="encoder",
        choices=["encoder", "table"],
        help="dense query vectors from the transformer, or from a dense-table fitted on first use",
    )
    parser.add_argument("--workers", type=int, default=1, help="hybridir serve --workers")
    parser.add_argument(
        "--http", default="auto", choices=["auto", "httptools", "h11"], help="hybridir serve --http"
    )
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--requests", type=int, default=300, help="searches per level")
    parser.add_argument("--write-batch", type=int, default=20)
    parser.add_argument("--work", type=Path, default=None, help="keep the collection here")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    return parser.parse_args(argv)


def build(name: str, work: Path, retriever: str, dense_query: str, err: Console) -> Path:
    from hybridir.eval.datasets import read_corpus, resolve_dataset

    suffix = "-table" if dense_query == "table" and retriever != "bm25" else ""
    path = work / f"{name}-{retriever}{suffix}"
    if not (path / "manifest.json").is_file():
        dense = None if retriever == "bm25" else DenseConfig()
        col = Collection.create(path, CollectionConfig(dense=dense))
        with err.status(f"indexing {name}"):
            col.add(read_corpus(resolve_dataset(name) / "corpus.jsonl"), allow_empty=True)
        col.close()
        if suffix:  # the user's way: ``hybridir train COLLECTION --model dense-table``
            train = [sys.executable, "-m", "hybridir.cli", "train", str(path)]
            subprocess.run([*train, "--model", "dense-table"], check=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    collection: Path, keys: Path, workers: int, http: str = "auto"
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "hybridir.cli", "serve", str(collection), "--port", str(port)]
    cmd += ["--workers", str(workers)] + (["--http", http] if http != "auto" else [])
    proc = subprocess.Popen(
        [*cmd, "--api-key-file", str(keys)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("the server did not start")


def run_level(
    base: str, name: str, queries: list[str], concurrency: int, n: int, retriever: str
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n))

    def client() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in counter:
                body = {"query": queries[i % len(queries)], "k": 10, "retriever": retriever}
                start = time.perf_counter()
                try:
                    ok = http.post(f"/collections/{name}/search", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    errors += not ok

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "requests": len(ordered),
        "rps": len(ordered) / wall,
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3,
        "errors": errors,
    }


def writer(
    base: str, name: str, batch: int, stop: threading.Event, out: dict[str, int], tag: str
) -> None:
    with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": KEY}) as http:
        b = 0
        while not stop.is_set():
            docs = [
                {"id": f"load-{tag}-{b}-{i}", "text": f"synthetic document {b} {i} about cells"}
                for i in range(batch)
            ]
            r = http.post(f"/collections/{name}/documents", json={"documents": docs})
            out["batches"] += 1
            out["errors"] += r.status_code != 200
            b += 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console, err = Console(), Console(stderr=True)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    queries = list(load_beir(args.dataset, split="test").queries.values())
    with tempfile.TemporaryDirectory(prefix="hybridir-load-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = build(args.dataset, work, args.retriever, args.dense_query, err)
        served = Path(tmp) / "served" / source.name  # writes must not touch the kept copy
        import shutil

        shutil.copytree(source, served)
        (Path(tmp) / "keys").write_text(KEY + "\n")
        proc, base = start_server(served, Path(tmp) / "keys", args.workers, args.http)
        name = served.name
        try:
            run_level(base, name, queries, 2, 20, args.retriever)  # warm up
            quiet = [
                run_level(base, name, queries, c, args.requests, args.retriever) for c in levels
            ]
            writing = []
            for c in levels:
                stop, stats = threading.Event(), {"batches": 0, "errors": 0}
                thread = threading.Thread(
                    target=writer, args=(base, name, args.write_batch, stop, stats, f"c{c}")
                )
                thread.start()
                row = run_level(base, name, queries, c, args.requests, args.retriever)
                stop.set()
                thread.join()
                writing.append(
                    {**row, "write_batches": stats["batches"], "write_errors": stats["errors"]}
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    how = f", dense queries: {args.dense_query}" if args.retriever != "bm25" else ""
    table = Table(
        title=f"{args.retriever} search over HTTP ({args.dataset}{how}, "
        f"{args.workers} worker(s), --http {args.http}, loopback, 2 cores)"
    )
    for column in ("load", "concurrency", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column)
    for label, rows in (("search only", quiet), ("while adding", writing)):
        for r in rows:
            errors = r["errors"] + r.get("write_errors", 0)
            table.add_row(
                label,
                str(r["concurrency"]),
                f"{r['rps']:.1f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                str(errors),
            )
    console.print(table)
    if args.json:
        report = {"retriever": args.retriever, "dense_query": args.dense_query}
        report["workers"] = args.workers
        report["http"] = args.http
        print(json.dumps({**report, "quiet": quiet, "writing": writing}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
