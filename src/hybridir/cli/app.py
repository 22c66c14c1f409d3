"""Command-line interface: a thin adapter over the library (``hybridir --help``).

Every command reports errors as one ``error: …`` line on stderr with exit status 1 (2 for
usage errors); progress goes to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console

from hybridir._progress import ShowProgress
from hybridir._version import __version__
from hybridir.errors import HybridirError

OPENED: list[Any] = []
"""Collections a command opened (``options.open_collection``); :func:`main` closes them
when the command ends (a sharded one stops its shard actors)."""

HELP = """Hybrid BM25 + dense retrieval: index documents, search them, evaluate and tune.

Results go to stdout, progress and errors to stderr; every command takes --help.

Example: hybridir index ./mydocs ./col --dense all-MiniLM-L6-v2
"""
"""The app's help (``hybridir --help``)."""


def _untyped_flags(params: list[Any]) -> list[Any]:
    """``params`` with no type shown for on/off flags (typer prints ``<bool>`` for them, as
    if they took a value)."""
    for param in params:
        if isinstance(param, typer.core.TyperOption) and param.is_bool_flag:
            param.metavar = ""
    return params


class Group(typer.core.TyperGroup):
    """The app's command group: help without ``<bool>`` beside the flags of any command."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's own options (``--version``, ``--help``)."""
        return _untyped_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, its flags shown without a type."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _untyped_flags(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    help=HELP,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
"""The one typer app; each command module registers its commands on it."""
out = Console()
"""Results (stdout)."""
err = Console(stderr=True)
"""Progress, timings and errors (stderr), so ``--json`` output on stdout stays parseable."""


def print_json(data: Mapping[str, object]) -> None:
    """Print ``data`` as one JSON object on one line of stdout (``--json``; plain ``print``:
    rich would wrap or colour it)."""
    print(json.dumps(data, ensure_ascii=False))


def progress_to(as_json: bool) -> ShowProgress:
    """Where a command draws its progress bars: stderr (when it is a terminal), nowhere
    under ``--json``."""
    return False if as_json else err


def _print_version(value: bool) -> None:
    if value:
        out.print(f"hybridir {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """The options of ``hybridir`` itself (its help is :data:`HELP`)."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status instead of exiting (``hybridir`` entry point).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 1 for a :class:`~hybridir.errors.HybridirError` or an ``OSError``
        (reported as one ``error: …`` line on stderr), 2 for a usage error.

    Example:
        >>> main(["check", "scifact-col"])  # doctest: +SKIP
        ok: generation 1, 5183 documents in 1 segment(s)
        0
    """
    # a broken PDF is reported once, by name, as a skip reason: pypdf's own warnings about
    # it ("EOF marker not found") would only repeat that without naming the file
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        app(args=argv, prog_name="hybridir")
    except SystemExit as exc:  # typer's standalone mode ends with sys.exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (HybridirError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 1
    finally:
        while OPENED:
            OPENED.pop().close()
    return 0


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s status."""
    sys.exit(main())
