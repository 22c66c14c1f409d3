"""Commands that learn from judged queries: ``tune`` (fusion grid search), ``train`` (learned
fusion, rerankers, query token weights, dense query tables) and ``copy-model``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hybridir._progress import progress_bar
from hybridir.cli.app import app, err, out, progress_to
from hybridir.cli.options import JsonOpt, SplitOpt, WaitOpt, open_collection
from hybridir.config import FusionConfig
from hybridir.errors import ConfigError

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress
    from hybridir.distributed.opening import AnyCollection
    from hybridir.learn.calibrate import CalibrationResult
    from hybridir.learn.cv import CVReport
    from hybridir.learn.dataset import TrainingSet
    from hybridir.types import Document


def _training(collection: AnyCollection, dataset: str, split: str, depth: int) -> TrainingSet:
    from hybridir.eval.datasets import load_beir
    from hybridir.learn.data import collect
    from hybridir.search import Searcher

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
    from rich.table import Table

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
    as_json: JsonOpt = False,
) -> None:
    """Grid-search the collection's fusion on judged queries.

    Method × normalization × weights × rrf_k × depths, cross-validated; the winner becomes
    the collection's fusion when it beats the current one out of fold.

    Example: hybridir tune ./col scifact --split train --metric ndcg@10
    """
    from hybridir.eval.metrics import check_metrics
    from hybridir.learn.tune import default_grid, simplify
    from hybridir.learn.tune import tune as run_tune

    _refuse_test_split(split, allow_test)
    (metric,) = check_metrics([metric])
    collection = open_collection(collection_dir, wait)
    training = _training(collection, dataset, split, depth)
    depth_options = sorted({min(100, depth), depth})
    grid = default_grid(training.names, depth_options)
    with progress_bar("Tuning fusion", len(grid) + 1, progress_to(as_json)) as bar:
        result = run_tune(
            training,
            collection.config.fusion,
            metric=metric,
            n_folds=folds,
            grid=grid,
            progress=bar.update,
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
def calibrate(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to calibrate.")],
    queries: Annotated[int, typer.Option(help="Pseudo-queries to draw.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 0,
    metric: Annotated[str, typer.Option(help="Metric to maximise.")] = "ndcg@10",
    dry_run: Annotated[bool, typer.Option(help="Report only; keep the current fusion.")] = False,
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Set the fusion from pseudo-queries drawn from the collection itself (no judgments).

    A sentence of a document is the query and that document, scored without the sentence,
    the answer; the fusion grid of `tune` is searched on them, cross-validated, and the
    winner kept with its evidence when it beats the current fusion out of fold.

    Example: hybridir calibrate ./col --queries 300
    """
    collection = open_collection(collection_dir, wait)
    result = run_calibration(
        collection,
        progress_to(as_json),
        queries=queries,
        seed=seed,
        metric=metric,
        apply=not dry_run,
    )
    report_calibration(result, as_json, dry_run)


def run_calibration(collection: Any, show: ShowProgress, **options: Any) -> CalibrationResult:
    """:func:`hybridir.learn.calibrate.calibrate` with a progress bar (drawing the
    pseudo-queries, then one step per fusion setting tried)."""
    from hybridir.learn.calibrate import calibrate as calibrate_fusion

    with progress_bar("Calibrating fusion (drawing pseudo-queries)", None, show) as bar:
        return calibrate_fusion(
            collection,
            progress=bar.update,
            on_total=lambda n: bar.update(0, total=n, label="Calibrating fusion"),
            **options,
        )


def report_calibration(result: CalibrationResult, as_json: bool, dry_run: bool = False) -> None:
    """Print what a calibration measured and chose (one JSON object with ``as_json``)."""
    from hybridir.learn.calibrate import describe

    evidence = result.evidence
    if as_json:
        print(json.dumps({"calibration": evidence.to_dict(), "applied": result.applied}))
        return
    out.print(describe(evidence), markup=False)
    if dry_run:
        out.print(
            "dry run: the collection is unchanged (a real run would do as above)", markup=False
        )
    elif result.applied:
        out.print("this is now the collection's fusion", markup=False)


@app.command()
def train(
    collection_dir: Annotated[Path, typer.Argument(help="Collection to train for.")],
    dataset: Annotated[
        str | None,
        typer.Argument(
            help="BEIR dataset (folder or name) with qrels; for dense-table optional (its "
            "queries are extra training texts)."
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="rescore (learned rescoring), adaptive (per-query α), collaborative "
            "(reranker), token-weights (inference-free learned sparse queries) or "
            "dense-table (transformer-free dense queries, fitted on the collection's texts)."
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
    as_json: JsonOpt = False,
) -> None:
    """Train a learned fusion model or reranker on judged queries and store it.

    Reports the model's cross-validated gain over the current fusion first.

    Example: hybridir train ./col scifact --model rescore --split train
    """
    from hybridir.eval.metrics import check_metrics
    from hybridir.learn.store import save_model
    from hybridir.learn.train import TRAINERS, cross_validate, fit

    (metric,) = check_metrics([metric])
    kinds = [*TRAINERS, "collaborative", "token-weights", "dense-table"]
    if model not in kinds:
        raise ConfigError(f"unknown model {model!r}; valid: {kinds}")
    if dataset is not None:
        _refuse_test_split(split, allow_test)
    if model == "dense-table":
        _train_dense_table(open_collection(collection_dir, wait), dataset, split, activate, as_json)
        return
    if dataset is None:
        raise ConfigError(f"--model {model} needs a DATASET with queries (and qrels)")
    collection = open_collection(collection_dir, wait)
    if model == "token-weights":
        _train_token_weights(collection, dataset, split, activate, as_json)
        return
    training = _training(collection, dataset, split, 1000)
    if model == "collaborative":
        _train_collaborative(collection, training, activate, as_json)
        return
    base = collection.config.fusion
    report = None
    if folds:
        with err.status(f"cross-validating {model} ({folds} folds)"):
            report = cross_validate(
                model, collection.snapshot(), training, base, metric=metric, n_folds=folds
            )
    with err.status(f"training {model} on {len(training.qids)} queries"):
        trained = fit(model, collection.snapshot(), training, base)
    name = save_model(collection.models_dir, trained)
    config = FusionConfig(method=model, depths=trained.depths, model=name)
    if activate:
        collection.set_fusion(config)
    extra = {"model": name, "fusion": config.to_dict(), "active": activate}
    if report is None:
        if as_json:  # plain print: rich would wrap the line
            print(json.dumps(extra))
        else:
            out.print(f"stored {model} model {name}")
        return
    _print_cv(f"{model} on {len(training.qids)} {split} queries", report, as_json, extra)


def _train_collaborative(
    collection: AnyCollection, training: TrainingSet, activate: bool, as_json: bool
) -> None:
    """Train the HybRank-style collaborative reranker (no cross-validation)."""
    from hybridir.learn.store import save_model
    from hybridir.learn.train import train_collaborative
    from hybridir.search import Searcher

    with err.status("training the collaborative reranker"):
        reranker = train_collaborative(Searcher(collection), training)
    name = save_model(collection.models_dir, reranker)
    if activate:
        collection.set_rerank(f"collaborative:{name}")
    out.print(f"stored collaborative reranker {name}" + (" (active)" if activate else ""))
    if as_json:
        print(json.dumps({"model": name, "active": activate}))


def _train_token_weights(
    collection: AnyCollection, dataset: str, split: str, activate: bool, as_json: bool
) -> None:
    """Distil the SPLADE query encoder into a per-token weight table (queries only)."""
    from hybridir.eval.datasets import load_beir
    from hybridir.learn.store import save_model
    from hybridir.learn.token_weights import fit_token_weights

    queries = list(load_beir(dataset, split=split).queries.values())
    with err.status(f"distilling query weights from {len(queries)} {split} queries"):
        backend = collection.snapshot()
        table = fit_token_weights(backend.sparse_encoder, queries, backend.splade_idf)
    name = save_model(collection.models_dir, table)
    if activate:
        collection.set_splade_query("table", name)
    summary = {"model": name, "active": activate, **table.meta()}
    if as_json:
        print(json.dumps(summary))
    else:
        out.print(f"stored token weights {name}" + (" (active)" if activate else ""))


def _documents(collection: AnyCollection) -> Iterator[Document]:
    """Every document of ``collection``, shard by shard for a sharded one."""
    from hybridir.collection import Collection

    if isinstance(collection, Collection):
        yield from collection.snapshot()
        return
    for path in collection.layout.shard_dirs:
        shard = open_collection(path)
        try:
            yield from _documents(shard)
        finally:
            shard.close()


def _train_dense_table(
    collection: AnyCollection, dataset: str | None, split: str, activate: bool, as_json: bool
) -> None:
    """Distil the dense query encoder into a per-token table (the collection's own texts,
    plus the dataset split's queries when given)."""
    from hybridir.eval.datasets import load_beir
    from hybridir.learn.dense_fit import train_dense_table
    from hybridir.learn.models import load_model

    queries = [] if dataset is None else list(load_beir(dataset, split=split).queries.values())
    with err.status(f"distilling dense query vectors (and {len(queries)} {split} queries)"):
        name = train_dense_table(collection, _documents(collection), queries, activate=activate)
    summary = {"model": name, "active": activate, **load_model(collection.models_dir, name).meta()}
    if as_json:
        print(json.dumps(summary))
    else:
        out.print(f"stored dense table {name}" + (" (active)" if activate else ""))


ACTIVATE: dict[str, Callable[[Any, Any, str], None]] = {
    "collaborative": lambda target, model, name: target.set_rerank(f"collaborative:{name}"),
    "token-weights": lambda target, model, name: target.set_splade_query("table", name),
    "dense-table": lambda target, model, name: target.set_dense_query("table", name),
}
"""How a copied model that is not a fusion model becomes active, by kind."""


def _activate_fusion(target: Any, model: Any, name: str) -> None:
    depths = getattr(model, "depths", {})
    target.set_fusion(FusionConfig(method=model.kind, depths=depths, model=name))


@app.command("copy-model")
def copy_model(
    source_dir: Annotated[Path, typer.Argument(help="Collection holding the model.")],
    name: Annotated[str, typer.Argument(help="Stored model name (see models/).")],
    target_dir: Annotated[Path, typer.Argument(help="Collection to use it in.")],
    activate: Annotated[bool, typer.Option(help="Make it the target's fusion/reranker.")] = True,
    wait: WaitOpt = 0.0,
) -> None:
    """Use a model trained on one collection in another.

    For instance fusion trained on SciFact, on your own corpus.

    Example: hybridir copy-model ./scifact-col rescore-0123456789ab ./col
    """
    from hybridir.learn.models import load_model
    from hybridir.learn.store import save_model

    source = open_collection(source_dir)
    target = open_collection(target_dir, wait)
    model = load_model(source.models_dir, name)
    stored = save_model(target.models_dir, model)
    if activate:
        ACTIVATE.get(model.kind, _activate_fusion)(target, model, stored)
    out.print(f"copied {name} to {target_dir}" + (" (active)" if activate else ""))
