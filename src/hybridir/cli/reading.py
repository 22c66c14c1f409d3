"""Option groups that say how a source is read and cut into passages (``index``, ``add``,
``sync``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from hybridir.config import ChunkConfig

_SOURCE = "Source"


@dataclass(frozen=True)
class SourceOptions:
    """How a source is read: ``--id-field`` … ``--on-error`` (the keyword arguments of
    :func:`hybridir.ingest.sources.load_source`)."""

    id_field: str | None = None
    text_field: str | None = None
    title_field: str | None = None
    metadata_fields: tuple[str, ...] | None = None
    on_error: str = "skip"

    def kwargs(self) -> dict[str, object]:
        """The reader's keyword arguments."""
        return {
            "id_field": self.id_field,
            "text_field": self.text_field,
            "title_field": self.title_field,
            "metadata_fields": self.metadata_fields,
            "on_error": self.on_error,
        }


def source_options(
    id_field: Annotated[
        str | None,
        typer.Option(
            help="Table field holding the id (default: _id, id or docid).",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    text_field: Annotated[
        str | None,
        typer.Option(
            help="Table field holding the text (default: text, contents or body).",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    title_field: Annotated[
        str | None,
        typer.Option(
            help="Table field holding the title (default: title).", rich_help_panel=_SOURCE
        ),
    ] = None,
    metadata_fields: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated table fields kept as metadata (default: every other field).",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(
            help="An unreadable or empty file: 'skip' it (and name it) or 'fail' the command.",
            rich_help_panel=_SOURCE,
        ),
    ] = "skip",
) -> SourceOptions:
    """``--id-field``, ``--text-field``, ``--title-field``, ``--metadata-fields`` and
    ``--on-error``."""
    fields = None if metadata_fields is None else tuple(f for f in metadata_fields.split(",") if f)
    return SourceOptions(id_field, text_field, title_field, fields, on_error)


_CHUNK = "Chunking"


@dataclass(frozen=True)
class ChunkOptions:
    """``--chunk-size`` (``None``: by source, ``0``: off), ``--chunk-overlap`` and
    ``--chunk-tokenizer``."""

    size: int | None = None
    overlap: int | None = None
    tokenizer: str | None = None

    def config(self, files: bool) -> ChunkConfig | None:
        """The collection's chunking: by default on for folders of files, off for tables
        and BEIR corpora (their documents are usually passages already)."""
        if self.size == 0 or (self.size is None and not files):
            return None
        size = self.size or ChunkConfig.size
        # the default overlap (32) shrinks with a small size: at most a quarter of it
        overlap = min(ChunkConfig.overlap, size // 4) if self.overlap is None else self.overlap
        return ChunkConfig(size=size, overlap=overlap, tokenizer=self.tokenizer)


def chunk_options(
    chunk_size: Annotated[
        int | None,
        typer.Option(
            help="Passage size in the encoder's tokens (0: no chunking; default: 200 for "
            "folders of files, none for tables and BEIR corpora).",
            rich_help_panel=_CHUNK,
        ),
    ] = None,
    chunk_overlap: Annotated[
        int | None,
        typer.Option(
            help="Tokens repeated between passages (default: 32, at most a quarter of the size).",
            rich_help_panel=_CHUNK,
        ),
    ] = None,
    chunk_tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Tokenizer that measures passages (default: the dense model's, else the "
            "SPLADE model's, else words).",
            rich_help_panel=_CHUNK,
        ),
    ] = None,
) -> ChunkOptions:
    """``--chunk-size``, ``--chunk-overlap``, ``--chunk-tokenizer``."""
    return ChunkOptions(chunk_size, chunk_overlap, chunk_tokenizer)
