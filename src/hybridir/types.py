"""Records shared by every stage: documents, hits, runs and judgments.

Vocabulary (used everywhere): ``qid`` is a query id, ``doc_id`` a document id (both strings),
a :data:`Run` maps ``{qid: {doc_id: score}}`` and :data:`Qrels` maps ``{qid: {doc_id: grade}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Run = dict[str, dict[str, float]]
"""Scores per query: ``{qid: {doc_id: score}}``."""

Qrels = dict[str, dict[str, int]]
"""Relevance grades per query: ``{qid: {doc_id: grade}}``."""

PARENT = "parent_id"
"""Metadata field of a passage: the id of the document it was cut from."""
PASSAGE = "passage"
"""Metadata field of a passage: its 0-based position in its parent document."""
HEADINGS = "headings"
"""Metadata field of a passage: the heading path above it (outermost first)."""
PAGES = "pages"
"""Metadata field of a passage: the 1-based PDF pages it spans."""


def passage_id(parent: str, position: int) -> str:
    """The id of a document's ``position``-th passage: ``"<parent>#<position>"``."""
    return f"{parent}#{position}"


@dataclass(frozen=True)
class Document:
    """A document of a collection.

    Args:
        doc_id: unique, non-empty identifier.
        text: body text.
        title: optional title; indexed together with ``text``.
        metadata: JSON-serialisable attributes kept in the document store.
    """

    doc_id: str
    text: str
    title: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


class _Missing:
    """The value of a metadata field a document does not have."""

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        # Unpickled as the module's one MISSING (a shard's lookup answer crosses processes),
        # so ``value is MISSING`` holds everywhere.
        return "MISSING"


MISSING = _Missing()
"""What a metadata lookup gives for a field the document lacks (never a JSON value)."""


class RankedList(NamedTuple):
    """One list's answer to one query, best first (ties by doc id)."""

    doc_ids: list[str]
    scores: list[float]


class Retrieval(NamedTuple):
    """Every requested list's answers (``{list: [one RankedList per query]}``), and the
    shards of a sharded collection that did not answer (a partial result)."""

    lists: dict[str, list[RankedList]]
    missing_shards: tuple[int, ...] = ()


@dataclass(frozen=True)
class Query:
    """A query of a test collection."""

    qid: str
    text: str


class ListContribution(NamedTuple):
    """What one retrieval list said about a hit.

    ``rank`` is 1-based; ``None`` (with ``raw_score``/``normalized_score`` also ``None``)
    means the document was absent from that list. ``matched_terms`` are the query terms
    found in the document (BM25), or a learned sparse list's top contributing terms, which
    may be expansions absent from the query text; ``term_scores`` pairs those with their
    share of the score (query weight × document weight).
    """

    retriever: str
    raw_score: float | None
    normalized_score: float | None
    rank: int | None
    matched_terms: tuple[str, ...] = ()
    term_scores: tuple[tuple[str, float], ...] = ()


class Hit(NamedTuple):
    """One ranked result: the fused score plus one contribution per retrieval list.

    ``title``, ``text`` and ``metadata`` are the document's content when the search asked
    for it (``fields=``), else ``None``; ``text`` may be a snippet with the matched terms
    highlighted. With ``group_by="document"`` ``doc_id`` is the parent document and
    ``passage_id`` the passage that scored it (MaxP).
    """

    doc_id: str
    score: float
    rank: int
    contributions: tuple[ListContribution, ...] = ()
    title: str | None = None
    text: str | None = None
    metadata: Mapping[str, Any] | None = None
    passage_id: str | None = None


@dataclass(frozen=True)
class SearchResult:
    """Hits of one query, best first (score desc, doc_id asc).

    ``timings`` holds the milliseconds each stage took (``retrieve``, ``fuse``, ``rerank``).
    ``missing_shards`` lists the shards of a sharded collection that did not answer when the
    request allowed partial results (the hits then come from the other shards only).
    """

    query: str
    hits: tuple[Hit, ...]
    timings: Mapping[str, float] = field(default_factory=dict)
    missing_shards: tuple[int, ...] = ()

    @property
    def partial(self) -> bool:
        """Whether some shard's documents are missing from the hits."""
        return bool(self.missing_shards)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"query", "timings", "partial", "missing_shards", "hits":
        [{"doc_id", "score", "rank", "lists"}]}``, each hit with ``"title"``, ``"text"``,
        ``"metadata"`` and ``"passage_id"`` where it has them."""
        return {
            "query": self.query,
            "timings": dict(self.timings),
            "partial": self.partial,
            "missing_shards": list(self.missing_shards),
            "hits": [_hit_dict(h) for h in self.hits],
        }


_CONTENT = ("title", "text", "metadata", "passage_id")
"""Hit attributes a JSON hit carries only when set."""


def _hit_dict(hit: Hit) -> dict[str, Any]:
    """One hit of :meth:`SearchResult.to_dict`."""
    out: dict[str, Any] = {
        "doc_id": hit.doc_id,
        "score": hit.score,
        "rank": hit.rank,
        "lists": [
            c._asdict()
            | {
                "matched_terms": list(c.matched_terms),
                "term_scores": [[t, w] for t, w in c.term_scores],
            }
            for c in hit.contributions
        ],
    }
    for name in _CONTENT:
        value = getattr(hit, name)
        if value is not None:
            out[name] = dict(value) if name == "metadata" else value
    return out
