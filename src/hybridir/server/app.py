"""The FastAPI application: :func:`create_app` puts its parts together.

Where each part lives: the routes in :mod:`~hybridir.server.routes` (what they take from the
app, through :mod:`~hybridir.server.deps`), request bodies in
:mod:`~hybridir.server.schemas`, the served collections in :mod:`~hybridir.server.served`,
metrics in :mod:`~hybridir.server.metrics`, and errors, always RFC 9457 problem details
without stack traces, in :mod:`~hybridir.server.problems`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from hybridir._version import __version__
from hybridir.server.body import BufferedBody
from hybridir.server.config import ServerConfig
from hybridir.server.keys import Keys
from hybridir.server.metrics import Measured, Metrics
from hybridir.server.problems import EXCEPTION_HANDLERS, PROBLEM, ProblemError, problem
from hybridir.server.routes import router
from hybridir.server.served import check_collections, close_all, serve_all

__all__ = ["PROBLEM", "ProblemError", "check_collections", "create_app", "problem"]


def create_app(config: ServerConfig) -> FastAPI:
    """Build the service for ``config`` (collections are opened now, so a bad path fails
    at start-up rather than on the first request).

    Raises:
        HybridirError: a collection is missing, damaged or of another format version.

    Example:
        >>> app = create_app(ServerConfig({"docs": Path("collections/docs")}))  # doctest: +SKIP
        >>> uvicorn.run(app)  # doctest: +SKIP
    """
    app = FastAPIOffline(  # /docs and /redoc from packaged assets: no CDN, works offline
        title="hybridir",
        description="Hybrid sparse + dense search with per-hit explanations.",
        version=__version__,
        lifespan=_lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        static_url="/static/docs",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.state.config = config
    app.state.keys = Keys(config.api_keys)
    app.state.metrics = Metrics()
    app.state.served = serve_all(config)
    _install_middleware(app, config)
    app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    close_all(app.state.served)


def _install_middleware(app: FastAPI, config: ServerConfig) -> None:
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key"],
        )
    app.add_middleware(Measured, metrics=app.state.metrics)
    # outermost: bodies are refused (413, 408) before any other layer or handler runs
    app.add_middleware(BufferedBody, limit=config.max_body_bytes, timeout=config.body_timeout)
