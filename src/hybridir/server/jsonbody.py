"""JSON request bodies parsed with a bound on their nesting.

Why: FastAPI parses a body with ``json.loads``, which raises ``RecursionError`` past about
a thousand levels (turned into a vague 400), and a body nested a few hundred levels parses
but then exhausts the stack further on, when it is stored or encoded into a response (a
500). Nothing the API takes needs deep nesting, so bodies nested deeper than
:data:`MAX_JSON_DEPTH` are refused as invalid JSON: FastAPI answers a
``json.JSONDecodeError`` with a request validation error (a 422 problem here).

``NaN`` and ``Infinity`` literals are parsed as floats, as ``json.loads`` does: the request
models and the library's validation refuse them with a message naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays accepted in a request body."""


def loads_bounded(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse ``body`` as JSON nested at most ``max_depth`` levels.

    Raises:
        json.JSONDecodeError: not JSON, not UTF-8, an integer past Python's digit limit,
            or nested deeper than ``max_depth``.
    """
    deep = f"nested deeper than {max_depth} levels"
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError(deep, _text(body), 0) from None
    except ValueError as exc:  # UnicodeDecodeError; int digits over sys.get_int_max_str_digits
        raise json.JSONDecodeError(str(exc), _text(body), 0) from None
    if _deeper_than(value, max_depth):
        raise json.JSONDecodeError(deep, _text(body), 0)
    return value


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``max_depth`` levels (walked
    with an explicit stack, so a deep value cannot exhaust Python's)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if level > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children)
    return False


class BoundedJSONRequest(Request):
    """A request whose :meth:`json` is :func:`loads_bounded`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_bounded(await self.body())
        return self._json


class BoundedJSONRoute(APIRoute):
    """A FastAPI route whose handler reads JSON bodies through :class:`BoundedJSONRequest`
    (FastAPI's documented way to change how a route parses its body)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(BoundedJSONRequest(request.scope, request.receive))

        return bounded
