"""The CLI's shape: option groups declared once and added by ``with_options``, one helper that
opens a collection, light imports, and every command's ``--help`` rendering."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from hybridir.cli import app, entry_point, main
from hybridir.cli.options import (
    FusionOptions,
    RerankOptions,
    analyzer_options,
    bm25_options,
    fusion_depth_options,
    fusion_options,
)
from hybridir.cli.signature import with_options
from hybridir.config import AnalyzerConfig, BM25Config, FusionConfig
from hybridir.errors import ConfigError

CLI = Path(__file__).resolve().parents[2] / "src" / "hybridir" / "cli"
COMMANDS = [
    "index",
    "add",
    "sync",
    "delete",
    "check",
    "optimize",
    "search",
    "evaluate",
    "fuse",
    "eval",
    "compare",
    "tune",
    "calibrate",
    "train",
    "copy-model",
    "serve",
    "benchmark",
    "demo",
]


def commands() -> dict[str, Any]:
    """The click commands typer builds from the app (typer vendors its own click)."""
    built: dict[str, Any] = get_command(app).commands  # type: ignore[attr-defined]
    return built


def options_of(command: str) -> dict[str, Any]:
    params = commands()[command].params
    return {p.name: p for p in params if p.param_type_name == "option"}


def test_a_group_stands_in_for_its_parameter() -> None:
    seen: list[object] = []

    @with_options(analyzer=analyzer_options)
    def command(source: str, *, analyzer: AnalyzerConfig, verbose: bool = False) -> None:
        seen.append((source, analyzer, verbose))

    names = list(inspect.signature(command).parameters)
    assert names == ["source", "language", "stemmer", "verbose"]
    kinds = {p.kind for p in inspect.signature(command).parameters.values()}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}  # typer passes everything by name
    command(source="s", language="pl", stemmer="none", verbose=True)
    assert seen == [("s", AnalyzerConfig(language="pl", stemmer="none"), True)]


def test_a_group_can_extend_another() -> None:
    names = list(inspect.signature(fusion_depth_options).parameters)
    assert names == [*inspect.signature(fusion_options).parameters, "sparse_depth", "dense_depth"]
    built = fusion_depth_options(
        fusion="rrf",
        norm=None,
        alpha=None,
        rrf_k=10.0,
        missing=None,
        sparse_depth=50,
        dense_depth=None,
    )
    assert built == FusionOptions(method="rrf", rrf_k=10.0, depths={"bm25": 50})


def test_groups_refuse_clashes_and_unknown_parameters() -> None:
    def twice(*, analyzer: AnalyzerConfig, language: str = "en") -> None:
        del analyzer, language

    with pytest.raises(TypeError, match=r"\['language'\] declared twice"):
        with_options(analyzer=analyzer_options)(twice)

    def nothing() -> None:
        pass

    with pytest.raises(TypeError, match=r"no parameter\(s\) \['bm25'\]"):
        with_options(bm25=bm25_options)(nothing)


def test_typer_runs_a_grouped_command() -> None:
    got: list[BM25Config] = []
    mini = typer.Typer()

    @mini.command()
    @with_options(bm25=bm25_options)
    def run(name: Annotated[str, typer.Argument()], *, bm25: BM25Config) -> None:
        got.append(bm25)

    result = CliRunner().invoke(mini, ["x", "--k1", "0.9", "--b", "0.4"])
    assert result.exit_code == 0, result.output
    assert got == [BM25Config(k1=0.9, b=0.4)]


def test_fusion_options_override_only_what_was_given() -> None:
    base = FusionConfig(method="rrf", rrf_k=30.0, depths={"bm25": 100, "dense": 200})
    assert FusionOptions().over(base) == base
    changed = FusionOptions(method="convex", alpha=0.7, depths={"dense": 50}).over(base)
    assert changed == FusionConfig(
        method="convex", alpha=0.7, rrf_k=30.0, depths={"bm25": 100, "dense": 50}
    )
    with pytest.raises(ConfigError, match="alpha must be in"):
        FusionOptions(alpha=2.0).over(base)


def test_rerank_flag() -> None:
    assert RerankOptions().flag is None
    assert RerankOptions(skip=True).flag is False


@pytest.mark.parametrize(
    ("group", "commands"),
    [
        (analyzer_options, ["index", "evaluate"]),
        (bm25_options, ["index", "evaluate"]),
        (fusion_depth_options, ["index", "evaluate"]),
        (fusion_options, ["index", "search", "evaluate"]),
    ],
)
def test_shared_options_are_the_same_everywhere(
    group: Callable[..., object], commands: list[str]
) -> None:
    names = list(inspect.signature(group).parameters)
    first, *others = commands
    for name in names:
        option = options_of(first)[name]
        for other in others:
            again = options_of(other)[name]
            assert (again.opts, again.help, again.default) == (
                option.opts,
                option.help,
                option.default,
            )


def test_every_command_is_registered_in_order_and_its_help_renders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert list(commands()) == COMMANDS
    for command in COMMANDS:
        assert main([command, "--help"]) == 0
        assert "Traceback" not in capsys.readouterr().err


def test_one_helper_opens_collections() -> None:
    """Every command reaches an existing collection through ``open_collection``, which
    opens one collection or a sharded one (hybridir.distributed.opening)."""
    opens = {
        path.name: len(
            re.findall(r"Collection\.open\(|ShardedCollection\(", path.read_text(encoding="utf-8"))
        )
        for path in CLI.glob("*.py")
    }
    assert {name: n for name, n in opens.items() if n} == {}
    options = (CLI / "options.py").read_text(encoding="utf-8")
    assert "from hybridir.distributed.opening import open_collection" in options


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in CLI.glob("*.py")}
    assert max(sizes.values()) < 400, sizes


def test_importing_the_cli_loads_no_command_dependencies() -> None:
    heavy = (
        "hybridir.eval.metrics",
        "hybridir.learn.tune",
        "hybridir.rerank",
        "hybridir.server.serving",
        "hybridir.distributed.indexing",
        "pytrec_eval",
        "torch",
        "lightgbm",
        "fastapi",
        "ray",
    )
    code = (
        "import sys, hybridir; before = set(sys.modules); import hybridir.cli; "
        f"print([m for m in {heavy!r} if m in sys.modules and m not in before])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_module_and_console_script_entry_points() -> None:
    scripts = entry_points(group="console_scripts", name="hybridir")
    assert [e.load() for e in scripts] == [entry_point]
    done = subprocess.run(
        [sys.executable, "-m", "hybridir.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert command in done.stdout
