"""A real uvicorn on 127.0.0.1 (``hybridir serve``): searches keep answering, with no
error, while batches of documents are committed through the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from hybridir import Collection, Document  # noqa: E402

KEY = "live-test-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> str:
    col = tmp_path / "energy"
    Collection.create(col).add(
        [Document(f"seed{i}", f"solar wind hydro energy number {i}") for i in range(50)]
    )
    (tmp_path / "keys").write_text(KEY + "\n")
    port = _free_port()
    cmd = [sys.executable, "-m", "hybridir.cli", "serve", str(col), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--api-key-file", str(tmp_path / "keys")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_searches_keep_answering_during_writes(server: str) -> None:
    errors: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def searcher() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/collections/energy/search", json={"query": "energy", "k": 1000})
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    counts.append(len(r.json()["hits"]))

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    with httpx.Client(base_url=server, timeout=60, headers={"X-API-Key": KEY}) as client:
        for b in range(10):
            docs = [{"id": f"b{b}-{i}", "text": f"energy batch {b} doc {i}"} for i in range(20)]
            r = client.post("/collections/energy/documents", json={"documents": docs})
            assert r.status_code == 200, r.text
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert counts
    assert all((n - 50) % 20 == 0 for n in counts)  # whole batches only (50 seeds + 20 each)
    with httpx.Client(base_url=server) as client:
        r = client.post("/collections/energy/search", json={"query": "batch 9 doc 19", "k": 1})
        assert r.json()["hits"][0]["doc_id"] == "b9-19"
        assert client.get("/collections/energy").json()["documents"] == 250
