"""Cross-validation over judged queries and confidence intervals for the gain.

Folds split queries (never documents), so every reported number comes from queries the
model or setting was not chosen on. The interval is a paired percentile bootstrap over
queries (Efron & Tibshirani 1993; Sakai, SIGIR 2006 for IR), the p-value a paired
randomization test (Smucker et al., CIKM 2007).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError
from hybridir.eval.significance import randomization_test

Array = NDArray[np.float64]


def query_folds(n_queries: int, n_folds: int, seed: int = 0) -> list[NDArray[np.int64]]:
    """Positions of the held-out queries of each fold (a seeded permutation, split evenly)."""
    if n_folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {n_folds}")
    if n_queries < n_folds:
        raise ConfigError(f"{n_queries} judged queries cannot fill {n_folds} folds")
    order = np.random.default_rng(seed).permutation(n_queries)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, n_folds)]


def bootstrap_ci(
    diffs: Array, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired per-query differences."""
    rng = np.random.default_rng(seed)
    n = len(diffs)
    means = np.empty(resamples)
    for start in range(0, resamples, 256):
        size = min(256, resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start : start + size] = diffs[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


class CVReport(NamedTuple):
    """Cross-validated comparison of a learned choice against a baseline, per query."""

    metric: str
    baseline: float
    learned: float
    gain: float
    ci_low: float
    ci_high: float
    p_value: float
    n_queries: int
    n_folds: int

    def describe(self) -> str:
        return (
            f"{self.metric}: {self.baseline:.4f} → {self.learned:.4f} "
            f"(cross-validated gain {self.gain:+.4f}, 95% CI [{self.ci_low:+.4f}, "
            f"{self.ci_high:+.4f}], p={self.p_value:.3g}, {self.n_queries} queries, "
            f"{self.n_folds} folds)"
        )


def report(
    metric: str, qids: Sequence[str], baseline: Array, learned: Array, n_folds: int
) -> CVReport:
    """Summarize out-of-fold per-query values of ``learned`` against ``baseline``."""
    low, high = bootstrap_ci(learned - baseline)
    test = randomization_test(
        dict(zip(qids, baseline.tolist(), strict=True)),
        dict(zip(qids, learned.tolist(), strict=True)),
    )
    return CVReport(
        metric,
        float(baseline.mean()),
        float(learned.mean()),
        float((learned - baseline).mean()),
        low,
        high,
        test.p_value,
        len(qids),
        n_folds,
    )
