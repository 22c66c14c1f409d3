"""Compare runs on one set of judgments: each run's metrics, each tested against a baseline.

What ranx's ``compare`` reports, with hybridir's paired tests (:mod:`hybridir.eval.significance`)
and a multiple-comparison correction applied, per metric, over the comparisons with the
baseline. Every query of the qrels counts (a query a run misses scores 0), so all runs pair
up query by query. The report renders as Markdown, LaTeX (booktabs) or CSV
(:data:`FORMATS`); the best mean of each metric is bold in Markdown and LaTeX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from hybridir.errors import ConfigError
from hybridir.eval.metrics import check_metrics, evaluate_per_query, mean_over_queries
from hybridir.eval.significance import CORRECTIONS, TESTS, adjust_p_values
from hybridir.types import Qrels, Run

TEST_NAMES = {"randomization": "paired randomization test", "t-test": "paired t-test"}
"""How each test of :data:`hybridir.eval.significance.TESTS` is named in a report."""


class Cell(NamedTuple):
    """One run's value of one metric and its test against the baseline (``None`` for the
    baseline itself)."""

    mean: float
    delta: float | None
    p_value: float | None
    p_adjusted: float | None


@dataclass(frozen=True)
class Comparison:
    """Runs × metrics with paired significance against a baseline.

    Attributes:
        runs: run names, in the order given.
        metrics: metric names, as given.
        baseline: the run the others are tested against.
        test: a :data:`~hybridir.eval.significance.TESTS` name.
        correction: a :data:`~hybridir.eval.significance.CORRECTIONS` name.
        alpha: significance level of the marks.
        n_queries: judged queries every value is averaged over.
        cells: ``{run: {metric: Cell}}``.
    """

    runs: tuple[str, ...]
    metrics: tuple[str, ...]
    baseline: str
    test: str
    correction: str
    alpha: float
    n_queries: int
    cells: Mapping[str, Mapping[str, Cell]]

    def significant(self, run: str, metric: str) -> bool:
        """Whether ``run`` differs from the baseline on ``metric`` (adjusted p < alpha)."""
        p = self.cells[run][metric].p_adjusted
        return p is not None and p < self.alpha

    def mark(self, run: str, metric: str, up: str = "▲", down: str = "▼") -> str:
        """``up`` / ``down`` when ``run`` is significantly better / worse, else ``""``."""
        if not self.significant(run, metric):
            return ""
        delta = self.cells[run][metric].delta
        return up if delta is not None and delta > 0 else down

    def best(self, metric: str) -> str:
        """The run with the highest mean of ``metric`` (the first given, on a tie)."""
        return max(self.runs, key=lambda run: self.cells[run][metric].mean)

    def legend(self) -> str:
        """One sentence saying what the marks mean."""
        corrected = "" if self.correction == "none" else f", {self.correction}-corrected"
        return (
            f"significantly better/worse than {self.baseline} ({TEST_NAMES[self.test]}"
            f"{corrected}, p < {self.alpha}, {self.n_queries} queries)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings and every cell."""
        return {
            "baseline": self.baseline,
            "test": self.test,
            "correction": self.correction,
            "alpha": self.alpha,
            "queries": self.n_queries,
            "runs": {
                run: {metric: cell._asdict() for metric, cell in self.cells[run].items()}
                for run in self.runs
            },
        }


def check_settings(test: str, correction: str, alpha: float) -> None:
    """Validate a comparison's test, correction and significance level before any work.

    Raises:
        ConfigError: an unknown test or correction (the message lists the valid ones), or
            alpha outside (0, 1).
    """
    if test not in TESTS:
        raise ConfigError(f"unknown test {test!r}; valid: {sorted(TESTS)}")
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction {correction!r}; valid: {sorted(CORRECTIONS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")


def compare_runs(
    runs: Mapping[str, Run],
    qrels: Qrels,
    metrics: Sequence[str],
    baseline: str | None = None,
    test: str = "randomization",
    correction: str = "none",
    alpha: float = 0.05,
) -> Comparison:
    """Evaluate each run and test it against the baseline, query by query.

    Args:
        runs: run name → ``{qid: {doc_id: score}}``, in report order.
        qrels: the judgments; the values are averaged over all of its queries.
        metrics: ranx-style or ``trec_eval`` names (:mod:`hybridir.eval.metrics`).
        baseline: the run the others are tested against (default: the first).
        test: ``"randomization"`` (10,000 sign flips, seed 0) or ``"t-test"``.
        correction: ``"none"``, ``"bonferroni"`` or ``"holm"``, over the other runs' tests
            of each metric.
        alpha: significance level of the marks.

    Returns:
        The comparison.

    Raises:
        ConfigError: no runs, an unknown baseline, test, correction or metric, or alpha
            outside (0, 1).
        InvalidInputError: fewer than 2 judged queries, or a NaN score.

    Example:
        >>> c = compare_runs({"bm25": bm25, "rrf": rrf}, qrels, ["ndcg@10"])  # doctest: +SKIP
        >>> c.cells["rrf"]["ndcg@10"].p_value  # doctest: +SKIP
        0.0021
    """
    names = list(runs)
    if not names:
        raise ConfigError("no runs to compare")
    base = names[0] if baseline is None else baseline
    if base not in runs:
        raise ConfigError(f"unknown baseline {base!r}; valid: {names}")
    check_settings(test, correction, alpha)
    wanted = check_metrics(metrics)
    per_query = {name: evaluate_per_query(run, qrels, wanted) for name, run in runs.items()}
    others = [name for name in names if name != base]
    cells: dict[str, dict[str, Cell]] = {name: {} for name in names}
    for metric in wanted:
        base_values = per_query[base][metric]
        results = [TESTS[test](base_values, per_query[name][metric]) for name in others]
        adjusted = adjust_p_values([r.p_value for r in results], correction)
        cells[base][metric] = Cell(mean_over_queries(base_values), None, None, None)
        for name, result, p_adj in zip(others, results, adjusted, strict=True):
            mean = mean_over_queries(per_query[name][metric])
            cells[name][metric] = Cell(mean, result.delta, result.p_value, p_adj)
    return Comparison(tuple(names), tuple(wanted), base, test, correction, alpha, len(qrels), cells)


def to_markdown(comparison: Comparison) -> str:
    """A Markdown table (runs × metrics, best in bold, ▲/▼ marks) and its legend."""
    c = comparison
    lines = [
        "| run | " + " | ".join(c.metrics) + " |",
        "|---|" + "---:|" * len(c.metrics),
    ]
    for run in c.runs:
        cells = []
        for metric in c.metrics:
            value = f"{c.cells[run][metric].mean:.4f}"
            cells.append((f"**{value}**" if c.best(metric) == run else value) + c.mark(run, metric))
        lines.append(f"| {_md_escape(run)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n▲/▼: {c.legend()}.\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


_LATEX_SPECIAL = {ch: "\\" + ch for ch in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex(text: str) -> str:
    """Escape LaTeX's special characters in a name."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(comparison: Comparison) -> str:
    """A booktabs ``tabular`` (best in bold, $\\uparrow$/$\\downarrow$ marks) and its legend
    as a LaTeX comment."""
    c = comparison
    lines = [
        r"\begin{tabular}{l" + "r" * len(c.metrics) + "}",
        r"\toprule",
        "Run & " + " & ".join(_tex(m) for m in c.metrics) + r" \\",
        r"\midrule",
    ]
    for run in c.runs:
        cells = []
        for metric in c.metrics:
            value = f"{c.cells[run][metric].mean:.4f}"
            if c.best(metric) == run:
                value = rf"\textbf{{{value}}}"
            cells.append(value + c.mark(run, metric, r"$^{\uparrow}$", r"$^{\downarrow}$"))
        lines.append(f"{_tex(run)} & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", f"% up/down arrows: {c.legend()}"]
    return "\n".join(lines) + "\n"


def to_csv(comparison: Comparison) -> str:
    """CSV: one row per run; per metric its mean and the (adjusted) p-value against the
    baseline (empty for the baseline), at full precision."""
    c = comparison
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", *[col for m in c.metrics for col in (m, f"{m} p")]])
    for run in c.runs:
        row = [run]
        for metric in c.metrics:
            cell = c.cells[run][metric]
            row += [repr(cell.mean), "" if cell.p_adjusted is None else repr(cell.p_adjusted)]
        writer.writerow(row)
    return buffer.getvalue()


FORMATS: dict[str, Callable[[Comparison], str]] = {
    "markdown": to_markdown,
    "latex": to_latex,
    "csv": to_csv,
}
"""Text renderings of a comparison by name."""

SUFFIXES: dict[str, str] = {".md": "markdown", ".tex": "latex", ".csv": "csv"}
"""The format a file name's suffix implies."""
