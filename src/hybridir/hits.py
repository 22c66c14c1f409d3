"""Hits of one query: built from the lists or the fused ranking, scaled by boosts, and
explained with the terms each list matched (the parts of the query path that make and
annotate :class:`~hybridir.types.Hit` records)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hybridir.backend import Backend
from hybridir.filters import Boost, apply_boosts
from hybridir.fusion import Fused
from hybridir.query import RETRIEVERS
from hybridir.query import prepare as prepare_queries
from hybridir.types import Hit, HitColumns, Hits, ListColumn, ListContribution, RankedList


def hits_from(lists: Mapping[str, RankedList], mode: str, fused: Fused | None) -> Hits:
    """Hits of one query: one list's ranking (``mode`` a retriever), or the ``fused``
    ranking with every list's raw score, normalized score and rank as contributions.

    The hits are columns (:class:`~hybridir.types.Hits`): a hit's record is built only when
    it is read, so a deep result costs no per-hit objects until then."""
    if fused is None:
        ranked = lists[mode]
        ids, scores = ranked.doc_ids, ranked.scores
        single = ListColumn(mode, scores, scores, range(1, len(ids) + 1))
        return Hits.from_columns(HitColumns(ids, scores, (single,)))
    columns = tuple(
        _fused_column(name, ranked, fused.doc_ids, fused.normalized[i], fused.ranks[i])
        for i, (name, ranked) in enumerate(lists.items())
    )
    return Hits.from_columns(HitColumns(fused.doc_ids, fused.scores.tolist(), columns))


def _fused_column(
    name: str,
    ranked: RankedList,
    doc_ids: Sequence[str],
    normalized: NDArray[np.floating[Any]],
    ranks: NDArray[np.int64],
) -> ListColumn:
    """One list's contributions to fused hits: its raw score, normalized score and 1-based
    rank of each (``None`` where the list did not have the document; the fusion marks
    those NaN and 0)."""
    raw = dict(zip(ranked.doc_ids, ranked.scores, strict=True))
    return ListColumn(
        name,
        [raw.get(d) for d in doc_ids],
        [None if math.isnan(x) else x for x in normalized.tolist()],
        [r or None for r in ranks.tolist()],
    )


def with_matched_terms(backend: Backend, query: str, hits: Sequence[Hit]) -> Sequence[Hit]:
    """Fill ``matched_terms`` of lexical contributions, and the top contributing
    (expanded) terms of learned sparse ones (looked up for these hits only; a document
    hit's from its best passage)."""
    if not hits:
        return hits
    columns = hits.columns() if isinstance(hits, Hits) else None
    ids = list(columns.doc_ids) if columns is not None else [h.passage_id or h.doc_id for h in hits]
    matched = backend.matched_terms(ids, backend.analyzer.analyze(query))
    top: list[tuple[tuple[str, float], ...]] = []
    retrievers = (
        {c.retriever for c in columns.lists}
        if columns is not None
        else {c.retriever for h in hits for c in h.contributions}
    )
    if "splade" in retrievers:
        weights = prepare_queries(backend, ["splade"], [query])["splade"][0]
        top = backend.splade_contributions(ids, weights)
    if columns is not None:
        lists = tuple(_explained(c, matched, top) for c in columns.lists)
        return Hits.from_columns(columns._replace(lists=lists))
    out = []
    for i, hit in enumerate(hits):
        parts = []
        for c in hit.contributions:
            if c.retriever in _LEXICAL:
                c = _record(ListContribution, (*c[:4], matched[i], c.term_scores))
            elif c.retriever == "splade" and top:
                c = c._replace(matched_terms=tuple(t for t, _ in top[i]), term_scores=top[i])
            parts.append(c)
        out.append(_record(Hit, (*hit[:3], tuple(parts), *hit[4:])))
    return out


def _explained(
    column: ListColumn,
    matched: Sequence[tuple[str, ...]],
    top: Sequence[tuple[tuple[str, float], ...]],
) -> ListColumn:
    """A list's column with its explanations (see :func:`with_matched_terms`)."""
    if column.retriever in _LEXICAL:
        return column._replace(matched_terms=matched)
    if column.retriever == "splade" and top:
        terms = [tuple(t for t, _ in pairs) for pairs in top]
        return column._replace(matched_terms=terms, term_scores=top)
    return column


_LEXICAL = frozenset(name for name, spec in RETRIEVERS.items() if spec.lexical)

R = TypeVar("R", bound=tuple[Any, ...])


def _record(cls: type[R], values: tuple[Any, ...]) -> R:
    """A named tuple from all its fields at once, without the Python-level ``__new__``
    (a hit is built per result: at k=1000 that call is a good share of a query's time)."""
    return tuple.__new__(cls, values)


def boosted(backend: Backend, hits: Sequence[Hit], boosts: Sequence[Boost]) -> list[Hit]:
    """Scale matching hits' scores, re-sort (score desc, doc id asc), and record the factor
    as a ``"boost"`` contribution."""
    if not hits:
        return list(hits)
    ids = [h.doc_id for h in hits]
    factors = np.ones(len(hits))
    for boost in boosts:
        match = boost.matcher()
        factors *= [boost.factor if match(v) else 1.0 for v in backend.metadata(ids, boost.field)]
    scores = apply_boosts(np.asarray([h.score for h in hits], dtype=np.float64), factors)
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], hits[i].doc_id))
    out = []
    for rank, i in enumerate(order, 1):
        parts = hits[i].contributions
        if factors[i] != 1.0:
            parts = (*parts, ListContribution("boost", float(factors[i]), None, None))
        out.append(Hit(hits[i].doc_id, float(scores[i]), rank, parts))
    return out
