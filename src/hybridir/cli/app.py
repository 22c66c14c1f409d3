"""Command-line interface: a thin adapter over the library (``hybridir --help``).

Every command reports errors as one ``error: …`` line on stderr with exit status 1 (2 for
usage errors); progress goes to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from rich.console import Console

from hybridir.errors import HybridirError

OPENED: list[Any] = []
"""Collections a command opened (``options.open_collection``); :func:`main` closes them
when the command ends (a sharded one stops its shard actors)."""

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False
)
"""The one typer app; each command module registers its commands on it."""
out = Console()
"""Results (stdout)."""
err = Console(stderr=True)
"""Progress, timings and errors (stderr), so ``--json`` output on stdout stays parseable."""


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
