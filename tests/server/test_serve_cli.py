"""``hybridir serve`` as a process: it opens every collection and binds its port before it
says "serving … on …", fails with one ``error:`` line otherwise, and passes its timeouts
to the server (one worker or several)."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from hybridir import Collection, Document  # noqa: E402

SERVING = re.compile(r"serving \['energy'\] on (http://127\.0\.0\.1:\d+)")


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "hybridir.cli", "serve", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    folder = tmp_path / "energy"
    Collection.create(folder).add([Document("a", "solar panels"), Document("b", "wind")])
    return folder


def _fails(args: list[str]) -> str:
    """The stderr of a ``serve`` that must fail fast with status 1 and one error line."""
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "serving" not in done.stderr
    return lines[0]


def test_a_port_in_use_fails_before_announcing(collection: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = _fails(_serve(str(collection), "--port", str(port)))
    assert f"cannot listen on 127.0.0.1:{port}" in line


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_collection_fails_before_announcing(tmp_path: Path, workers: str) -> None:
    (tmp_path / "empty").mkdir()
    line = _fails(_serve(str(tmp_path / "empty"), "--port", "0", "--workers", workers))
    assert "is not a hybridir collection" in line


def test_a_bad_timeout_is_refused(collection: Path) -> None:
    line = _fails(_serve(str(collection), "--port", "0", "--header-timeout", "0"))
    assert "header_timeout must be a positive number of seconds, got 0.0" in line


def test_an_unknown_http_parser_is_refused(collection: Path) -> None:
    line = _fails(_serve(str(collection), "--port", "0", "--http", "http2"))
    assert "--http must be one of auto, httptools, h11, got 'http2'" in line


def _first_line(proc: subprocess.Popen[bytes], seconds: float) -> str:
    """The first line ``proc`` writes to stderr ("" if it exits or stays silent)."""
    assert proc.stderr is not None
    line = b""
    deadline = time.monotonic() + seconds
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.1)[0]:
            byte = os.read(proc.stderr.fileno(), 1)  # unbuffered: select sees the rest
            if not byte:
                break
            line += byte
    return line.decode()


@pytest.fixture
def running(collection: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """``hybridir serve`` on a free port; yields the URL it announced."""
    args = _serve(str(collection), "--port", "0", "--header-timeout", "0.5", *request.param)
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = _first_line(proc, 120)
        found = SERVING.search(line)
        assert found, f"no announcement: {line!r}"
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("running", [(), ("--workers", "2")], indirect=True, ids=["1", "2"])
def test_the_announced_address_answers_at_once_with_the_timeouts(running: str) -> None:
    # no retry: the socket listened before the line was printed (a worker still starting
    # finds the connection queued)
    assert httpx.get(f"{running}/health", timeout=120).json() == {"status": "ok"}
    port = int(running.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as idle:
        start = time.monotonic()
        assert idle.recv(1024) == b""  # closed by the server: --header-timeout 0.5
        assert time.monotonic() - start < 3  # a fresh connection: no keep-alive timer yet


def test_workers_run_under_old_and_new_uvicorn_supervisors(
    collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hybridir.server import serving
    from hybridir.server.config import ServerConfig

    made: list[dict[str, object]] = []

    class Old:  # uvicorn <= 0.40: Multiprocess(config, target, sockets)
        def __init__(self, config: object, target: object, sockets: object) -> None:
            made.append({"config": config, "target": target, "sockets": sockets})

        def run(self) -> None:
            pass

    class New(Old):  # later: Multiprocess(config, sockets)
        def __init__(self, config: object, sockets: object) -> None:
            made.append({"config": config, "sockets": sockets})

    config = ServerConfig({"energy": collection})
    with serving.listen("127.0.0.1", 0) as sock:
        for supervisor in (Old, New):
            monkeypatch.setattr(serving, "Multiprocess", supervisor)
            serving.run("hybridir.server.main:app_from_env", config, sock, workers=2)
    old, new = made
    assert getattr(old["target"], "__name__", None) == "run"
    assert old["sockets"] == new["sockets"] == [sock]
    assert "target" not in new


def test_served_connections_send_without_waiting_for_acks() -> None:
    """Nagle's algorithm is off on every accepted connection: a response is written in two
    parts (head, body), and with Nagle on the second waited for the client's delayed ACK,
    a 44 ms floor per keep-alive request. asyncio sets TCP_NODELAY only when the socket's
    ``proto`` is TCP; the listener sets it too, and Linux copies it to accepted sockets."""
    from hybridir.server import serving

    with (
        serving.listen("127.0.0.1", 0) as sock,
        socket.create_connection(sock.getsockname()[:2]),
    ):
        accepted, _ = sock.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
