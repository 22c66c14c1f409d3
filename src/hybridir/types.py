"""Records shared by every stage: documents, hits, runs and judgments.

Vocabulary (used everywhere): ``qid`` is a query id, ``doc_id`` a document id (both strings),
a :data:`Run` maps ``{qid: {doc_id: score}}`` and :data:`Qrels` maps ``{qid: {doc_id: grade}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple, overload

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


class ListColumn(NamedTuple):
    """One retrieval list's :class:`ListContribution` fields for every row of a
    :class:`HitColumns` table (``matched_terms`` / ``term_scores``: ``None`` means empty
    for every row)."""

    retriever: str
    raw_scores: Sequence[float | None]
    normalized_scores: Sequence[float | None]
    ranks: Sequence[int | None]
    matched_terms: Sequence[tuple[str, ...]] | None = None
    term_scores: Sequence[tuple[tuple[str, float], ...]] | None = None

    def cut(self, rows: range) -> ListColumn:
        """This column's values at ``rows``, in that order."""
        return ListColumn(
            self.retriever,
            _cut(self.raw_scores, rows),
            _cut(self.normalized_scores, rows),
            _cut(self.ranks, rows),
            _cut_or_none(self.matched_terms, rows),
            _cut_or_none(self.term_scores, rows),
        )


class HitColumns(NamedTuple):
    """Ranked hits as columns, one value per hit: row ``r`` is the hit ranked ``r + 1``
    (``titles`` / ``texts`` / ``metadata``: ``None`` means no such content)."""

    doc_ids: Sequence[str]
    scores: Sequence[float]
    lists: tuple[ListColumn, ...]
    titles: Sequence[str] | None = None
    texts: Sequence[str] | None = None
    metadata: Sequence[Mapping[str, Any]] | None = None

    def cut(self, rows: range) -> HitColumns:
        """The hits at ``rows`` (their ranks then start again at 1)."""
        return HitColumns(
            _cut(self.doc_ids, rows),
            _cut(self.scores, rows),
            tuple(c.cut(rows) for c in self.lists),
            _cut_or_none(self.titles, rows),
            _cut_or_none(self.texts, rows),
            _cut_or_none(self.metadata, rows),
        )

    def build(self, rows: range) -> list[Hit]:
        """The :class:`Hit` records of ``rows``, built column by column in C."""
        lists = [
            map(
                tuple.__new__,
                repeat(ListContribution),
                zip(
                    repeat(c.retriever),
                    _cut(c.raw_scores, rows),
                    _cut(c.normalized_scores, rows),
                    _cut(c.ranks, rows),
                    _cut_or_empty(c.matched_terms, rows),
                    _cut_or_empty(c.term_scores, rows),
                ),
            )
            for c in self.lists
        ]
        fields = zip(
            _cut(self.doc_ids, rows),
            _cut(self.scores, rows),
            range(rows.start + 1, rows.stop + 1, rows.step),
            zip(*lists, strict=True) if lists else repeat(()),
            _cut_or_repeat(self.titles, rows),
            _cut_or_repeat(self.texts, rows),
            _cut_or_repeat(self.metadata, rows),
            repeat(None),
        )
        return list(map(tuple.__new__, repeat(Hit), fields))


def _cut(values: Sequence[Any], rows: range) -> Sequence[Any]:
    """``values`` at ``rows`` (a slice when ``rows`` is one, else picked one by one)."""
    if rows.step > 0 or rows.stop >= 0:
        return values[rows.start : rows.stop : rows.step]
    return [values[r] for r in rows]  # a reversed range running down to row 0


def _cut_or_none(values: Sequence[Any] | None, rows: range) -> Sequence[Any] | None:
    return None if values is None else _cut(values, rows)


def _cut_or_empty(values: Sequence[Any] | None, rows: range) -> Iterable[Any]:
    return repeat(()) if values is None else _cut(values, rows)


def _cut_or_repeat(values: Sequence[Any] | None, rows: range) -> Iterable[Any]:
    return repeat(None) if values is None else _cut(values, rows)


class _Table:
    """The hits behind one or more :class:`Hits` views: records given whole, or built
    from columns on demand (each the first time it is read, then kept)."""

    __slots__ = ("columns", "records")

    def __init__(self, columns: HitColumns | None, records: list[Hit | None]) -> None:
        self.columns = columns
        self.records = records

    @classmethod
    def lazy(cls, columns: HitColumns) -> _Table:
        """A table whose records are all still to build."""
        return cls(columns, [None] * len(columns.doc_ids))

    def hit(self, row: int) -> Hit:
        """The record of ``row``."""
        hit = self.records[row]
        if hit is None:
            hit = self.hits(range(row, row + 1))[0]
        return hit

    def hits(self, rows: range) -> list[Hit]:
        """The records of ``rows``; those not built yet are built in one columnar pass
        (two threads reading at once may both build a record: the copies are equal)."""
        records = self.records
        picked = list(_cut(records, rows))
        if None in picked:
            assert self.columns is not None  # only a lazy table leaves records missing
            for i, (row, hit) in enumerate(zip(rows, self.columns.build(rows), strict=True)):
                if picked[i] is None:
                    records[row] = picked[i] = hit
        return picked  # every record is built now


class Hits(Sequence[Hit]):
    """An immutable sequence of :class:`Hit` records, best first: a search's hits.

    A search keeps its hits as columns (doc ids, scores and each list's raw score,
    normalized score and rank) and builds a hit's record only when it is read (indexed or
    iterated), then keeps it; a deep result whose hits are only counted, cut or partly read
    never builds the rest. It compares equal to any ``Hits``, tuple or list holding equal
    hits in the same order; slices are ``Hits`` (cheap views), its repr is its tuple's, and
    it pickles as its records.

    Example:
        >>> hits = Hits([Hit("a", 2.0, 1), Hit("b", 1.0, 2)])
        >>> hits[1].doc_id, len(hits), hits[:1] == (Hit("a", 2.0, 1),)
        ('b', 2, True)
    """

    __slots__ = ("_rows", "_table")

    def __init__(self, hits: Iterable[Hit] = ()) -> None:
        records: list[Hit | None] = list(hits)
        self._table = _Table(None, records)
        self._rows = range(len(records))

    @classmethod
    def of(cls, hits: Sequence[Hit]) -> Hits:
        """``hits`` as a :class:`Hits` sequence: themselves when they already are one."""
        return hits if isinstance(hits, Hits) else cls(hits)

    @classmethod
    def from_columns(cls, columns: HitColumns) -> Hits:
        """Hits built on demand from ``columns`` (row ``r`` ranked ``r + 1``)."""
        return cls._view(_Table.lazy(columns), range(len(columns.doc_ids)))

    @classmethod
    def _view(cls, table: _Table, rows: range) -> Hits:
        out = cls.__new__(cls)
        out._table, out._rows = table, rows
        return out

    def columns(self) -> HitColumns | None:
        """These hits as columns (cut to this view), or ``None`` when they were given as
        records."""
        columns = self._table.columns
        if columns is None:
            return None
        if self._rows == range(len(columns.doc_ids)):
            return columns
        return columns.cut(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> Hits: ...

    def __getitem__(self, index: int | slice) -> Hit | Hits:
        if isinstance(index, slice):
            return Hits._view(self._table, self._rows[index])
        return self._table.hit(self._rows[index])

    def __iter__(self) -> Iterator[Hit]:
        return iter(self._table.hits(self._rows))

    def __reversed__(self) -> Iterator[Hit]:
        return iter(self._table.hits(self._rows)[::-1])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Hits):
            if other._table is self._table and other._rows == self._rows:
                return True
            return len(other) == len(self) and list(other) == list(self)
        if isinstance(other, (tuple, list)):
            return len(other) == len(self) and list(other) == list(self)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[type[Hits], tuple[tuple[Hit, ...]]]:
        return Hits, (tuple(self),)


@dataclass(frozen=True)
class SearchResult:
    """Hits of one query, best first (score desc, doc_id asc).

    ``hits`` is a :class:`Hits` sequence (any sequence of hits given is wrapped in one).
    ``timings`` holds the milliseconds each stage took (``retrieve``, ``fuse``, ``rerank``).
    ``missing_shards`` lists the shards of a sharded collection that did not answer when the
    request allowed partial results (the hits then come from the other shards only).
    """

    query: str
    hits: Hits
    timings: Mapping[str, float] = field(default_factory=dict)
    missing_shards: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hits", Hits.of(self.hits))

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
