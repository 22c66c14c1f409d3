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
from hybridir.config import AnalyzerConfig, BM25Config, CollectionConfig
from hybridir.errors import ConfigError, HybridirError, InvalidInputError, NotFoundError
from hybridir.search import RETRIEVERS, Searcher

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


def _config(
    language: str, stemmer: str, k1: float, b: float, variant: str, title_weight: int
) -> CollectionConfig:
    return CollectionConfig(
        analyzer=AnalyzerConfig(language=language, stemmer=stemmer),
        bm25=BM25Config(variant=variant, k1=k1, b=b, title_weight=title_weight),
    )


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
    k1: K1Opt = 0.9,
    b: BOpt = 0.4,
    variant: VariantOpt = "lucene",
    title_weight: TitleOpt = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing collection.")] = False,
) -> None:
    """Index a corpus into a new collection."""
    config = _config(language, stemmer, k1, b, variant, title_weight)
    collection = _build(source, collection_dir, config, overwrite)
    st = collection.bm25.stats
    out.print(
        f"indexed {st.n_docs} documents, {st.n_terms} terms, {st.n_postings} postings "
        f"into {collection_dir}"
    )


@app.command()
def search(
    collection_dir: Annotated[Path, typer.Argument(help="Collection directory.")],
    query: Annotated[str, typer.Argument(help="Query text.")],
    k: Annotated[int, typer.Option("-k", "--k", help="Number of hits.")] = 10,
    retriever: Annotated[str, typer.Option(help=f"One of {sorted(RETRIEVERS)}.")] = "bm25",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Search a collection and show the hits with their explanations."""
    collection = Collection.open(collection_dir)
    result = Searcher(collection).search(query, k, retriever=retriever)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    table = Table(title=f"{query!r}: {len(result.hits)} hits")
    for column in ("rank", "doc_id", "score", "bm25 rank", "matched terms", "title / text"):
        table.add_column(column)
    for hit in result.hits:
        doc = collection.get(hit.doc_id)
        c = hit.contributions[0]
        snippet = (doc.title or doc.text)[:70]
        table.add_row(
            str(hit.rank),
            hit.doc_id,
            f"{hit.score:.4f}",
            str(c.rank),
            " ".join(c.matched_terms),
            snippet,
        )
    out.print(table)


@app.command()
def evaluate(
    dataset: Annotated[str, typer.Argument(help="BEIR dataset folder or name.")],
    split: Annotated[str, typer.Option(help="Qrels split.")] = "test",
    retriever: Annotated[str, typer.Option(help=f"One of {sorted(RETRIEVERS)}.")] = "bm25",
    language: LanguageOpt = "en",
    stemmer: StemmerOpt = "default",
    k1: K1Opt = 0.9,
    b: BOpt = 0.4,
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
    if retriever not in RETRIEVERS:
        raise ConfigError(f"unknown retriever {retriever!r}; valid: {sorted(RETRIEVERS)}")
    data = load_beir(dataset, split=split)
    config = _config(language, stemmer, k1, b, variant, title_weight)
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
