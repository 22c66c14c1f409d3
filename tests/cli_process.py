"""``hybridir`` run as a separate process, the way a user's shell runs it (tests that need a
second process beside the one writing, or the CLI's exit status and streams)."""

from __future__ import annotations

import os
import subprocess
import sys

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
"""The tests' environment, with this interpreter's import path (the checkout's ``src``)."""


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``hybridir ARGS…`` in a new process; its status, stdout and stderr (never raises on a
    non-zero status: tests assert it)."""
    return subprocess.run(
        [sys.executable, "-m", "hybridir.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )
