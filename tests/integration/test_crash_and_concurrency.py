"""A writer killed with SIGKILL at chosen points of a commit, or mid-run, never corrupts a
collection or loses an acknowledged write; readers in other processes and threads see
several generations while writes go on, each of them whole.

Every kill is checked to have landed: the writer must die *by the signal*
(``returncode == -SIGKILL``) before it finished its operations.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hybridir import Collection, Document, Searcher

sys.path.insert(0, str(Path(__file__).parent))
from _writer import apply, operations

WRITER = Path(__file__).parent / "_writer.py"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
N_OPS = 40


def _state(col: Collection) -> dict[str, str]:
    return {d.doc_id: d.text for d in col}


def _seeded(path: Path) -> dict[str, str]:
    col = Collection.create(path)
    col.add([Document(f"d{i}", f"apple banana seed {i}") for i in range(10)])
    state = _state(col)
    col.close()
    return state


def _run_writer(path: Path, seed: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(seed), str(N_OPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _acked(out: str) -> int:
    """How many operations the writer acknowledged (they are acknowledged in order)."""
    acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")]
    assert acks == list(range(len(acks)))
    return len(acks)


def _expected(before: dict[str, str], ops: list, done: int) -> dict[str, str]:  # type: ignore[type-arg]
    state = dict(before)
    for op in ops[:done]:
        apply(state, op)
    return state


def _verify(path: Path) -> tuple[Collection, dict[str, str]]:
    col = Collection.open(path)
    assert col.check() == []
    found = _state(col)
    assert len(col) == len(found)
    hits = Searcher(col, "bm25").search("apple banana", k=5).hits
    assert all(h.doc_id in found for h in hits)
    return col, found


@pytest.mark.parametrize(
    ("point", "nth", "in_flight_visible"),
    [
        ("segment-written", 5, False),  # segment and deletion files durable, nothing staged
        ("staged", 7, False),  # document versions committed, manifest not replaced
        ("published", 9, True),  # manifest replaced: committed, though never acknowledged
        ("merge-written", 1, True),  # the write before the merge is published already
    ],
)
def test_kill_at_a_chosen_commit_point(
    tmp_path: Path, point: str, nth: int, in_flight_visible: bool
) -> None:
    path = tmp_path / "c"
    before = _seeded(path)
    seed = 7
    ops = operations(seed, set(before), N_OPS)
    proc = _run_writer(path, seed, {**ENV, "HYBRIDIR_CRASH_AT": f"{point}:{nth}"})
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err  # it died by the signal, at the point
    done = _acked(out)
    assert done < len(ops)
    col, found = _verify(path)
    expected = _expected(before, ops, done)
    in_flight = _expected(before, ops, done + 1)
    assert found == (in_flight if in_flight_visible else expected)
    if point != "published":  # after it, a pure add leaves nothing unreferenced
        assert col.orphans() != []  # what the dead writer wrote and never published
    # the next writer reclaims the dead one's files and goes on from there
    col.add([Document("after", "apple after the crash")])
    assert col.orphans() == []
    assert col.check() == []
    col.close()


def test_sigkill_mid_run_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Kill right after the n-th acknowledgement (the writer is then inside operation
    n+1 or between two), for several n; every round must hit a live writer."""
    path = tmp_path / "c"
    _seeded(path)
    rng = random.Random(1)
    kills = 0
    for round_ in range(6):
        before = _state(Collection.open(path))
        seed = rng.randint(0, 10**6)
        ops = operations(seed, set(before), N_OPS)
        target = rng.randint(1, len(ops) - 5)
        proc = _run_writer(path, seed, ENV)
        assert proc.stdout is not None
        lines = []
        while len(lines) < target:
            line = proc.stdout.readline()
            assert line, "the writer ended before the kill"
            lines.append(line)
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        done = _acked("".join(lines) + rest)
        assert target <= done < len(ops), f"round {round_}: the kill did not land mid-run"
        kills += 1
        col, found = _verify(path)
        assert found in (_expected(before, ops, done), _expected(before, ops, done + 1))
        col.close()
    assert kills == 6


READER = """
import sys
import time
from hybridir import Collection, Searcher
col = Collection.open(sys.argv[1])
searcher = Searcher(col, "bm25")
seen = set()
print("READY", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
# read until five generations were seen (or the deadline): a count of queries alone
# can end before a slow writer published twice on a loaded machine
while len(seen) < 5 and time.monotonic() < deadline:
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


def test_readers_see_several_whole_generations_during_writes(tmp_path: Path) -> None:
    path = tmp_path / "c"
    col = Collection.create(path)
    col.add(_batch(0))
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(path), "120"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for _ in range(2)
    ]
    for proc in readers:  # writes start once both readers are reading
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY", proc.stderr
    errors: list[BaseException] = []
    thread_seen: set[int] = set()
    stop = threading.Event()

    def thread_reader() -> None:
        searcher = Searcher(Collection.open(path), "bm25")
        try:
            while not stop.is_set():
                ids = {h.doc_id for h in searcher.search("common", k=1000).hits}
                assert len(ids) in (10, 20), len(ids)
                thread_seen.add(max(int(i.split("-")[0]) for i in ids))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=thread_reader)
    thread.start()
    b = 0
    while any(proc.poll() is None for proc in readers) and b < 2000:
        b += 1  # commits: delete batch b-2, then add batch b
        if b >= 2:
            col.delete([d.doc_id for d in _batch(b - 2)])
        col.add(_batch(b))
    stop.set()
    thread.join()
    assert not errors, errors
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert int(out.strip()) >= 3, "a reader saw fewer than three generations"
    assert len(thread_seen) >= 3
    assert col.check() == []
