"""Collections on disk: creation, reopening, appends, format checks and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybridir import (
    BM25Config,
    Collection,
    CollectionConfig,
    ConfigError,
    Document,
    IndexFormatError,
    InvalidInputError,
    NotFoundError,
    Searcher,
)

DOCS = [
    Document("a", "the quick brown fox jumps", title="Fox", metadata={"year": 2020}),
    Document("b", "a lazy dog sleeps all day", title="Dog"),
    Document("c", "quick dogs and quick foxes", title=""),
    Document("d", "", title="Empty text"),
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
    # Old generations' files are removed once a new one is published.
    assert sorted(p.name for p in (tmp_path / "steps").glob("bm25-*")) == ["bm25-000004"]


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
    with pytest.raises(IndexFormatError, match=r"format version 99.*reads version 1"):
        Collection.open(tmp_path / "c")
    manifest.write_text("{not json")
    with pytest.raises(IndexFormatError, match="cannot read"):
        Collection.open(tmp_path / "c")
    with pytest.raises(IndexFormatError, match="not a hybridir collection"):
        Collection.open(tmp_path / "nowhere")


def test_missing_postings_file_is_a_format_error(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    (tmp_path / "c" / "bm25-000001" / "tfs.npy").unlink()
    with pytest.raises(IndexFormatError, match="cannot read postings"):
        _ = Collection.open(tmp_path / "c").bm25


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
    col.docs.stage([DOCS[2]], first_row=2, generation=2)
    reopened = Collection.open(tmp_path / "c")
    assert len(reopened.docs) == 2
    with pytest.raises(NotFoundError):
        reopened.get("c")
    reopened.add([DOCS[2]])
    assert reopened.get("c") == DOCS[2]
