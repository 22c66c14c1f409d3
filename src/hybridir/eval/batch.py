"""Batch search files: topics in, runs out (``hybridir search COLLECTION --topics FILE``).

Topics are read in the two formats Pyserini and BEIR publish queries in:

* ``tsv``: ``id<TAB>text`` per line, as MS MARCO's ``queries.dev.small.tsv`` and Pyserini's
  TSV topics (the text may hold further tabs; they are kept);
* ``jsonl``: BEIR's ``queries.jsonl``, ``{"_id": ..., "text": ...}`` per line.

Runs are written in ``trec`` (``qid Q0 doc_id rank score tag``, :func:`write_run`),
``msmarco`` (``qid<TAB>doc_id<TAB>rank``, the MS MARCO passage leaderboard's and Pyserini's
``--output-format msmarco``) or ``jsonl`` (one ``{"qid", "hits": [{"doc_id", "rank",
"score"}]}`` per query). Every writer orders queries by qid and hits by (score desc,
doc_id asc) and replaces its file atomically, so a failed write leaves nothing partial.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from hybridir._atomic import atomic_write_text
from hybridir.errors import ConfigError
from hybridir.eval._lines import iter_lines, line_error
from hybridir.eval.readers import read_queries
from hybridir.eval.trec import _check_token, _format_score, _ranked, run_rows, write_run
from hybridir.types import Run


def _read_tsv(path: Path) -> dict[str, str]:
    """``id<TAB>text`` per line (blank lines skipped); ids unique, texts non-empty."""
    topics: dict[str, str] = {}
    for lineno, line in iter_lines(path):
        qid, tab, text = line.partition("\t")
        qid, text = qid.strip(), text.strip()
        if not tab:
            raise line_error(path, lineno, "expected 'id<TAB>text', found no tab")
        if not qid or not text:
            raise line_error(path, lineno, f"empty {'id' if not qid else 'text'}")
        if qid in topics:
            raise line_error(path, lineno, f"duplicate id {qid!r}")
        topics[qid] = text
    return topics


TOPIC_FORMATS: dict[str, Callable[[Path], dict[str, str]]] = {
    "tsv": _read_tsv,
    "jsonl": read_queries,
}
"""Topic file readers by format name."""

_SUFFIXES = {".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


def topics_format(path: Path) -> str:
    """The format of a topics file: by its suffix (``.tsv``/``.txt``, ``.jsonl``/``.json``,
    also under ``.gz``), else ``jsonl`` when its first line starts with ``{``, else ``tsv``."""
    name = path.name.removesuffix(".gz")
    suffix = Path(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    first = next(iter_lines(path), (0, ""))[1]
    return "jsonl" if first.lstrip().startswith("{") else "tsv"


def read_topics(path: str | os.PathLike[str], fmt: str | None = None) -> dict[str, str]:
    """Read a topics file into ``{qid: text}`` (file order).

    Args:
        path: the file (plain or ``.gz``).
        fmt: a :data:`TOPIC_FORMATS` name; by default :func:`topics_format` guesses it.

    Raises:
        NotFoundError: the file does not exist.
        ConfigError: ``fmt`` is not a known format.
        InvalidInputError: a malformed line (``<file>:<line>: ...``), a duplicate or empty id,
            an empty text.

    Example:
        >>> read_topics("queries.dev.small.tsv")  # doctest: +SKIP
        {'1048585': "what is paula deen's brother", ...}
    """
    file = Path(path)
    chosen = fmt or topics_format(file)
    if chosen not in TOPIC_FORMATS:
        raise ConfigError(f"unknown topics format {chosen!r}; valid: {sorted(TOPIC_FORMATS)}")
    return TOPIC_FORMATS[chosen](file)


def write_msmarco(run: Run, path: str | os.PathLike[str], tag: str = "hybridir") -> None:
    """Write ``qid<TAB>doc_id<TAB>rank`` lines (no scores, no tag), atomically."""
    del tag  # the format has no tag column
    lines = [f"{qid}\t{doc_id}\t{rank}\n" for qid, doc_id, rank, _ in run_rows(run)]
    atomic_write_text(Path(path), "".join(lines))


def write_jsonl(run: Run, path: str | os.PathLike[str], tag: str = "hybridir") -> None:
    """Write one ``{"qid", "tag", "hits": [{"doc_id", "rank", "score"}]}`` line per query,
    atomically (scores as the shortest round-trip float, as in TREC runs)."""
    _check_token("tag", tag)
    lines: list[str] = []
    for qid in sorted(run):
        hits = [
            {"doc_id": doc_id, "rank": rank, "score": float(_format_score(score))}
            for rank, (doc_id, score) in enumerate(_ranked(run[qid]), start=1)
        ]
        lines.append(json.dumps({"qid": qid, "tag": tag, "hits": hits}, ensure_ascii=False))
    atomic_write_text(Path(path), "".join(line + "\n" for line in lines))


RUN_FORMATS: dict[str, Callable[[Run, str | os.PathLike[str], str], None]] = {
    "trec": write_run,
    "msmarco": write_msmarco,
    "jsonl": write_jsonl,
}
"""Run file writers by format name (``--output-format``); each takes (run, path, tag)."""


def write_run_as(run: Run, path: str | os.PathLike[str], fmt: str, tag: str) -> None:
    """Write ``run`` to ``path`` in format ``fmt`` (:data:`RUN_FORMATS`).

    Raises:
        ConfigError: ``fmt`` is not a known format.
        InvalidInputError: an id or the tag holds whitespace, or a score is NaN.
    """
    if fmt not in RUN_FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}; valid: {sorted(RUN_FORMATS)}")
    RUN_FORMATS[fmt](run, path, tag)
