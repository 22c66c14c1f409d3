"""Routes are module-level and read the app serving them: two apps side by side keep their
own collections, keys and metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from hybridir import Collection, Document
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig


def test_two_apps_keep_their_own_state(tmp_path: Path) -> None:
    Collection.create(tmp_path / "solar").add([Document("s", "solar panels")])
    Collection.create(tmp_path / "wind").add([Document("w1", "wind"), Document("w2", "gusts")])
    solar = TestClient(create_app(ServerConfig({"solar": tmp_path / "solar"})))
    wind = TestClient(
        create_app(ServerConfig({"wind": tmp_path / "wind"}, frozenset({"k"}), keys_for_reads=True))
    )
    assert [c["name"] for c in solar.get("/collections").json()["collections"]] == ["solar"]
    assert solar.get("/collections/wind").status_code == 404
    assert wind.get("/collections").status_code == 401  # this app's keys, not the other's
    listed = wind.get("/collections", headers={"X-API-Key": "k"}).json()["collections"]
    assert [(c["name"], c["documents"]) for c in listed] == [("wind", 2)]

    assert solar.post("/collections/solar/search", json={"query": "solar"}).status_code == 200
    counted = 'route="/collections/{name}/search",status="200"} 1.0'
    assert counted in solar.get("/metrics").text
    assert counted not in wind.get("/metrics", headers={"X-API-Key": "k"}).text


def test_a_bad_body_is_refused_before_the_collection_is_looked_up(tmp_path: Path) -> None:
    Collection.create(tmp_path / "c").add([Document("a", "solar")])
    client = TestClient(create_app(ServerConfig({"c": tmp_path / "c"})))
    assert client.post("/collections/nope/search", json={"query": ""}).status_code == 422
    assert client.post("/collections/nope/search", json={"query": "x"}).status_code == 404
