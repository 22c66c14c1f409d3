"""Commands that maintain a collection: ``delete``, ``check``, ``optimize``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hybridir.cli.app import app, err, out, print_json
from hybridir.cli.options import JsonOpt, WaitOpt, open_collection


def _seconds(start: float) -> float:
    return round(time.perf_counter() - start, 3)


@app.command()
def delete(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to delete from.")],
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to delete.")],
    missing_ok: Annotated[bool, typer.Option(help="Ignore ids that are not stored.")] = False,
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Delete documents by id in one transaction.

    Example: hybridir delete ./col doc-17 doc-42 --missing-ok
    """
    start = time.perf_counter()
    collection = open_collection(collection_dir, wait)
    n = collection.delete(doc_ids, missing_ok=missing_ok)
    if as_json:
        print_json(
            {
                "collection": str(collection_dir),
                "deleted": n,
                "documents": len(collection),
                "generation": collection.generation,
                "seconds": _seconds(start),
            }
        )
        return
    out.print(f"deleted {n} documents; {len(collection)} in {collection_dir}")


@app.command()
def check(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check that the manifest, the document store and every index agree.

    Exits with status 1 when a problem is found; files that no generation references are
    listed as orphans (the next write or hybridir optimize removes them).

    Example: hybridir check ./col
    """
    start = time.perf_counter()
    collection = open_collection(collection_dir)
    problems = collection.check()
    orphans = collection.orphans()
    segments = len(collection.snapshot().manifest.segments)
    if as_json:
        print_json(
            {
                "collection": str(collection_dir),
                "ok": not problems,
                "problems": problems,
                "orphans": orphans,
                "generation": collection.generation,
                "documents": len(collection),
                "segments": segments,
                "seconds": _seconds(start),
            }
        )
    else:
        for problem in problems:
            err.print(f"problem: {problem}", markup=False, highlight=False)
        for orphan in orphans:
            err.print(
                f"orphan: {orphan} (no generation references it; the next write or "
                "`hybridir optimize` removes it)",
                markup=False,
                highlight=False,
            )
    if problems:
        raise typer.Exit(1)
    if not as_json:
        out.print(
            f"ok: generation {collection.generation}, {len(collection)} documents in "
            f"{segments} segment(s)"
        )


@app.command()
def optimize(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to compact.")],
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Merge all segments into one and drop deleted documents.

    Queries are fastest on one segment; files no generation references are removed.

    Example: hybridir optimize ./col
    """
    start = time.perf_counter()
    collection = open_collection(collection_dir, wait)
    before = len(collection.snapshot().manifest.segments)
    collection.optimize()
    segments = len(collection.snapshot().manifest.segments)
    if as_json:
        print_json(
            {
                "collection": str(collection_dir),
                "documents": len(collection),
                "segments_before": before,
                "segments": segments,
                "generation": collection.generation,
                "seconds": _seconds(start),
            }
        )
        return
    out.print(f"{len(collection)} documents in {segments} segment(s)")
