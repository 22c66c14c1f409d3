"""Every command's ``--help``: it renders, shows an example, and reads as plain sentences
(no ``<bool>`` beside flags, no doubled negatives, no raw backticks, no hard-wrapped
paragraphs, no word that the help renderer swallowed); and ``hybridir --version``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hybridir._version import __version__
from hybridir.cli import app, main
from hybridir.eval.runner import SYSTEMS

WIDE = {"COLUMNS": "1000"}
"""So wide that every paragraph of a help text fits on one line."""


def _commands() -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    found: dict[str, Any] = group.commands
    return found


def _help(name: str) -> str:
    args = [name, "--help"] if name else ["--help"]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def _paragraphs(text: str) -> list[str]:
    """A help text's paragraphs, each joined into one line, as they should render."""
    body = text.partition("\f")[0]
    joined = (" ".join(p.split()) for p in re.split(r"\n\s*\n", body))
    return [p.replace("`", "") for p in joined if p]


def _tokens(text: str) -> list[str]:
    return [t.replace("`", "") for t in text.split() if t.replace("`", "")]


@pytest.mark.parametrize("name", ["", *_commands()])
def test_help_renders_an_example_in_plain_sentences(name: str) -> None:
    shown = _help(name)
    assert re.search(r"^ *Example: hybridir ", shown, re.M), f"{name}: no 'Example: hybridir'"
    assert "<bool>" not in shown
    assert "no-no-" not in shown
    assert "`" not in shown  # neither ``double`` nor `single` backticks rendered raw
    flat = " ".join(shown.split())
    command: Any = typer.main.get_command(app)
    if name:
        command = command.commands[name]
    for paragraph in _paragraphs(command.help or ""):
        # one line each: typer kept no line break of the docstring, dropped no word
        assert paragraph in shown, f"{name}: paragraph not shown as one line: {paragraph!r}"
    for param in command.params:
        for token in _tokens(getattr(param, "help", None) or ""):
            assert token in flat, f"{name} {param.name}: {token!r} missing from the help"


def test_flags_show_no_type_and_rerank_has_one_negative() -> None:
    shown = _help("search")
    line = next(row for row in shown.splitlines() if "--no-rerank" in row)
    assert line.count("no-rerank") == 1
    assert re.search(r"--json\s+Print", shown)  # no type column for a flag


def test_benchmark_help_names_every_system() -> None:
    flat = " ".join(_help("benchmark").split())
    for name, system in SYSTEMS.items():
        assert f"{name}: {system.describe}" in flat


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    assert capsys.readouterr().out == f"hybridir {__version__}\n"
