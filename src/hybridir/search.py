"""Searcher: the one query path (prepare → retrieve each list → fuse → boost → rerank →
explain).

Every front end (library, CLI, evaluation, server, benchmark runner) asks a
:class:`Searcher`, and a Searcher reads its collection only through the query backend
(:class:`hybridir.backend.Backend`) that one collection and a sharded cluster both
implement: a query gets the same hits, with every feature, wherever it is asked.
``"hybrid"`` retrieves every list of the collection to its configured depth and fuses them:
with :func:`hybridir.fusion.fuse` for the fixed methods, or with the collection's trained
model for the learned ones (:mod:`hybridir.learn`). An optional reranker
(:mod:`hybridir.rerank`) then reorders the top hits.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

from hybridir.backend import Backend, Source
from hybridir.config import LEARNED_METHODS, DiversifyConfig, FusionConfig
from hybridir.content import DEFAULT_FIELDS, check_fields, with_content
from hybridir.diversify import diversify as diversify_hits
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.filters import Boost, parse_boosts
from hybridir.fusion import Fused, fuse, prepare, scored_list
from hybridir.grouping import (
    DOCUMENT,
    GroupBy,
    check_group_by,
    group_depths,
    max_passage,
    parents_of,
)
from hybridir.hits import boosted, hits_from, with_matched_terms
from hybridir.learn.features import QueryContext
from hybridir.learn.models import FusionModel, load_model
from hybridir.query import RETRIEVERS
from hybridir.query import prepare as prepare_queries
from hybridir.rerank import Reranker, reranker_from_spec
from hybridir.rerank import rerank as rerank_hits
from hybridir.text.analyzer import Analyzer
from hybridir.text.snippets import WordTerms
from hybridir.types import (
    PARENT,
    Hit,
    Hits,
    RankedList,
    Retrieval,
    Run,
    SearchResult,
)

HYBRID = "hybrid"


class Searcher:
    """Answers queries over a collection: a :class:`~hybridir.collection.Collection` or a
    sharded one (:class:`~hybridir.distributed.cluster.ShardedCollection`).

    Args:
        collection: what to search (anything with ``snapshot()``: :class:`Source`).
        retriever: default mode: a :data:`~hybridir.query.RETRIEVERS` name or ``"hybrid"``;
            by default ``"hybrid"`` when the collection has a second list, else ``"bm25"``.
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
        collection: Source,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.collection = collection
        default = HYBRID if len(self.lists()) > 1 else "bm25"
        self.retriever = self._check_mode(retriever or default)
        self._fusion = fusion
        self._given_reranker = reranker
        self._built: dict[str, Reranker] = {}
        self._words: WordTerms | None = None

    @property
    def reranker(self) -> Reranker | None:
        """The default reranker: the one given, else the collection's configured one."""
        return self._default_reranker(self.collection.snapshot())

    def _default_reranker(self, backend: Backend) -> Reranker | None:
        if self._given_reranker is not None:
            return self._given_reranker
        spec = backend.config.rerank
        if spec is None:
            return None
        if spec not in self._built:  # models load once per Searcher
            self._built[spec] = reranker_from_spec(backend, spec)
        return self._built[spec]

    @property
    def fusion(self) -> FusionConfig:
        """The default fusion: the one given, else the collection's current one."""
        return self._fusion or self.collection.snapshot().config.fusion

    def lists(self) -> list[str]:
        """The retrievers a hybrid query fuses for this collection."""
        return self.collection.snapshot().lists()

    def _check_mode(self, name: str, backend: Backend | None = None) -> str:
        if name not in RETRIEVERS and name != HYBRID:
            valid = sorted([*RETRIEVERS, HYBRID])
            raise ConfigError(f"unknown retriever {name!r}; valid: {valid}")
        have = (backend if backend is not None else self.collection.snapshot()).lists()
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

    def _vocabulary(self, analyzer: Analyzer) -> WordTerms:
        """The snippets' memo of words' index terms, kept across queries while the
        collection's analyzer stays the same."""
        if self._words is None or self._words.analyzer is not analyzer:
            self._words = WordTerms(analyzer)
        return self._words

    def _reranker(self, rerank: bool | None, backend: Backend | None = None) -> Reranker | None:
        if rerank is False:
            return None
        reranker = self._default_reranker(
            backend if backend is not None else self.collection.snapshot()
        )
        if rerank and reranker is None:
            raise ConfigError("rerank=True but this Searcher has no reranker")
        return reranker

    def _retrieve(
        self,
        backend: Backend,
        queries: Sequence[str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int = 1,
        filters: Mapping[str, Any] | None = None,
        allow_partial: bool = False,
    ) -> Retrieval:
        """Prepare ``queries`` once per list, then the backend's top hits of each list."""
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ConfigError(f"k must be a whole number, got {k!r}")
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        for q in queries:
            if not isinstance(q, str):
                raise InvalidInputError(f"queries must be strings, got {type(q).__name__}")
        names = backend.lists() if mode == HYBRID else [mode]
        prepared = prepare_queries(backend, names, queries)
        depths = _list_depths(names, mode, fusion, k)
        requests = {n: (prepared[n], depths[n]) for n in names}
        return backend.retrieve(requests, filters, n_threads=n_threads, allow_partial=allow_partial)

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        rerank: bool | None = None,
        explain: bool = True,
        filters: Mapping[str, Any] | None = None,
        boosts: Sequence[Mapping[str, Any]] = (),
        allow_partial: bool = False,
        fields: Sequence[str] = DEFAULT_FIELDS,
        group_by: GroupBy = "passage",
        diversify: DiversifyConfig | str | bool | None = None,
    ) -> SearchResult:
        """Top-``k`` hits for ``query``, each with its per-list explanation and content.

        ``rerank`` forces the Searcher's reranker on (``True``) or off (``False``); by
        default it runs when the Searcher has one. ``filters`` restricts every list to the
        documents whose metadata matches, inside its top-k; ``boosts`` scale the fused
        scores of matching hits before the cut to ``k`` (see :mod:`hybridir.filters`).
        ``allow_partial``: on a sharded collection, answer from the shards that answered
        when some did not (``SearchResult.missing_shards`` names them).
        ``fields``: the stored content each hit carries (:data:`hybridir.content.FIELDS`:
        ``title``, ``text`` or ``snippet``, ``metadata``; ``()`` for bare hits), read in one
        batch after the cut to ``k``. ``group_by="document"``: ``k`` parent documents,
        each scored by its best passage (:mod:`hybridir.grouping`). ``diversify``: reorder
        the top hits by MMR or cluster representatives (:mod:`hybridir.diversify`; needs a
        dense list); ``None`` uses the collection's ``CollectionConfig.diversify``,
        ``False`` turns it off, ``True`` uses the default :class:`DiversifyConfig` and a
        method name (``"mmr"``, ``"clusters"``) that method with its default settings.

        Example:
            >>> hits = searcher.search("solar panels", fields=["snippet"]).hits  # doctest: +SKIP
            >>> hits[0].text  # doctest: +SKIP
            'Cheap <mark>solar</mark> <mark>panels</mark> for every roof …'
        """
        backend = self.collection.snapshot()  # one consistent state for the whole query
        mode = self._check_mode(retriever or self.retriever, backend)
        config = fusion or self._fusion or backend.config.fusion
        reranker = self._reranker(rerank, backend)
        wanted = check_fields(fields)
        grouped = check_group_by(group_by) == DOCUMENT
        spread = _diversification(backend, diversify)
        depth = max(k, reranker.depth) if reranker is not None else k
        if spread is not None:
            depth = max(depth, spread.depth)
        parsed = parse_boosts(boosts)
        if parsed:  # boosts may lift any candidate: keep them all until boosted
            depth = max(depth, *(config.depth(n) for n in backend.lists()))
        timings: dict[str, float] = {}
        ask = _Ask(backend, query, mode, config, filters, allow_partial, parsed, timings)
        if grouped:
            ranked, parents = self._grouped(ask, k, depth)
        else:
            ranked, parents = self._ranked(ask, depth), {}
        hits: Sequence[Hit] = ranked.hits
        if reranker is not None:
            hits, seconds = rerank_hits(reranker, backend, query, hits)
            timings["rerank"] = seconds * 1e3
        if grouped:
            hits = max_passage(hits, parents)
        if spread is not None:
            clock = time.perf_counter()
            head = hits[: spread.depth]
            vectors = backend.dense_vectors([h.passage_id or h.doc_id for h in head])
            hits = diversify_hits(hits, vectors, spread, k)
            timings["diversify"] = _ms(clock)
        hits = hits[:k]
        if explain:
            hits = with_matched_terms(backend, query, hits)
        if wanted:
            clock = time.perf_counter()
            vocabulary = self._vocabulary(backend.analyzer)
            hits = with_content(backend, query, hits, wanted, vocabulary=vocabulary)
            timings["content"] = _ms(clock)
        return SearchResult(query, Hits.of(hits), timings, ranked.missing_shards)

    def _ranked(self, ask: _Ask, depth: int) -> _Ranked:
        """Retrieve, fuse and boost one query's top ``depth`` hits (timings added up)."""
        clock = time.perf_counter()
        found = self._retrieve(
            ask.backend, [ask.query], depth, ask.mode, ask.config, 1, ask.filters, ask.partial
        )
        _add(ask.timings, "retrieve", clock)
        clock = time.perf_counter()
        one = {n: v[0] for n, v in found.lists.items()}
        hits = self._hits(ask.backend, ask.query, one, ask.mode, ask.config, depth)
        if ask.boosts:
            hits = boosted(ask.backend, hits, ask.boosts)
        _add(ask.timings, "fuse", clock)
        asked = _list_depths(list(one), ask.mode, ask.config, depth)
        exhausted = len(hits) < depth and all(len(r.doc_ids) < asked[n] for n, r in one.items())
        return _Ranked(hits, found.missing_shards, exhausted)

    def _grouped(self, ask: _Ask, k: int, depth: int) -> tuple[_Ranked, dict[str, str]]:
        """Passages ranked deep enough to hold ``k`` distinct parents (or all there are,
        up to :data:`~hybridir.grouping.MAX_GROUP_DEPTH`), and each one's parent.

        A hybrid query widens each list's depth to the passage depth of the round when its
        configured depth is shallower (so the first rounds fuse exactly as ungrouped)."""
        names = ask.backend.lists()
        for passages in group_depths(k, depth):
            config = ask.config
            if ask.mode == HYBRID:
                wider = {n: passages for n in names if config.depth(n) < passages}
                config = replace(config, depths={**config.depths, **wider})
            ranked = self._ranked(ask._replace(config=config), passages)
            ids = [h.doc_id for h in ranked.hits]
            parents = parents_of(ids, ask.backend.metadata(ids, PARENT))
            if len(set(parents)) >= k or ranked.exhausted:
                break
        return ranked, dict(zip(ids, parents, strict=True))

    def _hits(
        self,
        backend: Backend,
        query: str,
        lists: Mapping[str, RankedList],
        mode: str,
        config: FusionConfig,
        k: int,
    ) -> Sequence[Hit]:
        fused = self.fuse_lists(query, lists, config, k, backend) if mode == HYBRID else None
        return hits_from(lists, mode, fused)

    def fuse_lists(
        self,
        query: str,
        lists: Mapping[str, RankedList],
        config: FusionConfig,
        k: int,
        backend: Backend | None = None,
    ) -> Fused:
        """Fuse one query's lists (each cut to its ``config.depth``) into the top ``k``:
        a fixed method through :func:`hybridir.fusion.fuse`, a learned one through the
        collection's stored model."""
        scored = [scored_list(n, r, config.depth(n)) for n, r in lists.items()]
        if config.method not in LEARNED_METHODS:
            return fuse(scored, config, k)
        backend = backend if backend is not None else self.collection.snapshot()
        model = cast(FusionModel, load_model(backend.models_dir, str(config.model)))
        if model.kind != config.method:
            raise ConfigError(
                f"model {config.model!r} is a {model.kind} model, not {config.method}"
            )
        context = QueryContext(query, tuple(backend.analyzer.analyze(query)))
        return model.fuse(backend, context, prepare(scored), k)

    def run(
        self,
        queries: Mapping[str, str],
        k: int = 1000,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        rerank: bool | None = None,
        n_threads: int = 1,
        filters: Mapping[str, Any] | None = None,
    ) -> Run:
        """Batch retrieval for evaluation: ``{qid: {doc_id: score}}`` (``filters`` as in
        :meth:`search`)."""
        mode = self._check_mode(retriever or self.retriever)
        config = fusion or self.fusion
        reranker = self._reranker(rerank)
        depth = max(k, reranker.depth) if reranker is not None else k
        backend = self.collection.snapshot()
        lists = self.retrieve_lists(queries, depth, mode, config, n_threads, backend, filters)
        if reranker is not None:
            out: Run = {}
            for qid, text in queries.items():
                one = {name: per_query[qid] for name, per_query in lists.items()}
                fused = self._hits(backend, text, one, mode, config, depth)
                hits, _ = rerank_hits(reranker, backend, text, fused)
                out[qid] = {h.doc_id: h.score for h in hits[:k]}
            return out
        if mode != HYBRID:
            return {
                qid: dict(zip(r.doc_ids, r.scores, strict=True)) for qid, r in lists[mode].items()
            }
        return self.fuse_run(lists, config, k, queries, backend)

    def retrieve_lists(
        self,
        queries: Mapping[str, str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int = 1,
        backend: Backend | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, RankedList]]:
        """Each list's candidates per query: ``{retriever: {qid: RankedList}}``.

        With ``mode="hybrid"`` every list of the collection is retrieved to its
        ``fusion.depth(name)`` (separate from the fused depth ``k``); otherwise only
        ``mode``, to ``k``.
        """
        mode = self._check_mode(mode)
        qids = list(queries)
        backend = backend if backend is not None else self.collection.snapshot()
        texts = [queries[q] for q in qids]
        found = self._retrieve(backend, texts, k, mode, fusion, n_threads, filters)
        return {n: dict(zip(qids, ranked, strict=True)) for n, ranked in found.lists.items()}

    def fuse_run(
        self,
        lists: Mapping[str, Mapping[str, RankedList]],
        fusion: FusionConfig,
        k: int,
        queries: Mapping[str, str] | None = None,
        backend: Backend | None = None,
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
            backend = backend if backend is not None else self.collection.snapshot()
        for qid in first:
            one = {name: per_query[qid] for name, per_query in lists.items()}
            fused = self.fuse_lists(queries[qid] if queries else "", one, fusion, k, backend)
            out[qid] = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
        return out


def _diversification(
    backend: Backend, asked: DiversifyConfig | str | bool | None
) -> DiversifyConfig | None:
    """The diversification a query asked for (``None``: the collection's)."""
    if asked is None:
        chosen = backend.config.diversify
    elif isinstance(asked, bool):
        chosen = DiversifyConfig() if asked else None
    elif isinstance(asked, str):  # a method name: "mmr" or "clusters", default settings
        chosen = DiversifyConfig(method=asked)
    elif isinstance(asked, DiversifyConfig):
        chosen = asked
    else:
        raise ConfigError(
            "diversify is a DiversifyConfig, a method name, True, False or None; "
            f"got {type(asked).__name__}"
        )
    if chosen is not None and "dense" not in backend.lists():
        raise ConfigError(
            "diversification compares dense vectors: this collection has no dense list "
            "(index it with --dense MODEL)"
        )
    return chosen


def _list_depths(names: Sequence[str], mode: str, fusion: FusionConfig, k: int) -> dict[str, int]:
    """How deep each list is retrieved: its fusion depth in a hybrid query, else ``k``."""
    return {n: fusion.depth(n) if mode == HYBRID else k for n in names}


class _Ask(NamedTuple):
    """One query's fixed parts, as the ranking rounds of :meth:`Searcher.search` use them."""

    backend: Backend
    query: str
    mode: str
    config: FusionConfig
    filters: Mapping[str, Any] | None
    partial: bool
    boosts: Sequence[Boost]
    timings: dict[str, float]


class _Ranked(NamedTuple):
    """One ranking round: the hits, the shards that did not answer, and whether every
    list gave all it had (so a deeper round would find nothing more)."""

    hits: Sequence[Hit]
    missing_shards: tuple[int, ...]
    exhausted: bool


def _add(timings: dict[str, float], stage: str, start: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + _ms(start)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3
