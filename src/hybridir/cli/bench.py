"""Commands that measure: ``benchmark`` (datasets × systems, with reports) and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hybridir.cli.app import app, err, out
from hybridir.errors import ConfigError
from hybridir.eval.runner import SYSTEMS


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


_SYSTEMS = "; ".join(f"{name}: {system.describe}" for name, system in SYSTEMS.items())
"""``--systems``' help: every system of the runner's registry, described."""


@app.command()
def benchmark(
    spec_file: Annotated[
        Path | None, typer.Argument(help="TOML spec (fields of hybridir.eval.runner.Spec).")
    ] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (names or folders).")
    ] = None,
    systems: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated systems (default: bm25, dense, rrf, tuned): " + _SYSTEMS + "."
        ),
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="System the marks compare with.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write runs and reports.")] = Path(
        "benchmark-results"
    ),
) -> None:
    """Run datasets × systems: TREC runs, a table with significance marks, an HTML report.

    Each dataset is indexed once (collections are cached by dataset and configuration in
    the hybridir cache), every list is retrieved once and cached, and every system's run
    is derived from those lists, so an unchanged rerun retrieves nothing. The output folder
    gets a TREC run per dataset and system (runs/DATASET/SYSTEM.trec), the table as
    results.md, results.csv and results.json (paired randomization marks against the
    baseline, and an average column) and a self-contained report.html. Options override
    the spec file's fields.

    Example: hybridir benchmark --datasets scifact,nfcorpus --systems bm25,dense,rrf --out results
    """
    from hybridir._cache import cache_root
    from hybridir.eval.runner import Spec, markdown_table
    from hybridir.eval.runner import run as run_benchmark

    if spec_file is None and datasets is None:
        raise ConfigError("give a spec file or --datasets")
    base = Spec.load(spec_file) if spec_file is not None else None
    fields: dict[str, Any] = (
        dict(base.__dict__) if base is not None else {"datasets": _split(datasets or "")}
    )
    if datasets is not None:
        fields["datasets"] = _split(datasets)
    if systems is not None:
        fields["systems"] = _split(systems)
    if metrics is not None:
        fields["metrics"] = _split(metrics)
    if baseline is not None:
        fields["baseline"] = baseline
    spec = Spec(**fields)
    with err.status("benchmark") as status:
        results = run_benchmark(spec, out_dir, cache_root("benchmark"), status.update)
    out.print(markdown_table(results))
    out.print(f"runs, results.md/.csv/.json and report.html in {out_dir}")


@app.command()
def demo(
    dataset: Annotated[str, typer.Argument(help="BEIR dataset folder or name.")] = "scifact",
) -> None:
    """Index a dataset with BM25 and a dense model, compare the retrievers, show example hits.

    Indexes the dataset (SciFact by default) into a temporary collection with BM25 and
    all-MiniLM-L6-v2 (the first run encodes every document on the CPU; later runs reuse the
    embedding cache), evaluates BM25, dense and hybrid (the default fusion) on its test
    queries with nDCG@10, recall@100, MRR@10, MAP@100 and queries per second, then shows the
    top three hits of three test queries with the fused score, each list's rank, the
    matched terms and the title. Needs the dense extra; the collection is removed at the
    end.

    Example: hybridir demo scifact
    """
    from hybridir.demo import run_demo

    run_demo(dataset, out, err)
