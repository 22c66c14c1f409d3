"""The reference's simple fusions (``../shared/REFERENCE.md``) rebuilt, and hybridir's default
hybrid tested against them with a paired randomization test.

The reference fuses bm25s lists (method lucene, stopwords "en", PyStemmer english, title + " "
+ text, top 1000) with all-MiniLM-L6-v2: RRF (k = 60, 1-based ranks) and a min-max convex
combination (α = 0.5, a document missing from a list counts 0). Both fusions are written here
independently of hybridir's fusion code, over each of the two bm25s lists (k1 0.9 / b 0.4 and
1.2 / 0.75), so the table shows which list the reference's numbers come from. hybridir's dense
and default hybrid runs come from ``hybridir evaluate --save-run`` (the same MiniLM vectors).

Usage:
    python benchmarks/reference_fusion.py [--datasets cacm,medline] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hybridir.eval.datasets import load_beir, resolve_dataset
from hybridir.eval.metrics import evaluate_per_query
from hybridir.eval.significance import randomization_test
from hybridir.eval.trec import read_run

Run = dict[str, dict[str, float]]
DATASETS = ("scifact", "cranfield", "cacm", "medline", "adi")
SETTINGS = ((0.9, 0.4), (1.2, 0.75))
METRIC = "ndcg@10"


def bm25s_run(dataset: str, k1: float, b: float) -> Run:
    """The reference's BM25 list: bm25s 0.3.16 as REFERENCE.md describes it."""
    import bm25s
    import Stemmer

    data = load_beir(dataset)
    with open(Path(resolve_dataset(dataset)) / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    ids = [d["_id"] for d in docs]
    texts = [(d.get("title") or "") + " " + (d.get("text") or "") for d in docs]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(method="lucene", k1=k1, b=b)
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    qids = list(data.queries)
    tokens = bm25s.tokenize(
        [data.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    found, scores = retriever.retrieve(tokens, k=min(1000, len(ids)), show_progress=False)
    return {
        q: {ids[int(j)]: float(s) for j, s in zip(found[i], scores[i], strict=True) if s > 0}
        for i, q in enumerate(qids)
    }


def convex(a: Run, b: Run, alpha: float = 0.5) -> Run:
    """Min-max normalized convex combination; a document missing from a list counts 0."""
    out: Run = {}
    for q in set(a) | set(b):
        fused: dict[str, float] = {}
        for run, weight in ((a, 1 - alpha), (b, alpha)):
            hits = run.get(q, {})
            if not hits:
                continue
            lo, hi = min(hits.values()), max(hits.values())
            for doc, score in hits.items():
                norm = (score - lo) / (hi - lo) if hi > lo else 0.0
                fused[doc] = fused.get(doc, 0.0) + weight * norm
        out[q] = fused
    return out


def rrf(a: Run, b: Run, k: int = 60) -> Run:
    """Reciprocal rank fusion (Cormack et al. 2009), 1-based ranks; ties in a list ranked
    by doc id descending, as trec_eval orders them."""
    out: Run = {}
    for q in set(a) | set(b):
        fused: dict[str, float] = {}
        for run in (a, b):
            ranked = sorted(run.get(q, {}).items(), key=lambda t: (t[1], t[0]), reverse=True)
            for rank, (doc, _) in enumerate(ranked, 1):
                fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
        out[q] = fused
    return out


def hybridir_run(dataset: str, retriever: str, folder: Path) -> Run:
    """A run of ``hybridir evaluate`` with the defaults and MiniLM."""
    path = folder / f"{dataset}-{retriever}.run"
    command = [
        sys.executable, "-m", "hybridir.cli", "evaluate", dataset, "--retriever", retriever,
        "--dense-model", "all-MiniLM-L6-v2", "--language", "en", "--save-run", str(path), "--json",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return {q: dict(hits) for q, hits in read_run(path).items()}


def measure(dataset: str, folder: Path) -> dict[str, Any]:
    """nDCG@10 of every list and fusion on ``dataset``, and the paired test of hybridir's
    default hybrid against the best reference fusion."""
    qrels = load_beir(dataset).qrels
    dense = hybridir_run(dataset, "dense", folder)
    runs: dict[str, Run] = {
        "MiniLM": dense,
        "hybridir hybrid (DBSF)": hybridir_run(dataset, "hybrid", folder),
    }
    for k1, b in SETTINGS:
        lexical = bm25s_run(dataset, k1, b)
        runs[f"bm25s {k1}/{b}"] = lexical
        runs[f"RRF of bm25s {k1}/{b}"] = rrf(lexical, dense)
        runs[f"convex of bm25s {k1}/{b}"] = convex(lexical, dense)
    per_query = {
        name: evaluate_per_query(run, qrels, [METRIC])[METRIC] for name, run in runs.items()
    }
    means = {name: sum(v.values()) / len(v) for name, v in per_query.items()}
    fusions = [n for n in runs if n.startswith(("RRF", "convex"))]
    best = max(fusions, key=lambda n: (means[n], n))
    test = randomization_test(per_query["hybridir hybrid (DBSF)"], per_query[best], seed=0)
    return {"dataset": dataset, METRIC: means, "best_reference": best, "p": test.p_value}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(d, Path(tmp)) for d in args.datasets.split(",")]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"\n{row['dataset']} ({METRIC})")
        for name, value in row[METRIC].items():
            print(f"  {name:28s} {value:.4f}")
        gap = row[METRIC]["hybridir hybrid (DBSF)"] - row[METRIC][row["best_reference"]]
        print(f"  hybridir − {row['best_reference']}: {gap:+.4f}, p = {row['p']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
