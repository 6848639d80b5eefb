"""The FastAPI app factory: the composition root of the HTTP service."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.api import attestations, erasure, errors, evidence, health, ledger, lineage
from governance.api.errors import problem
from governance.config import Settings
from governance.errors import PayloadTooLarge
from governance.runtime import Runtime

log = logging.getLogger("governance.access")

DESCRIPTION = """\
Compliance and governance audit service for ML platforms.

Every accepted thing is an entry in an append-only, hash-chained Merkle ledger with signed
checkpoints (C2SP notes). Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457
`application/problem+json`.
"""


class BodyLimit:
    """Rejects request bodies over the limit with 413 before the route sees them.

    A declared ``Content-Length`` over the limit is answered at once; a streamed (chunked) body is
    counted as it arrives and the route's read fails with :class:`PayloadTooLarge`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the streamed bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    response = problem(400, "malformed Content-Length header", code="invalid-input")
                    await response(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    response = problem(
                        413,
                        f"the body exceeds the limit of {self.max_bytes} bytes",
                        code="payload-too-large",
                    )
                    await response(scope, receive, send)
                    return
        seen = 0
        limit = self.max_bytes

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
            return message

        await self.app(scope, counted, send)


class AccessLog:
    """One structured log line and one metric sample per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through, noting its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            rt: Runtime | None = scope["app"].state.runtime if "app" in scope else None
            if rt is not None:
                rt.metrics.requests.labels(path, str(status)).inc()
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )


def create_app(
    settings: Settings, runtime: Runtime | None = None, *, freeze_heap: bool = False
) -> FastAPI:
    """Build the app; without ``runtime`` it opens one for its lifetime (migrations applied).

    ``freeze_heap`` (for a process that serves this app and nothing else): once started, move
    everything alive into the collector's permanent generation (``gc.freeze``). The modules,
    schemas and trust material loaded at start are hundreds of thousands of objects that never
    die; without this every full collection walks them again, a pause of ~100 ms that a large
    lineage query triggers.
    """
    owned = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = app.state.runtime
        if rt is None:
            rt = Runtime.open(settings, attestations=True)
            app.state.runtime = rt
        rt.start()
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if owned:
                rt.close()

    app = FastAPI(
        title="governance-audit",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in (health, evidence, ledger, erasure, lineage, attestations):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app
