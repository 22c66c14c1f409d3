"""The ``hybridir`` command line: one typer app, its commands grouped by what they do.

``app`` holds the app, :func:`main` and the error handling; ``options`` the options several
commands share, each declared once, and ``open_collection``; ``signature`` how a command
takes a group of options. ``index``, ``maintain``, ``query``, ``runs``, ``learn``, ``serve``
and ``bench`` register their commands on the app when imported here, in the order
``hybridir --help`` lists them.
"""

from hybridir.cli import index, maintain, query, runs, learn, serve, bench  # noqa: F401, I001  (registration)
from hybridir.cli.app import app, entry_point, main

__all__ = ["app", "entry_point", "main"]
