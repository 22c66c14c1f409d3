"""RFC 9457 problem details: the one shape of every error the service answers, and the
exception handlers that give every error that shape."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    UnavailableError,
)

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM", "ProblemError", "problem"]

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[HybridirError], int]] = [
    (NotFoundError, 404),
    (InvalidInputError, 422),
    (ConfigError, 400),
    (MissingDependencyError, 501),
    (IndexFormatError, 500),
    (UnavailableError, 503),  # a shard of a sharded collection did not answer in time
    (HybridirError, 409),  # e.g. another process holds the writer lock
]


class ProblemError(Exception):
    """An HTTP error to answer as problem details."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem-details response (no stack trace, ever: ``detail`` is written for clients)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _on_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return problem(exc.status, exc.title, exc.detail)


async def _on_library(request: Request, exc: HybridirError) -> JSONResponse:
    status = next(code for cls, code in _STATUS if isinstance(exc, cls))
    title = {404: "Not Found", 422: "Unprocessable Content", 400: "Bad Request"}.get(
        status, "Conflict" if status == 409 else "Error"
    )
    return problem(status, title, str(exc))


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    parts = [_validation_message(e) for e in exc.errors()]
    return problem(422, "Unprocessable Content", "; ".join(parts)[:2000])


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(exc.status_code, str(exc.detail), str(exc.detail))


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    return problem(500, "Internal Server Error", "the server failed; see its log")


def _validation_message(error: Any) -> str:
    """``loc: msg`` of one validation error; for a body that is not JSON, with the parser's
    reason (FastAPI's message alone is "JSON decode error")."""
    where = ".".join(str(p) for p in error["loc"])
    reason = error.get("ctx", {}).get("error") if error["type"] == "json_invalid" else None
    return f"{where}: {error['msg']}" + (f" ({reason})" if reason else "")


EXCEPTION_HANDLERS: dict[
    int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]
] = {
    ProblemError: _on_problem,
    HybridirError: _on_library,
    RequestValidationError: _on_validation,
    StarletteHTTPException: _on_http,
    Exception: _on_crash,  # answered by the outermost layer, after the log records it
}
"""Exception class → handler answering it as problem details (FastAPI's
``exception_handlers``)."""
