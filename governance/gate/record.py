"""How decisions, approvals and waivers are written into the ledger, and read back out of it.

Each is one entry. What names nobody, and what a listing filters on, goes in the **envelope**: the
model digest and target, the outcome, the control ids that failed or were waived, the policy bundle
and engine, the SHA-256 of the input document, and the submitting principal (``submitted_by``: the
requester of a decision, the approver of an approval or waiver). Free text and what the policies
saw go in the **payload**: a decision's input document and every control result, a break-glass
reason, an approval's comment, a waiver's reason. The rows of the gate's tables are rebuilt from
the two (:func:`decision_row`, :func:`approval_row`, :func:`waiver_row`); once a payload is erased
a row keeps what its envelope says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from governance.ledger import kinds
from governance.ledger.canonical import canonical_json
from governance.ledger.entries import AppendRequest, Submitter
from governance.ledger.projections import StoredEntry

DECISION_MEDIA_TYPE = "application/vnd.governance-audit.gate-decision+json"
APPROVAL_MEDIA_TYPE = "application/vnd.governance-audit.approval+json"
WAIVER_MEDIA_TYPE = "application/vnd.governance-audit.waiver+json"

#: What a row says for a waiver whose reason was erased with its payload.
ERASED = "(erased)"

#: The envelope fields of a decision that its listing shows (the summary column keeps them).
SUMMARY_FIELDS = (
    "strategy",
    "applicable",
    "evaluated",
    "violations",
    "warnings",
    "waived",
    "conflicted",
    "policy",
    "input_sha256",
    "error",
    "break_glass",
)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as the gate records it (every field of the entry, envelope and payload)."""

    decision_id: str
    digest: str
    model_name: str
    model_version: str
    target: str
    strategy: str
    mode: str
    outcome: str
    allow: bool
    evaluated_at: str
    applicable: Sequence[str]
    evaluated: Sequence[str]
    violations: Sequence[str]
    warnings: Sequence[str]
    waived: Sequence[Mapping[str, Any]]
    conflicted: Sequence[str]
    policy: Mapping[str, str]
    input_sha256: str
    error: str | None
    input: Mapping[str, Any]
    results: Sequence[Mapping[str, Any]]
    reason: str | None


def input_bytes(document: Mapping[str, Any]) -> bytes:
    """The input document as recorded and hashed (RFC 8785)."""
    return canonical_json(dict(document))


def decision_request(record: DecisionRecord, submitter: Submitter) -> AppendRequest:
    """The ledger entry recording one decision (see the module docstring)."""
    fields: dict[str, Any] = {
        "decision_id": record.decision_id,
        "digest": record.digest,
        "model_name": record.model_name,
        "model_version": record.model_version,
        "target": record.target,
        "strategy": record.strategy,
        "mode": record.mode,
        "outcome": record.outcome,
        "allow": record.allow,
        "evaluated_at": record.evaluated_at,
        "applicable": list(record.applicable),
        "evaluated": list(record.evaluated),
        "violations": list(record.violations),
        "warnings": list(record.warnings),
        "waived": [dict(w) for w in record.waived],
        "conflicted": list(record.conflicted),
        "policy": dict(record.policy),
        "input_sha256": record.input_sha256,
        "error": record.error,
        "break_glass": record.mode == "break_glass",
        **submitter.fields(),
    }
    payload = {
        "input": dict(record.input),
        "results": [dict(r) for r in record.results],
        "reason": record.reason,
    }
    return AppendRequest(
        kinds.GATE_DECISION.name,
        canonical_json(payload),
        DECISION_MEDIA_TYPE,
        [{"sha256": record.digest.removeprefix("sha256:")}],
        fields,
        # Each request is a new decision: its id (a fresh UUID) is the idempotency key.
        record.decision_id,
    )


def approval_request(
    *, digest: str, target: str, decision_id: str | None, comment: str | None, submitter: Submitter
) -> AppendRequest:
    """The ledger entry recording one approval; a retry by the same approver returns it."""
    fields: dict[str, Any] = {"digest": digest, "target": target, **submitter.fields()}
    if decision_id is not None:
        fields["decision_id"] = decision_id
    key = f"{submitter.principal}\n{digest}\n{target}\n{decision_id or ''}"
    return AppendRequest(
        kinds.APPROVAL.name,
        canonical_json({"comment": comment}),
        APPROVAL_MEDIA_TYPE,
        [{"sha256": digest.removeprefix("sha256:")}],
        fields,
        key,
    )


def waiver_request(
    *,
    control: str,
    digest: str,
    target: str,
    expires_at: str,
    reason: str,
    submitter: Submitter,
) -> AppendRequest:
    """The ledger entry recording one waiver; a retry by the same approver returns it."""
    fields: dict[str, Any] = {
        "control": control,
        "digest": digest,
        "target": target,
        "expires_at": expires_at,
        **submitter.fields(),
    }
    key = f"{submitter.principal}\n{control}\n{digest}\n{target}\n{expires_at}"
    return AppendRequest(
        kinds.WAIVER.name,
        canonical_json({"reason": reason}),
        WAIVER_MEDIA_TYPE,
        [{"sha256": digest.removeprefix("sha256:")}],
        fields,
        key,
    )


def _payload(entry: StoredEntry) -> dict[str, Any]:
    if entry.payload is None:
        return {}
    parsed: dict[str, Any] = json.loads(entry.payload)
    return parsed


def decision_row(entry: StoredEntry) -> dict[str, Any]:
    """The ``gate_decisions`` row a decision entry says."""
    envelope = entry.fields()
    payload = _payload(entry)
    results = payload.get("results")
    return {
        "ledger_index": entry.index,
        "decision_id": envelope["decision_id"],
        "digest": envelope["digest"],
        "model_name": envelope["model_name"],
        "model_version": envelope["model_version"],
        "target": envelope["target"],
        "outcome": envelope["outcome"],
        "allow": bool(envelope["allow"]),
        "mode": envelope["mode"],
        "requested_by": envelope["submitted_by"],
        "evaluated_at": envelope["evaluated_at"],
        "summary": canonical_json({k: envelope.get(k) for k in SUMMARY_FIELDS}).decode(),
        "results": None if results is None else canonical_json(results).decode(),
    }


def approval_row(entry: StoredEntry) -> dict[str, Any]:
    """The ``gate_approvals`` row an approval entry says."""
    envelope = entry.fields()
    return {
        "ledger_index": entry.index,
        "digest": envelope["digest"],
        "target": envelope["target"],
        "approver": envelope["submitted_by"],
        "decision_id": envelope.get("decision_id"),
        "approved_at": envelope["received_at"],
        "comment": _payload(entry).get("comment"),
    }


def waiver_row(entry: StoredEntry) -> dict[str, Any]:
    """The ``gate_waivers`` row a waiver entry says."""
    envelope = entry.fields()
    return {
        "ledger_index": entry.index,
        "control": envelope["control"],
        "digest": envelope["digest"],
        "target": envelope["target"],
        "approver": envelope["submitted_by"],
        "granted_at": envelope["received_at"],
        "expires_at": envelope["expires_at"],
        "reason": _payload(entry).get("reason"),
    }
