"""Retrieval quality of each analyzer setting: BM25 nDCG@10 and Recall@100 per language.

For every dataset (``xquad-r/<lang>`` and ``poquad-dev-pl`` by default) a fresh collection is
built in a temporary directory for each analyzer setting, the judged test queries are run with
BM25 (Lucene variant, k1=0.9, b=0.4) and scored with trec_eval semantics. The settings are the
language's default analyzer, no stemming, no stemming and no stopwords, the language-neutral
``xx`` analyzer, and extra stemmers for Polish and English (see :data:`EXTRA_SETTINGS`).

Prints a Markdown table (and a stemming-effect summary) on stdout; with ``--json`` the last
stdout line is one JSON object. Progress goes to stderr.

Example:
    .venv/bin/python benchmarks/analyzer_quality.py --datasets xquad-r/en,poquad-dev-pl --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hybridir import AnalyzerConfig, BM25Config, Collection, CollectionConfig, Document, Searcher
from hybridir.eval import BeirDataset, evaluate, load_beir
from hybridir.text.languages import language_spec
from hybridir.types import Qrels

METRICS = ("ndcg@10", "recall@100")
BM25 = BM25Config(variant="lucene", k1=0.9, b=0.4)
DEPTH = 1000
"""Run depth, as ``hybridir evaluate`` uses (Recall@100 needs at least 100)."""

DATASET_LANGUAGES = {"poquad-dev-pl": "pl"}
"""Language of the datasets not named ``xquad-r/<lang>``."""


class Setting(NamedTuple):
    """One analyzer variant; ``language=None`` means the dataset's own language."""

    name: str
    stemmer: str = "default"
    stopwords: str = "default"
    language: str | None = None

    def config(self, dataset_language: str) -> AnalyzerConfig:
        """The analyzer config of this setting for a dataset in ``dataset_language``."""
        return AnalyzerConfig(
            language=self.language or dataset_language,
            stemmer=self.stemmer,
            stopwords=self.stopwords,
        )


BASE_SETTINGS = (
    Setting("default"),
    Setting("no-stem", stemmer="none"),
    Setting("no-stem-no-stop", stemmer="none", stopwords="none"),
    Setting("xx", language="xx"),
)
"""Settings measured for every language."""

EXTRA_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "pl": (
        Setting("snowball:polish", stemmer="snowball:polish"),
        Setting("stempel", stemmer="stempel"),
        Setting("morfeusz", stemmer="morfeusz"),
    ),
    "en": (Setting("snowball:english", stemmer="snowball:english"),),
}
"""Further stemmers per language (each with the language's default stopwords)."""


class Result(NamedTuple):
    """One dataset × setting measurement."""

    dataset: str
    language: str
    setting: str
    analyzer_language: str
    stemmer: str
    stopword_source: str
    ndcg_10: float
    recall_100: float
    index_seconds: float
    setup_seconds: float
    n_docs: int
    n_queries: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; the metric keys use the ranx-style names."""
        out = self._asdict()
        out["ndcg@10"] = out.pop("ndcg_10")
        out["recall@100"] = out.pop("recall_100")
        return out


class Workload(NamedTuple):
    """A dataset loaded once and shared by all its settings."""

    name: str
    language: str
    docs: list[Document]
    queries: dict[str, str]
    qrels: Qrels


# --------------------------------------------------------------------------- datasets


def default_data_dir() -> Path:
    """``$HYBRIDIR_DATA`` or ``<project>/../shared/datasets``."""
    env = os.environ.get("HYBRIDIR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def dataset_language(name: str) -> str:
    """ISO code of a dataset: ``xquad-r/<lang>`` or an entry of :data:`DATASET_LANGUAGES`."""
    prefix, _, lang = name.partition("/")
    if prefix == "xquad-r" and lang:
        return lang
    try:
        return DATASET_LANGUAGES[name]
    except KeyError:
        valid = ["xquad-r/<lang>", *sorted(DATASET_LANGUAGES)]
        raise ValueError(f"no language known for dataset {name!r}; valid: {valid}") from None


def available_datasets(data_dir: Path) -> list[str]:
    """Every ``xquad-r/<lang>`` folder under ``data_dir``, then the other known datasets."""
    xquad = sorted(p.parent.name for p in data_dir.glob("xquad-r/*/corpus.jsonl"))
    names = [f"xquad-r/{lang}" for lang in xquad]
    names += [n for n in sorted(DATASET_LANGUAGES) if (data_dir / n / "corpus.jsonl").is_file()]
    return names


def load_workload(data_dir: Path, name: str, limit_queries: int | None) -> Workload:
    """Read a dataset's corpus and test split, keeping the first ``limit_queries`` queries."""
    data: BeirDataset = load_beir(data_dir / name, split="test")
    qids = list(data.queries)[:limit_queries] if limit_queries else list(data.queries)
    return Workload(
        name=name,
        language=dataset_language(name),
        docs=list(data.corpus()),
        queries={qid: data.queries[qid] for qid in qids},
        qrels={qid: data.qrels[qid] for qid in qids},
    )


def settings_for(language: str) -> tuple[Setting, ...]:
    """The base settings plus the language's extra stemmers."""
    return BASE_SETTINGS + EXTRA_SETTINGS.get(language, ())


# --------------------------------------------------------------------------- measuring


def measure(work: Workload, setting: Setting, threads: int) -> Result:
    """Index ``work`` with ``setting`` in a temporary collection, run and score its queries.

    ``setup_seconds`` covers building the analyzer (Stempel's table and Morfeusz's dictionary
    load here, the first time only); ``index_seconds`` covers :meth:`Collection.add` alone.
    """
    analyzer = setting.config(work.language)
    config = CollectionConfig(analyzer=analyzer, bm25=BM25)
    with tempfile.TemporaryDirectory(prefix="hybridir-analyzer-") as tmp:
        start = time.perf_counter()
        collection = Collection.create(Path(tmp) / "col", config)
        setup = time.perf_counter() - start
        try:
            start = time.perf_counter()
            collection.add(work.docs, allow_empty=True)
            index_seconds = time.perf_counter() - start
            run = Searcher(collection).run(work.queries, DEPTH, n_threads=threads)
            stemmer = collection.analyzer.stemmer_name
        finally:
            collection.close()
    scores = evaluate(run, work.qrels, list(METRICS))
    return Result(
        dataset=work.name,
        language=work.language,
        setting=setting.name,
        analyzer_language=analyzer.language,
        stemmer=stemmer,
        stopword_source=stopword_source(analyzer),
        ndcg_10=scores["ndcg@10"],
        recall_100=scores["recall@100"],
        index_seconds=index_seconds,
        setup_seconds=setup,
        n_docs=len(work.docs),
        n_queries=len(work.queries),
    )


def stopword_source(analyzer: AnalyzerConfig) -> str:
    """The stopword list an analyzer config actually uses (``lucene``, ``iso`` or ``none``)."""
    if analyzer.stopwords == "none":
        return "none"
    return language_spec(analyzer.language).stopwords


def warm_up() -> None:
    """Build and query a tiny collection once, so one-off costs stay out of the timings.

    The first analysis builds the tokenizer's combining-mark class and the first search may
    compile kernels; without this the first setting measured looks slow.
    """
    work = Workload(
        name="warm-up",
        language="xx",
        docs=[Document("d1", "warm up the tokenizer"), Document("d2", "and the scorer")],
        queries={"q1": "warm scorer"},
        qrels={"q1": {"d1": 1}},
    )
    measure(work, Setting("xx", language="xx"), threads=1)


def new_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def run_all(args: argparse.Namespace, console: Console) -> list[Result]:
    """Measure every setting of every requested dataset, with a progress bar on ``console``."""
    total = sum(len(settings_for(dataset_language(n))) for n in args.datasets)
    results: list[Result] = []
    with new_progress(console) as progress:
        task = progress.add_task("warming up", total=total)
        warm_up()
        for name in args.datasets:
            progress.update(task, description=f"{name}: loading")
            work = load_workload(args.data_dir, name, args.limit_queries)
            for setting in settings_for(work.language):
                progress.update(task, description=f"{name}: {setting.name}")
                results.append(measure(work, setting, args.threads))
                progress.advance(task)
    return results


# --------------------------------------------------------------------------- output


def markdown_table(results: Sequence[Result]) -> str:
    """One row per dataset × setting."""
    lines = [
        "| dataset | language | setting | analyzer | stemmer | stopwords "
        "| nDCG@10 | Recall@100 | index s |",
        "|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.dataset} | {r.language} | {r.setting} | {r.analyzer_language} "
            f"| {r.stemmer} | {r.stopword_source} | {r.ndcg_10:.4f} | {r.recall_100:.4f} "
            f"| {r.index_seconds:.2f} |"
        )
    return "\n".join(lines)


def stemming_effect(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Per dataset: nDCG@10 of the default analyzer minus that of ``no-stem`` and ``xx``."""
    by_dataset: dict[str, dict[str, Result]] = {}
    for r in results:
        by_dataset.setdefault(r.dataset, {})[r.setting] = r
    rows = []
    for dataset, settings in by_dataset.items():
        default = settings["default"]
        rows.append(
            {
                "dataset": dataset,
                "default_stemmer": default.stemmer,
                "ndcg@10_default": default.ndcg_10,
                "delta_vs_no_stem": default.ndcg_10 - settings["no-stem"].ndcg_10,
                "delta_vs_xx": default.ndcg_10 - settings["xx"].ndcg_10,
                "best_setting": max(settings.values(), key=lambda s: s.ndcg_10).setting,
            }
        )
    return rows


def effect_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown summary of :func:`stemming_effect`."""
    lines = [
        "| dataset | default stemmer | nDCG@10 default | Δ vs no-stem | Δ vs xx | best setting |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['dataset']} | {row['default_stemmer']} | {row['ndcg@10_default']:.4f} "
            f"| {row['delta_vs_no_stem']:+.4f} | {row['delta_vs_xx']:+.4f} "
            f"| {row['best_setting']} |"
        )
    return "\n".join(lines)


def meta(argv: Sequence[str], data_dir: Path) -> dict[str, Any]:
    """Versions, machine, BM25 parameters and command line."""
    packages = ("hybridir", "PyStemmer", "pystempel", "morfeusz2", "stopwordsiso")
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bm25": BM25.to_dict(),
        "depth": DEPTH,
        "metrics": list(METRICS),
        "data_dir": str(data_dir),
        "command": shlex.join(["python", "benchmarks/analyzer_quality.py", *argv]),
    }


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="BM25 nDCG@10 / Recall@100 of each analyzer setting, per language."
    )
    parser.add_argument("--datasets", default="", help="comma list (default: all available)")
    parser.add_argument("--limit-queries", type=int, default=None, help="first N test queries")
    parser.add_argument("--data-dir", type=Path, default=None, help="datasets folder")
    parser.add_argument("--threads", type=int, default=1, help="search threads")
    parser.add_argument("--json", action="store_true", help="last stdout line: JSON results")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit_queries is not None and args.limit_queries < 1:
        parser.error(f"--limit-queries must be >= 1, got {args.limit_queries}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    args.data_dir = (args.data_dir or default_data_dir()).resolve()
    available = available_datasets(args.data_dir)
    requested = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in requested if d not in available]
    if unknown:
        parser.error(
            f"dataset(s) {unknown} not found under {args.data_dir}; available: {available}"
        )
    args.datasets = requested or available
    if not args.datasets:
        parser.error(f"no datasets found under {args.data_dir}; set HYBRIDIR_DATA or --data-dir")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    results = run_all(args, Console(stderr=True))
    effect = stemming_effect(results)
    print(markdown_table(results))
    print()
    print(effect_table(effect))
    if args.json:
        out = {
            "results": [r.to_json() for r in results],
            "stemming_effect": effect,
            "meta": meta(argv, args.data_dir),
        }
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
