"""Line-oriented reading of text files (plain or gzip-compressed), shared by the eval readers.

Every reader of this package reports a malformed line as ``InvalidInputError("<file>:<line>: ...")``
with a 1-based line number, so a user can jump straight to the bad line in an editor.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _open_binary(file: Path) -> io.BufferedIOBase:
    """Open ``file`` for reading bytes, decompressing on the fly when its name ends in ``.gz``."""
    if file.suffix == ".gz":
        return gzip.open(file, "rb")
    return file.open("rb")


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, line)`` for each non-blank line of a UTF-8 file, streaming.

    The line end (``\\n`` or ``\\r\\n``) is stripped; blank lines are skipped but still counted,
    so ``lineno`` is the line number an editor shows. A UTF-8 byte-order mark is ignored.
    A file whose name ends in ``.gz`` is read through gzip (datasets are often published so).

    Args:
        path: the file to read.

    Yields:
        1-based line number and the decoded line without its line end.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line is not valid UTF-8, or a ``.gz`` file is not valid gzip (the
            message names the file and line).
    """
    file = Path(path)
    try:
        handle = _open_binary(file)
    except FileNotFoundError as exc:
        raise NotFoundError(f"file not found: {file}") from exc
    with handle:
        lineno = 0
        try:
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
        except (gzip.BadGzipFile, EOFError) as exc:
            raise line_error(file, lineno + 1, f"not a valid gzip stream ({exc})") from exc


def iter_json_objects(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(lineno, object)`` for each non-blank line of a JSON-lines file (plain or ``.gz``).

    Args:
        path: the ``.jsonl`` or ``.jsonl.gz`` file.

    Yields:
        1-based line number and the parsed JSON object.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line is not JSON, not a JSON object, or not UTF-8
            (message: ``<file>:<line>: ...``).
    """
    file = Path(path)
    for lineno, line in iter_lines(file):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise line_error(file, lineno, f"malformed JSON ({exc.msg})") from exc
        except RecursionError:
            raise line_error(file, lineno, "JSON nested too deeply") from None
        if not isinstance(obj, dict):
            raise line_error(file, lineno, f"expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def add_judgment(
    qrels: dict[str, dict[str, int]],
    path: Path,
    lineno: int,
    qid: str,
    doc_id: str,
    grade_text: str,
) -> None:
    """Record one relevance judgment of a qrels line; a grade that is not an integer, or
    that contradicts an earlier line for the same pair, is a line error."""
    try:
        grade = int(grade_text)
    except ValueError as exc:
        raise line_error(path, lineno, f"grade {grade_text!r} is not an integer") from exc
    judged = qrels.setdefault(qid, {})
    if judged.get(doc_id, grade) != grade:
        raise line_error(path, lineno, f"conflicting grades for ({qid!r}, {doc_id!r})")
    judged[doc_id] = grade
