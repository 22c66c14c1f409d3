"""Commands that put documents in: ``index`` (a new collection), ``add``, ``sync``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hybridir.cli.app import app, err, out
from hybridir.cli.options import (
    FusionOptions,
    JsonOpt,
    WaitOpt,
    analyzer_options,
    bm25_options,
    dense_options,
    fusion_depth_options,
    open_collection,
    splade_options,
)
from hybridir.cli.reading import ChunkOptions, SourceOptions, chunk_options, source_options
from hybridir.cli.signature import with_options
from hybridir.config import (
    AnalyzerConfig,
    BM25Config,
    CollectionConfig,
    DenseConfig,
    FusionConfig,
    SpladeConfig,
)
from hybridir.errors import ConfigError

if TYPE_CHECKING:
    from hybridir.collection import Collection
    from hybridir.collection.sources import IngestReport
    from hybridir.learn.calibrate import CalibrationResult


def is_file_source(source: str) -> bool:
    """Whether ``source`` is a folder or glob of files (chunked by default), not a table,
    a BEIR folder or a dataset name."""
    path = Path(source)
    if any(c in source for c in "*?["):
        return True
    return path.is_dir() and not (path / "corpus.jsonl").is_file()


def build_collection(
    source: str, directory: Path, config: CollectionConfig, overwrite: bool
) -> Collection:
    """Create a collection at ``directory`` holding the documents of ``source``."""
    return build(source, directory, config, overwrite)[0]


def build(
    source: str,
    directory: Path,
    config: CollectionConfig,
    overwrite: bool,
    reading: SourceOptions | None = None,
) -> tuple[Collection, IngestReport]:
    """Create a collection at ``directory`` holding the documents of ``source`` (read and
    chunked before the collection is created: a bad source leaves nothing behind), and
    the reading report."""
    from hybridir.collection import Collection
    from hybridir.collection.sources import read_units

    options = (reading or SourceOptions()).kwargs()
    docs, report = read_units(config, source, err.is_terminal, **options)
    _print_skipped(report)
    collection = Collection.create(directory, config, overwrite=overwrite)
    collection.add(docs, show_progress=err.is_terminal, allow_empty=True)
    return collection, report


def _print_skipped(report: IngestReport) -> None:
    for path, reason in report.skipped:
        err.print(f"skipped {path}: {reason}", markup=False, highlight=False)
    if report.metadata_fields:
        err.print(f"kept as metadata: {', '.join(report.metadata_fields)}", markup=False)


@app.command()
@with_options(
    analyzer=analyzer_options,
    bm25=bm25_options,
    dense=dense_options,
    splade=splade_options,
    fusion=fusion_depth_options,
    reading=source_options,
    chunking=chunk_options,
)
def index(
    source: Annotated[
        str,
        typer.Argument(
            help="A folder or glob of .txt/.md/.html/.pdf/.docx files, a JSONL/CSV/TSV/Parquet "
            "table, a BEIR dataset folder, or a dataset name."
        ),
    ],
    collection_dir: Annotated[Path, typer.Argument(help="Directory of the collection to create.")],
    *,
    analyzer: AnalyzerConfig,
    bm25: BM25Config,
    dense: DenseConfig | None,
    splade: SpladeConfig | None,
    fusion: FusionOptions,
    reading: SourceOptions,
    chunking: ChunkOptions,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing collection.")] = False,
    calibrate: Annotated[
        bool,
        typer.Option(
            help="Set the fusion from pseudo-queries drawn from the collection (BM25 + dense, "
            "when no fusion option is given; see `hybridir calibrate`)."
        ),
    ] = True,
    as_json: JsonOpt = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Index into a sharded collection on this Ray cluster ('auto', host:port)."
        ),
    ] = None,
    shards: Annotated[int, typer.Option(help="Shards of a sharded collection (with Ray).")] = 1,
) -> None:
    """Index documents into a new collection.

    BM25, plus dense vectors with --dense and learned sparse weights with --splade. Files
    are read by type (PDF pages, Markdown and HTML headings, Word paragraphs) and cut into
    passages of --chunk-size tokens of the encoder; BM25 statistics count passages. With
    --ray-address, into --shards shards encoded with Ray Data and built in parallel (rerun
    the same command to resume after a failure).

    Example: hybridir index ./mydocs ./col --dense all-MiniLM-L6-v2
    """
    config = CollectionConfig(
        analyzer=analyzer,
        bm25=bm25,
        dense=dense,
        fusion=fusion.over(FusionConfig()),
        splade=splade,
        chunking=chunking.config(is_file_source(source)),
    )
    if ray_address is not None or shards > 1:
        _index_sharded(source, collection_dir, config, shards, ray_address, overwrite, reading)
        return
    collection, report = build(source, collection_dir, config, overwrite, reading)
    calibration = None
    if calibrate and config.fusion == FusionConfig():
        calibration = _calibrate(collection)
    if as_json:
        data: dict[str, Any] = {"collection": str(collection_dir), **report.to_dict()}
        if calibration is not None:
            data["calibration"] = calibration.evidence.to_dict()
        out.print_json(data=data)
        return
    st = collection.bm25.stats
    vectors = f", {len(collection.vectors)} vectors" if collection.has_dense else ""
    if collection.has_splade:
        vectors += f", {collection.splade.stats.n_postings} learned sparse postings"
    units = f"{report.documents} documents as {st.n_docs} passages"
    if config.chunking is None:
        units = f"{st.n_docs} documents"
    out.print(
        f"indexed {units}, {st.n_terms} terms, {st.n_postings} postings"
        f"{vectors} into {collection_dir}"
    )


def _calibrate(collection: Collection) -> CalibrationResult | None:
    """Calibrate a new collection's fusion when it fuses BM25 and dense and has the sentences
    to draw pseudo-queries from; says why not otherwise (on stderr)."""
    from hybridir.cli.learn import run_calibration
    from hybridir.errors import InvalidInputError
    from hybridir.learn.calibrate import describe, unsupported

    if unsupported(collection.lists()) is not None:
        return None
    try:
        result = run_calibration(collection)
    except InvalidInputError as exc:
        err.print(f"fusion not calibrated: {exc}", markup=False, highlight=False)
        return None
    err.print(describe(result.evidence), markup=False, highlight=False)
    return result


def _index_sharded(
    source: str,
    collection_dir: Path,
    config: CollectionConfig,
    shards: int,
    ray_address: str | None,
    overwrite: bool,
    reading: SourceOptions,
) -> None:
    from hybridir.collection.sources import read_units
    from hybridir.distributed.indexing import index_sharded

    docs, report = read_units(config, source, err.is_terminal, **reading.kwargs())
    _print_skipped(report)
    sharded = index_sharded(
        docs,
        collection_dir,
        config,
        shards,
        address=ray_address,
        overwrite=overwrite,
        progress=err.print,
    )
    infos = sharded.infos()
    sizes = ", ".join(str(i["documents"]) for i in infos)
    total = sum(i["documents"] for i in infos)
    out.print(f"indexed {total} documents into {shards} shards ({sizes}) at {collection_dir}")


@app.command()
@with_options(reading=source_options)
def add(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to write to.")],
    source: Annotated[
        str,
        typer.Argument(help="Files, a folder, a JSONL/CSV/TSV/Parquet table or a BEIR folder."),
    ],
    *,
    reading: SourceOptions,
    upsert: Annotated[
        bool, typer.Option(help="Replace documents whose ids are already stored.")
    ] = False,
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Add documents in one transaction (all or nothing), chunked as the collection is.

    Example: hybridir add ./col new-notes/ --upsert
    """
    from hybridir.collection import Collection
    from hybridir.collection.sources import read_units

    collection = open_collection(collection_dir, wait)
    if isinstance(collection, Collection):
        report = collection.add_source(
            source, upsert=upsert, show_progress=err.is_terminal, **reading.kwargs()
        )
    else:  # sharded: routed by id, one transaction per shard
        docs, report = read_units(collection.config, source, err.is_terminal, **reading.kwargs())
        write = collection.upsert if upsert else collection.add
        write(docs, show_progress=err.is_terminal)
    _print_skipped(report)
    if as_json:
        out.print_json(data={"collection": str(collection_dir), **report.to_dict()})
        return
    verb = "upserted" if upsert else "added"
    out.print(f"{verb} {report.written} documents; {len(collection)} in {collection_dir}")


@app.command()
@with_options(reading=source_options)
def sync(
    folder: Annotated[Path, typer.Argument(help="Folder of files the collection mirrors.")],
    collection_dir: Annotated[Path, typer.Argument(help="Collection to update.")],
    *,
    reading: SourceOptions,
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Make a collection equal a folder in one transaction: new and changed files (by
    content hash) upserted as their passages, removed files deleted, unchanged files left
    alone. A run with nothing changed writes nothing.

    Example: hybridir sync ./mydocs ./col
    """
    from hybridir.collection import Collection

    collection = open_collection(collection_dir, wait)
    if not isinstance(collection, Collection):
        raise ConfigError(
            f"{collection_dir} is sharded: sync makes one transaction over every document, "
            "which shards cannot share; use `hybridir add --upsert` and `hybridir delete`"
        )
    report = collection.sync(folder, show_progress=err.is_terminal, **reading.kwargs())
    _print_skipped(report)
    if as_json:
        out.print_json(data={"collection": str(collection_dir), **report.to_dict()})
        return
    out.print(
        f"synced {folder}: {report.written} passages written, {report.deleted} deleted, "
        f"{report.unchanged} files unchanged; {len(collection)} in {collection_dir}"
    )
