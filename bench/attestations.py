"""Attestation verification benchmark: verifications/s next to a baseline from the same run.

Usage (from the repository root)::

    .venv/bin/python -m bench.attestations                 # ~30 s (2-core VM)
    .venv/bin/python -m bench.attestations --seconds 1 --repeats 5

Four workloads from ``shared/fixtures/signing`` (the EXPECTED.json cases of the same name),
each through ``Verifier.verify`` with the real adapters, offline, with a verifier built once:

``keyless`` (``sp-bundle-v03``)
    Sigstore v0.3 bundle on the staging root: certificate chain, SCT, Rekor SET and inclusion
    proof, identity. Baseline: the one ECDSA verification of the message signature over the
    artifact with the leaf certificate's key (``cryptography``).
``keyed-dsse`` (``keyed-slsa-ed25519``)
    DSSE in-toto statement with an SLSA v1 predicate, Ed25519 key, checked against the subject
    digest. Baseline: one Ed25519 verification of the envelope's PAE.
``model-signing`` (``oms-tiny-key``)
    OpenSSF model-signing signature (P-256 key) over ``generated/tiny-model``: re-hashes the
    directory and compares the manifest. Baseline: SHA-256 of every model file plus one ECDSA
    verification of the envelope's PAE — the irreducible work.
``model-digest`` (``oms-tiny-key``)
    The same signature against the model's digest instead of its directory (what
    ``POST /api/v1/attestations`` does): the signature and the manifest's consistency, no
    re-hash. Baseline: the one ECDSA verification of the PAE.

Every figure is the median of ``--repeats`` runs (3); each run loops for ``--seconds`` (2).
The ratio is verifier / baseline throughput (higher is better: 1.0 would mean the verifier
costs no more than the bare cryptography). ``cold ms`` is building the verifier plus the first
verification (lazy Sigstore set-up per root): the one-off cost at service start.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from adapters.model_signing_backend import ModelSigningPythonBackend
from adapters.sigstore_backend import SigstorePythonBackend
from bench._common import REPO_ROOT
from governance.attestations.envelopes import pae
from governance.attestations.trust import (
    AllowedIdentity,
    RegisteredKey,
    TrustConfig,
    TrustedRoot,
    key_algorithm_of,
)
from governance.attestations.verify import Request, Verifier

# shared/ lies beside the repository.
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "signing"
PURPOSE = "bench"


@dataclass
class Workload:
    name: str
    case: str
    verifier: Verifier
    request: Request
    baseline_name: str
    baseline: Callable[[], None]
    setup_seconds: float


def case(case_id: str) -> dict[str, Any]:
    cases: list[dict[str, Any]] = json.loads((FIXTURES / "EXPECTED.json").read_text())
    return next(c for c in cases if c["id"] == case_id)


def roots() -> dict[str, TrustedRoot]:
    return {
        name: TrustedRoot(
            name, (FIXTURES / f"trusted-roots/sigstore-{name}.trusted_root.json").read_bytes(), name
        )
        for name in ("production", "staging")
    }


def key_for(path: Path) -> RegisteredKey:
    pem = path.read_text()
    return RegisteredKey(
        id="bench-key", pem=pem, algorithm=key_algorithm_of(pem), purposes=frozenset({PURPOSE})
    )


def build(trust: TrustConfig) -> tuple[Verifier, float]:
    start = time.perf_counter()
    verifier = Verifier(
        trust, sigstore=SigstorePythonBackend(), model_signing=ModelSigningPythonBackend()
    )
    return verifier, time.perf_counter() - start


def envelope_of(bundle: bytes) -> tuple[bytes, bytes]:
    """(PAE, first signature) of a bundle's DSSE envelope."""
    envelope = json.loads(bundle)["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    return pae(envelope["payloadType"], payload), signature


def keyless() -> Workload:
    c = case("sp-bundle-v03")
    bundle = (FIXTURES / c["bundle"]).read_bytes()
    artifact = (FIXTURES / c["artifact"]).read_bytes()
    trust = TrustConfig(
        trusted_roots=roots(),
        identities={PURPOSE: (AllowedIdentity(issuer=c["issuer"], identity=c["identity"]),)},
        default_trusted_root="staging",
    )
    verifier, setup = build(trust)
    request = Request(bundle=bundle, purpose=PURPOSE, artifact=FIXTURES / c["artifact"])
    document = json.loads(bundle)
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(document["verificationMaterial"]["certificate"]["rawBytes"])
    )
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signature = base64.b64decode(document["messageSignature"]["signature"])
    algorithm = hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()

    def baseline() -> None:
        key.verify(signature, artifact, ec.ECDSA(algorithm))

    return Workload(
        "keyless",
        c["id"],
        verifier,
        request,
        "ECDSA verify of the message signature",
        baseline,
        setup,
    )


def keyed_dsse() -> Workload:
    c = case("keyed-slsa-ed25519")
    bundle = (FIXTURES / c["bundle"]).read_bytes()
    registered = key_for(FIXTURES / c["public_key"])
    verifier, setup = build(
        TrustConfig(trusted_roots=roots(), keys=(registered,), default_trusted_root="production")
    )
    statement = json.loads(base64.b64decode(json.loads(bundle)["dsseEnvelope"]["payload"]))
    digest = "sha256:" + statement["subject"][0]["digest"]["sha256"]
    request = Request(bundle=bundle, purpose=PURPOSE, expected_digest=digest)
    message, signature = envelope_of(bundle)
    key = serialization.load_pem_public_key(registered.pem.encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)

    def baseline() -> None:
        key.verify(signature, message)

    return Workload(
        "keyed-dsse", c["id"], verifier, request, "Ed25519 verify of the PAE", baseline, setup
    )


def model_signing() -> Workload:
    c = case("oms-tiny-key")
    bundle = (FIXTURES / c["bundle"]).read_bytes()
    model = FIXTURES / c["artifact"].split(" (")[0]
    registered = key_for(FIXTURES / c["public_key"])
    verifier, setup = build(
        TrustConfig(trusted_roots=roots(), keys=(registered,), default_trusted_root="production")
    )
    request = Request(bundle=bundle, purpose=PURPOSE, artifact=model)
    message, signature = envelope_of(bundle)
    key = serialization.load_pem_public_key(registered.pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    files = sorted(p for p in model.rglob("*") if p.is_file())

    def baseline() -> None:
        for path in files:
            hashlib.sha256(path.read_bytes()).digest()
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    return Workload(
        "model-signing",
        c["id"],
        verifier,
        request,
        f"SHA-256 of {len(files)} model files + ECDSA verify of the PAE",
        baseline,
        setup,
    )


def model_digest() -> Workload:
    """The same model signature checked against the model's digest, as the API does."""
    work = model_signing()
    digest = work.verifier.verify(work.request).model_digest
    request = Request(bundle=work.request.bundle, purpose=PURPOSE, expected_digest=digest)
    message, signature = envelope_of(work.request.bundle)
    key = serialization.load_pem_public_key(next(iter(work.verifier.trust.keys)).pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)

    def baseline() -> None:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    return Workload(
        "model-digest",
        work.case,
        work.verifier,
        request,
        "ECDSA verify of the PAE",
        baseline,
        work.setup_seconds,
    )


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second over at least ``seconds`` (after one warm-up call)."""
    call()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        call()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one run (2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; median (3)")
    args = parser.parse_args()
    if not (FIXTURES / "EXPECTED.json").is_file():
        print(f"signing fixtures not found at {FIXTURES}", file=sys.stderr)
        return 2

    rows = []
    for make in (keyless, keyed_dsse, model_signing, model_digest):
        start = time.perf_counter()
        work = make()
        work.verifier.verify(work.request)  # must pass before it is timed
        cold = time.perf_counter() - start
        verify = functools.partial(work.verifier.verify, work.request)
        measured = statistics.median(rate(verify, args.seconds) for _ in range(args.repeats))
        base = statistics.median(rate(work.baseline, args.seconds) for _ in range(args.repeats))
        rows.append((work, measured, base, cold))

    print(f"attestation verification, median of {args.repeats} x {args.seconds:g} s")
    header = (
        f"{'workload':<14} {'case':<20} {'verify/s':>10} {'baseline/s':>12} {'ratio':>8} "
        f"{'cold ms':>9}  baseline"
    )
    print(header)
    print("-" * len(header))
    for work, measured, base, cold in rows:
        print(
            f"{work.name:<14} {work.case:<20} {measured:>10,.1f} {base:>12,.1f} "
            f"{measured / base:>8.4f} {cold * 1000:>9.1f}  {work.baseline_name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
