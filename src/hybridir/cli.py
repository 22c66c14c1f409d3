"""Command-line interface: a thin adapter over the library (``hybridir --help``).

Every command reports errors as one ``error: …`` line on stderr with exit status 1 (2 for
usage errors); progress goes to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

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
from hybridir.types import ListContribution

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


def _build(source: str, directory: Path, config: CollectionConfig, overwrite: bool) -> Collection:
    from hybridir.eval.datasets import read_corpus, resolve_dataset

    path = Path(source)
    if not path.exists() and (path.suffix == ".jsonl" or path.is_absolute()):
        raise NotFoundError(f"{source}: no such file or directory")
    corpus = path if path.is_file() else resolve_dataset(source) / "corpus.jsonl"
    docs = list(read_corpus(corpus))
    if not docs:
        raise InvalidInputError(f"{corpus} holds no documents")
    collection = Collection.create(directory, config, overwrite=overwrite)
    collection.add(docs, show_progress=err.is_terminal)
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
    fusion: FusionOpt = None,
    norm: NormOpt = None,
    alpha: AlphaOpt = None,
    rrf_k: RrfKOpt = None,
    missing: MissingOpt = None,
    sparse_depth: SparseDepthOpt = None,
    dense_depth: DenseDepthOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing collection.")] = False,
) -> None:
    """Index a corpus into a new collection (BM25, plus dense vectors with --dense)."""
    dense_config = (
        None
        if dense is None
        else DenseConfig(model=dense, backend=dense_backend, index=vector_index)
    )
    fusion_config = _fusion(
        FusionConfig(), fusion, norm, alpha, rrf_k, missing, sparse_depth, dense_depth
    )
    config = _config(language, stemmer, k1, b, variant, title_weight, dense_config, fusion_config)
    collection = _build(source, collection_dir, config, overwrite)
    st = collection.bm25.stats
    vectors = f", {len(collection.vectors)} vectors" if collection.has_dense else ""
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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Search a collection and show the hits with each list's explanation."""
    collection = Collection.open(collection_dir)
    fusion_config = _fusion(
        collection.config.fusion, fusion, norm, alpha, rrf_k, missing, None, None
    )
    result = Searcher(collection, retriever, fusion_config).search(query, k)
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
        str, typer.Option(help=f"One of {sorted([*RETRIEVERS, HYBRID])}.")
    ] = "bm25",
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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Index a BEIR dataset, retrieve for its queries and report trec_eval metrics."""
    from hybridir.eval.datasets import exclude_identical_ids, load_beir
    from hybridir.eval.metrics import check_metrics
    from hybridir.eval.metrics import evaluate as score_run
    from hybridir.eval.trec import write_run

    names = check_metrics([m.strip() for m in metrics.split(",") if m.strip()])
    valid = sorted([*RETRIEVERS, HYBRID])
    if retriever not in valid:
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
    config = _config(language, stemmer, k1, b, variant, title_weight, dense_config, fusion_config)
    with tempfile.TemporaryDirectory(prefix="hybridir-eval-") as tmp:
        collection = _build(str(data.path), Path(tmp) / "collection", config, False)
        run = Searcher(collection).run(data.queries, depth, retriever=retriever, n_threads=threads)
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
