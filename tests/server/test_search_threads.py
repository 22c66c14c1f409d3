"""Where a search runs: a model-free search of a local collection on the event loop, anything
that runs a model (or meets a write in progress) in the thread pool; both answer the same.
And the metrics middleware counts every request, a crashed one as a 500."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig
from hybridir.server.served import serve

DOCS = [Document("s", "solar panels on roofs"), Document("w", "wind turbines at sea")]


@pytest.fixture
def bm25(tmp_path: Path) -> Path:
    Collection.create(tmp_path / "c").add(DOCS)
    return tmp_path / "c"


def test_only_model_free_searches_without_a_write_in_progress_run_inline(
    bm25: Path, tmp_path: Path
) -> None:
    served = serve(bm25, ServerConfig({"c": bm25}))
    assert served.searches_inline(None)
    assert served.searches_inline(False)
    assert not served.searches_inline(True)  # a reranker is a model
    with served.write_lock:
        assert not served.searches_inline(None)
    assert served.searches_inline(None)
    dense = tmp_path / "dense"
    Collection.create(dense, CollectionConfig(dense=DenseConfig())).close()
    assert not serve(dense, ServerConfig({"d": dense})).searches_inline(None)  # MiniLM queries


def test_inline_and_pooled_searches_answer_alike(
    bm25: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    search = Searcher.search

    def recording(self: Searcher, *args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return search(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Searcher, "search", recording)
    app = create_app(ServerConfig({"c": bm25}))
    with TestClient(app) as client:
        inline = client.post("/collections/c/search", json={"query": "solar"}).json()
        monkeypatch.setattr(
            type(app.state.served["c"]), "searches_inline", lambda self, rerank: False
        )
        pooled = client.post("/collections/c/search", json={"query": "solar"}).json()
    inline.pop("timings"), pooled.pop("timings")
    assert inline == pooled
    assert [h["doc_id"] for h in inline["hits"]] == ["s"]
    assert threads[0] != threads[1]  # the loop's thread, then a worker's


def test_a_crashed_request_is_counted_as_a_500(bm25: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: Searcher, *args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(Searcher, "search", crash)
    with TestClient(create_app(ServerConfig({"c": bm25})), raise_server_exceptions=False) as c:
        assert c.post("/collections/c/search", json={"query": "solar"}).status_code == 500
        counted = 'route="/collections/{name}/search",status="500"} 1.0'
        assert counted in c.get("/metrics").text
