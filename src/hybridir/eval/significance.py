"""Paired significance tests over per-query metric values of two systems.

Both tests follow Smucker, Allan and Carterette, "A Comparison of Statistical Significance
Tests for Information Retrieval Evaluation", CIKM 2007, who recommend the randomization test
and find the paired t-test in close agreement with it. ``a`` is the baseline, ``b`` the
candidate, and ``delta = mean_b - mean_a`` (positive when ``b`` is better).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from hybridir.errors import ConfigError, InvalidInputError

_BATCH = 1024
"""Resamples drawn per batch: bounds memory at ``_BATCH * n_queries`` floats."""


class SignificanceResult(NamedTuple):
    """Outcome of a paired test of ``b`` against ``a``.

    ``statistic`` is the t statistic (t-test) or the observed mean difference (randomization),
    signed so that it is positive when ``b`` is better; ``p_value`` is two-sided.
    """

    mean_a: float
    mean_b: float
    delta: float
    statistic: float
    p_value: float
    n_queries: int
    method: str


def _paired(
    a: Mapping[str, float], b: Mapping[str, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Align two per-query mappings by qid (sorted) into arrays, checking that they pair up."""
    if a.keys() != b.keys():
        only_a = sorted(set(a) - set(b))[:5]
        only_b = sorted(set(b) - set(a))[:5]
        raise InvalidInputError(
            f"paired tests need the same queries in both runs; only in a: {only_a}, "
            f"only in b: {only_b} (evaluate both runs against the same qrels)"
        )
    if len(a) < 2:
        raise InvalidInputError(f"paired tests need at least 2 queries, got {len(a)}")
    qids = sorted(a)
    xs = np.array([a[q] for q in qids], dtype=np.float64)
    ys = np.array([b[q] for q in qids], dtype=np.float64)
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise InvalidInputError("per-query values must be finite numbers")
    return xs, ys


def _result(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    statistic: float,
    p_value: float,
    method: str,
) -> SignificanceResult:
    mean_a, mean_b = float(np.mean(xs)), float(np.mean(ys))
    return SignificanceResult(mean_a, mean_b, mean_b - mean_a, statistic, p_value, len(xs), method)


def paired_t_test(a: Mapping[str, float], b: Mapping[str, float]) -> SignificanceResult:
    """Two-sided paired Student t-test of ``b`` against ``a`` (``scipy.stats.ttest_rel``).

    When every per-query difference is the same, the t statistic is undefined (zero
    variance): the result is ``statistic=0, p=1`` for no difference and ``statistic=±inf,
    p=0`` for a constant non-zero difference.

    Args:
        a: baseline ``{qid: value}``, e.g. ``evaluate_per_query(...)["ndcg@10"]``.
        b: candidate ``{qid: value}`` over the same qids.

    Returns:
        The means, ``delta = mean_b - mean_a``, t statistic (positive when ``b`` is better),
        two-sided p-value, number of queries and ``method="paired_t_test"``.

    Raises:
        InvalidInputError: the qid sets differ, fewer than 2 queries, or a non-finite value.

    Example:
        >>> r = paired_t_test({"q1": 0.2, "q2": 0.4, "q3": 0.3}, {"q1": 0.5, "q2": 0.6, "q3": 0.6})
        >>> round(r.delta, 6), r.p_value < 0.05
        (0.266667, True)
    """
    from scipy import stats

    xs, ys = _paired(a, b)
    diffs = ys - xs
    if np.ptp(diffs) == 0.0:
        mean_diff = float(diffs[0])
        statistic = math.copysign(math.inf, mean_diff) if mean_diff else 0.0
        return _result(xs, ys, statistic, 0.0 if mean_diff else 1.0, "paired_t_test")
    test = stats.ttest_rel(ys, xs, alternative="two-sided")
    return _result(xs, ys, float(test.statistic), float(test.pvalue), "paired_t_test")


def randomization_test(
    a: Mapping[str, float],
    b: Mapping[str, float],
    n_resamples: int = 10_000,
    seed: int = 0,
) -> SignificanceResult:
    """Two-sided Fisher paired randomization (sign-flip permutation) test on the mean difference.

    Under the null hypothesis the two systems are exchangeable per query, so each difference
    ``b[q] - a[q]`` is equally likely to have either sign (Fisher 1935; Smucker, Allan and
    Carterette, CIKM 2007). We draw ``n_resamples`` random sign vectors, and the p-value is
    ``(1 + #{|mean of flipped differences| >= |observed mean|}) / (1 + n_resamples)``, which
    counts the observed assignment as one resample so that p is never 0 (Phipson and Smyth,
    "Permutation P-values Should Never Be Zero", 2010). Identical runs give ``p = 1``.

    Args:
        a: baseline ``{qid: value}``.
        b: candidate ``{qid: value}`` over the same qids.
        n_resamples: number of random sign assignments (>= 1).
        seed: seed of ``numpy.random.default_rng``; equal inputs and seed give equal results.

    Returns:
        The means, ``delta``, ``statistic`` (= ``delta``), two-sided p-value, number of queries
        and ``method="randomization_test"``.

    Raises:
        ConfigError: ``n_resamples < 1``.
        InvalidInputError: the qid sets differ, fewer than 2 queries, or a non-finite value.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    xs, ys = _paired(a, b)
    diffs = ys - xs
    observed = float(np.mean(ys)) - float(np.mean(xs))  # == delta, bit for bit
    # Flipped means can differ from |observed| by rounding only; count those as ties.
    threshold = abs(observed) - 1e-12 * max(1.0, abs(observed))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, n_resamples, _BATCH):
        size = min(_BATCH, n_resamples - start)
        signs = rng.integers(0, 2, size=(size, diffs.size), dtype=np.int8) * 2 - 1
        means = signs @ diffs / diffs.size
        extreme += int(np.count_nonzero(np.abs(means) >= threshold))
    p_value = (extreme + 1) / (n_resamples + 1)
    return _result(xs, ys, observed, p_value, "randomization_test")


# -- multiple comparisons: several runs tested against one baseline ---------------------------


def _no_correction(p_values: Sequence[float]) -> list[float]:
    """The p-values unchanged."""
    return [float(p) for p in p_values]


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Bonferroni's adjustment: each p-value times the number of tests, capped at 1.

    Controls the family-wise error rate (Dunn, "Multiple Comparisons Among Means", JASA 1961).
    """
    m = len(p_values)
    return [min(1.0, float(p) * m) for p in p_values]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm, "A Simple Sequentially Rejective Multiple Test
    Procedure", Scand. J. Statistics 1979): the i-th smallest of m p-values (0-based) is
    multiplied by ``m - i``, made non-decreasing along that order and capped at 1. Uniformly
    more powerful than Bonferroni, with the same family-wise guarantee."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for i, j in enumerate(sorted(range(m), key=lambda j: (p_values[j], j))):
        running = max(running, min(1.0, (m - i) * float(p_values[j])))
        adjusted[j] = running
    return adjusted


CORRECTIONS: dict[str, Callable[[Sequence[float]], list[float]]] = {
    "none": _no_correction,
    "bonferroni": bonferroni,
    "holm": holm,
}
"""Multiple-comparison adjustments of a family of p-values, by name."""

TESTS: dict[str, Callable[[Mapping[str, float], Mapping[str, float]], SignificanceResult]] = {
    "randomization": randomization_test,
    "t-test": paired_t_test,
}
"""Paired tests by name (each with its defaults: 10,000 resamples and seed 0 for the
randomization test)."""


def adjust_p_values(p_values: Sequence[float], correction: str) -> list[float]:
    """Adjust a family of p-values for multiple comparisons.

    Args:
        p_values: one p-value per test of the family.
        correction: a :data:`CORRECTIONS` name: ``"none"``, ``"bonferroni"`` or ``"holm"``.

    Returns:
        The adjusted p-values, in the order given.

    Raises:
        ConfigError: an unknown correction (the message lists the valid ones).

    Example:
        >>> adjust_p_values([0.01, 0.04, 0.03], "holm")
        [0.03, 0.06, 0.06]
    """
    method = CORRECTIONS.get(correction)
    if method is None:
        raise ConfigError(f"unknown correction {correction!r}; valid: {sorted(CORRECTIONS)}")
    return method(p_values)
