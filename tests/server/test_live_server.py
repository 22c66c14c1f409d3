"""A real uvicorn on 127.0.0.1 (``hybridir serve``): searches keep answering, with no
error, while batches of documents are committed through the API."""

from __future__ import annotations

import threading
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from conftest import KEY  # noqa: E402


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
