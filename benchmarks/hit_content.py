"""What hit content costs: search latency with bare hits, the default fields, and snippets.

On a BM25 collection of SciFact (5,183 abstracts, the default analyzer and BM25), the test
queries run through ``Searcher.search`` at ``k`` = 10 and 100 with:

* ``bare``: ``fields=()`` (hits as before content existed);
* ``default``: ``fields=("title", "text", "metadata")`` (the library default);
* ``snippet``: ``fields=("title", "snippet")`` (what the CLI table and the web page show);
* ``grouped``: ``fields=()`` with ``group_by="document"`` (SciFact has no passages, so this
  is the cost of reading the parent field and grouping, with one round).

Method: the first ``--warmup`` queries run untimed; then every query runs ``--repeats``
times per setting, settings alternating query by query so that load from other processes
affects each alike. A query's median counts; the table gives p50 / p95 over queries of the
whole search and the p50 of the ``content`` stage (``SearchResult.timings``), in ms, and the
p50 of that stage on each query's first run: snippets memoise the index terms of the words
they meet (per Searcher), so a repeat finds every word analysed, a first run only those
earlier queries met.
``--json`` makes the last stdout line one JSON object.

Example:
    .venv/bin/python benchmarks/hit_content.py --collection /tmp/scifact-bm25 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from hybridir import Collection, Searcher
from hybridir.eval import load_beir
from hybridir.eval.readers import read_corpus

DATASET = Path("/work/shared/datasets/scifact")
SETTINGS: dict[str, dict[str, Any]] = {
    "bare": {"fields": ()},
    "default": {"fields": ("title", "text", "metadata")},
    "snippet": {"fields": ("title", "snippet")},
    "grouped": {"fields": (), "group_by": "document"},
}
"""Search keyword arguments of each measured setting."""


class Cell(NamedTuple):
    """One (k, setting) measurement, in milliseconds."""

    p50: float
    p95: float
    content_p50: float
    content_first_p50: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self._asdict().items()}


def open_or_build(folder: Path, dataset: Path) -> Collection:
    """The BM25 collection of ``dataset`` in ``folder`` (built there on first use)."""
    if (folder / "manifest.json").is_file():
        return Collection.open(folder)
    collection = Collection.create(folder)
    collection.add(list(read_corpus(dataset / "corpus.jsonl")), allow_empty=True)
    return collection


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by linear interpolation."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def measure(searcher: Searcher, queries: Sequence[str], k: int, repeats: int) -> dict[str, Cell]:
    """Per setting: p50/p95 over queries of each query's median latency, and the content
    stage's p50."""
    total: dict[str, list[float]] = {name: [] for name in SETTINGS}
    content: dict[str, list[float]] = {name: [] for name in SETTINGS}
    first: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for query in queries:
        for name, kwargs in SETTINGS.items():
            runs, stages = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                result = searcher.search(query, k, **kwargs)
                runs.append((time.perf_counter() - start) * 1e3)
                stages.append(result.timings.get("content", 0.0))
            total[name].append(statistics.median(runs))
            content[name].append(statistics.median(stages))
            first[name].append(stages[0])
    return {
        name: Cell(
            percentile(total[name], 0.5),
            percentile(total[name], 0.95),
            percentile(content[name], 0.5),
            percentile(first[name], 0.5),
        )
        for name in SETTINGS
    }


def render(results: Mapping[int, Mapping[str, Cell]]) -> Table:
    table = Table(title="search latency by hit content (ms)")
    table.add_column("k", justify="right")
    for column in ("setting", "p50", "p95", "content p50", "content 1st run", "p50 vs bare"):
        table.add_column(column, justify="right")
    for k, cells in results.items():
        bare = cells["bare"].p50
        for name, cell in cells.items():
            table.add_row(
                str(k),
                name,
                f"{cell.p50:.2f}",
                f"{cell.p95:.2f}",
                f"{cell.content_p50:.2f}",
                f"{cell.content_first_p50:.2f}",
                f"{cell.p50 - bare:+.2f}",
            )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--collection", type=Path, default=Path("/tmp/hybridir-scifact-bm25"))
    parser.add_argument("--queries", type=int, default=300, help="Test queries used.")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    collection = open_or_build(args.collection, args.dataset)
    searcher = Searcher(collection, retriever="bm25")
    queries = list(load_beir(args.dataset).queries.values())[: args.queries]
    for query in queries[: args.warmup]:
        for kwargs in SETTINGS.values():
            searcher.search(query, max(args.k), **kwargs)
    results = {k: measure(searcher, queries, k, args.repeats) for k in args.k}
    Console(stderr=True).print(render(results))
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": str(args.dataset),
                    "documents": len(collection),
                    "queries": len(queries),
                    "repeats": args.repeats,
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "results": {
                        str(k): {name: cell.to_json() for name, cell in cells.items()}
                        for k, cells in results.items()
                    },
                }
            )
        )
    collection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
