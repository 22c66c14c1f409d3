"""Cached retrieved lists: exact round trip, keys, damaged files, and the caching searcher."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hybridir import Collection, Document
from hybridir.config import FusionConfig
from hybridir.eval.run_cache import CachingSearcher, entry_path, load_lists, save_lists
from hybridir.search import RankedList, Searcher

KEY = {"format": 1, "label": "tiny:test", "k": 3}


def test_lists_round_trip_exactly_in_query_order(tmp_path: Path) -> None:
    scores = [0.1 + 0.2, 1e-320, -0.0, 12345.678901234567, 2.0**-60]
    lists = {
        "bm25": {
            "q2": RankedList(["d1", "d2", "d3", "d4", "d5"], scores),
            "q1": RankedList([], []),
        },
        "dense": {"q2": RankedList(["ż"], [0.5]), "q1": RankedList(["d9"], [-1.0])},
    }
    path = entry_path(tmp_path, KEY)
    assert path.parent == tmp_path
    assert path.name.startswith("tiny-test-")
    save_lists(path, KEY, lists)
    loaded = load_lists(path, KEY, ["q1", "q2"])
    assert loaded == lists
    assert loaded is not None
    assert list(loaded["bm25"]) == ["q1", "q2"]  # the caller's order
    assert [repr(s) for s in loaded["bm25"]["q2"].scores] == [repr(s) for s in scores]


def test_missing_damaged_or_foreign_entries_read_as_absent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = entry_path(tmp_path, KEY)
    assert load_lists(path, KEY, ["q1"]) is None  # absent: no warning
    save_lists(path, KEY, {"bm25": {"q1": RankedList(["d1"], [1.0])}})
    assert load_lists(path, {**KEY, "k": 4}, ["q1"]) is None  # stored under another key
    assert load_lists(path, KEY, ["q1", "q2"]) is None  # a query is missing
    path.write_bytes(path.read_bytes()[:20])  # truncated
    assert load_lists(path, KEY, ["q1"]) is None
    path.write_bytes(b"not gzip at all")
    with caplog.at_level(logging.WARNING, logger="hybridir.eval.run_cache"):
        assert load_lists(path, KEY, ["q1"]) is None
    assert "recomputing" in caplog.text


def test_caching_searcher_reuses_until_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    col = Collection.create(tmp_path / "col")
    col.add([Document("a", "quick brown fox"), Document("b", "lazy dog"), Document("c", "fox")])
    calls: list[int] = []
    real = Searcher.retrieve_lists

    def counting(self: Searcher, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Searcher, "retrieve_lists", counting)
    messages: list[str] = []
    searcher = CachingSearcher(
        col, tmp_path / "runs", "tiny:test", {"hybridir": "x"}, messages.append
    )
    queries = {"q1": "fox", "q2": "dog"}
    fusion = FusionConfig(depths={"bm25": 10})
    first = searcher.retrieve_lists(queries, 10, "bm25", fusion)
    again = searcher.retrieve_lists(dict(reversed(queries.items())), 10, "bm25", fusion)
    assert again == first
    assert len(calls) == 1
    assert messages == [
        "tiny:test: retrieving 2 queries",
        "tiny:test: reused cached runs (bm25) for 2 queries",
    ]
    searcher.retrieve_lists(queries, 5, "bm25", fusion)  # another depth
    searcher.retrieve_lists({"q1": "foxes"}, 10, "bm25", fusion)  # another query text
    CachingSearcher(col, tmp_path / "runs", "tiny:test", {"hybridir": "y"}).retrieve_lists(
        queries, 10, "bm25", fusion
    )  # another version
    assert len(calls) == 4
    col.add([Document("d", "fox fox fox")])  # a new generation
    searcher.retrieve_lists(queries, 10, "bm25", fusion)
    assert len(calls) == 5
    col.close()
