"""The promotion gate: decide, record, look up and replay decisions; record approvals and waivers.

A decision, in order:

1. check the request (a break-glass decision needs the admin role and a reason);
2. fix ``evaluated_at`` (now) and assemble the input document from the ledger as of that time
   (:mod:`governance.gate.evidence`);
3. evaluate the bundle in force on it; an engine error or timeout is outcome ``error``, never an
   allow (:func:`governance.policy.engine.decide`);
4. apply the mode: ``enforce`` allows what the policies allow; ``dry_run`` records the outcome but
   allows; ``break_glass`` allows, and is flagged in the entry;
5. append the decision entry (the input document is its payload) and answer with its receipt.

The policy engine is started on the first decision, not with the service: a server or command that
never decides never starts one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.errors import Conflict, Forbidden, InputError, NotFound
from governance.gate import record
from governance.gate.evidence import EvidenceAssembler
from governance.gate.request import DIGEST_PATTERN, GateRequest
from governance.ledger.entries import Receipt, Submitter
from governance.ledger.store import Ledger
from governance.lineage.queries import LineageQueries
from governance.policy.engine import Decision
from governance.policy.service import PolicyService
from governance.sql import MAX_BIGINT
from governance.text import check_identifier
from governance.timefmt import format_time, time_key

__all__ = ["GateService", "RecordedDecision"]

#: Most rows one listing returns.
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """A decision as recorded, with the receipt of its ledger entry when just appended."""

    index: int
    record: Mapping[str, Any]
    receipt: Receipt | None = None

    def to_json(self) -> dict[str, Any]:
        """The decision as the API answers it."""
        body = dict(self.record)
        body["index"] = self.index
        body["receipt"] = None if self.receipt is None else self.receipt.to_json()
        return body


class GateService:
    """Promotion decisions, approvals and waivers (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        queries: LineageQueries,
        policy: Callable[[], PolicyService],
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._evidence = EvidenceAssembler(engine, ledger, queries)
        self._policy_factory = policy
        self._policy: PolicyService | None = None
        self._policy_lock = threading.Lock()

    def policy(self) -> PolicyService:
        """The policy service, started on first use."""
        with self._policy_lock:
            if self._policy is None:
                self._policy = self._policy_factory()
            return self._policy

    def close(self) -> None:
        """Stop the policy engine, if it was started."""
        with self._policy_lock:
            if self._policy is not None:
                self._policy.close()
                self._policy = None

    # -- decisions ---------------------------------------------------------------------------

    async def decide(
        self, request: GateRequest, submitter: Submitter, *, may_break_glass: bool
    ) -> RecordedDecision:
        """Decide ``request`` and record the decision (module docstring, steps 1-5)."""
        # 1. The request.
        if request.mode == "break_glass":
            if not may_break_glass:
                raise Forbidden("a break-glass decision needs the role admin")
            if not request.reason:
                raise InputError("a break-glass decision needs a reason")
        # 2-3. The evidence as of now, and the policies' decision on it.
        evaluated_at = datetime.now(UTC)
        document, decision = await asyncio.to_thread(
            self._evaluate, request, submitter.principal, evaluated_at
        )
        # 4. The mode.
        allow = decision.allow if request.mode == "enforce" else True
        # 5. The entry.
        entry = _record(request, document, decision, allow, evaluated_at)
        receipt = await self._ledger.append_async(record.decision_request(entry, submitter))
        return RecordedDecision(
            receipt.index, _answer(entry, submitter.principal, decision.results), receipt
        )

    def _evaluate(
        self, request: GateRequest, requested_by: str, evaluated_at: datetime
    ) -> tuple[dict[str, Any], Decision]:
        document = self._evidence.assemble(request, requested_by, evaluated_at).model_dump(
            mode="json"
        )
        return document, self.policy().decide(document)

    def get(self, decision_id: str) -> RecordedDecision:
        """A recorded decision by id; :class:`NotFound` otherwise."""
        check_identifier(decision_id, "decision id")
        with self._engine.connect() as conn:
            row = conn.execute(
                text(f"{_DECISION_SELECT} WHERE decision_id = :decision_id"),
                {"decision_id": decision_id},
            ).first()
        if row is None:
            raise NotFound(f"no decision {decision_id!r}")
        return _recorded(row)

    def decisions(
        self,
        *,
        digest: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        after: int = -1,
    ) -> list[dict[str, Any]]:
        """Recorded decisions, oldest first, filtered; keyset-paged by ledger index."""
        clauses = ["ledger_index > :after"]
        params: dict[str, Any] = {"after": after, "limit": min(limit, MAX_LIMIT)}
        if digest is not None:
            clauses.append("digest = :digest")
            params["digest"] = _checked_digest(digest)
        if target is not None:
            clauses.append("target = :target")
            params["target"] = check_identifier(target, "target")
        if outcome is not None:
            if outcome not in ("allow", "deny", "error"):
                raise InputError("outcome must be allow, deny or error")
            clauses.append("outcome = :outcome")
            params["outcome"] = outcome
        if since is not None:
            clauses.append("evaluated_at >= :since")
            params["since"] = time_key(since, name="since")
        where = " AND ".join(clauses)
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(f"{_DECISION_SELECT} WHERE {where} ORDER BY ledger_index LIMIT :limit"),
                params,
            ).all()
        return [_summary(_recorded(row)) for row in rows]

    async def replay(self, decision_id: str) -> dict[str, Any]:
        """Evaluate a recorded decision's input again with the bundle in force, and compare.

        The recorded input is checked against its recorded SHA-256 first. The replay reproduces
        the decision when the bundle in force is the recorded one and the outcome, the failing
        and waived controls and every result's status are the same.
        """
        recorded = self.get(decision_id)
        payload = await asyncio.to_thread(self._ledger.payload, recorded.index)
        if payload is None:
            raise Conflict(f"decision {decision_id!r} was erased: its input cannot be replayed")
        document = json.loads(payload)["input"]
        if (
            hashlib.sha256(record.input_bytes(document)).hexdigest()
            != recorded.record["input_sha256"]
        ):
            raise Conflict(
                f"decision {decision_id!r}: the recorded input does not match its digest"
            )
        decision = await asyncio.to_thread(self.policy().decide, document)
        then = recorded.record
        now = {
            "outcome": decision.outcome,
            "violations": [r["control"] for r in decision.violations],
            "warnings": [r["control"] for r in decision.warnings],
            "waived": [r["control"] for r in decision.waived],
            "policy": {"bundle_digest": decision.bundle_digest, **decision.engine.to_json()},
        }
        differences = []
        if then["policy"]["bundle_digest"] != decision.bundle_digest:
            differences.append(
                f"the bundle in force ({decision.bundle_digest}) is not the recorded one "
                f"({then['policy']['bundle_digest']})"
            )
        for key in ("outcome", "violations", "warnings"):
            was = then[key] if key == "outcome" else [r["control"] for r in then[key]]
            if was != now[key]:
                differences.append(f"{key}: recorded {was}, replayed {now[key]}")
        was_waived = [r["control"] for r in then["waived"]]
        if was_waived != now["waived"]:
            differences.append(f"waived: recorded {was_waived}, replayed {now['waived']}")
        if then["results"]:
            statuses = {r["control"]: r["status"] for r in then["results"]}
            changed = sorted(
                r["control"] for r in decision.results if statuses.get(r["control"]) != r["status"]
            )
            if changed or len(statuses) != len(decision.results):
                differences.append(f"results differ for: {', '.join(changed) or 'the control set'}")
        return {
            "decision_id": decision_id,
            "reproduced": not differences,
            "differences": differences,
            "recorded": {
                "outcome": then["outcome"],
                "violations": [r["control"] for r in then["violations"]],
                "warnings": [r["control"] for r in then["warnings"]],
                "waived": was_waived,
                "policy": then["policy"],
            },
            "replayed": now,
        }

    # -- approvals and waivers ---------------------------------------------------------------

    def _conflicted(self, digest: str, target: str, decision_id: str | None) -> set[str]:
        """Who may not approve or waive (the policies' ``conflicted``, and the requester).

        Taken from the recorded decisions for the digest and target, or from the one named.
        """
        if decision_id is not None:
            found = self.get(decision_id).record
            if found["model"]["digest"] != digest or found["target"] != target:
                raise InputError(
                    f"decision {decision_id!r} is about {found['model']['digest']} to "
                    f"{found['target']}, not {digest} to {target}"
                )
            return {found["requested_by"], *found["conflicted"]}
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT requested_by, summary FROM gate_decisions "
                    "WHERE digest = :digest AND target = :target"
                ),
                {"digest": digest, "target": target},
            ).all()
        names: set[str] = set()
        for requested_by, summary in rows:
            names.add(requested_by)
            names.update(json.loads(summary).get("conflicted") or ())
        return names

    async def approve(
        self,
        *,
        digest: str,
        target: str,
        decision_id: str | None,
        comment: str | None,
        submitter: Submitter,
    ) -> tuple[dict[str, Any], Receipt]:
        """Record an approval by ``submitter``; :class:`Conflict` (409) for one who may not."""
        _checked_digest(digest)
        check_identifier(target, "target")
        conflicted = await asyncio.to_thread(self._conflicted, digest, target, decision_id)
        if submitter.principal in conflicted:
            raise Conflict(
                f"{submitter.principal} requested, initiated or trained this promotion and may "
                "not approve it (segregation of duties)"
            )
        try:
            receipt = await self._ledger.append_async(
                record.approval_request(
                    digest=digest,
                    target=target,
                    decision_id=decision_id,
                    comment=comment,
                    submitter=submitter,
                )
            )
        except Conflict:
            raise Conflict(
                f"{submitter.principal} already approved {digest} for {target}"
                + (f" (decision {decision_id})" if decision_id else "")
                + " with another comment; an approval is recorded once"
            ) from None
        return self.approval(receipt.index), receipt

    async def waive(
        self,
        *,
        control: str,
        digest: str,
        target: str,
        reason: str,
        expires_at: datetime,
        submitter: Submitter,
    ) -> tuple[dict[str, Any], Receipt]:
        """Record a waiver by ``submitter``; :class:`Conflict` (409) for one who may not."""
        _checked_digest(digest)
        check_identifier(target, "target")
        if control not in {c.id for c in self.policy().bundle.controls()}:
            raise InputError(f"no control {control[:64]!r} in the policy bundle's catalog")
        expires = time_key(expires_at, name="expires_at")
        if expires <= format_time(datetime.now(UTC)):
            raise InputError("expires_at must be in the future")
        conflicted = await asyncio.to_thread(self._conflicted, digest, target, None)
        if submitter.principal in conflicted:
            raise Conflict(
                f"{submitter.principal} requested, initiated or trained this promotion and may "
                "not waive its controls (segregation of duties)"
            )
        try:
            receipt = await self._ledger.append_async(
                record.waiver_request(
                    control=control,
                    digest=digest,
                    target=target,
                    expires_at=expires,
                    reason=reason,
                    submitter=submitter,
                )
            )
        except Conflict:
            raise Conflict(
                f"{submitter.principal} already waived {control} on {digest} for {target} "
                "until the same time with another reason; a waiver is recorded once"
            ) from None
        return self.waiver(receipt.index), receipt

    def approval(self, index: int) -> dict[str, Any]:
        """One recorded approval by ledger index."""
        rows = self._rows(_APPROVAL_SELECT + " WHERE ledger_index = :index", {"index": index})
        if not rows:
            raise NotFound(f"no approval at ledger index {index}")
        return _approval(rows[0])

    def waiver(self, index: int) -> dict[str, Any]:
        """One recorded waiver by ledger index."""
        rows = self._rows(_WAIVER_SELECT + " WHERE ledger_index = :index", {"index": index})
        if not rows:
            raise NotFound(f"no waiver at ledger index {index}")
        return _waiver(rows[0])

    def approvals(
        self, *, digest: str | None, target: str | None, limit: int = 100, after: int = -1
    ) -> list[dict[str, Any]]:
        """Recorded approvals, oldest first, by digest and target."""
        where, params = _digest_target(digest, target, limit, after)
        rows = self._rows(
            f"{_APPROVAL_SELECT} WHERE {where} ORDER BY ledger_index LIMIT :limit", params
        )
        return [_approval(r) for r in rows]

    def waivers(
        self, *, digest: str | None, target: str | None, limit: int = 100, after: int = -1
    ) -> list[dict[str, Any]]:
        """Recorded waivers, oldest first, by digest and target (expired ones included)."""
        where, params = _digest_target(digest, target, limit, after)
        rows = self._rows(
            f"{_WAIVER_SELECT} WHERE {where} ORDER BY ledger_index LIMIT :limit", params
        )
        return [_waiver(r) for r in rows]

    def _rows(self, statement: str, params: Mapping[str, Any]) -> Sequence[Any]:
        with self._engine.connect() as conn:
            return conn.execute(text(statement), dict(params)).all()


# -- rows and answers ---------------------------------------------------------------------------

_DECISION_SELECT = (
    "SELECT ledger_index, decision_id, digest, model_name, model_version, target, outcome, "
    "allow, mode, requested_by, evaluated_at, summary, results FROM gate_decisions"
)
_APPROVAL_SELECT = (
    "SELECT ledger_index, digest, target, approver, decision_id, approved_at, comment "
    "FROM gate_approvals"
)
_WAIVER_SELECT = (
    "SELECT ledger_index, control, digest, target, approver, granted_at, expires_at, reason "
    "FROM gate_waivers"
)


def _checked_digest(digest: str) -> str:
    if not re.fullmatch(DIGEST_PATTERN, digest):
        raise InputError("digest must be sha256:<64 lowercase hex digits>")
    return digest


def _digest_target(
    digest: str | None, target: str | None, limit: int, after: int
) -> tuple[str, dict[str, Any]]:
    if not -1 <= after <= MAX_BIGINT:
        raise InputError("after is out of range")
    clauses = ["ledger_index > :after"]
    params: dict[str, Any] = {"after": after, "limit": min(limit, MAX_LIMIT)}
    if digest is not None:
        clauses.append("digest = :digest")
        params["digest"] = _checked_digest(digest)
    if target is not None:
        clauses.append("target = :target")
        params["target"] = check_identifier(target, "target")
    return " AND ".join(clauses), params


def _record(
    request: GateRequest,
    document: Mapping[str, Any],
    decision: Decision,
    allow: bool,
    evaluated_at: datetime,
) -> record.DecisionRecord:
    return record.DecisionRecord(
        decision_id=str(uuid.uuid4()),
        digest=request.model.digest,
        model_name=request.model.name,
        model_version=request.model.version,
        target=request.target,
        strategy=request.strategy,
        mode=request.mode,
        outcome=decision.outcome,
        allow=allow,
        evaluated_at=format_time(evaluated_at),
        applicable=decision.applicable,
        evaluated=decision.evaluated,
        violations=[r["control"] for r in decision.violations],
        warnings=[r["control"] for r in decision.warnings],
        waived=[{"control": r["control"], "waiver": r["waiver"]["index"]} for r in decision.waived],
        conflicted=decision.conflicted,
        policy={"bundle_digest": decision.bundle_digest, **decision.engine.to_json()},
        input_sha256=hashlib.sha256(record.input_bytes(document)).hexdigest(),
        error=decision.error,
        input=document,
        results=decision.results,
        reason=request.reason,
    )


def _answer(
    entry: record.DecisionRecord, requested_by: str, results: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """The decision as answered: the failing and waived controls expanded into their results."""
    by_control = {r["control"]: dict(r) for r in results or ()}

    def expand(control: str) -> dict[str, Any]:
        # Once the payload is erased only the control id is left.
        return by_control.get(control) or {"control": control, "status": "fail"}

    waived = []
    for w in entry.waived:
        waived.append({**expand(w["control"]), "waiver_index": w["waiver"]})
    return {
        "decision_id": entry.decision_id,
        "allow": entry.allow,
        "outcome": entry.outcome,
        "mode": entry.mode,
        "break_glass": entry.mode == "break_glass",
        "model": {
            "name": entry.model_name,
            "version": entry.model_version,
            "digest": entry.digest,
        },
        "target": entry.target,
        "strategy": entry.strategy,
        "requested_by": requested_by,
        "evaluated_at": entry.evaluated_at,
        "applicable": list(entry.applicable),
        "evaluated": list(entry.evaluated),
        "violations": [expand(c) for c in entry.violations],
        "warnings": [expand(c) for c in entry.warnings],
        "waived": waived,
        "results": list(by_control.values()),
        "conflicted": list(entry.conflicted),
        "error": entry.error,
        "policy": dict(entry.policy),
        "input_sha256": entry.input_sha256,
    }


def _recorded(row: Any) -> RecordedDecision:
    (index, decision_id, digest, name, version, target, outcome, allow, mode, requested_by,
     evaluated_at, summary_json, results_json) = row  # fmt: skip
    summary = json.loads(summary_json)
    entry = record.DecisionRecord(
        decision_id=decision_id,
        digest=digest,
        model_name=name,
        model_version=version,
        target=target,
        strategy=summary["strategy"],
        mode=mode,
        outcome=outcome,
        allow=bool(allow),
        evaluated_at=evaluated_at,
        applicable=summary["applicable"],
        evaluated=summary["evaluated"],
        violations=summary["violations"],
        warnings=summary["warnings"],
        waived=summary["waived"],
        conflicted=summary["conflicted"],
        policy=summary["policy"],
        input_sha256=summary["input_sha256"],
        error=summary["error"],
        input={},
        results=[],
        reason=None,
    )
    results = None if results_json is None else json.loads(results_json)
    return RecordedDecision(int(index), _answer(entry, requested_by, results))


def _summary(decision: RecordedDecision) -> dict[str, Any]:
    body = decision.record
    return {
        "index": decision.index,
        "decision_id": body["decision_id"],
        "model": body["model"],
        "target": body["target"],
        "outcome": body["outcome"],
        "allow": body["allow"],
        "mode": body["mode"],
        "break_glass": body["break_glass"],
        "requested_by": body["requested_by"],
        "evaluated_at": body["evaluated_at"],
        "violations": [r["control"] for r in body["violations"]],
        "warnings": [r["control"] for r in body["warnings"]],
        "waived": [r["control"] for r in body["waived"]],
        "policy": body["policy"],
    }


def _approval(row: Any) -> dict[str, Any]:
    index, digest, target, approver, decision_id, approved_at, comment = row
    return {
        "index": int(index),
        "digest": digest,
        "target": target,
        "approver": approver,
        "decision_id": decision_id,
        "approved_at": approved_at,
        "comment": comment,
    }


def _waiver(row: Any) -> dict[str, Any]:
    index, control, digest, target, approver, granted_at, expires_at, reason = row
    return {
        "index": int(index),
        "control": control,
        "digest": digest,
        "target": target,
        "approver": approver,
        "granted_at": granted_at,
        "expires_at": expires_at,
        "reason": reason,
    }
