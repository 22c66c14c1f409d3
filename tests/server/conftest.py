"""A real ``hybridir serve`` on 127.0.0.1 for the live-server and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hybridir import Collection, Document
from hybridir.server.config import ServerConfig

KEY = "live-test-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
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
    import httpx

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


@contextmanager
def serving_in_thread(config: ServerConfig, http: str = "auto") -> Iterator[str]:
    """A real uvicorn in a thread on 127.0.0.1, started as ``hybridir serve`` starts it
    (bound socket, request-head deadline, limits and body timeout of ``config``, the HTTP
    parser ``http``); yields its base URL."""
    import uvicorn

    from hybridir.server.app import create_app
    from hybridir.server.serving import listen, url, uvicorn_config

    with listen("127.0.0.1", 0) as sock:
        server = uvicorn.Server(uvicorn_config(create_app(config), config, http=http))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        try:
            yield url(sock)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
