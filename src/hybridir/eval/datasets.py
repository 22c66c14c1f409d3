"""Test collections in the BEIR layout: where to find them, and loading one whole.

The file readers are in :mod:`hybridir.eval.readers` (re-exported here); datasets known by
name but not present are fetched by :mod:`hybridir.eval.loaders`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hybridir.errors import InvalidInputError, NotFoundError
from hybridir.eval._download import download_beir, is_official_beir
from hybridir.eval.loaders import LOADERS, dataset_cache, download_dataset, loader_for
from hybridir.eval.readers import read_corpus, read_qrels, read_queries
from hybridir.types import Document, Qrels, Run

__all__ = [
    "DATA_ENV",
    "BeirDataset",
    "available_splits",
    "cache_dir",
    "exclude_identical_ids",
    "load_beir",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "resolve_dataset",
]

logger = logging.getLogger(__name__)

DATA_ENV = "HYBRIDIR_DATA"
"""Environment variable naming the folder that holds local datasets."""


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR-layout test collection.

    Args:
        name: the dataset name (or folder name when loaded from a path).
        path: the dataset folder.
        split: the qrels split, e.g. ``"test"``.
        queries: ``{qid: text}`` for the queries judged in this split only.
        qrels: the split's judgements. Judged doc ids absent from the corpus are kept: they
            count as relevant documents that no system can retrieve.
    """

    name: str
    path: Path
    split: str
    queries: dict[str, str]
    qrels: Qrels

    def corpus(self) -> Iterator[Document]:
        """Stream the collection's documents (see :func:`read_corpus`)."""
        return read_corpus(self.path / "corpus.jsonl")


def available_splits(path: str | os.PathLike[str]) -> list[str]:
    """List the qrels splits of a dataset folder (the ``qrels/*.tsv`` stems), sorted."""
    return sorted(p.stem for p in (Path(path) / "qrels").glob("*.tsv"))


def load_beir(path_or_name: str | os.PathLike[str], split: str = "test") -> BeirDataset:
    """Load the queries and judgements of one split of a BEIR dataset.

    Args:
        path_or_name: a dataset folder, or a name resolved by :func:`resolve_dataset`.
        split: the qrels split to load.

    Returns:
        The dataset; its corpus is read lazily by :meth:`BeirDataset.corpus`.

    Raises:
        NotFoundError: the dataset or the split does not exist (the message lists the splits).
        InvalidInputError: a file is malformed, or a judged query is missing from queries.jsonl.

    Example:
        >>> ds = load_beir("scifact")  # doctest: +SKIP
        >>> len(ds.queries), ds.split  # doctest: +SKIP
        (300, 'test')
    """
    root = resolve_dataset(path_or_name)
    splits = available_splits(root)
    if split not in splits:
        raise NotFoundError(
            f"split {split!r} not found in {root / 'qrels'}; available splits: {splits or 'none'}"
        )
    qrels = read_qrels(root / "qrels" / f"{split}.tsv")
    all_queries = read_queries(root / "queries.jsonl")
    missing = sorted(qid for qid in qrels if qid not in all_queries)
    if missing:
        raise InvalidInputError(
            f"{len(missing)} judged queries of split {split!r} are missing from "
            f"{root / 'queries.jsonl'}, e.g. {missing[:5]}"
        )
    queries = {qid: text for qid, text in all_queries.items() if qid in qrels}
    name = str(path_or_name) if Path(path_or_name) != root else root.name
    return BeirDataset(name=name, path=root, split=split, queries=queries, qrels=qrels)


def exclude_identical_ids(run: Run) -> Run:
    """Drop every hit whose doc id equals its qid (BEIR's rule for ArguAna and Quora).

    In those collections a query is itself a document of the corpus; BEIR's
    ``EvaluateRetrieval.evaluate(..., ignore_identical_ids=True)`` removes it before scoring.

    Args:
        run: ``{qid: {doc_id: score}}``; not modified.

    Returns:
        A new run without the self-matches (queries left with no hits keep an empty dict).
    """
    return {qid: {d: s for d, s in hits.items() if d != qid} for qid, hits in run.items()}


def _search_roots() -> list[Path]:
    """Folders searched for a dataset name, in order: ``$HYBRIDIR_DATA`` (when set), the cache.

    Never a folder relative to the working directory or to the installed package: a name
    means the same dataset wherever the command runs and however hybridir was installed.
    """
    env = os.environ.get(DATA_ENV)
    return [*([Path(env).expanduser()] if env else []), cache_dir()]


def cache_dir() -> Path:
    """The download cache: ``$HYBRIDIR_CACHE/datasets`` or ``~/.cache/hybridir/datasets``."""
    return dataset_cache()


def _is_dataset(path: Path) -> bool:
    return (path / "corpus.jsonl").is_file()


def _local_names(roots: list[Path]) -> list[str]:
    """Names of the datasets (folders holding corpus.jsonl, one level of nesting) under roots."""
    names: set[str] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for corpus in [*root.glob("*/corpus.jsonl"), *root.glob("*/*/corpus.jsonl")]:
            names.add(corpus.parent.relative_to(root).as_posix())
    return sorted(names)


def resolve_dataset(name_or_path: str | os.PathLike[str]) -> Path:
    """Find a dataset folder from a path or a name, downloading official BEIR datasets if needed.

    Order: an existing directory is used as is; otherwise the name (which may contain a slash,
    e.g. ``"xquad-r/en"``) is looked up in ``$HYBRIDIR_DATA`` when it is set, then in the
    download cache (:func:`cache_dir`); finally a downloadable dataset is fetched into the
    cache: an official BEIR dataset from BEIR's server, checked against its published
    MD5, or a ``mrtydi/<language>``, ``miracl/<language>`` or ``pirb/<dataset>`` name from its
    official source, converted to BEIR layout (:mod:`hybridir.eval.loaders`).

    Args:
        name_or_path: a dataset folder or a dataset name.

    Returns:
        The dataset folder.

    Raises:
        NotFoundError: not found locally and not downloadable (the message lists the datasets
            available locally and the downloadable names), or a download failed.
        InvalidInputError: a download did not match its checksum or could not be converted.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = Path(name_or_path).as_posix()
    roots = _search_roots()
    if not path.is_absolute() and ".." not in path.parts:
        for root in roots:
            if _is_dataset(root / name):
                return root / name
        if loader_for(name) is not None:
            return download_dataset(name, cache_dir())
        if is_official_beir(name):
            return download_beir(name, cache_dir())
    patterns = ", ".join(loader.pattern for loader in LOADERS.values())
    raise NotFoundError(
        f"dataset {str(name_or_path)!r} not found; searched {[str(r) for r in roots]}; "
        f"available locally: {_local_names(roots) or 'none'}; downloadable: the official BEIR "
        f"datasets, {patterns}"
    )
