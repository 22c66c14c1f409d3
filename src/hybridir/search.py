"""Searcher: the one query path (analyze → retrieve each list → fuse → explain).

Every front end (library, CLI, evaluation, server) asks a :class:`Searcher`, so a query gets
the same hits wherever it is asked. Retrievers come from :data:`RETRIEVERS`; each turns a
batch of query strings into ranked lists of (doc id, score). ``"hybrid"`` retrieves every
list of the collection to its configured depth and fuses them with :func:`hybridir.fusion.fuse`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from hybridir.collection import Collection
from hybridir.config import FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.fusion import Fused, ScoredList, fuse
from hybridir.types import Hit, ListContribution, Run, SearchResult

HYBRID = "hybrid"


class RankedList(NamedTuple):
    """One retriever's answer to one query, best first."""

    doc_ids: list[str]
    scores: list[float]


class RetrieverSpec(NamedTuple):
    """A retriever: its batch function and the lowest score it can give (for fusion)."""

    retrieve: Callable[[Collection, Sequence[str], int, int], list[RankedList]]
    theoretical_min: float
    lexical: bool


def bm25_retriever(
    collection: Collection, queries: Sequence[str], k: int, n_threads: int
) -> list[RankedList]:
    """BM25 over the collection's postings with its analyzer."""
    analyzed = [collection.analyzer.analyze(q) for q in queries]
    return [RankedList(h.doc_ids, h.scores) for h in collection.bm25.search(analyzed, k, n_threads)]


def dense_retriever(
    collection: Collection, queries: Sequence[str], k: int, n_threads: int
) -> list[RankedList]:
    """Inner product between the encoded queries and the collection's vectors."""
    rows, scores = collection.vectors.search(collection.encoder.encode_queries(queries), k)
    ids = collection.postings.doc_ids
    return [
        RankedList([ids[r] for r in row], score.astype(float).tolist())
        for row, score in zip(rows, scores, strict=True)
    ]


RETRIEVERS: dict[str, RetrieverSpec] = {
    "bm25": RetrieverSpec(bm25_retriever, 0.0, lexical=True),
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

    Example:
        >>> searcher = Searcher(Collection.open("scifact-col"))  # doctest: +SKIP
        >>> searcher.search("microRNA in cancer", k=3).hits[0].doc_id  # doctest: +SKIP
        '4983'
    """

    def __init__(
        self,
        collection: Collection,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.collection = collection
        default = HYBRID if collection.has_dense else "bm25"
        self.retriever = self._check_mode(retriever or default)
        self.fusion = fusion or collection.config.fusion

    def lists(self) -> list[str]:
        """The retrievers a hybrid query fuses for this collection."""
        return ["bm25", "dense"] if self.collection.has_dense else ["bm25"]

    def _check_mode(self, name: str) -> str:
        valid = sorted([*RETRIEVERS, HYBRID])
        if name not in valid:
            raise ConfigError(f"unknown retriever {name!r}; valid: {valid}")
        if name in ("dense", HYBRID) and not self.collection.has_dense:
            raise ConfigError(
                f"retriever {name!r} needs a dense index; this collection has only BM25 "
                "(index it with --dense MODEL)"
            )
        return name

    def _retrieve(
        self, queries: Sequence[str], k: int, mode: str, fusion: FusionConfig, n_threads: int
    ) -> dict[str, list[RankedList]]:
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        for q in queries:
            if not isinstance(q, str):
                raise InvalidInputError(f"queries must be strings, got {type(q).__name__}")
        names = self.lists() if mode == HYBRID else [mode]
        return {
            name: RETRIEVERS[name].retrieve(
                self.collection,
                queries,
                fusion.depth(name) if mode == HYBRID else k,
                n_threads,
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
        explain: bool = True,
    ) -> SearchResult:
        """Top-``k`` hits for ``query``, each with its per-list explanation."""
        mode = self._check_mode(retriever or self.retriever)
        config = fusion or self.fusion
        lists = self._retrieve([query], k, mode, config, 1)
        if mode != HYBRID:
            ranked = lists[mode][0]
            hits = [
                Hit(d, s, rank, (ListContribution(mode, s, s, rank),))
                for rank, (d, s) in enumerate(zip(ranked.doc_ids, ranked.scores, strict=True), 1)
            ]
        else:
            hits = self._fused_hits({n: v[0] for n, v in lists.items()}, config, k)
        if explain:
            hits = self._with_matched_terms(query, hits)
        return SearchResult(query, tuple(hits))

    def _fused_hits(
        self, lists: Mapping[str, RankedList], config: FusionConfig, k: int
    ) -> list[Hit]:
        scored = [_scored(n, r, config.depth(n)) for n, r in lists.items()]
        fused: Fused = fuse(scored, config, k)
        raw = {n: dict(zip(r.doc_ids, r.scores, strict=True)) for n, r in lists.items()}
        hits = []
        for j, (doc_id, score) in enumerate(zip(fused.doc_ids, fused.scores, strict=True)):
            parts = []
            for i, name in enumerate(lists):
                rank = int(fused.ranks[i, j])
                norm = float(fused.normalized[i, j])
                parts.append(
                    ListContribution(
                        name,
                        raw[name].get(doc_id),
                        None if math.isnan(norm) else norm,
                        rank or None,
                    )
                )
            hits.append(Hit(doc_id, float(score), j + 1, tuple(parts)))
        return hits

    def _with_matched_terms(self, query: str, hits: list[Hit]) -> list[Hit]:
        """Fill ``matched_terms`` of lexical contributions (looked up for these hits only)."""
        terms = self.collection.analyzer.analyze(query)
        index = self.collection.bm25
        rows = index.rows_of([h.doc_id for h in hits])
        out = []
        for hit, row in zip(hits, rows, strict=True):
            matched = index.matched_terms(row, terms)
            parts = tuple(
                c._replace(matched_terms=matched) if RETRIEVERS[c.retriever].lexical else c
                for c in hit.contributions
            )
            out.append(hit._replace(contributions=parts))
        return out

    def run(
        self,
        queries: Mapping[str, str],
        k: int = 1000,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        n_threads: int = 1,
    ) -> Run:
        """Batch retrieval for evaluation: ``{qid: {doc_id: score}}``."""
        mode = self._check_mode(retriever or self.retriever)
        config = fusion or self.fusion
        lists = self.retrieve_lists(queries, k, mode, config, n_threads)
        if mode != HYBRID:
            return {
                qid: dict(zip(r.doc_ids, r.scores, strict=True)) for qid, r in lists[mode].items()
            }
        return self.fuse_run(lists, config, k)

    def retrieve_lists(
        self,
        queries: Mapping[str, str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int = 1,
    ) -> dict[str, dict[str, RankedList]]:
        """Each list's candidates per query: ``{retriever: {qid: RankedList}}``.

        With ``mode="hybrid"`` every list of the collection is retrieved to its
        ``fusion.depth(name)`` (separate from the fused depth ``k``); otherwise only
        ``mode``, to ``k``.
        """
        mode = self._check_mode(mode)
        qids = list(queries)
        lists = self._retrieve([queries[q] for q in qids], k, mode, fusion, n_threads)
        return {name: dict(zip(qids, ranked, strict=True)) for name, ranked in lists.items()}

    def fuse_run(
        self, lists: Mapping[str, Mapping[str, RankedList]], fusion: FusionConfig, k: int
    ) -> Run:
        """Fuse :meth:`retrieve_lists` output per query into a run of depth ``k``.

        Each list is cut to its ``fusion.depth`` first, so one deep retrieval can serve
        many fusion settings.
        """
        out: Run = {}
        first = next(iter(lists.values()), {})
        for qid in first:
            scored = [_scored(n, per_query[qid], fusion.depth(n)) for n, per_query in lists.items()]
            fused = fuse(scored, fusion, k)
            out[qid] = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
        return out


def _scored(name: str, ranked: RankedList, depth: int) -> ScoredList:
    """One retriever's list cut to its fusion depth, in the form :func:`fuse` takes."""
    return ScoredList(
        name,
        ranked.doc_ids[:depth],
        np.asarray(ranked.scores[:depth], dtype=np.float64),
        RETRIEVERS[name].theoretical_min,
    )
