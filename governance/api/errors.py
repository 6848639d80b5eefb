"""Maps the error tree to RFC 9457 problem documents. Nothing here ever shows a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from governance.errors import (
    AuthError,
    ConfigError,
    Conflict,
    Forbidden,
    GovernanceError,
    InputError,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:governance-audit:problem:"

_STATUS: list[tuple[type[GovernanceError], int]] = [
    (NotFound, 404),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (InputError, 400),
    (Conflict, 409),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (AuthError, 403),
    (Unavailable, 503),
    (LedgerError, 500),
    (ConfigError, 500),
]

#: The methods a 405's ``Allow`` header may name (RFC 9110 §9).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_for(error: GovernanceError) -> int:
    """The HTTP status for an error of the tree."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}{code}" if code else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _governance_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovernanceError)
    return response_for(exc, request.url.path)


def response_for(exc: GovernanceError, path: str) -> JSONResponse:
    """The problem document for an error of the tree, for routes and middleware alike.

    A 5xx other than 503 is logged and its detail withheld.
    """
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="governance"'
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    detail = exc.message
    if status >= 500 and not isinstance(exc, Unavailable):
        log.error("request failed: %s", exc.message, extra={"path": path})
        detail = "the server could not complete the request"
    errors = exc.errors if isinstance(exc, InputError) and exc.errors else None
    return problem(
        status,
        detail,
        code=exc.code,
        instance=path,
        headers=headers,
        hint=exc.hint if status < 500 else None,
        errors=errors,
    )


async def _body_rejected(request: Request, exc: Exception) -> JSONResponse:
    from governance.api.routing import BodyRejected

    assert isinstance(exc, BodyRejected)
    return response_for(exc.error, request.url.path)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route at the path only; a path served by
        # several routes (GET and POST /api/v1/lineage) must name them all (RFC 9110 §15.5.6).
        headers["Allow"] = allowed_methods(request)
    return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=headers)


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header for the request's path: every method some route serves there."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg"))}
        for err in exc.errors()
    ]
    return problem(
        400,
        "the request is invalid",
        code="invalid-input",
        instance=request.url.path,
        errors=errors,
    )


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""
    app.add_exception_handler(GovernanceError, _governance_error)
    from governance.api.routing import BodyRejected

    app.add_exception_handler(BodyRejected, _body_rejected)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
