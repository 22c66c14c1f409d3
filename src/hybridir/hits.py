"""Hits of one query: built from the lists or the fused ranking, scaled by boosts, and
explained with the terms each list matched (the parts of the query path that make and
annotate :class:`~hybridir.types.Hit` records)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeVar

import numpy as np

from hybridir.backend import Backend
from hybridir.filters import Boost, apply_boosts
from hybridir.fusion import Fused
from hybridir.query import RETRIEVERS
from hybridir.query import prepare as prepare_queries
from hybridir.types import Hit, ListContribution, RankedList


def hits_from(lists: Mapping[str, RankedList], mode: str, fused: Fused | None) -> list[Hit]:
    """Hits of one query: one list's ranking (``mode`` a retriever), or the ``fused``
    ranking with every list's raw score, normalized score and rank as contributions."""
    if fused is None:
        ranked = lists[mode]
        ids, scores = ranked.doc_ids, ranked.scores
        ranks = range(1, len(ids) + 1)
        no, none = repeat(()), repeat(None)
        single = zip(_records(ListContribution, repeat(mode), scores, scores, ranks, no, no))
        return list(_records(Hit, ids, scores, ranks, single, none, none, none, none))
    raw = {n: dict(zip(r.doc_ids, r.scores, strict=True)) for n, r in lists.items()}
    hits = []
    for j, (doc_id, score) in enumerate(zip(fused.doc_ids, fused.scores, strict=True)):
        parts = []
        for i, name in enumerate(lists):
            rank = int(fused.ranks[i, j])
            norm = float(fused.normalized[i, j])
            parts.append(
                ListContribution(
                    name, raw[name].get(doc_id), None if math.isnan(norm) else norm, rank or None
                )
            )
        hits.append(Hit(doc_id, float(score), j + 1, tuple(parts)))
    return hits


def with_matched_terms(backend: Backend, query: str, hits: list[Hit]) -> list[Hit]:
    """Fill ``matched_terms`` of lexical contributions, and the top contributing
    (expanded) terms of learned sparse ones (looked up for these hits only; a document
    hit's from its best passage)."""
    if not hits:
        return hits
    ids = [h.passage_id or h.doc_id for h in hits]
    matched = backend.matched_terms(ids, backend.analyzer.analyze(query))
    top: list[tuple[tuple[str, float], ...]] = []
    if any(c.retriever == "splade" for h in hits for c in h.contributions):
        weights = prepare_queries(backend, ["splade"], [query])["splade"][0]
        top = backend.splade_contributions(ids, weights)
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


_LEXICAL = frozenset(name for name, spec in RETRIEVERS.items() if spec.lexical)

R = TypeVar("R", bound=tuple[Any, ...])


def _record(cls: type[R], values: tuple[Any, ...]) -> R:
    """A named tuple from all its fields at once, without the Python-level ``__new__``
    (a hit is built per result: at k=1000 that call is a good share of a query's time)."""
    return tuple.__new__(cls, values)


def _records(cls: type[R], *columns: Iterable[Any]) -> Iterator[R]:
    """Named tuples from columns of field values (see :func:`_record`), built in C; the
    shortest column ends them (constant fields come as endless repeats)."""
    return map(tuple.__new__, repeat(cls), zip(*columns, strict=False))


def boosted(backend: Backend, hits: list[Hit], boosts: Sequence[Boost]) -> list[Hit]:
    """Scale matching hits' scores, re-sort (score desc, doc id asc), and record the factor
    as a ``"boost"`` contribution."""
    if not hits:
        return hits
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
