"""A search's hits as a lazily built sequence (:class:`hybridir.types.Hits`).

The query path keeps hits as columns and builds a :class:`Hit` record only when it is read.
The expected hits here are built the eager way, record by record as the query path built
them before (:func:`_eager_hits`), from the same retrieved lists and fusion; explanations and
content are checked against the record-by-record paths of ``with_matched_terms`` and
``with_content`` (which still serve hits given as records).
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig, FusionConfig
from hybridir.content import check_fields, with_content
from hybridir.fusion import Fused
from hybridir.hits import with_matched_terms
from hybridir.types import (
    Hit,
    HitColumns,
    Hits,
    ListColumn,
    ListContribution,
    RankedList,
    SearchResult,
)

DOCS = [
    Document("sun", "Solar panels turn sunlight into power on the roof.", "Solar", {"n": 1}),
    Document("wind", "Wind turbines and solar farms share the grid.", "Wind", {"n": 2}),
    Document("hydro", "Dams store water; hydro power follows demand.", "Hydro", {"n": 3}),
    Document("heat", "Solar heat storage keeps warm water overnight.", "Heat", {"n": 4}),
    Document("coal", "Coal plants burn fuel for steam and power.", "Coal", {"n": 5}),
    Document("tie", "Solar power.", "", {"n": 6}),
    Document("tie2", "Solar power.", "", {"n": 7}),
]
QUERIES = ["solar power", "water", "power grid storage", "no such words here"]


def _eager_hits(lists: Mapping[str, RankedList], mode: str, fused: Fused | None) -> list[Hit]:
    """The hits as the query path built them record by record (the reference)."""
    if fused is None:
        ranked = lists[mode]
        return [
            Hit(d, s, r, (ListContribution(mode, s, s, r),))
            for r, (d, s) in enumerate(zip(ranked.doc_ids, ranked.scores, strict=True), 1)
        ]
    raw = {n: dict(zip(r.doc_ids, r.scores, strict=True)) for n, r in lists.items()}
    hits = []
    for j, (doc_id, score) in enumerate(zip(fused.doc_ids, fused.scores, strict=True)):
        parts = []
        for i, name in enumerate(lists):
            norm = float(fused.normalized[i, j])
            parts.append(
                ListContribution(
                    name,
                    raw[name].get(doc_id),
                    None if math.isnan(norm) else norm,
                    int(fused.ranks[i, j]) or None,
                )
            )
        hits.append(Hit(doc_id, float(score), j + 1, tuple(parts)))
    return hits


def _expected(searcher: Searcher, query: str, k: int, mode: str, fusion: FusionConfig) -> list[Hit]:
    """The eager hits of ``query`` (``mode`` a retriever or ``"hybrid"``), cut to ``k``."""
    found = searcher.retrieve_lists({"q": query}, k, mode, fusion)
    lists = {name: per_query["q"] for name, per_query in found.items()}
    fused = searcher.fuse_lists(query, lists, fusion, k) if mode == "hybrid" else None
    return _eager_hits(lists, mode, fused)[:k]


def _same_types(hits: Hits) -> None:
    """Scores are Python floats and ranks Python ints, as the eager records had them."""
    for hit in hits:
        assert type(hit) is Hit
        assert type(hit.score) is float
        assert type(hit.rank) is int
        for part in hit.contributions:
            assert type(part) is ListContribution
            assert part.raw_score is None or type(part.raw_score) is float
            assert part.normalized_score is None or type(part.normalized_score) is float
            assert part.rank is None or type(part.rank) is int


@pytest.fixture(scope="module")
def bm25(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    col = Collection.create(tmp_path_factory.mktemp("lazy") / "c")
    col.add(DOCS)
    yield col
    col.close()


def _search_matches_the_eager_hits(searcher: Searcher, mode: str, fusion: FusionConfig) -> None:
    """Bare, explained and content-carrying hits equal their record-by-record versions."""
    backend = searcher.collection.snapshot()
    for query in QUERIES:
        for k in (1, 3, 100):
            options = {"retriever": mode, "fusion": fusion}
            bare = searcher.search(query, k, explain=False, fields=(), **options)
            expected = _expected(searcher, query, k, mode, fusion)
            assert isinstance(bare.hits, Hits)
            assert bare.hits == expected
            _same_types(bare.hits)
            explained = searcher.search(query, k, fields=(), **options)
            assert explained.hits == with_matched_terms(backend, query, expected)
            for fields in (("title", "text", "metadata"), ("snippet",), ("metadata",)):
                full = searcher.search(query, k, fields=fields, **options)
                eager = with_content(
                    backend,
                    query,
                    with_matched_terms(backend, query, expected),
                    check_fields(fields),
                )
                assert full.hits == eager
                as_records = SearchResult(query, tuple(eager), full.timings)
                assert full.to_dict() == as_records.to_dict()
                assert json.loads(json.dumps(full.to_dict())) == full.to_dict()


def test_bm25_hits_equal_the_eager_records(bm25: Collection) -> None:
    searcher = Searcher(bm25)
    _search_matches_the_eager_hits(searcher, "bm25", searcher.fusion)
    ties = searcher.search("solar power", 100, explain=False, fields=()).hits
    assert [h.doc_id for h in ties if h.doc_id.startswith("tie")] == ["tie", "tie2"]
    assert [h.rank for h in ties] == list(range(1, len(ties) + 1))


def test_hybrid_hits_equal_the_eager_records(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("sentence_transformers")
    col = Collection.create(tmp_path / "h", CollectionConfig(dense=DenseConfig()))
    col.add(DOCS)
    searcher = Searcher(col)
    for fusion in (
        searcher.fusion,
        FusionConfig(method="rrf"),
        FusionConfig(method="convex", alpha=0.3, depths={"bm25": 2}),
    ):
        _search_matches_the_eager_hits(searcher, "hybrid", fusion)
    for mode in ("bm25", "dense"):
        _search_matches_the_eager_hits(searcher, mode, searcher.fusion)
    col.close()


def _hits(n: int) -> Hits:
    """``n`` hits as columns: ids ``d0`` …, scores ``n - row``, one list absent on odd rows."""
    columns = HitColumns(
        [f"d{r}" for r in range(n)],
        [float(n - r) for r in range(n)],
        (
            ListColumn("bm25", [float(n - r) for r in range(n)], [0.5] * n, range(1, n + 1)),
            ListColumn(
                "dense",
                [None if r % 2 else 0.1 * r for r in range(n)],
                [None if r % 2 else 0.2 for r in range(n)],
                [None if r % 2 else r // 2 + 1 for r in range(n)],
                matched_terms=[("t",)] * n,
            ),
        ),
        titles=[f"T{r}" for r in range(n)],
    )
    return Hits.from_columns(columns)


def _records(n: int) -> list[Hit]:
    """The records of :func:`_hits`, written out."""
    return [
        Hit(
            f"d{r}",
            float(n - r),
            r + 1,
            (
                ListContribution("bm25", float(n - r), 0.5, r + 1),
                ListContribution(
                    "dense",
                    None if r % 2 else 0.1 * r,
                    None if r % 2 else 0.2,
                    None if r % 2 else r // 2 + 1,
                    ("t",),
                ),
            ),
            title=f"T{r}",
        )
        for r in range(n)
    ]


def test_hits_read_as_their_records_in_order() -> None:
    hits, records = _hits(7), _records(7)
    assert len(hits) == 7
    assert bool(hits)
    assert not Hits()
    assert hits[0] == records[0]
    assert hits[-1] == records[-1]
    assert hits[3] == records[3]
    assert list(hits) == records
    assert list(reversed(hits)) == records[::-1]
    with pytest.raises(IndexError):
        hits[7]
    with pytest.raises(IndexError):
        hits[-8]
    assert records[4] in hits
    assert Hit("x", 1.0, 1) not in hits
    assert hits.index(records[2]) == 2
    assert hits.count(records[2]) == 1


@pytest.mark.parametrize(
    "cut",
    [
        *(slice(None, 3), slice(2, 5), slice(5, 2), slice(None, None, 2), slice(None, None, -1)),
        *(slice(6, 1, -2), slice(-3, None), slice(None, 100), slice(100, None)),
    ],
)
def test_slices_are_views_with_the_original_ranks(cut: slice) -> None:
    hits, records = _hits(7), _records(7)
    part = hits[cut]
    assert isinstance(part, Hits)
    assert part == records[cut]
    assert list(part) == records[cut]
    assert len(part) == len(records[cut])
    assert part[1:] == records[cut][1:]
    again = part.columns()
    assert again is not None
    assert Hits.from_columns(again) == [h._replace(rank=i) for i, h in enumerate(records[cut], 1)]


def test_a_record_is_built_once_and_shared_by_slices() -> None:
    hits = _hits(5)
    second = hits[1]
    assert hits[1] is second
    assert hits[1:3][0] is second
    assert list(hits)[1] is second
    tail = hits[3:]
    built = list(tail)
    assert hits[3] is built[0]
    assert hits[-1] is built[1]


def test_equality_with_tuples_lists_and_records() -> None:
    hits, records = _hits(4), _records(4)
    for other in (tuple(records), records, Hits(records), _hits(4)):
        assert hits == other
        assert other == hits
        assert (hits != other) is False
    assert hits != records[:3]
    assert hits != (*records[:3], records[0])
    assert hits != "d0"
    assert hits != {0: records[0]}
    empty: tuple[Hit, ...] = ()
    assert Hits() == empty
    assert empty == Hits()
    assert Hits() == []
    assert hash(Hits(records[:2])) == hash(tuple(records[:2]))
    assert repr(hits) == repr(tuple(records))
    assert Hits(records)[1:3] == records[1:3]
    assert Hits(iter(records)) == records


def test_hits_pickle_as_their_records() -> None:
    hits, records = _hits(6), _records(6)
    for value in (hits, hits[1:4], Hits(records)):
        back = pickle.loads(pickle.dumps(value))
        assert isinstance(back, Hits)
        assert back == value
        assert back.columns() is None
    result = SearchResult("q", hits[:2], {"retrieve": 0.1})
    back = pickle.loads(pickle.dumps(result))
    assert back == result
    assert back.to_dict() == result.to_dict()


def test_a_search_result_keeps_its_hits_as_hits() -> None:
    records = _records(3)
    given = SearchResult("q", tuple(records))  # type: ignore[arg-type]
    assert isinstance(given.hits, Hits)
    assert given.hits == records
    lazy = _hits(3)
    assert SearchResult("q", lazy).hits is lazy
    assert SearchResult("q", lazy).to_dict() == given.to_dict()
    assert given.to_dict()["hits"][1]["lists"][1] == {
        "retriever": "dense",
        "raw_score": None,
        "normalized_score": None,
        "rank": None,
        "matched_terms": ["t"],
        "term_scores": [],
    }


def test_deep_search_read_partly_matches_the_whole(bm25: Collection) -> None:
    searcher = Searcher(bm25)
    deep = searcher.search("solar power", 100, explain=False, fields=()).hits
    whole = list(searcher.search("solar power", 100, explain=False, fields=()).hits)
    assert deep[2] == whole[2]
    assert deep[-1] == whole[-1]
    assert deep[1:] == whole[1:]
    assert list(deep) == whole
