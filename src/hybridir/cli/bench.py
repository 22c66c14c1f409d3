"""Commands that measure: ``benchmark`` (datasets × systems, with reports) and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hybridir.cli.app import app, err, out
from hybridir.errors import ConfigError


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def benchmark(
    spec_file: Annotated[
        Path | None, typer.Argument(help="TOML spec (fields of hybridir.eval.runner.Spec).")
    ] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (names or folders).")
    ] = None,
    systems: Annotated[
        str | None, typer.Option(help="Comma-separated: bm25, dense, rrf, dbsf, convex, tuned.")
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="System the marks compare with.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write runs and reports.")] = Path(
        "benchmark-results"
    ),
) -> None:
    """Run datasets × systems: TREC runs, a table with significance marks, an HTML report."""
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
    """Index SciFact, evaluate BM25 and show example queries with their hits."""
    from hybridir.demo import run_demo

    run_demo(dataset, out, err)
