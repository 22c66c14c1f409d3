"""Line-oriented reading and atomic writing of small text files, shared by the eval readers.

Every reader of this package reports a malformed line as ``InvalidInputError("<file>:<line>: ...")``
with a 1-based line number, so a user can jump straight to the bad line in an editor.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from hybridir.errors import InvalidInputError, NotFoundError


def line_error(path: Path, lineno: int, message: str) -> InvalidInputError:
    """Build the error for a bad line, formatted ``<file>:<line>: <message>``.

    Args:
        path: the file being read.
        lineno: 1-based line number.
        message: what is wrong with the line.

    Returns:
        The error to raise.
    """
    return InvalidInputError(f"{path}:{lineno}: {message}")


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, line)`` for each non-blank line of a UTF-8 file, streaming.

    The line end (``\\n`` or ``\\r\\n``) is stripped; blank lines are skipped but still counted,
    so ``lineno`` is the line number an editor shows. A UTF-8 byte-order mark is ignored.

    Args:
        path: the file to read.

    Yields:
        1-based line number and the decoded line without its line end.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line is not valid UTF-8 (the message names the file and line).
    """
    file = Path(path)
    try:
        handle = file.open("rb")
    except FileNotFoundError as exc:
        raise NotFoundError(f"file not found: {file}") from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise line_error(file, lineno, f"not valid UTF-8 ({exc.reason})") from exc
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line
