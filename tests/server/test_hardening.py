"""Hostile and unusual requests in-process: chunked bodies over the limit, stalled bodies,
deeply nested or non-finite JSON, document ids with ``/`` and the offline ``/docs`` page.
Every refusal is one problem+json answer, never a 500."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import pytest

pytest.importorskip("fastapi")
import httpx
from fastapi.testclient import TestClient

from hybridir import Collection, Document
from hybridir.errors import InvalidInputError
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig

KEY = "s3cret-key"
WRITE = {"X-API-Key": KEY}
JSON = {"content-type": "application/json"}
DOCS = [
    Document("a", "solar panels convert sunlight", metadata={"lang": "en", "year": 2020}),
    Document("b", "wind turbines convert wind", metadata={"lang": "pl", "year": 2021}),
]


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    Collection.create(tmp_path / "energy").add(DOCS)
    return ServerConfig(
        {"energy": tmp_path / "energy"}, frozenset({KEY}), max_body_bytes=65536, body_timeout=0.5
    )


@pytest.fixture
def client(config: ServerConfig) -> TestClient:
    return TestClient(create_app(config), raise_server_exceptions=False)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


# -- 1. bodies over the limit -----------------------------------------------------------------


def _chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    """A body sent chunked: a generator has no Content-Length."""
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    url = "/collections/energy/search"
    body = _problem(client.post(url, content=_chunks(100_000), headers=JSON), 413)
    assert body["detail"] == "request bodies are limited to 65536 bytes"
    _problem(client.post(url, content=b"x" * 70_000, headers=JSON), 413)  # by Content-Length


def test_a_chunked_body_within_the_limit_reaches_the_app(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"query": '
        yield b'"solar"}'

    r = client.post("/collections/energy/search", content=body(), headers=JSON)
    assert r.status_code == 200, r.text
    assert [h["doc_id"] for h in r.json()["hits"]] == ["a"]


def test_a_stalled_body_is_408(config: ServerConfig) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield b'{"query": "so'
        await asyncio.sleep(5)
        yield b'lar"}'

    async def post() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app=create_app(config))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            start = time.monotonic()
            r = await client.post("/collections/energy/search", content=stalled(), headers=JSON)
            return r, time.monotonic() - start

    response, seconds = asyncio.run(post())
    assert _problem(response, 408)["detail"] == "the request body did not arrive within 0.5 s"
    assert response.headers["connection"] == "close"
    assert seconds < 3


# -- 2. malformed JSON ------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [70, 300, 950, 5000])
def test_deeply_nested_json_is_one_422(client: TestClient, depth: int) -> None:
    doc = '{"documents":[{"id":"deep","text":"t","metadata":' + _nested(depth) + "}]}"
    r = client.post("/collections/energy/documents", content=doc, headers={**JSON, **WRITE})
    assert "nested deeper than 64 levels" in _problem(r, 422)["detail"]
    _problem(client.get("/collections/energy/documents/deep"), 404)  # nothing was stored
    search = '{"query":"solar","filter":{"x":' + _nested(depth) + "}}"
    r = client.post("/collections/energy/search", content=search, headers=JSON)
    assert "nested deeper than 64 levels" in _problem(r, 422)["detail"]


def test_moderately_nested_metadata_round_trips(client: TestClient) -> None:
    doc = {"id": "nest", "text": "nested metadata", "metadata": {"a": {"b": {"c": [1, [2, [3]]]}}}}
    r = client.post("/collections/energy/documents", json={"documents": [doc]}, headers=WRITE)
    assert r.status_code == 200, r.text
    assert client.get("/collections/energy/documents/nest").json()["metadata"] == doc["metadata"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"query": "solar", "k": 1' + b"0" * 5000 + b"}",  # past Python's int digit limit
        b'{"query": "\xff\xfe"}',  # not UTF-8
    ],
)
def test_unparseable_bodies_are_422(client: TestClient, body: bytes) -> None:
    r = client.post("/collections/energy/search", content=body, headers=JSON)
    assert _problem(r, 422)["detail"].startswith("body")


def test_non_finite_document_values_reach_the_library_validation(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Document] = []

    def validate(self: Collection, docs: list[Document]) -> int:
        seen.extend(docs)
        raise InvalidInputError("document 'n': metadata 'x' is not a finite number")

    monkeypatch.setattr(Collection, "add", validate)
    body = '{"documents":[{"id":"n","text":"t","metadata":{"x":NaN,"y":Infinity,"z":-Infinity}}]}'
    r = client.post("/collections/energy/documents", content=body, headers={**JSON, **WRITE})
    assert _problem(r, 422)["detail"] == "document 'n': metadata 'x' is not a finite number"
    (doc,) = seen
    assert math.isnan(doc.metadata["x"])
    assert doc.metadata["y"] == math.inf
    assert doc.metadata["z"] == -math.inf


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filter", '{"lang": NaN}'),
        ("filter", '{"year": {"in": [1, NaN]}}'),
        ("filter", '{"year": {"gt": -Infinity}}'),
        ("boosts", '[{"field": "lang", "value": "en", "factor": Infinity}]'),
        ("boosts", '[{"field": "lang", "value": "en", "factor": 1e999}]'),
        ("fusion", '{"rrf_k": Infinity}'),
    ],
)
def test_non_finite_search_values_are_422(client: TestClient, field: str, value: str) -> None:
    body = f'{{"query": "solar", "{field}": {value}}}'
    r = client.post("/collections/energy/search", content=body, headers=JSON)
    assert _problem(r, 422)["detail"].startswith(f"body.{field}")


# -- 3. document ids with / and escapes -------------------------------------------------------

ODD_IDS = ["docs/a/b.md", "with space.txt", "naïve/é ü.md", "100%.md", "q?x#y", "/lead", "a/../b"]


def test_ids_with_slashes_and_escapes_round_trip(client: TestClient) -> None:
    url = "/collections/energy/documents"
    docs = [{"id": i, "text": f"odd id {n}"} for n, i in enumerate(ODD_IDS)]
    assert client.post(url, json={"documents": docs}, headers=WRITE).status_code == 200
    for doc_id in ODD_IDS:
        encoded = f"{url}/{quote(doc_id, safe='')}"  # every / as %2F
        assert client.get(encoded).json()["id"] == doc_id
        if not {".", ".."} & set(doc_id.split("/")):  # clients resolve dot segments
            readable = f"{url}/{quote(doc_id, safe='/')}"
            assert client.get(readable).json()["id"] == doc_id
        r = client.delete(encoded, headers=WRITE)
        assert r.status_code == 200, r.text
        _problem(client.get(encoded), 404)
    assert client.get("/collections/energy").json()["documents"] == len(DOCS)


def test_document_routes_shadow_nothing(client: TestClient) -> None:
    _problem(client.get("/collections/energy/documents/"), 404)  # the empty id
    _problem(client.get("/collections/energy/documents/search"), 404)  # an id, not a route
    assert client.post("/collections/energy/search", json={"query": "wind"}).status_code == 200
    assert client.get("/collections/energy").status_code == 200
    _problem(client.get("/collections/energy/documents"), 405)
    _problem(client.get("/collections/nope/documents/docs/a.md"), 404)


# -- 6. /docs offline -------------------------------------------------------------------------


def test_docs_need_no_network(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs, html
        for ref in refs:
            assert not re.match(r"(?i)(https?:)?//", ref), f"{page} loads {ref} from elsewhere"
            r = client.get(urljoin(f"http://testserver{page}", ref))
            assert r.status_code == 200, ref
            kind = r.headers["content-type"]
            if ref.endswith(".js"):
                assert "javascript" in kind
            elif ref.endswith(".css"):
                assert kind.startswith("text/css")
        assert "fonts.googleapis" not in html
    assert '"validatorUrl": null' in client.get("/docs").text  # no badge from swagger.io
