"""Table files of documents: JSON lines, CSV, TSV and Parquet, one document per row.

A row's id, text and title come from the columns the caller names, else from the first of
the usual names present in the first row (:data:`ID_FIELDS`, :data:`TEXT_FIELDS`,
:data:`TITLE_FIELD`: BEIR's ``_id``/``text``/``title``, Pyserini's ``id``/``contents``).
Every other column is kept as metadata, and a nested ``metadata`` object is merged in (a
top-level column wins over a nested key of the same name); ``metadata_fields`` narrows that
to the columns named, and the report lists the ones left out. CSV and TSV values stay
strings (those formats carry no types).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from hybridir.errors import InvalidInputError, missing_dependency
from hybridir.eval._lines import iter_json_objects
from hybridir.ingest.document import Block, Loaded, SourceError
from hybridir.ingest.report import SourceReport

ID_FIELDS = ("_id", "id", "docid")
"""Columns tried, in order, for the document id when none is named."""
TEXT_FIELDS = ("text", "contents", "body")
"""Columns tried, in order, for the text when none is named."""
TITLE_FIELD = "title"
"""The title column when none is named (a row without it has an empty title)."""
NESTED_METADATA = "metadata"
"""A column holding an object whose keys are merged into the metadata (BEIR's layout)."""
MAX_FIELD_CHARS = 16 * 1024 * 1024
"""Longest CSV/TSV field read (Python's csv module stops at 131,072 characters by default)."""

Row = tuple[str, dict[str, Any]]
"""A row and where it is: ``"<file>:<line>"`` (JSON lines, CSV, TSV) or ``"<file>:row <n>"``."""


@dataclass(frozen=True)
class FieldMap:
    """The columns a table's documents are read from; ``metadata`` ``None`` keeps all others."""

    id: str
    text: str
    title: str
    metadata: frozenset[str] | None = None


def resolve_fields(
    columns: Sequence[str],
    where: str,
    *,
    id_field: str | None = None,
    text_field: str | None = None,
    title_field: str | None = None,
    metadata_fields: Sequence[str] | None = None,
) -> FieldMap:
    """Pick the id, text and title columns among ``columns`` (those of the first row).

    Raises:
        InvalidInputError: a named column is absent, or no default name is present for the
            id or the text (the message lists the columns and the option to pass).
    """

    id_col = _required(columns, where, "id", id_field, ID_FIELDS)
    text_col = _required(columns, where, "text", text_field, TEXT_FIELDS)
    # A row without a title column has an empty title: JSON lines need not repeat keys.
    title_col = _column(columns, where, "title", title_field, ()) or TITLE_FIELD
    selected = frozenset(metadata_fields) if metadata_fields is not None else None
    return FieldMap(id_col, text_col, title_col, selected)


def _column(
    columns: Sequence[str], where: str, role: str, named: str | None, defaults: tuple[str, ...]
) -> str | None:
    """The named column (which must exist), else the first default name present."""
    if named is not None:
        if named not in columns:
            raise InvalidInputError(
                f"{where}: no {role} column {named!r}; columns: {sorted(columns)}"
            )
        return named
    return next((name for name in defaults if name in columns), None)


def _required(
    columns: Sequence[str], where: str, role: str, named: str | None, defaults: tuple[str, ...]
) -> str:
    """As :func:`_column`, for a role every row needs (id, text)."""
    found = _column(columns, where, role, named, defaults)
    if found is None:
        raise InvalidInputError(
            f"{where}: no {role} column (looked for {', '.join(defaults)}); columns: "
            f"{sorted(columns)}; name it with {role}_field=… (--{role}-field)"
        )
    return found


# -- rows of each format -----------------------------------------------------------------------


def _jsonl_rows(path: Path) -> Iterator[Row]:
    """JSON lines, plain or gzip (:func:`hybridir.eval._lines.iter_json_objects`)."""
    for lineno, obj in iter_json_objects(path):
        yield f"{path}:{lineno}", obj


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Raise the csv module's (process-wide) field size limit while one row is parsed."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _delimited_rows(path: Path, dialect: Mapping[str, Any]) -> Iterator[Row]:
    """Rows of a delimited file whose first line names the columns."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, **dialect)
        while True:
            try:
                with _field_limit(MAX_FIELD_CHARS):
                    row = next(reader, None)
            except csv.Error as exc:
                raise InvalidInputError(f"{path}:{reader.line_num}: {exc}") from None
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
            if row is None:
                return
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise InvalidInputError(f"{where}: more fields than the header has columns")
            yield where, row


def _csv_rows(path: Path) -> Iterator[Row]:
    """CSV as RFC 4180 writes it: comma-separated, double quotes around fields."""
    return _delimited_rows(path, {"delimiter": ","})


def _tsv_rows(path: Path) -> Iterator[Row]:
    """TSV as IANA's text/tab-separated-values defines it: tabs between fields, no quoting
    (a quote is text, as in the MS MARCO and Pyserini collections)."""
    return _delimited_rows(path, {"delimiter": "\t", "quoting": csv.QUOTE_NONE})


def _parquet_rows(path: Path) -> Iterator[Row]:
    """Parquet, streamed in record batches by pyarrow
    (https://arrow.apache.org/docs/python/generated/pyarrow.parquet.ParquetFile.html)."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise missing_dependency("pyarrow", "files") from None
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, … for a bad file
        raise InvalidInputError(f"{path}: not a readable Parquet file ({exc})") from None
    with table:
        number = 0
        for batch in table.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                # pandas writes a missing number as NaN: null here, as in the frame
                yield f"{path}:row {number}", {k: _nan_as_null(v) for k, v in row.items()}


def _nan_as_null(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


TABLES: dict[str, tuple[str, Callable[[Path], Iterator[Row]]]] = {
    ".jsonl": ("jsonl", _jsonl_rows),
    ".jsonl.gz": ("jsonl", _jsonl_rows),
    ".csv": ("csv", _csv_rows),
    ".tsv": ("tsv", _tsv_rows),
    ".parquet": ("parquet", _parquet_rows),
}
"""Table formats by lower-case suffix: the format's name and its row reader."""


def table_suffix(path: Path) -> str:
    """``path``'s suffix as :data:`TABLES` keys it (``".jsonl.gz"`` counts as one)."""
    suffixes = [s.lower() for s in path.suffixes]
    return "".join(suffixes[-2:]) if suffixes[-1:] == [".gz"] else "".join(suffixes[-1:])


# -- rows into documents -----------------------------------------------------------------------


def _json_value(value: Any, where: str) -> Any:
    """A cell as a JSON value: dates and times in ISO-8601, decimals as numbers. A
    non-finite number is kept, so that the collection refuses it by name (a Parquet NaN
    was made null when read: pandas marks missing numbers so)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v, where) for v in value]
    raise InvalidInputError(
        f"{where}: a {type(value).__name__} value cannot be metadata; leave its column out "
        "with metadata_fields=… (--metadata-fields)"
    )


def _string(row: Mapping[str, Any], column: str, where: str) -> str:
    """A text cell: a string, or ``""`` when absent or null."""
    value = row.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{where}: column {column!r} must be text, got {type(value).__name__}"
        )
    return value


def _doc_id(row: Mapping[str, Any], column: str, where: str) -> str:
    """The id cell as a string (integers are accepted: exporters often write them so)."""
    value = row.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{where}: missing or empty id (column {column!r}, got {value!r})")
    return value


def row_metadata(
    row: Mapping[str, Any], fields: FieldMap, where: str, report: SourceReport
) -> dict[str, Any]:
    """The metadata of a row: the nested ``metadata`` object merged with every column that
    is not the id, text or title, narrowed to ``fields.metadata`` when given."""
    nested = row.get(NESTED_METADATA)
    merged: dict[str, Any] = dict(nested) if isinstance(nested, Mapping) else {}
    roles = {fields.id, fields.text, fields.title}
    for key, value in row.items():
        if key not in roles and not (key == NESTED_METADATA and isinstance(value, Mapping)):
            merged[key] = value
    if fields.metadata is not None:
        report.dropped_fields.update(k for k in merged if k not in fields.metadata)
        merged = {k: v for k, v in merged.items() if k in fields.metadata}
    report.metadata_fields.update(merged)
    return {str(k): _json_value(v, f"{where}: field {k!r}") for k, v in merged.items()}


def read_table(
    path: Path, report: SourceReport, choose: Callable[[Sequence[str], str], FieldMap]
) -> Iterator[Loaded | SourceError]:
    """The documents of a table file, one per row; a row without text is a
    :class:`SourceError` item (to skip or raise), not an exception.

    Args:
        path: the table file; its format from :func:`table_suffix`.
        report: filled in with the fields used and the metadata columns.
        choose: picks the columns from the first row's names (:func:`resolve_fields`
            with the caller's options).

    Raises:
        InvalidInputError: a row without an id, a repeated id, a malformed line or cell
            (the message names the file and line or row).
    """
    fmt, rows = TABLES[table_suffix(path)]
    fields: FieldMap | None = None
    seen: set[str] = set()
    for where, row in rows(path):
        if fields is None:
            fields = choose(list(row), where)
            report.fields.update(id=fields.id, text=fields.text, title=fields.title)
        doc_id = _doc_id(row, fields.id, where)
        if doc_id in seen:
            raise InvalidInputError(f"{where}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        text = _string(row, fields.text, where)
        title = _string(row, fields.title, where)
        if not (text.strip() or title.strip()):
            yield SourceError(where, f"no text (id {doc_id!r})")
            continue
        metadata = row_metadata(row, fields, where, report)
        report.count(fmt)
        yield Loaded(doc_id, title, (Block(text),) if text.strip() else (), metadata)
