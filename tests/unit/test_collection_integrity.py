"""A collection touches nothing outside itself, finds damage without a traceback, and
reclaims what killed writers leave behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridir import Collection, Document, IndexFormatError, NotFoundError
from hybridir.cli import main

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _collection(path: Path, batches: int = 3) -> Collection:
    col = Collection.create(path)
    for b in range(batches):
        col.add([Document(f"b{b}-{i}", f"words of batch {b} number {i}") for i in range(5)])
    return col


def _tamper(path: Path, change: dict[str, object]) -> None:
    manifest = path / "manifest.json"
    data = json.loads(manifest.read_text())
    data["segments"][0].update(change)
    manifest.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "../victim/seg-000001"},
        {"name": "seg-000001/../../victim"},
        {"dead": "../victim/seg-000001-000009.npy", "n_dead": 1},
        {"files": {"seg-000001/../../victim/keep.txt": [9, 0]}},
        {"files": {"/etc/passwd": [9, 0]}},
    ],
)
def test_a_tampered_manifest_is_refused_and_nothing_outside_is_touched(
    tmp_path: Path, change: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim" / "seg-000001"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("precious")
    (tmp_path / "victim" / "seg-000001-000009.npy").write_bytes(b"precious")
    col = _collection(tmp_path / "c")
    col.close()
    _tamper(tmp_path / "c", change)
    for command in ("check", "optimize", "search"):
        argv = [command, str(tmp_path / "c")] + (["words"] if command == "search" else [])
        assert main(argv) == 1
        message = capsys.readouterr().err
        assert message.startswith("error: ")
        assert "invalid" in message
        assert "Traceback" not in message
    with pytest.raises(IndexFormatError, match="invalid"):
        Collection.open(tmp_path / "c")
    assert (victim / "keep.txt").read_text() == "precious"
    assert (tmp_path / "victim" / "seg-000001-000009.npy").read_bytes() == b"precious"


def test_a_tampered_model_name_is_refused(tmp_path: Path) -> None:
    col = _collection(tmp_path / "c", 1)
    col.close()
    manifest = tmp_path / "c" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["config"]["fusion"].update(method="rescore", model="../../victim")
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="invalid model name"):
        Collection.open(tmp_path / "c")


def _kill_at(point: str, *argv: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hybridir.cli", *argv],
        env={**ENV, "HYBRIDIR_CRASH_AT": point},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize(
    ("point", "orphans"),
    [
        ("merge-written", ["seg-000004"]),  # the merged segment, never published
        ("published", ["seg-000001", "seg-000002", "seg-000003"]),  # replaced, not removed
    ],
)
def test_orphans_of_a_killed_optimize_are_reported_then_reclaimed(
    tmp_path: Path, point: str, orphans: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c"
    _collection(path).close()
    _kill_at(point, "optimize", str(path))
    col = Collection.open(path)
    assert col.check() == []
    assert col.orphans() == orphans
    assert len(col) == 15
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert all(f"orphan: {name}" in err for name in orphans)
    col.add([Document("new", "a later write reclaims them")])
    assert col.orphans() == []
    kept = col.manifest.referenced()  # the new write may reuse a reclaimed name
    assert not any((path / name).exists() for name in orphans if name not in kept)
    assert col.check() == []
    assert len(col) == 16


def test_a_writer_killed_after_staging_leaves_nothing_visible(tmp_path: Path) -> None:
    path = tmp_path / "c"
    _collection(path, 1).close()
    new = tmp_path / "new.jsonl"
    new.write_text('{"_id": "ghost", "text": "staged but never published"}\n')
    _kill_at("staged", "add", str(path), str(new))
    col = Collection.open(path)
    assert col.check() == []
    assert len(col) == 5
    assert col.orphans() == ["seg-000002"]
    with pytest.raises(NotFoundError, match="ghost"):
        col.get("ghost")
    # the next writer discards the staged version and the folder, then writes its own
    col.add([Document("real", "published")])
    assert col.check() == []
    assert sorted(d.doc_id for d in col)[-1] == "real"
    assert "ghost" not in {d.doc_id for d in col}


def test_a_deleted_document_store_is_an_error_never_recreated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c"
    _collection(path, 1).close()
    (path / "docs.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (path / f"docs.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(IndexFormatError, match=r"document store .* is missing"):
        Collection.open(path)
    assert main(["check", str(path)]) == 1
    assert "is missing" in capsys.readouterr().err
    assert main(["add", str(path), str(_jsonl(tmp_path))]) == 1
    assert not (path / "docs.sqlite").exists()


def _jsonl(folder: Path) -> Path:
    path = folder / "one.jsonl"
    path.write_text('{"_id": "x", "text": "one more"}\n')
    return path


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_check_finds_damaged_bytes_by_checksum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c"
    _collection(path, 1).close()
    target = path / "seg-000001" / "postings" / "tfs.npy"
    _flip_byte(target, target.stat().st_size - 1)  # data, not the header: loads fine
    col = Collection.open(path)
    assert col.check() == [
        "seg-000001: seg-000001/postings/tfs.npy: checksum mismatch (the file is damaged)"
    ]
    assert main(["check", str(path)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err


def test_check_covers_metadata_and_deletion_lists(tmp_path: Path) -> None:
    path = tmp_path / "c"
    col = _collection(path, 2)
    col.delete(["b0-1"])
    (path / "seg-000001" / "metadata.json").write_text("[]")
    problems = col.check()
    assert any("metadata.json" in p for p in problems), problems
    dead = next((path / "deletes").iterdir())
    dead.unlink()
    assert any("is missing" in p or "cannot be read" in p for p in col.check())


def test_a_damaged_postings_array_is_an_index_format_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same size, so only the structure check can tell (the checksum says so in check)."""
    path = tmp_path / "c"
    _collection(path, 1).close()
    rows = path / "seg-000001" / "postings" / "doc_rows.npy"
    array = np.load(rows)
    array[3] = 10_000  # a row outside the segment: would read out of bounds in the kernel
    np.save(rows, array)
    with pytest.raises(IndexFormatError, match="points outside the segment"):
        Collection.open(path)
    assert main(["search", str(path), "words"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "points outside the segment" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_collection_files_respect_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        col = _collection(tmp_path / "c", 2)
        col.delete(["b0-1"])
        col.optimize()
        col.set_fusion(col.config.fusion)
        col.close()
    finally:
        os.umask(old)
    entries = [tmp_path / "c", *(tmp_path / "c").rglob("*")]
    assert len(entries) > 10
    for entry in entries:
        mode = entry.stat().st_mode & 0o777
        expected = (0o777 if entry.is_dir() else 0o666) & ~umask
        if entry.name.startswith("docs.sqlite"):
            expected = 0o644 & ~umask  # SQLite's own default, masked likewise
        assert mode == expected, f"{entry.relative_to(tmp_path)}: {oct(mode)}"
