"""Commands that maintain a collection: ``delete``, ``check``, ``optimize``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hybridir.cli.app import app, err, out
from hybridir.cli.options import WaitOpt, open_collection


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
