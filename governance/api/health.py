"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime
from governance.api.errors import problem
from governance.api.openapi import problem_response, problems
from governance.auth.keys import Role

router = routing.router(tags=["operations"])


class Health(BaseModel):
    """The process is serving requests."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """The service can take writes: the database answers and the checkpoint key is loaded."""

    status: Literal["ready"]
    tree_size: int = Field(description="entries in the ledger")
    key: str = Field(description="the checkpoint verifier key (C2SP note verifier key)")


@router.get("/healthz", summary="Liveness: the process is serving requests (no key needed)")
async def healthz() -> Health:
    """Always ``{"status": "ok"}`` while the process can answer."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers and the checkpoint key is loaded (no key needed)",
    response_model=Readiness,
    responses={503: problem_response(503, "not ready; the problem says why", headers={})},
)
async def readyz(request: Request) -> Response:
    """200 when the service can take writes, 503 problem+json otherwise."""
    rt = runtime(request)
    try:
        size, _root = await run_in_threadpool(rt.ledger.head)
    except Exception:  # noqa: BLE001 - any failure means not ready; details go to the log
        return problem(503, "the database is not reachable", code="not-ready")
    return Response(
        content=f'{{"status":"ready","tree_size":{size},"key":"{rt.signer.verifier_key}"}}',
        media_type="application/json",
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (role auditor or admin)",
    response_class=Response,
    dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))],
    responses={
        200: {
            "description": "the Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problems(403),
    },
)
async def metrics(request: Request) -> Response:
    """Appends, batch sizes, commit and append latencies, HTTP requests."""
    return Response(
        generate_latest(runtime(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
