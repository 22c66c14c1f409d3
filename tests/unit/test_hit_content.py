"""Hits carry their content (fields, snippets) and group into documents (MaxP).

A hand-built collection of passages of three parents (ids ``a#0`` …, parent and position in
the metadata) and one document without a parent; expected rankings are derived from the
ungrouped passage ranking, snippets are written out by hand.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hybridir import Collection, Document, Searcher
from hybridir.cli import main
from hybridir.content import FIELDS, FieldName, check_fields
from hybridir.docstore import DocStore
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.grouping import GROUP_BY, GroupBy, group_depths, max_passage, parents_of
from hybridir.text.analyzer import Analyzer
from hybridir.text.snippets import MARK, Snippets, WordTerms, best_window, highlighted
from hybridir.types import MISSING, PARENT, PASSAGE, Hit, SearchResult

PASSAGES = {
    "a": ["solar panels on the roof", "wind and water", "solar solar heat storage"],
    "b": ["dams and hydro power", "solar farms in hot deserts and solar towers"],
    "c": ["nuclear fission", "coal plants", "gas turbines with some solar"],
}


def _passages(texts: dict[str, list[str]]) -> list[Document]:
    return [
        Document(f"{p}#{i}", text, f"Report {p.upper()}", {PARENT: p, PASSAGE: i, "n": i})
        for p, parts in texts.items()
        for i, text in enumerate(parts)
    ]


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    col = Collection.create(tmp_path / "col")
    lone = Document("lone", "one lone solar page", "Lone", {"kind": "note"})
    col.add([*_passages(PASSAGES), lone])
    yield col
    col.close()


class Counting:
    """A source whose backends count the calls the query path makes (by method name)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.calls: dict[str, int] = {}

    def snapshot(self) -> Any:
        return _CountingBackend(self.collection.snapshot(), self.calls)


class _CountingBackend:
    def __init__(self, inner: Any, calls: dict[str, int]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in ("documents", "metadata", "retrieve"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self._calls[name] = self._calls.get(name, 0) + 1
                return value(*args, **kwargs)

            return counted
        return value

    def __len__(self) -> int:
        return len(self._inner)


def _parents(collection: Collection) -> dict[str, str]:
    return {d.doc_id: d.metadata.get(PARENT, d.doc_id) for d in collection.snapshot()}


# -- group_by="document" ------------------------------------------------------------------


def test_documents_rank_by_their_best_passage(collection: Collection) -> None:
    searcher = Searcher(collection)
    passages = searcher.search("solar heat", 100).hits
    parents = _parents(collection)
    best: dict[str, Hit] = {}
    for hit in passages:  # sorted by (score desc, id asc): the first of a parent is its best
        best.setdefault(parents[hit.doc_id], hit)
    expected = sorted(best.items(), key=lambda item: (-item[1].score, item[0]))

    grouped = searcher.search("solar heat", 10, group_by="document").hits
    assert [h.doc_id for h in grouped] == [p for p, _ in expected]
    assert [h.doc_id for h in grouped] == ["a", "b", "lone", "c"]
    for rank, (hit, (_, passage)) in enumerate(zip(grouped, expected, strict=True), 1):
        assert hit.rank == rank
        assert hit.score == passage.score  # MaxP: the best passage's score, exactly
        assert hit.passage_id == passage.doc_id
        assert hit.contributions == passage.contributions  # its explanation kept
        assert hit.text == passage.text  # its content: the best passage's
        assert hit.metadata == passage.metadata
    assert grouped[0].passage_id == "a#2"
    assert grouped[2].passage_id == "lone"  # no parent field: its own document
    assert grouped[0].contributions[0].matched_terms == ("solar", "heat")


def test_k_counts_documents_and_a_grouped_search_goes_deeper(tmp_path: Path) -> None:
    """Parent ``a`` holds the 12 best passages, so 2 documents need more than the first
    round's 4 x 2 = 8 passages: the search ranks 32 passages and finds ``b``."""
    texts = {"a": ["solar solar solar"] * 12, "b": ["solar panels and some wind"]}
    col = Collection.create(tmp_path / "deep")
    col.add(_passages(texts))
    counting = Counting(col)
    searcher = Searcher(counting)
    top = searcher.search("solar", 12, fields=()).hits
    assert {h.doc_id.split("#")[0] for h in top} == {"a"}

    counting.calls.clear()
    hits = searcher.search("solar", 2, group_by="document", fields=()).hits
    assert [(h.doc_id, h.passage_id) for h in hits] == [("a", "a#0"), ("b", "b#0")]
    assert counting.calls == {"retrieve": 2, "metadata": 2}  # two rounds, one batch each
    b_passage = searcher.search("solar", 13, fields=()).hits[-1]
    assert hits[1].score == b_passage.score

    # More documents asked for than exist: every parent, once the lists are exhausted.
    counting.calls.clear()
    every = searcher.search("solar", 5, group_by="document", fields=()).hits
    assert [h.doc_id for h in every] == ["a", "b"]
    assert counting.calls["retrieve"] == 1  # 20 passages asked, 13 exist: no second round
    col.close()


def test_max_passage_breaks_ties_by_parent_id() -> None:
    hits = [Hit("z#0", 2.0, 1), Hit("y#1", 1.0, 2), Hit("y#0", 1.0, 3), Hit("x#0", 1.0, 4)]
    parents = {"z#0": "z", "y#0": "y", "y#1": "y", "x#0": "x"}
    grouped = max_passage(hits, parents)
    assert [(h.doc_id, h.passage_id, h.rank) for h in grouped] == [
        ("z", "z#0", 1),
        ("x", "x#0", 2),
        ("y", "y#1", 3),  # the first of equal passages in the ranking
    ]


def test_group_depths_and_parents() -> None:
    assert list(group_depths(10, 10))[:3] == [40, 160, 640]
    assert list(group_depths(10, 10))[-1] == 10_000
    assert list(group_depths(3000, 3000)) == [10_000]
    assert list(group_depths(10, 20_000)) == [20_000]  # a deeper reranker still counts
    ids = ["a#0", "x", "y", "z#1", "w", "v"]
    assert parents_of(ids, ["a", MISSING, "", 7, ["l"], True]) == ["a", "x", "y", "7", "w", "v"]
    # a shard's metadata answer crosses processes: MISSING must stay the one MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert parents_of(["x"], pickle.loads(pickle.dumps([MISSING]))) == ["x"]
    assert set(GROUP_BY) == set(GroupBy.__args__)  # type: ignore[attr-defined]


# -- content fields -----------------------------------------------------------------------


def test_default_fields_bare_hits_and_json(collection: Collection) -> None:
    searcher = Searcher(collection)
    hit = searcher.search("lone solar", 1).hits[0]
    assert (hit.doc_id, hit.title, hit.text) == ("lone", "Lone", "one lone solar page")
    assert hit.metadata == {"kind": "note"}
    assert hit.passage_id is None

    bare = searcher.search("lone solar", 1, fields=())
    assert bare.hits[0][:4] == hit[:4]
    assert (bare.hits[0].title, bare.hits[0].text, bare.hits[0].metadata) == (None, None, None)
    assert set(bare.to_dict()["hits"][0]) == {"doc_id", "score", "rank", "lists"}

    data = json.loads(json.dumps(searcher.search("lone solar", 1).to_dict()))
    assert data["hits"][0]["title"] == "Lone"
    assert data["hits"][0]["text"] == "one lone solar page"
    assert data["hits"][0]["metadata"] == {"kind": "note"}
    grouped = searcher.search("solar heat", 1, group_by="document", fields=["title"]).to_dict()
    assert grouped["hits"][0] | {"lists": []} == {
        "doc_id": "a",
        "score": grouped["hits"][0]["score"],
        "rank": 1,
        "lists": [],
        "title": "Report A",
        "passage_id": "a#2",
    }


def test_content_is_one_document_store_batch_per_query(
    collection: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_calls = {"get_many": 0, "get": 0}
    get_many, get = DocStore.get_many, DocStore.get

    def counted_many(self: DocStore, *args: Any) -> Any:
        store_calls["get_many"] += 1
        return get_many(self, *args)

    def counted_get(self: DocStore, *args: Any) -> Any:
        store_calls["get"] += 1
        return get(self, *args)

    monkeypatch.setattr(DocStore, "get_many", counted_many)
    monkeypatch.setattr(DocStore, "get", counted_get)
    counting = Counting(collection)
    searcher = Searcher(counting)
    for fields in (("title", "text", "metadata"), ("snippet",), ("title", "snippet")):
        for group_by in GROUP_BY:
            counting.calls.clear()
            store_calls.update(get_many=0, get=0)
            result = searcher.search("solar", 10, fields=fields, group_by=group_by)
            assert len(result.hits) > 3
            assert counting.calls["documents"] == 1
            assert store_calls == {"get_many": 1, "get": 0}
            assert "content" in result.timings
    counting.calls.clear()
    searcher.search("solar", 10, fields=())
    assert "documents" not in counting.calls
    run = searcher.run({"q1": "solar"}, 10)  # evaluation stays content-free
    assert set(run["q1"]) >= {"a#2", "lone"}
    assert "documents" not in counting.calls


def test_fields_are_checked() -> None:
    assert check_fields(["title", "snippet", "title"]) == ("title", "snippet")
    assert set(FIELDS) == set(FieldName.__args__)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['body'\]; valid: \["):
        check_fields(["body"])
    with pytest.raises(ConfigError, match="'text' and 'snippet' both fill"):
        check_fields(["text", "snippet"])
    with pytest.raises(InvalidInputError, match="not the string 'title'"):
        check_fields("title")


def test_search_refuses_bad_fields_and_group_by(collection: Collection) -> None:
    searcher = Searcher(collection)
    with pytest.raises(ConfigError, match="unknown group_by 'parent'"):
        searcher.search("solar", group_by="parent")
    with pytest.raises(ConfigError, match="unknown field"):
        searcher.search("solar", fields=["summary"])


# -- snippets -----------------------------------------------------------------------------


def test_snippet_highlights_the_stemmed_query_terms_and_escapes_html(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "html")
    col.add([Document("h", "Solar panels convert <sunlight> & heat; (Panel's) angle")])
    hit = Searcher(col).search("panel converting", 1, fields=["snippet"]).hits[0]
    assert hit.text == (
        "Solar <mark>panels</mark> <mark>convert</mark> &lt;sunlight&gt; &amp; heat; "
        "(<mark>Panel&#x27;s</mark>) angle"
    )
    assert highlighted(hit.text)[:4] == [
        ("Solar ", False),
        ("panels", True),
        (" ", False),
        ("convert", True),
    ]
    col.close()


def test_snippet_window_centres_the_densest_cluster() -> None:
    words = [f"w{i}" for i in range(100)]
    words[10] = "solar"  # alone
    words[60], words[63] = "solar", "storage"  # both terms: the densest cluster
    snippets = Snippets(Analyzer(), "solar storage", words=6)
    assert snippets.snippet(" ".join(words)) == (
        "… w59 <mark>solar</mark> w61 w62 <mark>storage</mark> w64 …"  # slack 2: 1 each side
    )
    assert snippets.snippet("nothing matches here at all, no; not one word") == (
        "nothing matches here at all, no; …"
    )
    assert Snippets(Analyzer(), "x", words=40).snippet("short text") == "short text"


def test_best_window_by_hand() -> None:
    one, two = frozenset({"a"}), frozenset({"b"})
    # windows of 5 from each match: [2] -> 1 term; [8, 9, 11] -> 2 terms, 3 matches
    assert best_window([(2, one), (8, one), (9, two), (11, one)], 20, 5) == (7, 12)
    assert best_window([(0, one)], 3, 10) == (0, 3)  # shorter text than the window
    assert best_window([(19, one)], 20, 5) == (15, 20)  # at the end
    assert best_window([], 20, 5) == (0, 5)
    with pytest.raises(ConfigError, match="at least one word"):
        best_window([], 20, 0)


def test_word_memo_is_kept_per_analyzer_and_bounded() -> None:
    analyzer = Analyzer()
    memo = WordTerms(analyzer, limit=3)
    assert memo.learn({"panels", "convert"}) == {"panels", "convert"}
    assert memo.learn({"panels"}) == set()
    assert memo.words_with(["panel"]) == {"panels"}
    memo.learn({"a1", "b2"})  # over the limit: starts afresh
    assert memo.words_with(["panel"]) == set()
    assert Snippets(analyzer, "panel", vocabulary=memo).snippet("panels") == (
        f"{MARK[0]}panels{MARK[1]}"
    )
    with pytest.raises(ConfigError, match="another analyzer"):
        Snippets(Analyzer(), "panel", vocabulary=memo)


# -- the CLI ------------------------------------------------------------------------------


def test_cli_fields_group_by_json_and_table(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(collection.directory)
    argv = ["search", folder, "solar heat", "--fields", "title,snippet", "--group-by", "document"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    first = data["hits"][0]
    assert (first["doc_id"], first["passage_id"], first["title"]) == ("a", "a#2", "Report A")
    assert first["text"] == "<mark>solar</mark> <mark>solar</mark> <mark>heat</mark> storage"
    assert "metadata" not in first
    assert main(["search", folder, "solar", "--fields", "", "--json"]) == 0
    bare = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["hits"][0]
    assert set(bare) == {"doc_id", "score", "rank", "lists"}
    assert main(["search", folder, "lone solar", "-k", "1"]) == 0  # table: title + snippet
    table = capsys.readouterr().out
    assert "Lone" in table
    assert "one lone solar" in table  # the snippet (wrapped in the cell)
    assert "page" in table
    assert "<mark>" not in table
    assert main([*argv[:3], "--group-by", "chapter"]) == 1
    assert "unknown group_by 'chapter'" in capsys.readouterr().err


def test_search_result_json_keys(collection: Collection) -> None:
    result: SearchResult = Searcher(collection).search("solar", 2, fields=["metadata"])
    hit = result.to_dict()["hits"][0]
    assert set(hit) == {"doc_id", "score", "rank", "lists", "metadata"}
    grouped = Searcher(collection).search("solar", 2, fields=(), group_by="document")
    assert set(grouped.to_dict()["hits"][0]) == {"doc_id", "score", "rank", "lists", "passage_id"}
