"""Readers of the BEIR layout's files (Thakur et al., "BEIR: A Heterogeneous Benchmark for
Zero-shot Evaluation of Information Retrieval Models", NeurIPS 2021 Datasets and Benchmarks)::

    <name>/corpus.jsonl      {"_id", "title", "text", "metadata"?} per line
    <name>/queries.jsonl     {"_id", "text"} per line
    <name>/qrels/<split>.tsv query-id <TAB> corpus-id <TAB> score, with an optional header

Every reader streams its file and reports a malformed line as
:class:`~hybridir.errors.InvalidInputError` whose message starts with ``<file>:<line>:``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hybridir.eval._lines import add_judgment, iter_json_objects, iter_lines, line_error
from hybridir.types import Document, Qrels

_QRELS_HEADER = ["query-id", "corpus-id", "score"]


def _iter_json_objects(path: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(lineno, _id, object)`` for each JSON line, rejecting duplicate or missing ids."""
    seen: set[str] = set()
    for lineno, obj in iter_json_objects(path):
        raw_id = obj.get("_id")
        # ints are accepted because some exporters drop the quotes; bool is an int subclass.
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not raw_id:
            raise line_error(path, lineno, f"missing or invalid '_id' (got {raw_id!r})")
        if raw_id in seen:
            raise line_error(path, lineno, f"duplicate '_id' {raw_id!r}")
        seen.add(raw_id)
        yield lineno, raw_id, obj


def _string_field(path: Path, lineno: int, obj: dict[str, Any], key: str) -> str:
    """Return ``obj[key]`` as a string; absent means ``""``, any non-string value is an error."""
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise line_error(
            path, lineno, f"field {key!r} must be a string, got {type(value).__name__}"
        )
    return value


def read_corpus(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Stream the documents of a BEIR ``corpus.jsonl``.

    Args:
        path: the ``corpus.jsonl`` file.

    Yields:
        One :class:`~hybridir.types.Document` per non-blank line, in file order.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: malformed JSON, missing or duplicate ``_id``, a non-string
            ``title`` or ``text``, a non-object ``metadata``, or non-UTF-8 bytes (the message
            starts with ``<file>:<line>:``).

    Example:
        >>> docs = list(read_corpus("datasets/scifact/corpus.jsonl"))  # doctest: +SKIP
    """
    file = Path(path)
    for lineno, doc_id, obj in _iter_json_objects(file):
        metadata = obj.get("metadata", {})
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise line_error(file, lineno, "field 'metadata' must be a JSON object")
        yield Document(
            doc_id=doc_id,
            text=_string_field(file, lineno, obj, "text"),
            title=_string_field(file, lineno, obj, "title"),
            metadata=metadata,
        )


def read_queries(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a BEIR ``queries.jsonl`` into ``{qid: text}``.

    Args:
        path: the ``queries.jsonl`` file.

    Returns:
        Query text per qid, in file order.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: malformed JSON, missing or duplicate ``_id``, non-string ``text``, or
            non-UTF-8 bytes (message: ``<file>:<line>: ...``).
    """
    file = Path(path)
    return {
        qid: _string_field(file, lineno, obj, "text")
        for lineno, qid, obj in _iter_json_objects(file)
    }


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a BEIR qrels file (``query-id<TAB>corpus-id<TAB>score``; the header line is optional).

    Args:
        path: the ``qrels/<split>.tsv`` file.

    Returns:
        ``{qid: {doc_id: grade}}``. A repeated judgement with the same grade is kept once.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: a line without exactly three tab-separated columns, an empty id, a
            non-integer score, a judgement repeated with another grade, or non-UTF-8 bytes
            (message: ``<file>:<line>: ...``).
    """
    file = Path(path)
    qrels: Qrels = {}
    for lineno, line in iter_lines(file):
        fields = line.split("\t")
        if lineno == 1 and [f.strip() for f in fields] == _QRELS_HEADER:
            continue
        if len(fields) != 3:
            raise line_error(file, lineno, f"expected 3 tab-separated columns, got {len(fields)}")
        qid, doc_id, score_text = (f.strip() for f in fields)
        if not qid or not doc_id:
            raise line_error(file, lineno, "empty query-id or corpus-id")
        add_judgment(qrels, file, lineno, qid, doc_id, score_text)
    return qrels
