"""Request bodies read whole, within a size and a time limit, before the app sees them.

Why not a limit inside ``receive``: FastAPI reads a body inside a ``try`` that turns any
exception raised by ``receive`` into a 400 ("There was an error parsing the body"), so a
chunked body over the limit lost its 413, and a body that never arrives held a worker for
ever. Reading first lets this layer answer 413 or 408 itself, before any handler runs; the
app then reads the same messages, replayed. FastAPI holds a JSON body in memory anyway, so
buffering up to the limit costs nothing more.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybridir.server.problems import problem

CLOSE = {"connection": "close"}
"""Sent with an early answer: the rest of the body is never read, so the connection is
closed rather than parsed for a next request."""


class BodyTooLargeError(Exception):
    """The body grew past the limit while it streamed."""


class BufferedBody:
    """ASGI middleware: 413 for bodies over ``limit`` bytes (by Content-Length, or while
    a chunked body streams), 408 for bodies not complete ``timeout`` seconds after the
    request head, and the buffered body replayed to ``app`` otherwise."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _declared_within(scope, self.limit):
            await self._too_large(scope, receive, send)
            return
        try:
            with anyio.fail_after(self.timeout):
                messages = await read_body(receive, self.limit)
        except BodyTooLargeError:
            await self._too_large(scope, receive, send)
            return
        except TimeoutError:
            detail = f"the request body did not arrive within {self.timeout:g} s"
            await problem(408, "Request Timeout", detail, CLOSE)(scope, receive, send)
            return
        if messages[-1]["type"] == "http.disconnect":
            return  # the client left: nobody to answer
        await self.app(scope, replay(messages, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request bodies are limited to {self.limit} bytes"
        await problem(413, "Content Too Large", detail, CLOSE)(scope, receive, send)


def _declared_within(scope: Scope, limit: int) -> bool:
    """False for a Content-Length over ``limit`` or not a number (refused unread)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return value.isdigit() and int(value) <= limit
    return True


async def read_body(receive: Receive, limit: int) -> list[Message]:
    """The request's messages up to its last body part (or a disconnect).

    Raises:
        BodyTooLargeError: the parts add up to more than ``limit`` bytes.
    """
    messages: list[Message] = []
    seen = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLargeError
        if not message.get("more_body", False):
            return messages


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that answers ``messages`` first, then waits on the real one (for the
    disconnect a streaming response listens for)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
