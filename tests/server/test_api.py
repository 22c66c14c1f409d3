"""The HTTP API in-process (httpx through the ASGI app): every endpoint, every error path."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from hybridir import Collection, Document
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig

KEY = "s3cret-key"
DOCS = [
    Document("a", "solar panels convert sunlight", title="Solar", metadata={"lang": "en"}),
    Document("b", "wind turbines convert wind", title="Wind", metadata={"lang": "en"}),
    Document("c", "panele słoneczne", title="Słońce", metadata={"lang": "pl"}),
]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    Collection.create(tmp_path / "energy").add(DOCS)
    config = ServerConfig({"energy": tmp_path / "energy"}, frozenset({KEY}), max_body_bytes=4096)
    return TestClient(create_app(config), raise_server_exceptions=False)


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert "Traceback" not in str(body)
    return body  # type: ignore[no-any-return]


def test_health_collections_and_info(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    (info,) = client.get("/collections").json()["collections"]
    assert info["name"] == "energy"
    assert info["documents"] == 3
    detail = client.get("/collections/energy").json()
    assert detail["config"]["bm25"]["k1"] == 1.2
    _problem(client.get("/collections/nope"), 404)


def test_search_with_explanations_filters_and_overrides(client: TestClient) -> None:
    url = "/collections/energy/search"
    r = client.post(url, json={"query": "convert solar", "k": 2})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert [h["doc_id"] for h in hits] == ["a", "b"]
    (part,) = hits[0]["lists"]
    assert part["retriever"] == "bm25"
    assert part["rank"] == 1
    assert part["matched_terms"] == ["convert", "solar"]
    assert "retrieve" in r.json()["timings"]

    def search(**body: object) -> list[dict]:  # type: ignore[type-arg]
        response = client.post(url, json={"query": "convert panele", **body})
        assert response.status_code == 200, response.text
        return response.json()["hits"]

    lang = {d.doc_id: d.metadata["lang"] for d in DOCS}
    plain = search()
    assert {h["doc_id"] for h in plain} == {"a", "b", "c"}  # every language matches unfiltered
    for wanted in ("en", "pl"):
        filtered = search(filter={"lang": wanted})
        expected = [h["doc_id"] for h in plain if lang[h["doc_id"]] == wanted]
        assert [h["doc_id"] for h in filtered] == expected
        assert expected  # the filter keeps the matching hits, not an empty list

    # The middle hit (not first, not the lowest candidate, whose score a boost cannot
    # move: scores scale from the lowest one) gets lifted above the first.
    first, middle, lowest = plain
    assert (middle["doc_id"], lang[middle["doc_id"]]) == ("c", "pl")
    factor = 10.0
    lifted = lowest["score"] + (middle["score"] - lowest["score"]) * factor
    assert lifted > first["score"]
    boosted = search(boosts=[{"field": "lang", "value": "pl", "factor": factor}])
    assert [h["doc_id"] for h in boosted] == ["c", first["doc_id"], lowest["doc_id"]]
    assert boosted[0]["score"] == pytest.approx(lifted)
    assert boosted[0]["score"] > middle["score"]
    by_id = {h["doc_id"]: h["score"] for h in boosted}
    assert by_id[first["doc_id"]] == pytest.approx(first["score"])  # unmatched: unchanged
    boost_parts = [p for p in boosted[0]["lists"] if p["retriever"] == "boost"]
    assert [p["raw_score"] for p in boost_parts] == [factor]
    # A boost reorders what the filter kept; it never brings back a filtered-out document.
    both = search(
        filter={"lang": "en"}, boosts=[{"field": "lang", "value": "pl", "factor": factor}]
    )
    assert [h["doc_id"] for h in both] == [h["doc_id"] for h in plain if lang[h["doc_id"]] == "en"]


def test_search_errors(client: TestClient) -> None:
    url = "/collections/energy/search"
    _problem(client.post(url, json={"query": "x", "k": 5000}), 422)
    _problem(client.post(url, json={"query": "x" * 3000}), 422)
    _problem(client.post(url, json={"query": ""}), 422)
    _problem(client.post(url, json={"query": "x", "retriever": "magic"}), 422)
    _problem(client.post(url, json={"query": "x", "unknown": 1}), 422)
    _problem(client.post(url, json={"query": "x", "retriever": "dense"}), 400)  # no dense index
    _problem(client.post(url, json={"query": "x", "filter": {"year": {"near": 1}}}), 400)
    _problem(
        client.post(url, content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    _problem(
        client.post(url, content=b"x" * 5000, headers={"content-type": "application/json"}), 413
    )
    _problem(client.post("/collections/../etc/search", json={"query": "x"}), 404)
    _problem(client.post("/collections/%2e%2e/search", json={"query": "x"}), 404)


def test_documents_need_a_key_and_round_trip(client: TestClient) -> None:
    url = "/collections/energy/documents"
    doc = {"id": "d", "title": "Hydro", "text": "water turbines", "metadata": {"lang": "en"}}
    _problem(client.post(url, json={"documents": [doc]}), 401)
    _problem(client.post(url, json={"documents": [doc]}, headers={"X-API-Key": "wrong"}), 401)
    ok = client.post(url, json={"documents": [doc]}, headers={"X-API-Key": KEY})
    assert ok.status_code == 200
    assert ok.json()["documents"] == 4
    hits = client.post("/collections/energy/search", json={"query": "water"}).json()["hits"]
    assert hits[0]["doc_id"] == "d"
    assert client.get(f"{url}/d").json()["metadata"] == {"lang": "en"}
    _problem(client.post(url, json={"documents": [doc]}, headers={"X-API-Key": KEY}), 422)
    upsert = {"documents": [{**doc, "text": "dams"}], "upsert": True}
    assert client.post(url, json=upsert, headers={"X-API-Key": KEY}).status_code == 200
    assert client.get(f"{url}/d").json()["text"] == "dams"
    bad = {"documents": [{"id": "e", "text": "   "}]}
    _problem(client.post(url, json=bad, headers={"X-API-Key": KEY}), 422)
    _problem(client.delete(f"{url}/d"), 401)
    assert client.delete(f"{url}/d", headers={"X-API-Key": KEY}).json()["documents"] == 3
    _problem(client.get(f"{url}/d"), 404)
    _problem(client.delete(f"{url}/d", headers={"X-API-Key": KEY}), 404)


def test_writes_disabled_without_keys_and_reads_can_need_keys(tmp_path: Path) -> None:
    Collection.create(tmp_path / "c").add(DOCS)
    open_server = TestClient(create_app(ServerConfig({"c": tmp_path / "c"})))
    r = open_server.post("/collections/c/documents", json={"documents": [{"id": "x", "text": "y"}]})
    assert _problem(r, 403)["detail"] == "writes are disabled: start the server with --api-key-file"
    locked = TestClient(
        create_app(ServerConfig({"c": tmp_path / "c"}, frozenset({KEY}), keys_for_reads=True))
    )
    _problem(locked.post("/collections/c/search", json={"query": "solar"}), 401)
    ok = locked.post("/collections/c/search", json={"query": "solar"}, headers={"X-API-Key": KEY})
    assert ok.status_code == 200
    assert locked.get("/health").status_code == 200


def test_metrics_openapi_docs_and_page(client: TestClient) -> None:
    client.post("/collections/energy/search", json={"query": "solar"})
    text = client.get("/metrics").text
    assert (
        'hybridir_requests_total{method="POST",route="/collections/{name}/search",status="200"}'
        in text
    )
    assert 'hybridir_collection_documents{collection="energy"} 3.0' in text
    assert 'hybridir_collection_bytes{collection="energy"}' in text
    schema = client.get("/openapi.json").json()
    assert "/collections/{name}/search" in schema["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200
    assert '<input id="q"' in page.text


def test_cors_is_off_unless_configured(tmp_path: Path) -> None:
    Collection.create(tmp_path / "c").add(DOCS)
    plain = TestClient(create_app(ServerConfig({"c": tmp_path / "c"})))
    r = plain.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    allowed = TestClient(
        create_app(ServerConfig({"c": tmp_path / "c"}, cors_origins=("https://app.example",)))
    )
    r = allowed.get("/health", headers={"Origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"


def test_bad_config_is_refused(tmp_path: Path) -> None:
    from hybridir import ConfigError

    with pytest.raises(ConfigError):
        ServerConfig({"../up": tmp_path})
    with pytest.raises(ConfigError):
        ServerConfig({"c": tmp_path}, keys_for_reads=True)
