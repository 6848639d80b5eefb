"""The outside verification engines, as the orchestrator drives them, and what they report.

Two protocols, injected by the composition root; their real implementations are in
``adapters/``:

* ``SigstoreBackend`` — Sigstore bundles signed with a certificate (chain, SCT, identity),
  transparency-log entries and RFC 3161 timestamps, against a pinned trusted root; it reports
  a ``KeylessResult`` or ``TransparencyFacts``;
* ``ModelSigningBackend`` — OpenSSF model signatures in one of the ``ModelSigningMode`` modes;
  it reports ``ModelFacts``.

Both verify offline and raise ``VerificationFailed`` with the most specific ``Reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from governance.attestations.trust import AllowedIdentity

__all__ = [
    "CertificateMode",
    "CertifiedSigner",
    "KeyMode",
    "KeylessResult",
    "LogEntryFacts",
    "ModelFacts",
    "ModelSigningBackend",
    "ModelSigningMode",
    "SigstoreBackend",
    "SigstoreMode",
    "TransparencyFacts",
]


@dataclass(frozen=True)
class CertifiedSigner:
    """The identities (SAN values) of a verified signing certificate, and its OIDC issuer.

    ``source_*`` are Fulcio's CI extensions (source repository URI, ref and commit), present
    for CI workload identities such as GitHub Actions.
    """

    sans: tuple[str, ...]
    issuer: str | None
    source_repo: str | None = None
    source_ref: str | None = None
    source_commit: str | None = None


@dataclass(frozen=True)
class LogEntryFacts:
    """A transparency-log entry whose inclusion proof, checkpoint and promise verified.

    ``integrated_time`` is set only when a verified inclusion promise (SET) vouches for it.
    """

    kind: str
    version: str
    body: bytes
    log_index: int
    integrated_time: datetime | None


@dataclass(frozen=True)
class TransparencyFacts:
    """Verified log entries and verified RFC 3161 timestamps (unverifiable ones are dropped)."""

    entries: tuple[LogEntryFacts, ...] = ()
    timestamps: tuple[datetime, ...] = ()

    def times(self) -> list[tuple[str, datetime]]:
        """Every verified time of signing, with where it comes from."""
        return [
            *(("transparency_log", e.integrated_time) for e in self.entries if e.integrated_time),
            *(("timestamp_authority", t) for t in self.timestamps),
        ]


@dataclass(frozen=True)
class KeylessResult:
    """What a Sigstore certificate verification proves: signer, log facts, DSSE content."""

    signer: CertifiedSigner
    transparency: TransparencyFacts
    payload_type: str | None = None
    payload: bytes | None = None


class SigstoreBackend(Protocol):
    """Sigstore bundle verification against a pinned trusted root, offline.

    Every method raises ``VerificationFailed`` with the most specific ``Reason``.
    ``trusted_root`` is a Sigstore ``trusted_root.json`` document; ``identities`` is never empty
    and a certificate must match one of them (issuer, and identity exactly or by full match).
    """

    def verify_artifact(
        self,
        bundle: bytes,
        sha256: bytes,
        *,
        trusted_root: bytes,
        identities: Sequence[AllowedIdentity],
    ) -> KeylessResult:
        """Verify a certificate bundle's message signature over an artifact digest."""
        ...

    def verify_dsse(
        self, bundle: bytes, *, trusted_root: bytes, identities: Sequence[AllowedIdentity]
    ) -> KeylessResult:
        """Verify a certificate bundle's DSSE envelope; the payload is returned unchecked."""
        ...

    def verify_transparency(
        self, bundle: bytes, *, trusted_root: bytes, signature: bytes
    ) -> TransparencyFacts:
        """Verify a key-signed bundle's log entries (proof, checkpoint, SET) and timestamps.

        The binding between an entry's body and the bundle's material is the caller's check.
        """
        ...


@dataclass(frozen=True)
class KeyMode:
    """Model signed with a key (the registry's PEM)."""

    public_key_pem: bytes


@dataclass(frozen=True)
class CertificateMode:
    """Model signed with a certificate; ``chain_pem`` holds the only trust anchors."""

    chain_pem: bytes


@dataclass(frozen=True)
class SigstoreMode:
    """Model signed keyless with Sigstore, by an identity already allowed for the purpose."""

    trusted_root: bytes
    identity: str
    issuer: str


ModelSigningMode = KeyMode | CertificateMode | SigstoreMode


@dataclass(frozen=True)
class ModelFacts:
    """A verified model manifest: the model's name and digest, its resource count, how hashed.

    ``digest`` is the model digest, ``sha256:<hex>``: the v1.0 statement's subject, which is
    SHA-256 over the manifest's resource digests; for the legacy ``Digests/v0.1`` predicate,
    which signs no such subject, the same construction over its per-file digests in path order.
    """

    name: str
    digest: str
    files: int
    serialization: str


class ModelSigningBackend(Protocol):
    """OpenSSF model-signing verification of a signature, offline.

    Both methods raise ``VerificationFailed``. ``verify_model`` re-hashes a model directory;
    ``verify_signature`` checks the signature and the manifest's consistency only, for a caller
    who compares the returned model digest with the digest it expects.
    """

    def verify_model(
        self,
        signature: bytes,
        model: Path,
        mode: ModelSigningMode,
        *,
        ignore_paths: Sequence[str] = (),
    ) -> ModelFacts:
        """Verify the signature in ``mode`` and re-hash ``model``; raise ``VerificationFailed``.

        ``ignore_paths`` (relative to ``model``) are not part of the model, e.g. the signature
        file when it sits in the model directory.
        """
        ...

    def verify_signature(self, signature: bytes, mode: ModelSigningMode) -> ModelFacts:
        """Verify the signature in ``mode`` and the signed manifest's consistency, no re-hash.

        The returned ``ModelFacts.digest`` is only as good as the caller's comparison of it
        with the digest of the model it means: a signature alone proves nothing about a model.
        """
        ...
