"""What every request passes through before a route, outermost first.

1. :class:`AccessLog` — one log line and one metric sample per request; an unexpected error is
   logged once, with its traceback, and answered 500 without one.
2. :class:`SecurityHeaders` — headers that keep a browser from sniffing, framing or running
   anything the service answers.
3. :class:`CleanURL` — a path or query parameter with a control character is refused (400).
4. :class:`Authenticate` — the bearer key is checked before anything else of the request is
   read: no body is read or parsed for a caller without a valid key (401).
5. :class:`BodyLimit` — the body is read here, up to the limit, and handed to the route whole:
   one limit for every route, declared (``Content-Length``) or streamed (chunked) (413).

The routes then only check the caller's role (:func:`governance.api.deps.require`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.api.errors import problem
from governance.errors import GovernanceError, InputError, Unauthenticated
from governance.text import identifier_problem

if TYPE_CHECKING:
    from governance.runtime import Runtime

log = logging.getLogger("governance.access")

#: Where every path needs an API key: the API and the metrics. Anything else (liveness,
#: readiness, the documentation and its assets) is public, or does not exist (404).
PROTECTED_PREFIX = "/api/"
PROTECTED_PATHS = frozenset({"/metrics"})

_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The documentation page runs Swagger UI from /docs/assets and starts it with a script file of
# its own (governance.api.docs): nothing inline, nothing from another origin.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def needs_key(path: str) -> bool:
    """Whether a request for ``path`` must carry a valid API key."""
    return path.startswith(PROTECTED_PREFIX) or path in PROTECTED_PATHS


def _runtime(scope: Scope) -> Runtime:
    runtime: Runtime = scope["app"].state.runtime
    return runtime


async def _refuse(error: GovernanceError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``error`` as the exception handlers would (problem+json, the error's status)."""
    from governance.api.errors import response_for

    await response_for(error, scope.get("path", ""))(scope, receive, send)


class AccessLog:
    """One structured log line and one metric sample per request; the last resort for errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through, noting its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except Exception:
            # Client faults are answered by the exception handlers and never get here; this is
            # a bug. Logged once, here, with its traceback; the client sees none.
            log.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            if status == 0:
                status = 500
                await problem(500, "the server could not complete the request")(
                    scope, receive, send
                )
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
            outcome = str(status) if status else "disconnected"
            if runtime is not None:
                runtime.metrics.requests.labels(path, outcome).inc()
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status or None,
                        "outcome": outcome,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )


class SecurityHeaders:
    """Adds ``nosniff``, no framing, no referrer, no caching and a restrictive CSP everywhere.

    The documentation page gets the CSP it needs to run its own scripts and styles.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _DOCS_CSP if scope["path"].startswith("/docs") else _API_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class CleanURL:
    """Refuses a path or query parameter holding a control character (U+0000 included).

    No route, filter or database ever sees one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the decoded path and every decoded query name and value."""
        if scope["type"] == "http":
            found = identifier_problem(scope["path"])
            where = "the path"
            if found is None:
                query = scope.get("query_string", b"").decode("latin-1")
                for name, value in parse_qsl(query, keep_blank_values=True):
                    found = identifier_problem(name) or identifier_problem(value)
                    if found is not None:
                        where = f"query parameter {name!r}"
                        break
            if found is not None:
                await _refuse(InputError(f"{where} {found}"), scope, receive, send)
                return
        await self.app(scope, receive, send)


def bearer_token(scope: Scope) -> str:
    """The API key of ``Authorization: Bearer <key>``; :class:`Unauthenticated` otherwise."""
    values = [v for name, v in scope["headers"] if name == b"authorization"]
    if not values:
        raise Unauthenticated(
            "missing API key",
            hint="send 'Authorization: Bearer <key>'; see `governance keys create`",
        )
    if len(values) > 1:
        raise Unauthenticated("more than one Authorization header")
    header: str = values[0].decode("latin-1")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("malformed Authorization header; expected 'Bearer <key>'")
    return token


class Authenticate:
    """Checks the API key of every request to the API before reading its body.

    The principal goes into the request's state; routes check its role. A key is looked up in
    a worker thread (a database read) unless the key store verified it moments ago.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, or answer 401 without reading the request any further."""
        if scope["type"] != "http" or not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            token = bearer_token(scope)
            keys = _runtime(scope).keys
            principal = keys.cached(token)
            if principal is None:
                principal = await asyncio.to_thread(keys.authenticate, token)
        except GovernanceError as exc:
            await _refuse(exc, scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class BodyLimit:
    """Reads the request body up to the limit and hands it on whole; 413 above the limit.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read;
    a streamed body is refused as soon as it passes the limit. A client that goes away while
    sending its body gets no answer and is logged as disconnected, not as an error.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> InputError:
        from governance.errors import PayloadTooLarge

        return PayloadTooLarge(f"the body exceeds the limit of {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body within the limit, then run the app on it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for name, v in scope["headers"] if name == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                length = -1
            if length < 0 or len(declared) > 1:
                await _refuse(InputError("malformed Content-Length header"), scope, receive, send)
                return
            if length > self.max_bytes:
                await _refuse(self._too_large(), scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody is left to answer
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await _refuse(self._too_large(), scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return whole
            return await receive()

        await self.app(scope, replay, send)


def install(app: Any, max_body_bytes: int) -> None:
    """Add the middleware to ``app`` in the order of the module docstring."""
    # Starlette runs the middleware added last first.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(Authenticate)
    app.add_middleware(CleanURL)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
