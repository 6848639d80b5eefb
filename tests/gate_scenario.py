"""The promotion gate's end-to-end scenario, over any HTTP client with ``post``/``put``/``get``.

A feature job reads customer data classified as personal with no lawful basis, stored in ``US``
for ``EU`` and ``AE`` data subjects; a training run reads the features and writes the model. The
model's OpenSSF model signature (a real model-signing signature of the fixtures' tiny model) is
attested. The gate denies, citing GDPR Art. 6(1), GDPR Chapter V, PDPL Arts. 22/23, ISO A.5.3 (no
approvals) and ISO A.8.25 (no provenance). A steward re-classifies the data (legitimate interests
with an LIA, stored in ``IE``, PDPL consent with an Art. 23 transfer basis), SLSA provenance from
an approved builder is attested (the fixtures' keyed SLSA statement, its subject made the model's
digest and signed again by the trainer's key, generated when the tests start), the
initiator's own approval is refused, and with one approval the gate still denies on A.5.3 alone;
a waiver of A.5.3 turns that into an allow with the control waived, and after the waiver expires
it is a deny again; a second approver's approval makes it an allow. Every decision replays to
the same result, also after later lineage events.

``tests/e2e/test_gate_scenario.py`` runs the steps on a live server, on both databases and both
policy engines; :func:`run` returns each decision so the engines' answers can be compared.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from governance.attestations.envelopes import pae
from tests.conftest import signing_fixture

#: The fixtures' tiny model, as its model-signing signature (``oms-tiny-key``) names it.
MODEL_DIGEST = "sha256:25af9112d15304858193e72e7fad62316675ee582d36f48226f86e4bd54d6531"
#: The builder the fixtures' SLSA statement names; the scenario's policy overlay approves it.
BUILDER = "https://ci.example.com/runners/trainer@v2"
SOURCE_REPO = "https://git.example/ml/repo"

MODEL_NODE = {"namespace": "s3://models", "name": "churn"}
CUSTOMERS = ("postgres://crm.example:5432", "crm.public.customers")
FEATURES = ("s3://features", "churn/customer_features")
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.40.1/client/python"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

#: What the first decision must cite (the issue's list), each a violation.
FIRST_DENY = {"gdpr-art6", "gdpr-ch5", "pdpl-art22-23", "iso-a5.3", "iso-a8.25"}

#: The keys to make, (principal, role): the principal is the key's name, and one principal may
#: hold several keys, one role each (the pipeline's service identity also approves).
KEYS = [
    ("airflow", "ingest"),
    ("airflow", "approver"),
    ("dana", "steward"),
    ("ci", "gate"),
    ("alice", "approver"),
    ("bob", "approver"),
    ("carol", "approver"),
    ("root", "admin"),
    ("auditor", "auditor"),
]


#: The trainer's signing key, generated for this test session (never stored).
TRAINER_KEY = Ed25519PrivateKey.generate()


def provenance_bundle() -> bytes:
    """The fixtures' keyed SLSA bundle about the model's digest, signed by ``TRAINER_KEY``."""
    bundle = json.loads(
        signing_fixture("generated", "slsa-provenance.ed25519.sigstore.json").read_bytes()
    )
    envelope = bundle["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"] = [
        {"name": "churn", "digest": {"sha256": MODEL_DIGEST.removeprefix("sha256:")}}
    ]
    payload = json.dumps(statement).encode()
    signature = TRAINER_KEY.sign(pae(envelope["payloadType"], payload))
    envelope["payload"] = base64.b64encode(payload).decode()
    envelope["signatures"] = [{"sig": base64.b64encode(signature).decode(), "keyid": ""}]
    bundle["verificationMaterial"]["publicKey"] = {}
    return json.dumps(bundle).encode()


def trust_config() -> dict[str, Any]:
    """Trust for the two attestations: the fixtures' public keys, one purpose each."""
    root = signing_fixture("trusted-roots", "sigstore-production.trusted_root.json")
    return {
        "version": 1,
        "default_trusted_root": "production",
        "trusted_roots": {"production": str(root)},
        "keys": [
            {
                "id": "model-signer",
                "path": str(signing_fixture("generated", "tiny-model.signing.pub.pem")),
                "algorithm": "ecdsa-p256-sha256",
                "purposes": ["model-signature"],
            },
            {
                "id": "trainer",
                "pem": TRAINER_KEY.public_key()
                .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
                .decode(),
                "algorithm": "ed25519",
                "purposes": ["build-provenance"],
            },
        ],
    }


def policy_overlay() -> dict[str, Any]:
    """The operator's configuration: the scenario's builder and repository are approved."""
    return {"config": {"approved_builders": [BUILDER]}}


def write_configuration(directory: Path) -> tuple[Path, Path]:
    """Write the trust configuration and the policy overlay; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    trust, overlay = directory / "trust.json", directory / "policy-data.json"
    trust.write_text(json.dumps(trust_config()))
    overlay.write_text(json.dumps(policy_overlay()))
    return trust, overlay


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dataset(ns_name: tuple[str, str], **facets: Any) -> dict[str, Any]:
    return {"namespace": ns_name[0], "name": ns_name[1], "facets": facets}


def facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"https://openlineage.io/spec/facets/{schema}",
        **fields,
    }


def run_events(
    job: str,
    at: datetime,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    *,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A run's START and COMPLETE events (OpenLineage 2-0-2) of job ``pipelines:job``."""
    run_id = str(uuid.uuid4())

    def event(kind: str, moment: datetime, facets: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventType": kind,
            "eventTime": _time(moment),
            "run": {"runId": run_id, "facets": facets},
            "job": {"namespace": "pipelines", "name": job, "facets": job_facets or {}},
            "inputs": inputs,
            "outputs": outputs if kind == "COMPLETE" else [],
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
        }

    return [
        event("START", at, {}),
        event("COMPLETE", at + timedelta(minutes=20), run_facets or {}),
    ]


def lineage(now: datetime) -> list[dict[str, Any]]:
    """A snapshot of the customer table, then the feature job's and the training job's runs."""
    snapshot = facet("1-0-1/DatasetVersionDatasetFacet.json", datasetVersion="snapshot-0042")
    customers = dataset(
        CUSTOMERS,
        version=snapshot,
        schema=facet(
            "1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
            fields=[{"name": "customer_id", "type": "bigint"}, {"name": "email", "type": "text"}],
        ),
        governance={
            "_producer": PRODUCER,
            "_schemaURL": "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json",
            "personalData": True,
            "location": {"country": "US"},
            "jurisdictions": ["EU", "AE"],
        },
    )
    features = dataset(FEATURES)
    model = dataset(
        (MODEL_NODE["namespace"], MODEL_NODE["name"]),
        version=facet("1-0-1/DatasetVersionDatasetFacet.json", datasetVersion=MODEL_DIGEST),
    )
    tests = facet(
        "1-0-1/TestRunFacet.json#/$defs/TestRunFacet",
        tests=[
            {"name": "security", "status": "pass", "severity": "error", "type": "custom"},
            {"name": "robustness", "status": "pass", "severity": "error", "type": "custom"},
        ],
    )
    source = facet(
        "1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
        type="git",
        url=SOURCE_REPO,
        branch="main",
    )
    snapshot_event = {
        "eventTime": _time(now - timedelta(days=3)),
        "dataset": dataset(CUSTOMERS, version=snapshot),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
    }
    return [
        snapshot_event,
        *run_events("build_churn_features", now - timedelta(days=2), [customers], [features]),
        *run_events(
            "train_churn",
            now - timedelta(days=1),
            [features],
            [model],
            run_facets={"test": tests},
            job_facets={"sourceCodeLocation": source},
        ),
    ]


#: The steward's classification after review.
RECLASSIFIED: dict[str, Any] = {
    "personalData": True,
    "lawfulBasis": "legitimate_interests",
    "liaRef": "LIA-2026-014",
    "location": {"country": "IE", "region": "eu-west-1"},
    "jurisdictions": ["EU", "AE"],
    "pdplBasis": "consent",
    "consentRef": "CONSENT-AE-2026-3",
    "transfer": {"mechanism": "pdpl_art23", "ref": "UAE-ART23-2026-7"},
    "purposes": ["churn-prediction"],
    "ropaRef": "ROPA-17",
    "retentionDays": 365,
    "encryptionAtRest": True,
    "pseudonymised": True,
    "accessPolicyRef": "IAM-POLICY-crm-readers",
}


@dataclass
class Scenario:
    """The scenario against one service, with an API key for each of :data:`KEYS`."""

    #: An ``httpx.Client`` with the server's base URL, or a ``TestClient``.
    client: Any
    #: API keys by (principal, role), as :data:`KEYS` lists them.
    keys: dict[tuple[str, str], str]
    #: Waits for a time to pass (the waiver's expiry); a test may speed it up.
    sleep: Callable[[float], None] = time.sleep
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    change_ref: str = ""

    def headers(self, principal: str, role: str | None = None, **extra: str) -> dict[str, str]:
        """Authorization as ``principal``, with its key of ``role`` (its first key by default)."""
        key = next(k for (p, r), k in self.keys.items() if p == principal and role in (None, r))
        return {"Authorization": f"Bearer {key}", **extra}

    def expect(self, answer: Any, status: int) -> Any:
        assert answer.status_code == status, (answer.status_code, answer.text)
        return answer.json() if answer.content else None

    # --- steps ---------------------------------------------------------------------------------

    def send_lineage(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.expect(
                self.client.post("/api/v1/lineage", headers=self.headers("airflow"), json=event),
                201,
            )

    def attest(self, bundle: bytes, purpose: str) -> dict[str, Any]:
        body = {
            "bundle_base64": base64.b64encode(bundle).decode(),
            "purpose": purpose,
            "expected_digest": MODEL_DIGEST,
        }
        answer = self.client.post(
            "/api/v1/attestations", headers=self.headers("airflow"), json=body
        )
        result: dict[str, Any] = self.expect(answer, 201)
        assert result["verdict"] == "pass", result
        return result

    def document(self, record: dict[str, Any]) -> str:
        """Keep a JSON record as an evidence document; returns its ``sha256:`` reference."""
        data = json.dumps(record).encode()
        answer = self.client.post(
            "/api/v1/evidence",
            headers=self.headers("airflow", **{"Content-Type": "application/json"}),
            content=data,
        )
        assert answer.status_code in (200, 201), answer.text
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def record_change(self, now: datetime) -> None:
        """A change record approved yesterday, kept as an evidence document."""
        self.change_ref = self.document(
            {
                "ref": "CHG-4711",
                "status": "approved",
                "approved_at": _time(now - timedelta(days=1)),
                "digest": MODEL_DIGEST,
            }
        )

    def classify(self, node: tuple[str, str], classification: dict[str, Any]) -> None:
        """A steward's classification of a dataset."""
        self.expect(
            self.client.put(
                f"/api/v1/datasets/{node[1]}/classification",
                headers=self.headers("dana"),
                params={"namespace": node[0]},
                json=classification,
            ),
            200,
        )

    def model_records(self, now: datetime) -> None:
        """The DPIA and the data subjects' requests applied, referred to from the model's node."""
        dpia = self.document(
            {
                "ref": "DPIA-2026-09",
                "status": "approved",
                "approvedAt": _time(now - timedelta(days=5)),
                "reviewDue": _time(now + timedelta(days=180)),
                "dpoAdviceRef": "DPO-ADVICE-77",
                "residualRisk": "low",
            }
        )
        applied = _time(now - timedelta(hours=1))
        requests = self.document(
            {
                f"{kind}AppliedThrough": applied
                for kind in ("erasure", "objection", "restriction", "stop", "correction")
            }
            | {"withdrawalAppliedThrough": applied}
        )
        self.classify(
            (MODEL_NODE["namespace"], MODEL_NODE["name"]),
            {"dpiaRef": dpia, "requestsRef": requests},
        )

    def decide(self, step: str, **changes: Any) -> dict[str, Any]:
        body = {
            "model": {
                "name": "churn",
                "version": "3.0.0",
                "digest": MODEL_DIGEST,
                "lineage": MODEL_NODE,
                "purpose": "churn-prediction",
            },
            "target": "production",
            "strategy": "canary",
            "change_ref": self.change_ref,
            "initiator": "carol",
            **changes,
        }
        answer = self.client.post("/api/v1/gate/decisions", headers=self.headers("ci"), json=body)
        decision: dict[str, Any] = self.expect(answer, 201)
        self.decisions[step] = decision
        return decision

    def approve(self, principal: str, status: int, decision_id: str) -> Any:
        body = {"digest": MODEL_DIGEST, "target": "production", "decision_id": decision_id}
        return self.expect(
            self.client.post(
                "/api/v1/approvals", headers=self.headers(principal, "approver"), json=body
            ),
            status,
        )

    def waive(self, principal: str, control: str, expires_at: datetime) -> Any:
        body = {
            "control": control,
            "digest": MODEL_DIGEST,
            "target": "production",
            "reason": "second approver on leave; CAB accepted one approval for this release",
            "expires_at": _time(expires_at),
        }
        return self.expect(
            self.client.post("/api/v1/waivers", headers=self.headers(principal), json=body), 201
        )

    def replay_all(self) -> None:
        for step, decision in self.decisions.items():
            answer = self.client.post(
                f"/api/v1/gate/decisions/{decision['decision_id']}/replay",
                headers=self.headers("auditor"),
            )
            replayed = self.expect(answer, 200)
            assert replayed["reproduced"] is True, (step, replayed)


def controls(results: list[dict[str, Any]]) -> set[str]:
    """The control ids of a list of results."""
    return {r["control"] for r in results}


def explain(decision: dict[str, Any]) -> list[str]:
    """Each failing control with its message, for an assertion's message."""
    return [f"{v['control']}: {v['message']}" for v in decision["violations"]]


def summary(decision: dict[str, Any]) -> tuple[str, bool, list[str], list[str], list[str]]:
    """What two engines must agree on: outcome, allow, and the controls violated, warned, waived."""
    return (
        decision["outcome"],
        decision["allow"],
        sorted(controls(decision["violations"])),
        sorted(controls(decision["warnings"])),
        sorted(controls(decision["waived"])),
    )


WAIVER_SECONDS = 4.0


def run(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Run every step, asserting what each must show; returns the decisions by step."""
    now = datetime.now(UTC)
    s = scenario
    s.send_lineage(lineage(now))
    model_signature = signing_fixture("generated", "tiny-model.key-p256.oms.sig").read_bytes()
    s.attest(model_signature, "model-signature")
    s.record_change(now)

    # 1. Personal data without a lawful basis, stored outside the EEA, no approvals, no provenance.
    first = s.decide("first")
    assert (first["outcome"], first["allow"]) == ("deny", False), summary(first)
    assert controls(first["violations"]) >= FIRST_DENY, summary(first)
    assert set(first["applicable"]) == {"gdpr", "uae_pdpl", "iso27001"}
    cited = {v["control"]: v for v in first["violations"]}
    assert "Art. 6(1)" in cited["gdpr-art6"]["article"]
    assert CUSTOMERS[1] in cited["gdpr-art6"]["message"]

    # 2. The steward's review, provenance from the approved builder, approvals.
    s.classify(CUSTOMERS, RECLASSIFIED | {"collectedAt": _time(now - timedelta(days=30))})
    s.model_records(now)
    s.attest(provenance_bundle(), "build-provenance")
    # Segregation of duties: the initiator, and the principal that submitted the training run
    # (with its approver key), are refused and never counted.
    refused = s.approve("carol", 409, first["decision_id"])
    assert "carol" in json.dumps(refused)
    s.approve("airflow", 409, first["decision_id"])
    s.approve("alice", 201, first["decision_id"])
    one_approval = s.decide("one-approval")
    assert (one_approval["outcome"], controls(one_approval["violations"])) == (
        "deny",
        {"iso-a5.3"},
    ), explain(one_approval)

    # 3. A waiver of the one failing control, until it expires.
    s.waive("bob", "iso-a5.3", datetime.now(UTC) + timedelta(seconds=WAIVER_SECONDS))
    waived = s.decide("waived")
    assert (waived["outcome"], waived["allow"]) == ("allow", True), summary(waived)
    assert controls(waived["waived"]) == {"iso-a5.3"}
    s.sleep(WAIVER_SECONDS + 0.5)
    expired = s.decide("expired")
    assert (expired["outcome"], controls(expired["violations"])) == ("deny", {"iso-a5.3"})
    assert expired["waived"] == []

    # 4. A second approver: allowed.
    s.approve("bob", 201, first["decision_id"])
    allowed = s.decide("allowed")
    assert (allowed["outcome"], allowed["allow"]) == ("allow", True), summary(allowed)
    assert allowed["violations"] == []

    # 5. Replay reproduces every decision, also after the lineage moved on.
    s.replay_all()
    later = datetime.now(UTC) - timedelta(seconds=1)
    s.send_lineage(
        run_events(
            "train_churn",
            later,
            [dataset(("s3://scratch", "unclassified_extract"))],
            [dataset((MODEL_NODE["namespace"], MODEL_NODE["name"]))],
        )
    )
    s.replay_all()
    return s.decisions
