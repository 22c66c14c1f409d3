"""Retrieval metrics with ``trec_eval`` semantics, named ranx-style (``"ndcg@10"``, ``"mrr@10"``).

The engine is ``trec_eval`` itself through pytrec_eval (Van Gysel and de Rijke, "Pytrec_eval: An
Extremely Fast Python Interface to trec_eval", SIGIR 2018). Metric names are parsed by a
registry, :data:`_FAMILIES`; each maps to a ``trec_eval`` measure:

============================  ==========================  =================================
name                          trec_eval measure           meaning
============================  ==========================  =================================
``ndcg@k`` / ``ndcg``         ``ndcg_cut.k`` / ``ndcg``   nDCG, gain = grade, log2 discount
``recall@k``                  ``recall.k``                relevant in top k / all relevant
``precision@k``, ``p@k``      ``P.k``                     relevant in top k / k
``map@k`` / ``map``           ``map_cut.k`` / ``map``     average precision (/ all relevant)
``mrr@k`` / ``mrr``           ``recip_rank``              1 / rank of the first relevant
``hit_rate@k``, ``accuracy@k``  ``success.k``             1 if any relevant in the top k
``r-precision``               ``Rprec``                   precision at rank R (= #relevant)
============================  ==========================  =================================

``trec_eval``'s own names are accepted too (:data:`_TREC_CUT`, :data:`_TREC_FULL`): a measure
with an integer cutoff written ``<measure>_<k>`` or ``<measure>.<k>`` (``ndcg_cut_10``, ``P_5``,
``recall_100``, ``map_cut_10``, ``success_1``, ``relative_P_5``) and the measures without one
(``map``, ``ndcg``, ``recip_rank``, ``Rprec``, ``bpref``, ``infAP``, ``11pt_avg``, ...). Each is
the ``trec_eval`` value itself; ``ndcg_cut_10`` equals ``ndcg@10``, ``P_5`` ``p@5``, ``success_1``
``hit_rate@1``, and ``recip_rank`` ``mrr`` (no cutoff). Counts (``num_rel``, ...) and geometric
means (``gm_map``) are left out: their summaries are not means of per-query values.

A document is relevant when its grade is >= 1 (``trec_eval``'s default relevance level).
``trec_eval`` orders each query's hits by score descending and breaks ties by doc id
*descending*; we pass runs unchanged so that every metric sees that same order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hybridir.errors import ConfigError, InvalidInputError
from hybridir.types import Qrels, Run


class _Measure(NamedTuple):
    """One parsed metric: what to ask pytrec_eval for and how to read the answer."""

    request: str
    """The measure passed to pytrec_eval, e.g. ``"ndcg_cut.10"``."""
    key: str
    """The key of the per-query result, e.g. ``"ndcg_cut_10"``."""
    max_rank: int | None
    """For ``mrr@k``: the reciprocal rank counts only if the first relevant rank is <= k."""


@dataclass(frozen=True)
class _Family:
    """How a metric name maps to ``trec_eval`` measures, with and without a cutoff ``@k``."""

    cut: str | None
    """Measure taking a cutoff (``"ndcg_cut"`` -> ``ndcg_cut.k``); ``None``: no cutoff form."""
    full: str | None
    """Measure without a cutoff; ``None``: the cutoff is required."""
    cut_by_rank: bool = False
    """The cutoff is applied to the rank behind ``full`` (``recip_rank`` has no cutoff)."""

    def measure(self, name: str, k: int | None) -> _Measure:
        if k is None:
            if self.full is None:
                raise ConfigError(f"metric {name!r} needs a cutoff, e.g. {name + '@10'!r}")
            return _Measure(self.full, self.full, None)
        if self.cut_by_rank and self.full is not None:
            return _Measure(self.full, self.full, k)
        if self.cut is None:
            raise ConfigError(f"metric {name!r} takes no cutoff; {_valid_forms()}")
        return _Measure(f"{self.cut}.{k}", f"{self.cut}_{k}", None)


_FAMILIES: dict[str, _Family] = {
    "ndcg": _Family(cut="ndcg_cut", full="ndcg"),
    "recall": _Family(cut="recall", full=None),
    "precision": _Family(cut="P", full=None),
    "map": _Family(cut="map_cut", full="map"),
    "mrr": _Family(cut=None, full="recip_rank", cut_by_rank=True),
    "hit_rate": _Family(cut="success", full=None),
    "r-precision": _Family(cut=None, full="Rprec"),
}

_ALIASES: dict[str, str] = {"p": "precision", "accuracy": "hit_rate", "rprec": "r-precision"}

_TREC_CUT: dict[str, str] = {
    m.lower(): m for m in ("P", "recall", "ndcg_cut", "map_cut", "success", "relative_P")
}
"""``trec_eval`` measures that take an integer cutoff (``P_5``), by lower-cased name."""
_TREC_FULL: dict[str, str] = {
    m.lower(): m
    for m in (
        "map",
        "ndcg",
        "recip_rank",
        "Rprec",
        "bpref",
        "infAP",
        "ndcg_rel",
        "Rndcg",
        "11pt_avg",
        "set_P",
        "set_recall",
        "set_F",
        "set_map",
        "set_relative_P",
    )
}
"""``trec_eval`` measures without a cutoff whose summary is the mean over queries."""
_TREC_WITH_CUT = re.compile(r"^(.+?)[_.](\d+)$")


def _valid_forms() -> str:
    """The accepted metric names, generated from the registry for error messages."""
    forms: list[str] = []
    for base, family in _FAMILIES.items():
        if family.cut is not None or family.cut_by_rank:
            forms.append(f"{base}@k")
        if family.full is not None:
            forms.append(base)
    aliases = ", ".join(f"{alias} = {target}" for alias, target in _ALIASES.items())
    trec = [f"{m}_k" for m in _TREC_CUT.values()] + list(_TREC_FULL.values())
    return (
        f"valid metrics: {', '.join(forms)} (k a positive integer; aliases: {aliases}); "
        f"trec_eval names: {', '.join(trec)}"
    )


def _parse_k(name: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"metric {name!r}: cutoff {text!r} must be a positive integer")
    return int(text)


def _parse_trec_name(name: str) -> _Measure | None:
    """Parse a ``trec_eval`` measure name (``"ndcg_cut_10"``, ``"P.5"``, ``"bpref"``); ``None``
    when it is not one (case-insensitive, like the ranx-style names)."""
    text = name.strip()
    full = _TREC_FULL.get(text.lower())
    if full is not None:
        return _Measure(full, full, None)
    match = _TREC_WITH_CUT.match(text)
    if match is None or match.group(1).lower() not in _TREC_CUT:
        return None
    measure = _TREC_CUT[match.group(1).lower()]
    k = _parse_k(name, match.group(2))
    return _Measure(f"{measure}.{k}", f"{measure}_{k}", None)


def _parse_metric(name: str) -> _Measure:
    """Parse a ranx-style or ``trec_eval`` metric name into the measure that computes it.

    Args:
        name: e.g. ``"ndcg@10"``, ``"P@5"``, ``"map"``, ``"mrr@10"``, or a ``trec_eval`` name
            such as ``"ndcg_cut_10"``, ``"P_5"``, ``"recip_rank"`` (case-insensitive).

    Returns:
        The pytrec_eval request, result key and (for ``mrr@k``) rank cutoff.

    Raises:
        ConfigError: an unknown name, a missing, forbidden or invalid cutoff (the message lists
            the valid forms).
    """
    if "@" not in name:
        trec = _parse_trec_name(name)
        if trec is not None:
            return trec
    base, has_cut, k_text = name.strip().lower().partition("@")
    family = _FAMILIES.get(_ALIASES.get(base, base))
    if family is None:
        raise ConfigError(f"unknown metric {name!r}; {_valid_forms()}")
    k = _parse_k(name, k_text) if has_cut else None
    return family.measure(name, k)


def _value(per_query: Mapping[str, float] | None, measure: _Measure) -> float:
    """Read one query's value; an unevaluated query (absent from the run) scores 0."""
    if per_query is None:
        return 0.0
    value = float(per_query[measure.key])
    if measure.max_rank is not None and value > 0.0 and round(1.0 / value) > measure.max_rank:
        return 0.0
    return value


def _clean_run(run: Run, judged: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """Restrict the run to judged queries with hits (pytrec_eval needs >= 1 hit) as floats."""
    clean: dict[str, dict[str, float]] = {}
    for qid, hits in run.items():
        if qid not in judged or not hits:
            continue
        scores = {doc_id: float(score) for doc_id, score in hits.items()}
        if any(math.isnan(score) for score in scores.values()):
            raise InvalidInputError(f"run has a NaN score for query {qid!r}")
        clean[qid] = scores
    return clean


def evaluate_per_query(
    run: Run, qrels: Qrels, metrics: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Compute each metric for each query of ``qrels``, with ``trec_eval`` semantics.

    Every query of ``qrels`` gets a value; a query absent from the run (or with no hits) scores
    0, like ``trec_eval -c``. Run queries absent from ``qrels`` are ignored. ``mrr@k`` is
    ``trec_eval``'s ``recip_rank`` kept only when the first relevant document is within the top
    k, which equals ``recip_rank`` on the top k hits as ``trec_eval`` orders them (score desc,
    doc id desc on ties).

    Args:
        run: ``{qid: {doc_id: score}}``; not modified.
        qrels: ``{qid: {doc_id: grade}}``; grade >= 1 is relevant, and ``ndcg`` uses the grade
            as gain.
        metrics: ranx-style or ``trec_eval`` names (see the module docstring).

    Returns:
        ``{metric: {qid: value}}``, keyed by the names as given.

    Raises:
        ConfigError: no metrics, or an invalid metric name.
        InvalidInputError: a NaN score in the run.
    """
    import pytrec_eval  # imported here so that ``import hybridir.eval`` stays light

    if not metrics:
        raise ConfigError(f"no metrics requested; {_valid_forms()}")
    parsed = {name: _parse_metric(name) for name in metrics}
    judged = {qid: {d: int(g) for d, g in docs.items()} for qid, docs in qrels.items() if docs}
    requests = {measure.request for measure in parsed.values()}
    results = pytrec_eval.RelevanceEvaluator(judged, requests).evaluate(_clean_run(run, judged))
    return {
        name: {qid: _value(results.get(qid), measure) for qid in qrels}
        for name, measure in parsed.items()
    }


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str]) -> dict[str, float]:
    """Compute the mean of each metric over the queries of ``qrels``, with ``trec_eval`` semantics.

    The mean is over **all** queries in ``qrels``: a judged query missing from the run counts
    as 0, as with ``trec_eval -c`` (plain ``trec_eval`` averages only over the
    queries the run answers). See :func:`evaluate_per_query` for the per-query values.

    Args:
        run: ``{qid: {doc_id: score}}``.
        qrels: ``{qid: {doc_id: grade}}``; grade >= 1 is relevant.
        metrics: ranx-style names, e.g. ``["ndcg@10", "recall@100", "mrr@10"]``.

    Returns:
        ``{metric: mean value}``.

    Raises:
        ConfigError: no metrics, or an invalid metric name.
        InvalidInputError: ``qrels`` is empty, or the run has a NaN score.

    Example:
        >>> evaluate({"q1": {"d1": 1.0, "d2": 0.5}}, {"q1": {"d2": 1}}, ["mrr@10", "p@1"])
        {'mrr@10': 0.5, 'p@1': 0.0}
    """
    if not qrels:
        raise InvalidInputError("qrels are empty: there is no query to average over")
    per_query = evaluate_per_query(run, qrels, metrics)
    return {name: mean_over_queries(values) for name, values in per_query.items()}


def mean_over_queries(values: Mapping[str, float]) -> float:
    """The mean of per-query values (:func:`evaluate_per_query` gives every judged query
    one), summed exactly (``math.fsum``) so that every report of a run shows the same
    digits."""
    return math.fsum(values.values()) / len(values)


def check_metrics(metrics: Sequence[str]) -> list[str]:
    """Validate metric names before any work is done; returns them unchanged.

    Raises:
        ConfigError: a name is not a known metric form (the message lists the valid ones).
    """
    for name in metrics:
        _parse_metric(name)
    return list(metrics)
