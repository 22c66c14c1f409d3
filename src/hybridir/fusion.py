"""Fusion of ranked lists: normalizers, combiners and rank-based methods in one registry.

Every method is "rescore, then merge" (Pyserini's ``fusion/_base.py`` shape): each list's
scores are mapped by a normalizer (or by rank for rank-based methods), missing entries are
filled by the configured :data:`MISSING` rule, and a combiner reduces the per-list columns
to one fused score. Results are sorted by (fused score desc, doc id asc).

Sources: RRF (Cormack, Clarke & Büttcher, SIGIR 2009); CombSUM / CombMNZ (Fox & Shaw,
TREC-2 1994); ISR and log-ISR (Mourão, Martins & Magalhães, CMIG 2015, as in ranx);
theoretical min-max, convex combination (Bruch, Gai & Ingber, TOIS 2023); DBSF (Qdrant's
distribution-based score fusion, mean ± 3σ); arctan normalization (Milvus); weighted
arithmetic / geometric / harmonic means (OpenSearch normalization processor).

Degenerate lists (one hit, or all scores equal) are all top hits: ``minmax``, ``tmm`` and
``dbsf`` map them to 1.0 through one guard (:func:`span_normalize`), where ranx gives 0.0
(which sank a lone BM25 match below every dense-only document) and Qdrant's DBSF 0.5; a
real spread (>= 1e-9) is normalized exactly as in ranx. ``zscore`` maps them to 0.0, the
list's mean, as ranx ``zmuv`` does: no evidence for or against, the value the ``zero``
missing rule gives an absent document. ``l2`` (1.0 for one hit, ``1/√n`` for n equal
scores), ``arctan`` (score by score) and ``rank`` (first hit 1.0, ties by position as in
ranx) are scale-free and keep their formulas.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.config import MISSING_RULES
from hybridir.config import FusionConfig as FusionConfig
from hybridir.types import RankedList

Array = NDArray[np.float64]

_EPS = 1e-9  # ranx's zero-range guard: a list spread at least this wide normalizes as in ranx


class ScoredList(NamedTuple):
    """One retriever's candidates for one query, best first.

    ``theoretical_min`` is the lowest score the retriever can give (0 for BM25, -1 for
    cosine similarity); it is used by the ``tmm`` normalizer and arctan's choice of form.
    """

    name: str
    doc_ids: Sequence[str]
    scores: Array
    theoretical_min: float = 0.0


FLOORS: dict[str, float] = {"bm25": 0.0, "splade": 0.0, "dense": -1.0}
"""The lowest score each retrieval list can give (BM25 and impacts are non-negative; dense
scores are cosine similarities)."""


def scored_list(name: str, ranked: RankedList, depth: int) -> ScoredList:
    """List ``name``'s answer to one query cut to its fusion ``depth``, as :func:`fuse`
    takes it."""
    return ScoredList(
        name,
        ranked.doc_ids[:depth],
        np.asarray(ranked.scores[:depth], dtype=np.float64),
        FLOORS.get(name, 0.0),
    )


# -- normalizers: scores of one list (best first) → normalized scores -------------------------


def norm_none(scores: Array, theoretical_min: float) -> Array:
    """Raw scores."""
    return scores


def span_normalize(scores: Array, lo: float, hi: float) -> Array:
    """``(s - lo) / (hi - lo)``, the one range normalization, guarded at the top.

    When ``hi - lo`` is under 1e-9 (ranx's zero-range guard) the span is widened downwards,
    ``1 - (hi - s) / 1e-9``: a constant list (or a single hit) at ``hi`` maps to 1.0 rather
    than to ranx's 0.0 (see the module docstring), and the map stays continuous at a span of
    1e-9, so a real spread is normalized exactly as before.
    """
    if hi - lo >= _EPS:
        return (scores - lo) / (hi - lo)
    return 1.0 - (hi - scores) / _EPS


def norm_minmax(scores: Array, theoretical_min: float) -> Array:
    """``(s - min) / (max - min)`` (ranx ``min-max``); a constant list maps to 1.0."""
    return span_normalize(scores, float(scores.min()), float(scores.max()))


def norm_zscore(scores: Array, theoretical_min: float) -> Array:
    """``(s - mean) / std``, population std guarded by 1e-9 (ranx ``zmuv``); constant: 0.0."""
    return np.asarray((scores - scores.mean()) / max(float(scores.std()), _EPS), dtype=np.float64)


def norm_l2(scores: Array, theoretical_min: float) -> Array:
    """``s / ||s||₂`` (OpenSearch ``l2`` normalization)."""
    return scores / max(float(np.sqrt(np.sum(scores * scores))), _EPS)


def norm_dbsf(scores: Array, theoretical_min: float) -> Array:
    """DBSF (Mazzeschi 2023; Qdrant): min-max between ``mean - 3σ`` and ``mean + 3σ``.

    Not clipped: on deep lists the top scores lie beyond ``mean + 3σ``, and clipping them
    to 1 would erase the ranking at the very top (measured: SciFact nDCG@10 0.51 clipped).
    A constant list (σ = 0, or a single hit) maps to 1.0, where Qdrant gives 0.5.
    """
    mean, std = float(scores.mean()), float(scores.std())
    return span_normalize(scores, mean - 3 * std, mean + 3 * std)


def norm_tmm(scores: Array, theoretical_min: float) -> Array:
    """Theoretical min-max (Bruch et al. 2023): ``(s - θ_min) / (max - θ_min)``.

    Already 1.0 for a constant list above ``θ_min``; one at ``θ_min`` also maps to 1.0.
    """
    return span_normalize(scores, theoretical_min, float(scores.max()))


def norm_arctan(scores: Array, theoretical_min: float) -> Array:
    """Milvus' arctan normalization into [0, 1].

    Non-negative scores (BM25): ``2/π · atan(s)``; similarities that can be negative
    (inner product, cosine): ``1/2 + atan(s)/π``.
    """
    if theoretical_min >= 0:
        return 2.0 / math.pi * np.arctan(scores)
    return 0.5 + np.arctan(scores) / math.pi


def norm_rank(scores: Array, theoretical_min: float) -> Array:
    """``1 - (rank - 1) / n`` for 1-based ranks (ranx ``rank``)."""
    n = scores.shape[0]
    return np.asarray(1.0 - np.arange(n, dtype=np.float64) / n, dtype=np.float64)


Normalizer = Callable[[Array, float], Array]

NORMALIZERS: dict[str, Normalizer] = {
    "none": norm_none,
    "minmax": norm_minmax,
    "zscore": norm_zscore,
    "l2": norm_l2,
    "dbsf": norm_dbsf,
    "tmm": norm_tmm,
    "arctan": norm_arctan,
    "rank": norm_rank,
}
"""Per-list score normalizers by name."""

# -- rank transforms: rank-based methods score by position, not by score ----------------------


def rank_rrf(n: int, rrf_k: float) -> Array:
    """RRF term ``1 / (rrf_k + rank)``, 1-based ranks."""
    return 1.0 / (rrf_k + np.arange(1, n + 1, dtype=np.float64))


def rank_isr(n: int, rrf_k: float) -> Array:
    """ISR term ``1 / rank²``."""
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** 2


# -- combiners: (lists × docs) matrix with NaN for "absent", weights → fused scores ----------


def comb_sum(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """Weighted sum ``Σ wᵢ sᵢ`` (CombSUM; with weights α, 1-α the convex combination)."""
    return np.asarray(np.nansum(m * w[:, None], axis=0), dtype=np.float64)


def comb_mnz(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """CombMNZ: weighted sum times the number of lists holding the document."""
    return np.asarray(comb_sum(m, present, w) * present.sum(axis=0), dtype=np.float64)


def comb_log_mnz(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """Weighted sum times ``log(number of lists holding the document)`` (ranx log-ISR)."""
    return np.asarray(comb_sum(m, present, w) * np.log(present.sum(axis=0)), dtype=np.float64)


def comb_max(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """CombMAX: the largest weighted score."""
    return np.asarray(np.nanmax(m * w[:, None], axis=0), dtype=np.float64)


def _present_weights(m: Array, w: Array) -> Array:
    """Weights of the entries that take part (all but skipped ones)."""
    return np.where(np.isnan(m), 0.0, w[:, None])


def comb_arithmetic(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """Weighted arithmetic mean over the lists holding the document (OpenSearch)."""
    pw = _present_weights(m, w)
    return np.asarray(
        np.nansum(m * pw, axis=0) / np.maximum(pw.sum(axis=0), _EPS), dtype=np.float64
    )


def comb_geometric(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """Weighted geometric mean ``exp(Σ wᵢ log sᵢ / Σ wᵢ)``; a zero score gives zero."""
    pw = _present_weights(m, w)
    with np.errstate(divide="ignore"):
        logs = np.where(np.isnan(m), 0.0, np.log(np.where(np.isnan(m), 1.0, m)))
    out = np.exp(np.sum(pw * logs, axis=0) / np.maximum(pw.sum(axis=0), _EPS))
    return np.asarray(np.nan_to_num(out, nan=0.0, posinf=0.0), dtype=np.float64)


def comb_harmonic(m: Array, present: NDArray[np.bool_], w: Array) -> Array:
    """Weighted harmonic mean ``Σ wᵢ / Σ (wᵢ / sᵢ)``; a zero score gives zero."""
    pw = _present_weights(m, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(pw > 0, pw / np.where(np.isnan(m), 1.0, m), 0.0)
        out = pw.sum(axis=0) / inv.sum(axis=0)
    return np.asarray(np.nan_to_num(out, nan=0.0, posinf=0.0), dtype=np.float64)


Combiner = Callable[[Array, NDArray[np.bool_], Array], Array]
"""``(scores lists × docs, NaN where skipped; presence mask; list weights) -> fused``."""

COMBINERS: dict[str, Combiner] = {
    "sum": comb_sum,
    "mnz": comb_mnz,
    "log_mnz": comb_log_mnz,
    "max": comb_max,
    "arithmetic_mean": comb_arithmetic,
    "geometric_mean": comb_geometric,
    "harmonic_mean": comb_harmonic,
}
"""Combiners by name."""


class Method(NamedTuple):
    """A fusion method: a rank transform (or ``None`` to use normalized scores) + combiner."""

    rank_transform: Callable[[int, float], Array] | None
    combiner: str
    default_norm: str


METHODS: dict[str, Method] = {
    "rrf": Method(rank_rrf, "sum", "none"),
    "isr": Method(rank_isr, "mnz", "none"),
    "log_isr": Method(rank_isr, "log_mnz", "none"),
    "convex": Method(None, "sum", "minmax"),
    "combsum": Method(None, "sum", "minmax"),
    "combmnz": Method(None, "mnz", "minmax"),
    "combmax": Method(None, "max", "minmax"),
    "dbsf": Method(None, "sum", "dbsf"),
    "tmm": Method(None, "sum", "tmm"),
    "arithmetic_mean": Method(None, "arithmetic_mean", "minmax"),
    "geometric_mean": Method(None, "geometric_mean", "minmax"),
    "harmonic_mean": Method(None, "harmonic_mean", "minmax"),
}
"""Fusion methods by name (``convex`` is ``combsum`` with weights ``1-α, α``)."""

MISSING = MISSING_RULES  # keys of _FILLERS
"""What a document absent from a list contributes there.

- ``zero``: normalized score 0 (ranx, OpenSearch; RRF always behaves like this);
- ``min``: the list's lowest normalized score (Pyserini / Mr. TyDi hybrid);
- ``skip``: nothing; means average only over the lists that hold the document.
"""


class Fused(NamedTuple):
    """Fused ranking: doc ids best first, fused scores, and per list the normalized score
    and 1-based rank of each fused document (NaN / 0 where absent)."""

    doc_ids: list[str]
    scores: Array
    normalized: Array  # (lists × docs)
    ranks: NDArray[np.int64]  # (lists × docs), 0 = absent


def list_weights(lists: Sequence[ScoredList], config: FusionConfig) -> Array:
    """Weight of each list: ``config.weights`` by name, else ``1-α, α`` for two lists fused
    by ``convex``, else 1 each;
    scaled per query by :func:`query_factors` when ``config.per_query`` is set."""
    if config.weights:
        weights = np.asarray([float(config.weights.get(sl.name, 1.0)) for sl in lists])
    elif len(lists) == 2 and config.method == "convex":
        weights = np.asarray([1.0 - config.alpha, config.alpha])
    else:
        weights = np.ones(len(lists))
    if config.per_query:
        weights = weights * query_factors(lists, config.reference, config.per_query)
    return weights


HEAD, TAIL = 10, 100
"""Top ranks that make a list's head, and the ranks its separation is measured against."""
FACTOR_RANGE = (0.25, 4.0)
"""Bounds of a list's per-query factor (one extreme query never silences a list)."""


def head_separation(scores: Array) -> float:
    """How far a list's head stands out from its tail, in standard deviations: mean of the
    top :data:`HEAD` scores minus the mean of ranks up to :data:`TAIL`, over their standard
    deviation. A query performance predictor in the spirit of WIG (Zhou & Croft, SIGIR
    2007) and NQC (Shtok et al., TOIS 2012) that needs no corpus score and no scale (BM25
    and cosine lists compare); 0 for lists of under ``2 * HEAD`` scores."""
    top = np.asarray(scores[:TAIL], dtype=np.float64)
    if len(top) < 2 * HEAD:
        return 0.0
    spread = float(top.std())
    if spread <= _EPS:
        return 0.0
    return float((top[:HEAD].mean() - top.mean()) / spread)


def query_factors(
    lists: Sequence[ScoredList], reference: Mapping[str, float], gamma: float
) -> Array:
    """Per-query factor of each list's weight: its :func:`head_separation` for this query
    over its typical one (``reference``, measured by calibration on the collection's
    pseudo-queries), to the power ``gamma``, within :data:`FACTOR_RANGE`. A list without a
    reference, or a query too short to measure, keeps factor 1."""
    out = np.ones(len(lists))
    for i, sl in enumerate(lists):
        typical = float(reference.get(sl.name, 0.0))
        found = head_separation(sl.scores)
        if typical > _EPS and found > 0.0:
            out[i] = (found / typical) ** gamma
    return np.clip(out, *FACTOR_RANGE)


class Prepared(NamedTuple):
    """Lists of one query laid out for fusion: the union of their doc ids (first-seen order)
    and, per list, the columns of its documents. Reusable across fusion settings."""

    lists: tuple[ScoredList, ...]
    ids: list[str]
    columns: tuple[NDArray[np.int64], ...]


def prepare(lists: Sequence[ScoredList]) -> Prepared:
    """Union the doc ids of ``lists`` and map each list onto it (the config-free half of
    :func:`fuse`; tuning prepares once and fuses under many configs)."""
    ids = list(dict.fromkeys(itertools.chain.from_iterable(sl.doc_ids for sl in lists)))
    column = dict(zip(ids, range(len(ids)), strict=True))
    columns = tuple(
        np.fromiter(map(column.__getitem__, sl.doc_ids), dtype=np.int64, count=len(sl.doc_ids))
        for sl in lists
    )
    return Prepared(tuple(lists), ids, columns)


def fused_scores(prepared: Prepared, config: FusionConfig) -> tuple[Array, Array]:
    """Fused score of every document of ``prepared`` and the (lists × docs) matrix of
    normalized (or rank-transformed) scores, NaN where a list lacks the document."""
    method = METHODS[config.method]
    norm = NORMALIZERS[method.default_norm if config.norm == "default" else config.norm]
    lists = prepared.lists
    matrix = np.full((len(lists), len(prepared.ids)), np.nan)
    for i, (sl, cols) in enumerate(zip(lists, prepared.columns, strict=True)):
        if len(cols) == 0:
            continue
        if method.rank_transform is not None:
            values = method.rank_transform(len(cols), config.rrf_k)
        else:
            values = norm(np.asarray(sl.scores, dtype=np.float64), sl.theoretical_min)
        matrix[i, cols] = values
    filled = _fill_missing(matrix, config.missing if method.rank_transform is None else "skip")
    present = ~np.isnan(matrix)
    return COMBINERS[method.combiner](filled, present, list_weights(lists, config)), matrix


def fuse(lists: Sequence[ScoredList], config: FusionConfig, k: int) -> Fused:
    """Fuse ``lists`` (each best first) into the top ``k`` by ``config``.

    Example:
        >>> a = ScoredList("bm25", ["d1", "d2"], np.array([3.0, 1.0]))
        >>> b = ScoredList("dense", ["d2", "d3"], np.array([0.9, 0.5]), -1.0)
        >>> fuse([a, b], FusionConfig(method="rrf"), k=3).doc_ids
        ['d2', 'd1', 'd3']
    """
    prepared = prepare(lists)
    fused, matrix = fused_scores(prepared, config)
    return select(prepared, fused, matrix, k)


def rank_matrix(prepared: Prepared) -> NDArray[np.int64]:
    """(lists × docs) 1-based rank of each document in each list, 0 where absent."""
    ranks = np.zeros((len(prepared.lists), len(prepared.ids)), dtype=np.int64)
    for i, cols in enumerate(prepared.columns):
        ranks[i, cols] = np.arange(1, len(cols) + 1)
    return ranks


def select(prepared: Prepared, fused: Array, matrix: Array, k: int) -> Fused:
    """The top ``k`` of ``prepared`` by ``fused`` (ties by doc id) with their columns."""
    idx = top_k_order(fused, prepared.ids, k)
    ranks = rank_matrix(prepared)
    return Fused([prepared.ids[int(j)] for j in idx], fused[idx], matrix[:, idx], ranks[:, idx])


def top_k_order(fused: Array, ids: Sequence[str], k: int) -> NDArray[np.int64]:
    """Indices of the k best by (score desc, doc id asc), sorting only what can make the cut."""
    n = fused.shape[0]
    if n > k:
        kth = np.partition(-fused, k - 1)[k - 1]
        pool = np.flatnonzero(-fused <= kth)  # everything at least as good as the k-th
    else:
        pool = np.arange(n)
    keys = np.asarray([ids[int(j)] for j in pool])
    order = np.lexsort((keys, -fused[pool]))
    return np.asarray(pool[order][:k], dtype=np.int64)


def _fill_zero(matrix: Array) -> Array:
    return np.nan_to_num(matrix, nan=0.0)


def _fill_min(matrix: Array) -> Array:
    with np.errstate(all="ignore"):
        lows = np.min(np.where(np.isnan(matrix), np.inf, matrix), axis=1, keepdims=True)
    lows = np.where(np.isfinite(lows), lows, 0.0)
    return np.where(np.isnan(matrix), lows, matrix)


def _fill_skip(matrix: Array) -> Array:
    return matrix  # NaN stays; the combiners ignore it


_FILLERS: dict[str, Callable[[Array], Array]] = {
    "zero": _fill_zero,
    "min": _fill_min,
    "skip": _fill_skip,
}


def _fill_missing(matrix: Array, rule: str) -> Array:
    """Apply a :data:`MISSING` rule to the (lists × docs) matrix."""
    return _FILLERS[rule](matrix)
