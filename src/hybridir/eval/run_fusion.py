"""Fusion of whole runs (``{qid: {doc_id: score}}``), as Pyserini's ``pyserini.fusion`` and
ranx's ``fuse`` do it over TREC run files.

Each query is fused by :func:`hybridir.fusion.fuse`, the function that fuses a collection's
lists, so a method, normalization and missing-score rule mean the same on run files as in
a search. Run ``i`` (0-based) is fused as the list named ``run{i + 1}``: weights in
:class:`~hybridir.config.FusionConfig` are keyed by these names, and ``alpha`` weighs the
second of two runs (``convex``).

Order and ties: a run file's rank column is ignored, as ``trec_eval`` ignores it; each run
is ordered by (score desc, doc id asc), which is what the rank-based methods (``rrf``,
``isr``, ``log_isr``, the ``rank`` normalization) read as its ranks. The fused run is
ordered by (fused score desc, doc id asc) and written so by
:func:`hybridir.eval.trec.write_run`. A run holds a score but no floor: ``tmm`` and
``arctan`` treat every run's lowest possible score as 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.fusion import METHODS, ScoredList, fuse
from hybridir.types import Run


def run_name(index: int) -> str:
    """The list name of the ``index``-th run (0-based): ``run1``, ``run2``, … (the keys of
    :attr:`FusionConfig.weights <hybridir.config.FusionConfig>` for run fusion)."""
    return f"run{index + 1}"


def check_method(method: str) -> str:
    """Refuse a method that cannot fuse run files (unknown, or learned: a trained model
    scores a collection's lists, not bare runs); returns it unchanged.

    Raises:
        ConfigError: the method is not a :data:`hybridir.fusion.METHODS` name (the message
            lists them).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown fusion method {method!r} for run files; valid: {list(METHODS)}")
    return method


def ranked_list(name: str, hits: dict[str, float], depth: int | None) -> ScoredList:
    """One query's hits of one run, ordered by (score desc, doc id asc) and cut to ``depth``.

    Args:
        name: the list name (:func:`run_name`).
        hits: ``{doc_id: score}``.
        depth: keep this many best hits (``None``: all).

    Returns:
        The list as :func:`hybridir.fusion.fuse` takes it (floor 0).
    """
    ranked = sorted(hits.items(), key=lambda item: (-float(item[1]), item[0]))[:depth]
    return ScoredList(
        name, [doc_id for doc_id, _ in ranked], np.asarray([s for _, s in ranked], dtype=float)
    )


def fuse_runs(
    runs: Sequence[Run], config: FusionConfig, k: int = 1000, depth: int | None = None
) -> Run:
    """Fuse several runs query by query with one fusion setting.

    A query absent from a run is fused from the runs that have it (that run's list is
    empty there); every query of any run is in the result.

    Args:
        runs: two or more runs ``{qid: {doc_id: score}}``; not modified.
        config: the fusion setting (method, normalization, weights keyed ``run1``, ``run2``,
            …, ``rrf_k``, missing-score rule); learned methods are refused.
        k: fused hits kept per query.
        depth: hits taken from each run per query, best first (``None``: all).

    Returns:
        The fused run; each query's dict is in fused order (score desc, doc id asc).

    Raises:
        ConfigError: fewer than two runs, ``k`` or ``depth`` below 1, or a learned method.
        InvalidInputError: a run with no query at all.

    Example:
        >>> a = {"q1": {"d1": 3.0, "d2": 1.0}}
        >>> b = {"q1": {"d2": 0.9, "d3": 0.5}}
        >>> fuse_runs([a, b], FusionConfig(method="rrf"), k=3)["q1"]
        {'d2': 0.03252247488101534, 'd1': 0.01639344262295082, 'd3': 0.016129032258064516}
    """
    if len(runs) < 2:
        raise ConfigError(f"fusion needs at least 2 runs, got {len(runs)}")
    check_method(config.method)
    if k < 1 or (depth is not None and depth < 1):
        raise ConfigError(f"k and depth must be >= 1, got k={k}, depth={depth}")
    for i, run in enumerate(runs):
        if not any(run.values()):
            raise InvalidInputError(f"{run_name(i)} has no hits to fuse")
    qids = sorted(set().union(*runs))
    fused: Run = {}
    for qid in qids:
        lists = [ranked_list(run_name(i), run.get(qid, {}), depth) for i, run in enumerate(runs)]
        result = fuse(lists, config, k)
        fused[qid] = dict(zip(result.doc_ids, result.scores.tolist(), strict=True))
    return fused
