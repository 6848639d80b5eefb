"""Both policy engines fail closed: a crash, a hang, an engine error, a malformed or undefined
decision, or (OPA) a server whose copy of the bundle was changed is an ``error`` decision, never
an allow; the embedded engine recovers for the next decision.

The engines run small bundles written here, so that each failure is triggered by the input of one
decision and not by the next: the decision document is a real gate-shaped document.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.opa_engine import POLICY_PREFIX, OpaServerEngine
from adapters.regopy_engine import EmbeddedEngine
from governance.policy.bundle import PolicyBundle
from governance.policy.engine import PolicyEngine, PolicyEngineError, decide
from tests._processes import crash_regopy_workers, regopy_workers
from tests.conftest import OpaServer

DIGEST = "sha256:" + "ab" * 32

GATE = """package governance.gate

import rego.v1

# A decision that allows unless the model is called "deny"; "boom" makes the engine parse and
# return a deeply nested document (a native stack overflow in rego-cpp), "slow" makes it count
# to 10^9.
status := "fail" if input.model.name == "deny" else := "pass"

results := [{"control": "t-1", "status": status, "basis": "verified", "message": status,
	"subjects": [], "evidence": []}]

violations := [r.control | some r in results; r.status == "fail"]

answer := {
	"schema_version": 1,
	"allow": count(violations) == 0,
	"applicable": ["iso27001"],
	"evaluated": ["iso27001"],
	"results": results,
	"violations": violations,
	"warnings": [],
	"waived": [],
	"conflicted": [],
}

decision := object.union(answer, {"parsed": x}) if {
	input.model.name == "boom"
	x := json.unmarshal(input.model.purpose)
} else := answer if {
	input.model.name == "slow"
	n := count(numbers.range(1, 1000000000))
	n > 0
} else := answer
"""

CONTROL = {
    "id": "t-1",
    "framework": "iso27001",
    "article": "A.0",
    "title": "t",
    "enforcement": "deny",
    "effective": "2026-01-01",
}
DATA: dict[str, Any] = {
    "governance": {"catalog": {"version": "t", "controls": {"t-1": CONTROL}}, "config": {}}
}


def bundle(gate: str = GATE) -> PolicyBundle:
    return PolicyBundle({"gate/gate.rego": gate}, DATA, "test")


def document(name: str, purpose: str | None = None) -> dict[str, Any]:
    return {
        "evaluated_at": "2026-12-01T00:00:00.000000+00:00",
        "requested_by": "ci",
        "target": {"environment": "production"},
        "model": {"name": name, "version": "1", "digest": DIGEST, "purpose": purpose},
    }


@pytest.fixture
def embedded() -> Iterator[EmbeddedEngine]:
    engine = EmbeddedEngine(workers=1)
    engine.load(bundle())
    try:
        yield engine
    finally:
        engine.close()


def test_embedded_decides(embedded: EmbeddedEngine) -> None:
    allowed = decide(embedded, bundle(), document("fine"), 10.0)
    assert (allowed.outcome, allowed.allow) == ("allow", True)
    assert allowed.engine.name == "embedded"
    assert "rego-cpp" in allowed.engine.version
    denied = decide(embedded, bundle(), document("deny"), 10.0)
    assert (denied.outcome, denied.allow) == ("deny", False)
    assert [v["control"] for v in denied.violations] == ["t-1"]


def test_a_crash_is_an_error_and_the_next_decision_succeeds(embedded: EmbeddedEngine) -> None:
    nested = "[" * 200_000 + "]" * 200_000
    started = time.monotonic()
    crashed = decide(embedded, bundle(), document("boom", nested), 10.0)
    assert time.monotonic() - started < 10
    assert (crashed.outcome, crashed.allow) == ("error", False)
    assert "worker restarted" in (crashed.error or "")
    after = decide(embedded, bundle(), document("fine"), 30.0)
    assert after.outcome == "allow"


def test_a_worker_that_died_between_decisions_is_an_error_once(embedded: EmbeddedEngine) -> None:
    """A worker that crashed while idle: the decision that finds it is an error (its request
    cannot be written), and it never goes back to the pool."""
    assert decide(embedded, bundle(), document("fine"), 30.0).outcome == "allow"
    # Other engines of this test process may have idle workers too: only this engine's dies.
    own = {p.proc.pid for p in embedded._idle.queue if p is not None}
    others = set(regopy_workers(os.getpid())) - own
    (dead,) = crash_regopy_workers(os.getpid(), besides=others)
    crashed = decide(embedded, bundle(), document("fine"), 30.0)
    assert (crashed.outcome, crashed.allow) == ("error", False)
    assert "worker restarted" in (crashed.error or "")
    for _ in range(3):
        assert decide(embedded, bundle(), document("fine"), 30.0).outcome == "allow"
    assert dead not in regopy_workers(os.getpid())


def test_a_hang_is_an_error_within_the_timeout(embedded: EmbeddedEngine) -> None:
    started = time.monotonic()
    hung = decide(embedded, bundle(), document("slow"), 2.0)
    elapsed = time.monotonic() - started
    assert (hung.outcome, hung.allow) == ("error", False)
    assert "did not decide within 2 s" in (hung.error or "")
    assert elapsed < 5
    assert decide(embedded, bundle(), document("deny"), 30.0).outcome == "deny"


@pytest.mark.parametrize(
    ("name", "gate", "message"),
    [
        ("undefined", "package governance.gate\n\nimport rego.v1\n\nnothing := 1\n", "undefined"),
        (
            "allow with violations",
            GATE.replace('"allow": count(violations) == 0', '"allow": true'),
            "contradicts",
        ),
        (
            "no allow",
            GATE.replace('"allow": count(violations) == 0,', ""),
            "no boolean allow",
        ),
        (
            "a result without a status",
            GATE.replace('"status": status, ', ""),
            "is not a control's result",
        ),
        (
            "a result of a control the catalog lacks",
            GATE.replace('"control": "t-1"', '"control": "t-9"'),
            "names no evaluated control",
        ),
        (
            "no result for a control",
            GATE.replace("results := [{", "results := [] if true\nr := [{"),
            "no result for t-1",
        ),
        (
            "two results for one control",
            GATE.replace(
                "violations := [r.control", "results2 := results\nviolations := [r.control"
            ).replace('"results": results,', '"results": array.concat(results, results2),'),
            "two results",
        ),
        (
            "a failing deny control neither violated nor waived",
            GATE.replace('"violations": violations,', '"violations": [],'),
            "do not cover its failures",
        ),
        (
            "a waiver the input does not hold",
            GATE.replace('"waived": [],', '"waived": [{"control": "t-1", "waiver": 7}],'),
            "waiver not in the input",
        ),
        (
            "conflicting rules",
            GATE + "\ndecision := {}\n",
            "error",
        ),
    ],
)
def test_a_bad_decision_is_an_error(name: str, gate: str, message: str) -> None:
    engine = EmbeddedEngine(workers=1)
    try:
        loaded = True
        try:
            engine.load(bundle(gate))
        except PolicyEngineError as exc:
            loaded = False  # refused at load: never an allow either
            refusal = exc.message
        if loaded:
            decision = decide(engine, bundle(gate), document("deny"), 10.0)
            assert (decision.outcome, decision.allow) == ("error", False), name
            refusal = decision.error or ""
        assert message in refusal, refusal
    finally:
        engine.close()


# --- the OPA server engine ----------------------------------------------------------------------


def put(server: OpaServer, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=body,
        method="PUT",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 204)


@pytest.fixture
def opa(opa_server: OpaServer) -> Iterator[OpaServerEngine]:
    engine = OpaServerEngine(opa_server.url, opa_server.token, timeout=30)
    engine.load(bundle())
    try:
        yield engine
    finally:
        engine.close()


def test_opa_decides_like_the_embedded_engine(
    opa: OpaServerEngine, embedded: EmbeddedEngine
) -> None:
    for name in ("fine", "deny"):
        on_opa = decide(opa, bundle(), document(name), 30.0)
        on_embedded = decide(embedded, bundle(), document(name), 30.0)
        assert on_opa.outcome == on_embedded.outcome
        assert on_opa.results == on_embedded.results
        assert on_opa.engine.name == "opa"


def test_opa_refuses_a_changed_policy_or_data(opa: OpaServerEngine, opa_server: OpaServer) -> None:
    assert decide(opa, bundle(), document("fine"), 30.0).outcome == "allow"
    changed = GATE.replace('input.model.name == "deny"', 'input.model.name == "nobody"')
    put(opa_server, f"/v1/policies/{POLICY_PREFIX}gate/gate.rego", changed.encode())
    tampered = decide(opa, bundle(), document("deny"), 30.0)
    assert (tampered.outcome, tampered.allow) == ("error", False)
    assert "differ from the bundle" in (tampered.error or "")
    opa.load(bundle())  # the service puts its bundle back at start
    assert decide(opa, bundle(), document("deny"), 30.0).outcome == "deny"
    put(opa_server, "/v1/data/governance/config", json.dumps({"extra": True}).encode())
    assert decide(opa, bundle(), document("fine"), 30.0).outcome == "error"
    opa.load(bundle())


def test_opa_unreachable_or_unauthorised_is_an_error(opa_server: OpaServer) -> None:
    wrong = OpaServerEngine(opa_server.url, "not-the-token", timeout=5)
    with pytest.raises(PolicyEngineError, match="refused"):
        wrong.load(bundle())
    gone = OpaServerEngine("http://127.0.0.1:9", None, timeout=2)
    with pytest.raises(PolicyEngineError):
        gone.load(bundle())
    loaded = OpaServerEngine(opa_server.url, opa_server.token, timeout=30)
    loaded.load(bundle())
    loaded._client = OpaServerEngine("http://127.0.0.1:9", None, timeout=2)._client
    loaded._base = "http://127.0.0.1:9"
    engine: PolicyEngine = loaded
    decision = decide(engine, bundle(), document("fine"), 5.0)
    assert (decision.outcome, decision.allow) == ("error", False)
