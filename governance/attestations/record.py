"""How an attestation verdict is written into the ledger, and read back out of it.

One entry per verdict, pass or fail. What names nobody goes in the **envelope**: the verdict, the
purpose, the reason code, the format and predicate type, the expected digest, the bundle's SHA-256,
the trust configuration's digest and, on a pass, the verified facts with the signer's identity
left out. What may name a person goes in the **payload** (a JSON document, media type
:data:`MEDIA_TYPE`): the submitted bundle byte for byte (base64), the signer's identity (an e-mail
address or a workload URI) and the failure detail, which may quote it. The verdict row of
``attestation_verdicts`` is rebuilt from the two (:func:`verdict_row`); once the payload is erased
the row keeps what the envelope says, so an audit still sees what was verified, but not by whom.

Entries written before this format (the raw bundle as payload, no facts in the envelope) rebuild
a row with the envelope's verdict, purpose and reason only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from governance.attestations.verify import VerificationFailed, VerifiedFacts
from governance.ledger import kinds
from governance.ledger.canonical import canonical_json
from governance.ledger.entries import AppendRequest, Submitter
from governance.ledger.projections import StoredEntry

MEDIA_TYPE = "application/vnd.governance-audit.attestation+json"
#: Most digests one attestation entry names as subjects.
MAX_SUBJECTS = 64
#: Longest failure detail kept.
MAX_DETAIL = 2000


def subject_digests(facts: VerifiedFacts | None, expected: str | None) -> list[str]:
    """The SHA-256 digests (hex) an attestation is about: expected, artifact, model, subjects."""
    found: list[str] = []
    if expected:
        found.append(expected.removeprefix("sha256:"))
    if facts is not None:
        if facts.artifact_digest:
            found.append(facts.artifact_digest.removeprefix("sha256:"))
        if facts.model_digest:
            found.append(facts.model_digest.removeprefix("sha256:"))
        found.extend(s.digest["sha256"] for s in facts.subjects if "sha256" in s.digest)
    return [d for d in dict.fromkeys(d.lower() for d in found) if len(d) == 64][:MAX_SUBJECTS]


def append_request(
    bundle: bytes,
    *,
    purpose: str,
    expected_digest: str | None,
    predicate_type: str | None,
    trust_config: str,
    submitter: Submitter,
    facts: VerifiedFacts | None,
    failure: VerificationFailed | None,
) -> AppendRequest:
    """The ledger entry recording one verdict (see the module docstring)."""
    fields: dict[str, Any] = {
        "verdict": "pass" if failure is None else "fail",
        "purpose": purpose,
        "trust_config": trust_config,
        **submitter.fields(),
        "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
    }
    if expected_digest is not None:
        fields["expected_digest"] = expected_digest
    if failure is not None:
        fields["reason"] = failure.reason.value
    identity = None
    if facts is not None:
        fields["format"] = facts.format.value
        if facts.predicate_type:
            fields["predicate_type"] = facts.predicate_type
        public = facts.to_json()
        identity = public["signer"]["identity"]
        public["signer"]["identity"] = None
        fields["facts"] = public
    payload = {
        "bundle_base64": base64.b64encode(bundle).decode(),
        "signer_identity": identity,
        "detail": failure.detail[:MAX_DETAIL] if failure is not None else None,
    }
    # One verdict per bundle, purpose, expected digest and predicate type: a retry returns it.
    bundle_sha = fields["bundle_sha256"]
    key = f"{purpose}\n{expected_digest or ''}\n{predicate_type or ''}\n{bundle_sha}"
    return AppendRequest(
        kinds.ATTESTATION.name,
        canonical_json(payload),
        MEDIA_TYPE,
        [{"sha256": d} for d in subject_digests(facts, expected_digest)],
        fields,
        key,
    )


def bundle_of(payload: bytes, media_type: str) -> bytes:
    """The submitted bundle's bytes from an attestation entry's payload (either format)."""
    if media_type != MEDIA_TYPE:
        return payload
    return base64.b64decode(json.loads(payload)["bundle_base64"])


def verdict_row(entry: StoredEntry) -> dict[str, Any]:
    """The ``attestation_verdicts`` row an attestation entry says (see the module docstring)."""
    envelope = entry.fields()
    row: dict[str, Any] = {
        "idx": entry.index,
        "purpose": envelope["purpose"],
        "verdict": envelope["verdict"],
        "reason": envelope.get("reason"),
        "detail": None,
        "expected": envelope.get("expected_digest"),
        "facts": None,
        "verified_at": envelope["received_at"],
    }
    if envelope["payload"]["media_type"] != MEDIA_TYPE:
        return row
    personal: dict[str, Any] = {}
    if entry.payload is not None:
        personal = json.loads(entry.payload)
        row["detail"] = personal.get("detail")
    facts = envelope.get("facts")
    if isinstance(facts, dict):
        facts["signer"]["identity"] = personal.get("signer_identity")
        row["facts"] = canonical_json(facts).decode()
    return row
