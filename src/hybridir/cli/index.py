"""Commands that build and maintain a collection: ``index``, ``add``, ``delete``, ``check``,
``optimize``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hybridir.cli.app import app, err, out
from hybridir.cli.options import (
    FusionOptions,
    WaitOpt,
    analyzer_options,
    bm25_options,
    dense_options,
    fusion_depth_options,
    open_collection,
    splade_options,
)
from hybridir.cli.signature import with_options
from hybridir.config import (
    AnalyzerConfig,
    BM25Config,
    CollectionConfig,
    DenseConfig,
    FusionConfig,
    SpladeConfig,
)
from hybridir.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from hybridir.collection import Collection
    from hybridir.types import Document


def load_corpus(source: str) -> list[Document]:
    """The documents of ``source``: a corpus.jsonl, a BEIR dataset folder or a dataset name.

    Raises:
        NotFoundError: ``source`` looks like a path and does not exist, or names no dataset.
        InvalidInputError: a malformed line, or no documents at all.
    """
    from hybridir.eval.datasets import read_corpus, resolve_dataset

    path = Path(source)
    if not path.exists() and (path.suffix == ".jsonl" or path.is_absolute()):
        raise NotFoundError(f"{source}: no such file or directory")
    corpus = path if path.is_file() else resolve_dataset(source) / "corpus.jsonl"
    docs = list(read_corpus(corpus))
    if not docs:
        raise InvalidInputError(f"{corpus} holds no documents")
    return docs


def build_collection(
    source: str, directory: Path, config: CollectionConfig, overwrite: bool
) -> Collection:
    """Create a collection at ``directory`` holding the documents of ``source``."""
    from hybridir.collection import Collection

    docs = load_corpus(source)
    collection = Collection.create(directory, config, overwrite=overwrite)
    collection.add(docs, show_progress=err.is_terminal, allow_empty=True)
    return collection


@app.command()
@with_options(
    analyzer=analyzer_options,
    bm25=bm25_options,
    dense=dense_options,
    splade=splade_options,
    fusion=fusion_depth_options,
)
def index(
    source: Annotated[
        str, typer.Argument(help="corpus.jsonl, a BEIR dataset folder, or a dataset name.")
    ],
    collection_dir: Annotated[Path, typer.Argument(help="Directory of the collection to create.")],
    *,
    analyzer: AnalyzerConfig,
    bm25: BM25Config,
    dense: DenseConfig | None,
    splade: SpladeConfig | None,
    fusion: FusionOptions,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing collection.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Index into a sharded collection on this Ray cluster ('auto', host:port)."
        ),
    ] = None,
    shards: Annotated[int, typer.Option(help="Shards of a sharded collection (with Ray).")] = 1,
) -> None:
    """Index a corpus into a new collection.

    BM25, plus dense vectors with --dense and learned sparse weights with --splade. With
    --ray-address, into --shards shards encoded with Ray Data and built in parallel (rerun
    the same command to resume after a failure).
    """
    config = CollectionConfig(
        analyzer=analyzer,
        bm25=bm25,
        dense=dense,
        fusion=fusion.over(FusionConfig()),
        splade=splade,
    )
    if ray_address is not None or shards > 1:
        _index_sharded(source, collection_dir, config, shards, ray_address, overwrite)
        return
    collection = build_collection(source, collection_dir, config, overwrite)
    st = collection.bm25.stats
    vectors = f", {len(collection.vectors)} vectors" if collection.has_dense else ""
    if collection.has_splade:
        vectors += f", {collection.splade.stats.n_postings} learned sparse postings"
    out.print(
        f"indexed {st.n_docs} documents, {st.n_terms} terms, {st.n_postings} postings"
        f"{vectors} into {collection_dir}"
    )


def _index_sharded(
    source: str,
    collection_dir: Path,
    config: CollectionConfig,
    shards: int,
    ray_address: str | None,
    overwrite: bool,
) -> None:
    from hybridir.distributed.indexing import index_sharded

    sharded = index_sharded(
        load_corpus(source),
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
def add(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to write to.")],
    source: Annotated[Path, typer.Argument(help="Documents as BEIR-style JSON lines.")],
    upsert: Annotated[
        bool, typer.Option(help="Replace documents whose ids are already stored.")
    ] = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Add documents from a JSON-lines file in one transaction (all or nothing)."""
    from hybridir.eval.datasets import read_corpus

    docs = list(read_corpus(source))  # a malformed line fails here, before any write
    collection = open_collection(collection_dir, wait)
    if upsert:
        n = collection.upsert(docs, show_progress=err.is_terminal)
    else:
        n = collection.add(docs, show_progress=err.is_terminal)
    verb = "upserted" if upsert else "added"
    out.print(f"{verb} {n} documents; {len(collection)} in {collection_dir}")


@app.command()
def delete(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to delete from.")],
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to delete.")],
    missing_ok: Annotated[bool, typer.Option(help="Ignore ids that are not stored.")] = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Delete documents by id in one transaction."""
    collection = open_collection(collection_dir, wait)
    n = collection.delete(doc_ids, missing_ok=missing_ok)
    out.print(f"deleted {n} documents; {len(collection)} in {collection_dir}")


@app.command()
def check(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to check.")],
) -> None:
    """Check that the manifest, the document store and every index agree."""
    collection = open_collection(collection_dir)
    problems = collection.check()
    for problem in problems:
        err.print(f"problem: {problem}", markup=False, highlight=False)
    for orphan in collection.orphans():
        err.print(
            f"orphan: {orphan} (no generation references it; the next write or "
            "`hybridir optimize` removes it)",
            markup=False,
            highlight=False,
        )
    if problems:
        raise typer.Exit(1)
    segments = len(collection.snapshot().manifest.segments)
    out.print(
        f"ok: generation {collection.generation}, {len(collection)} documents in "
        f"{segments} segment(s)"
    )


@app.command()
def optimize(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to compact.")],
    wait: WaitOpt = 0.0,
) -> None:
    """Merge all segments into one and drop deleted documents.

    Queries are fastest on one segment; files no generation references are removed.
    """
    collection = open_collection(collection_dir, wait)
    collection.optimize()
    segments = len(collection.snapshot().manifest.segments)
    out.print(f"{len(collection)} documents in {segments} segment(s)")
