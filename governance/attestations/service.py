"""Accepting attestations: verify offline at ingest, record each verdict (pass or fail).

Each verdict is one ledger entry (:mod:`~governance.attestations.record` says what goes where);
the verdicts projection (:mod:`~governance.attestations.projection`) writes its
``attestation_verdicts`` row in the same transaction, so a verdict that was acknowledged can be
read back at once and is rebuilt by ``ledger reindex``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.attestations import record
from governance.attestations.reasons import VerificationFailed
from governance.attestations.verify import Request, VerifiedFacts, Verifier
from governance.errors import InputError, NotFound
from governance.ledger import kinds
from governance.ledger.entries import Submitter
from governance.ledger.store import AppendRequest, Ledger, Receipt
from governance.sql import id_filter


@dataclass(frozen=True)
class Outcome:
    """A recorded verdict: the facts on a pass, the failure otherwise, and the ledger receipt."""

    receipt: Receipt
    facts: VerifiedFacts | None
    failure: VerificationFailed | None

    @property
    def passed(self) -> bool:
        """Whether the attestation verified."""
        return self.failure is None


class AttestationService:
    """Verifies submissions with one pinned trust configuration and records every verdict."""

    def __init__(self, engine: Engine, ledger: Ledger, verifier: Verifier) -> None:
        self._engine = engine
        self._ledger = ledger
        self._verifier = verifier

    @property
    def verifier(self) -> Verifier:
        """The verifier in force."""
        return self._verifier

    def record_trust_config(self) -> Receipt:
        """Append the trust configuration's digest (once per distinct configuration)."""
        trust = self._verifier.trust
        description = json.dumps(trust.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return self._ledger.append(
            AppendRequest(
                kinds.TRUST_CONFIG.name,
                description,
                "application/json",
                fields={"digest": trust.digest()},
                idempotency_key=trust.digest(),
            )
        )

    async def submit(
        self,
        bundle: bytes,
        purpose: str,
        submitter: Submitter,
        *,
        expected_digest: str | None = None,
        predicate_type: str | None = None,
    ) -> Outcome:
        """Verify and record; a failed verification is recorded too (its entry says why)."""
        request = Request(
            bundle=bundle,
            purpose=purpose,
            expected_digest=expected_digest,
            expected_predicate_type=predicate_type,
        )
        facts: VerifiedFacts | None = None
        failure: VerificationFailed | None = None
        try:
            facts = await asyncio.to_thread(self._verifier.verify, request)
        except VerificationFailed as exc:
            failure = exc
        receipt = await self._ledger.append_async(
            record.append_request(
                bundle,
                purpose=purpose,
                expected_digest=request.expected_digest,
                predicate_type=predicate_type,
                trust_config=self._verifier.trust.digest(),
                submitter=submitter,
                facts=facts,
                failure=failure,
            )
        )
        return Outcome(receipt, facts, failure)

    def get(self, index: int) -> dict[str, Any]:
        """One recorded verdict by ledger index."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text(f"{_SELECT} WHERE ledger_index = :i"),
                {"i": index},
            ).first()
        if row is None:
            raise NotFound(f"no attestation at ledger index {index}")
        return _verdict(row)

    def for_subject(self, subject: str) -> list[dict[str, Any]]:
        """Every verdict recorded for an artifact digest (``sha256:<hex>``), oldest first."""
        digest = subject.removeprefix("sha256:").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InputError("subject must be sha256:<64 hex digits>")
        indexes = self._ledger.indexes_for_subject({"sha256": digest}, kinds.ATTESTATION.name)
        if not indexes:
            return []
        with self._engine.connect() as conn:
            where, value = id_filter(conn.dialect.name == "postgresql", "ledger_index", indexes)
            rows = conn.execute(
                text(f"{_SELECT} WHERE {where} ORDER BY ledger_index"), {"ids": value}
            ).all()
        return [_verdict(r) for r in rows]


_SELECT = (
    "SELECT ledger_index, purpose, verdict, reason, detail, expected_digest, facts, verified_at "
    "FROM attestation_verdicts"
)


def _verdict(row: Any) -> dict[str, Any]:
    index, purpose, verdict, reason, detail, expected, facts, verified_at = row
    return {
        "index": int(index),
        "purpose": purpose,
        "verdict": verdict,
        "reason": reason,
        "detail": detail,
        "expected_digest": expected,
        "facts": json.loads(facts) if facts else None,
        "verified_at": verified_at,
    }
