"""Accepting attestations: verify offline at ingest, record each verdict (pass or fail).

The raw bundle is the ledger payload. The envelope carries the verdict and non-personal facts
(purpose, format, reason, predicate type, subjects by digest, the trust configuration's digest);
the full verified facts go to ``attestation_verdicts``. Erasing the payload erases what in those
facts names a person too (``forget_signer``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from governance import timefmt
from governance.attestations.reasons import VerificationFailed
from governance.attestations.verify import Request, VerifiedFacts, Verifier
from governance.errors import InputError, NotFound
from governance.ledger.store import Ledger, Receipt

ATTESTATION_KIND = "attestation"
TRUST_CONFIG_KIND = "trust-config"
_MAX_SUBJECTS = 64


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


def _digests(facts: VerifiedFacts | None, expected: str | None) -> list[str]:
    found: list[str] = []
    if expected:
        found.append(expected.removeprefix("sha256:"))
    if facts is not None:
        if facts.artifact_digest:
            found.append(facts.artifact_digest.removeprefix("sha256:"))
        if facts.model_digest:
            found.append(facts.model_digest.removeprefix("sha256:"))
        found.extend(s.digest["sha256"] for s in facts.subjects if "sha256" in s.digest)
    return [d for d in dict.fromkeys(d.lower() for d in found) if len(d) == 64][:_MAX_SUBJECTS]


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
            TRUST_CONFIG_KIND,
            description,
            "application/json",
            fields={"digest": trust.digest()},
            idempotency_key=trust.digest(),
        )

    async def submit(
        self,
        bundle: bytes,
        purpose: str,
        submitted_by: str,
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
            facts = await run_in_threadpool(self._verifier.verify, request)
        except VerificationFailed as exc:
            failure = exc
        fields: dict[str, Any] = {
            "verdict": "pass" if failure is None else "fail",
            "purpose": purpose,
            "trust_config": self._verifier.trust.digest(),
            "submitted_by": submitted_by,
        }
        if failure is not None:
            fields["reason"] = failure.reason.value
        if facts is not None:
            fields["format"] = facts.format.value
            if facts.predicate_type:
                fields["predicate_type"] = facts.predicate_type
        subjects = [{"sha256": d} for d in _digests(facts, request.expected_digest)]
        # One verdict per bundle, purpose and expected digest: a retry returns the same entry.
        bundle_sha = hashlib.sha256(bundle).hexdigest()
        key = f"{purpose}\n{request.expected_digest or ''}\n{predicate_type or ''}\n{bundle_sha}"
        receipt = await self._ledger.append_async(
            ATTESTATION_KIND, bundle, "application/json", subjects, fields, key
        )
        await run_in_threadpool(self._store, receipt, request, facts, failure)
        return Outcome(receipt, facts, failure)

    def _store(
        self,
        receipt: Receipt,
        request: Request,
        facts: VerifiedFacts | None,
        failure: VerificationFailed | None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO attestation_verdicts (ledger_index, purpose, verdict, reason, "
                    "detail, expected_digest, facts, verified_at) VALUES (:i, :p, :v, :r, :d, "
                    ":e, :f, :t) ON CONFLICT (ledger_index) DO NOTHING"
                ),
                {
                    "i": receipt.index,
                    "p": request.purpose,
                    "v": "pass" if failure is None else "fail",
                    "r": failure.reason.value if failure else None,
                    "d": failure.detail[:2000] if failure else None,
                    "e": request.expected_digest,
                    "f": json.dumps(facts.to_json()) if facts else None,
                    "t": timefmt.now(),
                },
            )

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
        indexes = self._ledger.indexes_for_subject({"sha256": digest}, ATTESTATION_KIND)
        if not indexes:
            return []
        with self._engine.connect() as conn:
            marks = ",".join(f":p{i}" for i in range(len(indexes)))
            rows = conn.execute(
                text(f"{_SELECT} WHERE ledger_index IN ({marks}) ORDER BY ledger_index"),
                {f"p{i}": v for i, v in enumerate(indexes)},
            ).all()
        return [_verdict(r) for r in rows]


def forget_signer(engine: Engine, index: int) -> bool:
    """Erase the personal part of the verdict recorded for ledger entry ``index``, if any.

    That is the signer identity in the facts (an e-mail address, or a workload URI) and the
    failure detail, which may quote it; the rest (format, mode, issuer, digests, trust
    configuration) stays. Called when the entry's payload is erased; running it again changes
    nothing. Returns whether a verdict was recorded for the entry.
    """
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT facts FROM attestation_verdicts WHERE ledger_index = :i"), {"i": index}
        ).first()
        if row is None:
            return False
        facts = json.loads(row[0]) if row[0] else None
        if isinstance(facts, dict) and isinstance(facts.get("signer"), dict):
            facts["signer"]["identity"] = None
        conn.execute(
            text(
                "UPDATE attestation_verdicts SET facts = :f, detail = NULL WHERE ledger_index = :i"
            ),
            {"f": json.dumps(facts) if facts is not None else None, "i": index},
        )
    return True


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
