"""The FastAPI app factory: the composition root of the HTTP service."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from governance.api import (
    attestations,
    docs,
    erasure,
    errors,
    evidence,
    gate,
    health,
    ledger,
    lineage,
    middleware,
    openapi,
    reports,
)
from governance.config import Settings
from governance.runtime import Runtime

log = logging.getLogger("governance.access")

DESCRIPTION = """\
Compliance and governance audit service for ML platforms.

Every accepted thing is an entry in an append-only, hash-chained Merkle ledger with signed
checkpoints (C2SP notes). Authenticate with `Authorization: Bearer <API key>` (the *Authorize*
button here); each operation names the roles it accepts. Errors are RFC 9457
`application/problem+json`.
"""


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
        reports.open_jobs(app, rt)
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            reports.close_jobs(app)
            if owned:
                rt.close()

    app = FastAPI(
        title="governance-audit",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is served from installed files (governance.api.docs), never a CDN; no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in (health, evidence, ledger, erasure, lineage, attestations, gate, reports, docs):
        app.include_router(module.router)
    openapi.install(app)
    middleware.install(app, settings.max_body_bytes)
    return app
