"""Command-line interface: a thin adapter over the library (``hybridir --help``).

Every command reports errors as one ``error: …`` line on stderr with exit status 1 (2 for
usage errors); progress goes to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hybridir.collection import Collection
from hybridir.config import (
    AnalyzerConfig,
    BM25Config,
    CollectionConfig,
    DenseConfig,
    FusionConfig,
)
from hybridir.errors import ConfigError, HybridirError, InvalidInputError, NotFoundError
from hybridir.search import HYBRID, RETRIEVERS, Searcher
from hybridir.types import Document, ListContribution

if TYPE_CHECKING:
    from hybridir.learn.cv import CVReport
    from hybridir.learn.data import TrainingSet

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False
)
out = Console()
err = Console(stderr=True)

LanguageOpt = Annotated[str, typer.Option(help="ISO 639-1 analyzer language (en, pl, de, zh, …).")]
StemmerOpt = Annotated[
    str,
    typer.Option(
        help="'default', 'none', 'porter', 'stempel', 'morfeusz' or 'snowball:<algorithm>'."
    ),
]
K1Opt = Annotated[float, typer.Option(help="BM25 k1.")]
BOpt = Annotated[float, typer.Option(help="BM25 b.")]
VariantOpt = Annotated[
    str, typer.Option(help="BM25 variant: lucene, robertson, atire, bm25l, bm25+.")
]
TitleOpt = Annotated[int, typer.Option(help="Times each title term counts (0 ignores titles).")]
RetrieverOpt = Annotated[
    str | None,
    typer.Option(help=f"One of {sorted([*RETRIEVERS, HYBRID])} (default: the collection's)."),
]
BackendOpt = Annotated[str, typer.Option(help="Encoder backend: torch, onnx, onnx-int8.")]
VectorIndexOpt = Annotated[str, typer.Option(help="FAISS factory string (Flat = exact).")]
FusionOpt = Annotated[
    str | None, typer.Option("--fusion", help="rrf, convex, combsum, combmnz, dbsf, tmm, …")
]
NormOpt = Annotated[str | None, typer.Option(help="minmax, zscore, l2, dbsf, tmm, arctan, rank.")]
AlphaOpt = Annotated[float | None, typer.Option(help="Weight of the dense list (convex).")]
RrfKOpt = Annotated[float | None, typer.Option("--rrf-k", help="RRF rank constant.")]
MissingOpt = Annotated[str | None, typer.Option(help="Absent-document rule: zero, min, skip.")]
SparseDepthOpt = Annotated[int | None, typer.Option(help="BM25 candidates fused.")]
DenseDepthOpt = Annotated[int | None, typer.Option(help="Dense candidates fused.")]
RerankOpt = Annotated[
    str | None,
    typer.Option(
        help="Reranker: cross-encoder:MODEL, bi-encoder[:MODEL] or collaborative:NAME "
        "(default: the collection's)."
    ),
]
NoRerankOpt = Annotated[bool, typer.Option(help="Skip the collection's default reranker.")]
SplitOpt = Annotated[str, typer.Option(help="Qrels split.")]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait", help="Seconds to wait for another process's write to finish (0: fail at once)."
    ),
]


def _config(
    language: str,
    stemmer: str,
    k1: float,
    b: float,
    variant: str,
    title_weight: int,
    dense: DenseConfig | None = None,
    fusion: FusionConfig | None = None,
) -> CollectionConfig:
    return CollectionConfig(
        analyzer=AnalyzerConfig(language=language, stemmer=stemmer),
        bm25=BM25Config(variant=variant, k1=k1, b=b, title_weight=title_weight),
        dense=dense,
        fusion=fusion or FusionConfig(),
    )


def _fusion(
    base: FusionConfig,
    method: str | None,
    norm: str | None,
    alpha: float | None,
    rrf_k: float | None,
    missing: str | None,
    sparse_depth: int | None,
    dense_depth: int | None,
) -> FusionConfig:
    """``base`` with the options that were given on the command line."""
    changes: dict[str, object] = {
        key: value
        for key, value in (
            ("method", method),
            ("norm", norm),
            ("alpha", alpha),
            ("rrf_k", rrf_k),
            ("missing", missing),
        )
        if value is not None
    }
    depths = dict(base.depths)
    for name, depth in (("bm25", sparse_depth), ("dense", dense_depth)):
        if depth is not None:
            depths[name] = depth
    merged = base.to_dict() | changes | {"depths": depths}
    return FusionConfig.from_dict(merged)


def _corpus(source: str) -> list[Document]:
    from hybridir.eval.datasets import read_corpus, resolve_dataset

    path = Path(source)
    if not path.exists() and (path.suffix == ".jsonl" or path.is_absolute()):
        raise NotFoundError(f"{source}: no such file or directory")
    corpus = path if path.is_file() else resolve_dataset(source) / "corpus.jsonl"
    docs = list(read_corpus(corpus))
    if not docs:
        raise InvalidInputError(f"{corpus} holds no documents")
    return docs


def _build(source: str, directory: Path, config: CollectionConfig, overwrite: bool) -> Collection:
    docs = _corpus(source)
    collection = Collection.create(directory, config, overwrite=overwrite)
    collection.add(docs, show_progress=err.is_terminal, allow_empty=True)
    return collection


@app.command()
def index(
    source: Annotated[
        str, typer.Argument(help="corpus.jsonl, a BEIR dataset folder, or a dataset name.")
    ],
    collection_dir: Annotated[Path, typer.Argument(help="Directory of the collection to create.")],
    language: LanguageOpt = "en",
    stemmer: StemmerOpt = "default",
    k1: K1Opt = 1.2,
    b: BOpt = 0.75,
    variant: VariantOpt = "lucene",
    title_weight: TitleOpt = 1,
    dense: Annotated[
        str | None, typer.Option(help="Also embed with this sentence-transformers model.")
    ] = None,
    dense_backend: BackendOpt = "torch",
    vector_index: VectorIndexOpt = "Flat",
    splade: Annotated[
        str | None,
        typer.Option(help="Also index learned sparse weights of this SPLADE model (splade-tiny)."),
    ] = None,
    splade_query: Annotated[
        str, typer.Option(help="SPLADE query weighting: encoder, idf (inference-free).")
    ] = "encoder",
    splade_max_terms: Annotated[
        int | None, typer.Option(help="Keep each document's top-N SPLADE terms.")
    ] = None,
    fusion: FusionOpt = None,
    norm: NormOpt = None,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = None,
    missing: MissingOpt = None,
    sparse_depth: SparseDepthOpt = None,
    dense_depth: DenseDepthOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing collection.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Index into a sharded collection on this Ray cluster ('auto', host:port)."
        ),
    ] = None,
    shards: Annotated[int, typer.Option(help="Shards of a sharded collection (with Ray).")] = 1,
) -> None:
    """Index a corpus into a new collection (BM25, plus dense vectors with --dense and
    learned sparse weights with --splade); with --ray-address, into --shards shards encoded
    with Ray Data and built in parallel (rerun the same command to resume after a failure)."""
    from dataclasses import replace

    from hybridir.config import SpladeConfig

    dense_config = (
        None
        if dense is None
        else DenseConfig(model=dense, backend=dense_backend, index=vector_index)
    )
    fusion_config = _fusion(
        FusionConfig(), fusion, norm, alpha, rrf_k, missing, sparse_depth, dense_depth
    )
    config = _config(language, stemmer, k1, b, variant, title_weight, dense_config, fusion_config)
    if splade is not None:
        config = replace(
            config,
            splade=SpladeConfig(model=splade, query_mode=splade_query, max_terms=splade_max_terms),
        )
    if ray_address is not None or shards > 1:
        from hybridir.distributed.indexing import index_sharded

        sharded = index_sharded(
            _corpus(source),
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
        return
    collection = _build(source, collection_dir, config, overwrite)
    st = collection.bm25.stats
    vectors = f", {len(collection.vectors)} vectors" if collection.has_dense else ""
    if collection.has_splade:
        vectors += f", {collection.splade.stats.n_postings} learned sparse postings"
    out.print(
        f"indexed {st.n_docs} documents, {st.n_terms} terms, {st.n_postings} postings"
        f"{vectors} into {collection_dir}"
    )


@app.command()
def search(
    collection_dir: Annotated[Path, typer.Argument(help="Collection directory.")],
    query: Annotated[str, typer.Argument(help="Query text.")],
    k: Annotated[int, typer.Option("-k", "--k", help="Number of hits.")] = 10,
    retriever: RetrieverOpt = None,
    fusion: FusionOpt = None,
    norm: NormOpt = None,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = None,
    missing: MissingOpt = None,
    rerank: RerankOpt = None,
    no_rerank: NoRerankOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Search a collection and show the hits with each list's explanation."""
    collection = Collection.open(collection_dir)
    fusion_config = _fusion(
        collection.config.fusion, fusion, norm, alpha, rrf_k, missing, None, None
    )
    searcher = _searcher(collection, retriever, fusion_config, rerank)
    result = searcher.search(query, k, rerank=False if no_rerank else None)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    lists = [c.retriever for c in result.hits[0].contributions] if result.hits else []
    table = Table(title=f"{query!r}: {len(result.hits)} hits")
    for column in ("rank", "doc_id", "score"):
        table.add_column(column)
    for name in lists:
        table.add_column(f"{name} rank / raw / norm")
    table.add_column("matched terms")
    table.add_column("title / text")
    for hit in result.hits:
        doc = collection.get(hit.doc_id)
        cells = [_contribution_cell(c) for c in hit.contributions]
        matched = next((c.matched_terms for c in hit.contributions if c.matched_terms), ())
        table.add_row(
            str(hit.rank),
            hit.doc_id,
            f"{hit.score:.4f}",
            *cells,
            " ".join(matched),
            (doc.title or doc.text)[:60],
        )
    out.print(table)
    timings = ", ".join(f"{name} {ms:.1f} ms" for name, ms in result.timings.items())
    err.print(f"[dim]{timings}[/dim]")


def _searcher(
    collection: Collection, retriever: str | None, fusion: FusionConfig, rerank: str | None
) -> Searcher:
    reranker = None
    if rerank is not None:
        from hybridir.rerank import reranker_from_spec

        reranker = reranker_from_spec(collection, rerank)
    return Searcher(collection, retriever, fusion, reranker)


def _contribution_cell(c: ListContribution) -> str:
    if c.rank is None:
        return "absent"
    norm = "" if c.normalized_score is None else f" / {c.normalized_score:.3f}"
    return f"{c.rank} / {c.raw_score:.3f}{norm}"


@app.command()
def evaluate(
    dataset: Annotated[str, typer.Argument(help="BEIR dataset folder or name.")],
    split: Annotated[str, typer.Option(help="Qrels split.")] = "test",
    retriever: Annotated[
        str | None,
        typer.Option(
            help=f"One of {sorted([*RETRIEVERS, HYBRID])} (default: bm25, or the "
            "collection's with --collection)."
        ),
    ] = None,
    dense_model: Annotated[
        str, typer.Option(help="Encoder for the dense and hybrid retrievers.")
    ] = "sentence-transformers/all-MiniLM-L6-v2",
    dense_backend: BackendOpt = "torch",
    vector_index: VectorIndexOpt = "Flat",
    fusion: FusionOpt = None,
    norm: NormOpt = None,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = None,
    missing: MissingOpt = None,
    sparse_depth: SparseDepthOpt = None,
    dense_depth: DenseDepthOpt = None,
    language: LanguageOpt = "en",
    stemmer: StemmerOpt = "default",
    k1: K1Opt = 1.2,
    b: BOpt = 0.75,
    variant: VariantOpt = "lucene",
    title_weight: TitleOpt = 1,
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
    rerank: RerankOpt = None,
    no_rerank: NoRerankOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Retrieve for a BEIR dataset's queries and report trec_eval metrics.

    Indexes the dataset into a temporary collection, or, with --collection, searches an
    existing one with its own configuration (for instance after `hybridir tune`).
    """
    from hybridir.eval.datasets import exclude_identical_ids, load_beir
    from hybridir.eval.metrics import check_metrics
    from hybridir.eval.metrics import evaluate as score_run
    from hybridir.eval.trec import write_run

    names = check_metrics([m.strip() for m in metrics.split(",") if m.strip()])
    valid = sorted([*RETRIEVERS, HYBRID])
    if retriever is None and collection_dir is None:
        retriever = "bm25"
    if retriever is not None and retriever not in valid:
        raise ConfigError(f"unknown retriever {retriever!r}; valid: {valid}")
    dense_config = (
        DenseConfig(model=dense_model, backend=dense_backend, index=vector_index)
        if retriever != "bm25"
        else None
    )
    fusion_config = _fusion(
        FusionConfig(), fusion, norm, alpha, rrf_k, missing, sparse_depth, dense_depth
    )
    data = load_beir(dataset, split=split)
    rerank_flag = False if no_rerank else None
    if collection_dir is not None:
        collection = Collection.open(collection_dir)
        overrides = _fusion(
            collection.config.fusion, fusion, norm, alpha, rrf_k, missing, sparse_depth, dense_depth
        )
        searcher = _searcher(collection, retriever, overrides, rerank)
        run = searcher.run(data.queries, depth, rerank=rerank_flag, n_threads=threads)
        retriever = searcher.retriever
        collection.close()
    else:
        config = _config(
            language, stemmer, k1, b, variant, title_weight, dense_config, fusion_config
        )
        with tempfile.TemporaryDirectory(prefix="hybridir-eval-") as tmp:
            collection = _build(str(data.path), Path(tmp) / "collection", config, False)
            searcher = _searcher(collection, retriever, fusion_config, rerank)
            run = searcher.run(data.queries, depth, rerank=rerank_flag, n_threads=threads)
            collection.close()
    if ignore_identical_ids:
        run = exclude_identical_ids(run)
    if save_run is not None:
        write_run(run, save_run, tag=f"hybridir-{retriever}")
    results: dict[str, float | int] = dict(score_run(run, data.qrels, names))
    results["queries"] = len(data.qrels)
    if as_json:
        print(json.dumps(results))
        return
    table = Table(title=f"{data.name} ({split}), {retriever}, {len(data.qrels)} queries")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in names:
        table.add_row(name, f"{results[name]:.4f}")
    out.print(table)


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
    collection = Collection.open(collection_dir, wait=wait)
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
    collection = Collection.open(collection_dir, wait=wait)
    n = collection.delete(doc_ids, missing_ok=missing_ok)
    out.print(f"deleted {n} documents; {len(collection)} in {collection_dir}")


@app.command()
def check(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to check.")],
) -> None:
    """Check that the manifest, the document store and every index agree."""
    collection = Collection.open(collection_dir)
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
    m = collection.manifest
    out.print(
        f"ok: generation {m.generation}, {m.n_docs} documents in {len(m.segments)} segment(s)"
    )


@app.command()
def optimize(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to compact.")],
    wait: WaitOpt = 0.0,
) -> None:
    """Merge all segments into one, drop deleted documents (fastest queries) and remove
    files no generation references."""
    collection = Collection.open(collection_dir, wait=wait)
    collection.optimize()
    out.print(f"{len(collection)} documents in {len(collection.manifest.segments)} segment(s)")


def _training(collection: Collection, dataset: str, split: str, depth: int) -> TrainingSet:
    from hybridir.eval.datasets import load_beir
    from hybridir.learn.data import collect

    data = load_beir(dataset, split=split)
    searcher = Searcher(collection)
    depths = dict.fromkeys(searcher.lists(), depth)
    with err.status(f"retrieving candidates for {len(data.queries)} {split} queries"):
        return collect(searcher, data.queries, data.qrels, depths)


def _refuse_test_split(split: str, allow: bool) -> None:
    if split == "test" and not allow:
        raise ConfigError(
            "refusing to learn from the test split (results on it would be optimistic); "
            "use --split train or dev, or --allow-test if no other judgments exist"
        )


def _print_cv(title: str, report: CVReport, as_json: bool, extra: dict[str, object]) -> None:
    if as_json:
        print(json.dumps({"cv": report._asdict(), **extra}))
        return
    table = Table(title=title)
    table.add_column("")
    table.add_column(report.metric, justify="right")
    table.add_row("baseline (current fusion)", f"{report.baseline:.4f}")
    table.add_row("learned, out of fold", f"{report.learned:.4f}")
    interval = f"[{report.ci_low:+.4f}, {report.ci_high:+.4f}]"
    table.add_row("gain [95% CI]", f"{report.gain:+.4f} {interval}")
    table.add_row("randomization p", f"{report.p_value:.3g}")
    out.print(table)
    for key, value in extra.items():
        out.print(f"{key}: {value}")


@app.command()
def tune(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to tune.")],
    dataset: Annotated[str, typer.Argument(help="BEIR dataset (folder or name) with qrels.")],
    split: SplitOpt = "train",
    metric: Annotated[str, typer.Option(help="Metric to maximise.")] = "ndcg@10",
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    depth: Annotated[int, typer.Option(help="Deepest candidate depth per list.")] = 1000,
    dry_run: Annotated[bool, typer.Option(help="Report only; keep the current fusion.")] = False,
    force: Annotated[
        bool, typer.Option(help="Save the winner even if it does not beat the current fusion.")
    ] = False,
    allow_test: Annotated[bool, typer.Option(help="Allow tuning on a 'test' split.")] = False,
    wait: WaitOpt = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Grid-search fusion (method × normalization × weights × rrf_k × depths) on judged
    queries with cross-validation, and make the winner the collection's fusion when it
    beats the current one out of fold."""
    from hybridir.eval.metrics import check_metrics
    from hybridir.learn.tune import default_grid, simplify
    from hybridir.learn.tune import tune as run_tune

    _refuse_test_split(split, allow_test)
    (metric,) = check_metrics([metric])
    collection = Collection.open(collection_dir, wait=wait)
    training = _training(collection, dataset, split, depth)
    depth_options = sorted({min(100, depth), depth})
    grid = default_grid(training.names, depth_options)
    with _progress_bar("tuning fusion", len(grid) + 1) as advance:
        result = run_tune(
            training,
            collection.config.fusion,
            metric=metric,
            n_folds=folds,
            grid=grid,
            progress=advance,
        )
    best = simplify(result.best, training.names)
    # A winner that loses on held-out folds is noise: keep the current fusion unless forced.
    save = not dry_run and (result.cv.gain > 0 or force)
    if save:
        collection.set_fusion(best)
    elif not dry_run:
        err.print("kept the current fusion: the tuned setting did not beat it out of fold")
    extra = {"best": best.to_dict(), "settings": result.n_settings, "saved": save}
    _print_cv(f"tuned on {len(training.qids)} {split} queries", result.cv, as_json, extra)


@app.command()
def train(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to train for.")],
    dataset: Annotated[str, typer.Argument(help="BEIR dataset (folder or name) with qrels.")],
    model: Annotated[
        str,
        typer.Option(
            help="rescore (learned rescoring), adaptive (per-query α), collaborative "
            "(reranker) or token-weights (inference-free learned sparse queries)."
        ),
    ] = "rescore",
    split: SplitOpt = "train",
    metric: Annotated[
        str, typer.Option(help="Metric reported (and for adaptive, targeted).")
    ] = "ndcg@10",
    folds: Annotated[int, typer.Option(help="Cross-validation folds (0 skips it).")] = 5,
    activate: Annotated[
        bool, typer.Option(help="Make the model the collection's fusion (or reranker).")
    ] = True,
    allow_test: Annotated[bool, typer.Option(help="Allow training on a 'test' split.")] = False,
    wait: WaitOpt = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Train a learned fusion model or reranker on judged queries and store it in the
    collection; reports its cross-validated gain over the current fusion first."""
    from hybridir.eval.metrics import check_metrics
    from hybridir.learn.store import save_model
    from hybridir.learn.train import TRAINERS, cross_validate, fit

    _refuse_test_split(split, allow_test)
    (metric,) = check_metrics([metric])
    kinds = [*TRAINERS, "collaborative", "token-weights"]
    if model not in kinds:
        raise ConfigError(f"unknown model {model!r}; valid: {kinds}")
    collection = Collection.open(collection_dir, wait=wait)
    if model == "token-weights":
        _train_token_weights(collection, dataset, split, activate, as_json)
        return
    training = _training(collection, dataset, split, 1000)
    base = collection.config.fusion
    if model == "collaborative":
        from hybridir.rerank import train_collaborative

        with err.status("training the collaborative reranker"):
            reranker = train_collaborative(Searcher(collection), training)
        name = save_model(collection.models_dir, reranker)
        if activate:
            collection.set_rerank(f"collaborative:{name}")
        out.print(f"stored collaborative reranker {name}" + (" (active)" if activate else ""))
        if as_json:
            print(json.dumps({"model": name, "active": activate}))
        return
    report = None
    if folds:
        with err.status(f"cross-validating {model} ({folds} folds)"):
            report = cross_validate(model, collection, training, base, metric=metric, n_folds=folds)
    with err.status(f"training {model} on {len(training.qids)} queries"):
        trained = fit(model, collection, training, base)
    name = save_model(collection.models_dir, trained)
    config = FusionConfig(method=model, depths=trained.depths, model=name)
    if activate:
        collection.set_fusion(config)
    extra = {"model": name, "fusion": config.to_dict(), "active": activate}
    if report is None:
        out.print(json.dumps(extra) if as_json else f"stored {model} model {name}")
        return
    _print_cv(f"{model} on {len(training.qids)} {split} queries", report, as_json, extra)


def _train_token_weights(
    collection: Collection, dataset: str, split: str, activate: bool, as_json: bool
) -> None:
    """Distil the SPLADE query encoder into a per-token weight table (queries only)."""
    from hybridir.eval.datasets import load_beir
    from hybridir.learn.store import save_model
    from hybridir.learn.token_weights import fit_token_weights

    queries = list(load_beir(dataset, split=split).queries.values())
    with err.status(f"distilling query weights from {len(queries)} {split} queries"):
        table = fit_token_weights(collection.sparse_encoder, queries, collection.splade.idf)
    name = save_model(collection.models_dir, table)
    if activate:
        collection.set_splade_query("table", name)
    summary = {"model": name, "active": activate, **table.meta()}
    if as_json:
        print(json.dumps(summary))
    else:
        out.print(f"stored token weights {name}" + (" (active)" if activate else ""))


@app.command("copy-model")
def copy_model(
    source_dir: Annotated[Path, typer.Argument(help="Collection holding the model.")],
    name: Annotated[str, typer.Argument(help="Stored model name (see models/).")],
    target_dir: Annotated[Path, typer.Argument(help="Collection to use it in.")],
    activate: Annotated[bool, typer.Option(help="Make it the target's fusion/reranker.")] = True,
    wait: WaitOpt = 0.0,
) -> None:
    """Use a model trained on one collection in another (e.g. SciFact-trained fusion on
    your own corpus)."""
    from hybridir.learn.store import load_model, save_model

    source = Collection.open(source_dir)
    target = Collection.open(target_dir, wait=wait)
    model = load_model(source.models_dir, name)
    stored = save_model(target.models_dir, model)
    if activate:
        if model.kind == "collaborative":
            target.set_rerank(f"collaborative:{stored}")
        elif model.kind == "token-weights":
            target.set_splade_query("table", stored)
        else:
            depths = getattr(model, "depths", {})
            target.set_fusion(FusionConfig(method=model.kind, depths=depths, model=stored))
    out.print(f"copied {name} to {target_dir}" + (" (active)" if activate else ""))


@contextmanager
def _progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


@app.command()
def serve(
    collection_dirs: Annotated[list[Path], typer.Argument(help="Collections to serve.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    api_key_file: Annotated[
        Path | None, typer.Option(help="File of API keys, one per line (enables writes).")
    ] = None,
    keys_for_reads: Annotated[bool, typer.Option(help="Require a key for reads too.")] = False,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Origin allowed by CORS (repeatable).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster of the sharded collections served.")
    ] = None,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's headers.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's body (then 408).")
    ] = 30.0,
    write_wait: Annotated[
        float,
        typer.Option(help="Seconds a write waits for another process's write (then 409)."),
    ] = 30.0,
) -> None:
    """Serve collections over HTTP: JSON API, /docs, /metrics and a search page at /.

    Every collection is opened and the port bound before "serving … on …" is printed, so a
    bad collection or a port in use fails here with one error line.
    """
    try:
        from hybridir.server.config import ServerConfig
        from hybridir.server.serving import listen, prepare, run, url
    except ImportError as exc:
        from hybridir.errors import missing_dependency

        raise missing_dependency("fastapi/uvicorn", "server") from exc
    config = ServerConfig.from_dirs(
        collection_dirs,
        api_key_file,
        keys_for_reads=keys_for_reads,
        cors_origins=tuple(cors_origin or ()),
        ray_address=ray_address,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        write_wait=write_wait,
    )
    app_or_factory = prepare(config, workers, api_key_file)
    with listen(host, port) as sock:
        err.print(
            f"serving {sorted(config.collections)} on {url(sock)}", markup=False, soft_wrap=True
        )
        run(app_or_factory, config, sock, workers)


@app.command()
def benchmark(
    spec_file: Annotated[
        Path | None, typer.Argument(help="TOML spec (fields of hybridir.eval.runner.Spec).")
    ] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (names or folders).")
    ] = None,
    systems: Annotated[
        str | None, typer.Option(help="Comma-separated: bm25, dense, rrf, dbsf, convex, tuned.")
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="System the marks compare with.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write runs and reports.")] = Path(
        "benchmark-results"
    ),
) -> None:
    """Run datasets × systems: TREC runs, a table with significance marks, an HTML report."""
    from hybridir._cache import cache_root
    from hybridir.eval.runner import Spec, markdown_table
    from hybridir.eval.runner import run as run_benchmark

    def split(value: str) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()]

    if spec_file is None and datasets is None:
        raise ConfigError("give a spec file or --datasets")
    base = Spec.load(spec_file) if spec_file is not None else None
    fields: dict[str, Any] = (
        dict(base.__dict__) if base is not None else {"datasets": split(datasets or "")}
    )
    if datasets is not None:
        fields["datasets"] = split(datasets)
    if systems is not None:
        fields["systems"] = split(systems)
    if metrics is not None:
        fields["metrics"] = split(metrics)
    if baseline is not None:
        fields["baseline"] = baseline
    spec = Spec(**fields)
    with err.status("benchmark") as status:
        results = run_benchmark(spec, out_dir, cache_root("benchmark"), status.update)
    out.print(markdown_table(results))
    out.print(f"runs, results.md/.csv/.json and report.html in {out_dir}")


@app.command()
def demo(
    dataset: Annotated[str, typer.Argument(help="BEIR dataset folder or name.")] = "scifact",
) -> None:
    """Index SciFact, evaluate BM25 and show example queries with their hits."""
    from hybridir.demo import run_demo

    run_demo(dataset, out, err)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status instead of exiting (``hybridir`` entry point)."""
    try:
        app(args=argv, prog_name="hybridir")
    except SystemExit as exc:  # typer's standalone mode ends with sys.exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (HybridirError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 1
    return 0


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
