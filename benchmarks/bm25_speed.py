"""hybridir vs bm25s: BM25 indexing speed, query throughput and index-build memory.

Both engines score Lucene BM25 (k1=0.9, b=0.4) on SciFact (5,183 docs, 300 test queries,
title + " " + text) and on a synthetic Zipfian corpus generated in memory, never stored
(``--synthetic-docs``, default 1,000,000 documents, 10,000 queries). One table per corpus
shows each metric for hybridir and bm25s and the ratio hybridir ÷ bm25s.

Method:
    * Each timing runs once untimed (numba compilation, lazily allocated buffers; index
      builds warm up on a slice of the corpus), then ``--repeats`` times; the median counts.
    * What a timing does not cover (tokens, encoded queries, id lists) is built before the
      clock starts. State that would make later repeats cheaper (hybridir's analyzer memo,
      PyStemmer's cache, bm25s's vocabulary, which ``index`` mutates) is rebuilt per repeat,
      also outside the clock.
    * hybridir's index step ends when the index can answer: it includes the posting weights
      and search structures ``BM25Index`` computes lazily on first search (forced with one
      empty query).
    * bm25s gets its cheapest accepted inputs: a ``Tokenized(ids, vocab)`` (lists of Python
      ints) to index, lists of index-vocabulary ids to retrieve (it filters them against its
      vocabulary per query), and ``return_ids=False`` tokens when tokenization is timed.
    * Tokenize + retrieve, hybridir: ``Analyzer.term_ids`` (the batch analysed straight to
      term ids) → ``BM25Index.encode`` → ``search_encoded``; bm25s: ``bm25s.tokenize`` →
      ``retrieve``. Both start each repeat with an empty analyzer state (a new
      ``Analyzer``; a new PyStemmer), so every distinct word is stemmed again.
    * Peak memory of the index step: each engine builds in its own child process (this
      script with the hidden ``--worker`` flag) after loading its input and warming up; the
      peak resident set during the build (Linux ``VmHWM``, reset through
      ``/proc/self/clear_refs``) minus the resident set just before it.
    * ``--runs N`` runs all of it in N fresh processes, one after the other, and reports
      each ratio per run with its median and minimum: on a shared machine a ratio moves
      more from process to process (where memory lands, what the neighbours do) than
      between the repeats of one process.

Example:
    .venv/bin/python benchmarks/bm25_speed.py --synthetic-docs 200000 --repeats 3 --json
    .venv/bin/python benchmarks/bm25_speed.py --synthetic-docs 0 --skip-memory --runs 5 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from hybridir import Analyzer, BM25Config
from hybridir.sparse.index import BM25Index, QueryBatch
from hybridir.sparse.postings import build_from_ids, build_from_terms
from hybridir.sparse.warmup import warm_kernels

K1 = 0.9
B = 0.4
WARMUP_DOCS = 1_000
THREADS = (1, 2)
P = TypeVar("P")
R = TypeVar("R")
Hits = tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]
Build = Callable[[], object]


# --------------------------------------------------------------------------- inputs


class TextCorpus(NamedTuple):
    """SciFact documents (title + " " + text) and its test queries."""

    doc_ids: list[str]
    texts: list[str]
    queries: list[str]


class SciFactTokens(NamedTuple):
    """Both engines' tokens of SciFact, made before any clock starts."""

    h_docs: list[list[str]]
    h_queries: list[list[str]]
    b_docs: Any  # bm25s.tokenization.Tokenized
    b_queries: list[list[str]]


class SyntheticSpec(NamedTuple):
    """Shape of the synthetic corpus (MS MARCO-like lengths, Zipfian vocabulary)."""

    n_docs: int
    n_queries: int = 10_000
    seed: int = 13
    n_terms: int = 500_000
    zipf_s: float = 1.1
    mean_length: float = 60.0
    length_sigma: float = 0.5
    query_terms: tuple[int, int] = (2, 8)
    skip_top: int = 100


class SyntheticCorpus(NamedTuple):
    """Flat token term ids with offsets, for documents and for queries."""

    term_ids: NDArray[np.int32]
    doc_ptr: NDArray[np.int64]
    query_ids: NDArray[np.int32]
    query_ptr: NDArray[np.int64]
    n_terms: int


class SyntheticInputs(NamedTuple):
    """Per-engine forms of the synthetic corpus, built outside the clock."""

    terms: list[str]
    doc_ids: list[str]
    b_docs: list[list[int]]
    vocab: dict[str, int]
    h_queries: list[list[str]]
    b_queries: list[list[int]]


def load_scifact(folder: Path, limit: int) -> TextCorpus:
    """SciFact corpus (first ``limit`` docs when ``limit`` > 0) and its 300 test queries."""
    doc_ids: list[str] = []
    texts: list[str] = []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if limit and len(doc_ids) >= limit:
                break
            row = json.loads(line)
            doc_ids.append(str(row["_id"]))
            texts.append(f"{row.get('title', '')} {row['text']}")
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        test_qids = {line.split("\t", 1)[0] for line in list(fh)[1:] if line.strip()}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    queries = [str(r["text"]) for r in rows if str(r["_id"]) in test_qids]
    return TextCorpus(doc_ids, texts, queries)


def zipf_cdf(n_terms: int, s: float) -> NDArray[np.float64]:
    """CDF of the rank distribution p(r) ∝ 1 / r^s over ranks 1..n_terms (Zipf's law)."""
    cdf = np.cumsum(np.arange(1, n_terms + 1, dtype=np.float64) ** -s)
    cdf /= cdf[-1]
    return cdf


def sample_ranks(
    rng: np.random.Generator, cdf: NDArray[np.float64], n: int, floor: float = 0.0
) -> NDArray[np.int32]:
    """``n`` 0-based ranks drawn from ``cdf`` restricted to ``u >= floor`` (inverse CDF).

    Drawn in chunks so a 60M-token corpus never holds 60M float64 uniforms at once.
    """
    out = np.empty(n, dtype=np.int32)
    chunk = 1 << 22
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        u = floor + (1.0 - floor) * rng.random(stop - start)
        out[start:stop] = np.searchsorted(cdf, u, side="right")
    np.minimum(out, cdf.shape[0] - 1, out=out)
    return out


def generate_synthetic(spec: SyntheticSpec) -> SyntheticCorpus:
    """A seeded synthetic corpus; vectorised, no per-token Python.

    Lengths are log-normal with mean ``mean_length`` (MS MARCO passages average ~60 tokens).
    Term ids are Zipf ranks under a random permutation, so frequency does not follow id order.
    Queries draw from the same law with the ``skip_top`` most frequent (stopword-like) ranks
    cut off.
    """
    rng = np.random.default_rng(spec.seed)
    cdf = zipf_cdf(spec.n_terms, spec.zipf_s)
    perm = rng.permutation(spec.n_terms).astype(np.int32)
    mu = np.log(spec.mean_length) - spec.length_sigma**2 / 2
    lengths = np.maximum(1, np.rint(rng.lognormal(mu, spec.length_sigma, spec.n_docs)))
    doc_ptr = np.zeros(spec.n_docs + 1, dtype=np.int64)
    np.cumsum(lengths.astype(np.int64), out=doc_ptr[1:])
    term_ids = perm[sample_ranks(rng, cdf, int(doc_ptr[-1]))]
    lo, hi = spec.query_terms
    q_lengths = rng.integers(lo, hi + 1, size=spec.n_queries)
    query_ptr = np.zeros(spec.n_queries + 1, dtype=np.int64)
    np.cumsum(q_lengths, out=query_ptr[1:])
    floor = float(cdf[spec.skip_top - 1])
    query_ids = perm[sample_ranks(rng, cdf, int(query_ptr[-1]), floor)]
    return SyntheticCorpus(term_ids, doc_ptr, query_ids, query_ptr, spec.n_terms)


def id_lists(flat: NDArray[np.int32], ptr: NDArray[np.int64], n_terms: int) -> list[list[int]]:
    """Per-document lists of Python ints (bm25s's input form).

    Every list refers to one shared int object per term id: at 60M tokens that saves ~1.7 GB
    over ``tolist()``, which would box each token separately.
    """
    tokens = np.arange(n_terms, dtype=object)[flat].tolist()
    bounds = ptr.tolist()
    return [tokens[bounds[d] : bounds[d + 1]] for d in range(len(bounds) - 1)]


def synthetic_inputs(corpus: SyntheticCorpus) -> SyntheticInputs:
    """Term strings, doc ids and the bm25s id lists for a synthetic corpus."""
    terms = [f"t{i}" for i in range(corpus.n_terms)]
    b_queries = id_lists(corpus.query_ids, corpus.query_ptr, corpus.n_terms)
    return SyntheticInputs(
        terms=terms,
        doc_ids=[f"d{i}" for i in range(corpus.doc_ptr.shape[0] - 1)],
        b_docs=id_lists(corpus.term_ids, corpus.doc_ptr, corpus.n_terms),
        vocab={t: i for i, t in enumerate(terms)},
        h_queries=[[terms[i] for i in q] for q in b_queries],
        b_queries=b_queries,
    )


def bm25s_tokenize(texts: Sequence[str], stemmer: Any, return_ids: bool) -> Any:
    """bm25s's own tokenizer: English stopwords, PyStemmer "english"."""
    import bm25s  # type: ignore[import-untyped]

    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=stemmer, return_ids=return_ids, show_progress=False
    )


def new_stemmer() -> Any:
    """A fresh PyStemmer (its word cache would otherwise carry over between repeats)."""
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize_scifact(corpus: TextCorpus) -> SciFactTokens:
    """hybridir's analyzer terms and bm25s's tokens for documents and queries."""
    analyzer = Analyzer()
    stemmer = new_stemmer()
    return SciFactTokens(
        h_docs=analyzer.analyze_many(corpus.texts),
        h_queries=analyzer.analyze_many(corpus.queries),
        b_docs=bm25s_tokenize(corpus.texts, stemmer, return_ids=True),
        b_queries=bm25s_tokenize(corpus.queries, stemmer, return_ids=False),
    )


# --------------------------------------------------------------------------- engines


def hybridir_index(postings_fn: Callable[[], Any]) -> BM25Index:
    """An index ready to answer queries.

    ``BM25Index`` derives posting weights (and any other search structure) lazily on first
    search; one empty query forces all of it, so it counts as indexing, not as retrieval.
    """
    index = BM25Index(postings_fn(), BM25Config(variant="lucene", k1=K1, b=B))
    _ = index.weights
    index.search_encoded(index.encode([[]]), 1, 1)
    return index


def hybridir_from_terms(docs: Sequence[Sequence[str]], doc_ids: Sequence[str]) -> BM25Index:
    return hybridir_index(lambda: build_from_terms(docs, doc_ids))


def hybridir_from_texts(
    analyzer: Analyzer, texts: Sequence[str], doc_ids: Sequence[str]
) -> BM25Index:
    """Index of ``texts`` analysed as a batch (term ids, never per-token strings)."""
    found = analyzer.term_ids(texts)
    return hybridir_index(lambda: build_from_ids(found.ids, found.ptr, found.terms, doc_ids))


def hybridir_from_ids(
    corpus: SyntheticCorpus, terms: Sequence[str], doc_ids: Sequence[str], n_docs: int
) -> BM25Index:
    """Index of the first ``n_docs`` synthetic documents."""
    ptr = corpus.doc_ptr[: n_docs + 1]
    flat = corpus.term_ids[: int(ptr[-1])]
    return hybridir_index(lambda: build_from_ids(flat, ptr, terms, doc_ids[:n_docs]))


def new_bm25s() -> Any:
    """An empty bm25s retriever, numba backend, Lucene BM25."""
    import bm25s

    return bm25s.BM25(method="lucene", k1=K1, b=B, backend="numba")


def bm25s_tokenized(ids: list[list[int]], vocab: dict[str, int]) -> Any:
    """``Tokenized(ids, vocab)`` with a vocabulary copy (``index`` adds "" to it)."""
    from bm25s.tokenization import Tokenized  # type: ignore[import-untyped]

    return Tokenized(ids=ids, vocab=dict(vocab))


def bm25s_index(prepared: tuple[Any, Any]) -> Any:
    retriever, corpus = prepared
    retriever.index(corpus, show_progress=False)
    return retriever


def h_search(index: BM25Index, k: int, threads: int) -> Callable[[QueryBatch], Hits]:
    def run(batch: QueryBatch) -> Hits:
        return index.search_encoded(batch, k, threads)

    return run


def h_search_text(
    index: BM25Index, queries: list[str], k: int, threads: int
) -> Callable[[Analyzer], Hits]:
    def run(analyzer: Analyzer) -> Hits:
        # The batch analysed to term ids, which the index looks up once per distinct term.
        return index.search_encoded(index.encode(analyzer.term_ids(queries)), k, threads)

    return run


def b_search(retriever: Any, k: int, threads: int) -> Callable[[Any], Any]:
    def run(queries: Any) -> Any:
        return retriever.retrieve(
            queries, k=k, n_threads=threads, backend_selection="numba", show_progress=False
        )

    return run


def b_search_text(retriever: Any, queries: list[str], k: int, threads: int) -> Callable[[Any], Any]:
    search = b_search(retriever, k, threads)

    def run(stemmer: Any) -> Any:
        return search(bm25s_tokenize(queries, stemmer, return_ids=False))

    return run


# --------------------------------------------------------------------------- measuring


def _timed(run: Callable[[P], R], arg: P) -> tuple[float, R]:
    gc.collect()
    start = time.perf_counter()
    out = run(arg)
    return time.perf_counter() - start, out


def measure(
    run: Callable[[P], R],
    prepare: Callable[[], P],
    repeats: int,
    warmup: Build | None = None,
) -> tuple[float, R]:
    """Median wall seconds of ``run(prepare())`` over ``repeats`` (>= 1), and the last output.

    ``prepare`` runs outside the clock; one untimed ``warmup`` (default: a full run) first.
    """
    if warmup is None:
        run(prepare())
    else:
        warmup()
    seconds, out = _timed(run, prepare())
    times = [seconds]
    for _ in range(repeats - 1):
        arg = prepare()
        del out  # the previous output must not hold memory during the next run
        seconds, out = _timed(run, arg)
        times.append(seconds)
    return statistics.median(times), out


@dataclass
class CorpusReport:
    """Every number measured on one corpus."""

    name: str
    info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(
        self,
        key: str,
        label: str,
        unit: str,
        hybridir: float,
        bm25s: float,
        tantivy: float | None = None,
    ) -> None:
        """One metric, higher is better; ``ratio`` is hybridir ÷ bm25s, ``tantivy_ratio``
        hybridir ÷ tantivy where tantivy was measured."""
        self.metrics[key] = {
            "label": label,
            "unit": unit,
            "hybridir": hybridir,
            "bm25s": bm25s,
            "ratio": hybridir / bm25s if bm25s > 0 else None,
            "tantivy": tantivy,
            "tantivy_ratio": hybridir / tantivy if tantivy else None,
        }

    def ratio(self, key: str) -> float | None:
        metric = self.metrics.get(key)
        return None if metric is None else metric["ratio"]

    def to_json(self) -> dict[str, Any]:
        return {
            "qps_ratio": self.ratio("qps_k10_t1"),
            "qps_ratio_2threads": self.ratio("qps_k10_t2"),
            "index_ratio": self.ratio("index_docs_per_s"),
            "index_tok_ratio": self.ratio("index_tok_docs_per_s"),
            "qps_tok_ratio": self.ratio("qps_tok_k10_t1"),
            "memory_ratio": self.ratio("index_peak_mib"),
            "qps_ratios": {k: m["ratio"] for k, m in self.metrics.items() if k.startswith("qps")},
            **self.info,
            "metrics": self.metrics,
            "agreement": self.agreement,
        }


@dataclass(frozen=True)
class Bench:
    """Run settings shared by every measurement."""

    repeats: int
    memory: bool
    worker_argv: list[str]
    err: Console
    latency: bool = True

    def say(self, message: str) -> None:
        self.err.print(f"[dim]…[/] {message}")


def top10_agreement(h_out: Hits, b_out: Any) -> dict[str, float]:
    """How far two top-10 lists agree, per query, over documents with a positive score.

    ``equal_scores`` counts queries whose sorted score lists match (rtol 1e-4): where the sets
    still differ, the difference is a tie broken differently.
    """
    rows, scores, counts = h_out
    b_docs, b_scores = np.asarray(b_out.documents), np.asarray(b_out.scores)
    n = len(counts)
    identical = equal = 0
    overlap = 0.0
    for q in range(n):
        keep = b_scores[q] > 0
        mine, theirs = set(rows[q, : counts[q]].tolist()), set(b_docs[q][keep].tolist())
        identical += mine == theirs
        overlap += len(mine & theirs) / max(len(mine), len(theirs), 1)
        a, b = np.sort(scores[q, : counts[q]]), np.sort(b_scores[q][keep])
        equal += a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-6))
    return {
        "queries": n,
        "identical_top10": identical / max(n, 1),
        "mean_overlap": overlap / max(n, 1),
        "equal_scores": equal / max(n, 1),
    }


# --------------------------------------------------------------------------- memory worker


def _status_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def _maxrss_kib() -> int:
    scale = 1 if sys.platform != "darwin" else 1024  # macOS reports bytes
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale)


def measure_peak(build: Build) -> dict[str, Any]:
    """Resident-memory growth of ``build()`` in this process, in MiB."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        exact = True
    except OSError:
        exact = False
    base = _status_kib("VmRSS") if exact else _maxrss_kib()
    index = build()
    peak = _status_kib("VmHWM") if exact else _maxrss_kib()
    retained = _status_kib("VmRSS") - base if exact else None
    del index
    method = (
        "VmHWM after reset via /proc/self/clear_refs, minus VmRSS before the build"
        if exact
        else "ru_maxrss after minus ru_maxrss before the build (a lower bound)"
    )
    return {
        "baseline_mib": base / 1024,
        "peak_mib": (peak - base) / 1024,
        "retained_mib": None if retained is None else retained / 1024,
        "method": method,
    }


def _worker_scifact(args: argparse.Namespace, system: str) -> tuple[Build, Build]:
    corpus = load_scifact(args.data_dir / "scifact", args.scifact_limit)
    if system == "hybridir":
        docs = Analyzer().analyze_many(corpus.texts)
        return (
            lambda: hybridir_from_terms(docs, corpus.doc_ids),
            lambda: hybridir_from_terms(docs[:WARMUP_DOCS], corpus.doc_ids[:WARMUP_DOCS]),
        )
    tok = bm25s_tokenize(corpus.texts, new_stemmer(), return_ids=True)
    small = bm25s_tokenized(tok.ids[:WARMUP_DOCS], tok.vocab)
    full = bm25s_tokenized(tok.ids, tok.vocab)
    return lambda: bm25s_index((new_bm25s(), full)), lambda: bm25s_index((new_bm25s(), small))


def _worker_synthetic(args: argparse.Namespace, system: str) -> tuple[Build, Build]:
    corpus = generate_synthetic(synthetic_spec(args))
    n_docs = corpus.doc_ptr.shape[0] - 1
    if system == "hybridir":
        terms = [f"t{i}" for i in range(corpus.n_terms)]
        doc_ids = [f"d{i}" for i in range(n_docs)]
        return (
            lambda: hybridir_from_ids(corpus, terms, doc_ids, n_docs),
            lambda: hybridir_from_ids(corpus, terms, doc_ids, min(WARMUP_DOCS, n_docs)),
        )
    b_docs = id_lists(corpus.term_ids, corpus.doc_ptr, corpus.n_terms)
    vocab = {f"t{i}": i for i in range(corpus.n_terms)}
    small = bm25s_tokenized(b_docs[:WARMUP_DOCS], vocab)
    full = bm25s_tokenized(b_docs, vocab)
    return lambda: bm25s_index((new_bm25s(), full)), lambda: bm25s_index((new_bm25s(), small))


WORKERS: dict[str, Callable[[argparse.Namespace, str], tuple[Build, Build]]] = {
    "scifact": _worker_scifact,
    "synthetic": _worker_synthetic,
}


def run_worker(args: argparse.Namespace) -> int:
    """Child-process entry: load input, warm up, measure the build, print one JSON line."""
    build, warmup = WORKERS[args.worker_corpus](args, args.worker)
    warmup()
    print(json.dumps(measure_peak(build)))
    return 0


def worker_peak(bench: Bench, system: str, corpus: str) -> dict[str, Any]:
    """Run the memory worker for one engine and corpus in a fresh interpreter."""
    script = str(Path(__file__).resolve())
    cmd = [sys.executable, script, "--worker", system, "--worker-corpus", corpus]
    proc = subprocess.run([*cmd, *bench.worker_argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"memory worker {system}/{corpus} exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def add_memory(bench: Bench, report: CorpusReport) -> None:
    if not bench.memory:
        return
    bench.say(f"{report.name}: peak memory of the index step (child processes)")
    h = worker_peak(bench, "hybridir", report.name)
    b = worker_peak(bench, "bm25s", report.name)
    report.add("index_peak_mib", "index step peak RSS growth", "MiB", h["peak_mib"], b["peak_mib"])
    report.info["memory"] = {"hybridir": h, "bm25s": b}


# --------------------------------------------------------------------------- SciFact


def time_scifact_indexing(
    bench: Bench, corpus: TextCorpus, toks: SciFactTokens, report: CorpusReport
) -> tuple[BM25Index, Any, Any]:
    """Index-step and tokenize+index timings; returns the indexes queries run against."""
    n, doc_ids, texts = len(corpus.doc_ids), corpus.doc_ids, corpus.texts
    bench.say("scifact: index step")
    h_sec, h_index = measure(
        lambda docs: hybridir_from_terms(docs, doc_ids), lambda: toks.h_docs, bench.repeats
    )
    b_sec, b_index = measure(
        bm25s_index,
        lambda: (new_bm25s(), bm25s_tokenized(toks.b_docs.ids, toks.b_docs.vocab)),
        bench.repeats,
    )
    report.add("index_docs_per_s", "index step (own tokens)", "docs/s", n / h_sec, n / b_sec)
    same_sec, b_same = measure(bm25s_index, lambda: (new_bm25s(), toks.h_docs), bench.repeats)
    report.add(
        "index_same_tokens_docs_per_s",
        "index step (hybridir's analyzer tokens, str lists)",
        "docs/s",
        n / h_sec,
        n / same_sec,
    )
    bench.say("scifact: tokenize + index")
    h_tok, _ = measure(
        lambda analyzer: hybridir_from_texts(analyzer, texts, doc_ids),
        Analyzer,
        bench.repeats,
    )
    b_tok, _ = measure(
        lambda p: bm25s_index((p[0], bm25s_tokenize(texts, p[1], return_ids=True))),
        lambda: (new_bm25s(), new_stemmer()),
        bench.repeats,
    )
    t_tok = None
    if tantivy_available():
        t_tok, _ = measure(lambda _: tantivy_build(texts), lambda: None, bench.repeats)
    report.add(
        "index_tok_docs_per_s",
        "tokenize + index (1 thread)",
        "docs/s",
        n / h_tok,
        n / b_tok,
        None if t_tok is None else n / t_tok,
    )
    return h_index, b_index, b_same


def time_retrieval(
    bench: Bench,
    report: CorpusReport,
    engines: tuple[BM25Index, Any],
    queries: tuple[QueryBatch, Any],
    ks: dict[str, int],
) -> dict[str, tuple[Hits, Any]]:
    """Retrieval-alone throughput on pre-encoded queries; returns the outputs per metric."""
    (h_index, b_index), (batch, b_queries) = engines, queries
    n_q = len(b_queries)
    outputs: dict[str, tuple[Hits, Any]] = {}
    for name, k in ks.items():
        for threads in THREADS:
            bench.say(f"{report.name}: retrieval alone, k={k}, {threads} thread(s)")
            h_sec, h_out = measure(h_search(h_index, k, threads), lambda: batch, bench.repeats)
            b_sec, b_out = measure(b_search(b_index, k, threads), lambda: b_queries, bench.repeats)
            key = f"qps_{name}_t{threads}"
            label = f"retrieval alone, k={k}, {threads} thread(s)"
            report.add(key, label, "queries/s", n_q / h_sec, n_q / b_sec)
            outputs[key] = (h_out, b_out)
    return outputs


def time_text_retrieval(
    bench: Bench,
    report: CorpusReport,
    engines: tuple[BM25Index, Any],
    queries: list[str],
    ks: dict[str, int],
) -> dict[str, tuple[Hits, Any]]:
    """Tokenize-and-retrieve throughput (one batch of raw query strings)."""
    h_index, b_index = engines
    outputs: dict[str, tuple[Hits, Any]] = {}
    for name, k in ks.items():
        for threads in THREADS:
            bench.say(f"{report.name}: tokenize + retrieve, k={k}, {threads} thread(s)")
            h_run = h_search_text(h_index, queries, k, threads)
            h_sec, h_out = measure(h_run, Analyzer, bench.repeats)
            b_run = b_search_text(b_index, queries, k, threads)
            b_sec, b_out = measure(b_run, new_stemmer, bench.repeats)
            key = f"qps_tok_{name}_t{threads}"
            label = f"tokenize + retrieve, k={k}, {threads} thread(s)"
            n_q = len(queries)
            report.add(key, label, "queries/s", n_q / h_sec, n_q / b_sec)
            outputs[key] = (h_out, b_out)
    return outputs


def bench_scifact(bench: Bench, folder: Path, limit: int) -> CorpusReport:
    """Every SciFact measurement."""
    bench.say("scifact: loading and tokenizing")
    corpus = load_scifact(folder, limit)
    toks = tokenize_scifact(corpus)
    n_docs = len(corpus.doc_ids)
    k_deep = min(1000, n_docs)
    report = CorpusReport("scifact")
    report.info.update(
        n_docs=n_docs,
        n_queries=len(corpus.queries),
        n_tokens_hybridir=sum(map(len, toks.h_docs)),
        k_deep=k_deep,
    )
    h_index, b_index, b_same = time_scifact_indexing(bench, corpus, toks, report)
    vocab = b_index.vocab_dict
    b_ids = [[vocab[t] for t in q if t in vocab] for q in toks.b_queries]
    ks = {"k10": 10, "k1000": k_deep}
    alone = time_retrieval(
        bench, report, (h_index, b_index), (h_index.encode(toks.h_queries), b_ids), ks
    )
    with_tok = time_text_retrieval(bench, report, (h_index, b_index), corpus.queries, ks)
    same = b_search(b_same, 10, 1)(toks.h_queries)
    report.agreement["same_tokens"] = top10_agreement(alone["qps_k10_t1"][0], same)
    report.agreement["own_tokenizers"] = top10_agreement(*with_tok["qps_tok_k10_t1"])
    if bench.latency:
        report.info["latency"] = bench_latency(bench, folder, corpus, k_deep)
    add_memory(bench, report)
    return report


# --------------------------------------------------------------------------- tantivy, Searcher


TANTIVY_ANALYZER = "en_lucene"
LATENCY_QUERIES = 1000
LATENCY_MODES: dict[str, dict[str, Any]] = {
    "bare": {"explain": False, "fields": ()},
    "explain": {"explain": True, "fields": ()},
    "defaults": {},
}
"""hybridir ``Searcher.search`` settings timed: ids and scores only, matched terms, and the
defaults (matched terms plus title, text and metadata from the document store)."""


def tantivy_available() -> bool:
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


def tantivy_analyzer() -> Any:
    """As close to hybridir's English analyzer (Lucene's EnglishAnalyzer) as tantivy-py
    allows: letters-and-digits tokens, lowercase, Lucene's 33 stopwords, Snowball English.

    Differences: the simple tokenizer splits at every non-alphanumeric character (hybridir
    keeps inner ``'`` and ``.``), there is no possessive filter, and Snowball's English
    stemmer is Porter2 where hybridir uses Porter's original.
    """
    import tantivy

    from hybridir.text.languages import stopwords

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(sorted(stopwords("en", "lucene"))))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def tantivy_build(texts: Sequence[str]) -> Any:
    """An in-memory tantivy index of ``texts`` (row numbers in an i64 fast field, term
    frequencies without positions), written by one thread, committed and reloaded so it
    answers; BM25 is tantivy's fixed k1=1.2, b=0.75."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("row", fast=True)
    builder.add_text_field("body", tokenizer_name=TANTIVY_ANALYZER, index_option="freq")
    index = tantivy.Index(builder.build())
    index.register_tokenizer(TANTIVY_ANALYZER, tantivy_analyzer())
    writer = index.writer(200_000_000, 1)
    for row, text in enumerate(texts):
        writer.add_document(tantivy.Document(row=row, body=text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def tantivy_runs(index: Any, doc_ids: Sequence[str], k: int) -> dict[str, Callable[[str], Any]]:
    """tantivy-py's per-query calls: ``hits`` answers (score, DocAddress) pairs; ``ids`` also
    reads the rows from the fast field and maps them to doc ids (what a Hit carries)."""
    searcher = index.searcher()

    def hits(text: str) -> Any:
        query, _ = index.parse_query_lenient(text, ["body"])
        return searcher.search(query, k, count=False).hits

    def ids(text: str) -> Any:
        found = hits(text)
        rows = searcher.fast_field_values("row", [a for _, a in found])
        return [(doc_ids[r], s) for (s, _), r in zip(found, rows, strict=True)]

    return {"hits": hits, "ids": ids}


def hybridir_collection(folder: Path, corpus: TextCorpus, limit: int) -> Any:
    """SciFact in a collection with the default configuration (BM25 k1=1.2, b=0.75, as
    tantivy's), title and text stored separately."""
    from hybridir import Collection, Document

    docs = []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if limit and len(docs) >= limit:
                break
            row = json.loads(line)
            docs.append(Document(str(row["_id"]), row["text"], title=row.get("title", "")))
    tmp = tempfile.mkdtemp(prefix="bm25-speed-")
    collection = Collection.create(Path(tmp) / "scifact")
    collection.add(docs)
    return collection


def all_queries(folder: Path, n: int) -> list[str]:
    """The first ``n`` SciFact queries of every split (cycled when there are fewer)."""
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        texts = [str(json.loads(line)["text"]) for line in fh]
    return [texts[i % len(texts)] for i in range(n)]


def time_passes(
    runs: dict[str, Callable[[str], Any]], queries: list[str], passes: int
) -> dict[str, dict[str, Any]]:
    """Per-query latency of each run over ``queries``, ``passes`` passes interleaved run by
    run (so load drifts hit every system alike), after one untimed pass."""
    for run in runs.values():
        for q in queries:
            run(q)
    per_query: dict[str, list[float]] = {name: [] for name in runs}
    pass_s: dict[str, list[float]] = {name: [] for name in runs}
    clock = time.perf_counter
    for _ in range(passes):
        for name, run in runs.items():
            gc.collect()
            times = per_query[name]
            start = clock()
            for q in queries:
                t = clock()
                run(q)
                times.append(clock() - t)
            pass_s[name].append(clock() - start)
    out = {}
    for name in runs:
        lat = np.asarray(per_query[name]) * 1e3
        out[name] = {
            "p50_ms": float(np.median(lat)),
            "p95_ms": float(np.percentile(lat, 95)),
            "mean_ms": float(np.mean(lat)),
            "pass_s": pass_s[name],
            "pass_spread": max(pass_s[name]) / min(pass_s[name]),
        }
    return out


def bench_latency(bench: Bench, folder: Path, corpus: TextCorpus, k_deep: int) -> dict[str, Any]:
    """Per-query latency through the public APIs, query analysis included: hybridir's
    ``Searcher.search`` (each of :data:`LATENCY_MODES`) against tantivy-py's parse + search,
    at k=10 and k=``k_deep``, over a loop of :data:`LATENCY_QUERIES` queries."""
    from hybridir import Searcher

    bench.say("scifact: per-query latency (hybridir Searcher, tantivy-py)")
    searcher = Searcher(hybridir_collection(folder, corpus, len(corpus.doc_ids)))
    queries = all_queries(folder, LATENCY_QUERIES)
    index = tantivy_build(corpus.texts) if tantivy_available() else None
    out: dict[str, Any] = {"queries": len(queries), "passes": bench.repeats}
    for k in (10, k_deep):
        runs: dict[str, Callable[[str], Any]] = {
            f"hybridir_{mode}": partial(searcher.search, k=k, **options)
            for mode, options in LATENCY_MODES.items()
        }
        if index is not None:
            t_runs = tantivy_runs(index, corpus.doc_ids, k)
            runs.update({f"tantivy_{name}": run for name, run in t_runs.items()})
        timed = time_passes(runs, queries, bench.repeats)
        if index is not None:
            best = timed["tantivy_hits"]["p50_ms"]
            for name in LATENCY_MODES:
                mine = timed[f"hybridir_{name}"]
                mine["tantivy_ratio"] = best / mine["p50_ms"]  # > 1: hybridir faster
        out[f"k{k}"] = timed
    return out


# --------------------------------------------------------------------------- synthetic


def synthetic_spec(args: argparse.Namespace) -> SyntheticSpec:
    return SyntheticSpec(
        n_docs=args.synthetic_docs, n_queries=args.synthetic_queries, seed=args.seed
    )


def time_synthetic_indexing(
    bench: Bench, corpus: SyntheticCorpus, inputs: SyntheticInputs, report: CorpusReport
) -> tuple[BM25Index, Any]:
    """Index-step timings from term ids; warm-up builds the first WARMUP_DOCS documents."""
    n = len(inputs.doc_ids)
    small = min(WARMUP_DOCS, n)
    bench.say(f"synthetic: index step ({n:,} docs)")
    h_sec, h_index = measure(
        lambda _: hybridir_from_ids(corpus, inputs.terms, inputs.doc_ids, n),
        lambda: None,
        bench.repeats,
        warmup=lambda: hybridir_from_ids(corpus, inputs.terms, inputs.doc_ids, small),
    )
    b_sec, b_index = measure(
        bm25s_index,
        lambda: (new_bm25s(), bm25s_tokenized(inputs.b_docs, inputs.vocab)),
        bench.repeats,
        warmup=lambda: bm25s_index(
            (new_bm25s(), bm25s_tokenized(inputs.b_docs[:small], inputs.vocab))
        ),
    )
    report.add("index_docs_per_s", "index step (term ids)", "docs/s", n / h_sec, n / b_sec)
    return h_index, b_index


def bench_synthetic(bench: Bench, spec: SyntheticSpec) -> CorpusReport:
    """Every synthetic-corpus measurement."""
    bench.say(f"synthetic: generating {spec.n_docs:,} docs, {spec.n_queries:,} queries")
    corpus = generate_synthetic(spec)
    inputs = synthetic_inputs(corpus)
    report = CorpusReport("synthetic")
    report.info.update(
        n_docs=spec.n_docs,
        n_queries=spec.n_queries,
        n_tokens=int(corpus.doc_ptr[-1]),
        spec=spec._asdict(),
    )
    h_index, b_index = time_synthetic_indexing(bench, corpus, inputs, report)
    batch = h_index.encode(inputs.h_queries)
    outputs = time_retrieval(
        bench, report, (h_index, b_index), (batch, inputs.b_queries), {"k10": 10}
    )
    report.agreement["same_tokens"] = top10_agreement(*outputs["qps_k10_t1"])
    del h_index, b_index, outputs
    add_memory(bench, report)
    return report


# --------------------------------------------------------------------------- output


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def render(console: Console, report: CorpusReport, repeats: int) -> None:
    """One table per corpus, then the agreement figures."""
    info = report.info
    table = Table(
        title=f"{report.name}: {info['n_docs']:,} docs, {info['n_queries']:,} queries "
        f"(median of {repeats})"
    )
    table.add_column("metric")
    table.add_column("unit")
    table.add_column("hybridir", justify="right")
    table.add_column("bm25s", justify="right")
    table.add_column("hybridir ÷ bm25s", justify="right")
    table.add_column("tantivy", justify="right")
    table.add_column("hybridir ÷ tantivy", justify="right")
    for metric in report.metrics.values():
        ratio, t_ratio = metric["ratio"], metric.get("tantivy_ratio")
        table.add_row(
            metric["label"],
            metric["unit"],
            _fmt(metric["hybridir"]),
            _fmt(metric["bm25s"]),
            "–" if ratio is None else f"{ratio:.2f}×",
            _fmt(metric.get("tantivy")),
            "–" if t_ratio is None else f"{t_ratio:.2f}×",
        )
    console.print(table)
    if "latency" in info:
        render_latency(console, info["latency"])
    for name, agree in report.agreement.items():
        console.print(
            f"top-10 agreement ({name}, {agree['queries']:,} queries): "
            f"identical sets {agree['identical_top10']:.1%}, "
            f"mean overlap {agree['mean_overlap']:.1%}, "
            f"equal score lists {agree['equal_scores']:.1%}"
        )
    if "memory" in info:
        console.print(f"memory: {info['memory']['hybridir']['method']}")


def render_latency(console: Console, latency: dict[str, Any]) -> None:
    """Per-query latency through the public APIs, one row per system and k."""
    table = Table(
        title=f"per-query latency, public API, {latency['queries']:,} queries × "
        f"{latency['passes']} passes (query analysis included)"
    )
    for column in ("k", "system", "p50 ms", "p95 ms", "mean ms", "pass spread", "tantivy ÷ it"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for key, timed in latency.items():
        if not key.startswith("k"):
            continue
        for name, t in timed.items():
            ratio = t.get("tantivy_ratio")
            table.add_row(
                key[1:],
                name,
                f"{t['p50_ms']:.3f}",
                f"{t['p95_ms']:.3f}",
                f"{t['mean_ms']:.3f}",
                f"{t['pass_spread']:.2f}",
                "–" if ratio is None else f"{ratio:.2f}×",
            )
    console.print(table)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def source_state() -> str:
    """Commit of the checkout, marked ``+dirty`` when ``src`` has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "src") else "")


def meta(argv: Sequence[str], load_before: list[float]) -> dict[str, Any]:
    """Versions, machine, command line and system load (other processes skew timings)."""
    import numba

    packages = ("hybridir", "bm25s", "tantivy", "numba", "numpy", "PyStemmer", "rich")
    versions = {}
    for p in packages:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "hybridir_source": source_state(),
        "command": shlex.join(["python", "benchmarks/bm25_speed.py", *argv]),
        "timing": "median wall time after one untimed warm-up",
        "loadavg_1_5_15min": {"before": load_before, "after": list(os.getloadavg())},
    }


# --------------------------------------------------------------------------- CLI


def default_data_dir() -> Path:
    """``$HYBRIDIR_DATA`` or ``<project>/../shared/datasets``."""
    env = os.environ.get("HYBRIDIR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="hybridir vs bm25s BM25 speed (indexing, queries/s, index memory)."
    )
    parser.add_argument("--synthetic-docs", type=int, default=1_000_000, help="0 skips it")
    parser.add_argument("--synthetic-queries", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median counts")
    parser.add_argument("--seed", type=int, default=13, help="synthetic corpus seed")
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument("--scifact-limit", type=int, default=0, help="first N docs (0: all)")
    parser.add_argument("--data-dir", type=Path, default=None, help="datasets folder")
    parser.add_argument("--skip-memory", action="store_true", help="no child-process builds")
    parser.add_argument(
        "--skip-latency", action="store_true", help="no per-query Searcher / tantivy timing"
    )
    parser.add_argument("--json", action="store_true", help="last stdout line: JSON results")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="whole benchmark in this many fresh processes; each ratio's median and minimum",
    )
    parser.add_argument("--worker", choices=["hybridir", "bm25s"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-corpus", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.runs < 1:
        parser.error(f"--repeats and --runs must be >= 1, got {args.repeats} and {args.runs}")
    if args.synthetic_docs != 0 and args.synthetic_docs < 100:
        parser.error(f"--synthetic-docs must be 0 or >= 100, got {args.synthetic_docs}")
    if args.synthetic_queries < 1 or args.scifact_limit < 0:
        parser.error("--synthetic-queries must be >= 1 and --scifact-limit >= 0")
    args.data_dir = (args.data_dir or default_data_dir()).resolve()
    if not args.skip_scifact and not (args.data_dir / "scifact" / "corpus.jsonl").is_file():
        parser.error(
            f"SciFact not found under {args.data_dir}; set HYBRIDIR_DATA, pass --data-dir, "
            "or use --skip-scifact"
        )
    return args


def worker_argv(args: argparse.Namespace) -> list[str]:
    """Flags a memory worker needs to rebuild the same input."""
    flags = [
        f"--data-dir={args.data_dir}",
        f"--scifact-limit={args.scifact_limit}",
        f"--synthetic-docs={args.synthetic_docs}",
        f"--synthetic-queries={args.synthetic_queries}",
        f"--seed={args.seed}",
    ]
    return [*flags, "--skip-scifact"] if args.skip_scifact else flags


def child_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` for one run of a ``--runs`` series: the same flags, one run, JSON out."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--runs":
            skip = True  # its value follows
        elif not arg.startswith("--runs=") and arg != "--json":
            out.append(arg)
    return [*out, "--runs=1", "--json"]


def ratio_summary(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per corpus and metric, each run's ratio against bm25s (and tantivy), their median and
    minimum."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for corpus in ("scifact", "synthetic"):
        reports = [run[corpus] for run in runs if run.get(corpus)]
        if not reports:
            continue
        summary[corpus] = {}
        for key, metric in reports[0]["metrics"].items():
            row: dict[str, Any] = {"label": metric["label"]}
            for name in ("ratio", "tantivy_ratio"):
                values = [r["metrics"][key].get(name) for r in reports]
                if all(v is not None for v in values):
                    row[f"{name}s"] = values
                    row[f"median_{name}"] = statistics.median(values)
                    row[f"min_{name}"] = min(values)
            summary[corpus][key] = row
    return summary


def run_series(argv: Sequence[str], runs: int, as_json: bool) -> int:
    """The benchmark in ``runs`` fresh processes, one after the other: the process-level
    noise of a shared machine (where memory lands, what the neighbours do) moves a ratio
    from run to run more than the repeats inside one run do."""
    err = Console(stderr=True)
    results = []
    for i in range(runs):
        err.print(f"[bold]run {i + 1} of {runs}[/]")
        done = subprocess.run(
            [sys.executable, __file__, *child_argv(argv)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = ratio_summary(results)
    console = Console(width=150)
    for corpus, rows in summary.items():
        table = Table(title=f"{corpus}: ratios over {runs} fresh processes")
        for column in ("metric", "÷ bm25s, each run", "median", "min", "÷ tantivy, median"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for row in rows.values():
            ratios = row.get("ratios")
            t_median = row.get("median_tantivy_ratio")
            table.add_row(
                row["label"],
                "–" if ratios is None else " ".join(f"{r:.2f}" for r in ratios),
                "–" if ratios is None else f"{row['median_ratio']:.2f}×",
                "–" if ratios is None else f"{row['min_ratio']:.2f}×",
                "–" if t_median is None else f"{t_median:.2f}×",
            )
        console.print(table)
    if as_json:
        print(json.dumps({"summary": summary, "runs": results}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.runs > 1:
        return run_series(argv, args.runs, args.json)
    warm_kernels()  # compiled (or loaded from the cache) now, never the numpy stand-in
    if args.worker:
        return run_worker(args)
    load_before = list(os.getloadavg())
    err = Console(stderr=True)
    bench = Bench(args.repeats, not args.skip_memory, worker_argv(args), err, not args.skip_latency)
    reports: dict[str, CorpusReport | None] = {"scifact": None, "synthetic": None}
    if not args.skip_scifact:
        reports["scifact"] = bench_scifact(bench, args.data_dir / "scifact", args.scifact_limit)
    if args.synthetic_docs:
        reports["synthetic"] = bench_synthetic(bench, synthetic_spec(args))
    console = Console(width=150)
    for report in reports.values():
        if report is not None:
            render(console, report, args.repeats)
    if args.json:
        out: dict[str, Any] = {k: r.to_json() if r else None for k, r in reports.items()}
        out["meta"] = meta(argv, load_before)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
