"""Attestation verification end to end, with the real sigstore and model-signing adapters.

Every case of shared/fixtures/signing/EXPECTED.json must PASS or FAIL as listed, and a FAIL
must carry a reason code of the right kind. Outbound sockets are blocked for the whole module
(and every attempt is recorded, so a swallowed attempt still fails the test), which shows that
verification is offline. Also: production vs staging roots, the identity allow-list, trust
configuration files, key validity windows (with and without a trusted time from a private
transparency log), key hints, model-signing certificate mode without a chain, TSA roots, model
signatures checked against the model's digest (computed from the fixture directory with
model-signing's own hashing) instead of the directory, manifests that are not consistent.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import socket
import textwrap
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from model_signing import hashing as ms_hashing
from model_signing._signing import signing as ms_signing

from adapters.model_signing_backend import ModelSigningPythonBackend
from adapters.sigstore_backend import SigstorePythonBackend
from governance.attestations.envelopes import pae
from governance.attestations.trust import (
    AllowedIdentity,
    CertificateChain,
    KeyAlgorithm,
    RegisteredKey,
    TimestampAuthority,
    TrustConfig,
    TrustedRoot,
    default_trust_config,
    load_trust_config,
)
from governance.attestations.verify import (
    Format,
    Reason,
    Request,
    SigningMode,
    VerificationFailed,
    VerifiedFacts,
    Verifier,
)
from governance.errors import ConfigError, InputError
from tests.conftest import SIGNING, collect_from_shared, signing_fixture

PURPOSE = "release"
EXPECTED = "EXPECTED.json"
# Cases that several tests use, by id.
WHL = "sp-github-whl-prod"
STAGING_V3 = "sp-bundle-v03"
KEYED = "keyed-slsa-ed25519"
TINY_KEY = "oms-tiny-key"


@functools.cache
def expected_cases() -> list[dict[str, Any]]:
    """Every case of EXPECTED.json, in its order."""
    cases: list[dict[str, Any]] = json.loads(signing_fixture(EXPECTED).read_text())
    return cases


def expected_case(case_id: str) -> dict[str, Any]:
    return next(c for c in expected_cases() if c["id"] == case_id)


def model_cases() -> list[dict[str, Any]]:
    return [c for c in expected_cases() if c["kind"] == "model-signing"]


def case_ids(kind: str | None = None) -> list[str]:
    """The ids of the cases (of one kind), read while collecting, to parametrise tests with."""
    return collect_from_shared(
        f"{SIGNING}/{EXPECTED}",
        lambda _path: [c["id"] for c in expected_cases() if kind in (None, c["kind"])],
    )


# Why each FAIL case fails, as a set of acceptable reason codes (the case's note in comments).
FAIL_REASONS: dict[str, set[Reason]] = {
    # signature fine but the shipped file is NOT the statement subject
    "sp-dsse-subject-mismatch": {Reason.SUBJECT_MISMATCH},
    # wrong trust root
    "sp-whl-on-staging-root": {Reason.CERTIFICATE_UNTRUSTED},
    # identity (ref) mismatch / issuer mismatch
    "sp-whl-wrong-identity": {Reason.IDENTITY_NOT_ALLOWED},
    "sp-whl-wrong-issuer": {Reason.IDENTITY_NOT_ALLOWED},
    # tlog entry inconsistent with materials
    "sp-cve-2022-36056": {Reason.TLOG_INCLUSION_INVALID},
    # malformed
    "sp-no-cert": {Reason.MALFORMED_BUNDLE},
    "sp-no-log-entry": {Reason.MALFORMED_BUNDLE},
    "sp-no-checkpoint": {Reason.MALFORMED_BUNDLE},
    # no SET and no TSA
    "sp-no-signed-time": {Reason.NO_TRUSTED_TIME},
    # bad mediaType
    "sp-invalid-version": {Reason.UNSUPPORTED_FORMAT},
    # v0.1 without checkpoint: rejected offline
    "sp-cpython-3.12.5": {Reason.MALFORMED_BUNDLE},
    # different artifact (the v0.3 bundle records the digest it signs)
    "tamper-artifact": {Reason.SUBJECT_MISMATCH, Reason.SIGNATURE_INVALID},
    # 1 bit flipped in signature
    "tamper-signature": {Reason.SIGNATURE_INVALID},
    # inclusion proof root hash flipped / integratedTime +60s (SET breaks)
    "tamper-inclusion-root": {Reason.TLOG_INCLUSION_INVALID},
    "tamper-integrated-time": {Reason.TLOG_INCLUSION_INVALID},
    # leaf cert from another bundle: not valid at the logged time
    "tamper-swapped-cert": {Reason.CERTIFICATE_UNTRUSTED},
    # statement subject digest rewritten / payloadType changed
    "tamper-dsse-payload": {Reason.SIGNATURE_INVALID},
    "tamper-dsse-payloadtype": {Reason.SIGNATURE_INVALID},
    # key mismatch: the bundle's hint names a key that is not registered
    "oms-key-wrong-key": {Reason.KEY_UNKNOWN},
    # a model file was modified after signing
    "oms-tiny-tampered": {Reason.SUBJECT_MISMATCH},
    # builder id rewritten after signing
    "keyed-slsa-tampered": {Reason.SIGNATURE_INVALID},
}

# model-signing certificate mode identifies the signer by the leaf certificate (no SAN here).
CERT_MODE_SIGNER = AllowedIdentity(issuer="CN=intermediate-ca", identity="CN=intermediate-ca")


# --- no network -----------------------------------------------------------------------------------


class NetworkBlocked(OSError):
    pass


@dataclass
class NetworkGuard:
    attempts: list[str]


@pytest.fixture(scope="module")
def network_guard() -> Iterator[NetworkGuard]:
    guard = NetworkGuard([])

    def refuse(*args: Any, **kwargs: Any) -> Any:
        guard.attempts.append(
            repr(args[1:] if args and isinstance(args[0], socket.socket) else args)
        )
        raise NetworkBlocked(f"outbound connection attempted during verification: {args!r}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        yield guard


@pytest.fixture(autouse=True)
def no_network(network_guard: NetworkGuard) -> Iterator[NetworkGuard]:
    network_guard.attempts.clear()
    yield network_guard
    assert network_guard.attempts == [], f"network used: {network_guard.attempts}"


def test_outbound_sockets_are_blocked(no_network: NetworkGuard) -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("example.com", 443), timeout=1)
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("127.0.0.1", 9))
    with pytest.raises(OSError, match="outbound connection attempted"):
        urllib.request.urlopen("https://rekor.sigstore.dev/api/v1/log", timeout=1)
    assert len(no_network.attempts) == 3
    no_network.attempts.clear()


# --- building verifiers ---------------------------------------------------------------------------

SIGSTORE = SigstorePythonBackend()
MODEL_SIGNING = ModelSigningPythonBackend()


def trusted_root_file(name: str) -> bytes:
    return signing_fixture("trusted-roots", name).read_bytes()


def fixture_roots() -> dict[str, TrustedRoot]:
    return {
        name: TrustedRoot(name, trusted_root_file(f"sigstore-{name}.trusted_root.json"), name)
        for name in ("production", "staging")
    }


def make_verifier(trust: TrustConfig, *, now: datetime | None = None) -> Verifier:
    if now is None:
        return Verifier(trust, sigstore=SIGSTORE, model_signing=MODEL_SIGNING)
    return Verifier(trust, sigstore=SIGSTORE, model_signing=MODEL_SIGNING, clock=lambda: now)


def key_algorithm(pem: str) -> KeyAlgorithm:
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return {256: KeyAlgorithm.ECDSA_P256_SHA256, 384: KeyAlgorithm.ECDSA_P384_SHA384}[
        key.curve.key_size
    ]


def registered(pem: str, key_id: str = "fixture-key", **kwargs: Any) -> RegisteredKey:
    kwargs.setdefault("purposes", frozenset({PURPOSE}))
    return RegisteredKey(id=key_id, pem=pem, algorithm=key_algorithm(pem), **kwargs)


def case_trust(case: dict[str, Any]) -> TrustConfig:
    """The trust configuration a case describes: its root, key, chain and signer."""
    identities: tuple[AllowedIdentity, ...] = ()
    if case.get("issuer"):
        identity = case.get("identity")
        identities = (
            AllowedIdentity(issuer=case["issuer"], identity=identity)
            if identity and identity != "-"
            # "-": the case fails for another reason; accept any identity of that issuer
            else AllowedIdentity(issuer=case["issuer"], identity_regex=".*"),
        )
    keys: tuple[RegisteredKey, ...] = ()
    chains: tuple[CertificateChain, ...] = ()
    if "public_key" in case:
        keys = (registered(signing_fixture(case["public_key"]).read_text()),)
    if "certificate_chain" in case:
        pem = signing_fixture(case["certificate_chain"]).read_text()
        chains = (CertificateChain(id="ca", pem=pem, purposes=frozenset({PURPOSE})),)
        identities = (CERT_MODE_SIGNER,)
    root = "staging" if "staging" in case.get("trusted_root", "") else "production"
    return TrustConfig(
        trusted_roots=fixture_roots(),
        keys=keys,
        certificate_chains=chains,
        identities={PURPOSE: identities} if identities else {},
        default_trusted_root=root,
    )


def case_request(case: dict[str, Any]) -> Request:
    bundle = signing_fixture(case["bundle"])
    spec = case["artifact"]
    expected, artifact = None, None
    if spec.startswith("sha256:"):
        expected = spec
    elif not spec.startswith("subject digest from the statement"):
        artifact = signing_fixture(spec.split(" (")[0])
    # model-signing's CLI ignores the signature file when it sits inside the model directory.
    ignore = (bundle.name,) if artifact is not None and bundle.parent == artifact else ()
    return Request(
        bundle=bundle.read_bytes(),
        purpose=PURPOSE,
        expected_digest=expected,
        artifact=artifact,
        ignore_paths=ignore,
    )


def statement_of(bundle: Path) -> dict[str, Any]:
    envelope = json.loads(bundle.read_text())["dsseEnvelope"]
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def model_directory(case: dict[str, Any]) -> Path:
    return signing_fixture(case["artifact"].split(" (")[0])


def model_digest(case: dict[str, Any]) -> str:
    """The digest of the case's model directory, computed with model-signing's own code.

    The directory is hashed the way the signature says it was signed (method, hash, shard size,
    ignored paths; a legacy signature records nothing: whole files, SHA-256), leaving out the
    signature file inside it; the digest is the subject model-signing's signer would put in a
    v1.0 statement for that manifest.
    """
    bundle, directory = signing_fixture(case["bundle"]), model_directory(case)
    recorded = (statement_of(bundle).get("predicate") or {}).get("serialization")
    how = recorded or {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
    config = ms_hashing.Config()  # type: ignore[no-untyped-call]
    if how["method"] == "shards":
        config.use_shard_serialization(
            hashing_algorithm=how["hash_type"],
            shard_size=int(how["shard_size"]),
            allow_symlinks=how["allow_symlinks"],
        )
    else:
        config.use_file_serialization(
            hashing_algorithm=how["hash_type"], allow_symlinks=how["allow_symlinks"]
        )
    ignored = [*how.get("ignore_paths", []), *([bundle.name] if bundle.parent == directory else [])]
    manifest = config.set_ignored_paths(paths=ignored).hash(directory)
    subject = ms_signing.Payload(manifest).statement.pb.subject[0]
    return "sha256:" + str(subject.digest["sha256"])


def digest_request(case: dict[str, Any]) -> Request:
    """The case's request with the model's digest instead of its directory."""
    return replace(
        case_request(case), artifact=None, ignore_paths=(), expected_digest=model_digest(case)
    )


# --- every EXPECTED case --------------------------------------------------------------------------


def test_every_failing_case_has_expected_reasons() -> None:
    failing = {c["id"] for c in expected_cases() if c["expected"] == "FAIL"}
    assert failing == set(FAIL_REASONS)
    assert len(expected_cases()) == 35


@pytest.mark.parametrize("case_id", case_ids())
def test_expected_case(case_id: str) -> None:
    case = expected_case(case_id)
    verifier = make_verifier(case_trust(case))
    request = case_request(case)
    if case["expected"] == "FAIL":
        with pytest.raises(VerificationFailed) as failure:
            verifier.verify(request)
        assert failure.value.reason in FAIL_REASONS[case["id"]], failure.value.detail
        return

    facts = verifier.verify(request)
    json.dumps(facts.to_json())  # ledger-ready
    assert facts.trust_config_digest == verifier.trust.digest()
    if case["kind"] == "model-signing":
        check_model_facts(case, facts)
    elif case["kind"] == "keyed-bundle":
        assert (facts.mode, facts.key_id) == (SigningMode.KEY, "fixture-key")
        assert facts.signer_identity is None
    else:
        assert facts.format is Format.SIGSTORE_BUNDLE
        assert facts.mode is SigningMode.KEYLESS
        assert (facts.signer_identity, facts.signer_issuer) == (case["identity"], case["issuer"])
        assert facts.trusted_root == verifier.trust.default_trusted_root
        assert facts.log_index is not None
        assert facts.signing_time_source in {"transparency_log", "timestamp_authority"}
        artifact = signing_fixture(case["artifact"])
        digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
        assert any(s.digest.get("sha256") == digest for s in facts.subjects)


def check_model_facts(case: dict[str, Any], facts: VerifiedFacts) -> None:
    assert facts.format is Format.MODEL_SIGNING
    statement = statement_of(signing_fixture(case["bundle"]))
    assert facts.predicate_type == statement["predicateType"]
    if statement["predicateType"] == "https://model_signing/signature/v1.0":
        # the model digest is the statement's subject
        assert facts.model_digest == "sha256:" + statement["subject"][0]["digest"]["sha256"]
    if "public_key" in case:
        assert (facts.mode, facts.key_id) == (SigningMode.KEY, "fixture-key")
    elif "certificate_chain" in case:
        assert facts.mode is SigningMode.CERTIFICATE
        assert facts.signer_identity == "CN=intermediate-ca"
        assert facts.trusted_root == "chain:ca"
    else:
        assert facts.mode is SigningMode.KEYLESS
        assert (facts.signer_identity, facts.signer_issuer) == (case["identity"], case["issuer"])


def test_slsa_provenance_facts() -> None:
    case = expected_case("keyed-slsa-ed25519")
    facts = make_verifier(case_trust(case)).verify(case_request(case))
    assert facts.predicate_type == "https://slsa.dev/provenance/v1"
    assert facts.builder_id == "https://ci.example.com/runners/trainer@v2"
    assert facts.build_type == "https://example.com/ml-training/v1"
    assert (facts.source_repo, facts.source_ref) == (
        "https://git.example/ml/repo",
        "refs/heads/main",
    )
    assert facts.source_digest == {"gitCommit": "a" * 40}
    assert [m.uri for m in facts.materials] == ["git+https://git.example/ml/repo@refs/heads/main"]
    assert [s.name for s in facts.subjects] == ["tiny-model"]
    # no trusted time in this bundle: the key was checked at verification time
    assert facts.signing_time_source == "verification_time"


# --- trusted roots --------------------------------------------------------------------------------


def test_ci_certificate_source_facts() -> None:
    whl = expected_case(WHL)
    facts = make_verifier(case_trust(whl)).verify(case_request(whl))
    assert (facts.source_repo, facts.source_ref) == (
        "https://github.com/trailofbits/rfc8785.py",
        "refs/tags/v0.1.2",
    )
    assert facts.source_digest == {"gitCommit": "d8b4a6445f38c48b9137a8099706d9b8073146e4"}


def both_roots(**kwargs: Any) -> TrustConfig:
    identities = {
        PURPOSE: tuple(
            AllowedIdentity(issuer=case["issuer"], identity=case["identity"])
            for case in map(expected_case, (WHL, STAGING_V3))
        )
    }
    return TrustConfig(trusted_roots=fixture_roots(), identities=identities, **kwargs)


@pytest.mark.parametrize(
    ("case_id", "right", "wrong"),
    [(WHL, "production", "staging"), (STAGING_V3, "staging", "production")],
    ids=["production-bundle", "staging-bundle"],
)
def test_bundle_only_verifies_against_its_own_root(case_id: str, right: str, wrong: str) -> None:
    verifier = make_verifier(both_roots(default_trusted_root="production"))
    request = case_request(expected_case(case_id))
    assert verifier.verify(replace(request, trusted_root=right)).trusted_root == right
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, trusted_root=wrong))
    assert failure.value.reason is Reason.CERTIFICATE_UNTRUSTED


def test_purpose_selects_its_trusted_root() -> None:
    trust = both_roots(
        default_trusted_root="production", purpose_trusted_roots={PURPOSE: "staging"}
    )
    verifier = make_verifier(trust)
    assert verifier.verify(case_request(expected_case(STAGING_V3))).trusted_root == "staging"
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(case_request(expected_case(WHL)))
    assert failure.value.reason is Reason.CERTIFICATE_UNTRUSTED


def test_unknown_or_missing_trusted_root() -> None:
    verifier = make_verifier(both_roots())  # no default root
    request = case_request(expected_case(WHL))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(request)
    assert failure.value.reason is Reason.TRUSTED_ROOT_UNKNOWN
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, trusted_root="corp"))
    assert failure.value.reason is Reason.TRUSTED_ROOT_UNKNOWN


def test_default_trust_config_uses_the_roots_shipped_with_sigstore() -> None:
    trust = default_trust_config()
    assert trust.default_trusted_root == "production"
    for name, root in fixture_roots().items():
        # the fixtures were copied from the same wheel
        assert trust.trusted_roots[name].sha256 == root.sha256
        assert trust.trusted_roots[name].source == f"sigstore:{name}"
    whl = expected_case(WHL)
    trust = replace(
        trust,
        identities={PURPOSE: (AllowedIdentity(issuer=whl["issuer"], identity=whl["identity"]),)},
    )
    assert make_verifier(trust).verify(case_request(whl)).trusted_root == "production"


# --- identities -----------------------------------------------------------------------------------


# Each rule is made from the signer of the WHL case, which the test reads.
@pytest.mark.parametrize(
    "rule_for",
    [
        lambda issuer, _identity: AllowedIdentity(
            issuer=issuer, identity="https://github.com/acme/x/.github/wf.yml"
        ),
        lambda issuer, _identity: AllowedIdentity(
            issuer=issuer, identity_regex=r"https://github\.com/acme/.*"
        ),
        # a prefix is not a match: the expression must match the whole identity
        lambda issuer, _identity: AllowedIdentity(
            issuer=issuer, identity_regex=r"https://github\.com/trailofbits"
        ),
        lambda _issuer, identity: AllowedIdentity(
            issuer="https://accounts.google.com", identity=identity
        ),
    ],
    ids=["other-identity", "other-repo-regex", "prefix-regex", "other-issuer"],
)
def test_identity_outside_allow_list_is_rejected(
    rule_for: Callable[[str, str], AllowedIdentity],
) -> None:
    whl = expected_case(WHL)
    rule = rule_for(whl["issuer"], whl["identity"])
    request = case_request(whl)
    trust = TrustConfig(trusted_roots=fixture_roots(), default_trusted_root="production")
    allowed = AllowedIdentity(
        issuer=whl["issuer"],
        identity_regex=r"https://github\.com/trailofbits/[^/]+/\.github/workflows/release\.yml"
        r"@refs/tags/v.*",
    )
    # the signature is valid: the same bundle passes with its signer on the list ...
    facts = make_verifier(replace(trust, identities={PURPOSE: (allowed,)})).verify(request)
    assert facts.signer_identity == whl["identity"]
    # ... and is rejected with anyone else on it
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(replace(trust, identities={PURPOSE: (rule,)})).verify(request)
    assert failure.value.reason is Reason.IDENTITY_NOT_ALLOWED
    assert whl["identity"] in failure.value.detail


def test_no_allowed_identities_fails_closed() -> None:
    whl = expected_case(WHL)
    trust = TrustConfig(
        trusted_roots=fixture_roots(),
        default_trusted_root="production",
        identities={"other-purpose": (AllowedIdentity(issuer=whl["issuer"], identity_regex=".*"),)},
    )
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(trust).verify(case_request(whl))
    assert failure.value.reason is Reason.IDENTITY_NOT_ALLOWED


def test_request_identity_override_replaces_the_allow_list() -> None:
    whl = expected_case(WHL)
    trust = TrustConfig(trusted_roots=fixture_roots(), default_trusted_root="production")
    request = replace(case_request(whl), identity=whl["identity"], issuer=whl["issuer"])
    assert make_verifier(trust).verify(request).signer_identity == whl["identity"]
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(trust).verify(replace(request, identity=whl["identity"] + "x"))
    assert failure.value.reason is Reason.IDENTITY_NOT_ALLOWED


@pytest.mark.parametrize("with_directory", [True, False], ids=["directory", "digest-only"])
def test_model_certificate_mode_checks_the_signer_and_needs_a_chain(with_directory: bool) -> None:
    case = expected_case("oms-certificate")
    trust = case_trust(case)
    request = case_request(case) if with_directory else digest_request(case)
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(replace(trust, certificate_chains=())).verify(request)
    assert failure.value.reason is Reason.CHAIN_MISSING
    other = AllowedIdentity(issuer="CN=intermediate-ca", identity="CN=someone-else")
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(replace(trust, identities={PURPOSE: (other,)})).verify(request)
    assert failure.value.reason is Reason.IDENTITY_NOT_ALLOWED
    # a chain configured for another purpose does not count
    for_others = replace(trust.certificate_chains[0], purposes=frozenset({"deploy"}))
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(replace(trust, certificate_chains=(for_others,))).verify(request)
    assert failure.value.reason is Reason.CHAIN_MISSING
    # the chain must be the one that issued the signing certificate
    wrong_chain = CertificateChain(id="other", pem=self_signed_ca(), purposes=frozenset({PURPOSE}))
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(replace(trust, certificate_chains=(wrong_chain,))).verify(request)
    assert failure.value.reason is Reason.CERTIFICATE_UNTRUSTED


def self_signed_ca() -> str:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "root-ca")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA384())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("case_id", case_ids("model-signing"))
def test_model_case_by_digest(case_id: str) -> None:
    """Without the model directory, its digest gives every model case its expected verdict."""
    case = expected_case(case_id)
    now = datetime(2026, 3, 1, tzinfo=UTC)  # one clock, for key mode's verification time
    verifier, request = make_verifier(case_trust(case), now=now), digest_request(case)
    if case["expected"] == "FAIL":
        with pytest.raises(VerificationFailed) as failure:
            verifier.verify(request)
        assert failure.value.reason in FAIL_REASONS[case["id"]], failure.value.detail
        return
    facts = verifier.verify(request)
    check_model_facts(case, facts)
    assert facts.model_digest == facts.artifact_digest == request.expected_digest
    # the directory and its digest give the same facts
    assert facts == verifier.verify(replace(case_request(case), expected_digest=facts.model_digest))


def test_legacy_model_digest_is_what_model_signing_1x_signs() -> None:
    # The same two files, signed as a legacy Digests/v0.1 statement and as a v1.0 statement.
    legacy, current = map(expected_case, ("oms-legacy-certificate", "oms-certificate"))
    facts = make_verifier(case_trust(legacy)).verify(digest_request(legacy))
    subject = statement_of(signing_fixture(current["bundle"]))["subject"][0]["digest"]["sha256"]
    assert facts.model_digest == model_digest(legacy) == "sha256:" + subject
    assert len(facts.subjects) == 2  # the legacy statement's per-file subjects, as signed


def test_model_signature_needs_the_model_or_its_digest() -> None:
    case = expected_case("oms-tiny-key")
    verifier = make_verifier(case_trust(case))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(case_request(case), artifact=None))
    assert failure.value.reason is Reason.ARTIFACT_MISSING
    # a path that is not a directory is no model, whatever digest comes with it
    file = model_directory(case) / "config.json"
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(digest_request(case), artifact=file))
    assert failure.value.reason is Reason.ARTIFACT_MISSING


@pytest.mark.parametrize("with_directory", [True, False], ids=["directory", "digest-only"])
def test_model_digest_must_be_the_expected_one(with_directory: bool) -> None:
    case = expected_case("oms-tiny-shards")
    verifier = make_verifier(case_trust(case))
    request = case_request(case) if with_directory else digest_request(case)
    digest = verifier.verify(request).model_digest
    assert digest == model_digest(case)
    assert verifier.verify(replace(request, expected_digest=digest)).model_digest == digest
    # another model's digest: the whole-file digest of the same directory
    other = model_digest(expected_case("oms-tiny-key"))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, expected_digest=other))
    assert failure.value.reason is Reason.SUBJECT_MISMATCH


# A key of our own, to sign model-signing statements the fixtures do not have.
LOCAL_MODEL_KEY = ec.generate_private_key(ec.SECP256R1())
LOCAL_MODEL_PEM = (
    LOCAL_MODEL_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def tiny_key_bundle() -> Path:
    return signing_fixture(expected_case(TINY_KEY)["bundle"])


def local_model_signature(statement: dict[str, Any]) -> bytes:
    """A key-mode model signature over ``statement`` by ``LOCAL_MODEL_KEY``, as model-signing
    1.x writes one (the tiny model's signature with the payload, signature and key hint
    replaced)."""
    bundle = json.loads(tiny_key_bundle().read_bytes())
    envelope, payload = bundle["dsseEnvelope"], json.dumps(statement).encode()
    signature = LOCAL_MODEL_KEY.sign(
        pae(envelope["payloadType"], payload), ec.ECDSA(hashes.SHA256())
    )
    envelope["payload"] = b64(payload)
    envelope["signatures"] = [{"sig": b64(signature), "keyid": ""}]
    hint = hashlib.sha256(LOCAL_MODEL_PEM.encode()).hexdigest()
    bundle["verificationMaterial"]["publicKey"]["hint"] = hint
    return json.dumps(bundle).encode()


def inconsistent_statement() -> dict[str, Any]:
    """The tiny model's statement with one resource digest changed and the subject kept."""
    statement = statement_of(tiny_key_bundle())
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    return statement


def tampered_model_signature() -> bytes:
    """The tiny model's signature with ``inconsistent_statement`` put in, not signed again."""
    bundle = json.loads(tiny_key_bundle().read_bytes())
    bundle["dsseEnvelope"]["payload"] = b64(json.dumps(inconsistent_statement()).encode())
    return json.dumps(bundle).encode()


@pytest.mark.parametrize("with_directory", [True, False], ids=["directory", "digest-only"])
def test_model_manifest_must_be_consistent_and_signed(with_directory: bool) -> None:
    tiny_key = expected_case(TINY_KEY)
    trust = replace(case_trust(tiny_key), keys=(registered(LOCAL_MODEL_PEM, "local"),))
    verifier = make_verifier(trust)
    request = case_request(tiny_key) if with_directory else digest_request(tiny_key)
    # our own signature over the unchanged statement verifies ...
    resigned = local_model_signature(statement_of(tiny_key_bundle()))
    assert verifier.verify(replace(request, bundle=resigned)).key_id == "local"
    # ... and over a statement whose subject is not the digest of its resources, it does not
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, bundle=local_model_signature(inconsistent_statement())))
    assert failure.value.reason is Reason.MALFORMED_BUNDLE
    assert "Manifest is inconsistent" in failure.value.detail
    # the same statement put into the original signature without signing it
    original = make_verifier(case_trust(tiny_key))
    with pytest.raises(VerificationFailed) as failure:
        original.verify(replace(request, bundle=tampered_model_signature()))
    assert failure.value.reason is Reason.SIGNATURE_INVALID


# --- statements -----------------------------------------------------------------------------------

TINY_MODEL_DIGEST = "sha256:94d610a001e558afee894e6d99d22a7806e738e4cd7af1a7dd194dc9baa50e4e"


def test_statement_subject_must_include_the_expected_digest() -> None:
    keyed = expected_case(KEYED)
    verifier, request = make_verifier(case_trust(keyed)), case_request(keyed)
    facts = verifier.verify(replace(request, expected_digest=TINY_MODEL_DIGEST))
    assert facts.artifact_digest == TINY_MODEL_DIGEST
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, expected_digest="sha256:" + "1" * 64))
    assert failure.value.reason is Reason.SUBJECT_MISMATCH


def test_expected_predicate_type() -> None:
    keyed = expected_case(KEYED)
    verifier, request = make_verifier(case_trust(keyed)), case_request(keyed)
    verifier.verify(replace(request, expected_predicate_type="https://slsa.dev/provenance/v1"))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, expected_predicate_type="https://spdx.dev/Document"))
    assert failure.value.reason is Reason.PREDICATE_UNSUPPORTED


def test_bare_dsse_envelope() -> None:
    keyed = expected_case(KEYED)
    request = replace(
        case_request(keyed),
        bundle=signing_fixture("generated/slsa-provenance.ed25519.dsse.json").read_bytes(),
    )
    facts = make_verifier(case_trust(keyed)).verify(request)
    assert (facts.format, facts.mode, facts.key_id) == (
        Format.DSSE_ENVELOPE,
        SigningMode.KEY,
        "fixture-key",
    )
    assert facts.builder_id == "https://ci.example.com/runners/trainer@v2"


@pytest.mark.parametrize(
    ("bundle", "reason"),
    [
        (b"", Reason.MALFORMED_BUNDLE),
        (b"[1, 2]", Reason.MALFORMED_BUNDLE),
        (b'{"hello": "world"}', Reason.UNSUPPORTED_FORMAT),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=9"}',
            Reason.UNSUPPORTED_FORMAT,
        ),
        (b'{"payload": "e30=", "payloadType": "x", "signatures": []}', Reason.MALFORMED_BUNDLE),
    ],
)
def test_unrecognised_input(bundle: bytes, reason: Reason) -> None:
    verifier = make_verifier(case_trust(expected_case(KEYED)))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(Request(bundle=bundle, purpose=PURPOSE))
    assert failure.value.reason is reason


def test_request_validation() -> None:
    with pytest.raises(InputError):
        Request(bundle=b"{}", purpose=PURPOSE, expected_digest="sha1:abc")
    with pytest.raises(InputError):
        Request(bundle=b"{}", purpose=PURPOSE, identity="someone")
    with pytest.raises(InputError):
        Request(bundle=b"{}", purpose="")
    upper = Request(bundle=b"{}", purpose=PURPOSE, expected_digest="sha256:" + "AB" * 32)
    assert upper.expected_digest == "sha256:" + "ab" * 32


# --- keys: lookup and validity --------------------------------------------------------------------


def keyed_pem() -> str:
    return signing_fixture(expected_case(KEYED)["public_key"]).read_text()


def unrelated_pem() -> str:
    return signing_fixture("generated/unrelated-p256.pub.pem").read_text()


def keyed_trust(*keys: RegisteredKey) -> TrustConfig:
    return TrustConfig(trusted_roots=fixture_roots(), keys=keys, default_trusted_root="production")


def with_hint(bundle: bytes, hint: str | None) -> bytes:
    data = json.loads(bundle)
    if hint is None:
        data["verificationMaterial"]["publicKey"] = {}
    else:
        data["verificationMaterial"]["publicKey"]["hint"] = hint
    return json.dumps(data).encode()


def test_unknown_key_hint_is_key_unknown() -> None:
    request = case_request(expected_case(KEYED))
    # only an unrelated key is registered
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(keyed_trust(registered(unrelated_pem(), "other"))).verify(request)
    assert failure.value.reason is Reason.KEY_UNKNOWN
    # the right key is registered, but the hint names nothing registered: a hint is a lookup
    trust = keyed_trust(registered(keyed_pem()))
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(trust).verify(replace(request, bundle=with_hint(request.bundle, "no-such")))
    assert failure.value.reason is Reason.KEY_UNKNOWN
    # the right key, registered for another purpose only
    other = registered(keyed_pem(), purposes=frozenset({"deploy"}))
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(keyed_trust(other)).verify(request)
    assert failure.value.reason is Reason.KEY_UNKNOWN


def test_key_hint_is_never_proof() -> None:
    request = case_request(expected_case(KEYED))
    # the unrelated key registered under the id the hint names: the signature must still verify
    hint = json.loads(request.bundle)["verificationMaterial"]["publicKey"]["hint"]
    impostor = registered(unrelated_pem(), key_id=hint)
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(keyed_trust(impostor)).verify(request)
    assert failure.value.reason is Reason.SIGNATURE_INVALID
    # without a hint, every key for the purpose is tried
    trust = keyed_trust(registered(unrelated_pem(), "other"), registered(keyed_pem(), "right"))
    facts = make_verifier(trust).verify(replace(request, bundle=with_hint(request.bundle, None)))
    assert facts.key_id == "right"


NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "ok"),
    [
        (None, None, True),
        (NOW - timedelta(days=1), NOW + timedelta(days=1), True),
        (NOW + timedelta(hours=1), None, False),  # valid only after the signing time
        (None, NOW - timedelta(hours=1), False),  # expired before it
    ],
    ids=["open", "inside", "not-yet-valid", "expired"],
)
def test_key_validity_window_without_trusted_time(
    valid_from: datetime | None, valid_until: datetime | None, ok: bool
) -> None:
    key = registered(keyed_pem(), valid_from=valid_from, valid_until=valid_until)
    verifier = make_verifier(keyed_trust(key), now=NOW)
    request = case_request(expected_case(KEYED))
    if ok:
        facts = verifier.verify(request)
        assert (facts.signing_time, facts.signing_time_source) == (NOW, "verification_time")
        return
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(request)
    assert failure.value.reason is Reason.KEY_NOT_VALID_AT_SIGNING_TIME


# --- a private Sigstore deployment: keyed bundles with a transparency-log entry -------------------


@dataclass
class PrivateLog:
    """A one-key Rekor v1 stand-in: signs checkpoints and inclusion promises."""

    key: ec.EllipticCurvePrivateKey
    origin: str = "log.test.internal - 1"

    @property
    def log_id(self) -> bytes:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).digest()

    def trusted_root(self) -> bytes:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [
                    {
                        "baseUrl": "https://log.test.internal",
                        "hashAlgorithm": "SHA2_256",
                        "publicKey": {
                            "rawBytes": b64(der),
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                            "validFor": {"start": "2020-01-01T00:00:00Z"},
                        },
                        "logId": {"keyId": b64(self.log_id)},
                    }
                ],
                "certificateAuthorities": [],
                "ctlogs": [],
                "timestampAuthorities": [],
            }
        ).encode()

    def entry(self, body: bytes, integrated: datetime) -> dict[str, Any]:
        """The entry at index 1 of a two-leaf tree (leaf 0 is someone else's)."""
        other_leaf = hashlib.sha256(b"\x00" + b"another entry").digest()
        leaf = hashlib.sha256(b"\x00" + body).digest()
        root = hashlib.sha256(b"\x01" + other_leaf + leaf).digest()
        note = f"{self.origin}\n2\n{b64(root)}\n"
        note_sig = self.key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 log.test.internal {b64(self.log_id[:4] + note_sig)}\n"
        promise = rfc8785.dumps(
            {
                "body": b64(body),
                "integratedTime": int(integrated.timestamp()),
                "logID": self.log_id.hex(),
                "logIndex": 1,
            }
        )
        return {
            "logIndex": "1",
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {
                "kind": json.loads(body)["kind"],
                "version": json.loads(body)["apiVersion"],
            },
            "integratedTime": str(int(integrated.timestamp())),
            "inclusionPromise": {
                "signedEntryTimestamp": b64(self.key.sign(promise, ec.ECDSA(hashes.SHA256())))
            },
            "inclusionProof": {
                "logIndex": "1",
                "rootHash": b64(root),
                "treeSize": "2",
                "hashes": [b64(other_leaf)],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(body),
        }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


SIGNED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class LoggedBundle:
    bundle: dict[str, Any]
    public_pem: str
    log: PrivateLog
    signer: ed25519.Ed25519PrivateKey

    def request(self) -> Request:
        return Request(bundle=json.dumps(self.bundle).encode(), purpose=PURPOSE)

    def trust(self, **key_window: Any) -> TrustConfig:
        root = TrustedRoot("corp", self.log.trusted_root(), "test")
        return TrustConfig(
            trusted_roots={"corp": root, **fixture_roots()},
            keys=(registered(self.public_pem, "ci-key", **key_window),),
            default_trusted_root="corp",
        )


@pytest.fixture
def logged() -> LoggedBundle:
    """A statement signed with an Ed25519 key and logged (DSSE entry) in a private log."""
    signer = ed25519.Ed25519PrivateKey.generate()
    public_pem = (
        signer.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    payload = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "model.bin", "digest": {"sha256": "ab" * 32}}],
            "predicateType": "https://example.com/eval/v1",
            "predicate": {"accuracy": "0.93"},
        }
    ).encode()
    signature = signer.sign(pae("application/vnd.in-toto+json", payload))
    body = rfc8785.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": "00" * 32},
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
                "signatures": [{"signature": b64(signature), "verifier": b64(public_pem.encode())}],
            },
        }
    )
    log = PrivateLog(ec.generate_private_key(ec.SECP256R1()))
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": "ci-key"},
            "tlogEntries": [log.entry(body, SIGNED_AT)],
        },
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        },
    }
    return LoggedBundle(bundle, public_pem, log, signer)


def test_keyed_bundle_with_log_entry_uses_the_logged_time(logged: LoggedBundle) -> None:
    # valid at the logged signing time, long expired now: accepted
    trust = logged.trust(
        valid_from=SIGNED_AT - timedelta(days=30), valid_until=SIGNED_AT + timedelta(days=30)
    )
    facts = make_verifier(trust).verify(logged.request())
    assert (facts.signing_time, facts.signing_time_source) == (SIGNED_AT, "transparency_log")
    assert (facts.integrated_time, facts.log_index, facts.trusted_root) == (SIGNED_AT, 1, "corp")
    assert facts.subjects[0].digest == {"sha256": "ab" * 32}


def test_key_valid_only_after_the_logged_signing_time(logged: LoggedBundle) -> None:
    trust = logged.trust(valid_from=SIGNED_AT + timedelta(hours=1))
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(trust).verify(logged.request())
    assert failure.value.reason is Reason.KEY_NOT_VALID_AT_SIGNING_TIME
    assert "transparency_log" in failure.value.detail


def test_log_entry_must_verify_against_the_pinned_root(logged: LoggedBundle) -> None:
    request = logged.request()
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(logged.trust()).verify(replace(request, trusted_root="production"))
    assert failure.value.reason is Reason.TLOG_INCLUSION_INVALID
    tampered = copy.deepcopy(logged.bundle)
    proof = tampered["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"] = [b64(hashlib.sha256(b"forged").digest())]
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(logged.trust()).verify(replace(request, bundle=json.dumps(tampered).encode()))
    assert failure.value.reason is Reason.TLOG_INCLUSION_INVALID


def test_log_entry_must_record_this_signature(logged: LoggedBundle) -> None:
    """A genuine entry for another signature lends no time (and no proof) to this one."""
    other_payload = b'{"_type": "https://in-toto.io/Statement/v1"}'
    other_sig = logged.signer.sign(pae("application/vnd.in-toto+json", other_payload))
    body = rfc8785.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(other_payload).hexdigest(),
                },
                "signatures": [
                    {"signature": b64(other_sig), "verifier": b64(logged.public_pem.encode())}
                ],
            },
        }
    )
    bundle = copy.deepcopy(logged.bundle)
    bundle["verificationMaterial"]["tlogEntries"] = [logged.log.entry(body, SIGNED_AT)]
    request = replace(logged.request(), bundle=json.dumps(bundle).encode())
    with pytest.raises(VerificationFailed) as failure:
        make_verifier(logged.trust()).verify(request)
    assert failure.value.reason is Reason.TLOG_INCLUSION_INVALID


def message_bundle(signature: bytes, digest: bytes, entries: list[Any]) -> bytes:
    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "ci-key"}, "tlogEntries": entries},
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            },
        }
    ).encode()


def test_keyed_message_signature_over_an_artifact() -> None:
    """A blob signed with a P-256 key (cosign sign-blob --key style) and logged as hashedrekord."""
    artifact = signing_fixture("sigstore-python/bundle_v3.txt")
    digest = hashlib.sha256(artifact.read_bytes()).digest()
    signer = ec.generate_private_key(ec.SECP256R1())
    signature = signer.sign(artifact.read_bytes(), ec.ECDSA(hashes.SHA256()))
    pem = (
        signer.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    log = PrivateLog(ec.generate_private_key(ec.SECP256R1()))
    body = rfc8785.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {
                    "content": b64(signature),
                    "publicKey": {"content": b64(pem.encode())},
                },
            },
        }
    )
    trust = TrustConfig(
        trusted_roots={"corp": TrustedRoot("corp", log.trusted_root(), "test")},
        keys=(registered(pem, "ci-key", valid_until=SIGNED_AT + timedelta(days=1)),),
        default_trusted_root="corp",
    )
    verifier = make_verifier(trust)
    request = Request(
        bundle=message_bundle(signature, digest, [log.entry(body, SIGNED_AT)]),
        purpose=PURPOSE,
        artifact=artifact,
    )
    facts = verifier.verify(request)
    assert (facts.key_id, facts.signing_time, facts.predicate_type) == ("ci-key", SIGNED_AT, None)
    assert facts.subjects[0].digest == {"sha256": digest.hex()}
    # by digest alone (ECDSA signs the digest)
    by_digest = replace(request, artifact=None, expected_digest="sha256:" + digest.hex())
    assert verifier.verify(by_digest).artifact_digest == "sha256:" + digest.hex()
    # another artifact
    other = replace(request, artifact=signing_fixture("sigstore-python/bundle_v3_alt.txt"))
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(other)
    assert failure.value.reason is Reason.SUBJECT_MISMATCH
    # without the log entry there is no trusted time, and the key has expired since
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, bundle=message_bundle(signature, digest, [])))
    assert failure.value.reason is Reason.KEY_NOT_VALID_AT_SIGNING_TIME
    # nothing to compare with
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, artifact=None))
    assert failure.value.reason is Reason.ARTIFACT_MISSING


def test_ed25519_message_signature_needs_the_artifact_bytes() -> None:
    artifact = signing_fixture("sigstore-python/bundle_v3.txt")
    digest = hashlib.sha256(artifact.read_bytes()).digest()
    signer = ed25519.Ed25519PrivateKey.generate()
    pem = (
        signer.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = make_verifier(keyed_trust(registered(pem, "ci-key")))
    bundle = message_bundle(signer.sign(artifact.read_bytes()), digest, [])
    request = Request(bundle=bundle, purpose=PURPOSE, artifact=artifact)
    assert verifier.verify(request).key_id == "ci-key"
    with pytest.raises(VerificationFailed) as failure:
        verifier.verify(replace(request, artifact=None, expected_digest="sha256:" + digest.hex()))
    assert failure.value.reason is Reason.ARTIFACT_MISSING


# --- timestamp authorities ------------------------------------------------------------------------


def test_tsa_roots_make_timestamps_count() -> None:
    case = expected_case("sp-tsa")
    trust = case_trust(case)
    assert make_verifier(trust).verify(case_request(case)).timestamps == ()
    trust = replace(trust, tsa_roots=(TimestampAuthority(id="test-tsa", pem=tsa_chain_pem()),))
    facts = make_verifier(trust).verify(case_request(case))
    assert len(facts.timestamps) == 1
    assert facts.timestamps[0] - facts.signing_time < timedelta(minutes=1)


def test_transparency_check_on_real_entries_and_timestamps() -> None:
    """The key-signed path's log and TSA checks, run on a real staging bundle."""
    case = expected_case("sp-tsa")
    bundle = signing_fixture(case["bundle"]).read_bytes()
    signature = base64.b64decode(json.loads(bundle)["messageSignature"]["signature"])
    trust = replace(
        case_trust(case), tsa_roots=(TimestampAuthority(id="test-tsa", pem=tsa_chain_pem()),)
    )
    facts = SIGSTORE.verify_transparency(
        bundle, trusted_root=trust.root_document("staging"), signature=signature
    )
    (entry,) = facts.entries
    assert (entry.kind, entry.version) == ("hashedrekord", "0.0.1")
    assert entry.integrated_time is not None
    assert len(facts.timestamps) == 1
    assert abs(facts.timestamps[0] - entry.integrated_time) < timedelta(minutes=1)
    # a timestamp over another signature, or from an unknown TSA, does not count
    other = SIGSTORE.verify_transparency(
        bundle, trusted_root=trust.root_document("staging"), signature=b"another signature"
    )
    assert other.timestamps == ()
    plain = SIGSTORE.verify_transparency(
        bundle, trusted_root=case_trust(case).root_document("staging"), signature=signature
    )
    assert plain.timestamps == ()
    # the entry is not in the production log
    with pytest.raises(VerificationFailed) as failure:
        SIGSTORE.verify_transparency(
            bundle, trusted_root=trust.root_document("production"), signature=signature
        )
    assert failure.value.reason is Reason.TLOG_INCLUSION_INVALID


# --- trust configuration files --------------------------------------------------------------------


def write_config(tmp_path: Path, config: dict[str, Any], suffix: str = ".yaml") -> Path:
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "ci.pub.pem").write_text(keyed_pem())
    (tmp_path / "roots").mkdir(exist_ok=True)
    (tmp_path / "roots" / "staging.json").write_bytes(
        trusted_root_file("sigstore-staging.client_trust_config.json")
    )
    path = tmp_path / f"trust{suffix}"
    path.write_text(json.dumps(config) if suffix == ".json" else yaml.safe_dump(config))
    return path


def valid_config() -> dict[str, Any]:
    """A trust configuration that uses every section (its key file: see ``write_config``)."""
    whl, staging_v3 = expected_case(WHL), expected_case(STAGING_V3)
    return {
        "version": 1,
        "default_trusted_root": "production",
        "trusted_roots": {
            "production": {"sigstore": "production"},
            "staging": "roots/staging.json",
        },
        "purpose_trusted_roots": {"nightly": "staging"},
        "keys": [
            {
                "id": "ci-provenance",
                "path": "keys/ci.pub.pem",
                "algorithm": "ed25519",
                "purposes": [PURPOSE],
                "valid_from": "2025-01-01T00:00:00Z",
            }
        ],
        "certificate_chains": [
            {
                "id": "corp-ca",
                "pem": signing_fixture("model-transparency/keys/ca-cert.pem").read_text(),
                "purposes": ["model"],
            }
        ],
        "identities": {
            PURPOSE: [
                {"issuer": whl["issuer"], "identity_regex": r"https://github\.com/trailofbits/.+"},
                {"issuer": staging_v3["issuer"], "identity": staging_v3["identity"]},
            ]
        },
    }


def test_trust_config_yaml_and_json_load_the_same(tmp_path: Path) -> None:
    whl = expected_case(WHL)
    from_yaml = load_trust_config(write_config(tmp_path, valid_config()))
    from_json = load_trust_config(write_config(tmp_path, valid_config(), ".json"))
    assert from_yaml.digest() == from_json.digest()
    assert from_yaml.digest().startswith("sha256:")
    # a client trust config file is accepted as a root; pinned by content, not by path
    assert from_yaml.trusted_roots["staging"].sha256 == fixture_roots()["staging"].sha256
    assert from_yaml.root_name_for("nightly") == "staging"
    assert from_yaml.root_name_for(PURPOSE) == "production"
    assert [k.id for k in from_yaml.keys_for(PURPOSE)] == ["ci-provenance"]
    verifier = make_verifier(from_yaml)
    assert verifier.verify(case_request(whl)).signer_identity == whl["identity"]
    assert verifier.verify(case_request(expected_case(KEYED))).key_id == "ci-provenance"


def test_trust_config_digest_tracks_content(tmp_path: Path) -> None:
    base = load_trust_config(write_config(tmp_path, valid_config())).digest()
    changed = valid_config()
    changed["keys"][0]["valid_from"] = "2025-01-02T00:00:00Z"
    assert load_trust_config(write_config(tmp_path, changed)).digest() != base
    reordered = valid_config()
    reordered["trusted_roots"] = dict(reversed(list(reordered["trusted_roots"].items())))
    assert load_trust_config(write_config(tmp_path, reordered)).digest() == base


def mutate(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    config = valid_config()
    change(config)
    return config


BAD_CONFIGS = {
    "unknown-field": (lambda c: c.update(colour="blue"), "colour"),
    "bad-version": (lambda c: c.update(version=2), "version"),
    "bad-algorithm": (lambda c: c["keys"][0].update(algorithm="rsa"), "keys.0.algorithm"),
    "algorithm-mismatch": (
        lambda c: c["keys"][0].update(algorithm="ecdsa-p256-sha256"),
        "keys[0] (ci-provenance)",
    ),
    "naive-time": (
        lambda c: c["keys"][0].update(valid_from="2025-01-01T00:00:00"),
        "keys.0.valid_from",
    ),
    "window-reversed": (
        lambda c: c["keys"][0].update(valid_until="2024-01-01T00:00:00Z"),
        "valid_until must be after valid_from",
    ),
    "no-purposes": (lambda c: c["keys"][0].update(purposes=[]), "keys.0.purposes"),
    "pem-and-path": (lambda c: c["keys"][0].update(pem=keyed_pem()), "exactly one of pem"),
    "missing-key-file": (lambda c: c["keys"][0].update(path="keys/nope.pem"), "nope.pem"),
    "garbage-pem": (
        lambda c: c["keys"][0].update(path=None, pem="-----BEGIN PUBLIC KEY-----\nxx"),
        "not a PEM public key",
    ),
    "duplicate-key": (lambda c: c["keys"].append(dict(c["keys"][0])), "duplicate key"),
    "bad-regex": (
        lambda c: c["identities"][PURPOSE].append({"issuer": "x", "identity_regex": "("}),
        f"identities.{PURPOSE}[2]",
    ),
    "identity-and-regex": (
        lambda c: c["identities"][PURPOSE][1].update(identity_regex=".*"),
        "exactly one of identity and identity_regex",
    ),
    "undefined-default-root": (lambda c: c.update(default_trusted_root="corp"), "corp"),
    "undefined-purpose-root": (
        lambda c: c["purpose_trusted_roots"].update(x="corp"),
        "corp",
    ),
    "missing-root-file": (
        lambda c: c["trusted_roots"].update(corp="roots/corp.json"),
        "trusted_roots.corp.path",
    ),
    "not-a-root": (
        lambda c: c["trusted_roots"].update(corp={"json": {"mediaType": "text/plain"}}),
        "trusted_roots.corp: mediaType",
    ),
    "bad-chain": (
        lambda c: c["certificate_chains"][0].update(pem="nope"),
        "certificate_chains[0] (corp-ca)",
    ),
}


@pytest.mark.parametrize(("change", "where"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_trust_config_errors_name_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], where: str
) -> None:
    config = mutate(change)
    for suffix in (".yaml", ".json"):
        with pytest.raises(ConfigError) as error:
            load_trust_config(write_config(tmp_path, config, suffix))
        assert where in error.value.message, error.value.message
        assert str(tmp_path) in error.value.message


@pytest.mark.parametrize(
    ("text", "suffix", "where"),
    [
        ("keys: [unclosed", ".yaml", "not valid YAML"),
        ("{'single': 'quotes'}", ".json", "not valid JSON"),
        ("- just\n- a list\n", ".yaml", "top level must be a mapping"),
    ],
)
def test_trust_config_syntax_errors(tmp_path: Path, text: str, suffix: str, where: str) -> None:
    path = tmp_path / f"trust{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where):
        load_trust_config(path)


def test_trust_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_trust_config(tmp_path / "absent.yaml")


# --- robustness: damaged input fails with a reason, never with a crash ----------------------------


def json_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from json_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*path, i)
            yield from json_paths(value, (*path, i))


def mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in json_paths(document):
        for label, value in (("null", None), ("int", 7), ("str", "x"), ("list", []), ("obj", {})):
            changed = copy.deepcopy(document)
            parent = changed
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
            yield f"{'/'.join(map(str, path))}={label}", changed
        changed = copy.deepcopy(document)
        parent = changed
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
        yield f"{'/'.join(map(str, path))} deleted", changed


ROBUSTNESS_CASES = [
    "sp-bundle-v01",
    "sp-dsse-slsa-rekor2",
    "keyed-slsa-ed25519",
    "oms-tiny-key",
    "oms-certificate",
    "mt-oms-sigstore-v1.0.0",
]


ROBUSTNESS_REQUESTS = [
    *((case_id, False) for case_id in ROBUSTNESS_CASES),
    *((case_id, True) for case_id in ROBUSTNESS_CASES if case_id.startswith(("oms-", "mt-oms-"))),
]


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("case_id", "by_digest"),
    ROBUSTNESS_REQUESTS,
    ids=[f"{c}{'-by-digest' if d else ''}" for c, d in ROBUSTNESS_REQUESTS],
)
def test_damaged_bundles_fail_with_a_reason(case_id: str, by_digest: bool) -> None:
    case = expected_case(case_id)
    verifier = make_verifier(case_trust(case))
    request = digest_request(case) if by_digest else case_request(case)
    document = json.loads(request.bundle)
    crashes = []
    for label, changed in mutations(document):
        try:
            verifier.verify(replace(request, bundle=json.dumps(changed).encode()))
        except VerificationFailed:
            pass
        except Exception as exc:  # noqa: BLE001 - collecting every crash is the point
            crashes.append(f"{label}: {exc!r}"[:300])
    assert crashes == []


def tsa_chain_pem() -> str:
    authority = json.loads(signing_fixture("sigstore-python/tsa_ca.json").read_text())
    return "".join(
        x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
        .public_bytes(serialization.Encoding.PEM)
        .decode()
        for c in authority["certChain"]["certificates"]
    )


def test_documented_trust_config_example_loads(tmp_path: Path) -> None:
    doc = load_trust_config.__doc__ or ""
    example = doc.split("Example (YAML)::", 1)[1].split("Raises", 1)[0]
    (tmp_path / "keys").mkdir()
    (tmp_path / "roots").mkdir()
    (tmp_path / "keys" / "ci.pub.pem").write_text(keyed_pem())
    (tmp_path / "keys" / "ca-cert.pem").write_bytes(
        signing_fixture("model-transparency/keys/ca-cert.pem").read_bytes()
    )
    (tmp_path / "keys" / "tsa-chain.pem").write_text(tsa_chain_pem())
    (tmp_path / "roots" / "corp-trusted_root.json").write_bytes(
        trusted_root_file("sigstore-staging.trusted_root.json")
    )
    path = tmp_path / "trust.yaml"
    path.write_text(textwrap.dedent(example))
    trust = load_trust_config(path)
    assert set(trust.trusted_roots) == {"production", "staging", "corp"}
    assert trust.root_name_for("internal-model") == "corp"
    release = trust.identities_for("release")[0]
    assert release.matches(
        "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0",
        "https://token.actions.githubusercontent.com",
    )
    assert not release.matches(
        "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    )
