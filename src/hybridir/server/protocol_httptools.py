"""uvicorn's httptools protocol with the request-head deadline of
:mod:`hybridir.server.protocol` (importing this module needs ``httptools``).

When a head is awaited: from the connection's opening, and from the end of each response
unless the next request's head is already complete (pipelined). llhttp parses everything it
receives, so a head that completes while the previous response is still being produced is
seen at once (:meth:`on_headers_complete`), and a partial one is still partial when that
response ends, which starts its deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools  # noqa: F401  (the ImportError that makes the h11 protocol the fallback)
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hybridir.server.protocol import HeadDeadline, header_timeout_of

__all__ = ["HttpToolsHeaderTimeoutProtocol"]


class HttpToolsHeaderTimeoutProtocol(HttpToolsProtocol):
    """:class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` that closes a
    connection whose request head is not complete in time (pass it to uvicorn as
    ``http=``)."""

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

    def on_headers_complete(self) -> None:
        self.head_deadline.stop()  # first: an upgrade returns from the parent early
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        # ``cycle`` is the last request whose head arrived; complete: no head is pending
        if not self.transport.is_closing() and self.cycle.response_complete:
            self.head_deadline.start()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_deadline.stop()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        if not self.transport.is_closing():
            self.logger.debug("closing %s: no complete request head in time", self.client)
            self.transport.close()
