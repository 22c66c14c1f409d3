"""Searcher: the one query path (analyze → retrieve each list → fuse → rerank → explain).

Every front end (library, CLI, evaluation, server) asks a :class:`Searcher`, so a query gets
the same hits wherever it is asked. Retrievers come from :data:`RETRIEVERS`; each turns a
batch of query strings into ranked lists of (doc id, score). ``"hybrid"`` retrieves every
list of the collection to its configured depth and fuses them: with
:func:`hybridir.fusion.fuse` for the fixed methods, or with the collection's trained model
for the learned ones (:mod:`hybridir.learn`). An optional :mod:`reranker <hybridir.rerank>`
then reorders the top hits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from hybridir.collection import CollectionView
from hybridir.config import LEARNED_METHODS, FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.filters import Boost, apply_boosts, boost_factors, filter_mask, parse_boosts
from hybridir.fusion import Fused, ScoredList, fuse, prepare
from hybridir.types import Hit, ListContribution, Run, SearchResult

if TYPE_CHECKING:
    from hybridir.rerank import Reranker

HYBRID = "hybrid"


class RankedList(NamedTuple):
    """One retriever's answer to one query, best first."""

    doc_ids: list[str]
    scores: list[float]


class RetrieverSpec(NamedTuple):
    """A retriever: its batch function and the lowest score it can give (for fusion)."""

    retrieve: Callable[
        [CollectionView, Sequence[str], int, int, NDArray[np.bool_] | None], list[RankedList]
    ]
    theoretical_min: float
    lexical: bool


def bm25_retriever(
    collection: CollectionView,
    queries: Sequence[str],
    k: int,
    n_threads: int,
    allowed: NDArray[np.bool_] | None = None,
) -> list[RankedList]:
    """BM25 over the collection's postings with its analyzer (``allowed``: row mask)."""
    analyzed = [collection.analyzer.analyze(q) for q in queries]
    hits = collection.bm25.search(analyzed, k, n_threads, allowed)
    return [RankedList(h.doc_ids, h.scores) for h in hits]


def dense_retriever(
    collection: CollectionView,
    queries: Sequence[str],
    k: int,
    n_threads: int,
    allowed: NDArray[np.bool_] | None = None,
) -> list[RankedList]:
    """Inner product between the encoded queries and the collection's vectors."""
    vectors = collection.encoder.encode_queries(queries)
    rows, scores = collection.vectors.search(vectors, k, allowed)
    ids = collection.bm25.doc_ids
    return [
        RankedList([ids[r] for r in row], score.astype(float).tolist())
        for row, score in zip(rows, scores, strict=True)
    ]


def splade_retriever(
    collection: CollectionView,
    queries: Sequence[str],
    k: int,
    n_threads: int,
    allowed: NDArray[np.bool_] | None = None,
) -> list[RankedList]:
    """Learned sparse: the queries' term weights (``SpladeConfig.query_mode``) dotted with
    the collection's quantized document impacts."""
    weighted = collection.splade_queries(queries)
    hits = collection.splade.search(weighted, k, n_threads, allowed)
    return [RankedList(h.doc_ids, h.scores) for h in hits]


RETRIEVERS: dict[str, RetrieverSpec] = {
    "bm25": RetrieverSpec(bm25_retriever, 0.0, lexical=True),
    "splade": RetrieverSpec(splade_retriever, 0.0, lexical=False),
    "dense": RetrieverSpec(dense_retriever, -1.0, lexical=False),
}
"""Retrievers by name; ``"hybrid"`` fuses all of a collection's lists."""


class Searcher:
    """Answers queries over a :class:`Collection`.

    Args:
        collection: what to search.
        retriever: default mode: a :data:`RETRIEVERS` name or ``"hybrid"``; by default
            ``"hybrid"`` when the collection has a dense index, else ``"bm25"``.
        fusion: default fusion, else the collection's configured one.
        reranker: applied to the top hits of every query unless a call says ``rerank=False``;
            by default the collection's configured one (``CollectionConfig.rerank``), if any.

    Example:
        >>> searcher = Searcher(Collection.open("scifact-col"))  # doctest: +SKIP
        >>> searcher.search("microRNA in cancer", k=3).hits[0].doc_id  # doctest: +SKIP
        '4983'
    """

    def __init__(
        self,
        collection: CollectionView,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.collection = collection
        default = HYBRID if len(available_lists(collection)) > 1 else "bm25"
        self.retriever = self._check_mode(retriever or default)
        self._fusion = fusion
        self._given_reranker = reranker
        self._built: dict[str, Reranker] = {}

    @property
    def reranker(self) -> Reranker | None:
        """The default reranker: the one given, else the collection's configured one."""
        if self._given_reranker is not None:
            return self._given_reranker
        spec = self.collection.config.rerank
        if spec is None:
            return None
        if spec not in self._built:  # models load once per Searcher
            from hybridir.rerank import reranker_from_spec

            self._built[spec] = reranker_from_spec(self.collection, spec)
        return self._built[spec]

    @property
    def fusion(self) -> FusionConfig:
        """The default fusion: the one given, else the collection's current one."""
        return self._fusion or self.collection.config.fusion

    def lists(self) -> list[str]:
        """The retrievers a hybrid query fuses for this collection."""
        return available_lists(self.collection)

    def _check_mode(self, name: str) -> str:
        valid = sorted([*RETRIEVERS, HYBRID])
        if name not in valid:
            raise ConfigError(f"unknown retriever {name!r}; valid: {valid}")
        have = self.lists()
        if name == HYBRID and len(have) < 2:
            raise ConfigError(
                "retriever 'hybrid' needs a second list; this collection has only BM25 "
                "(index it with --dense MODEL and/or --splade MODEL)"
            )
        if name != HYBRID and name not in have:
            raise ConfigError(
                f"retriever {name!r} is not indexed in this collection (it has {have}); "
                f"index it with --{name} MODEL"
            )
        return name

    def _reranker(self, rerank: bool | None) -> Reranker | None:
        if rerank and self.reranker is None:
            raise ConfigError("rerank=True but this Searcher has no reranker")
        return None if rerank is False else self.reranker

    def _retrieve(
        self,
        view: CollectionView,
        queries: Sequence[str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int,
        allowed: NDArray[np.bool_] | None = None,
    ) -> dict[str, list[RankedList]]:
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        for q in queries:
            if not isinstance(q, str):
                raise InvalidInputError(f"queries must be strings, got {type(q).__name__}")
        names = self.lists() if mode == HYBRID else [mode]
        return {
            name: RETRIEVERS[name].retrieve(
                view,
                queries,
                fusion.depth(name) if mode == HYBRID else k,
                n_threads,
                allowed,
            )
            for name in names
        }

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        rerank: bool | None = None,
        explain: bool = True,
        filter: Mapping[str, Any] | None = None,
        boosts: Sequence[Mapping[str, Any]] = (),
        allow_partial: bool = False,
    ) -> SearchResult:
        """Top-``k`` hits for ``query``, each with its per-list explanation.

        ``rerank`` forces the Searcher's reranker on (``True``) or off (``False``); by
        default it runs when the Searcher has one. ``filter`` restricts every list to the
        documents whose metadata matches, inside its top-k; ``boosts`` scale the fused
        scores of matching hits before the cut to ``k`` (see :mod:`hybridir.filters`).
        ``allow_partial`` matters only for sharded collections (one collection is whole).
        """
        mode = self._check_mode(retriever or self.retriever)
        config = fusion or self.fusion
        reranker = self._reranker(rerank)
        depth = max(k, reranker.depth) if reranker is not None else k
        parsed = parse_boosts(boosts)
        if parsed:  # boosts may lift any candidate: keep them all until boosted
            depth = max(depth, *(config.depth(n) for n in self.lists()))
        view = self.collection.snapshot()  # one generation for the whole query
        clock = time.perf_counter()
        allowed = None if filter is None else filter_mask(view, filter)
        lists = self._retrieve(view, [query], depth, mode, config, 1, allowed)
        timings = {"retrieve": _ms(clock)}
        clock = time.perf_counter()
        one = {n: v[0] for n, v in lists.items()}
        hits = self._hits(view, query, one, mode, config, depth)
        if parsed:
            hits = _boosted(view, hits, parsed)
        timings["fuse"] = _ms(clock)
        if reranker is not None:
            from hybridir.rerank import rerank as apply

            hits, seconds = apply(reranker, view, query, hits)
            timings["rerank"] = seconds * 1e3
        hits = hits[:k]
        if explain:
            hits = self._with_matched_terms(view, query, hits)
        return SearchResult(query, tuple(hits), timings)

    def _hits(
        self,
        view: CollectionView,
        query: str,
        lists: Mapping[str, RankedList],
        mode: str,
        config: FusionConfig,
        k: int,
    ) -> list[Hit]:
        fused = self.fuse_lists(query, lists, config, k, view) if mode == HYBRID else None
        return hits_from(lists, mode, fused)

    def fuse_lists(
        self,
        query: str,
        lists: Mapping[str, RankedList],
        config: FusionConfig,
        k: int,
        view: CollectionView | None = None,
    ) -> Fused:
        """Fuse one query's lists (each cut to its ``config.depth``) into the top ``k``:
        a fixed method through :func:`hybridir.fusion.fuse`, a learned one through the
        collection's stored model."""
        scored = [scored_list(n, r, config.depth(n)) for n, r in lists.items()]
        if config.method not in LEARNED_METHODS:
            return fuse(scored, config, k)
        from hybridir.learn.features import QueryContext
        from hybridir.learn.store import load_model
        from hybridir.learn.train import FusionModel

        view = view or self.collection.snapshot()
        model = cast(FusionModel, load_model(view.models_dir, str(config.model)))
        if model.kind != config.method:
            raise ConfigError(
                f"model {config.model!r} is a {model.kind} model, not {config.method}"
            )
        context = QueryContext(query, tuple(view.analyzer.analyze(query)))
        return model.fuse(view, context, prepare(scored), k)

    def _with_matched_terms(self, view: CollectionView, query: str, hits: list[Hit]) -> list[Hit]:
        """Fill ``matched_terms`` of lexical contributions, and the top contributing
        (expanded) terms of learned sparse ones (looked up for these hits only)."""
        terms = view.analyzer.analyze(query)
        index = view.bm25
        rows = index.rows_of([h.doc_id for h in hits])
        weighted = None
        if any(c.retriever == "splade" for h in hits for c in h.contributions):
            weighted = view.splade_queries([query])[0]
        out = []
        for hit, row in zip(hits, rows, strict=True):
            matched = index.matched_terms(row, terms)
            parts = []
            for c in hit.contributions:
                if c.retriever in RETRIEVERS and RETRIEVERS[c.retriever].lexical:
                    c = c._replace(matched_terms=matched)
                elif c.retriever == "splade" and weighted is not None:
                    top = view.splade.term_contributions(row, weighted)
                    c = c._replace(matched_terms=tuple(t for t, _ in top), term_scores=top)
                parts.append(c)
            out.append(hit._replace(contributions=tuple(parts)))
        return out

    def run(
        self,
        queries: Mapping[str, str],
        k: int = 1000,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        rerank: bool | None = None,
        n_threads: int = 1,
        filter: Mapping[str, Any] | None = None,
    ) -> Run:
        """Batch retrieval for evaluation: ``{qid: {doc_id: score}}`` (``filter`` as in
        :meth:`search`)."""
        mode = self._check_mode(retriever or self.retriever)
        config = fusion or self.fusion
        reranker = self._reranker(rerank)
        depth = max(k, reranker.depth) if reranker is not None else k
        view = self.collection.snapshot()
        allowed = None if filter is None else filter_mask(view, filter)
        lists = self.retrieve_lists(queries, depth, mode, config, n_threads, view, allowed)
        if reranker is not None:
            from hybridir.rerank import rerank as apply

            out: Run = {}
            for qid, text in queries.items():
                one = {name: per_query[qid] for name, per_query in lists.items()}
                fused = self._hits(view, text, one, mode, config, depth)
                hits, _ = apply(reranker, view, text, fused)
                out[qid] = {h.doc_id: h.score for h in hits[:k]}
            return out
        if mode != HYBRID:
            return {
                qid: dict(zip(r.doc_ids, r.scores, strict=True)) for qid, r in lists[mode].items()
            }
        return self.fuse_run(lists, config, k, queries, view)

    def retrieve_lists(
        self,
        queries: Mapping[str, str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int = 1,
        view: CollectionView | None = None,
        allowed: NDArray[np.bool_] | None = None,
    ) -> dict[str, dict[str, RankedList]]:
        """Each list's candidates per query: ``{retriever: {qid: RankedList}}``.

        With ``mode="hybrid"`` every list of the collection is retrieved to its
        ``fusion.depth(name)`` (separate from the fused depth ``k``); otherwise only
        ``mode``, to ``k``.
        """
        mode = self._check_mode(mode)
        qids = list(queries)
        view = view or self.collection.snapshot()
        texts = [queries[q] for q in qids]
        lists = self._retrieve(view, texts, k, mode, fusion, n_threads, allowed)
        return {name: dict(zip(qids, ranked, strict=True)) for name, ranked in lists.items()}

    def fuse_run(
        self,
        lists: Mapping[str, Mapping[str, RankedList]],
        fusion: FusionConfig,
        k: int,
        queries: Mapping[str, str] | None = None,
        view: CollectionView | None = None,
    ) -> Run:
        """Fuse :meth:`retrieve_lists` output per query into a run of depth ``k``.

        Each list is cut to its ``fusion.depth`` first, so one deep retrieval can serve
        many fusion settings. Learned methods need the query texts (``queries``).
        """
        if fusion.method in LEARNED_METHODS and queries is None:
            raise ConfigError(f"fusion method {fusion.method!r} needs the query texts")
        out: Run = {}
        first = next(iter(lists.values()), {})
        if fusion.method in LEARNED_METHODS:
            view = view or self.collection.snapshot()
        for qid in first:
            one = {name: per_query[qid] for name, per_query in lists.items()}
            fused = self.fuse_lists(queries[qid] if queries else "", one, fusion, k, view)
            out[qid] = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
        return out


def hits_from(lists: Mapping[str, RankedList], mode: str, fused: Fused | None) -> list[Hit]:
    """Hits of one query: one list's ranking (``mode`` a retriever), or the ``fused``
    ranking with every list's raw score, normalized score and rank as contributions."""
    if fused is None:
        ranked = lists[mode]
        return [
            Hit(d, s, rank, (ListContribution(mode, s, s, rank),))
            for rank, (d, s) in enumerate(zip(ranked.doc_ids, ranked.scores, strict=True), 1)
        ]
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


def available_lists(view: CollectionView) -> list[str]:
    """The retrieval lists ``view`` has indexed, in fusion order (BM25 first)."""
    have = {"bm25": True, "splade": view.has_splade, "dense": view.has_dense}
    return [name for name in RETRIEVERS if have.get(name, False)]


def _boosted(view: CollectionView, hits: list[Hit], boosts: Sequence[Boost]) -> list[Hit]:
    """Scale matching hits' scores, re-sort (score desc, doc id asc), and record the factor
    as a ``"boost"`` contribution."""
    factors = boost_factors(view, [h.doc_id for h in hits], boosts)
    scores = apply_boosts(np.asarray([h.score for h in hits], dtype=np.float64), factors)
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], hits[i].doc_id))
    out = []
    for rank, i in enumerate(order, 1):
        parts = hits[i].contributions
        if factors[i] != 1.0:
            parts = (*parts, ListContribution("boost", float(factors[i]), None, None))
        out.append(Hit(hits[i].doc_id, float(scores[i]), rank, parts))
    return out


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def scored_list(name: str, ranked: RankedList, depth: int) -> ScoredList:
    """One retriever's list cut to its fusion depth, in the form :func:`fuse` takes."""
    return ScoredList(
        name,
        ranked.doc_ids[:depth],
        np.asarray(ranked.scores[:depth], dtype=np.float64),
        RETRIEVERS[name].theoretical_min,
    )
