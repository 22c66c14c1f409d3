"""Paired t-test and randomization test: scipy oracle, exact enumeration, edge cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from hybridir.errors import ConfigError, InvalidInputError
from hybridir.eval import SignificanceResult, paired_t_test, randomization_test


def _per_query(values: list[float]) -> dict[str, float]:
    return {f"q{i}": v for i, v in enumerate(values)}


rng = np.random.default_rng(42)
BASE = _per_query(list(rng.uniform(0.2, 0.8, size=30)))
BETTER = {q: v + 0.1 + float(rng.normal(0, 0.02)) for q, v in BASE.items()}
NOISY = {q: v + float(rng.normal(0, 0.1)) for q, v in BASE.items()}


def test_identical_runs_give_p_one_and_zero_delta() -> None:
    for result in (paired_t_test(BASE, dict(BASE)), randomization_test(BASE, dict(BASE))):
        assert result.delta == 0.0
        assert result.p_value == 1.0
        assert result.n_queries == 30


def test_clearly_better_run_is_significant() -> None:
    t = paired_t_test(BASE, BETTER)
    r = randomization_test(BASE, BETTER)
    assert t.p_value < 0.05
    assert r.p_value < 0.05
    assert t.delta == pytest.approx(r.delta)
    assert t.delta > 0.05
    assert t.statistic > 0  # positive when b is better
    assert r.statistic == r.delta
    assert r.p_value == pytest.approx(1 / 10_001)  # no flip reaches the observed mean


def test_t_test_matches_scipy() -> None:
    result = paired_t_test(BASE, NOISY)
    qids = sorted(BASE)
    expected = stats.ttest_rel([NOISY[q] for q in qids], [BASE[q] for q in qids])
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert result == SignificanceResult(
        mean_a=pytest.approx(float(np.mean(list(BASE.values())))),
        mean_b=pytest.approx(float(np.mean(list(NOISY.values())))),
        delta=pytest.approx(result.mean_b - result.mean_a),
        statistic=result.statistic,
        p_value=result.p_value,
        n_queries=30,
        method="paired_t_test",
    )


def test_randomization_matches_exact_enumeration() -> None:
    a = _per_query([0.1, 0.4, 0.35, 0.8, 0.5, 0.2, 0.6, 0.3, 0.45, 0.7])
    b = _per_query([0.2, 0.35, 0.5, 0.85, 0.6, 0.25, 0.55, 0.5, 0.5, 0.65])
    diffs = np.array([b[q] - a[q] for q in sorted(a)])
    observed = abs(diffs.mean())
    flips = np.array(list(itertools.product([-1, 1], repeat=diffs.size)))
    exact = float(np.mean(np.abs(flips @ diffs / diffs.size) >= observed - 1e-12))
    estimate = randomization_test(a, b, n_resamples=20_000, seed=3).p_value
    assert estimate == pytest.approx(exact, abs=0.01)
    assert 0.01 < exact < 0.5  # a borderline case, so the check is informative


def test_randomization_is_deterministic_for_a_seed() -> None:
    first = randomization_test(BASE, NOISY, n_resamples=2000, seed=7)
    assert randomization_test(BASE, NOISY, n_resamples=2000, seed=7) == first
    others = {randomization_test(BASE, NOISY, n_resamples=2000, seed=s).p_value for s in range(5)}
    assert len(others) > 1
    assert first.method == "randomization_test"


def test_constant_difference_t_test() -> None:
    a = _per_query([0.25, 0.5, 0.75])
    b = _per_query([0.5, 0.75, 1.0])
    result = paired_t_test(a, b)
    assert (result.statistic, result.p_value) == (math.inf, 0.0)
    assert paired_t_test(b, a).statistic == -math.inf


def test_invalid_inputs() -> None:
    with pytest.raises(InvalidInputError, match="only in a"):
        paired_t_test({"q1": 0.1, "q2": 0.2}, {"q1": 0.1, "q3": 0.2})
    with pytest.raises(InvalidInputError, match="at least 2"):
        randomization_test({"q1": 0.1}, {"q1": 0.2})
    with pytest.raises(InvalidInputError, match="finite"):
        paired_t_test({"q1": 0.1, "q2": float("nan")}, {"q1": 0.1, "q2": 0.2})
    for bad in (0, -5, 2.5):
        with pytest.raises(ConfigError):
            randomization_test(BASE, NOISY, n_resamples=bad)  # type: ignore[arg-type]
