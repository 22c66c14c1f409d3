"""A folder of files into a collection: add_source, chunked passages, sync, update."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from hybridir import Collection, Searcher
from hybridir.config import ChunkConfig, CollectionConfig, DenseConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.types import PARENT, PASSAGE, Document

WORDS = ChunkConfig(size=12, overlap=0, tokenizer="words")


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "a.txt").write_text("apples grow on trees in the orchard.\n", encoding="utf-8")
    (root / "notes").mkdir()
    long = " ".join(f"Sentence {i} talks about pears and plums." for i in range(6))
    (root / "notes" / "b.md").write_text(f"# Fruit notes\n\n{long}\n", encoding="utf-8")
    return root


def _stored(col: Collection) -> dict[str, Document]:
    return {d.doc_id: d for d in col.snapshot()}


def test_a_folder_goes_in_as_passages_with_their_parent(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    col = Collection.create(tmp_path / "c", CollectionConfig(chunking=WORDS))
    report = col.add_source(folder)
    assert report.documents == 2
    stored = _stored(col)
    assert report.passages == report.written == len(stored)
    parents = {d.metadata[PARENT] for d in stored.values()}
    assert parents == {"a.txt", "notes/b.md"}
    b = sorted(
        (d for d in stored.values() if d.metadata[PARENT] == "notes/b.md"),
        key=lambda d: d.metadata[PASSAGE],
    )
    assert len(b) > 1  # 42 words of text in passages of at most 12 words
    assert [d.doc_id for d in b] == [f"notes/b.md#{i}" for i in range(len(b))]
    assert all(d.title == "Fruit notes" for d in b)
    hits = Searcher(col, "bm25").search("plums", k=20).hits
    assert {h.doc_id for h in hits} == {d.doc_id for d in b}


def test_adding_again_is_refused_and_upsert_replaces_every_old_passage(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    col = Collection.create(tmp_path / "c", CollectionConfig(chunking=WORDS))
    col.add_source(folder)
    before = _stored(col)
    with pytest.raises(InvalidInputError, match="already in the collection"):
        col.add_source(folder)
    assert _stored(col).keys() == before.keys()  # nothing written
    (folder / "notes" / "b.md").write_text("# Fruit notes\n\nOnly plums now.\n", encoding="utf-8")
    report = col.add_source(folder, upsert=True)
    after = _stored(col)
    old_b = [i for i in before if i.startswith("notes/b.md#")]
    assert len(old_b) > 1
    assert sorted(after) == sorted([i for i in before if i.startswith("a.txt#")] + ["notes/b.md#0"])
    assert report.deleted == len(old_b) - 1  # b.md#0 is replaced, not deleted
    assert "Only plums now." in after["notes/b.md#0"].text


def test_sync_mirrors_the_folder_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    col = Collection.create(tmp_path / "c", CollectionConfig(chunking=WORDS))
    col.max_segments, col.merge_dead_share = 100, 1.0  # no merge commits: count generations
    first = col.sync(folder)
    assert first.documents == 2
    assert first.written == len(col)
    generation = col.generation
    again = col.sync(folder)
    assert again.written == again.deleted == 0
    assert again.unchanged == 2
    assert col.generation == generation  # nothing written at all
    # change one file, add one, remove one: one transaction
    (folder / "a.txt").write_text("apples and quinces.\n", encoding="utf-8")
    os.remove(folder / "notes" / "b.md")
    (folder / "c.txt").write_text("cherries ripen in June.\n", encoding="utf-8")
    report = col.sync(folder)
    assert col.generation == generation + 1
    stored = _stored(col)
    assert {d.metadata[PARENT] for d in stored.values()} == {"a.txt", "c.txt"}
    assert "quinces" in " ".join(d.text for d in stored.values())
    assert report.unchanged == 0
    assert col.check() == []


def test_sync_keeps_a_stored_file_that_cannot_be_read_now(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    col = Collection.create(tmp_path / "c", CollectionConfig(chunking=WORDS))
    col.sync(folder)
    (folder / "a.txt").write_bytes(b"")  # emptied: skipped and named, not deleted
    report = col.sync(folder)
    assert [w for w, _ in report.skipped] == ["a.txt"]
    assert "a.txt" in {d.metadata[PARENT] for d in _stored(col).values()}


def test_update_is_one_transaction(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.max_segments, col.merge_dead_share = 100, 1.0  # no merge commits: count generations
    col.add([Document("x", "one"), Document("y", "two")])
    generation = col.generation
    assert col.update([Document("z", "three"), Document("x", "one again")], ["y", "nope"]) == 3
    assert col.generation == generation + 1
    assert {d.doc_id: d.text for d in col.snapshot()} == {"x": "one again", "z": "three"}


def test_a_source_with_nothing_readable_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    col = Collection.create(tmp_path / "c")
    with pytest.raises(InvalidInputError, match=r"empty\.txt"):
        col.add_source(folder)
    assert len(col) == 0


def test_truncated_documents_are_counted_once_per_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MiniLM reads 256 tokens (254 of text): 400 words are truncated, "hi" is not."""
    col = Collection.create(tmp_path / "c", CollectionConfig(dense=DenseConfig()))
    long = " ".join(["word"] * 400)
    with caplog.at_level(logging.WARNING, logger="hybridir.collection.sources"):
        col.add([Document("long1", long), Document("long2", long), Document("short", "hi")])
    warnings = [r for r in caplog.records if "encoded truncated" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("2 document(s)")


def test_create_with_exist_ok_reopens_the_same_collection_and_refuses_another(
    tmp_path: Path,
) -> None:
    config = CollectionConfig(chunking=WORDS)
    col = Collection.create(tmp_path / "c", config, exist_ok=True)
    col.add([Document("x", "kept")])
    col.close()
    again = Collection.create(tmp_path / "c", config, exist_ok=True)  # a cell run twice
    assert [d.doc_id for d in again.snapshot()] == ["x"]
    with pytest.raises(ConfigError, match="chunking"):
        Collection.create(tmp_path / "c", CollectionConfig(), exist_ok=True)
