"""The HTTP parsers ``hybridir serve`` can run on: which one ``--http`` picks, and the same
answers from both over real sockets."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("uvicorn")

from conftest import serving_in_thread
from hybridir import Collection, Document
from hybridir.errors import ConfigError
from hybridir.server.config import ServerConfig
from hybridir.server.protocol import HeaderTimeoutProtocol, http_protocol

HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
needs_httptools = pytest.mark.skipif(not HAS_HTTPTOOLS, reason="httptools is not installed")


@needs_httptools
def test_auto_and_httptools_pick_the_httptools_protocol() -> None:
    from hybridir.server.protocol_httptools import HttpToolsHeaderTimeoutProtocol

    assert http_protocol() is HttpToolsHeaderTimeoutProtocol
    assert http_protocol("httptools") is HttpToolsHeaderTimeoutProtocol


def test_h11_is_always_available_and_unknown_names_are_refused() -> None:
    assert http_protocol("h11") is HeaderTimeoutProtocol
    with pytest.raises(ConfigError, match="--http must be one of auto, httptools, h11"):
        http_protocol("http2")


def test_auto_falls_back_to_h11_without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "httptools", None)  # import httptools -> ImportError
    monkeypatch.delitem(sys.modules, "hybridir.server.protocol_httptools", raising=False)
    assert http_protocol("auto") is HeaderTimeoutProtocol
    with pytest.raises(ConfigError, match="needs the httptools package"):
        http_protocol("httptools")


# -- the same answers from both parsers ---------------------------------------------------------

SEARCH = b'{"query": "solar", "k": 5}'
REQUESTS = {
    "health": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    "search": b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(SEARCH), SEARCH),
    "document": b"GET /collections/energy/documents/a HTTP/1.1\r\nHost: x\r\n\r\n",
    "no such collection": b"GET /collections/nope HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad JSON": b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{]",
    "no key": b"DELETE /collections/energy/documents/a HTTP/1.1\r\nHost: x\r\n\r\n",
    "HEAD": b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n",
    "too large": b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n",
}
LAST = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder: Path = tmp_path_factory.mktemp("parsers") / "energy"
    Collection.create(folder).add(
        [Document("a", "solar panels", "Sun", {"year": 2020}), Document("b", "wind turbines")]
    )
    return folder


def _exchange(base: str, request: bytes) -> bytes:
    """What the server sends for ``request`` then a closing ``GET /health``, to its close."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request + LAST)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _parsed(data: bytes) -> list[tuple[bytes, dict[bytes, bytes], Any]]:
    """Each response as (status line, headers by lower-case name without ``date``, body: JSON
    without ``timings``, or bytes); a search's ``content-length`` is left out with its
    timings (their digits vary)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if status.endswith(b"Method Not Allowed") else int(headers[b"content-length"])
        body, data = rest[:length], rest[length:]
        headers.pop(b"date", None)
        value: Any = body
        if headers[b"content-type"].startswith(b"application/") and body:
            value = json.loads(body)
            if value.pop("timings", None) is not None:
                headers.pop(b"content-length")
        out.append((status, headers, value))
    return out


@pytest.fixture(scope="module")
def answers(collection: Path) -> dict[str, dict[str, bytes]]:
    config = ServerConfig({"energy": collection}, frozenset({"k"}), max_body_bytes=65536)
    found: dict[str, dict[str, bytes]] = {}
    for parser in ("httptools", "h11") if HAS_HTTPTOOLS else ("h11",):
        with serving_in_thread(config, http=parser) as base:
            found[parser] = {name: _exchange(base, req) for name, req in REQUESTS.items()}
    return found


@needs_httptools
@pytest.mark.parametrize("name", list(REQUESTS))
def test_both_parsers_answer_the_same(answers: dict[str, dict[str, bytes]], name: str) -> None:
    httptools, h11 = _parsed(answers["httptools"][name]), _parsed(answers["h11"][name])
    assert httptools == h11
    expected = {"health": 200, "search": 200, "document": 200, "no such collection": 404}
    expected |= {"bad JSON": 422, "no key": 401, "HEAD": 405, "too large": 413}
    status = int(httptools[0][0].split()[1])
    assert status == expected[name]
    if name == "too large":  # answered early and closed: the closing GET is never read
        assert len(httptools) == 1
    else:
        assert httptools[-1][2] == {"status": "ok"}
