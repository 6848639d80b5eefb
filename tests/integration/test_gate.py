"""The promotion gate over HTTP, on SQLite and PostgreSQL, with the real policies and engine.

A model without lineage evidence is denied on ISO 27001 (the framework that always applies); the
tests follow one such promotion through dry runs, break glass, approvals with segregation of
duties, waivers, listings and replay, and check what each leaves in the ledger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.api.app import create_app
from governance.auth.keys import Role
from governance.config import Settings
from governance.ledger import kinds
from governance.ledger.canonical import canonical_json
from governance.ledger.checkpoint import NoteVerifier
from governance.ledger.merkle import verify_inclusion
from governance.runtime import Runtime

DIGEST = "sha256:" + "5e" * 32
BODY: dict[str, Any] = {
    "model": {"name": "churn", "version": "3.0.0", "digest": DIGEST},
    "target": "production",
}
#: What a model with no lineage, attestation or change record fails (ISO 27001 only applies).
DENIED_WITHOUT_EVIDENCE = {"iso-a5.3", "iso-a8.24", "iso-a8.25", "iso-a8.32"}


@dataclass(frozen=True)
class Keys:
    ci: str
    alice: str
    bob: str
    root: str
    auditor: str


@pytest.fixture
def keys(runtime: Runtime) -> Keys:
    def key(role: Role, name: str) -> str:
        return runtime.keys.create(role, name)[1]

    return Keys(
        ci=key(Role.GATE, "ci"),
        alice=key(Role.APPROVER, "alice"),
        bob=key(Role.APPROVER, "bob"),
        root=key(Role.ADMIN, "root"),
        auditor=key(Role.AUDITOR, "auditor"),
    )


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def decide(client: TestClient, key: str, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/gate/decisions", json={**BODY, **changes}, headers=auth(key))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["Location"] == f"/api/v1/gate/decisions/{body['decision_id']}"
    return body


def ids(results: list[dict[str, Any]]) -> set[str]:
    return {r["control"] for r in results}


def test_a_decision_is_recorded_with_its_evidence_and_proof(
    client: TestClient, runtime: Runtime, keys: Keys
) -> None:
    decision = decide(client, keys.ci)
    assert (decision["outcome"], decision["allow"], decision["mode"]) == ("deny", False, "enforce")
    assert decision["evaluated"] == ["iso27001"]
    assert decision["applicable"] == ["iso27001"]
    assert ids(decision["violations"]) >= DENIED_WITHOUT_EVIDENCE
    for violation in decision["violations"]:
        assert (violation["status"], violation["enforcement"]) == ("fail", "deny")
        assert violation["framework"] == "iso27001"
        assert violation["article"]
        assert violation["message"]
    assert ids(decision["violations"]) | ids(decision["warnings"]) <= ids(decision["results"])
    assert decision["requested_by"] == "ci"
    assert decision["conflicted"] == ["ci"]
    assert decision["policy"]["engine"] == "embedded"
    assert decision["policy"]["bundle_digest"].startswith("sha256:")

    # The receipt proves the entry; its payload is the input document the policies saw.
    receipt = decision["receipt"]
    assert receipt["kind"] == kinds.GATE_DECISION.name
    checkpoint = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key).verify(
        receipt["checkpoint"]
    )
    verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        receipt["index"],
        receipt["tree_size"],
        [bytes.fromhex(p) for p in receipt["inclusion_proof"]],
        checkpoint.root,
    )
    entry = runtime.ledger.entry(receipt["index"])
    envelope = json.loads(entry.envelope)
    assert envelope["submitted_by"] == "ci"
    assert envelope["decision_id"] == decision["decision_id"]
    assert envelope["violations"] == sorted(ids(decision["violations"]))
    payload = json.loads(runtime.ledger.payload(receipt["index"]) or b"")
    document = payload["input"]
    assert document["model"]["digest"] == DIGEST
    assert document["requested_by"] == "ci"
    assert document["ledger"]["size"] == receipt["index"]
    assert hashlib.sha256(canonical_json(document)).hexdigest() == decision["input_sha256"]

    # Read back: the same decision, without the receipt.
    shown = client.get(
        f"/api/v1/gate/decisions/{decision['decision_id']}", headers=auth(keys.auditor)
    )
    assert shown.status_code == 200
    assert {**shown.json(), "receipt": receipt} == decision
    assert client.get("/api/v1/gate/decisions/nope", headers=auth(keys.auditor)).status_code == 404


def test_modes_dry_run_and_break_glass(client: TestClient, runtime: Runtime, keys: Keys) -> None:
    dry = decide(client, keys.ci, mode="dry_run")
    assert (dry["outcome"], dry["allow"], dry["break_glass"]) == ("deny", True, False)

    size = runtime.ledger.head()[0]
    refused = client.post(
        "/api/v1/gate/decisions",
        json={**BODY, "mode": "break_glass", "reason": "outage"},
        headers=auth(keys.ci),
    )
    assert refused.status_code == 403
    no_reason = client.post(
        "/api/v1/gate/decisions", json={**BODY, "mode": "break_glass"}, headers=auth(keys.root)
    )
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["detail"]
    assert runtime.ledger.head()[0] == size  # refusals record nothing

    glass = decide(client, keys.root, mode="break_glass", reason="incident 77: rollback")
    assert (glass["outcome"], glass["allow"], glass["break_glass"]) == ("deny", True, True)
    payload = json.loads(runtime.ledger.payload(glass["receipt"]["index"]) or b"")
    assert payload["reason"] == "incident 77: rollback"
    assert json.loads(runtime.ledger.entry(glass["receipt"]["index"]).envelope)["break_glass"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"model": {**BODY["model"], "digest": "sha256:AB"}}, "digest"),
        ({"target": "prod\u0000"}, "target"),
        ({"strategy": "yolo"}, "strategy"),
        ({"frameworks": ["hipaa"]}, "frameworks"),
        ({"approver": "alice"}, "approver"),
    ],
)
def test_bad_requests_are_400_and_record_nothing(
    client: TestClient, runtime: Runtime, keys: Keys, change: dict[str, Any], problem: str
) -> None:
    size = runtime.ledger.head()[0]
    answer = client.post("/api/v1/gate/decisions", json={**BODY, **change}, headers=auth(keys.ci))
    assert answer.status_code == 400, answer.text
    assert problem in answer.text
    assert runtime.ledger.head()[0] == size


def test_roles(client: TestClient, keys: Keys) -> None:
    assert client.post("/api/v1/gate/decisions", json=BODY).status_code == 401
    for key in (keys.alice, keys.auditor):
        assert (
            client.post("/api/v1/gate/decisions", json=BODY, headers=auth(key)).status_code == 403
        )
    approval = {"digest": DIGEST, "target": "production"}
    for key in (keys.ci, keys.root, keys.auditor):
        assert client.post("/api/v1/approvals", json=approval, headers=auth(key)).status_code == 403


def test_segregation_of_duties_compares_principals(
    client: TestClient, runtime: Runtime, keys: Keys
) -> None:
    decision = decide(client, keys.ci, initiator="alice")
    # alice started the pipeline: her approval is refused and never recorded, with any key.
    size = runtime.ledger.head()[0]
    approval = {"digest": DIGEST, "target": "production", "decision_id": decision["decision_id"]}
    refused = client.post("/api/v1/approvals", json=approval, headers=auth(keys.alice))
    assert refused.status_code == 409
    assert "segregation of duties" in refused.json()["detail"]
    second_key = runtime.keys.create(Role.APPROVER, "alice")[1]
    assert (
        client.post("/api/v1/approvals", json=approval, headers=auth(second_key)).status_code == 409
    )
    # The gate principal's own approver key: the requester may not approve either.
    ci_approver = runtime.keys.create(Role.APPROVER, "ci")[1]
    assert (
        client.post("/api/v1/approvals", json=approval, headers=auth(ci_approver)).status_code
        == 409
    )
    assert runtime.ledger.head()[0] == size

    granted = client.post(
        "/api/v1/approvals", json={**approval, "comment": "reviewed"}, headers=auth(keys.bob)
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["approver"] == "bob"
    again = client.post(
        "/api/v1/approvals", json={**approval, "comment": "reviewed"}, headers=auth(keys.bob)
    )
    assert again.json()["receipt"]["duplicate"] is True
    changed = client.post(
        "/api/v1/approvals", json={**approval, "comment": "changed"}, headers=auth(keys.bob)
    )
    assert changed.status_code == 409
    assert "bob already approved" in changed.json()["detail"]
    listed = client.get(f"/api/v1/approvals?digest={DIGEST}", headers=auth(keys.auditor)).json()
    assert [(a["approver"], a["comment"]) for a in listed["approvals"]] == [("bob", "reviewed")]
    wrong = client.post(
        "/api/v1/approvals", json={**approval, "target": "staging"}, headers=auth(keys.bob)
    )
    assert wrong.status_code == 400

    # The next decision sees bob's approval as evidence; one approval is not two.
    later = decide(client, keys.ci, initiator="alice")
    payload = json.loads(runtime.ledger.payload(later["receipt"]["index"]) or b"")
    assert [a["approver"] for a in payload["input"]["approvals"]] == ["bob"]
    sod = next(r for r in later["results"] if r["control"] == "iso-a5.3")
    assert sod["status"] == "fail"
    assert sod["message"].startswith("1 independent approval(s)")


def test_a_waiver_lets_one_control_through_until_it_expires(
    client: TestClient, runtime: Runtime, keys: Keys
) -> None:
    decide(client, keys.ci, initiator="alice")
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    waiver = {
        "control": "iso-a8.32",
        "digest": DIGEST,
        "target": "production",
        "reason": "the change board meets on Monday",
        "expires_at": future,
    }
    size = runtime.ledger.head()[0]
    for change, status in (
        ({"control": "no-such-control"}, 400),
        ({"expires_at": "2020-01-01T00:00:00Z"}, 400),
        ({"expires_at": "2030-01-01T00:00:00"}, 400),
    ):
        answer = client.post("/api/v1/waivers", json={**waiver, **change}, headers=auth(keys.bob))
        assert answer.status_code == status, answer.text
    # The initiator may not waive controls of the promotion she started.
    assert client.post("/api/v1/waivers", json=waiver, headers=auth(keys.alice)).status_code == 409
    assert runtime.ledger.head()[0] == size

    granted = client.post("/api/v1/waivers", json=waiver, headers=auth(keys.bob))
    assert granted.status_code == 201, granted.text
    assert granted.json()["approver"] == "bob"
    decision = decide(client, keys.ci, initiator="alice")
    assert "iso-a8.32" in ids(decision["waived"])
    assert "iso-a8.32" not in ids(decision["violations"])
    waived = next(r for r in decision["waived"] if r["control"] == "iso-a8.32")
    assert waived["waiver_index"] == granted.json()["index"]
    listed = client.get(f"/api/v1/waivers?digest={DIGEST}", headers=auth(keys.auditor)).json()
    assert [w["control"] for w in listed["waivers"]] == ["iso-a8.32"]


def test_listing_filters_and_replay(client: TestClient, runtime: Runtime, keys: Keys) -> None:
    first = decide(client, keys.ci)
    decide(client, keys.ci, target="staging")
    decide(client, keys.ci, mode="dry_run")
    other = "sha256:" + "0f" * 32
    decide(client, keys.ci, model={**BODY["model"], "digest": other})

    def listed(query: str) -> list[str]:
        answer = client.get(f"/api/v1/gate/decisions?{query}", headers=auth(keys.auditor))
        assert answer.status_code == 200, answer.text
        return [d["decision_id"] for d in answer.json()["decisions"]]

    everything = listed("")
    assert len(everything) == 4
    assert everything[0] == first["decision_id"]
    assert len(listed(f"digest={DIGEST}")) == 3
    assert len(listed(f"digest={DIGEST}&target=production")) == 2
    assert len(listed("outcome=deny")) == 4
    assert listed("outcome=allow") == []
    assert len(listed("since=2000-01-01T00:00:00Z")) == 4
    assert listed("since=9999-01-01T00:00:00Z") == []
    assert len(listed("limit=2")) == 2
    page = client.get("/api/v1/gate/decisions?limit=2", headers=auth(keys.auditor)).json()
    after = page["decisions"][-1]["index"]
    assert listed(f"after={after}") == everything[2:]
    for bad in ("digest=sha256:zz", "outcome=maybe", "since=yesterday", "after=-2", "limit=0"):
        answer = client.get(f"/api/v1/gate/decisions?{bad}", headers=auth(keys.auditor))
        assert answer.status_code == 400, bad

    replayed = client.post(
        f"/api/v1/gate/decisions/{first['decision_id']}/replay", headers=auth(keys.auditor)
    )
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert body["reproduced"] is True
    assert body["differences"] == []
    assert body["recorded"]["violations"] == sorted(ids(first["violations"]))
    assert body["replayed"] == body["recorded"]
    # Replay after erasure: the input is gone, and the answer says so.
    runtime.erasure.erase(first["receipt"]["index"], "test")
    gone = client.post(
        f"/api/v1/gate/decisions/{first['decision_id']}/replay", headers=auth(keys.auditor)
    )
    assert gone.status_code == 409


def test_an_engine_that_cannot_decide_is_an_error_never_an_allow(
    database: Any, tmp_path: Any
) -> None:
    settings = Settings(
        database_url=database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        ledger_origin="test.governance/ledger",
        log_json=False,
        policy_timeout_seconds=0.001,
    )
    runtime = Runtime.open(settings)
    try:
        key = runtime.keys.create(Role.GATE, "ci")[1]
        with TestClient(create_app(settings, runtime)) as client:
            decision = decide(client, key)
        assert (decision["outcome"], decision["allow"]) == ("error", False)
        assert decision["error"]
        assert decision["results"] == []
        assert decision["violations"] == []
        envelope = json.loads(runtime.ledger.entry(decision["receipt"]["index"]).envelope)
        assert (envelope["outcome"], envelope["allow"]) == ("error", False)
    finally:
        runtime.close()
