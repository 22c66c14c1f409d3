"""FastAPI dependencies: what a route needs from the app serving it, and the key checks.

:func:`~hybridir.server.app.create_app` keeps the app's parts in ``app.state``
(``config``, ``served``, ``keys``, ``metrics``); routes take them as parameters annotated
with the aliases below (``config: ConfigDep``), never from a closure, so one module of
routes serves any number of apps.

The dependencies are ``async``: they only read ``app.state`` and compare a key, and FastAPI
runs a plain ``def`` dependency in its thread pool, one round trip per dependency per request
(five for a search).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Header, Request

from hybridir.server.config import NAME, ServerConfig
from hybridir.server.keys import Keys
from hybridir.server.metrics import Metrics
from hybridir.server.problems import ProblemError
from hybridir.server.served import Served

__all__ = [
    "ConfigDep",
    "KeysDep",
    "MetricsDep",
    "ServedDep",
    "lookup",
    "reader",
    "writer",
]


async def server_config(request: Request) -> ServerConfig:
    config: ServerConfig = request.app.state.config
    return config


async def served_collections(request: Request) -> Mapping[str, Served]:
    served: Mapping[str, Served] = request.app.state.served
    return served


async def api_keys(request: Request) -> Keys:
    keys: Keys = request.app.state.keys
    return keys


async def app_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


ConfigDep = Annotated[ServerConfig, Depends(server_config)]
ServedDep = Annotated[Mapping[str, Served], Depends(served_collections)]
KeysDep = Annotated[Keys, Depends(api_keys)]
MetricsDep = Annotated[Metrics, Depends(app_metrics)]


async def reader(
    config: ConfigDep, keys: KeysDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Let a read through: always, unless the server requires keys for reads.

    Raises:
        ProblemError: 401, a key is required and ``X-API-Key`` holds none of them.
    """
    if config.keys_for_reads and not keys.valid(x_api_key):
        raise ProblemError(401, "Unauthorized", "a valid X-API-Key header is required")


async def writer(keys: KeysDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Let a write through with a valid key.

    Raises:
        ProblemError: 403, the server has no keys (read-only); 401, ``X-API-Key`` holds
            none of them.
    """
    if not keys:
        raise ProblemError(
            403, "Forbidden", "writes are disabled: start the server with --api-key-file"
        )
    if not keys.valid(x_api_key):
        raise ProblemError(401, "Unauthorized", "a valid X-API-Key header is required")


def lookup(served: Mapping[str, Served], name: str) -> Served:
    """The collection served as ``name``.

    Why a function the handler calls, not a dependency: a dependency would run before the
    request body is validated, and a bad body must stay a 422 whatever the name.

    Raises:
        ProblemError: 404, no collection of that name.
    """
    if not NAME.match(name) or name not in served:
        raise ProblemError(404, "Not Found", f"no collection named {name!r}")
    return served[name]
