"""Acknowledged writes survive other processes opening the collection, and SIGKILL.

The bug these pin down: the commit used to open and close a descriptor on ``docs.sqlite``
to fsync it, which dropped the writer's POSIX locks; the next process to close its own
connection then believed it was SQLite's last one and deleted the write-ahead log the
writer was still appending to, so a ``kill -9`` lost every write acknowledged since.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_process import run_cli
from hybridir import Collection, Document, Searcher
from hybridir.config import FusionConfig

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

HOLDER = """
import sys
from hybridir import Collection, Document
col = Collection.open(sys.argv[1], wait=30)
print("READY", flush=True)
for line in sys.stdin:
    doc_id = line.strip()
    col.add([Document(doc_id, f"probe {doc_id}")])
    print("ACK", doc_id, flush=True)
"""


class Holder:
    """A process that keeps one collection handle open and adds a document per line."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        assert self._line() == "READY"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def add(self, doc_id: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(doc_id + "\n")
        self.proc.stdin.flush()
        assert self._line() == f"ACK {doc_id}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    path = tmp_path / "adi"
    Collection.create(path).add([Document(f"seed{i}", f"seed text {i}") for i in range(20)])
    return path


def test_other_processes_opening_the_collection_lose_no_acknowledged_write(
    collection: Path,
) -> None:
    holder = Holder(collection)
    holder.add("p1")
    assert run_cli("search", str(collection), "probe").returncode == 0  # opens and closes
    holder.add("p2")
    assert run_cli("check", str(collection)).returncode == 0
    holder.add("p3")
    added = run_cli("add", str(collection), str(_jsonl(collection.parent, "c1")), "--wait", "30")
    assert added.returncode == 0, added.stderr
    holder.add("p4")
    holder.kill()  # acknowledged: p1..p4 (and c1 from the CLI)
    col = Collection.open(collection)
    assert col.check() == []
    for doc_id in ("p1", "p2", "p3", "p4"):
        assert col.get(doc_id).text == f"probe {doc_id}"
    assert col.get("c1").text == "from the cli"
    assert len(col) == 25


def _jsonl(folder: Path, doc_id: str) -> Path:
    path = folder / f"{doc_id}.jsonl"
    path.write_text(f'{{"_id": "{doc_id}", "text": "from the cli"}}\n')
    return path


def test_no_code_path_opens_a_second_descriptor_on_a_sqlite_file(tmp_path: Path) -> None:
    """Every open() / os.open() in Python raises the ``open`` audit event; none may name
    a SQLite file of the collection (SQLite's own C-level opens raise no event)."""
    opened: list[str] = []
    recording = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if recording[0] and event == "open" and args and ".sqlite" in str(args[0]):
            opened.append(str(args[0]))

    sys.addaudithook(hook)  # audit hooks cannot be removed; this one stops recording below
    try:
        col = Collection.create(tmp_path / "c")
        col.add([Document(f"d{i}", f"words {i} and more words") for i in range(30)])
        col.upsert([Document("d1", "new words")])
        col.delete(["d2", "d3"])
        col.set_fusion(FusionConfig(method="rrf"))
        Searcher(col).search("words", k=5)
        other = Collection.open(tmp_path / "c")
        assert other.check() == []
        assert other.orphans() == []
        other.optimize()
        other.close()
        col.add([Document("late", "words after the other handle closed")])
        col.close()
    finally:
        recording[0] = False
    assert opened == []


def test_threads_with_their_own_or_a_shared_handle_all_land(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "c"
    Collection.create(path).close()
    shared = Collection.open(path, wait=60)
    handles = [Collection.open(path, wait=60) for _ in range(2)] + [shared, shared]
    errors: list[BaseException] = []

    def write(n: int, col: Collection) -> None:
        try:
            for i in range(15):
                col.upsert([Document(f"t{n}-{i}", f"thread {n} item {i}")])
                if i % 5 == 4:
                    col.delete([f"t{n}-{i - 1}"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n, h)) for n, h in enumerate(handles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    col = Collection.open(path)
    assert col.check() == []
    assert len(col) == 4 * 12
    assert col.get("t3-14").text == "thread 3 item 14"


def test_a_writer_waits_for_another_process_or_says_it_is_busy(tmp_path: Path) -> None:
    import time

    from hybridir import WriterBusyError

    path = tmp_path / "c"
    Collection.create(path).close()
    holder = subprocess.Popen(  # holds the writer lock until told, as a long write would
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"h = open({str(path / 'write.lock')!r}, 'a'); fcntl.flock(h, fcntl.LOCK_EX)\n"
            "print('LOCKED', flush=True); sys.stdin.readline(); time.sleep(1.0)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert holder.stdout.readline().strip() == "LOCKED"
    with pytest.raises(WriterBusyError, match="another process is writing"):
        Collection.open(path).add([Document("a", "refused at once")])
    failed = run_cli("add", str(path), str(_jsonl(tmp_path, "x")))
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: another process is writing")
    holder.stdin.write("go\n")  # releases the lock about 1 s from now
    holder.stdin.flush()
    start = time.monotonic()
    Collection.open(path, wait=30).add([Document("b", "waited for the lock")])
    assert time.monotonic() - start > 0.5
    holder.wait(timeout=30)
    assert [d.doc_id for d in Collection.open(path)] == ["b"]
    # Waits longer than the lock can express wait as long as it can (10^12 s was an
    # OverflowError from threading before any write).
    for i, wait in enumerate([1e12, float("inf")]):
        Collection.open(path, wait=wait).add([Document(f"w{i}", "no overflow")])
    assert len(Collection.open(path)) == 3
