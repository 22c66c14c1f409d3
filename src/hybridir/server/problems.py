"""RFC 9457 problem details: the one shape of every error the service answers."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


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
