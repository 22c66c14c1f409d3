"""uvicorn's HTTP/1.1 protocols with a deadline on each request head, and the choice of one.

Why: uvicorn (h11 and httptools alike) times a connection out only while it idles *after* a
response (``timeout_keep_alive``), and any byte received cancels that timer. A client that
connects and sends nothing, or sends its request head a byte at a time (slowloris), holds
its connection, a file descriptor and a slot of ``limit_concurrency``, for ever. Here the
head must be complete within ``header_timeout`` seconds of the connection opening or of
the previous response ending; otherwise the connection is closed. Slow *bodies* are the
app's concern (:class:`hybridir.server.body.BufferedBody` answers them 408).

Two parsers carry the deadline: :class:`HeaderTimeoutProtocol` on h11 (pure Python, always
installed with uvicorn) and, in :mod:`hybridir.server.protocol_httptools`, one on httptools
(llhttp in C), the default when ``httptools`` is importable (:func:`http_protocol`): it
parses a request in a fraction of h11's time, which is most of the server's per-request
overhead once a search itself takes about a millisecond.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, get_args

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from hybridir.errors import ConfigError

DEFAULT_HEADER_TIMEOUT = 10.0

HttpChoice = Literal["auto", "httptools", "h11"]
"""Which HTTP/1.1 parser serves: ``auto`` is httptools when installed, else h11."""

HTTP_CHOICES: tuple[str, ...] = get_args(HttpChoice)


class TimedConfig(uvicorn.Config):
    """uvicorn's settings plus ``header_timeout`` (seconds), which the protocols here read;
    a module-level class, so the settings still pickle into ``--workers`` processes."""

    def __init__(
        self, app: Any, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


def header_timeout_of(config: uvicorn.Config) -> float:
    """The head deadline ``config`` sets (the default for a plain ``uvicorn.Config``)."""
    return config.header_timeout if isinstance(config, TimedConfig) else DEFAULT_HEADER_TIMEOUT


class HeadDeadline:
    """One connection's timer for its next request head: :meth:`start` when a head is
    awaited, :meth:`stop` when one is complete (or the connection is lost); ``expired`` is
    called if neither came first."""

    __slots__ = ("expired", "loop", "seconds", "timer")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, seconds: float, expired: Callable[[], None]
    ) -> None:
        self.loop, self.seconds, self.expired = loop, seconds, expired
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Await a head from now (restarts a running deadline)."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(self.seconds, self._fire)

    def stop(self) -> None:
        """A head arrived, or the connection is gone: no deadline."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fire(self) -> None:
        self.timer = None
        self.expired()


class HeaderTimeoutProtocol(H11Protocol):
    """:class:`~uvicorn.protocols.http.h11_impl.H11Protocol` that closes a connection whose
    request head is not complete in time (pass it to uvicorn as ``http=``)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout_of(config)
        self.head_deadline = HeadDeadline(self.loop, self.header_timeout, self._head_timed_out)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_deadline.start()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a head arrived (or a 400 closed it)
            self.head_deadline.stop()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.head_deadline.start()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_deadline.stop()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.debug("closing %s: no complete request head in time", self.client)
            self.transport.close()


def http_protocol(choice: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class (uvicorn's ``http=``) for ``choice``, one of :data:`HTTP_CHOICES`.

    Raises:
        ConfigError: ``choice`` is none of them, or ``httptools`` is asked for and not
            installed.
    """
    if choice not in HTTP_CHOICES:
        raise ConfigError(f"--http must be one of {', '.join(HTTP_CHOICES)}, got {choice!r}")
    if choice == "h11":
        return HeaderTimeoutProtocol
    try:
        from hybridir.server.protocol_httptools import HttpToolsHeaderTimeoutProtocol
    except ImportError as exc:
        if choice == "httptools":
            raise ConfigError(
                "--http httptools needs the httptools package (pip install 'hybridir[server]')"
            ) from exc
        return HeaderTimeoutProtocol
    return HttpToolsHeaderTimeoutProtocol
