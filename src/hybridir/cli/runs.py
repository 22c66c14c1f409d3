"""Commands over existing TREC run files, Pyserini's and ranx's everyday verbs: ``fuse``
(several runs into one), ``eval`` (a run against qrels) and ``compare`` (runs side by side,
with paired significance against a baseline)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hybridir._atomic import atomic_write_text
from hybridir.cli.app import app, err, out, print_json
from hybridir.cli.batch import check_writable
from hybridir.cli.options import JsonOpt, SplitOpt, names_a_file
from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.fusion import METHODS, MISSING, NORMALIZERS

if TYPE_CHECKING:
    from hybridir.eval.compare import Comparison
    from hybridir.types import Qrels, Run

DEFAULT_METRICS = "ndcg@10,recall@100,mrr@10,map@100"
"""What ``eval`` and ``compare`` report unless ``--metrics`` says otherwise."""
COMPARE_FORMATS = ("table", "markdown", "latex", "csv")
"""What ``compare --format`` accepts: a rich table, or a text format of
:data:`hybridir.eval.compare.FORMATS`."""

RunsArg = Annotated[
    list[Path], typer.Argument(help="TREC run files (qid Q0 doc_id rank score tag per line).")
]
QrelsHelp = (
    "Judgments: a TREC qrels file (qid 0 doc_id grade), a BEIR qrels TSV, or a BEIR dataset "
    "folder or name (its --split)."
)
MetricsOpt = Annotated[
    str,
    typer.Option(
        help="Comma-separated metrics: hybridir names (ndcg@10, recall@100, mrr@10, map, "
        "p@5) or trec_eval names (ndcg_cut_10, P_5, recip_rank, map, recall_100, bpref)."
    ),
]


def read_run_file(path: Path) -> Run:
    """A TREC run file with at least one hit.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a malformed line (``<file>:<line>: ...``) or no hit at all.
    """
    from hybridir.eval.trec import read_run

    run = read_run(path)
    if not run:
        raise InvalidInputError(f"{path}: empty run (no result lines)")
    return run


def load_qrels(source: str, split: str) -> Qrels:
    """Judgments from a qrels file (TREC or BEIR TSV) or from a BEIR dataset's split.

    A source naming an existing file, or with a file suffix, is read as a file; anything
    else is a dataset folder or name (:func:`hybridir.eval.datasets.load_beir`).

    Raises:
        NotFoundError: no such file or dataset, or no such split.
        InvalidInputError: a malformed line, or no judgment at all.
    """
    from hybridir.eval.trec import read_any_qrels

    if names_a_file(source):
        return read_any_qrels(source)
    from hybridir.eval.datasets import load_beir

    return load_beir(source, split=split).qrels


def _metric_names(metrics: str) -> list[str]:
    from hybridir.eval.metrics import check_metrics

    return check_metrics([m.strip() for m in metrics.split(",") if m.strip()])


def _coverage(name: str, run: Run, qrels: Qrels) -> None:
    """Refuse a run that answers no judged query; say on stderr what else does not pair up."""
    answered = sum(1 for qid in qrels if run.get(qid))
    if answered == 0:
        raise InvalidInputError(
            f"{name} answers none of the {len(qrels)} judged queries (wrong qrels or split?)"
        )
    if answered < len(qrels):
        err.print(
            f"{name}: {len(qrels) - answered} of {len(qrels)} judged queries have no hits "
            "and score 0 (as trec_eval -c)",
            markup=False,
            soft_wrap=True,
        )
    unjudged = sum(1 for qid in run if qid not in qrels)
    if unjudged:
        err.print(
            f"{name}: {unjudged} queries without judgments are ignored",
            markup=False,
            soft_wrap=True,
        )


def _weights(text: str | None, n_runs: int) -> dict[str, float]:
    from hybridir.eval.run_fusion import run_name

    if text is None:
        return {}
    try:
        values = [float(w) for w in text.split(",")]
    except ValueError as exc:
        raise ConfigError(f"--weights {text!r}: comma-separated numbers expected") from exc
    if len(values) != n_runs:
        raise ConfigError(f"--weights has {len(values)} values for {n_runs} runs")
    return {run_name(i): w for i, w in enumerate(values)}


@app.command()
def fuse(
    runs: RunsArg,
    out_file: Annotated[
        Path, typer.Option("--out", "--output", "-o", help="Where to write the fused run.")
    ],
    method: Annotated[str, typer.Option(help=f"One of {', '.join(METHODS)}.")] = "rrf",
    norm: Annotated[
        str,
        typer.Option(
            help=f"Score normalization of each run: default (the method's) or one of "
            f"{', '.join(NORMALIZERS)}."
        ),
    ] = "default",
    rrf_k: Annotated[float, typer.Option("--rrf-k", "--rrf.k", help="RRF rank constant.")] = 60.0,
    weights: Annotated[
        str | None,
        typer.Option(help="Comma-separated weight of each run, in order (default: 1 each)."),
    ] = None,
    alpha: Annotated[
        float,
        typer.Option(help="Weight of the second of two runs with convex (the first: 1 - alpha)."),
    ] = 0.5,
    missing: Annotated[
        str,
        typer.Option(
            help=f"Score of a document absent from a run: one of {', '.join(MISSING)} "
            "(skip leaves the run out, as ranx's max does)."
        ),
    ] = "zero",
    k: Annotated[int, typer.Option("-k", "--k", help="Fused hits written per query.")] = 1000,
    depth: Annotated[
        int | None, typer.Option(help="Hits read from each run per query (default: all).")
    ] = None,
    run_tag: Annotated[
        str | None,
        typer.Option(
            "--run-tag", "--runtag", help="Tag of the fused run (default: hybridir-METHOD)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fuse TREC run files into one run, query by query.

    Each run is ranked by score (ties by doc id; the rank column is ignored, as trec_eval
    does), fused with the method's normalization and weights, and the fused run is written
    in the same order: score descending, ties by doc id.

    Example: hybridir fuse bm25.run dense.run --method rrf --out rrf.run
    """
    from hybridir.eval.run_fusion import check_method, fuse_runs
    from hybridir.eval.trec import write_run

    config = FusionConfig(
        method=check_method(method),
        norm=norm,
        rrf_k=rrf_k,
        alpha=alpha,
        missing=missing,
        weights=_weights(weights, len(runs)),
    )
    check_writable(out_file)
    tag = run_tag or f"hybridir-{method}"
    fused = fuse_runs([read_run_file(path) for path in runs], config, k=k, depth=depth)
    write_run(fused, out_file, tag=tag)
    hits = sum(len(h) for h in fused.values())
    summary = {"out": str(out_file), "queries": len(fused), "hits": hits, "tag": tag}
    if as_json:
        print_json({**summary, "runs": [str(p) for p in runs], "fusion": config.to_dict()})
        return
    err.print(
        f"fused {len(runs)} runs ({method}) into {out_file}: {len(fused)} queries, {hits} hits",
        markup=False,
    )


@app.command("eval")
def eval_run(
    run_file: Annotated[Path, typer.Argument(help="TREC run file.")],
    qrels: Annotated[str, typer.Argument(help=QrelsHelp)],
    metrics: MetricsOpt = DEFAULT_METRICS,
    per_query: Annotated[
        bool, typer.Option("--per-query", "-q", help="Also give each query's values.")
    ] = False,
    split: SplitOpt = "test",
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a TREC run file against judgments with trec_eval's measures.

    Means are over every judged query; a judged query the run misses scores 0 (trec_eval -c).
    With --per-query the lines read like trec_eval -q: metric, query id, value, and the
    means under the id all.

    Example: hybridir eval bm25.run qrels.test.txt --metrics ndcg_cut_10,P_5,recip_rank -q
    """
    from hybridir.eval.metrics import evaluate_per_query, mean_over_queries

    names = _metric_names(metrics)
    judged = load_qrels(qrels, split)
    run = read_run_file(run_file)
    _coverage(str(run_file), run, judged)
    values = evaluate_per_query(run, judged, names)
    means = {name: mean_over_queries(values[name]) for name in names}
    if as_json:
        result: dict[str, object] = {"run": str(run_file), "queries": len(judged), **means}
        if per_query:
            result["per_query"] = values
        print_json(result)
        return
    if per_query:
        for qid in sorted(judged):
            for name in names:
                print(f"{name}\t{qid}\t{values[name][qid]:.4f}")
        for name in names:
            print(f"{name}\tall\t{means[name]:.4f}")
        return
    _print_means(f"{run_file} ({len(judged)} queries)", means)


def _print_means(title: str, means: dict[str, float]) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in means.items():
        table.add_row(name, f"{value:.4f}")
    out.print(table)


def _run_names(paths: list[Path]) -> list[str]:
    """Each run's name in the report: its file name without suffix, or the path as given
    when two runs would share a name."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = [str(p) for p in paths]
    if len(set(names)) != len(names):
        raise ConfigError(f"a run file is given twice: {names}")
    return names


def _baseline(given: str | None, names: list[str], paths: list[Path]) -> str | None:
    """The baseline's run name, given as a name or as the path on the command line."""
    if given is None or given in names:
        return given
    as_given = [str(p) for p in paths]
    if given not in as_given:
        raise ConfigError(f"unknown baseline {given!r}; valid: {names}")
    return names[as_given.index(given)]


def _output_format(chosen: str, out_file: Path | None) -> str:
    """The text format of ``--out``: ``--format``, or the file's suffix with ``table``."""
    from hybridir.eval.compare import SUFFIXES

    if chosen != "table" or out_file is None:
        return chosen
    implied = SUFFIXES.get(out_file.suffix.lower())
    if implied is None:
        raise ConfigError(
            f"cannot tell the format of {out_file} from its suffix; give --format "
            f"(markdown, latex, csv) or a suffix among {sorted(SUFFIXES)}"
        )
    return implied


@app.command()
def compare(
    runs: RunsArg,
    qrels: Annotated[str, typer.Option(help=QrelsHelp)],
    metrics: MetricsOpt = DEFAULT_METRICS,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="The run the others are tested against, by file or name (default: the first)."
        ),
    ] = None,
    test: Annotated[
        str, typer.Option(help="Paired test: randomization (10,000 sign flips) or t-test.")
    ] = "randomization",
    correction: Annotated[
        str,
        typer.Option(help="Multiple-comparison correction over the runs: none, bonferroni, holm."),
    ] = "none",
    alpha: Annotated[float, typer.Option(help="Significance level of the marks.")] = 0.05,
    output_format: Annotated[
        str, typer.Option("--format", help=f"Output: {', '.join(COMPARE_FORMATS)}.")
    ] = "table",
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write the comparison here, as --format or by suffix (.md, .tex, .csv).",
        ),
    ] = None,
    split: SplitOpt = "test",
    as_json: JsonOpt = False,
) -> None:
    """Compare run files on the same judgments, with paired significance tests.

    Each run's metrics are tested query by query against the baseline; a mark shows a run
    significantly better or worse than it, and the best value of each metric is bold.

    Example: hybridir compare bm25.run rrf.run --qrels adi --metrics ndcg@10,P_5 --format markdown
    """
    from hybridir.eval.compare import FORMATS, check_settings, compare_runs

    check_settings(test, correction, alpha)
    if output_format not in COMPARE_FORMATS:
        raise ConfigError(f"unknown format {output_format!r}; valid: {list(COMPARE_FORMATS)}")
    file_format = _output_format(output_format, out_file)
    names = _run_names(runs)
    base = _baseline(baseline, names, runs)
    wanted = _metric_names(metrics)
    judged = load_qrels(qrels, split)
    loaded: dict[str, Run] = {}
    for name, path in zip(names, runs, strict=True):
        loaded[name] = read_run_file(path)
        _coverage(name, loaded[name], judged)
    comparison = compare_runs(loaded, judged, wanted, base, test, correction, alpha)
    if out_file is not None:
        atomic_write_text(out_file, FORMATS[file_format](comparison))
    if as_json:
        print_json(comparison.to_dict())
    elif output_format == "table":
        _print_comparison(comparison)
    else:
        sys.stdout.write(FORMATS[output_format](comparison))


def _print_comparison(comparison: Comparison) -> None:
    from rich.table import Table
    from rich.text import Text

    c = comparison
    table = Table(title=f"{len(c.runs)} runs, {c.n_queries} queries")
    table.add_column("run")
    for metric in c.metrics:
        table.add_column(metric, justify="right")
    for run in c.runs:
        cells = [
            Text(
                f"{c.cells[run][metric].mean:.4f}{c.mark(run, metric)}",
                style="bold" if c.best(metric) == run else "",
            )
            for metric in c.metrics
        ]
        table.add_row(Text(run), *cells)
    out.print(table)
    out.print(f"▲/▼: {c.legend()}", markup=False, soft_wrap=True)
