"""Searcher: the one query path (analyze → retrieve → fuse → rerank → explain).

Every front end (library, CLI, evaluation, server) asks a :class:`Searcher`, so a query gets
the same hits wherever it is asked. Retrievers come from :data:`RETRIEVERS`; each turns a
batch of query strings into ranked lists of (doc id, score) with per-hit explanations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from hybridir.collection import Collection
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.types import Hit, ListContribution, Run, SearchResult


class RankedList(NamedTuple):
    """One retriever's answer to one query, best first."""

    doc_ids: list[str]
    scores: list[float]
    matched_terms: list[tuple[str, ...]]


Retriever = Callable[[Collection, Sequence[str], int, int, bool], list[RankedList]]
"""``(collection, queries, k, n_threads, explain) -> one RankedList per query``."""


def bm25_retriever(
    collection: Collection, queries: Sequence[str], k: int, n_threads: int, explain: bool
) -> list[RankedList]:
    """BM25 over the collection's postings with its analyzer."""
    analyzed = [collection.analyzer.analyze(q) for q in queries]
    index = collection.bm25
    out = []
    for terms, hits in zip(analyzed, index.search(analyzed, k, n_threads), strict=True):
        matched: list[tuple[str, ...]] = []
        if explain:
            rows = index.rows_of(hits.doc_ids)
            matched = [index.matched_terms(r, terms) for r in rows]
        out.append(RankedList(hits.doc_ids, hits.scores, matched))
    return out


RETRIEVERS: dict[str, Retriever] = {"bm25": bm25_retriever}
"""Retrievers by name."""


class Searcher:
    """Answers queries over a :class:`Collection`.

    Example:
        >>> searcher = Searcher(Collection.open("scifact-col"))  # doctest: +SKIP
        >>> searcher.search("microRNA in cancer", k=3).hits[0].doc_id  # doctest: +SKIP
        '4983'
    """

    def __init__(self, collection: Collection, retriever: str = "bm25") -> None:
        self.collection = collection
        self.retriever = _check_retriever(retriever)

    def _lists(
        self,
        queries: Sequence[str],
        k: int,
        retriever: str | None,
        n_threads: int,
        explain: bool,
    ) -> list[RankedList]:
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        for q in queries:
            if not isinstance(q, str):
                raise InvalidInputError(f"queries must be strings, got {type(q).__name__}")
        name = _check_retriever(retriever or self.retriever)
        return RETRIEVERS[name](self.collection, queries, k, n_threads, explain)

    def search(
        self, query: str, k: int = 10, *, retriever: str | None = None, explain: bool = True
    ) -> SearchResult:
        """Top-``k`` hits for ``query``, each with its per-list explanation."""
        name = retriever or self.retriever
        (ranked,) = self._lists([query], k, name, 1, explain)
        hits = tuple(
            Hit(
                doc_id,
                score,
                rank,
                (
                    ListContribution(
                        name, score, score, rank, ranked.matched_terms[rank - 1] if explain else ()
                    ),
                ),
            )
            for rank, (doc_id, score) in enumerate(
                zip(ranked.doc_ids, ranked.scores, strict=True), start=1
            )
        )
        return SearchResult(query, hits)

    def run(
        self,
        queries: Mapping[str, str],
        k: int = 1000,
        *,
        retriever: str | None = None,
        n_threads: int = 1,
    ) -> Run:
        """Batch retrieval for evaluation: ``{qid: {doc_id: score}}``."""
        qids = list(queries)
        lists = self._lists([queries[q] for q in qids], k, retriever, n_threads, False)
        return {
            qid: dict(zip(r.doc_ids, r.scores, strict=True))
            for qid, r in zip(qids, lists, strict=True)
        }


def _check_retriever(name: str) -> str:
    if name not in RETRIEVERS:
        raise ConfigError(f"unknown retriever {name!r}; valid: {sorted(RETRIEVERS)}")
    return name
