"""Evidence assembly: the policy input document for a request, from the ledger as of a time.

Nothing the caller says about the model is believed except what it names: the digest, the lineage
node, the target. Everything else comes from the ledger's projections, as of the decision's
``evaluated_at`` and within the ledger's size when the assembly began (so an entry committed while
the document is built cannot half-appear in it):

1. the ledger's size and root;
2. from the lineage projection, the runs that wrote the model's node and everything upstream of
   them: jobs, runs with their states, submitters and event times, datasets with their
   classifications and who declared them, tests and data-quality assertions, and the digests the
   lineage declares for the model;
3. verified attestations about the digest (failed verifications are left out);
4. approvals and waivers recorded for the digest and target (whether a waiver still counts, and
   whether an approver may approve, is the policies' decision: one place);
5. the change reference: when it is ``sha256:HEX`` of an evidence document in the ledger that is
   a JSON change record (``{"ref", "status", "approved_at", "digest"}``), the record's fields and
   its ledger index; otherwise the reference alone, which no policy counts as an approved change;
6. records the model's own lineage node refers to in its classification, each ``sha256:HEX`` of
   a JSON evidence document: the impact assessments (``dpiaRef``, ``liaRef``, ``tiaRef``: fields
   of :class:`~governance.policy.input.Assessment`) and how far data subjects' requests have
   been applied (``requestsRef``: fields of :class:`~governance.policy.input.Requests`). Who
   submitted the document is who declared it. A reference that names no such document is
   ignored, so the policies see nothing on record.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.gate.classification import classification_input
from governance.gate.record import ERASED
from governance.gate.request import GateRequest
from governance.ledger import kinds
from governance.ledger.store import Ledger
from governance.lineage.queries import LineageQueries
from governance.lineage.upstream_facts import policy_form, snake
from governance.policy.input import PolicyInput
from governance.sql import id_filter
from governance.timefmt import policy_time

#: A change reference that names an evidence document by its SHA-256.
_DOCUMENT_REF = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


class EvidenceAssembler:
    """Builds the input document of a decision (module docstring)."""

    def __init__(self, engine: Engine, ledger: Ledger, queries: LineageQueries) -> None:
        self._engine = engine
        self._ledger = ledger
        self._queries = queries

    def assemble(
        self, request: GateRequest, requested_by: str, evaluated_at: datetime
    ) -> PolicyInput:
        """The input document for ``request`` by ``requested_by``, as of ``evaluated_at``."""
        # 1. The ledger as of now: nothing at or after `size` is read.
        size, root = self._ledger.head()
        digest = request.model.digest
        document: dict[str, Any] = {
            "evaluated_at": policy_time(evaluated_at),
            "requested_by": requested_by,
            "initiator": request.initiator,
            "target": {"environment": request.target, "strategy": request.strategy},
            "model": {
                "name": request.model.name,
                "version": request.model.version,
                "digest": digest,
                "lineage": None
                if request.model.lineage is None
                else request.model.lineage.model_dump(),
                "purpose": request.model.purpose,
                "use": request.model.use.model_dump(),
            },
            "frameworks": request.frameworks,
            "ledger": {"size": size, "root": root.hex(), "checkpoint_size": size},
        }
        # 2. Lineage: what wrote the model, and everything upstream, as of the decision.
        if request.model.lineage is not None:
            upstream = self._queries.model_upstream(
                request.model.lineage.namespace,
                request.model.lineage.name,
                as_of=evaluated_at,
                ledger_size=size,
            ).to_json()
            for key in ("jobs", "tests", "declared_digests"):
                document[key] = upstream[key]
            model_node = next((d for d in upstream["datasets"] if d["distance"] == 0), None)
            if model_node is not None and model_node["classification"] is not None:
                self._records(model_node["classification"], size, document)
            document["datasets"] = [
                d
                if d["classification"] is None
                else {**d, "classification": classification_input(d["classification"])}
                for d in upstream["datasets"]
            ]
        # 3-4. Verified attestations, approvals and waivers for the digest.
        document["attestations"] = self._attestations(digest, size)
        document["approvals"], document["waivers"] = self._approvals_and_waivers(
            digest, request.target, size
        )
        # 5. The change reference, resolved to a change record when it names one.
        if request.change_ref is not None:
            document["change"] = self._change(request.change_ref, size)
        return PolicyInput.model_validate(document)

    def _attestations(self, digest: str, size: int) -> list[dict[str, Any]]:
        hex_digest = digest.removeprefix("sha256:")
        indexes = [
            i
            for i in self._ledger.indexes_for_subject(
                {"sha256": hex_digest}, kinds.ATTESTATION.name
            )
            if i < size
        ]
        if not indexes:
            return []
        with self._engine.connect() as conn:
            where, value = id_filter(conn.dialect.name == "postgresql", "ledger_index", indexes)
            rows = conn.execute(
                text(
                    "SELECT ledger_index, purpose, expected_digest, facts "  # noqa: S608
                    f"FROM attestation_verdicts WHERE verdict = 'pass' AND {where} "
                    "ORDER BY ledger_index"
                ),
                {"ids": value},
            ).all()
        return [
            _attestation(int(index), purpose, expected, facts)
            for index, purpose, expected, facts in rows
            if facts
        ]

    def _record(
        self, ref: Any, size: int
    ) -> tuple[dict[str, Any], int, str | None, str | None] | None:
        """The evidence document ``ref`` names: its JSON object, index, submitter, receipt time."""
        match = _DOCUMENT_REF.match(ref) if isinstance(ref, str) else None
        if match is None:
            return None
        indexes = [
            i
            for i in self._ledger.indexes_for_subject(
                {"sha256": match.group(1).lower()}, kinds.EVIDENCE.name
            )
            if i < size
        ]
        payload = self._ledger.payload(indexes[0]) if indexes else None
        try:
            record = json.loads(payload) if payload is not None else None
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        envelope = json.loads(self._ledger.entry(indexes[0]).envelope)
        submitter = envelope.get("submitted_by")
        return (
            record,
            indexes[0],
            submitter if isinstance(submitter, str) else None,
            policy_form(envelope.get("received_at")),
        )

    def _records(self, classification: dict[str, Any], size: int, document: dict[str, Any]) -> None:
        """Assessments and request watermarks the model's node refers to (step 6)."""
        assessments: dict[str, Any] = {}
        for key, name in (("dpiaRef", "dpia"), ("liaRef", "lia"), ("tiaRef", "tia")):
            ref = classification.get(key, classification.get(snake(key)))
            found = self._record(ref, size)
            if found is None:
                continue
            record, index, submitter, received_at = found
            fields = {snake(k): v for k, v in record.items()}
            assessment: dict[str, Any] = {
                f: fields.get(f) if isinstance(fields.get(f), str) else None
                for f in ("ref", "status", "dpo_advice_ref", "residual_risk")
            } | {f: policy_form(fields.get(f)) for f in ("approved_at", "review_due")}
            assessment["prior_consultation_ref"] = (
                fields.get("prior_consultation_ref")
                if isinstance(fields.get("prior_consultation_ref"), str)
                else None
            )
            assessment["ref"] = assessment["ref"] or ref
            assessments[name] = assessment | {
                "declared_by": submitter,
                "declared_at": received_at,
                "index": index,
            }
        if assessments:
            document["assessments"] = assessments
        found = self._record(
            classification.get("requestsRef", classification.get("requests_ref")), size
        )
        if found is not None:
            fields = {snake(k): v for k, v in found[0].items()}
            document["requests"] = {
                f: policy_form(fields.get(f))
                for f in (
                    "erasure_applied_through",
                    "objection_applied_through",
                    "restriction_applied_through",
                    "stop_applied_through",
                    "correction_applied_through",
                    "withdrawal_applied_through",
                )
            }

    def _change(self, ref: str, size: int) -> dict[str, Any]:
        """The change record ``ref`` names (module docstring, step 5), or the bare reference."""
        found = self._record(ref, size)
        if found is None:
            return {"ref": ref}
        record, index, _submitter, _received_at = found
        status, digest = record.get("status"), record.get("digest")
        return {
            "ref": record["ref"] if isinstance(record.get("ref"), str) else ref,
            "status": status if isinstance(status, str) else None,
            "approved_at": policy_form(record.get("approved_at", record.get("approvedAt"))),
            "digest": digest.lower() if isinstance(digest, str) else None,
            "index": index,
        }

    def _approvals_and_waivers(
        self, digest: str, target: str, size: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        params = {"digest": digest, "target": target, "size": size}
        with self._engine.connect() as conn:
            approvals = conn.execute(
                text(
                    "SELECT ledger_index, approver, approved_at, comment FROM gate_approvals "
                    "WHERE digest = :digest AND target = :target AND ledger_index < :size "
                    "ORDER BY ledger_index"
                ),
                params,
            ).all()
            waivers = conn.execute(
                text(
                    "SELECT ledger_index, control, approver, granted_at, expires_at, reason "
                    "FROM gate_waivers WHERE digest = :digest AND target = :target "
                    "AND ledger_index < :size ORDER BY ledger_index"
                ),
                params,
            ).all()
        return (
            [
                {
                    "approver": approver,
                    "decision": "approve",
                    "at": policy_form(at),
                    "index": int(index),
                    "comment": comment,
                }
                for index, approver, at, comment in approvals
            ],
            [
                {
                    "control": control,
                    "approver": approver,
                    "reason": reason if reason is not None else ERASED,
                    "at": policy_form(granted_at),
                    "expires_at": policy_form(expires_at),
                    "index": int(index),
                }
                for index, control, approver, granted_at, expires_at, reason in waivers
            ],
        )


def _attestation(index: int, purpose: str, expected: str | None, facts_json: str) -> dict[str, Any]:
    """An ``Attestation`` of the input from a verdict row's verified facts."""
    facts = json.loads(facts_json)
    digests = [expected, facts.get("artifact_digest"), (facts.get("model") or {}).get("digest")]
    digests += [
        f"sha256:{s['digest']['sha256']}"
        for s in facts.get("subjects") or ()
        if "sha256" in s["digest"]
    ]
    subject_digests = list(
        dict.fromkeys(
            d if d.startswith("sha256:") else f"sha256:{d}" for d in digests if isinstance(d, str)
        )
    )
    signer = facts.get("signer") or {}
    tlog = facts.get("tlog") or {}
    provenance = facts.get("provenance") or {}
    return {
        "index": index,
        "purpose": purpose,
        "format": facts["format"],
        "predicate_type": facts.get("predicate_type"),
        "subject_digests": [d.lower() for d in subject_digests],
        "signer_identity": signer.get("identity"),
        "signer_issuer": signer.get("issuer"),
        "key_id": signer.get("key_id"),
        "signing_time": policy_form(facts.get("signing_time")),
        "integrated_time": policy_form(tlog.get("integrated_time")),
        "tlog_index": tlog.get("log_index"),
        "builder_id": provenance.get("builder_id"),
        "source_repo": provenance.get("source_repo"),
        "source_ref": provenance.get("source_ref"),
    }
