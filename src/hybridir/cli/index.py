"""Commands that put documents in: ``index`` (a new collection), ``add``, ``sync``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from hybridir.cli.app import OPENED, app, err, out, print_json, progress_to
from hybridir.cli.defaults import printed_warnings, read_with_defaults
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
    from hybridir._progress import ShowProgress
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
    source: str,
    directory: Path,
    config: CollectionConfig,
    overwrite: bool,
    show: ShowProgress = False,
    *,
    dense_required: bool = False,
) -> Collection:
    """Create a collection at ``directory`` holding the documents of ``source``."""
    built = build(source, directory, config, overwrite, show=show, dense_required=dense_required)
    return built.collection


class Built(NamedTuple):
    """A collection :func:`build` made, what reading its source found, and its calibration."""

    collection: Collection
    report: IngestReport
    calibration: CalibrationResult | None


def build(
    source: str,
    directory: Path,
    config: CollectionConfig,
    overwrite: bool,
    reading: SourceOptions | None = None,
    show: ShowProgress = False,
    *,
    calibrate: bool = False,
    dense_required: bool = False,
) -> Built:
    """Create a collection at ``directory`` holding the documents of ``source``, its
    language and dense model chosen for them when ``"auto"`` (:mod:`hybridir.cli.defaults`),
    its fusion calibrated when ``calibrate`` and no fusion option was given.

    The collection is built in a folder beside ``directory`` and renamed into place once
    complete (:func:`hybridir.collection.building.building`): a build that fails leaves
    nothing behind, and ``overwrite`` replaces the old collection only with a whole one."""
    from hybridir.collection.building import build_new, check_target

    check_target(directory, overwrite=overwrite)  # before the slow part
    with printed_warnings():
        config, docs, report = read_with_defaults(
            config, source, reading or SourceOptions(), show, dense_required=dense_required
        )
    _print_skipped(report)
    calibrating = calibrate and config.fusion == FusionConfig()

    def fill(collection: Collection) -> CalibrationResult | None:
        collection.add(docs, show_progress=show, allow_empty=True)
        return _calibrate(collection, show) if calibrating else None

    collection, calibration = build_new(directory, config, fill, overwrite=overwrite)
    return Built(collection, report, calibration)


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

    BM25 with the analyzer of the documents' language (detected: --language auto), dense
    vectors of a model that covers it (--dense auto; --dense none for BM25 only), and
    learned sparse weights with --splade. A failed run leaves nothing behind. Files
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
    start = time.perf_counter()
    show = progress_to(as_json)
    built = build(source, collection_dir, config, overwrite, reading, show, calibrate=calibrate)
    collection, report, calibration = built
    OPENED.append(collection)
    if as_json:
        data: dict[str, Any] = {
            "collection": str(collection_dir),
            "language": collection.config.analyzer.language,
            "dense": None if collection.config.dense is None else collection.config.dense.model,
            **report.to_dict(),
            "generation": collection.generation,
            "lists": collection.lists(),
            "seconds": round(time.perf_counter() - start, 3),
        }
        if calibration is not None:
            data["calibration"] = calibration.evidence.to_dict()
        print_json(data)
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


def _calibrate(collection: Collection, show: ShowProgress) -> CalibrationResult | None:
    """Calibrate a new collection's fusion when it fuses BM25 and dense and has the sentences
    to draw pseudo-queries from; says why not otherwise (on stderr)."""
    from hybridir.cli.learn import run_calibration
    from hybridir.errors import InvalidInputError
    from hybridir.learn.calibrate import describe, unsupported

    if unsupported(collection.lists()) is not None:
        return None
    try:
        result = run_calibration(collection, show)
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
    from hybridir.distributed.indexing import index_sharded

    with printed_warnings():
        config, docs, report = read_with_defaults(config, source, reading, progress_to(False))
    _print_skipped(report)
    sharded = index_sharded(
        docs,
        collection_dir,
        config,
        shards,
        address=ray_address,
        overwrite=overwrite,
        progress=err.print,
        show=progress_to(False),
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

    start = time.perf_counter()
    show = progress_to(as_json)
    collection = open_collection(collection_dir, wait)
    if isinstance(collection, Collection):
        report = collection.add_source(
            source, upsert=upsert, show_progress=show, **reading.kwargs()
        )
    else:  # sharded: routed by id, one transaction per shard
        docs, report = read_units(collection.config, source, show, **reading.kwargs())
        write = collection.upsert if upsert else collection.add
        write(docs, show_progress=show)
    _print_skipped(report)
    if as_json:
        print_json(
            {
                "collection": str(collection_dir),
                **report.to_dict(),
                "documents_stored": len(collection),
                "generation": collection.generation,
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
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
    report = collection.sync(folder, show_progress=progress_to(as_json), **reading.kwargs())
    _print_skipped(report)
    if as_json:
        print_json({"collection": str(collection_dir), **report.to_dict()})
        return
    out.print(
        f"synced {folder}: {report.written} passages written, {report.deleted} deleted, "
        f"{report.unchanged} files unchanged; {len(collection)} in {collection_dir}"
    )
