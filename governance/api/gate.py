"""The promotion gate over HTTP: decisions, replay, approvals and waivers (thin edge).

Everything is decided in :mod:`governance.gate`; this module checks roles, reads bodies and
parameters, and shapes the answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.openapi import problems
from governance.api.schemas import MAX_INDEX, ReceiptModel
from governance.auth.keys import Principal, Role
from governance.gate.request import DIGEST_PATTERN, GateRequest

router = routing.router(prefix="/api/v1", tags=["gate"], responses=problems(403))

_IDENTIFIER = r"^[^\x00-\x1f\x7f-\x9f]+$"
Digest = Annotated[
    str | None,
    Query(description="sha256:<64 lowercase hex> of the model", pattern=DIGEST_PATTERN),
]
Target = Annotated[
    str | None, Query(description="target environment", max_length=64, pattern=_IDENTIFIER)
]
Limit = Annotated[int, Query(ge=1, le=500, description="most items in one page")]
After = Annotated[
    int, Query(ge=-1, le=MAX_INDEX, description="only items after this ledger index (paging)")
]


class ControlResult(BaseModel):
    """One control's result, as the policies reported it and the catalog describes it."""

    model_config = ConfigDict(extra="allow")

    control: str
    status: Literal["pass", "fail", "not_applicable", "not_evaluated"]
    framework: str | None = None
    article: str | None = None
    title: str | None = None
    basis: str | None = None
    message: str | None = None
    subjects: list[str] = []
    evidence: list[Any] = []
    enforcement: str | None = None


class WaivedResult(ControlResult):
    """A failing control a waiver let through."""

    waiver_index: int = Field(description="ledger index of the waiver")


class ModelSummary(BaseModel):
    """The model a decision is about."""

    name: str
    version: str
    digest: str


class PolicyRef(BaseModel):
    """The bundle and engine that decided."""

    bundle_digest: str
    engine: str
    engine_version: str


class DecisionModel(BaseModel):
    """A promotion decision as recorded (and, just after it was made, its ledger receipt)."""

    decision_id: str
    index: int = Field(description="the decision's ledger index")
    allow: bool = Field(description="whether the pipeline may deploy (true in dry_run)")
    outcome: Literal["allow", "deny", "error"] = Field(description="what the policies decided")
    mode: Literal["enforce", "dry_run", "break_glass"]
    break_glass: bool
    model: ModelSummary
    target: str
    strategy: str
    requested_by: str = Field(description="the principal that asked")
    evaluated_at: str = Field(description="the time the evidence was taken as of (RFC 3339)")
    applicable: list[str] = Field(description="frameworks that apply to the model's data")
    evaluated: list[str] = Field(description="frameworks evaluated (a request can only narrow)")
    violations: list[ControlResult] = Field(description="failing controls that deny")
    warnings: list[ControlResult] = Field(description="failing controls that only warn")
    waived: list[WaivedResult] = Field(description="failing controls a valid waiver let through")
    results: list[ControlResult] = Field(
        description="every control's result (empty once the entry's payload was erased)"
    )
    conflicted: list[str] = Field(description="principals who may not approve this promotion")
    error: str | None = Field(description="why the engine could not decide (outcome error)")
    policy: PolicyRef
    input_sha256: str = Field(description="SHA-256 of the input document (RFC 8785), hex")
    receipt: ReceiptModel | None = Field(description="the entry's receipt, when just recorded")


class DecisionSummary(BaseModel):
    """A decision in a listing."""

    index: int
    decision_id: str
    model: ModelSummary
    target: str
    outcome: Literal["allow", "deny", "error"]
    allow: bool
    mode: Literal["enforce", "dry_run", "break_glass"]
    break_glass: bool
    requested_by: str
    evaluated_at: str
    violations: list[str]
    warnings: list[str]
    waived: list[str]
    policy: PolicyRef


class DecisionsPage(BaseModel):
    """Decisions, oldest first; ask again with ``after`` = the last index for more."""

    decisions: list[DecisionSummary]


class ReplayedOutcome(BaseModel):
    """An outcome and the controls behind it."""

    outcome: Literal["allow", "deny", "error"]
    violations: list[str]
    warnings: list[str]
    waived: list[str]
    policy: PolicyRef


class ReplayModel(BaseModel):
    """A recorded decision evaluated again on its recorded input."""

    decision_id: str
    reproduced: bool = Field(description="same bundle, outcome, controls and result statuses")
    differences: list[str]
    recorded: ReplayedOutcome
    replayed: ReplayedOutcome


class ApprovalRequest(BaseModel):
    """An approval of a model's promotion; the approver is the caller, never a body field."""

    model_config = ConfigDict(extra="forbid")

    digest: str = Field(pattern=DIGEST_PATTERN)
    target: str = Field(min_length=1, max_length=64, pattern=_IDENTIFIER)
    decision_id: str | None = Field(None, max_length=36, pattern=_IDENTIFIER)
    comment: str | None = Field(None, max_length=2000)


class ApprovalModel(BaseModel):
    """A recorded approval."""

    index: int
    digest: str
    target: str
    approver: str = Field(description="the approving principal")
    decision_id: str | None
    approved_at: str
    comment: str | None = Field(description="gone once the entry's payload is erased")


class ApprovalRecorded(ApprovalModel):
    """A recorded approval and its ledger receipt."""

    receipt: ReceiptModel


class ApprovalsPage(BaseModel):
    """Approvals, oldest first."""

    approvals: list[ApprovalModel]


class WaiverRequest(BaseModel):
    """An exception for one control on a model digest and target, until it expires."""

    model_config = ConfigDict(extra="forbid")

    control: str = Field(min_length=1, max_length=64, pattern=_IDENTIFIER, examples=["iso-a8.29"])
    digest: str = Field(pattern=DIGEST_PATTERN)
    target: str = Field(min_length=1, max_length=64, pattern=_IDENTIFIER)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime = Field(description="RFC 3339 with a zone; must be in the future")


class WaiverModel(BaseModel):
    """A recorded waiver (whether it still counts is the policies' decision at each gate)."""

    index: int
    control: str
    digest: str
    target: str
    approver: str
    granted_at: str
    expires_at: str
    reason: str | None = Field(description="gone once the entry's payload is erased")


class WaiverRecorded(WaiverModel):
    """A recorded waiver and its ledger receipt."""

    receipt: ReceiptModel


class WaiversPage(BaseModel):
    """Waivers, oldest first (expired ones included)."""

    waivers: list[WaiverModel]


def _location(response: Response, path: str) -> None:
    response.headers["Location"] = path


@router.post(
    "/gate/decisions",
    status_code=201,
    summary="Decide whether a model may be promoted, and record it (role gate or admin)",
    responses=problems((404, "the model's lineage node does not exist"), 503),
)
async def decide(
    request: Request,
    response: Response,
    body: GateRequest,
    principal: Annotated[Principal, Depends(require(Role.GATE, Role.ADMIN))],
) -> DecisionModel:
    """201 with the decision: allow or deny, each control's result, and the ledger receipt.

    The evidence comes from the ledger as of the decision, never from the request. An engine
    error or timeout is outcome ``error`` and ``allow`` false. ``dry_run`` is recorded and
    allows; ``break_glass`` (role admin, a reason) allows and is flagged.
    """
    decided = await runtime(request).gate.decide(
        body, submitter(principal), may_break_glass=principal.role is Role.ADMIN
    )
    _location(response, f"/api/v1/gate/decisions/{decided.record['decision_id']}")
    return DecisionModel.model_validate(decided.to_json())


@router.get(
    "/gate/decisions",
    summary="Recorded decisions, filtered (role gate, auditor or admin)",
    dependencies=[Depends(require(Role.GATE, Role.AUDITOR, Role.ADMIN))],
)
async def decisions(
    request: Request,
    digest: Digest = None,
    target: Target = None,
    outcome: Annotated[Literal["allow", "deny", "error"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="evaluated at or after (RFC 3339)")] = None,
    limit: Limit = 100,
    after: After = -1,
) -> DecisionsPage:
    """Decisions oldest first, by digest, target, outcome and time."""
    gate = runtime(request).gate
    found = await run_in_threadpool(
        gate.decisions,
        digest=digest,
        target=target,
        outcome=outcome,
        since=since,
        limit=limit,
        after=after,
    )
    return DecisionsPage.model_validate({"decisions": found})


@router.get(
    "/gate/decisions/{decision_id}",
    summary="One recorded decision (role gate, auditor or admin)",
    dependencies=[Depends(require(Role.GATE, Role.AUDITOR, Role.ADMIN))],
    responses=problems((404, "no such decision")),
)
async def show(request: Request, decision_id: str) -> DecisionModel:
    """The decision as recorded, every control result included."""
    found = await run_in_threadpool(runtime(request).gate.get, decision_id)
    return DecisionModel.model_validate(found.to_json())


@router.post(
    "/gate/decisions/{decision_id}/replay",
    summary="Evaluate a recorded decision's input again and compare (role auditor or admin)",
    dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))],
    responses=problems((404, "no such decision"), (409, "the decision's payload was erased"), 503),
)
async def replay(request: Request, decision_id: str) -> ReplayModel:
    """``reproduced`` is true when the bundle in force gives the recorded answer."""
    return ReplayModel.model_validate(await runtime(request).gate.replay(decision_id))


@router.post(
    "/approvals",
    status_code=201,
    summary="Approve a model's promotion to a target (role approver)",
    responses=problems(
        (404, "no such decision"),
        (409, "the caller requested, initiated or trained this promotion"),
        503,
    ),
)
async def approve(
    request: Request,
    response: Response,
    body: ApprovalRequest,
    principal: Annotated[Principal, Depends(require(Role.APPROVER))],
) -> ApprovalRecorded:
    """201 with the recorded approval; the approver is the authenticated principal."""
    found, receipt = await runtime(request).gate.approve(
        digest=body.digest,
        target=body.target,
        decision_id=body.decision_id,
        comment=body.comment,
        submitter=submitter(principal),
    )
    _location(response, f"/api/v1/approvals?digest={body.digest}")
    return ApprovalRecorded.model_validate({**found, "receipt": receipt.to_json()})


@router.get(
    "/approvals",
    summary="Recorded approvals (role approver, gate, auditor or admin)",
    dependencies=[Depends(require(Role.APPROVER, Role.GATE, Role.AUDITOR, Role.ADMIN))],
)
async def approvals(
    request: Request,
    digest: Digest = None,
    target: Target = None,
    limit: Limit = 100,
    after: After = -1,
) -> ApprovalsPage:
    """Approvals oldest first, by digest and target."""
    found = await run_in_threadpool(
        runtime(request).gate.approvals, digest=digest, target=target, limit=limit, after=after
    )
    return ApprovalsPage.model_validate({"approvals": found})


@router.post(
    "/waivers",
    status_code=201,
    summary="Waive one control for a model digest and target until a time (role approver or admin)",
    responses=problems((409, "the caller requested, initiated or trained this promotion"), 503),
)
async def waive(
    request: Request,
    response: Response,
    body: WaiverRequest,
    principal: Annotated[Principal, Depends(require(Role.APPROVER, Role.ADMIN))],
) -> WaiverRecorded:
    """201 with the recorded waiver; the approver is the authenticated principal."""
    found, receipt = await runtime(request).gate.waive(
        control=body.control,
        digest=body.digest,
        target=body.target,
        reason=body.reason,
        expires_at=body.expires_at,
        submitter=submitter(principal),
    )
    _location(response, f"/api/v1/waivers?digest={body.digest}")
    return WaiverRecorded.model_validate({**found, "receipt": receipt.to_json()})


@router.get(
    "/waivers",
    summary="Recorded waivers (role approver, gate, auditor or admin)",
    dependencies=[Depends(require(Role.APPROVER, Role.GATE, Role.AUDITOR, Role.ADMIN))],
)
async def waivers(
    request: Request,
    digest: Digest = None,
    target: Target = None,
    limit: Limit = 100,
    after: After = -1,
) -> WaiversPage:
    """Waivers oldest first, by digest and target, expired ones included."""
    found = await run_in_threadpool(
        runtime(request).gate.waivers, digest=digest, target=target, limit=limit, after=after
    )
    return WaiversPage.model_validate({"waivers": found})
