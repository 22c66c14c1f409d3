"""Start the service the way ``hybridir serve`` does: check, bind, announce, run.

Why this order: the address printed must be one that already accepts connections, and a
bad collection or a port in use must fail the command (one ``error:`` line, status 1)
rather than a worker after "serving … on …" was printed. So the collections are opened and
the socket bound and listening here, in the command's process, and uvicorn is handed the
bound socket (its workers share it).
"""

from __future__ import annotations

import inspect
import socket
from pathlib import Path

from fastapi import FastAPI
from uvicorn import Server
from uvicorn.supervisors import Multiprocess

from hybridir.errors import ConfigError
from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig
from hybridir.server.main import FACTORY, export_config
from hybridir.server.protocol import TimedConfig, http_protocol
from hybridir.server.served import check_collections

BACKLOG = 2048  # uvicorn's default


def prepare(config: ServerConfig, workers: int, api_key_file: Path | None) -> FastAPI | str:
    """What uvicorn will serve, once every collection has opened.

    One worker serves the app built here (the collections stay open); several workers
    each build their own from the settings exported for them, after a check here.

    Raises:
        HybridirError: a collection is missing, damaged or of another format version.
        ConfigError: ``workers`` is below 1.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if workers == 1:
        return create_app(config)
    check_collections(config)
    export_config(config, api_key_file)
    return FACTORY


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port`` 0: any free one) and listening.

    Raises:
        OSError: the address is in use, not local, or not allowed; the message names it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # ``IPPROTO_TCP`` named explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets whose ``proto`` says TCP, and accepted sockets inherit the listener's. With
    # ``proto`` 0 every keep-alive response (head and body are two writes) waited for the
    # client's delayed ACK: a 44 ms floor per request, /health included.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart past TIME_WAIT
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def url(sock: socket.socket) -> str:
    """The ``http://host:port`` a listening socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def uvicorn_config(
    app: FastAPI | str, config: ServerConfig, workers: int = 1, http: str = "auto"
) -> TimedConfig:
    """uvicorn's settings: the HTTP parser ``http`` (see
    :func:`~hybridir.server.protocol.http_protocol`) with the request-head deadline of
    ``config``, uvloop as the event loop when installed (uvicorn's ``auto``), quiet logs.

    Raises:
        ConfigError: ``http`` is not a known parser, or not installed.
    """
    return TimedConfig(
        app,
        header_timeout=config.header_timeout,
        http=http_protocol(http),
        loop="auto",
        factory=isinstance(app, str),
        workers=workers,
        log_level="warning",
    )


def run(
    app: FastAPI | str,
    config: ServerConfig,
    sock: socket.socket,
    workers: int,
    http: str = "auto",
) -> None:
    """Serve on ``sock`` with the HTTP parser ``http`` until interrupted (SIGINT/SIGTERM)."""
    settings = uvicorn_config(app, config, workers, http)
    if workers > 1:
        _supervisor(settings, sock).run()
    else:
        Server(settings).run(sockets=[sock])


def _supervisor(settings: TimedConfig, sock: socket.socket) -> Multiprocess:
    """uvicorn's worker supervisor on ``sock`` (older uvicorn releases, 0.40 among them,
    also take the server's ``run`` as ``target``)."""
    if "target" in inspect.signature(Multiprocess).parameters:
        run_server = Server(settings).run
        return Multiprocess(settings, target=run_server, sockets=[sock])  # type: ignore[call-arg]
    return Multiprocess(settings, sockets=[sock])
