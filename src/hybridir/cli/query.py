"""Commands that answer queries: ``search`` (one query, explained) and ``evaluate`` (a judged
dataset's queries, scored with trec_eval metrics)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hybridir.cli.app import app, err, out, progress_to
from hybridir.cli.batch import (
    BatchOptions,
    batch_options,
    check_writable,
    run_queries,
    search_topics,
)
from hybridir.cli.index import build_collection
from hybridir.cli.options import (
    FusionOptions,
    JsonOpt,
    RerankOptions,
    SplitOpt,
    analyzer_options,
    bm25_options,
    encoder_options,
    fusion_depth_options,
    fusion_options,
    open_collection,
    rerank_options,
)
from hybridir.cli.signature import with_options
from hybridir.config import (
    AnalyzerConfig,
    BM25Config,
    CollectionConfig,
    DenseConfig,
    DiversifyConfig,
    FusionConfig,
)
from hybridir.content import DEFAULT_FIELDS, FIELDS
from hybridir.errors import ConfigError
from hybridir.grouping import GROUP_BY, check_group_by
from hybridir.query import RETRIEVERS
from hybridir.search import HYBRID, Searcher
from hybridir.text.snippets import ELLIPSIS, MARK, highlighted

if TYPE_CHECKING:
    from rich.text import Text

    from hybridir._progress import ShowProgress
    from hybridir.collection import Collection
    from hybridir.distributed.opening import AnyCollection
    from hybridir.eval.datasets import BeirDataset
    from hybridir.types import Hit, ListContribution, Qrels, Run, SearchResult

RETRIEVER_NAMES = sorted([*RETRIEVERS, HYBRID])
"""What ``--retriever`` accepts."""
TABLE_FIELDS = ("title", "snippet")
"""What the hit table shows unless ``--fields`` says otherwise."""
TEXT_CHARS = 300
"""How much of a whole text (``--fields text``) the table shows."""


def _searcher(
    collection: AnyCollection, retriever: str | None, fusion: FusionConfig, rerank: RerankOptions
) -> Searcher:
    """A Searcher over ``collection``; over one generation of it when it is one collection,
    so that every query of a batch sees the same documents."""
    from hybridir.collection import Collection

    source = collection.snapshot() if isinstance(collection, Collection) else collection
    return Searcher(source, retriever, fusion, rerank.reranker(collection))


@app.command()
@with_options(fusion=fusion_options, rerank=rerank_options, batch=batch_options)
def search(
    collection_dir: Annotated[Path, typer.Argument(help="Collection directory.")],
    query: Annotated[
        str | None, typer.Argument(help="Query text (or --topics FILE for many queries).")
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            "-k",
            "--k",
            "--hits",
            help="Number of hits (default: 10, 1000 per topic with --topics).",
        ),
    ] = None,
    retriever: Annotated[
        str | None,
        typer.Option(help=f"One of {RETRIEVER_NAMES} (default: the collection's)."),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated content of each hit, from {sorted(FIELDS)} ('' for none; "
            "default: title,snippet in the table, title,text,metadata with --json)."
        ),
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            help=f"One of {list(GROUP_BY)}: 'document' ranks parent documents by their best "
            "passage (k counts documents)."
        ),
    ] = "passage",
    diversify: Annotated[
        str | None,
        typer.Option(
            help="Reorder the top hits for a RAG context: 'mmr', 'clusters' or 'none' "
            "(default: the collection's setting; needs a dense list)."
        ),
    ] = None,
    mmr_lambda: Annotated[
        float, typer.Option(help="MMR trade-off: 1 keeps the fused order, 0 only novelty.")
    ] = 0.7,
    *,
    fusion: FusionOptions,
    rerank: RerankOptions,
    batch: BatchOptions,
    as_json: JsonOpt = False,
) -> None:
    """Search a collection and show the hits with each list's explanation.

    With --topics, search every query of a topics file (id TAB text per line, or BEIR JSONL
    with _id and text) or of a dataset's split, and write the run to --output: TREC (six
    columns, the --run-tag last), MS MARCO (qid, doc id, rank) or JSONL. The flags are
    Pyserini's where they mean the same. Queries go through the same path as
    hybridir evaluate, so its run for the same queries is the same.

    Example: hybridir search ./col "install on windows" --group-by document --diversify mmr

    Example: hybridir search ./col --topics queries.tsv --output run.trec --hits 1000
    """
    if query is not None and batch.topics is not None:
        raise ConfigError("give a QUERY or --topics FILE, not both")
    collection = open_collection(collection_dir)
    searcher = _searcher(collection, retriever, fusion.over(collection.config.fusion), rerank)
    if batch.topics is not None:
        if group_by != "passage" or diversify is not None or fields is not None:
            raise ConfigError(
                "--group-by, --diversify and --fields apply to one query, not to --topics"
            )
        search_topics(searcher, batch.topics, 1000 if k is None else k, rerank.flag, batch, as_json)
        return
    if query is None:
        raise ConfigError("give a QUERY, or --topics FILE for many queries")
    k = 10 if k is None else k
    default = DEFAULT_FIELDS if as_json else TABLE_FIELDS
    wanted = default if fields is None else tuple(f.strip() for f in fields.split(",") if f.strip())
    grouping = check_group_by(group_by)
    spread: DiversifyConfig | bool | None = None
    if diversify is not None:
        spread = False if diversify == "none" else DiversifyConfig(diversify, mmr_lambda)
    result = searcher.search(
        query, k, rerank=rerank.flag, fields=wanted, group_by=grouping, diversify=spread
    )
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    _print_hits(query, result)


def _print_hits(query: str, result: SearchResult) -> None:
    from rich.table import Table

    lists = [c.retriever for c in result.hits[0].contributions] if result.hits else []
    table = Table(title=f"{query!r}: {len(result.hits)} hits")
    for column in ("rank", "doc_id", "score"):
        table.add_column(column)
    for name in lists:
        table.add_column(f"{name} rank / raw / norm")
    table.add_column("matched terms")
    table.add_column("title / snippet", ratio=2)
    for hit in result.hits:
        cells = [_contribution_cell(c) for c in hit.contributions]
        matched = next((c.matched_terms for c in hit.contributions if c.matched_terms), ())
        doc_id = (
            hit.doc_id
            if hit.passage_id in (None, hit.doc_id)
            else f"{hit.doc_id}\n({hit.passage_id})"
        )
        table.add_row(
            str(hit.rank),
            doc_id,
            f"{hit.score:.4f}",
            *cells,
            " ".join(matched),
            _content_cell(hit),
        )
    out.print(table)
    timings = ", ".join(f"{name} {ms:.1f} ms" for name, ms in result.timings.items())
    err.print(f"[dim]{timings}[/dim]")


def _content_cell(hit: Hit) -> Text:
    """A hit's title (bold) over its text: a snippet's marked words highlighted (the
    fragment unescaped, never read as rich markup), a whole text cut to 300 characters."""
    from rich.text import Text

    cell = Text()
    if hit.title:
        cell.append(hit.title, style="bold")
    if hit.text:
        if hit.title:
            cell.append("\n")
        if MARK[0] in hit.text or ELLIPSIS in hit.text:
            for piece, marked in highlighted(hit.text):
                cell.append(piece, style="reverse" if marked else "")
        else:
            cell.append(hit.text[:TEXT_CHARS] + (ELLIPSIS if len(hit.text) > TEXT_CHARS else ""))
    return cell


def _contribution_cell(c: ListContribution) -> str:
    if c.rank is None:
        return "absent"
    norm = "" if c.normalized_score is None else f" / {c.normalized_score:.3f}"
    return f"{c.rank} / {c.raw_score:.3f}{norm}"


@app.command()
@with_options(
    dense=encoder_options,
    fusion=fusion_depth_options,
    analyzer=analyzer_options,
    bm25=bm25_options,
    rerank=rerank_options,
)
def evaluate(
    dataset: Annotated[str, typer.Argument(help="BEIR dataset folder or name.")],
    split: SplitOpt = "test",
    retriever: Annotated[
        str | None,
        typer.Option(
            help=f"One of {RETRIEVER_NAMES} (default: bm25, or the collection's with --collection)."
        ),
    ] = None,
    *,
    dense: DenseConfig,
    fusion: FusionOptions,
    analyzer: AnalyzerConfig,
    bm25: BM25Config,
    metrics: Annotated[
        str, typer.Option(help="Comma-separated metrics.")
    ] = "ndcg@10,recall@100,mrr@10,map@100",
    depth: Annotated[int, typer.Option(help="Hits retrieved per query.")] = 1000,
    ignore_identical_ids: Annotated[
        bool, typer.Option(help="Drop hits whose doc id equals the query id (BEIR's ArguAna rule).")
    ] = False,
    save_run: Annotated[Path | None, typer.Option(help="Write the TREC run here.")] = None,
    threads: Annotated[int, typer.Option(help="Retrieval threads.")] = 1,
    collection_dir: Annotated[
        Path | None,
        typer.Option(
            "--collection",
            help="Search this existing collection (its analyzer, fusion and reranker) "
            "instead of indexing the dataset.",
        ),
    ] = None,
    rerank: RerankOptions,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve for a BEIR dataset's queries and report trec_eval metrics.

    Indexes the dataset into a temporary collection, or, with --collection, searches an
    existing one with its own configuration (for instance after `hybridir tune`).

    Example: hybridir evaluate scifact --retriever hybrid --metrics ndcg@10,recall@100
    """
    from hybridir.eval.datasets import exclude_identical_ids, load_beir
    from hybridir.eval.metrics import check_metrics
    from hybridir.eval.metrics import evaluate as score_run
    from hybridir.eval.trec import write_run

    names = check_metrics([m.strip() for m in metrics.split(",") if m.strip()])
    if save_run is not None:
        check_writable(save_run)  # before the whole evaluation, not after it
    if retriever is None and collection_dir is None:
        retriever = "bm25"
    if retriever is not None and retriever not in RETRIEVER_NAMES:
        raise ConfigError(f"unknown retriever {retriever!r}; valid: {RETRIEVER_NAMES}")
    data = load_beir(dataset, split=split)
    with ExitStack() as stack:
        if collection_dir is not None:
            collection = stack.enter_context(closing(open_collection(collection_dir)))
        else:
            config = CollectionConfig(
                analyzer=analyzer,
                bm25=bm25,
                dense=None if retriever == "bm25" else dense,
                fusion=fusion.over(FusionConfig()),
            )
            collection = stack.enter_context(_indexed(data, config, progress_to(as_json)))
        searcher = _searcher(collection, retriever, fusion.over(collection.config.fusion), rerank)
        run = run_queries(
            searcher,
            data.queries,
            depth,
            rerank=rerank.flag,
            threads=threads,
            show=progress_to(as_json),
        )
    if ignore_identical_ids:
        run = exclude_identical_ids(run)
    if collection_dir is not None and not _any_judged(run, data.qrels):
        err.print(
            f"warning: no query retrieved any of {data.name}'s relevant documents from "
            f"{collection_dir}: was it indexed from this dataset? (its doc ids must be the "
            "corpus ids; a folder of files has its own)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if save_run is not None:
        write_run(run, save_run, tag=f"hybridir-{searcher.retriever}")
    results: dict[str, Any] = dict(score_run(run, data.qrels, names))
    results["queries"] = len(data.qrels)
    source = None
    if searcher.retriever == "hybrid":
        used = searcher.fusion
        source = "options" if used != collection.config.fusion else _source(collection.config)
        results["fusion"], results["fusion_source"] = used.to_dict(), source
    if as_json:
        print(json.dumps(results))
        return
    title = f"{data.name} ({split}), {searcher.retriever}, {len(data.qrels)} queries"
    _print_metrics(title, names, results)
    if source is not None:
        out.print(f"fusion: {_fusion_line(searcher.fusion)} (from {source})", markup=False)


def _any_judged(run: Run, qrels: Qrels) -> bool:
    """Whether any query's hits hold one of the documents judged relevant (none: almost
    surely a collection built from other documents, which scores 0 without an error)."""
    relevant = {d for judged in qrels.values() for d, grade in judged.items() if grade > 0}
    return not relevant or any(d in relevant for hits in run.values() for d in hits)


def _source(config: CollectionConfig) -> str:
    """Where a collection's fusion comes from, in words."""
    from hybridir.learn.calibrate import describe

    kind = config.fusion_source()
    if kind == "calibration" and config.calibration is not None:
        return describe(config.calibration)
    return {"default": "the defaults", "set": "tune, train or set by hand"}[kind]


def _fusion_line(fusion: FusionConfig) -> str:
    """A fusion setting in one line: its non-default fields."""
    base = FusionConfig().to_dict()
    changed = {k: v for k, v in fusion.to_dict().items() if v != base[k] and k != "method"}
    return fusion.method + "".join(f", {k}={v}" for k, v in changed.items())


@contextmanager
def _indexed(
    data: BeirDataset, config: CollectionConfig, show: ShowProgress
) -> Iterator[Collection]:
    """The dataset's corpus indexed with ``config`` into a temporary folder (closed and
    removed on exit)."""
    with tempfile.TemporaryDirectory(prefix="hybridir-eval-") as tmp:
        folder = Path(tmp) / "collection"
        collection = build_collection(
            str(data.path), folder, config, False, show, dense_required=config.dense is not None
        )
        with closing(collection):
            yield collection


def _print_metrics(title: str, names: list[str], results: dict[str, float | int]) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in names:
        table.add_row(name, f"{results[name]:.4f}")
    out.print(table)
