"""A writer killed with SIGKILL at random moments never corrupts a collection or loses an
acknowledged write; readers in other processes and threads always see one generation."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hybridir import Collection, Document, Searcher

sys.path.insert(0, str(Path(__file__).parent))
from _writer import apply, operations

WRITER = Path(__file__).parent / "_writer.py"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _state(col: Collection) -> dict[str, str]:
    return {d.doc_id: d.text for d in col}


def test_sigkill_at_random_moments_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "c"
    Collection.create(path).close()
    rng = random.Random(1)
    deadline = time.monotonic() + 60
    rounds = 0
    while time.monotonic() < deadline and rounds < 12:
        before = _state(Collection.open(path))
        seed = rng.randint(0, 10**6)
        ops = operations(seed, set(before), 40)
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(seed), "40"],
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        time.sleep(rng.uniform(1.0, 3.0))  # imports take ~1 s; then it writes
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acked = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")]
        done = (acked[-1] + 1) if acked else 0
        # The collection opens, checks clean, and holds the state after the last ack, or
        # after the one in flight if its commit landed before the kill.
        col = Collection.open(path)
        assert col.check() == []
        found = _state(col)
        expected = dict(before)
        for op in ops[:done]:
            apply(expected, op)
        in_flight = dict(expected)
        if done < len(ops):
            apply(in_flight, ops[done])
        assert found in (expected, in_flight), f"round {rounds}: {done} acked"
        assert len(col) == len(found)
        hits = Searcher(col, "bm25").search("apple banana", k=5).hits
        assert all(h.doc_id in found for h in hits)
        col.close()
        rounds += 1
    assert rounds >= 3


READER = """
import sys
from hybridir import Collection, Searcher
col = Collection.open(sys.argv[1])
searcher = Searcher(col, "bm25")
seen = set()
for _ in range(int(sys.argv[2])):
    ids = {h.doc_id for h in searcher.search("common", k=1000).hits}
    batches = sorted({int(i.split("-")[0]) for i in ids})
    # live = the two newest batches: never a mix of other generations, never partial
    assert len(batches) <= 2 and (len(batches) < 2 or batches[1] == batches[0] + 1), batches
    assert all(len([i for i in ids if i.startswith(f"{b}-")]) == 10 for b in batches), ids
    seen.add(tuple(batches))
print(len(seen))
"""


def _batch(b: int) -> list[Document]:
    return [Document(f"{b}-{i}", f"common words of batch {b} item {i}") for i in range(10)]


def test_readers_see_one_generation_during_writes(tmp_path: Path) -> None:
    path = tmp_path / "c"
    col = Collection.create(path)
    col.add(_batch(0))
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(path), "400"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for _ in range(2)
    ]
    errors: list[BaseException] = []
    stop = threading.Event()

    def thread_reader() -> None:
        searcher = Searcher(Collection.open(path), "bm25")
        try:
            while not stop.is_set():
                ids = {h.doc_id for h in searcher.search("common", k=1000).hits}
                assert len(ids) in (10, 20), len(ids)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=thread_reader)
    thread.start()
    for b in range(1, 40):  # commits: delete batch b-2, then add batch b
        if b >= 2:
            col.delete([d.doc_id for d in _batch(b - 2)])
        col.add(_batch(b))
    stop.set()
    thread.join()
    assert not errors, errors
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert int(out.strip()) >= 1
    assert col.check() == []
