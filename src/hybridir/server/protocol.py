"""uvicorn's HTTP/1.1 protocol with a deadline on each request head.

Why: uvicorn (h11 and httptools alike) times a connection out only while it idles *after* a
response (``timeout_keep_alive``), and any byte received cancels that timer. A client that
connects and sends nothing, or sends its request head a byte at a time (slowloris), holds
its connection, a file descriptor and a slot of ``limit_concurrency``, for ever. Here the
head must be complete within ``header_timeout`` seconds of the connection opening or of
the previous response ending; otherwise the connection is closed. Slow *bodies* are the
app's concern (:class:`hybridir.server.body.BufferedBody` answers them 408).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

DEFAULT_HEADER_TIMEOUT = 10.0


class TimedConfig(uvicorn.Config):
    """uvicorn's settings plus ``header_timeout`` (seconds), which
    :class:`HeaderTimeoutProtocol` reads; a module-level class, so the settings still
    pickle into ``--workers`` processes."""

    def __init__(
        self, app: Any, *, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


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
        self.header_timeout = (
            config.header_timeout if isinstance(config, TimedConfig) else DEFAULT_HEADER_TIMEOUT
        )
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a head arrived (or a 400 closed it)
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _expect_head(self) -> None:
        self._stop_head_timer()
        self.head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.debug("closing %s: no complete request head in time", self.client)
            self.transport.close()
