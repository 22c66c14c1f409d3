"""The documentation site: ``mkdocs build --strict`` passes, and its reference pages name every
CLI command (with every option) and every public name of ``hybridir``.

The site is built once, into a temporary folder, by the same command ``make docs`` runs
(about 8 s). The CLI is walked through click, so a command added to the app later must
appear in the reference without anyone editing the docs.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "docs" / "_hooks"

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e .[docs])")
pytest.importorskip("material", reason="mkdocs-material is not installed (the docs extra)")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is missing")


def _load(name: str) -> ModuleType:
    """A module of ``docs/_hooks`` by file, as MkDocs and Griffe load them."""
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", HOOKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (``mkdocs build --strict``, as ``make docs``)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def _commands(command: Any, ctx: Any) -> Iterator[tuple[str, Any, Any]]:
    """(command path, command, context) of every visible command below ``command``."""
    import typer

    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = typer.Context(sub, info_name=name, parent=ctx)
        yield sub_ctx.command_path, sub, sub_ctx
        yield from _commands(sub, sub_ctx)


def _cli_commands() -> list[tuple[str, Any, Any]]:
    import typer
    import typer.main

    from hybridir.cli import app

    group = typer.main.get_command(app)
    return list(_commands(group, typer.Context(group, info_name="hybridir")))


def _section(page: str, anchor: str) -> str:
    """The HTML of one command's section: from its heading to the next ``h2``/``h3``."""
    start = page.index(f'id="{anchor}"')
    following = re.compile(r"<h[23] ").search(page, start + 1)
    return page[start : following.start() if following else len(page)]


def test_every_cli_command_and_option_is_in_the_reference(site: Path) -> None:
    hook = _load("cli_reference")
    page = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    commands = _cli_commands()
    names = {path.split()[-1] for path, _, _ in commands}
    assert {"index", "search", "evaluate", "serve", "fuse", "eval", "compare"} <= names
    for path, command, ctx in commands:
        anchor = hook._anchor(path)
        assert f'id="{anchor}"' in page, f"{path} has no section in the CLI reference"
        # the section's text: tags dropped (highlighted code is split into spans), then unescaped
        text = html.unescape(re.sub(r"<[^>]+>", "", _section(page, anchor)))
        for param in command.get_params(ctx):
            if param.get_help_record(ctx) is None:  # hidden
                continue
            for flag in param.opts:
                shown = re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
                assert shown, f"{path}: {flag} missing from its reference section"
        for line in (command.help or "").splitlines():
            if line.startswith("Example:"):
                example = line.removeprefix("Example:").strip()
                assert example in text, f"{path}: its example is missing: {example}"


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    import hybridir

    pages = "".join(
        (site / "reference" / name).read_text(encoding="utf-8")
        for name in ("api.html", "config.html")
    )
    missing = [name for name in hybridir.__all__ if f'id="hybridir.{name}"' not in pages]
    assert missing == []


def test_the_benchmark_tables_are_pages(site: Path) -> None:
    for name in ("benchmarks.html", "results.html", "scaling.html", "architecture.html"):
        assert "<table>" in (site / name).read_text(encoding="utf-8"), name


def test_help_text_becomes_markdown_with_example_blocks() -> None:
    hook = _load("cli_reference")
    text = "Index it.\n\nRead 'snowball:<algorithm>' & `a <b>` too.\nExample: hybridir index a b"
    assert list(hook._help_text(text)) == [
        "Index it.\n",
        "Read 'snowball:&lt;algorithm&gt;' &amp; `a <b>` too.\n",
        "Example:\n\n```bash\nhybridir index a b\n```\n",
    ]
    assert hook._cell("a | b\n c") == "a &#124; b c"
    assert hook._anchor("hybridir copy-model") == "hybridir-copy-model"


def test_docstrings_lose_sphinx_roles_and_gain_example_sections() -> None:
    griffe_docs = _load("griffe_docstrings")
    text = "See :func:`~hybridir.fusion.fuse` and :mod:`hybridir.eval`.\n\nExample:\n    >>> 1\n"
    assert griffe_docs.markdown_docstring(text) == (
        "See `fuse` and `hybridir.eval`.\n\nExamples:\n    >>> 1\n"
    )
