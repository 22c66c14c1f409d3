"""Evaluation: BEIR datasets, TREC run files, trec_eval-exact metrics and significance tests.

Datasets resolve by name (:func:`resolve_dataset`): ``$HYBRIDIR_DATA``, then the cache, then a
download: official BEIR datasets, ``mrtydi/<language>``, ``miracl/<language>`` and
``pirb/<dataset>`` (converted to BEIR layout, :mod:`hybridir.eval.loaders`).

Example:
    >>> from hybridir.eval import evaluate, load_beir
    >>> ds = load_beir("scifact")  # doctest: +SKIP
    >>> evaluate(run, ds.qrels, ["ndcg@10", "recall@100"])  # doctest: +SKIP
"""

from hybridir.eval.compare import Comparison, compare_runs
from hybridir.eval.datasets import (
    BeirDataset,
    available_splits,
    cache_dir,
    exclude_identical_ids,
    load_beir,
    read_corpus,
    read_qrels,
    read_queries,
    resolve_dataset,
)
from hybridir.eval.loaders import convert_miracl, convert_mrtydi, convert_pirb, import_dataset
from hybridir.eval.metrics import check_metrics, evaluate, evaluate_per_query
from hybridir.eval.run_fusion import fuse_runs
from hybridir.eval.significance import (
    SignificanceResult,
    adjust_p_values,
    paired_t_test,
    randomization_test,
)
from hybridir.eval.trec import read_any_qrels, read_run, read_trec_qrels, write_qrels, write_run

__all__ = [
    "BeirDataset",
    "Comparison",
    "SignificanceResult",
    "adjust_p_values",
    "available_splits",
    "cache_dir",
    "check_metrics",
    "compare_runs",
    "convert_miracl",
    "convert_mrtydi",
    "convert_pirb",
    "evaluate",
    "evaluate_per_query",
    "exclude_identical_ids",
    "fuse_runs",
    "import_dataset",
    "load_beir",
    "paired_t_test",
    "randomization_test",
    "read_any_qrels",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "read_run",
    "read_trec_qrels",
    "resolve_dataset",
    "write_qrels",
    "write_run",
]
