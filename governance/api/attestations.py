"""Signing attestations: verified at ingest, offline, against the pinned trust configuration."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime
from governance.api.errors import problem
from governance.api.schemas import MAX_INDEX
from governance.attestations.service import AttestationService
from governance.auth.keys import Principal, Role
from governance.errors import InputError, Unavailable

router = routing.router(prefix="/api/v1/attestations", tags=["attestations"])


class AttestationSubmission(BaseModel):
    """What a runner submits: the bundle (as JSON or base64 of its exact bytes) and its purpose."""

    model_config = ConfigDict(extra="forbid")

    bundle: dict[str, Any] | None = Field(
        None, description="a Sigstore bundle, DSSE envelope or model signature, as JSON"
    )
    bundle_base64: str | None = Field(
        None, description="the same, as base64 of the exact bytes (kept byte for byte)"
    )
    purpose: str = Field(
        ...,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="what the signature is for (no control characters)",
        examples=["model-signature", "build-provenance"],
    )
    expected_digest: str | None = Field(
        None, description="sha256:<hex> of the artifact the attestation must be about"
    )
    predicate_type: str | None = Field(
        None,
        max_length=500,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="the in-toto predicate type required",
    )


def _service(request: Request) -> AttestationService:
    service = runtime(request).attestations
    if service is None:
        raise Unavailable("attestation verification is not configured on this server")
    return service


def _bundle_bytes(body: AttestationSubmission) -> bytes:
    if (body.bundle is None) == (body.bundle_base64 is None):
        raise InputError("give exactly one of bundle (JSON) or bundle_base64")
    if body.bundle_base64 is not None:
        try:
            return base64.b64decode(body.bundle_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("bundle_base64 is not valid base64") from None
    return json.dumps(body.bundle, separators=(",", ":"), ensure_ascii=False).encode()


@router.post(
    "",
    status_code=201,
    summary="Verify and record an attestation (role ingest or admin)",
    responses={422: {"description": "verification failed; the problem names the reason code"}},
)
async def submit(
    request: Request,
    body: AttestationSubmission,
    principal: Annotated[Principal, Depends(require(Role.INGEST, Role.ADMIN))],
) -> JSONResponse:
    """201 with the verified facts and the ledger receipt; 422 with a reason code otherwise.

    Both verdicts are ledger entries whose payload is the raw bundle.
    """
    outcome = await _service(request).submit(
        _bundle_bytes(body),
        body.purpose,
        principal.key_id,
        expected_digest=body.expected_digest,
        predicate_type=body.predicate_type,
    )
    receipt = outcome.receipt.to_json()
    if outcome.failure is not None:
        return problem(
            422,
            outcome.failure.detail or outcome.failure.reason.value,
            code=f"attestation/{outcome.failure.reason.value}",
            instance=request.url.path,
            reason=outcome.failure.reason.value,
            index=outcome.receipt.index,
            receipt=receipt,
        )
    assert outcome.facts is not None
    return JSONResponse(
        {"verdict": "pass", "facts": outcome.facts.to_json(), "receipt": receipt},
        status_code=201,
        headers={"Location": f"/api/v1/attestations/{outcome.receipt.index}"},
    )


@router.get(
    "",
    summary="Verdicts recorded for an artifact (role auditor, gate or admin)",
    dependencies=[Depends(require(Role.AUDITOR, Role.GATE, Role.ADMIN))],
)
async def for_subject(
    request: Request,
    subject: Annotated[str, Query(description="sha256:<hex> of the artifact")],
) -> dict[str, Any]:
    """Every pass and fail recorded for the digest, oldest first."""
    rows = await run_in_threadpool(_service(request).for_subject, subject)
    return {"attestations": rows}


@router.get(
    "/{index}",
    summary="One recorded verdict (role auditor, gate or admin)",
    dependencies=[Depends(require(Role.AUDITOR, Role.GATE, Role.ADMIN))],
)
async def show(request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> dict[str, Any]:
    """The verdict recorded at a ledger index."""
    return await run_in_threadpool(_service(request).get, index)
