"""TREC run and qrels files: the exchange formats read by ``trec_eval``.

Run lines are ``qid Q0 doc_id rank score tag`` and qrels lines ``qid 0 doc_id grade``, fields
separated by whitespace (Voorhees and Harman, "TREC: Experiment and Evaluation in Information
Retrieval", MIT Press 2005; the ``trec_eval`` README). Writes are deterministic and atomic, so
equal inputs give byte-identical files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

from hybridir._atomic import atomic_write_text
from hybridir.errors import InvalidInputError
from hybridir.eval._lines import add_judgment, iter_lines, line_error
from hybridir.eval.readers import read_qrels
from hybridir.types import Qrels, Run


def _check_token(kind: str, value: str) -> None:
    """Reject ids and tags that would break the whitespace-separated format."""
    if not value or any(ch.isspace() for ch in value):
        raise InvalidInputError(f"{kind} {value!r} must be non-empty and contain no whitespace")


def _format_score(score: float) -> str:
    """Format a score so that it reads back as the same float (shortest round-trip ``repr``).

    Fixed precision such as ``f"{score:.6f}"`` would turn distinct scores into equal strings,
    and the order of such ties then depends on the reader rather than on the run.
    """
    value = float(score)
    if math.isnan(value):
        raise InvalidInputError("a score is NaN; runs must hold comparable numbers")
    return repr(value)


def _ranked(hits: dict[str, float]) -> list[tuple[str, float]]:
    """Sort one query's hits by (score desc, doc_id asc), the deterministic order of every run."""
    return sorted(hits.items(), key=lambda item: (-float(item[1]), item[0]))


def write_run(run: Run, path: str | os.PathLike[str], tag: str = "hybridir") -> None:
    """Write a run in TREC format, atomically and deterministically.

    Queries are sorted by qid, hits by (score desc, doc_id asc), ranks start at 1, and scores
    use the shortest round-trip ``repr`` of each float. Queries without hits write no line.

    Args:
        run: ``{qid: {doc_id: score}}``.
        path: the destination file.
        tag: the run tag (last column); no whitespace.

    Raises:
        InvalidInputError: an id or the tag is empty or contains whitespace, or a score is NaN.

    Example:
        >>> write_run({"q1": {"d1": 2.0, "d2": 1.5}}, "bm25.run")  # doctest: +SKIP
    """
    _check_token("tag", tag)
    lines = [
        f"{qid} Q0 {doc_id} {rank} {_format_score(score)} {tag}\n"
        for qid, doc_id, rank, score in run_rows(run)
    ]
    atomic_write_text(Path(path), "".join(lines))


def run_rows(run: Run) -> Iterator[tuple[str, str, int, float]]:
    """``(qid, doc_id, rank, score)`` rows of ``run`` in file order: queries sorted, each
    ranked by score desc, doc id asc (1-based ranks); ids checked as run-file tokens.

    Raises:
        InvalidInputError: an id is empty or contains whitespace.
    """
    for qid in sorted(run):
        _check_token("qid", qid)
        for rank, (doc_id, score) in enumerate(_ranked(run[qid]), start=1):
            _check_token("doc_id", doc_id)
            yield qid, doc_id, rank, score


def read_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run file (``qid Q0 doc_id rank score tag``).

    The rank column is checked to be an integer but not used: like ``trec_eval``, the order
    comes from the scores.

    Args:
        path: the run file.

    Returns:
        ``{qid: {doc_id: score}}``.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line without 6 fields, a non-integer rank, a non-numeric or NaN
            score, a doc id repeated within a query, or non-UTF-8 bytes (``<file>:<line>: ...``).
    """
    file = Path(path)
    run: Run = {}
    for lineno, line in iter_lines(file):
        fields = line.split()
        if len(fields) != 6:
            raise line_error(file, lineno, f"expected 6 fields, got {len(fields)}")
        qid, _, doc_id, rank_text, score_text, _ = fields
        try:
            int(rank_text)
            score = float(score_text)
        except ValueError as exc:
            raise line_error(file, lineno, f"bad rank or score ({exc})") from exc
        if math.isnan(score):
            raise line_error(file, lineno, "score is NaN")
        hits = run.setdefault(qid, {})
        if doc_id in hits:
            raise line_error(file, lineno, f"doc_id {doc_id!r} repeated for query {qid!r}")
        hits[doc_id] = score
    return run


def write_qrels(qrels: Qrels, path: str | os.PathLike[str]) -> None:
    """Write judgements in TREC qrels format (``qid 0 doc_id grade``), sorted, atomically.

    Args:
        qrels: ``{qid: {doc_id: grade}}``.
        path: the destination file.

    Raises:
        InvalidInputError: an id is empty or contains whitespace.
    """
    lines: list[str] = []
    for qid in sorted(qrels):
        _check_token("qid", qid)
        for doc_id in sorted(qrels[qid]):
            _check_token("doc_id", doc_id)
            lines.append(f"{qid} 0 {doc_id} {int(qrels[qid][doc_id])}\n")
    atomic_write_text(Path(path), "".join(lines))


def read_trec_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a TREC qrels file (``qid iteration doc_id grade``; the iteration column is ignored).

    Args:
        path: the qrels file.

    Returns:
        ``{qid: {doc_id: grade}}``.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line without 4 fields, a non-integer grade, a judgement repeated
            with another grade, or non-UTF-8 bytes (``<file>:<line>: ...``).
    """
    file = Path(path)
    qrels: Qrels = {}
    for lineno, line in iter_lines(file):
        fields = line.split()
        if len(fields) != 4:
            raise line_error(file, lineno, f"expected 4 fields, got {len(fields)}")
        qid, _, doc_id, grade_text = fields
        add_judgment(qrels, file, lineno, qid, doc_id, grade_text)
    return qrels


def read_any_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a qrels file in TREC format (``qid 0 doc_id grade``) or BEIR's TSV
    (``query-id<TAB>corpus-id<TAB>score``, header optional), told apart by the first line:
    three tab-separated fields make it BEIR's.

    Args:
        path: the qrels file.

    Returns:
        ``{qid: {doc_id: grade}}``.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: the file holds no judgment, or a line is malformed
            (``<file>:<line>: ...``).
    """
    file = Path(path)
    for _, line in iter_lines(file):
        qrels = read_qrels(file) if len(line.split("\t")) == 3 else read_trec_qrels(file)
        break
    else:
        qrels = {}
    if not qrels:
        raise InvalidInputError(f"{file}: no judgments (an empty qrels file)")
    return qrels
