"""Collections on disk: creation, reopening, appends, format checks and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hybridir import (
    BM25Config,
    Collection,
    CollectionConfig,
    ConfigError,
    Document,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    NotFoundError,
    Searcher,
)

DOCS = [
    Document("a", "the quick brown fox jumps", title="Fox", metadata={"year": 2020}),
    Document("b", "a lazy dog sleeps all day", title="Dog"),
    Document("c", "quick dogs and quick foxes", title=""),
    Document("d", "", title="Title only"),
]


def test_create_add_reopen_and_get(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    assert col.add(DOCS) == 4
    reopened = Collection.open(tmp_path / "c")
    assert len(reopened) == 4
    assert reopened.get("a") == DOCS[0]
    assert [d.doc_id for d in reopened] == ["a", "b", "c", "d"]
    with pytest.raises(NotFoundError, match="'zzz'"):
        reopened.get("zzz")
    hits = Searcher(reopened).search("quick fox").hits
    # c: quick×2, fox, 4 terms; a: fox×2 (title + text), quick, 5 terms: the shorter wins.
    assert [h.doc_id for h in hits] == ["c", "a"]
    assert hits[0].contributions[0].matched_terms == ("quick", "fox")


def test_appends_equal_a_build_from_scratch(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    docs = [
        Document(f"d{i:03d}", " ".join(rng.choice(words, size=int(rng.integers(1, 25)))))
        for i in range(90)
    ]
    once = Collection.create(tmp_path / "once")
    once.add(docs)
    steps = Collection.create(tmp_path / "steps")
    for start in (0, 10, 45, 80):
        steps.add(docs[start : {0: 10, 10: 45, 45: 80, 80: 90}[start]])
    steps = Collection.open(tmp_path / "steps")
    assert steps.bm25.stats == once.bm25.stats
    queries = {f"q{i}": " ".join(rng.choice(words, size=3)) for i in range(30)}
    assert Searcher(steps).run(queries, k=20) == Searcher(once).run(queries, k=20)
    # A small write adds a segment and rewrites nothing old.
    assert sorted(p.name for p in (tmp_path / "steps").glob("seg-*")) == [
        "seg-000001",
        "seg-000002",
        "seg-000003",
        "seg-000004",
    ]
    assert steps.check() == []


def test_bad_batches_write_nothing(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS[:2])
    before = (tmp_path / "c" / "manifest.json").read_text()
    with pytest.raises(InvalidInputError, match="duplicate doc_id 'x'"):
        col.add([Document("x", "one"), Document("x", "two")])
    with pytest.raises(InvalidInputError, match=r"already in the collection: \['a'\]"):
        col.add([Document("new", "fine"), Document("a", "clash")])
    with pytest.raises(InvalidInputError, match="empty or non-string doc_id"):
        col.add([Document("", "no id")])
    assert (tmp_path / "c" / "manifest.json").read_text() == before
    assert len(Collection.open(tmp_path / "c")) == 2
    with pytest.raises(NotFoundError):
        col.get("new")


def test_format_version_and_corruption_are_clear_errors(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    manifest = tmp_path / "c" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=r"format version 99.*reads versions 2, 3"):
        Collection.open(tmp_path / "c")
    manifest.write_text("{not json")
    with pytest.raises(IndexFormatError, match="cannot read"):
        Collection.open(tmp_path / "c")
    with pytest.raises(IndexFormatError, match="not a hybridir collection"):
        Collection.open(tmp_path / "nowhere")


def test_missing_postings_file_is_a_format_error(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    (tmp_path / "c" / "seg-000001" / "postings" / "tfs.npy").unlink()
    with pytest.raises(IndexFormatError, match=r"postings/tfs\.npy is missing"):
        Collection.open(tmp_path / "c")


def test_create_refuses_to_clobber(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        Collection.create(tmp_path / "other")
    with pytest.raises(ConfigError, match="not a hybridir collection"):
        Collection.create(tmp_path / "other", overwrite=True)
    assert (tmp_path / "other" / "precious.txt").read_text() == "keep me"
    Collection.create(tmp_path / "c").add(DOCS)
    assert len(Collection.create(tmp_path / "c", overwrite=True)) == 0


def test_config_is_stored_in_the_manifest(tmp_path: Path) -> None:
    config = CollectionConfig(bm25=BM25Config(variant="atire", k1=1.1, b=0.6, title_weight=2))
    Collection.create(tmp_path / "c", config).add(DOCS)
    assert Collection.open(tmp_path / "c").config == config


def test_title_weight_counts_title_terms(tmp_path: Path) -> None:
    config = CollectionConfig(bm25=BM25Config(title_weight=3))
    col = Collection.create(tmp_path / "c", config)
    assert col.index_terms(Document("x", "body words", title="head")) == [
        "head",
        "head",
        "head",
        "bodi",
        "word",
    ]


def test_unpublished_rows_are_invisible_and_discarded(tmp_path: Path) -> None:
    # A writer that died after staging rows but before renaming the manifest.
    col = Collection.create(tmp_path / "c")
    col.add(DOCS[:2])
    col._shared.store.stage([DOCS[2]], ["a"], generation=2)
    reopened = Collection.open(tmp_path / "c")
    assert reopened.get("a") == DOCS[0]  # its removal was never published either
    assert len(reopened.docs) == 2
    with pytest.raises(NotFoundError):
        reopened.get("c")
    reopened.add([DOCS[2]])
    assert reopened.get("c") == DOCS[2]


def test_upsert_and_delete_publish_new_generations(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    assert col.upsert([Document("a", "a new text about cats"), Document("e", "brand new")]) == 2
    assert col.get("a").text == "a new text about cats"
    assert len(col) == 5
    assert col.delete(["b", "e"]) == 2
    assert sorted(d.doc_id for d in col) == ["a", "c", "d"]
    with pytest.raises(NotFoundError, match="nothing deleted"):
        col.delete(["a", "zzz"])
    assert len(col) == 3  # the failed delete removed nothing
    assert col.delete(["zzz"], missing_ok=True) == 0
    hits = Searcher(col).search("cats").hits
    assert [h.doc_id for h in hits] == ["a"]
    assert Searcher(col).search("lazy sleeps").hits == ()  # only b had these words
    col.optimize()
    assert len(col.manifest.segments) == 1
    assert col.manifest.segments[0].n_dead == 0
    assert col.check() == []
    assert Searcher(col).search("cats").hits[0].doc_id == "a"


def _nested(depth: int) -> dict[str, object]:
    """A metadata object ``depth`` levels deep (built without recursion)."""
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (Document("x", "   ", title=""), "'x' has no text"),
        (Document("x", "a" * 1_000_001), "over the limit"),
        (Document("x", "bad \ud800 surrogate"), "not valid Unicode"),
        (Document("x", "fine", metadata={"when": object()}), "metadata.when is a object, not"),
        (Document("\ud800x", "fine"), "the doc_id is not valid Unicode"),
        (Document("x", "fine", metadata={"\udc80": 1}), "a key in metadata is not valid Unicode"),
        (Document("x", "fine", metadata={"k": ["\ud800"]}), r"metadata\.k\[0\] is not valid"),
        (Document("x", "fine", metadata={"score": math.nan}), "score is nan, which JSON"),
        (Document("x", "fine", metadata={"score": -math.inf}), "score is -inf, which JSON"),
        (Document("x", "fine", metadata={"n": 2**60}), "beyond ±2\\^53-1"),
        (Document("x", "fine", metadata={1: "one"}), "non-string key 1"),
        (Document("x", "fine", metadata=_nested(5000)), "nested over 32 levels"),
        (Document("x" * 513, "fine"), "doc_id of 513 characters"),
        (Document("a\nb", "fine"), "holds a control character"),
        (Document("   ", "fine"), "empty or non-string doc_id"),
    ],
)
def test_invalid_documents_name_themselves_and_write_nothing(
    tmp_path: Path, doc: Document, message: str
) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS[:1])
    before = (tmp_path / "c" / "manifest.json").read_text()
    with pytest.raises(InvalidInputError, match=message):
        col.add([Document("ok", "a valid one"), doc])
    with pytest.raises(InvalidInputError, match=message):
        col.upsert([doc])
    assert (tmp_path / "c" / "manifest.json").read_text() == before
    assert len(col) == 1


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    import fcntl

    col = Collection.create(tmp_path / "c")
    with open(tmp_path / "c" / "write.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(HybridirError, match="one writer at a time"):
            col.add(DOCS[:1])
    assert col.add(DOCS[:1]) == 1


def test_check_reports_a_damaged_collection(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    col._shared.store._db.execute("DELETE FROM docs WHERE doc_id = 'a'")
    col._shared.store._db.commit()
    problems = col.check()
    assert any("disagree" in p for p in problems)
