"""Signing attestations: verified at ingest, offline, against the pinned trust configuration."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.errors import problem
from governance.api.openapi import problems
from governance.api.schemas import MAX_INDEX, ReceiptModel
from governance.attestations.facts import Format, SigningMode
from governance.attestations.service import AttestationService
from governance.auth.keys import Principal, Role
from governance.errors import InputError, Unavailable

router = routing.router(
    prefix="/api/v1/attestations",
    tags=["attestations"],
    # Every route needs the verifier, which a server may run without (503 then).
    responses=problems(
        403, (503, "attestation verification is not configured here, or the ledger is saturated")
    ),
)


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
        None,
        description="sha256:<hex> of the artifact the attestation must be about",
        # Documented only: verification checks it and answers 400 with its own message.
        json_schema_extra={"pattern": "^sha256:[0-9a-fA-F]{64}$"},
    )
    predicate_type: str | None = Field(
        None,
        max_length=500,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="the in-toto predicate type required",
    )


class Signer(BaseModel):
    """Who signed: a certificate identity and issuer, or a registered key."""

    identity: str | None = Field(description="the certificate's identity (SAN)")
    issuer: str | None = Field(description="the OIDC issuer of a keyless certificate")
    key_id: str | None = Field(description="the registered key that verified the signature")


class DigestedSubject(BaseModel):
    """An in-toto subject: a name and its digests by algorithm."""

    name: str
    digest: dict[str, str]


class Material(BaseModel):
    """A build input the provenance lists."""

    uri: str
    digest: dict[str, str]


class TransparencyLog(BaseModel):
    """Where the signature is in the transparency log, when it is."""

    integrated_time: str | None
    log_index: int | None


class Provenance(BaseModel):
    """Build facts from a SLSA provenance predicate (or a Fulcio certificate's CI claims)."""

    builder_id: str | None
    build_type: str | None
    source_repo: str | None
    source_ref: str | None
    source_digest: dict[str, str]
    materials: list[Material]


class SignedModel(BaseModel):
    """The model a model-signing signature is about."""

    name: str | None
    digest: str | None


class VerifiedFactsModel(BaseModel):
    """What a successful verification proves (times are RFC 3339, UTC)."""

    format: Format
    mode: SigningMode
    media_type: str | None
    signer: Signer
    trusted_root: str | None
    trust_config_digest: str
    signing_time: str = Field(description="the earliest verified time of signing")
    signing_time_source: str = Field(
        description="transparency_log, timestamp_authority, certificate_not_before or "
        "verification_time"
    )
    predicate_type: str | None
    subjects: list[DigestedSubject]
    artifact_digest: str | None
    tlog: TransparencyLog
    timestamps: list[str]
    provenance: Provenance
    model: SignedModel


class AttestationPass(BaseModel):
    """A verified attestation: the facts it proves and the ledger receipt of the verdict."""

    verdict: Literal["pass"]
    facts: VerifiedFactsModel
    receipt: ReceiptModel


class Verdict(BaseModel):
    """A recorded verdict, pass or fail."""

    index: int = Field(description="the verdict's ledger index")
    purpose: str
    verdict: Literal["pass", "fail"]
    reason: str | None = Field(description="the reason code of a failure")
    detail: str | None = Field(description="what failed (gone once the payload is erased)")
    expected_digest: str | None
    facts: VerifiedFactsModel | None = Field(description="what a pass proved")
    verified_at: str = Field(description="when the verdict was recorded (RFC 3339)")


class Verdicts(BaseModel):
    """The verdicts recorded for an artifact, oldest first."""

    attestations: list[Verdict]


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
    response_model=AttestationPass,
    responses={
        201: {
            "headers": {
                "Location": {
                    "description": "the recorded verdict: /api/v1/attestations/{index}",
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        },
        **problems(
            (409, "this submission was recorded before with another verdict or detail"),
            (
                422,
                "verification failed: `reason` is the reason code, `receipt` the ledger receipt "
                "of the recorded failure",
            ),
        ),
    },
)
async def submit(
    request: Request,
    response: Response,
    body: AttestationSubmission,
    principal: Annotated[Principal, Depends(require(Role.INGEST, Role.ADMIN))],
) -> AttestationPass | JSONResponse:
    """201 with the verified facts and the ledger receipt; 422 with a reason code otherwise.

    Both verdicts are ledger entries whose payload is the raw bundle.
    """
    outcome = await _service(request).submit(
        _bundle_bytes(body),
        body.purpose,
        submitter(principal),
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
    response.headers["Location"] = f"/api/v1/attestations/{outcome.receipt.index}"
    return AttestationPass.model_validate(
        {"verdict": "pass", "facts": outcome.facts.to_json(), "receipt": receipt}
    )


@router.get(
    "",
    summary="Verdicts recorded for an artifact (role auditor, gate or admin)",
    dependencies=[Depends(require(Role.AUDITOR, Role.GATE, Role.ADMIN))],
)
async def for_subject(
    request: Request,
    subject: Annotated[
        str,
        Query(
            description="sha256:<hex> of the artifact",
            # Documented only: the service checks it and answers 400 with its own message.
            json_schema_extra={"pattern": "^(sha256:)?[0-9a-fA-F]{64}$"},
        ),
    ],
) -> Verdicts:
    """Every pass and fail recorded for the digest, oldest first."""
    rows = await run_in_threadpool(_service(request).for_subject, subject)
    return Verdicts.model_validate({"attestations": rows})


@router.get(
    "/{index}",
    summary="One recorded verdict (role auditor, gate or admin)",
    dependencies=[Depends(require(Role.AUDITOR, Role.GATE, Role.ADMIN))],
    responses=problems((404, "no verdict at that index")),
)
async def show(request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> Verdict:
    """The verdict recorded at a ledger index."""
    return Verdict.model_validate(await run_in_threadpool(_service(request).get, index))
