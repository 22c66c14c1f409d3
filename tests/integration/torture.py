"""Multi-process torture of one collection: no acknowledged write is ever lost.

    python tests/integration/torture.py [--seconds 60] [--seed 1] [--workdir DIR]

For ``--seconds``, these run at once against one collection, each on its own ids:

* ``server``: ``hybridir serve`` written to over HTTP (add, upsert, delete) by a thread;
  SIGKILLed at random moments (often with a request in flight) and restarted;
* ``cli``: ``hybridir add --upsert`` / ``delete`` processes, SIGKILLed at random moments;
* ``thread``: a ``Collection`` handle of this process, writing from a thread;
* readers: ``hybridir search`` and ``hybridir check`` processes (check must always pass),
  ``hybridir optimize`` now and then.

Every write has a known outcome: acknowledged (HTTP 200, exit 0, a returned call), refused
(a 4xx, which writes nothing) or unknown (the writer was killed, the connection dropped).
The model keeps, per id, the texts it may hold: one after an acknowledged write, the old
and the new after an unknown one. After each server restart every id the server owns is
read back over HTTP; at the end the collection must check clean, hold exactly the allowed
texts, and count them. Prints one JSON summary line; exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABSENT = None
KEY = "torture-key"


@dataclass
class Model:
    """Allowed texts per id (``None``: absent), and the counts the summary reports."""

    allowed: dict[str, set[str | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)

    def record(self, writes: dict[str, str | None], outcome: str) -> None:
        """``outcome``: ``acked`` (now exactly these), ``unknown`` (these or as before),
        ``refused`` (nothing changed)."""
        with self.lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            if outcome == "acked":
                self.counts["acked ids"] = self.counts.get("acked ids", 0) + len(writes)
            for doc_id, text in writes.items():
                before = self.allowed.get(doc_id, {ABSENT})
                if outcome == "acked":
                    self.allowed[doc_id] = {text}
                elif outcome == "unknown":
                    self.allowed[doc_id] = before | {text}

    def bump(self, name: str) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def current(self, doc_id: str) -> set[str | None]:
        with self.lock:
            return set(self.allowed.get(doc_id, {ABSENT}))


class Torture:
    def __init__(self, workdir: Path, seconds: float, seed: int) -> None:
        self.workdir = workdir
        self.path = workdir / "col"
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.model = Model()
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.server_lock = threading.Lock()  # held by a request and its record
        self.port = 0
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.version = 0
        self.version_lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------
    def text(self, doc_id: str) -> str:
        with self.version_lock:
            self.version += 1
            return f"torture {doc_id} version {self.version}"

    def cli(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "hybridir.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def fail(self, message: str) -> None:
        self.failures.append(message)
        self.stop.set()

    # -- the server ----------------------------------------------------------------------
    def start_server(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        (self.workdir / "keys").write_text(KEY + "\n")
        cmd = [sys.executable, "-m", "hybridir.cli", "serve", str(self.path), "--port"]
        self.server = subprocess.Popen(
            [*cmd, str(self.port), "--api-key-file", str(self.workdir / "keys")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait()
        self.model.bump("server kills")

    def verify_over_http(self) -> None:
        """Every id the server wrote, read back from the (restarted) server."""
        import httpx

        with self.model.lock:
            ids = [d for d in self.model.allowed if d.startswith("s")]
        for doc_id in ids:
            r = httpx.get(f"{self.base}/collections/col/documents/{doc_id}", timeout=30)
            found = r.json()["text"] if r.status_code == 200 else ABSENT
            if r.status_code not in (200, 404):
                self.fail(f"GET {doc_id}: HTTP {r.status_code} {r.text[:200]}")
            elif found not in (allowed := self.model.current(doc_id)):
                self.fail(f"after a restart {doc_id} holds {found!r}, not one of {allowed}")
            self.model.bump("ids read back after restarts")

    # -- actors --------------------------------------------------------------------------
    def http_writer(self) -> None:
        import httpx

        rng = random.Random(self.rng.random())
        fresh = 0
        headers = {"X-API-Key": KEY}
        while not self.stop.is_set():
            kind = rng.choice(["upsert", "upsert", "add", "delete"])
            if kind == "delete":
                doc_id = f"s{rng.randint(0, 39)}"
                writes: dict[str, str | None] = {doc_id: ABSENT}
                method, suffix, body = "DELETE", f"/{doc_id}", None
            else:
                if kind == "add":
                    fresh += 1
                    ids = [f"s-new-{fresh}"]
                else:
                    ids = sorted({f"s{rng.randint(0, 39)}" for _ in range(rng.randint(1, 5))})
                writes = {i: self.text(i) for i in ids}
                documents = [{"id": i, "text": t} for i, t in writes.items()]
                method, suffix, body = "POST", "", {"documents": documents, "upsert": kind != "add"}
            with self.server_lock:  # a restart's read-back sees no write half-recorded
                url = f"{self.base}/collections/col/documents{suffix}"
                try:
                    r = httpx.request(method, url, json=body, headers=headers, timeout=60)
                except httpx.TransportError:
                    self.model.record(writes, "unknown")  # the server died with it in flight
                    continue
                if r.status_code == 200:
                    self.model.record(writes, "acked")
                elif r.status_code == 404 and kind == "delete":
                    self.model.record(writes, "acked")  # it was absent: absent it is
                elif r.status_code == 409:
                    self.model.record(writes, "refused")  # writer lock held elsewhere
                else:
                    self.fail(f"{kind}: HTTP {r.status_code} {r.text[:300]}")

    def cli_writer(self) -> None:
        rng = random.Random(self.rng.random())
        n = 0
        while not self.stop.is_set():
            n += 1
            if rng.random() < 0.7:
                ids = sorted({f"c{rng.randint(0, 39)}" for _ in range(rng.randint(1, 8))})
                writes: dict[str, str | None] = {i: self.text(i) for i in ids}
                source = self.workdir / f"cli-{n}.jsonl"
                source.write_text(
                    "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in writes.items())
                )
                proc = self.cli("add", str(self.path), str(source), "--upsert", "--wait", "60")
            else:
                ids = sorted({f"c{rng.randint(0, 39)}" for _ in range(rng.randint(1, 3))})
                writes = dict.fromkeys(ids, ABSENT)
                proc = self.cli("delete", str(self.path), *ids, "--missing-ok", "--wait", "60")
            killed = False
            if rng.random() < 0.4:  # kill it at a random moment of its run
                try:
                    proc.wait(timeout=rng.uniform(0.3, 3.0))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
            _, err = proc.communicate()
            if killed and proc.returncode == -signal.SIGKILL:
                self.model.record(writes, "unknown")
                self.model.bump("cli writer kills")
            elif proc.returncode == 0:
                self.model.record(writes, "acked")
            else:
                self.fail(f"cli write exited {proc.returncode}: {err.strip()[-300:]}")

    def thread_writer(self) -> None:
        from hybridir import Collection, Document

        rng = random.Random(self.rng.random())
        col = Collection.open(self.path, wait=60)
        try:
            while not self.stop.is_set():
                if rng.random() < 0.75:
                    ids = sorted({f"t{rng.randint(0, 29)}" for _ in range(rng.randint(1, 4))})
                    writes: dict[str, str | None] = {i: self.text(i) for i in ids}
                    col.upsert([Document(i, str(t)) for i, t in writes.items()])
                else:
                    ids = [f"t{rng.randint(0, 29)}"]
                    writes = dict.fromkeys(ids, ABSENT)
                    col.delete(ids, missing_ok=True)
                self.model.record(writes, "acked")
                time.sleep(rng.uniform(0.05, 0.4))
        finally:
            col.close()

    def reader(self) -> None:
        rng = random.Random(self.rng.random())
        while not self.stop.is_set():
            choice = rng.random()
            if choice < 0.45:
                proc = self.cli("check", str(self.path))
                name = "checks"
            elif choice < 0.9:
                proc = self.cli("search", str(self.path), "torture version", "--json")
                name = "searches"
            else:
                proc = self.cli("optimize", str(self.path), "--wait", "60")
                name = "optimizes"
            _, err = proc.communicate()
            if proc.returncode != 0:
                self.fail(f"{name[:-1]} exited {proc.returncode}: {err.strip()[-500:]}")
            self.model.bump(name)

    def killer(self) -> None:
        """Kill the server at a random moment, often with a write in flight (the HTTP
        writer is not paused for it), then restart it and read back its ids."""
        rng = random.Random(self.rng.random())
        while not self.stop.wait(rng.uniform(4.0, 9.0)):
            self.kill_server()
            with self.server_lock:
                self.start_server()
                self.verify_over_http()

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from hybridir import Collection, Document

        Collection.create(self.path).add([Document(f"seed{i}", f"seed {i}") for i in range(20)])
        self.model.allowed.update({f"seed{i}": {f"seed {i}"} for i in range(20)})
        self.start_server()
        actors = [self.http_writer, self.cli_writer, self.thread_writer, self.reader, self.killer]
        threads = [threading.Thread(target=self._guard(a), name=a.__name__) for a in actors]
        for t in threads:
            t.start()
        self.stop.wait(self.seconds)
        self.stop.set()
        for t in threads:
            t.join()
        self.kill_server()
        self.final_check()
        counts = dict(sorted(self.model.counts.items()))
        return {"seconds": self.seconds, "failures": self.failures, **counts}

    def _guard(self, actor: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                actor()
            except BaseException as exc:  # any crash of an actor fails the run
                self.fail(f"{actor.__name__} crashed: {exc!r}")

        return run

    def final_check(self) -> None:
        from hybridir import Collection

        col = Collection.open(self.path)
        problems = col.check()
        if problems:
            self.fail(f"check: {problems}")
        found = {d.doc_id: d.text for d in col}
        with self.model.lock:
            allowed = dict(self.model.allowed)
        for doc_id in sorted(set(found) | set(allowed)):
            value = found.get(doc_id, ABSENT)
            if value not in allowed.get(doc_id, {ABSENT}):
                self.fail(f"{doc_id} holds {value!r}, allowed {allowed.get(doc_id)}")
        if len(col) != len(found):
            self.fail(f"the collection counts {len(col)} documents, iterating gives {len(found)}")
        self.model.counts["ids checked at the end"] = len(allowed)
        self.model.counts["live documents at the end"] = len(found)
        col.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hybridir-torture-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        summary = Torture(workdir, args.seconds, args.seed).run()
    print(json.dumps({"seed": args.seed, **summary}))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
