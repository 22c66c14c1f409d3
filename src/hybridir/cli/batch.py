"""Many queries through one Searcher: :func:`run_queries` (``evaluate`` and batch ``search``)
and :func:`search_topics` (``hybridir search COLLECTION --topics FILE --output RUN``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hybridir.cli.app import out, print_json, progress_to
from hybridir.cli.options import names_a_file
from hybridir.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress
    from hybridir.search import Searcher
    from hybridir.types import Run

BATCH_SIZE = 64
"""Queries retrieved together (``--batch-size``): one progress step."""


def run_queries(
    searcher: Searcher,
    queries: dict[str, str],
    k: int,
    *,
    rerank: bool | None,
    threads: int = 1,
    batch_size: int = BATCH_SIZE,
    show: ShowProgress = False,
) -> Run:
    """``searcher.run`` over ``queries`` in batches of ``batch_size``, with a progress bar.

    Each query is ranked on its own (lists retrieved per query, fused per query), so the
    batches change nothing but when the bar advances.

    Raises:
        ConfigError: ``batch_size`` or ``threads`` is below 1.
    """
    if batch_size < 1 or threads < 1:
        raise ConfigError(f"--batch-size and --threads must be >= 1, got {batch_size}, {threads}")
    from hybridir._progress import progress_bar

    qids = list(queries)
    run: Run = {}
    with progress_bar("Searching", len(qids), show) as bar:
        for start in range(0, len(qids), batch_size):
            batch = {qid: queries[qid] for qid in qids[start : start + batch_size]}
            run.update(searcher.run(batch, k, rerank=rerank, n_threads=threads))
            bar.advance(len(batch))
    return run


@dataclass(frozen=True)
class BatchOptions:
    """``search --topics``: the topics, what is written and how it retrieves."""

    topics: str | None = None
    output: Path | None = None
    output_format: str = "trec"
    run_tag: str = "hybridir"
    split: str = "test"
    batch_size: int = BATCH_SIZE
    threads: int = 1
    remove_query: bool = False


_BATCH = "Batch search (--topics)"


def batch_options(
    topics: Annotated[
        str | None,
        typer.Option(
            help="Search every query of this file (id TAB text per line, or BEIR JSONL with "
            "_id and text) or dataset (its --split queries) instead of one QUERY.",
            rich_help_panel=_BATCH,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Run file to write.", rich_help_panel=_BATCH),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(help="trec, msmarco or jsonl.", rich_help_panel=_BATCH),
    ] = "trec",
    run_tag: Annotated[
        str, typer.Option(help="Tag in the last column of a TREC run.", rich_help_panel=_BATCH)
    ] = "hybridir",
    split: Annotated[
        str, typer.Option(help="Split whose queries a dataset gives.", rich_help_panel=_BATCH)
    ] = "test",
    batch_size: Annotated[
        int, typer.Option(help="Queries retrieved together.", rich_help_panel=_BATCH)
    ] = BATCH_SIZE,
    threads: Annotated[int, typer.Option(help="Retrieval threads.", rich_help_panel=_BATCH)] = 1,
    remove_query: Annotated[
        bool,
        typer.Option(
            "--remove-query",
            help="Drop hits whose doc id equals the query id (BEIR's ArguAna rule).",
            rich_help_panel=_BATCH,
        ),
    ] = False,
) -> BatchOptions:
    """``--topics``, ``--output``, ``--output-format``, ``--run-tag``, ``--split``,
    ``--batch-size``, ``--threads`` and ``--remove-query`` (Pyserini's names)."""
    return BatchOptions(
        topics, output, output_format, run_tag, split, batch_size, threads, remove_query
    )


def load_topics(topics: str, split: str) -> dict[str, str]:
    """The queries of ``topics``: a TSV or JSONL file, else a BEIR dataset (folder or
    name) whose ``split`` queries are taken (those ``hybridir evaluate`` runs).

    Raises:
        NotFoundError: neither a file nor a known dataset.
        InvalidInputError: a malformed topics line (``FILE:LINE: …``), or no topics.
    """
    from hybridir.eval.batch import read_topics
    from hybridir.eval.datasets import load_beir

    queries = read_topics(topics) if names_a_file(topics) else load_beir(topics, split).queries
    if not queries:
        raise InvalidInputError(f"{topics}: no topics")
    return queries


def check_writable(path: Path) -> None:
    """Fail before searching when ``path`` cannot be written (the file itself is written
    atomically at the end, so a failure then leaves nothing partial either).

    Raises:
        InvalidInputError: the folder is missing or not writable, or ``path`` is a folder.
    """
    folder = path.parent
    if path.is_dir():
        raise InvalidInputError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InvalidInputError(f"cannot write {path}: folder {folder} is not writable")


def search_topics(
    searcher: Searcher,
    topics: str,
    k: int,
    rerank: bool | None,
    options: BatchOptions,
    as_json: bool,
) -> None:
    """Search every topic and write the run (``hybridir search --topics``).

    Raises:
        ConfigError: no ``--output``, or an unknown ``--output-format``.
        InvalidInputError: bad topics, or an output that cannot be written.
    """
    from hybridir.eval.batch import RUN_FORMATS, write_run_as
    from hybridir.eval.datasets import exclude_identical_ids

    if options.output is None:
        raise ConfigError("--topics needs --output RUN (the file the run is written to)")
    if options.output_format not in RUN_FORMATS:
        raise ConfigError(
            f"unknown output format {options.output_format!r}; valid: {sorted(RUN_FORMATS)}"
        )
    check_writable(options.output)
    queries = load_topics(topics, options.split)
    start = time.perf_counter()
    run = run_queries(
        searcher,
        queries,
        k,
        rerank=rerank,
        threads=options.threads,
        batch_size=options.batch_size,
        show=progress_to(as_json),
    )
    if options.remove_query:
        run = exclude_identical_ids(run)
    seconds = time.perf_counter() - start
    try:
        write_run_as(run, options.output, options.output_format, options.run_tag)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {options.output}: {exc.strerror}") from exc
    hits = sum(len(h) for h in run.values())
    if as_json:
        print_json(
            {
                "output": str(options.output),
                "format": options.output_format,
                "queries": len(queries),
                "hits": hits,
                "retriever": searcher.retriever,
                "seconds": round(seconds, 3),
            }
        )
        return
    rate = len(queries) / seconds if seconds > 0 else float("inf")
    out.print(
        f"searched {len(queries)} topics ({searcher.retriever}, {rate:,.0f} queries/s): "
        f"{hits} hits written to {options.output}",
        markup=False,
        highlight=False,
    )
