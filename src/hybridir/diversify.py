"""Diversification of the fused top hits for RAG (see :class:`hybridir.config.DiversifyConfig`).

A RAG prompt holds a few passages; near-duplicates among them waste its budget. Both methods
reorder the top ``config.depth`` fused hits using their dense vectors and return ``k``:

- ``mmr``: maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998). Greedily pick
  ``argmax λ·rel(d) - (1-λ)·max_{s∈S} cos(d, s)`` over the unpicked candidates. ``rel`` is
  the fused score min-max normalized over the candidates (:func:`hybridir.fusion.
  span_normalize`): fused scores live on each method's own scale (RRF ~0.03, DBSF ~0-2,
  convex 0-1) while the cosine term lives in [-1, 1], so only a normalized relevance lets
  one λ mean the same trade-off for every fusion method and every query. ``λ = 1`` keeps the
  fused order; the first pick is always the best fused hit.
- ``clusters``: TopClustRAG-style (Bakagianni, Pavlopoulos & Likas, "TopClustRAG at SIGIR
  2025 LiveRAG Challenge", arXiv 2506.15246): K-Means over the candidates' vectors with
  ``K = min(k, n)``; each cluster's representative is its best-ranked hit; the
  representatives come first in fused order, then the other candidates in fused order.
  K-Means is seeded by k-means++ (Arthur & Vassilvitskii, SODA 2007) from a fixed-seed
  generator and refined by Lloyd's iterations (Lloyd 1982), so the result is deterministic.
  It is written here rather than taken from scikit-learn (not a dependency) or
  ``scipy.cluster.vq.kmeans2`` (which warns and divides by zero when candidates repeat,
  and repeated passages are exactly what diversification meets): identical vectors simply
  share a cluster.

Explanations: a hit whose position changed gets one more contribution,
``ListContribution("diversify", raw_score, normalized_score, rank)``, where ``raw_score`` is
its MMR value when picked (``mmr``) or its cluster number (``clusters``; clusters are
numbered 0, 1, … in the fused order of their representatives), ``normalized_score`` is its
largest cosine similarity to a hit placed above it (0.0 for the first hit), and ``rank`` its
fused rank before diversification. Every hit keeps its fused ``score``, so the output is in
diversified order, not in score order; ``rank`` is renumbered 1..k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hybridir.config import DiversifyConfig
from hybridir.errors import InvalidInputError
from hybridir.fusion import span_normalize
from hybridir.types import Hit, ListContribution

Array = NDArray[np.float64]
Order = NDArray[np.int64]

KMEANS_SEED = 0
"""Seed of the k-means++ generator: the same candidates always give the same clusters."""
KMEANS_MAX_ITER = 100
"""Lloyd iterations at most; they stop earlier once no assignment changes."""


class Selection(NamedTuple):
    """A method's answer: candidate indices in their new order (``min(k, n)`` of them) and,
    for each, the value recorded as the explanation's ``raw_score``."""

    order: Order
    values: Array


# -- MMR ----------------------------------------------------------------------------------------


def mmr_order(relevance: Array, sims: Array, lambda_: float, k: int) -> Selection:
    """Greedy maximal marginal relevance (Carbonell & Goldstein 1998).

    Args:
        relevance: (n,) relevance of each candidate, higher is better.
        sims: (n × n) cosine similarities between candidates.
        lambda_: weight of relevance; ``1 - lambda_`` weighs the redundancy penalty.
        k: how many to pick (at most n).

    Returns:
        The picks in order with their MMR values; the first pick is the most relevant
        (no penalty yet), and ties go to the smaller index (the better fused rank).
    """
    n = relevance.shape[0]
    picks = min(k, n)
    order = np.empty(picks, dtype=np.int64)
    values = np.empty(picks, dtype=np.float64)
    taken = np.zeros(n, dtype=np.bool_)
    penalty = np.zeros(n, dtype=np.float64)  # max similarity to a pick; 0 before the first
    for step in range(picks):
        mmr = lambda_ * relevance - (1.0 - lambda_) * penalty
        best = int(np.argmax(np.where(taken, -np.inf, mmr)))  # first maximum: best rank wins
        order[step], values[step] = best, mmr[best]
        taken[best] = True
        penalty = sims[:, best] if step == 0 else np.maximum(penalty, sims[:, best])
    return Selection(order, values)


def _mmr(scores: Array, unit: Array, config: DiversifyConfig, k: int) -> Selection:
    """MMR with the fused scores min-max normalized as relevance and cosine similarity."""
    relevance = span_normalize(scores, float(scores.min()), float(scores.max()))
    return mmr_order(relevance, unit @ unit.T, config.lambda_, k)


# -- clusters -----------------------------------------------------------------------------------


def kmeans_pp_centers(points: Array, n_clusters: int, rng: np.random.Generator) -> Array:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each new center is a point drawn with
    probability proportional to its squared distance to the nearest center so far.

    Stops early when every point sits on a center (fewer distinct points than clusters),
    so repeated points never become two centers.
    """
    centers = [points[int(rng.integers(points.shape[0]))]]
    d2 = np.sum((points - centers[0]) ** 2, axis=1)
    while len(centers) < n_clusters and d2.sum() > 0.0:
        nxt = points[int(rng.choice(points.shape[0], p=d2 / d2.sum()))]
        centers.append(nxt)
        d2 = np.minimum(d2, np.sum((points - nxt) ** 2, axis=1))
    return np.asarray(centers, dtype=np.float64)


def kmeans_labels(points: Array, n_clusters: int, seed: int = KMEANS_SEED) -> NDArray[np.int64]:
    """Cluster label of each point: k-means++ seeding, then Lloyd's iterations (Lloyd 1982)
    until no assignment changes. A cluster left empty keeps its center (and no points)."""
    centers = kmeans_pp_centers(points, n_clusters, np.random.default_rng(seed))
    labels = np.full(points.shape[0], -1, dtype=np.int64)
    sq = np.sum(points * points, axis=1)[:, None]
    for _ in range(KMEANS_MAX_ITER):
        # ‖p - c‖² expanded: an (n × K) product instead of an (n × K × dim) difference.
        d2 = sq - 2.0 * points @ centers.T + np.sum(centers * centers, axis=1)[None, :]
        new = np.argmin(d2, axis=1).astype(np.int64)
        if np.array_equal(new, labels):
            break
        labels = new
        for c in np.unique(labels):
            centers[c] = points[labels == c].mean(axis=0)
    return labels


def cluster_order(labels: NDArray[np.int64], k: int) -> Selection:
    """Representatives first, then the rest, both in fused order (TopClustRAG's selection).

    ``labels[i]`` is candidate ``i``'s cluster, candidates in fused order. Clusters are
    renumbered 0, 1, … by the fused rank of their best member (their representative).

    Returns:
        ``min(k, n)`` candidate indices and each one's renumbered cluster.
    """
    _, first = np.unique(labels, return_index=True)  # each cluster's best-ranked member
    reps = np.sort(first)
    number = {int(labels[i]): c for c, i in enumerate(reps)}
    rest = np.setdiff1d(np.arange(labels.shape[0]), reps)  # sorted: fused order
    order = np.concatenate([reps, rest])[:k].astype(np.int64)
    values = np.asarray([number[int(labels[i])] for i in order], dtype=np.float64)
    return Selection(order, values)


def _clusters(scores: Array, unit: Array, config: DiversifyConfig, k: int) -> Selection:
    """K-Means with ``K = min(k, n)`` over the unit vectors, one representative per cluster."""
    n = unit.shape[0]
    return cluster_order(kmeans_labels(unit, min(k, n)), k)


Diversifier = Callable[[Array, Array, DiversifyConfig, int], Selection]
"""``(fused scores (n,), unit vectors (n × d), config, k) -> Selection``."""

METHODS: dict[str, Diversifier] = {"mmr": _mmr, "clusters": _clusters}
"""Diversification methods by name (:data:`hybridir.config.DIVERSIFY_METHODS`)."""


# -- the entry point ----------------------------------------------------------------------------


def unit_rows(vectors: NDArray[np.float32]) -> Array:
    """Rows scaled to unit L2 norm in float64 (all-zero rows stay zero: similarity 0)."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.asarray(np.divide(v, norms, out=np.zeros_like(v), where=norms > 0), np.float64)


def redundancy(order: Order, sims: Array) -> Array:
    """For each position of ``order``: the largest similarity to the candidates before it
    (0.0 for the first)."""
    out = np.zeros(order.shape[0], dtype=np.float64)
    for p in range(1, order.shape[0]):
        out[p] = float(sims[order[p], order[:p]].max())
    return out


def _check(hits: Sequence[Hit], vectors: NDArray[np.float32], n: int, k: int) -> None:
    """Refuse a ``k`` below 1 and vectors that are not one finite row per candidate."""
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    shape = np.shape(vectors)
    if len(shape) != 2 or shape[0] != n:
        raise InvalidInputError(
            f"vectors must be one row per candidate hit (the first min(len(hits), depth) = {n} "
            f"of {len(hits)} hits), shape ({n}, dim); got shape {shape}"
        )
    if not np.all(np.isfinite(vectors)):
        raise InvalidInputError("vectors hold NaN or infinite values")


def diversify(
    hits: Sequence[Hit], vectors: NDArray[np.float32], config: DiversifyConfig, k: int
) -> list[Hit]:
    """Reorder the top ``config.depth`` fused hits for diversity and return ``k`` of them.

    Args:
        hits: fused hits, best first.
        vectors: the dense vectors of ``hits[:config.depth]``, one row each in the same order
            (e.g. ``backend.dense_vectors([h.doc_id for h in hits[:depth]])``); rows are
            L2-normalized here, so cosine similarity is their dot product.
        config: the method (:data:`METHODS`), MMR's ``lambda_`` and the candidate depth.
        k: hits to return; beyond the diversified candidates the remaining hits follow in
            fused order.

    Returns:
        ``min(k, len(hits))`` hits, ranks renumbered 1..k, fused scores kept; a hit whose
        position changed carries a ``"diversify"`` contribution (module docstring).

    Raises:
        InvalidInputError: ``k`` < 1, or ``vectors`` is not (candidates × dim) and finite.

    Example:
        >>> from hybridir.config import DiversifyConfig
        >>> hits = [Hit("a", 0.9, 1), Hit("a-copy", 0.8, 2), Hit("b", 0.5, 3)]
        >>> vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
        >>> [h.doc_id for h in diversify(hits, vecs, DiversifyConfig(lambda_=0.5), k=3)]
        ['a', 'b', 'a-copy']
    """
    n = min(len(hits), config.depth)
    _check(hits, vectors, n, k)
    if n == 0:
        return []
    unit = unit_rows(vectors)
    scores = np.asarray([h.score for h in hits[:n]], dtype=np.float64)
    picked = METHODS[config.method](scores, unit, config, k)
    penalty = redundancy(picked.order, unit @ unit.T)
    out: list[Hit] = []
    for pos, (i, value, sim) in enumerate(zip(picked.order, picked.values, penalty, strict=True)):
        hit = hits[int(i)]
        parts = hit.contributions
        if int(i) != pos:
            parts = (*parts, ListContribution("diversify", float(value), float(sim), hit.rank))
        out.append(hit._replace(rank=pos + 1, contributions=parts))
    out.extend(h._replace(rank=j + 1) for j, h in enumerate(hits[n:k], start=n))
    return out
