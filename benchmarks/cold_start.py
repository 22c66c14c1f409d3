"""First BM25 query in a fresh process: with an empty kernel cache, a warm one, and after
the first ``hybridir index`` of an install.

Every measurement runs in a new interpreter (this script with ``--child``) whose kernel cache
is a fresh temporary folder (``HYBRIDIR_CACHE`` and ``NUMBA_CACHE_DIR`` both point there, so
older checkouts that only know numba's variable are measured the same way). Scenarios:

* ``empty``: nothing cached: the first query of a fresh install.
* ``after_index``: ``hybridir index`` of SciFact ran first in that cache (a fresh install's
  usual first step), then the query process starts once the background warm-up that the
  index started has ended (``--settle`` seconds at most; "waited" in the table).
* ``warm``: the cache holds the compiled kernels (a previous query process filled it).

For each: import, open and first ``Searcher.search`` (k=10, default explanations and
content) in seconds, the second query in milliseconds, and which scorer answered
(``kernel``: numba; ``fallback``: the numpy stand-in while the kernels compile). ``--repeats``
runs per scenario, the median counts. ``--src`` measures another checkout (its ``src``
folder goes first on ``PYTHONPATH``); ``--python`` another interpreter (an installed wheel
in a clean venv: run this file with that venv's Python and no ``--src``).

Example:
    .venv/bin/python benchmarks/cold_start.py --repeats 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUERY = "0-dimensional biomaterials show inductive properties."
SECOND = "ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors."
SCENARIOS = ("empty", "after_index", "warm")


def child(collection: str) -> int:
    """Time a fresh process's first queries; print one JSON line."""
    start = time.perf_counter()
    from hybridir import Collection, Searcher
    from hybridir.sparse import kernels

    imported = time.perf_counter()
    searcher = Searcher(Collection.open(collection))
    opened = time.perf_counter()
    first = searcher.search(QUERY, k=10)
    answered = time.perf_counter()
    searcher.search(SECOND, k=10)
    second = time.perf_counter()
    scorer = "kernel" if getattr(kernels.score_queries, "signatures", True) else "fallback"
    out = {
        "import_s": imported - start,
        "open_s": opened - imported,
        "first_query_s": answered - opened,
        "second_query_ms": (second - answered) * 1e3,
        "scorer": scorer,
        "top_hit": first.hits[0].doc_id if first.hits else None,
    }
    print(json.dumps(out))
    return 0


class Runner:
    """Starts the child processes with one interpreter and source folder."""

    def __init__(self, python: str, src: Path | None) -> None:
        self.python = python
        self.src = src

    def env(self, cache: Path) -> dict[str, str]:
        env = {**os.environ, "HYBRIDIR_CACHE": str(cache), "NUMBA_CACHE_DIR": str(cache / "numba")}
        if self.src is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(self.src), env.get("PYTHONPATH")])
            )
        return env

    def query(self, cache: Path, collection: Path) -> dict[str, Any]:
        cmd = [self.python, str(Path(__file__).resolve()), "--child", str(collection)]
        done = subprocess.run(cmd, env=self.env(cache), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"query child failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def index(self, cache: Path, dataset: Path, collection: Path) -> float:
        """Run ``hybridir index`` (this interpreter's console script); seconds."""
        script = Path(self.python).parent / "hybridir"
        cmd = [
            str(script),
            "index",
            str(dataset),
            str(collection),
            "--overwrite",
            "--dense",
            "none",
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, env=self.env(cache), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - start


def wait_for_warmup(cache: Path, settle: float) -> float:
    """Seconds until a background warm-up in ``cache`` ends (its lock goes; at most
    ``settle``); 0 when none runs (older checkouts compile in the query process)."""
    start = time.perf_counter()
    while (cache / "numba" / "warmup.lock").exists() and time.perf_counter() - start < settle:
        time.sleep(0.1)
    return time.perf_counter() - start


def scenario(
    runner: Runner, name: str, dataset: Path, collection: Path, settle: float
) -> dict[str, Any]:
    """One run of a scenario in a fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="hybridir-cold-") as tmp:
        cache = Path(tmp)
        extra: dict[str, Any] = {}
        if name == "after_index":
            own = cache / "collection"
            extra["index_s"] = runner.index(cache, dataset, own)
            extra["waited_s"] = wait_for_warmup(cache, settle)
            return {**runner.query(cache, own), **extra}
        if name == "warm":
            runner.query(cache, collection)  # fills the cache (or starts its warm-up)
            extra["waited_s"] = wait_for_warmup(cache, settle)
            runner.query(cache, collection)  # loads what is cached, so the next one is warm
        return {**runner.query(cache, collection), **extra}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the numeric fields, the scorers seen, and every run."""
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["scorer"] = sorted({r["scorer"] for r in runs})
    out["runs"] = runs
    return out


def render(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of the medians."""
    lines = [
        "| scenario | first query (s) | import (s) | open (s) | 2nd query (ms) | scorer "
        "| index (s) | waited (s) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, r in results.items():
        index = f"{r['index_s']:.2f}" if "index_s" in r else "–"
        waited = f"{r['waited_s']:.1f}" if "waited_s" in r else "–"
        lines.append(
            f"| {name} | {r['first_query_s']:.3f} | {r['import_s']:.2f} | {r['open_s']:.3f} | "
            f"{r['second_query_ms']:.2f} | {', '.join(r['scorer'])} | {index} | {waited} |"
        )
    return "\n".join(lines)


def default_data_dir() -> Path:
    """``$HYBRIDIR_DATA`` or ``<project>/../shared/datasets``."""
    env = os.environ.get("HYBRIDIR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--python", default=sys.executable, help="interpreter of the children")
    parser.add_argument("--src", type=Path, default=None, help="a checkout's src folder to measure")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--settle", type=float, default=120.0, help="max wait for a warm-up (s)")
    parser.add_argument("--json", action="store_true", help="last stdout line: JSON results")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario ``--repeats`` times; print the table (and JSON)."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.child:
        return child(args.child)
    dataset = (args.data_dir or default_data_dir()) / "scifact"
    runner = Runner(args.python, args.src.resolve() if args.src else None)
    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="hybridir-cold-col-") as tmp:
        collection = Path(tmp) / "scifact"
        runner.index(Path(tmp) / "cache", dataset, collection)
        results = {
            name: summarize(
                [
                    scenario(runner, name, dataset, collection, args.settle)
                    for _ in range(args.repeats)
                ]
            )
            for name in args.scenarios
        }
    print(render(results))
    if args.json:
        meta = {
            "python": args.python,
            "src": str(args.src) if args.src else None,
            "repeats": args.repeats,
            "query": QUERY,
            "loadavg_1_5_15min": {"before": load_before, "after": list(os.getloadavg())},
            "command": shlex.join(["python", "benchmarks/cold_start.py", *(argv or sys.argv[1:])]),
        }
        print(json.dumps({"scenarios": results, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
