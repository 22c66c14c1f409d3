"""What a document must be to be stored and read back exactly (ids, text, metadata).

Every front end (Python, CLI files, HTTP) writes through :func:`validate_documents`, so the
same input gets the same answer everywhere, before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from hybridir.errors import InvalidInputError
from hybridir.types import Document

MAX_DOCUMENT_CHARS = 1_000_000
"""Longest title + text accepted (characters); longer documents should be split."""
MAX_ID_CHARS = 512
"""Longest document id accepted (characters)."""
MAX_METADATA_DEPTH = 32
"""Deepest nesting of metadata objects and lists accepted."""
JSON_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude in metadata: beyond it, JSON readers that use doubles (most
of them) change the value (RFC 7493, I-JSON, section 2.2)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_documents(docs: Sequence[Document], *, allow_empty: bool = False) -> None:
    """Reject a batch that cannot be stored and read back exactly, naming the offending
    document.

    Raises:
        InvalidInputError: a bad doc id (:func:`validate_id`) or one repeated in the batch;
            a non-string title or text; an empty title and text (unless ``allow_empty``:
            test collections such as Cranfield hold a few empty documents, indexed so that
            they never match); a document over :data:`MAX_DOCUMENT_CHARS`; text that is not
            valid Unicode (lone surrogates, e.g. from undecodable bytes); metadata that JSON
            cannot carry exactly (:func:`validate_metadata`).
    """
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidInputError(f"item #{i} is a {type(doc).__name__}, not a Document")
        validate_id(doc.doc_id, f"document #{i}")
        name = repr(doc.doc_id)
        if doc.doc_id in seen:
            raise InvalidInputError(f"duplicate doc_id {name} in the batch")
        seen.add(doc.doc_id)
        if not isinstance(doc.text, str) or not isinstance(doc.title, str):
            raise InvalidInputError(f"document {name}: title and text must be strings")
        if not allow_empty and not (doc.text.strip() or doc.title.strip()):
            raise InvalidInputError(f"document {name} has no text (empty title and text)")
        size = len(doc.text) + len(doc.title)
        if size > MAX_DOCUMENT_CHARS:
            raise InvalidInputError(
                f"document {name} has {size:,} characters, over the limit of "
                f"{MAX_DOCUMENT_CHARS:,}; split it into passages"
            )
        _check_unicode(doc.title, f"document {name}: the title")
        _check_unicode(doc.text, f"document {name}: the text")
        validate_metadata(doc.metadata, f"document {name}")


def validate_id(doc_id: object, what: str = "a document") -> None:
    """A doc id is a non-blank string of at most :data:`MAX_ID_CHARS` valid Unicode
    characters without control characters. ``/`` is allowed (ids from file paths); over
    HTTP such ids work in the document URL as they are."""
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidInputError(f"{what} has an empty or non-string doc_id")
    if len(doc_id) > MAX_ID_CHARS:
        raise InvalidInputError(
            f"{what} has a doc_id of {len(doc_id):,} characters (at most {MAX_ID_CHARS})"
        )
    _check_unicode(doc_id, f"{what}: the doc_id")
    if _CONTROL.search(doc_id):
        raise InvalidInputError(f"{what}: the doc_id {doc_id!r} holds a control character")


def _check_unicode(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid Unicode text (a lone surrogate at position {exc.start}, "
            "e.g. from undecodable bytes)"
        ) from None


def validate_metadata(metadata: object, what: str) -> None:
    """Metadata is a JSON object that round-trips exactly: string keys, valid Unicode,
    finite numbers, integers within :data:`JSON_SAFE_INTEGER`, at most
    :data:`MAX_METADATA_DEPTH` levels. Walked without recursion, so any depth gets an
    answer."""
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"{what}: metadata must be a JSON object")
    stack: list[tuple[object, int, str]] = [(metadata, 1, "metadata")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, Mapping | list | tuple) and depth > MAX_METADATA_DEPTH:
            raise InvalidInputError(
                f"{what}: {where} is nested over {MAX_METADATA_DEPTH} levels deep"
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(f"{what}: {where} has a non-string key {key!r}")
                _check_unicode(key, f"{what}: a key in {where}")
                stack.append((item, depth + 1, f"{where}.{key}"))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_unicode(value, f"{what}: {where}")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > JSON_SAFE_INTEGER:
                raise InvalidInputError(
                    f"{what}: {where} = {value} is beyond ±2^53-1, which JSON numbers do not "
                    "carry exactly; store it as a string"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInputError(f"{what}: {where} is {value}, which JSON cannot carry")
        else:
            raise InvalidInputError(
                f"{what}: {where} is a {type(value).__name__}, not a JSON value"
            )
