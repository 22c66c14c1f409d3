"""A real uvicorn on 127.0.0.1 against slow, idle and oversized clients, over raw sockets:
the request head and body each have a deadline, and a chunked body over the limit is 413.

Every test runs on both HTTP parsers ``hybridir serve`` can use: httptools (the default
when installed) and h11 (the fallback); each carries the head deadline its own way."""

from __future__ import annotations

import importlib.util
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from conftest import serving_in_thread  # noqa: E402
from hybridir import Collection, Document  # noqa: E402
from hybridir.server.config import ServerConfig  # noqa: E402

KEY = "slow-client-key"
HEAD_S = 0.5
BODY_S = 1.0


PARSERS = ["httptools", "h11"]
if importlib.util.find_spec("httptools") is None:  # the h11 fallback alone, then
    PARSERS.remove("httptools")


@pytest.fixture(scope="module", params=PARSERS)
def base(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("slow") / "energy"
    Collection.create(folder).add([Document("a", "solar panels"), Document("b", "wind")])
    config = ServerConfig(
        {"energy": folder},
        frozenset({KEY}),
        max_body_bytes=65536,
        header_timeout=HEAD_S,
        body_timeout=BODY_S,
    )
    with serving_in_thread(config, http=request.param) as url:
        # the first search compiles the scoring kernels (seconds on a busy machine): done
        # here, so the timed tests below measure the deadlines alone
        warm = httpx.post(f"{url}/collections/energy/search", json={"query": "x"}, timeout=300)
        assert warm.status_code == 200
        yield url


def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body), however TCP splits it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(found.group(1)) if found else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-body: {data!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def _responses(sock: socket.socket, n: int) -> list[bytes]:
    """``n`` whole HTTP responses (Content-Length bodies), however TCP splits or joins them."""
    data, out = b"", []
    while len(out) < n:
        head_end = data.find(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", data[:head_end])
        end = head_end + 4 + int(found.group(1)) if head_end >= 0 and found else -1
        if 0 <= end <= len(data):
            out.append(data[:end])
            data = data[end:]
            continue
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    assert data == b"", f"more than {n} responses: {data!r}"
    return out


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing ``sock``, or None if it is still open after
    ``seconds``."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sock], [], [], left)[0]:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
    return None


def test_a_silent_connection_is_closed(base: str) -> None:
    with _connect(base) as sock:
        start = time.monotonic()
        assert _closed_within(sock, 5) == b""
        assert HEAD_S * 0.8 < time.monotonic() - start < HEAD_S + 1.5


def _drip(sock: socket.socket, data: bytes, seconds: float) -> float | None:
    """Send ``data`` a byte every 0.1 s (slowloris); the seconds until the server closed
    the connection, or None if it never did."""
    start = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
        if _closed_within(sock, 0.1) is not None:
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
    return None


SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"


def test_a_head_sent_byte_by_byte_is_cut_off(base: str) -> None:
    with _connect(base) as sock:
        seconds = _drip(sock, SLOW_HEAD, 6)
        assert seconds is not None, "the server waited for a head that never ended"
        assert seconds < HEAD_S + 1.5


def test_the_head_deadline_restarts_after_each_response(base: str) -> None:
    with _connect(base) as sock:
        for _ in range(2):  # keep-alive: two requests, each well within its own deadline
            time.sleep(HEAD_S * 0.6)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _response(sock).startswith(b"HTTP/1.1 200 OK")
        seconds = _drip(sock, SLOW_HEAD, 6)  # dripping resets uvicorn's keep-alive timer
        assert seconds is not None
        assert seconds < HEAD_S + 1.5


SEARCH_BODY = b'{"query": "solar"}'
SEARCH = (
    b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(SEARCH_BODY)
) + SEARCH_BODY


def test_a_keep_alive_client_is_served_for_longer_than_the_deadline(base: str) -> None:
    with _connect(base) as sock:
        start = time.monotonic()
        for i in range(6):  # GETs and POSTs with bodies, 1.8 deadlines on one connection
            time.sleep(HEAD_S * 0.3)
            sock.sendall(SEARCH if i % 2 else b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = _response(sock)
            assert reply.startswith(b"HTTP/1.1 200 OK"), reply
            assert (b'"doc_id":"a"' if i % 2 else b'{"status":"ok"}') in reply
        assert time.monotonic() - start > HEAD_S * 1.5
        # with httpx, as a client library keeps a connection
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(3):
                time.sleep(HEAD_S * 0.6)
                assert client.post("/collections/energy/search", json={"query": "solar"}).is_success


def test_pipelined_requests_are_answered_in_order_then_the_deadline_runs(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(SEARCH + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + SEARCH)
        first, second, third = _responses(sock, 3)
        assert b'"doc_id":"a"' in first
        assert b'"doc_id":"a"' in third
        assert second.endswith(b'{"status":"ok"}')
        start = time.monotonic()
        assert _closed_within(sock, 5) == b""  # idle after the last answer: the deadline
        assert HEAD_S * 0.8 < time.monotonic() - start < HEAD_S + 1.5


def test_a_partial_head_sent_with_a_request_gets_its_own_deadline(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(SEARCH + b"GET /health HTTP/1.1\r\nHo")  # the next head never ends
        (reply,) = _responses(sock, 1)
        assert b'"doc_id":"a"' in reply
        start = time.monotonic()
        assert _closed_within(sock, 5) == b""
        assert HEAD_S * 0.8 < time.monotonic() - start < HEAD_S + 1.5


def test_a_slow_handler_or_body_within_its_deadline_is_not_cut(base: str) -> None:
    body = b'{"query": "solar"}'
    head = (
        b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with _connect(base) as sock:
        sock.sendall(head + body[:5])
        time.sleep(HEAD_S * 1.5)  # past the head deadline, within the body one
        sock.sendall(body[5:])
        reply = _response(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply


def test_a_stalled_body_is_408_then_closed(base: str) -> None:
    head = (
        b"POST /collections/energy/search HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with _connect(base) as sock:
        start = time.monotonic()
        sock.sendall(head + b'{"query":')
        reply = _closed_within(sock, 5)
        seconds = time.monotonic() - start
    assert reply is not None, "the server waited for a body that never came"
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b"application/problem+json" in reply
    assert BODY_S * 0.8 < seconds < BODY_S + 1.5


def test_a_chunked_body_over_the_limit_is_413(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1000

    headers = {"content-type": "application/json"}
    r = httpx.post(f"{base}/collections/energy/search", content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "request bodies are limited to 65536 bytes"
    ok = httpx.post(f"{base}/collections/energy/search", json={"query": "solar"})
    assert ok.status_code == 200


def test_ids_with_slashes_over_http(base: str) -> None:
    ids = ["docs/a/b.md", "naïve dir/é.md", "50%/x"]
    with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=10) as client:
        docs = [{"id": i, "text": "path id"} for i in ids]
        assert client.post("/collections/energy/documents", json={"documents": docs}).is_success
        for doc_id in ids:
            for form in (quote(doc_id, safe=""), quote(doc_id, safe="/")):
                url = f"/collections/energy/documents/{form}"
                assert client.get(url).json()["id"] == doc_id
            assert client.delete(f"/collections/energy/documents/{quote(doc_id)}").is_success
            assert client.get(f"/collections/energy/documents/{quote(doc_id)}").status_code == 404
