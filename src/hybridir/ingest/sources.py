"""Reading a SOURCE of documents: a folder or glob of files, one file, a table, or a BEIR
dataset, into :class:`~hybridir.ingest.document.Loaded` documents and a
:class:`~hybridir.ingest.report.SourceReport`.

Documents are read one at a time as they are iterated, so a large folder is never held in
memory. A document that cannot be read (an encrypted PDF, an empty file, a row without text)
is skipped and named in the report, or with ``on_error="fail"`` raises
:class:`~hybridir.ingest.document.SourceError` naming it.

Example:
    >>> docs = load_source("my-notes/")  # doctest: +SKIP
    >>> for doc in docs:  # doctest: +SKIP
    ...     print(doc.doc_id, doc.title)
    >>> print(docs.report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache, partial
from pathlib import Path, PurePosixPath
from typing import Literal, get_args

from hybridir.errors import ConfigError, InvalidInputError, NotFoundError
from hybridir.eval.datasets import read_corpus, resolve_dataset
from hybridir.ingest.document import Block, Loaded, SourceError
from hybridir.ingest.readers import FILE_METADATA, READERS, read_file, reader_for
from hybridir.ingest.report import SourceKind, SourceReport
from hybridir.ingest.tables import TABLES, FieldMap, read_table, resolve_fields, table_suffix
from hybridir.types import Document

OnError = Literal["skip", "fail"]
"""What an unreadable document does: get skipped (and reported), or stop the reading."""

BEIR_FIELDS = {"id": "_id", "text": "text", "title": "title"}
"""The columns of a BEIR ``corpus.jsonl``."""

_GLOB_CHARS = frozenset("*?[")

Item = Loaded | SourceError
"""What a source yields: a document, or the reason one could not be read."""
Producer = Callable[[SourceReport], Iterator[Item]]
Chooser = Callable[[Sequence[str], str], FieldMap]


def source_forms() -> str:
    """What a SOURCE can be, for messages and help (the suffixes come from the registries)."""
    files = " ".join(sorted(READERS))
    tables = " ".join(sorted(TABLES))
    return (
        f"a SOURCE is a folder of documents ({files}; read recursively, hidden files "
        f'skipped), a glob of them ("docs/**/*.md"), one such file, a table file ({tables}), '
        'a BEIR folder (holding corpus.jsonl) or a dataset name ("scifact")'
    )


class SourceDocuments:
    """The documents of a source, read as they are iterated.

    ``report`` is filled in during each pass (a new pass starts it afresh) and is complete
    once a pass has reached the end (``report.complete``).
    """

    def __init__(self, report: SourceReport, produce: Producer, on_error: OnError) -> None:
        self.report = report
        self._produce = produce
        self._on_error = on_error

    def __iter__(self) -> Iterator[Loaded]:
        """Read the source, yielding each readable document in a stable order.

        Raises:
            SourceError: with ``on_error="fail"``, the first document that cannot be read.
            InvalidInputError: a table row without an id, a repeated id, a malformed line.
            MissingDependencyError: a format's library is not installed.
        """
        self.report.reset()
        for item in self._produce(self.report):
            if isinstance(item, SourceError):
                if self._on_error == "fail":
                    raise item
                self.report.skipped.append((item.where, item.reason))
            else:
                yield item
        self.report.complete = True

    def documents(self) -> Iterator[Document]:
        """Each document whole (:meth:`Loaded.to_document`), for indexing without chunking."""
        return (loaded.to_document() for loaded in self)


def load_source(
    source: str | os.PathLike[str],
    *,
    id_field: str | None = None,
    text_field: str | None = None,
    title_field: str | None = None,
    metadata_fields: Sequence[str] | None = None,
    on_error: OnError = "skip",
    glob: str | None = None,
) -> SourceDocuments:
    """Open a source of documents; the documents are read when iterated.

    Args:
        source: a folder of documents, a glob of them (``"docs/**/*.md"``), one document
            file, a table file (JSON lines, CSV, TSV, Parquet), a BEIR folder, or a dataset
            name (:func:`~hybridir.eval.datasets.resolve_dataset`). Files are read by
            :data:`~hybridir.ingest.readers.READERS`; their ids are their POSIX paths
            relative to the folder (``"guides/setup.md"``).
        id_field: a table's id column (default: the first of ``_id``, ``id``, ``docid``).
        text_field: a table's text column (default: ``text``, ``contents``, ``body``).
        title_field: a table's title column (default: ``title``).
        metadata_fields: the table columns to keep as metadata (default: all but the id,
            text and title; the report lists the ones left out).
        on_error: ``"skip"`` an unreadable document and name it in the report, or
            ``"fail"`` with :class:`SourceError`.
        glob: within a folder, read only the files whose relative path matches
            (:func:`matches`: a pattern without ``/`` matches file names at any depth).
            A glob SOURCE (``"docs/*.md"``) matches as a shell does: ``docs/*.md`` reads
            the top folder only, ``docs/**/*.md`` every folder below.

    Returns:
        The documents (iterate them; ``.report`` says what was read and skipped).

    Raises:
        NotFoundError: the source does not exist (the message says what a SOURCE can be).
        InvalidInputError: an existing file of a type no reader takes.
        ConfigError: an unknown ``on_error``; field options for a source that is not a
            table; ``glob`` for a source that is not a folder.

    Example:
        >>> docs = load_source("corpus.jsonl", text_field="contents")  # doctest: +SKIP
        >>> [d.doc_id for d in docs][:2], docs.report.metadata_fields  # doctest: +SKIP
    """
    if on_error not in get_args(OnError):
        raise ConfigError(f"on_error must be one of {list(get_args(OnError))}, got {on_error!r}")
    choose = partial(
        resolve_fields,
        id_field=id_field,
        text_field=text_field,
        title_field=title_field,
        metadata_fields=metadata_fields,
    )
    kind, produce = _plan(source, glob, choose)
    options = {"id_field": id_field, "text_field": text_field, "title_field": title_field}
    options["metadata_fields"] = None if metadata_fields is None else ",".join(metadata_fields)
    given = [name for name, value in options.items() if value is not None]
    if given and kind != "table":
        raise ConfigError(
            f"{', '.join(given)} apply to table files only; {source} is read as {kind}"
        )
    return SourceDocuments(SourceReport(os.fspath(source), kind), produce, on_error)


# -- what a source is --------------------------------------------------------------------------


def _plan(
    source: str | os.PathLike[str], glob: str | None, choose: Chooser
) -> tuple[SourceKind, Producer]:
    """Decide what ``source`` is and how to read it (``choose`` picks a table's columns)."""
    path = Path(source).expanduser()
    if glob is not None and not (path.is_dir() and not _is_beir(path)):
        raise ConfigError(f"glob= applies to a folder of documents; {source} is not one")
    if path.is_dir():
        if _is_beir(path):
            return "beir", partial(_read_beir, path)
        return "files", partial(_read_folder, path, glob)
    if path.is_file():
        return _plan_file(path, choose)
    text = os.fspath(source)
    if _GLOB_CHARS.intersection(text):
        root, pattern = _split_glob(text)
        if not root.is_dir():
            raise NotFoundError(f"{root} (the folder of {text!r}) does not exist; {source_forms()}")
        return "files", partial(_read_folder, root, pattern, anywhere=False)
    if _looks_like_path(text):
        raise NotFoundError(f"{text} does not exist; {source_forms()}")
    try:
        root = resolve_dataset(text)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}. Nor is {text!r} a file or folder: {source_forms()}") from None
    return "beir", partial(_read_beir, root)


def _plan_file(path: Path, choose: Chooser) -> tuple[SourceKind, Producer]:
    """One existing file: a table, or a single document."""
    if table_suffix(path) in TABLES:
        return "table", partial(read_table, path, choose=choose)
    reader = reader_for(path)
    if reader is None:
        raise InvalidInputError(
            f"{path}: no reader takes {path.suffix or 'files without a suffix'}; {source_forms()}"
        )
    return "files", partial(_read_entries, [(path.name, path)])


def _is_beir(path: Path) -> bool:
    """A BEIR dataset folder holds ``corpus.jsonl``."""
    return (path / "corpus.jsonl").is_file()


def _looks_like_path(text: str) -> bool:
    """Whether a missing ``text`` was meant as a path rather than a dataset name."""
    path = Path(text)
    known = table_suffix(path) in TABLES or reader_for(path) is not None
    return (
        known or path.is_absolute() or text.startswith((".", "~")) or text.endswith(("/", os.sep))
    )


def _split_glob(text: str) -> tuple[Path, str]:
    """``"docs/**/*.md"`` → ``(Path("docs"), "**/*.md")``: the folder before the first part
    holding a wildcard, and the rest as the pattern."""
    parts = PurePosixPath(Path(text).expanduser().as_posix()).parts
    first = next(i for i, part in enumerate(parts) if _GLOB_CHARS.intersection(part))
    return Path(*parts[:first]) if first else Path("."), "/".join(parts[first:])


def matches(relative: str, pattern: str, *, anywhere: bool = True) -> bool:
    """Whether a POSIX relative path matches a glob pattern, as a shell matches paths:
    ``*`` and ``?`` stay within one path segment, ``**`` spans any number of folders
    (``a/**/*.md`` matches ``a/x.md`` and ``a/b/c/x.md``), ``[...]`` is a character class.
    With ``anywhere``, a pattern without ``/`` matches the file name at any depth (as
    ``--include '*.md'`` does in rsync).

    Example:
        >>> matches("guides/setup.md", "*.md"), matches("guides/setup.md", "*.md", anywhere=False)
        (True, False)
    """
    if anywhere and "/" not in pattern:
        relative = PurePosixPath(relative).name
    return _glob_regex(pattern).match(relative) is not None


@lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob into a regular expression (what Python 3.13's
    ``glob.translate(recursive=True)`` does, for older Pythons)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append(f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


# -- reading -----------------------------------------------------------------------------------


def _walk(
    root: Path, pattern: str | None, anywhere: bool
) -> Iterator[tuple[str, Path] | SourceError]:
    """Every non-hidden file under ``root`` (recursively, in sorted order) as
    ``(relative POSIX path, path)``; a folder that cannot be listed is a SourceError item."""
    failures: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=failures.append):
        yield from (_listing_error(root, exc) for exc in failures)
        failures.clear()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if not name.startswith(".") and (
                pattern is None or matches(relative, pattern, anywhere=anywhere)
            ):
                yield relative, path
    yield from (_listing_error(root, exc) for exc in failures)


def _listing_error(root: Path, exc: OSError) -> SourceError:
    """The skip of a folder that could not be listed."""
    where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else str(root)
    return SourceError(where, f"cannot list the folder ({exc.strerror or exc})")


def _read_folder(
    root: Path, pattern: str | None, report: SourceReport, *, anywhere: bool = True
) -> Iterator[Item]:
    """The documents of a folder's files (see :func:`_read_entries` and :func:`matches`)."""
    return _read_entries(_walk(root, pattern, anywhere), report)


def _read_entries(
    entries: Iterator[tuple[str, Path] | SourceError] | list[tuple[str, Path]],
    report: SourceReport,
) -> Iterator[Item]:
    """Read each file with the reader of its suffix; others are counted as unsupported."""
    for entry in entries:
        if isinstance(entry, SourceError):
            yield entry
            continue
        doc_id, path = entry
        reader = reader_for(path)
        if reader is None:
            suffix = path.suffix.lower()
            report.unsupported[suffix] = report.unsupported.get(suffix, 0) + 1
            continue
        try:
            loaded = read_file(path, doc_id, reader)
        except SourceError as exc:
            yield exc
            continue
        report.count(reader.format)
        report.metadata_fields.update(FILE_METADATA)
        yield loaded


def _read_beir(root: Path, report: SourceReport) -> Iterator[Item]:
    """A BEIR corpus through :func:`hybridir.eval.readers.read_corpus`: one paragraph block
    per document. Empty documents are kept (test collections such as Cranfield have some,
    and their judgments name them)."""
    report.fields.update(BEIR_FIELDS)
    for doc in read_corpus(root / "corpus.jsonl"):
        report.metadata_fields.update(doc.metadata)
        report.count("beir")
        blocks = (Block(doc.text),) if doc.text.strip() else ()
        yield Loaded(doc.doc_id, doc.title, blocks, dict(doc.metadata))
