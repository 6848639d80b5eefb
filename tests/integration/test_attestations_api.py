"""Attestations through the HTTP API: every EXPECTED.json case, verdicts in the ledger.

One trust configuration file (YAML) expresses every case's ``case_trust(case)`` under its own
purpose ``case-<id>``: the case's trusted root as that purpose's root, its public key or
certificate chain registered for that purpose only, its allowed signer for that purpose only.
That way a single Runtime (one sigstore verifier per root) serves the whole matrix; the test
``test_trust_file_expresses_case_trust`` checks, per case, that the purpose sees exactly what
``case_trust`` describes. Model signatures are submitted with the model's digest, computed from
the fixture model directory with model-signing's own hashing (the API takes no directory).
Outbound sockets are blocked for the whole module (the library test's guard, imported). The
per-case matrix runs on SQLite; some PASS and FAIL cases, every model-signing case, and the model
signature checks (wrong digest, no digest, inconsistent manifest, no chain) also run on
PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from governance.api.app import create_app
from governance.attestations.record import bundle_of
from governance.attestations.trust import AllowedIdentity, load_trust_config
from governance.attestations.verify import Reason
from governance.cli.main import main
from governance.config import Settings
from governance.db import upgrade
from governance.ledger import kinds, merkle
from governance.ledger.checkpoint import NoteVerifier
from governance.runtime import Runtime
from tests.conftest import Database, signing_fixture
from tests.integration._conformance import assert_conforms, load
from tests.integration.test_attestations import (
    CERT_MODE_SIGNER,
    FAIL_REASONS,
    LOCAL_MODEL_PEM,
    STAGING_V3,
    TINY_KEY,
    WHL,
    case_ids,
    case_trust,
    expected_case,
    expected_cases,
    inconsistent_statement,
    key_algorithm,
    local_model_signature,
    model_cases,
    model_digest,
    network_guard,
    no_network,
    self_signed_ca,
    statement_of,
    tampered_model_signature,
)

if TYPE_CHECKING:
    # Starlette's TestClient is built on httpx2 (httpx's successor): its responses are httpx2's.
    from httpx2 import Response

__all__ = ["network_guard", "no_network"]  # the imported socket guard applies to this module

API = "/api/v1/attestations"
ORIGIN = "test.governance/attestations"
PROD_PURPOSE, STAGING_PURPOSE, NARROW_PURPOSE = "rel-production", "rel-staging", "rel-narrow"
# model signatures by a key of the test's own; certificate mode with an allowed signer and no
# chain, or a chain that did not issue the signing certificate
LOCAL_MODEL_PURPOSE, NO_CHAIN_PURPOSE = "model-local", "model-no-chain"
OTHER_CA_PURPOSE, OTHER_CA = "model-other-ca", self_signed_ca()


def purpose_of(case: dict[str, Any]) -> str:
    return f"case-{case['id']}"


def is_model_directory(case: dict[str, Any]) -> bool:
    return "(directory" in case["artifact"]


def expected_digest(case: dict[str, Any]) -> str | None:
    """What the API is told the attestation must be about.

    A file artifact: its SHA-256. A digest case: that digest. A keyed statement: the statement's
    own subject digest. A model directory (the API takes none): the model's digest, computed
    from the directory with model-signing's hashing.
    """
    spec = case["artifact"]
    if spec.startswith("sha256:"):
        return str(spec)
    if spec.startswith("subject digest from the statement"):
        subject = statement_of(signing_fixture(case["bundle"]))["subject"][0]
        return "sha256:" + str(subject["digest"]["sha256"])
    if is_model_directory(case):
        return model_digest(case)
    return "sha256:" + hashlib.sha256(signing_fixture(spec).read_bytes()).hexdigest()


def api_expectation(case: dict[str, Any]) -> tuple[str, set[str]]:
    """(verdict, acceptable reason codes) for the case through the API."""
    if case["expected"] == "PASS":
        return "pass", set()
    return "fail", {r.value for r in FAIL_REASONS[case["id"]]}


# --- the trust configuration file ----------------------------------------------------------------


def identity_rule(rule: AllowedIdentity) -> dict[str, str]:
    out = {"issuer": rule.issuer}
    if rule.identity is not None:
        out["identity"] = rule.identity
    else:
        assert rule.identity_regex is not None  # an AllowedIdentity has one or the other
        out["identity_regex"] = rule.identity_regex
    return out


def trusted_root_path(name: str) -> str:
    return str(signing_fixture("trusted-roots", f"sigstore-{name}.trusted_root.json"))


def trust_document() -> dict[str, Any]:
    roots = {n: trusted_root_path(n) for n in ("production", "staging")}
    keys: list[dict[str, Any]] = []
    chains: list[dict[str, Any]] = []
    identities: dict[str, list[dict[str, str]]] = {}
    purpose_roots: dict[str, str] = {}
    for case in expected_cases():
        purpose, trust = purpose_of(case), case_trust(case)
        assert trust.default_trusted_root is not None
        purpose_roots[purpose] = trust.default_trusted_root
        if "public_key" in case:
            path = signing_fixture(case["public_key"])
            algorithm = key_algorithm(path.read_text()).value
            keys.append(
                {"id": f"{case['id']}-key", "path": str(path), "algorithm": algorithm}
                | {"purposes": [purpose]}
            )
        if "certificate_chain" in case:
            path = signing_fixture(case["certificate_chain"])
            chains.append({"id": f"{case['id']}-ca", "path": str(path), "purposes": [purpose]})
        rules = trust.identities.get("release", ())
        if rules:
            identities[purpose] = [identity_rule(r) for r in rules]
    # production and staging bundles, each purpose pinned to one root, both signers allowed
    whl = expected_case(WHL)
    both = [
        {"issuer": case["issuer"], "identity": case["identity"]}
        for case in map(expected_case, (WHL, STAGING_V3))
    ]
    identities[PROD_PURPOSE] = both
    identities[STAGING_PURPOSE] = both
    purpose_roots[PROD_PURPOSE] = "production"
    purpose_roots[STAGING_PURPOSE] = "staging"
    # the right root, a valid signature, but another workflow of the same repository
    identities[NARROW_PURPOSE] = [
        {
            "issuer": whl["issuer"],
            "identity": whl["identity"].replace("release.yml", "nightly.yml"),
        }
    ]
    purpose_roots[NARROW_PURPOSE] = "production"
    keys.append(
        {"id": "local-model-key", "pem": LOCAL_MODEL_PEM, "algorithm": "ecdsa-p256-sha256"}
        | {"purposes": [LOCAL_MODEL_PURPOSE]}
    )
    identities[NO_CHAIN_PURPOSE] = [identity_rule(CERT_MODE_SIGNER)]
    identities[OTHER_CA_PURPOSE] = [identity_rule(CERT_MODE_SIGNER)]
    chains.append({"id": "other-ca", "pem": OTHER_CA, "purposes": [OTHER_CA_PURPOSE]})
    return {
        "version": 1,
        "default_trusted_root": "production",
        "trusted_roots": roots,
        "purpose_trusted_roots": purpose_roots,
        "keys": keys,
        "certificate_chains": chains,
        "identities": identities,
    }


def open_runtime(database_url: str, tmp: Path, trust_config: Path) -> Runtime:
    settings = Settings(
        database_url=database_url,
        signing_key_file=tmp / "checkpoint.key",
        ledger_origin=ORIGIN,
        log_json=False,
        trust_config=trust_config,
    )
    return Runtime.open(settings, attestations=True)


class Service:
    """A running service: runtime, client and one key per role."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        app = create_app(runtime.settings, runtime)
        self.client = TestClient(app, raise_server_exceptions=False)
        # Every verdict the cases produce is checked against the OpenAPI document too.
        self.schema = load(app.openapi())
        self.client.__enter__()
        self.keys = {
            role: runtime.keys.create(role, f"test-{role}")[1]
            for role in ("ingest", "auditor", "gate", "admin")
        }

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.runtime.close()

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def size(self) -> int:
        return self.runtime.ledger.head()[0]


@pytest.fixture(scope="module")
def trust_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "trust.yaml"
    path.write_text(yaml.safe_dump(trust_document(), sort_keys=False))
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, trust_file: Path) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    svc = Service(open_runtime(url, tmp, trust_file))
    try:
        yield svc
    finally:
        svc.close()


# --- helpers --------------------------------------------------------------------------------------


def bundle_bytes(case: dict[str, Any]) -> bytes:
    return signing_fixture(case["bundle"]).read_bytes()


def submit(
    svc: Service, bundle: bytes, purpose: str, digest: str | None, role: str = "ingest"
) -> Response:
    body = {"bundle_base64": base64.b64encode(bundle).decode(), "purpose": purpose}
    if digest is not None:
        body["expected_digest"] = digest
    return svc.client.post(API, json=body, headers=svc.headers(role))


def assert_receipt_verifies(receipt: dict[str, Any], runtime: Runtime) -> None:
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    checkpoint = verifier.verify(receipt["checkpoint"])
    assert checkpoint.origin == ORIGIN
    assert checkpoint.size == receipt["tree_size"]
    merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        receipt["index"],
        receipt["tree_size"],
        [bytes.fromhex(h) for h in receipt["inclusion_proof"]],
        checkpoint.root,
    )


def trust_digest(svc: Service) -> str:
    assert svc.runtime.attestations is not None
    return svc.runtime.attestations.verifier.trust.digest()


def check_response(
    svc: Service, response: Response, bundle: bytes, verdict: str, reasons: set[str]
) -> dict[str, Any]:
    """The HTTP answer, the receipt and the ledger entry agree with the expected verdict; the
    answers are the documented ones."""
    assert_conforms(svc.schema, "POST", API, response)
    if verdict == "pass":
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["verdict"] == "pass"
        assert body["facts"]["trust_config_digest"] == trust_digest(svc)
        receipt = body["receipt"]
        assert response.headers["location"] == f"{API}/{receipt['index']}"
    else:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["reason"] in reasons, body
        assert body["status"] == 422
        receipt = body["receipt"]
        assert body["index"] == receipt["index"]
    index = receipt["index"]
    assert receipt["kind"] == kinds.ATTESTATION.name
    assert_receipt_verifies(receipt, svc.runtime)

    entry = svc.runtime.ledger.entry(index)
    assert entry.kind == kinds.ATTESTATION.name
    assert merkle.leaf_hash(entry.envelope).hex() == receipt["leaf_hash"]
    payload = svc.runtime.ledger.payload(index)
    assert payload is not None
    assert receipt["sha256"] == hashlib.sha256(payload).hexdigest()
    # the bundle is kept byte for byte in the payload, and the envelope commits to its digest
    assert bundle_of(payload, entry.media_type) == bundle
    envelope = json.loads(entry.envelope)
    assert envelope["bundle_sha256"] == hashlib.sha256(bundle).hexdigest()
    assert envelope["verdict"] == verdict
    assert envelope["trust_config"] == trust_digest(svc)
    if verdict == "fail":
        assert envelope["reason"] == body["reason"]
    else:
        assert "reason" not in envelope

    shown = svc.client.get(f"{API}/{index}", headers=svc.headers("auditor"))
    assert_conforms(svc.schema, "GET", f"{API}/{{index}}", shown, index=index)
    assert shown.status_code == 200, shown.text
    assert shown.json()["verdict"] == verdict
    assert shown.json()["index"] == index
    assert isinstance(envelope, dict)
    return envelope


def assert_listed(svc: Service, digest: str, index: int, verdict: str) -> None:
    listed = svc.client.get(API, params={"subject": digest}, headers=svc.headers("auditor"))
    assert_conforms(svc.schema, "GET", API, listed)
    assert listed.status_code == 200, listed.text
    rows = {r["index"]: r for r in listed.json()["attestations"]}
    assert index in rows, (digest, listed.json())
    assert rows[index]["verdict"] == verdict


# --- every EXPECTED case --------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", case_ids())
def test_trust_file_expresses_case_trust(trust_file: Path, case_id: str) -> None:
    case = expected_case(case_id)
    loaded, wanted, purpose = load_trust_config(trust_file), case_trust(case), purpose_of(case)
    assert loaded.root_name_for(purpose) == wanted.default_trusted_root
    root = wanted.default_trusted_root
    assert root is not None
    assert loaded.trusted_roots[root].sha256 == wanted.trusted_roots[root].sha256
    assert [(k.pem.strip(), k.algorithm) for k in loaded.keys_for(purpose)] == [
        (k.pem.strip(), k.algorithm) for k in wanted.keys_for("release")
    ]
    assert [c.pem.strip() for c in loaded.chains_for(purpose)] == [
        c.pem.strip() for c in wanted.chains_for("release")
    ]
    assert loaded.identities_for(purpose) == wanted.identities_for("release")


@pytest.mark.parametrize("case_id", case_ids())
def test_expected_case_through_the_api(service: Service, case_id: str) -> None:
    case = expected_case(case_id)
    bundle, digest = bundle_bytes(case), expected_digest(case)
    verdict, reasons = api_expectation(case)
    size = service.size()

    response = submit(service, bundle, purpose_of(case), digest)

    envelope = check_response(service, response, bundle, verdict, reasons)
    assert service.size() == size + 1
    assert envelope["purpose"] == purpose_of(case)
    index = envelope["index"]
    if digest is not None:
        assert {"sha256": digest.removeprefix("sha256:")} in envelope["subjects"]
        assert_listed(service, digest, index, verdict)
    if verdict == "pass":
        facts = response.json()["facts"]
        assert digest is not None
        if "certificate_chain" in case:
            assert (facts["mode"], facts["signer"]["identity"]) == (
                "certificate",
                CERT_MODE_SIGNER.identity,
            )
            assert facts["trusted_root"] == f"chain:{case['id']}-ca"
        elif "public_key" in case:
            assert (facts["mode"], facts["signer"]["key_id"]) == ("key", f"{case['id']}-key")
        else:
            assert facts["mode"] == "keyless"
            assert (facts["signer"]["identity"], facts["signer"]["issuer"]) == (
                case["identity"],
                case["issuer"],
            )
        if case["kind"] == "model-signing":
            assert (facts["format"], facts["model"]["digest"]) == ("model_signing", digest)
        else:
            assert any(
                s["digest"].get("sha256") == digest.removeprefix("sha256:")
                for s in facts["subjects"]
            )
        assert facts["artifact_digest"] == digest
    # the same submission again is the same verdict, not a new entry
    again = submit(service, bundle, purpose_of(case), digest)
    assert again.status_code == response.status_code
    receipt = again.json()["receipt"]
    assert (receipt["index"], receipt["duplicate"]) == (index, True)
    assert service.size() == size + 1


# --- trusted roots and allowed signers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "right", "wrong"),
    [(WHL, PROD_PURPOSE, STAGING_PURPOSE), (STAGING_V3, STAGING_PURPOSE, PROD_PURPOSE)],
    ids=["production-bundle", "staging-bundle"],
)
def test_bundle_rejected_against_the_other_root(
    service: Service, case_id: str, right: str, wrong: str
) -> None:
    case = expected_case(case_id)
    bundle, digest = bundle_bytes(case), expected_digest(case)
    rejected = submit(service, bundle, wrong, digest)
    check_response(service, rejected, bundle, "fail", {Reason.CERTIFICATE_UNTRUSTED.value})
    accepted = submit(service, bundle, right, digest)
    check_response(service, accepted, bundle, "pass", set())
    assert accepted.json()["facts"]["trusted_root"] == (
        "production" if right == PROD_PURPOSE else "staging"
    )
    assert digest is not None
    assert_listed(service, digest, rejected.json()["index"], "fail")
    assert_listed(service, digest, accepted.json()["receipt"]["index"], "pass")


def test_identity_outside_the_allow_list_is_rejected(service: Service) -> None:
    whl = expected_case(WHL)
    bundle, digest = bundle_bytes(whl), expected_digest(whl)
    # the same bundle verifies for a purpose that allows its signer ...
    check_response(service, submit(service, bundle, PROD_PURPOSE, digest), bundle, "pass", set())
    # ... and not for one that allows only another workflow of the same repository
    response = submit(service, bundle, NARROW_PURPOSE, digest)
    check_response(service, response, bundle, "fail", {Reason.IDENTITY_NOT_ALLOWED.value})


def test_a_purpose_without_signers_fails_closed(service: Service) -> None:
    whl = expected_case(WHL)
    bundle, digest = bundle_bytes(whl), expected_digest(whl)
    response = submit(service, bundle, "unconfigured-purpose", digest)
    check_response(service, response, bundle, "fail", {Reason.IDENTITY_NOT_ALLOWED.value})


def test_bundle_as_json_is_accepted(service: Service) -> None:
    staging_v3 = expected_case(STAGING_V3)
    bundle = bundle_bytes(staging_v3)
    body = {
        "bundle": json.loads(bundle),
        "purpose": purpose_of(staging_v3),
        "expected_digest": expected_digest(staging_v3),
        "predicate_type": None,
    }
    response = service.client.post(API, json=body, headers=service.headers("admin"))
    assert response.status_code == 201, response.text
    index = response.json()["receipt"]["index"]
    # kept as compact JSON of the document
    entry = service.runtime.ledger.entry(index)
    kept = bundle_of(service.runtime.ledger.payload(index) or b"", entry.media_type)
    assert json.loads(kept) == json.loads(bundle)


# --- rejected requests ----------------------------------------------------------------------------


def good_b64() -> str:
    """A bundle that verifies, base64-encoded as the API takes it."""
    return base64.b64encode(bundle_bytes(expected_case(STAGING_V3))).decode()


# Each body is made around a good bundle (see ``good_b64``), which the test reads.
BAD_INPUT: dict[str, Callable[[str], dict[str, Any]]] = {
    "no-bundle": lambda _good: {"purpose": "release"},
    "both-bundles": lambda good: {"purpose": "release", "bundle": {}, "bundle_base64": good},
    "bad-base64": lambda _good: {"purpose": "release", "bundle_base64": "not base64!"},
    "bad-digest": lambda good: {
        "purpose": "release",
        "bundle_base64": good,
        "expected_digest": "md5:00",
    },
    "short-digest": lambda good: {
        "purpose": "release",
        "bundle_base64": good,
        "expected_digest": "sha256:abcd",
    },
    "empty-purpose": lambda good: {"purpose": "", "bundle_base64": good},
    "unknown-field": lambda good: {"purpose": "release", "bundle_base64": good, "colour": "blue"},
}


@pytest.mark.parametrize("body_for", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_400_and_appends_nothing(
    service: Service, body_for: Callable[[str], dict[str, Any]]
) -> None:
    body = body_for(good_b64())
    size = service.size()
    response = service.client.post(API, json=body, headers=service.headers("ingest"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text
    assert service.size() == size


@pytest.mark.parametrize("subject", ["abc", "sha256:xyz", "sha256:" + "g" * 64])
def test_bad_subject_query_is_400(service: Service, subject: str) -> None:
    response = service.client.get(API, params={"subject": subject}, headers=service.headers("gate"))
    assert response.status_code == 400, response.text


def test_unknown_index_is_404(service: Service) -> None:
    response = service.client.get(f"{API}/999999", headers=service.headers("auditor"))
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("role", ["auditor", "gate"])
def test_wrong_role_may_not_submit(service: Service, role: str) -> None:
    size = service.size()
    staging_v3 = expected_case(STAGING_V3)
    response = submit(
        service, bundle_bytes(staging_v3), "release", expected_digest(staging_v3), role
    )
    assert response.status_code == 403, response.text
    assert service.size() == size


def test_ingest_may_not_read_verdicts(service: Service) -> None:
    digest = expected_digest(expected_case(STAGING_V3))
    response = service.client.get(
        API, params={"subject": digest}, headers=service.headers("ingest")
    )
    assert response.status_code == 403, response.text
    assert service.client.get(f"{API}/0", headers=service.headers("ingest")).status_code == 403


def test_no_key_is_401(service: Service) -> None:
    size = service.size()
    body = {"bundle_base64": good_b64(), "purpose": "release"}
    assert service.client.post(API, json=body).status_code == 401
    assert service.size() == size


# --- the trust configuration in the ledger --------------------------------------------------------


def trust_entries(runtime: Runtime) -> list[dict[str, Any]]:
    size = runtime.ledger.head()[0]
    found = []
    for index in range(size):
        entry = runtime.ledger.entry(index)
        if entry.kind == kinds.TRUST_CONFIG.name:
            found.append(json.loads(entry.envelope))
    return found


def small_trust(path: Path, identity: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "default_trusted_root": "staging",
                "trusted_roots": {"staging": trusted_root_path("staging")},
                "identities": {
                    "release": [
                        {"issuer": expected_case(STAGING_V3)["issuer"], "identity": identity}
                    ]
                },
            }
        )
    )
    return path


def test_trust_config_recorded_once_per_distinct_config(service: Service, tmp_path: Path) -> None:
    # the module's service recorded its configuration at startup, once (create_app's lifespan
    # starts the runtime a second time; that must not add another entry)
    (recorded,) = trust_entries(service.runtime)
    assert (
        recorded["digest"]
        == load_trust_config(service.runtime.settings.trust_config or Path()).digest()
    )

    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    config = small_trust(tmp_path / "trust.yaml", expected_case(STAGING_V3)["identity"])
    first = open_runtime(url, tmp_path, config)
    try:
        entries = trust_entries(first)
        assert [e["digest"] for e in entries] == [load_trust_config(config).digest()]
        assert json.loads(first.ledger.payload(entries[0]["index"]) or b"")
    finally:
        first.close()
    # restart with the same configuration: nothing new
    again = open_runtime(url, tmp_path, config)
    try:
        assert len(trust_entries(again)) == 1
    finally:
        again.close()
    # a changed configuration: a new entry with the new digest
    small_trust(config, "someone-else@example.com")
    changed = open_runtime(url, tmp_path, config)
    try:
        digests = [e["digest"] for e in trust_entries(changed)]
        assert len(digests) == 2
        assert digests[1] == load_trust_config(config).digest() != digests[0]
    finally:
        changed.close()


def test_trust_show_prints_the_digest(
    trust_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVERNANCE_TRUST_CONFIG", str(trust_file))
    assert main(["trust", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["digest"] == load_trust_config(trust_file).digest()
    assert set(shown["trusted_roots"]) >= {"production", "staging"} or shown["trusted_roots"]


# --- model signatures without the model, on SQLite and PostgreSQL -------------------------------


@pytest.fixture
def db_service(database: Database, tmp_path: Path, trust_file: Path) -> Iterator[Service]:
    svc = Service(open_runtime(database.url, tmp_path, trust_file))
    try:
        yield svc
    finally:
        svc.close()


def test_model_signature_with_another_digest_is_subject_mismatch(db_service: Service) -> None:
    # a model that none of the signatures signs
    other = model_digest(expected_case("oms-tiny-tampered"))
    for case in (c for c in model_cases() if c["expected"] == "PASS"):
        bundle = bundle_bytes(case)
        response = submit(db_service, bundle, purpose_of(case), other)
        reasons = {Reason.SUBJECT_MISMATCH.value}
        envelope = check_response(db_service, response, bundle, "fail", reasons)
        assert_listed(db_service, other, envelope["index"], "fail")
        # the same signature with its model's digest passes
        right = submit(db_service, bundle, purpose_of(case), expected_digest(case))
        check_response(db_service, right, bundle, "pass", set())


def test_model_signature_without_a_digest_is_artifact_missing(db_service: Service) -> None:
    for case in model_cases():
        bundle, size = bundle_bytes(case), db_service.size()
        response = submit(db_service, bundle, purpose_of(case), None)
        check_response(db_service, response, bundle, "fail", {Reason.ARTIFACT_MISSING.value})
        assert db_service.size() == size + 1


def test_model_manifest_must_be_consistent_and_signed(db_service: Service) -> None:
    tiny_key = expected_case(TINY_KEY)
    digest = model_digest(tiny_key)
    # the test's key, registered for LOCAL_MODEL_PURPOSE, over the tiny model's statement: pass
    good = local_model_signature(statement_of(signing_fixture(tiny_key["bundle"])))
    response = submit(db_service, good, LOCAL_MODEL_PURPOSE, digest)
    check_response(db_service, response, good, "pass", set())
    assert response.json()["facts"]["signer"]["key_id"] == "local-model-key"
    # the same key over a statement whose subject is not the digest of its resources
    inconsistent = local_model_signature(inconsistent_statement())
    response = submit(db_service, inconsistent, LOCAL_MODEL_PURPOSE, digest)
    check_response(db_service, response, inconsistent, "fail", {Reason.MALFORMED_BUNDLE.value})
    assert "Manifest is inconsistent" in response.json()["detail"]
    # that statement put into the fixture's signature without signing it again
    tampered = tampered_model_signature()
    response = submit(db_service, tampered, purpose_of(tiny_key), digest)
    check_response(db_service, response, tampered, "fail", {Reason.SIGNATURE_INVALID.value})


def test_certificate_mode_needs_the_purposes_chain(db_service: Service) -> None:
    case = expected_case("oms-certificate")
    bundle, digest = bundle_bytes(case), expected_digest(case)
    # the signer is allowed for NO_CHAIN_PURPOSE, but no chain is configured for it
    response = submit(db_service, bundle, NO_CHAIN_PURPOSE, digest)
    check_response(db_service, response, bundle, "fail", {Reason.CHAIN_MISSING.value})
    # a chain that did not issue the signing certificate
    response = submit(db_service, bundle, OTHER_CA_PURPOSE, digest)
    check_response(db_service, response, bundle, "fail", {Reason.CERTIFICATE_UNTRUSTED.value})
    response = submit(db_service, bundle, purpose_of(case), digest)
    check_response(db_service, response, bundle, "pass", set())


# --- erasure --------------------------------------------------------------------------------------


def verdict_rows(url: str) -> dict[int, tuple[str, str | None, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT ledger_index, verdict, facts, detail FROM attestation_verdicts")
            ).all()
    finally:
        engine.dispose()
    return {int(i): (verdict, facts, detail) for i, verdict, facts, detail in rows}


def test_erasing_an_attestation_forgets_its_signer(
    database: Database,
    tmp_path: Path,
    trust_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    staging_v3, whl_case = expected_case(STAGING_V3), expected_case(WHL)
    email, workload = staging_v3["identity"], whl_case["identity"]
    svc = Service(open_runtime(database.url, tmp_path, trust_file))
    try:
        staging, whl = bundle_bytes(staging_v3), bundle_bytes(whl_case)
        passed = submit(svc, staging, purpose_of(staging_v3), expected_digest(staging_v3))
        failed = submit(svc, whl, NARROW_PURPOSE, expected_digest(whl_case))  # signer not allowed
        kept = submit(svc, staging, STAGING_PURPOSE, expected_digest(staging_v3))
        erased = [passed.json()["receipt"]["index"], failed.json()["index"]]
        kept_index = kept.json()["receipt"]["index"]
    finally:
        svc.close()
    before = verdict_rows(database.url)
    assert email in (before[erased[0]][1] or "")
    assert workload in (before[erased[1]][2] or "")

    for name, value in {
        "GOVERNANCE_DATABASE_URL": database.url,
        "GOVERNANCE_SIGNING_KEY_FILE": str(tmp_path / "checkpoint.key"),
        "GOVERNANCE_LEDGER_ORIGIN": ORIGIN,
        "GOVERNANCE_LOG_JSON": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOVERNANCE_TRUST_CONFIG", raising=False)
    for index in erased:
        assert main(["ledger", "erase", "--index", str(index), "--reason", "Art. 17"]) == 0
    capsys.readouterr()

    after = verdict_rows(database.url)
    for index in erased:
        verdict, facts, detail = after[index]
        assert verdict == before[index][0]
        assert detail is None
        assert email not in (facts or "")
        assert workload not in (facts or "")
    facts = json.loads(after[erased[0]][1] or "{}")
    assert facts["signer"] == {
        "identity": None,
        "issuer": staging_v3["issuer"],
        "key_id": None,
    }
    assert facts["subjects"] == json.loads(before[erased[0]][1] or "{}")["subjects"]
    # the same signer's other attestation keeps its facts
    assert after[kept_index] == before[kept_index]
    assert email in (after[kept_index][1] or "")


# --- PostgreSQL -----------------------------------------------------------------------------------


def test_pass_and_fail_on_postgresql(
    pg_database: Database, tmp_path: Path, trust_file: Path
) -> None:
    svc = Service(open_runtime(pg_database.url, tmp_path, trust_file))
    try:
        assert len(trust_entries(svc.runtime)) == 1
        model_ids = [c["id"] for c in model_cases()]
        for case_id in ("sp-bundle-v03", "tamper-signature", "keyed-slsa-ed25519", *model_ids):
            case = expected_case(case_id)
            bundle, digest = bundle_bytes(case), expected_digest(case)
            verdict, reasons = api_expectation(case)
            response = submit(svc, bundle, purpose_of(case), digest)
            envelope = check_response(svc, response, bundle, verdict, reasons)
            assert digest is not None
            assert_listed(svc, digest, envelope["index"], verdict)
    finally:
        svc.close()
