"""A real two-node Ray cluster on this machine: distributed indexing of ADI into 3 shards,
results equal to one collection, then faults: a shard actor killed by PID, the worker node's
processes killed by PID, an unavailable shard (error, or partial results when allowed), and
writes routed through the coordinator.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

pytest.importorskip("ray")
pytest.importorskip("torch")

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig
from hybridir.distributed.cluster import ShardedCollection, ShardUnavailableError
from hybridir.distributed.indexing import index_sharded
from hybridir.eval.datasets import load_beir, read_corpus

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]

MODES = ("bm25", "dense", "hybrid")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Head node (1 CPU) + worker node (1 CPU), loopback, no auth (test cluster)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, namespace="hybridir", log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def built(cluster: Any, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sharded")
    docs = list(read_corpus(data_dir / "adi" / "corpus.jsonl"))
    config = CollectionConfig(dense=DenseConfig())
    messages: list[str] = []
    terminal = Console(file=io.StringIO(), force_terminal=True, width=150)
    sharded = index_sharded(
        docs,
        root / "col",
        config,
        3,
        batch_size=16,
        progress=messages.append,
        deadline_s=120,
        show=terminal,
    )
    # One collection with the very same vectors (read back from the encoded batches).
    vectors = np.concatenate(
        [np.load(p) for p in sorted((root / "col" / ".work" / "vectors").glob("batch-*.npy"))]
    )
    single = Collection.create(root / "single", config)
    single.add(docs, vectors=vectors)
    queries = load_beir(data_dir / "adi").queries
    expected = {m: Searcher(single).run(queries, 100, retriever=m) for m in MODES}
    return {
        "root": root,
        "docs": docs,
        "sharded": sharded,
        "queries": queries,
        "expected": expected,
        "messages": messages,
        "bar": terminal.file.getvalue(),  # type: ignore[attr-defined]
        "config": config,
    }


def assert_exact(sharded: ShardedCollection, built: dict[str, Any]) -> None:
    for mode in MODES:
        assert (
            Searcher(sharded).run(built["queries"], 100, retriever=mode) == built["expected"][mode]
        )


def test_sharded_results_equal_one_collection(built: dict[str, Any]) -> None:
    sharded = built["sharded"]
    assert built["messages"][0] == "encoding 6 of 6 batches with Ray Data"
    # the bar counted every text as Ray Data handed back its batch: 82 of ADI's 82 documents
    assert "Encoding (dense, Ray Data)" in built["bar"]
    assert f"{len(built['docs'])}/{len(built['docs'])}" in built["bar"]
    infos = sharded.infos()
    assert sum(i["documents"] for i in infos) == len(built["docs"])
    assert all(i["documents"] > 0 for i in infos)
    assert_exact(sharded, built)


def test_indexing_resumes_without_reencoding(built: dict[str, Any]) -> None:
    vectors_dir = built["root"] / "col" / ".work" / "vectors"
    (vectors_dir / "batch-000002.npy").unlink()
    messages: list[str] = []
    index_sharded(
        built["docs"],
        built["root"] / "col",
        built["config"],
        3,
        batch_size=16,
        progress=messages.append,
    )
    assert messages == [
        "encoding 1 of 6 batches with Ray Data",
        "building 0 of 3 shards in parallel",  # every shard's part had landed
    ]


def test_killed_shard_actor_restarts_transparently(built: dict[str, Any]) -> None:
    sharded: ShardedCollection = built["sharded"]
    victim = sharded.infos()[1]
    os.kill(victim["pid"], signal.SIGKILL)
    assert_exact(sharded, built)  # retried within the deadline, after Ray's restart
    assert sharded.infos()[1]["pid"] != victim["pid"]


def test_lost_node_shards_come_back_on_another_node(cluster: Any, built: dict[str, Any]) -> None:
    _, worker = cluster
    sharded: ShardedCollection = built["sharded"]
    on_worker = [i for i in sharded.infos() if i["node"] == worker.node_id]
    # Kill every process of the worker node (raylet, workers, actors) by PID.
    pids = [p.process.pid for procs in worker.all_processes.values() for p in procs]
    pids += [i["pid"] for i in on_worker]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    assert_exact(sharded, built)
    assert time.monotonic() - start < 120
    assert all(i["node"] != worker.node_id for i in sharded.infos())


def test_unavailable_shard_fails_clearly_or_returns_partial(built: dict[str, Any]) -> None:
    sharded: ShardedCollection = built["sharded"]
    shard_dir = sharded.layout.shard_dir(2)
    hidden = shard_dir.with_name("hidden")
    victim = sharded.infos()[2]
    # the cluster was serving before the shard died: its global statistics are known (under
    # xdist this test may be the first of its module on a worker, with nothing cached yet)
    Searcher(sharded).search("information retrieval", k=5)
    shard_dir.rename(hidden)  # the actor cannot reopen its shard after a crash
    try:
        os.kill(victim["pid"], signal.SIGKILL)
        sharded.deadline_s = 15  # the live shards answer well within it, even under load
        with pytest.raises(ShardUnavailableError, match=r"shard\(s\) \[2\]"):
            Searcher(sharded).search("information retrieval", k=5)
        result = Searcher(sharded).search("information retrieval", k=5, allow_partial=True)
        assert result.partial
        assert result.missing_shards == (2,)
        assert result.to_dict()["partial"] is True
        from hybridir.distributed.routing import shard_of

        assert all(shard_of(h.doc_id, 3) != 2 for h in result.hits)
    finally:
        hidden.rename(shard_dir)
        sharded.deadline_s = 120
    assert_exact(sharded, built)  # back once the storage is


def test_writes_route_to_the_owning_shard(built: dict[str, Any]) -> None:
    sharded: ShardedCollection = built["sharded"]
    before = len(sharded)
    doc = Document("new-doc", "a wholly unusual zymurgy thesaurus for retrieval")
    vector = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    assert sharded.add([doc], vectors=vector) == 1
    assert len(sharded) == before + 1
    hits = Searcher(sharded).search("zymurgy thesaurus", k=1, retriever="bm25").hits
    assert hits[0].doc_id == "new-doc"
    assert sharded.get("new-doc").text == doc.text
    from hybridir.errors import InvalidInputError, NotFoundError

    with pytest.raises(InvalidInputError, match="already in the collection"):
        sharded.add([doc], vectors=vector)
    assert sharded.delete(["new-doc"]) == 1
    assert len(sharded) == before
    with pytest.raises(NotFoundError):
        sharded.delete(["new-doc"])
    assert_exact(sharded, built)
    shutil.rmtree(built["root"] / "single", ignore_errors=True)


def test_http_service_fronts_the_sharded_collection(cluster: Any, built: dict[str, Any]) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hybridir.server.app import create_app
    from hybridir.server.config import ServerConfig

    head, _ = cluster
    # The worker node was killed above: a new node brings room for the service's own
    # shard actors (each coordinator starts its own).
    import ray

    node = head.add_node(num_cpus=1)
    for _ in range(120):
        if any(n["NodeID"] == node.node_id and n["Alive"] for n in ray.nodes()):
            break
        time.sleep(0.5)
    root = built["root"] / "col"
    config = ServerConfig({"adi": root}, frozenset({"k3y"}), ray_address=head.address)
    sharded: ShardedCollection = built["sharded"]
    with TestClient(create_app(config)) as client:
        info = client.get("/collections/adi").json()
        assert "documents" in info, info
        assert info["documents"] == len(built["docs"])
        assert info["retrievers"] == ["bm25", "dense", "hybrid"]
        body = client.post(
            "/collections/adi/search", json={"query": "information retrieval", "k": 5}
        ).json()
        expected = Searcher(sharded).search("information retrieval", k=5)
        assert [h["doc_id"] for h in body["hits"]] == [h.doc_id for h in expected.hits]
        assert body["partial"] is False
        doc = {"id": "http-doc", "text": "xylophone quarantine retrieval"}
        written = client.post(
            "/collections/adi/documents", json={"documents": [doc]}, headers={"X-API-Key": "k3y"}
        )
        assert written.status_code == 200, written.text
        assert client.get("/collections/adi/documents/http-doc").json()["text"] == doc["text"]
        top = client.post(
            "/collections/adi/search",
            json={"query": "xylophone quarantine", "k": 1, "retriever": "bm25"},
        ).json()["hits"][0]
        assert top["doc_id"] == "http-doc"
        deleted = client.delete("/collections/adi/documents/http-doc", headers={"X-API-Key": "k3y"})
        assert deleted.status_code == 200
        assert client.get("/collections/adi/documents/http-doc").status_code == 404
        assert "hybridir_collection_segments" in client.get("/metrics").text
    sharded.invalidate_stats()
    assert_exact(sharded, built)
