"""The skip gate of tests/conftest.py, run on small test files through pytest's pytester:
with ``HYBRIDIR_REQUIRE_ALL=1`` a skipped test (or a module skipped at collection) fails the
run and is listed with its reason; without it, skips pass as usual."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text(encoding="utf-8")
ENV = "HYBRIDIR_REQUIRE_ALL"

SKIPPING = """
import pytest

def test_runs():
    assert 1 + 1 == 2

def test_needs_data():
    pytest.skip("shared datasets folder not found")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False
"""
MODULE_SKIP = """
import pytest
pytest.skip("needs Debian's chromium", allow_module_level=True)

def test_page():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate_data=SKIPPING, test_gate_browser=MODULE_SKIP)
    return pytester


def test_skips_pass_without_the_variable(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)  # CI sets it for the outer run
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert ENV not in result.stdout.str()


@pytest.mark.parametrize("value", ["1", "0"])
def test_skips_fail_the_run_with_the_variable(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(ENV, value)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    if value == "0":  # "0" means off
        assert result.ret == pytest.ExitCode.OK
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*{ENV}: skipped tests fail this run*",
            "SKIPPED test_gate_browser.py: Skipped: needs Debian's chromium",
            "SKIPPED test_gate_data.py::test_needs_data: Skipped: shared datasets folder not found",
            "2 skipped; install what they need*",
        ]
    )
    assert "test_known_bug" not in result.stdout.str().split(ENV)[1]  # xfail is no skip


def test_a_run_without_skips_passes_with_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fine="def test_fine():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert ENV not in result.stdout.str()


def test_allowed_skips_are_excused(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    empty = "ALLOWED_SKIPS: dict[str, str] = {}"
    assert CONFTEST.count(empty) == 1
    allowed = 'ALLOWED_SKIPS: dict[str, str] = {"test_gate_browser.py": "no display in CI"}'
    suite.makeconftest(CONFTEST.replace(empty, allowed))
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_needs_data is not excused
    summary = result.stdout.str().split(ENV)[1]
    assert "test_needs_data" in summary
    assert "test_gate_browser" not in summary


def test_skips_on_xdist_workers_fail_the_run(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make unit`` runs pytest -n 2: the workers' skips reach the controller."""
    pytest.importorskip("xdist")
    monkeypatch.setenv(ENV, "1")
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_gate_data.py::test_needs_data: *"])
    result.stdout.fnmatch_lines(["SKIPPED test_gate_browser.py: *"])
