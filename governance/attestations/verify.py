"""Attestation verification: one ``Verifier.verify(Request)`` for every supported format.

Formats, told apart by shape:

* a **Sigstore bundle** (``mediaType`` ``application/vnd.dev.sigstore.bundle…``, v0.1–v0.3)
  signed with a Fulcio certificate (``keyless``) or with a registered key (``key``), over an
  artifact (``messageSignature``) or a DSSE envelope;
* a bare **DSSE envelope** (``payload``, ``payloadType``, ``signatures``), always ``key``;
* an **OpenSSF model signature**: a Sigstore bundle whose DSSE payload is an in-toto statement
  with a model-signing predicate (``https://model_signing/signature/v1.0``, or the legacy
  ``https://model_signing/Digests/v0.1``), in ``key``, ``certificate`` or ``keyless``
  (Sigstore) mode; the model directory is re-hashed with the hashing configuration recorded in
  the signed manifest or, without a directory, the signed model digest (the statement's
  subject) must be the expected digest.

Outside engines sit behind two protocols, injected by the composition root:
``SigstoreBackend`` (certificate bundles, transparency logs, timestamps) and
``ModelSigningBackend`` (model manifests). The real implementations are in ``adapters/``.

Nothing here touches the network: trust comes from the pinned ``TrustConfig`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from governance.attestations import keyed
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import (
    AllowedIdentity,
    KeyAlgorithm,
    RegisteredKey,
    TrustConfig,
)
from governance.errors import InputError
from governance.timefmt import format_optional

__all__ = [
    "CertificateMode",
    "CertifiedSigner",
    "Format",
    "KeyMode",
    "KeylessResult",
    "LogEntryFacts",
    "Material",
    "ModelFacts",
    "ModelSigningBackend",
    "ModelSigningMode",
    "Reason",
    "Request",
    "SigningMode",
    "SigstoreBackend",
    "SigstoreMode",
    "Subject",
    "TransparencyFacts",
    "VerificationFailed",
    "VerifiedFacts",
    "Verifier",
]

BUNDLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
)
MODEL_SIGNING_PREDICATES = frozenset(
    {"https://model_signing/signature/v1.0", "https://model_signing/Digests/v0.1"}
)
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"

_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")
_SIGSTORE_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


class Format(StrEnum):
    """What was submitted."""

    SIGSTORE_BUNDLE = "sigstore_bundle"
    DSSE_ENVELOPE = "dsse_envelope"
    MODEL_SIGNING = "model_signing"


class SigningMode(StrEnum):
    """How the signer is identified."""

    KEYLESS = "keyless"  # a Sigstore (Fulcio) certificate, logged in Rekor
    KEY = "key"  # a registered public key
    CERTIFICATE = "certificate"  # a certificate chaining to a configured chain (model signing)


# --- what the outside engines report ------------------------------------------------------------


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


# --- request and result -------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One verification.

    ``bundle``: the submitted bytes. ``purpose`` selects keys, chains, allowed identities and
    (unless overridden) the trusted root. ``expected_digest`` (``sha256:<hex>``) and/or
    ``artifact`` (a file, or a model directory) say what must have been signed; without either,
    a DSSE statement's own subjects are recorded as they are — except for a model signature,
    which needs the model directory or the model digest. ``identity``/``issuer`` replace
    the purpose's allow-list with one exact signer (operator use; not for untrusted callers).
    """

    bundle: bytes
    purpose: str
    expected_digest: str | None = None
    artifact: Path | None = None
    trusted_root: str | None = None
    identity: str | None = None
    issuer: str | None = None
    expected_predicate_type: str | None = None
    ignore_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.purpose:
            raise InputError("purpose must not be empty")
        if self.expected_digest is not None:
            match = _DIGEST.fullmatch(self.expected_digest)
            if match is None:
                raise InputError(
                    f"expected digest must be sha256:<64 hex digits>, got {self.expected_digest!r}"
                )
            object.__setattr__(self, "expected_digest", "sha256:" + match[1].lower())
        if (self.identity is None) != (self.issuer is None):
            raise InputError("give both identity and issuer, or neither")


@dataclass(frozen=True)
class Subject:
    """An in-toto subject: a name and its digests by algorithm."""

    name: str
    digest: Mapping[str, str]


@dataclass(frozen=True)
class Material:
    """A build input (SLSA ``resolvedDependencies`` / ``materials``)."""

    uri: str
    digest: Mapping[str, str]


@dataclass(frozen=True)
class VerifiedFacts:
    """What a successful verification proves, ready for a ledger entry (``to_json``).

    ``signing_time`` is the earliest verified time of signing (``signing_time_source``:
    ``transparency_log``, ``timestamp_authority``, ``certificate_not_before`` for model-signing
    certificate mode, or ``verification_time`` when nothing vouches for a time and the key was
    checked as of now). Build facts come from a SLSA provenance predicate; ``source_*`` fall
    back to the CI extensions of a Fulcio certificate.
    """

    format: Format
    mode: SigningMode
    media_type: str | None
    signer_identity: str | None
    signer_issuer: str | None
    key_id: str | None
    trusted_root: str | None
    signing_time: datetime
    signing_time_source: str
    trust_config_digest: str
    predicate_type: str | None = None
    subjects: tuple[Subject, ...] = ()
    artifact_digest: str | None = None
    integrated_time: datetime | None = None
    log_index: int | None = None
    timestamps: tuple[datetime, ...] = ()
    builder_id: str | None = None
    build_type: str | None = None
    source_repo: str | None = None
    source_ref: str | None = None
    source_digest: Mapping[str, str] = field(default_factory=dict)
    materials: tuple[Material, ...] = ()
    model_name: str | None = None
    model_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 UTC strings)."""
        return {
            "format": self.format.value,
            "mode": self.mode.value,
            "media_type": self.media_type,
            "signer": {
                "identity": self.signer_identity,
                "issuer": self.signer_issuer,
                "key_id": self.key_id,
            },
            "trusted_root": self.trusted_root,
            "trust_config_digest": self.trust_config_digest,
            "signing_time": format_optional(self.signing_time),
            "signing_time_source": self.signing_time_source,
            "predicate_type": self.predicate_type,
            "subjects": [{"name": s.name, "digest": dict(s.digest)} for s in self.subjects],
            "artifact_digest": self.artifact_digest,
            "tlog": {
                "integrated_time": format_optional(self.integrated_time),
                "log_index": self.log_index,
            },
            "timestamps": [format_optional(t) for t in self.timestamps],
            "provenance": {
                "builder_id": self.builder_id,
                "build_type": self.build_type,
                "source_repo": self.source_repo,
                "source_ref": self.source_ref,
                "source_digest": dict(self.source_digest),
                "materials": [{"uri": m.uri, "digest": dict(m.digest)} for m in self.materials],
            },
            "model": {"name": self.model_name, "digest": self.model_digest},
        }


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """The submitted bytes, recognised but not yet trusted."""

    format: Format
    mode: SigningMode
    media_type: str | None
    envelope: keyed.Envelope | None
    message_signature: bytes | None
    message_digest: tuple[str, bytes] | None
    key_hint: str | None
    leaf_der: bytes | None
    has_transparency: bool


def _fail(reason: Reason, detail: str) -> VerificationFailed:
    return VerificationFailed(reason, detail)


def _parse(data: bytes) -> _Parsed:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(Reason.MALFORMED_BUNDLE, f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "not a JSON object")
    if "mediaType" in raw:
        return _parse_bundle(raw)
    if {"payload", "payloadType", "signatures"} <= raw.keys():
        envelope = keyed.Envelope.from_json(raw)
        return _Parsed(
            Format.DSSE_ENVELOPE, SigningMode.KEY, None, envelope, None, None, None, None, False
        )
    raise _fail(Reason.UNSUPPORTED_FORMAT, "neither a Sigstore bundle nor a DSSE envelope")


def _parse_bundle(raw: dict[str, Any]) -> _Parsed:
    try:
        return _read_bundle(raw)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise _fail(Reason.MALFORMED_BUNDLE, f"bundle structure: {exc!r}") from None


def _read_bundle(raw: dict[str, Any]) -> _Parsed:
    media_type = raw["mediaType"]
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise _fail(Reason.UNSUPPORTED_FORMAT, f"unsupported bundle mediaType {media_type!r}")
    material = raw.get("verificationMaterial")
    if not isinstance(material, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "bundle without verificationMaterial")
    has_envelope, has_message = "dsseEnvelope" in raw, "messageSignature" in raw
    if has_envelope == has_message:
        raise _fail(Reason.MALFORMED_BUNDLE, "need exactly one of dsseEnvelope, messageSignature")

    envelope = keyed.Envelope.from_json(raw["dsseEnvelope"]) if has_envelope else None
    message_signature, message_digest = None, None
    if has_message:
        message_signature, message_digest = _message_signature(raw["messageSignature"])

    tlog_entries = material.get("tlogEntries") or []
    timestamps = (material.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
    key_hint, leaf_der = None, None
    if "publicKey" in material:
        mode = SigningMode.KEY
        if not isinstance(material["publicKey"], dict):
            raise _fail(Reason.MALFORMED_BUNDLE, "publicKey must be an object")
        hint = material["publicKey"].get("hint")
        key_hint = hint if isinstance(hint, str) and hint else None
    elif "certificate" in material or "x509CertificateChain" in material:
        mode = SigningMode.KEYLESS
        leaf_der = _leaf_certificate(material)
    else:
        raise _fail(Reason.MALFORMED_BUNDLE, "bundle has neither a certificate nor a public key")

    bundle_format = Format.SIGSTORE_BUNDLE
    if envelope is not None and _predicate_type_hint(envelope) in MODEL_SIGNING_PREDICATES:
        bundle_format = Format.MODEL_SIGNING
        # model-signing certificate mode: a chain to private roots, nothing logged.
        if mode is SigningMode.KEYLESS and not tlog_entries and "x509CertificateChain" in material:
            mode = SigningMode.CERTIFICATE
    return _Parsed(
        bundle_format,
        mode,
        media_type,
        envelope,
        message_signature,
        message_digest,
        key_hint,
        leaf_der,
        bool(tlog_entries or timestamps),
    )


def _message_signature(obj: object) -> tuple[bytes, tuple[str, bytes] | None]:
    if not isinstance(obj, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "messageSignature must be an object")
    signature = keyed.decode_b64(obj.get("signature"), "messageSignature.signature")
    digest = obj.get("messageDigest")
    if digest is None:
        return signature, None
    if not isinstance(digest, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "messageDigest must be an object")
    algorithm = digest.get("algorithm")
    return signature, (
        str(algorithm),
        keyed.decode_b64(digest.get("digest"), "messageDigest.digest"),
    )


def _leaf_certificate(material: dict[str, Any]) -> bytes | None:
    try:
        if "certificate" in material:
            return keyed.decode_b64(material["certificate"]["rawBytes"], "certificate")
        certificates = material["x509CertificateChain"]["certificates"]
        return (
            keyed.decode_b64(certificates[0]["rawBytes"], "certificate") if certificates else None
        )
    except (KeyError, TypeError, IndexError):
        return None


def _predicate_type_hint(envelope: keyed.Envelope) -> str | None:
    """The (unverified) predicate type, for routing only."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        return None
    try:
        statement = json.loads(envelope.payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    predicate_type = statement.get("predicateType") if isinstance(statement, dict) else None
    return predicate_type if isinstance(predicate_type, str) else None


# --- statements and predicates ------------------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Mapping[str, Any]


def _statement(payload_type: str | None, payload: bytes | None) -> _Statement:
    if payload_type != IN_TOTO_PAYLOAD_TYPE or payload is None:
        raise _fail(Reason.UNSUPPORTED_FORMAT, f"DSSE payloadType {payload_type!r} is not in-toto")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(Reason.MALFORMED_BUNDLE, f"in-toto statement is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "in-toto statement is not an object")
    if raw.get("_type") not in STATEMENT_TYPES:
        raise _fail(Reason.UNSUPPORTED_FORMAT, f"statement _type {raw.get('_type')!r}")
    predicate_type = raw.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise _fail(Reason.MALFORMED_BUNDLE, "statement without predicateType")
    subjects = raw.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise _fail(Reason.MALFORMED_BUNDLE, "statement without subjects")
    parsed = []
    for i, s in enumerate(subjects):
        digest = s.get("digest") if isinstance(s, dict) else None
        if not isinstance(digest, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
        ):
            raise _fail(Reason.MALFORMED_BUNDLE, f"subject[{i}] without a digest map")
        name = s.get("name", "")
        parsed.append(Subject(name if isinstance(name, str) else "", {**digest}))
    predicate = raw.get("predicate") or {}
    if not isinstance(predicate, dict):
        raise _fail(Reason.MALFORMED_BUNDLE, "statement predicate is not an object")
    return _Statement(predicate_type, tuple(parsed), predicate)


def _check_subject(statement: _Statement, digest: str | None) -> None:
    if digest is None:
        return
    wanted = digest.removeprefix("sha256:")
    if not any(s.digest.get("sha256", "").lower() == wanted for s in statement.subjects):
        names = ", ".join(
            f"{s.name or '?'}=sha256:{s.digest.get('sha256', '-')}" for s in statement.subjects
        )
        raise _fail(
            Reason.SUBJECT_MISMATCH, f"{digest} is not among the statement's subjects ({names})"
        )


def _check_predicate_type(statement: _Statement, expected: str | None) -> None:
    if expected is not None and statement.predicate_type != expected:
        raise _fail(
            Reason.PREDICATE_UNSUPPORTED,
            f"predicate type is {statement.predicate_type}, expected {expected}",
        )


@dataclass(frozen=True)
class _Provenance:
    builder_id: str | None = None
    build_type: str | None = None
    source_repo: str | None = None
    source_ref: str | None = None
    source_digest: Mapping[str, str] = field(default_factory=dict)
    materials: tuple[Material, ...] = ()


def _provenance(statement: _Statement) -> _Provenance:
    """SLSA provenance v1 and v0.2; other predicates carry no build facts."""
    predicate = statement.predicate
    try:
        if statement.predicate_type == SLSA_PROVENANCE_V1:
            return _slsa_v1(predicate)
        if statement.predicate_type == SLSA_PROVENANCE_V02:
            return _slsa_v02(predicate)
    except (KeyError, TypeError, AttributeError) as exc:
        raise _fail(
            Reason.PREDICATE_UNSUPPORTED,
            f"{statement.predicate_type} predicate unreadable: {exc!r}",
        ) from None
    return _Provenance()


def _materials(items: object) -> tuple[Material, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        Material(str(m.get("uri", "")), {k: str(v) for k, v in (m.get("digest") or {}).items()})
        for m in items
        if isinstance(m, dict)
    )


def _git_source(uri: str) -> tuple[str, str | None]:
    """``git+https://host/repo@refs/heads/main`` → (``https://host/repo``, ``refs/heads/main``)."""
    uri = uri.removeprefix("git+")
    repo, at, ref = uri.rpartition("@")
    return (repo, ref) if at and "/" in ref else (uri, None)


def _source(materials: tuple[Material, ...]) -> tuple[str | None, str | None, Mapping[str, str]]:
    for m in materials:
        if m.uri.startswith("git+"):
            repo, ref = _git_source(m.uri)
            return repo, ref, m.digest
    return None, None, {}


def _slsa_v1(predicate: Mapping[str, Any]) -> _Provenance:
    definition, run = predicate["buildDefinition"], predicate["runDetails"]
    builder_id, build_type = run["builder"]["id"], definition["buildType"]
    if not isinstance(builder_id, str) or not isinstance(build_type, str):
        raise TypeError("builder.id and buildType must be strings")
    materials = _materials(definition.get("resolvedDependencies"))
    repo, ref, digest = _source(materials)
    workflow = (definition.get("externalParameters") or {}).get("workflow")
    if isinstance(workflow, dict) and isinstance(workflow.get("repository"), str):
        # GitHub Actions build types (actions.github.io/buildtypes/workflow/v1 and the like)
        repo, ref = workflow["repository"], workflow.get("ref", ref)
    return _Provenance(builder_id, build_type, repo, ref, digest, materials)


def _slsa_v02(predicate: Mapping[str, Any]) -> _Provenance:
    builder_id, build_type = predicate["builder"]["id"], predicate["buildType"]
    materials = _materials(predicate.get("materials"))
    repo, ref, digest = _source(materials)
    config = (predicate.get("invocation") or {}).get("configSource") or {}
    if isinstance(config.get("uri"), str):
        repo, ref = _git_source(config["uri"])
        digest = {k: str(v) for k, v in (config.get("digest") or {}).items()}
    return _Provenance(str(builder_id), str(build_type), repo, ref, digest, materials)


# --- signers ------------------------------------------------------------------------------------


def _allowed_signer(
    sans: Sequence[str], issuer: str | None, rules: Sequence[AllowedIdentity]
) -> str:
    """The first identity of the certificate that the allow-list accepts."""
    for rule in rules:
        for san in sans:
            if rule.matches(san, issuer):
                return san
    raise _fail(
        Reason.IDENTITY_NOT_ALLOWED,
        f"signer {', '.join(sans) or '(none)'} (issuer {issuer}) is not allowed",
    )


def certificate_identity(der: bytes) -> tuple[tuple[str, ...], str]:
    """The identities of a (non-Fulcio) certificate and its issuer's distinguished name.

    Identities are the SAN values (email, URI, DNS, Sigstore other-name); a certificate without
    SANs is identified by its subject DN (RFC 4514), as PKI certificates for model signing are.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _fail(Reason.MALFORMED_BUNDLE, f"signing certificate unreadable: {exc}") from None
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans.extend(ext.get_values_for_type(x509.RFC822Name))
        sans.extend(ext.get_values_for_type(x509.UniformResourceIdentifier))
        sans.extend(ext.get_values_for_type(x509.DNSName))
        sans.extend(
            o.value.decode(errors="replace")
            for o in ext.get_values_for_type(x509.OtherName)
            if o.type_id == _SIGSTORE_OTHERNAME
        )
    except x509.ExtensionNotFound:
        pass
    return tuple(sans) or (cert.subject.rfc4514_string(),), cert.issuer.rfc4514_string()


def _sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- the orchestrator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signed:
    """The outcome of the signature step, before the statement is read."""

    identity: str | None = None
    issuer: str | None = None
    key_id: str | None = None
    trusted_root: str | None = None
    transparency: TransparencyFacts = TransparencyFacts()
    signing_time: tuple[str, datetime] | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    model: ModelFacts | None = None
    certified: CertifiedSigner | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Verifier:
    """Verifies attestations against one pinned ``TrustConfig``, offline."""

    def __init__(
        self,
        trust: TrustConfig,
        *,
        sigstore: SigstoreBackend,
        model_signing: ModelSigningBackend,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._trust = trust
        self._sigstore = sigstore
        self._model_signing = model_signing
        self._clock = clock
        self._trust_digest = trust.digest()

    @property
    def trust(self) -> TrustConfig:
        """The trust configuration in force."""
        return self._trust

    def verify(self, request: Request) -> VerifiedFacts:
        """Verify one attestation; return what it proves or raise ``VerificationFailed``.

        1. Recognise the format: Sigstore bundle (by ``mediaType``), bare DSSE envelope, or
           OpenSSF model signature; and the mode: keyless, key or certificate.
        2. Pin the artifact: hash the artifact file and reconcile it with the expected digest
           (a model signature needs its model directory or the expected model digest).
        3. Verify the signature in its mode — keyless: sigstore against the pinned trusted root
           with the allowed identities; key: the registry, ``cryptography``, the key's validity
           at signing time, log entries and timestamps when present; model signing:
           model-signing in key, certificate or Sigstore mode, re-hashing the model directory
           when there is one.
        4. Read the signed in-toto statement: its subjects must include the artifact digest
           (``verify_dsse`` does not check this) — for a model signature, the signed model
           digest must be the expected one — and the predicate type must be the expected one.
        5. Parse the predicate (SLSA provenance) and assemble the facts.
        """
        parsed = _parse(request.bundle)
        digest = self._artifact_digest(request, parsed)
        if parsed.format is Format.MODEL_SIGNING:
            signed = self._verify_model(request, parsed)
        elif parsed.mode is SigningMode.KEYLESS:
            signed = self._verify_keyless(request, parsed, digest)
        else:
            signed = self._verify_keyed(request, parsed, digest)

        statement = None
        if parsed.envelope is not None:
            statement = _statement(signed.payload_type, signed.payload)
            _check_predicate_type(statement, request.expected_predicate_type)
            if signed.model is None:
                _check_subject(statement, digest)
            elif digest is not None and digest != signed.model.digest:
                raise _fail(
                    Reason.SUBJECT_MISMATCH,
                    f"the model digest is {signed.model.digest}, expected {digest}",
                )
        return self._facts(request, parsed, signed, statement, digest)

    # 2 ---------------------------------------------------------------------------------------

    @staticmethod
    def _artifact_digest(request: Request, parsed: _Parsed) -> str | None:
        expected, artifact = request.expected_digest, request.artifact
        if parsed.format is Format.MODEL_SIGNING:
            if artifact is not None and not artifact.is_dir():
                raise _fail(Reason.ARTIFACT_MISSING, f"{artifact} is not a model directory")
            if artifact is None and expected is None:
                # A signature alone would pass on whatever model it names.
                raise _fail(
                    Reason.ARTIFACT_MISSING,
                    "a model signature needs the model directory or the model's digest",
                )
            return expected
        if artifact is None:
            return expected
        if not artifact.is_file():
            raise _fail(Reason.ARTIFACT_MISSING, f"artifact {artifact} is not a readable file")
        actual = "sha256:" + _sha256_file(artifact)
        if expected is not None and actual != expected:
            raise _fail(
                Reason.SUBJECT_MISMATCH,
                f"artifact {artifact.name} is {actual}, expected {expected}",
            )
        return actual

    # 3 ---------------------------------------------------------------------------------------

    def _root(self, request: Request) -> str:
        name = self._trust.root_name_for(request.purpose, request.trusted_root)
        if name is None:
            raise _fail(
                Reason.TRUSTED_ROOT_UNKNOWN,
                f"no trusted root is configured for {request.purpose!r}",
            )
        if name not in self._trust.trusted_roots:
            raise _fail(Reason.TRUSTED_ROOT_UNKNOWN, f"trusted root {name!r} is not configured")
        return name

    def _identities(self, request: Request) -> tuple[AllowedIdentity, ...]:
        if request.identity is not None and request.issuer is not None:
            return (AllowedIdentity(issuer=request.issuer, identity=request.identity),)
        rules = self._trust.identities_for(request.purpose)
        if not rules:
            raise _fail(
                Reason.IDENTITY_NOT_ALLOWED,
                f"no signer identities are allowed for {request.purpose!r}",
            )
        return rules

    def _verify_keyless(self, request: Request, parsed: _Parsed, digest: str | None) -> _Signed:
        root = self._root(request)
        rules = self._identities(request)
        document = self._trust.root_document(root)
        if parsed.envelope is None:
            if digest is None:
                raise _fail(
                    Reason.ARTIFACT_MISSING, "a message signature needs the artifact or its digest"
                )
            result = self._sigstore.verify_artifact(
                request.bundle, bytes.fromhex(digest[7:]), trusted_root=document, identities=rules
            )
        else:
            result = self._sigstore.verify_dsse(
                request.bundle, trusted_root=document, identities=rules
            )
        identity = _allowed_signer(result.signer.sans, result.signer.issuer, rules)
        times = result.transparency.times()
        return _Signed(
            identity=identity,
            issuer=result.signer.issuer,
            certified=result.signer,
            trusted_root=root,
            transparency=result.transparency,
            signing_time=min(times, key=lambda t: t[1]) if times else None,
            payload_type=result.payload_type,
            payload=result.payload,
        )

    def _verify_keyed(self, request: Request, parsed: _Parsed, digest: str | None) -> _Signed:
        """Key-signed bundle or DSSE envelope.

        1. Candidate keys: registered for the purpose, narrowed by the bundle's key hint.
        2. The signature: over the DSSE PAE, or over the artifact (its digest must match the
           bundle's ``messageDigest``, when present).
        3. Log entries and timestamps, when present: verified against the trusted root, and each
           entry must record this key, signature and content.
        4. The key must be valid at every verified time of signing, or — with none — now.
        """
        candidates = self._candidates(request, parsed)
        if parsed.envelope is not None:
            key, signature = keyed.verify_envelope(parsed.envelope, candidates)
        else:
            key, signature = self._message_key(request, parsed, digest, candidates)
        root, transparency = self._transparency(request, parsed, key, signature, digest)
        signing_time = self._check_validity(key, transparency)
        return _Signed(
            key_id=key.id,
            trusted_root=root,
            transparency=transparency,
            signing_time=signing_time,
            payload_type=parsed.envelope.payload_type if parsed.envelope else None,
            payload=parsed.envelope.payload if parsed.envelope else None,
        )

    def _candidates(self, request: Request, parsed: _Parsed) -> tuple[RegisteredKey, ...]:
        hints = [parsed.key_hint or ""]
        if parsed.envelope is not None:
            hints.extend(s.keyid for s in parsed.envelope.signatures)
        return keyed.candidate_keys(self._trust.keys_for(request.purpose), hints, request.purpose)

    @staticmethod
    def _message_key(
        request: Request,
        parsed: _Parsed,
        digest: str | None,
        candidates: Sequence[RegisteredKey],
    ) -> tuple[RegisteredKey, bytes]:
        assert parsed.message_signature is not None
        if digest is None:
            raise _fail(
                Reason.ARTIFACT_MISSING, "a message signature needs the artifact or its digest"
            )
        sha256 = bytes.fromhex(digest[7:])
        if parsed.message_digest is not None:
            algorithm, recorded = parsed.message_digest
            if algorithm == "SHA2_256" and recorded != sha256:
                raise _fail(
                    Reason.SUBJECT_MISMATCH,
                    f"the bundle signs sha256:{recorded.hex()}, the artifact is {digest}",
                )
        key = keyed.verify_message_signature(
            parsed.message_signature, candidates, sha256=sha256, artifact=request.artifact
        )
        return key, parsed.message_signature

    def _transparency(
        self,
        request: Request,
        parsed: _Parsed,
        key: RegisteredKey,
        signature: bytes,
        digest: str | None,
    ) -> tuple[str | None, TransparencyFacts]:
        if not parsed.has_transparency:
            return None, TransparencyFacts()
        root = self._root(request)
        facts = self._sigstore.verify_transparency(
            request.bundle, trusted_root=self._trust.root_document(root), signature=signature
        )
        for entry in facts.entries:
            keyed.check_log_binding(
                entry.kind,
                entry.version,
                entry.body,
                key=key,
                signature=signature,
                artifact_sha256=bytes.fromhex(digest[7:]) if digest else None,
                envelope=parsed.envelope,
            )
        return root, facts

    def _check_validity(
        self, key: RegisteredKey, transparency: TransparencyFacts
    ) -> tuple[str, datetime]:
        """Check the key at every verified time; with none, the signature is no later than now."""
        times = transparency.times() or [("verification_time", self._clock())]
        for source, when in times:
            keyed.check_key_validity(key, [when], source)
        return min(times, key=lambda t: t[1])

    def _verify_model(self, request: Request, parsed: _Parsed) -> _Signed:
        """OpenSSF model signature.

        1. The signer, by mode — key: a registered key (hint lookup, our own PAE check, validity
           now or at logged times); certificate: the purpose's configured chains, and no
           others; keyless: sigstore with the allowed identities.
        2. model-signing verifies the signature again in that mode and the signed manifest's
           consistency, and re-hashes the model directory, when given, with the hashing
           configuration from the signed manifest (without one, ``verify`` compares the signed
           model digest with the expected digest).
        3. Certificate mode: the leaf certificate's identity must be allowed (model-signing
           checks none).
        """
        assert parsed.envelope is not None
        if parsed.mode is SigningMode.KEY:
            signed = self._verify_keyed(request, parsed, None)
            key = next(k for k in self._trust.keys if k.id == signed.key_id)
            if key.algorithm is KeyAlgorithm.ED25519:
                raise _fail(
                    Reason.UNSUPPORTED_FORMAT, "model-signing key mode supports ECDSA keys only"
                )
            mode: ModelSigningMode = KeyMode(key.pem.encode())
        elif parsed.mode is SigningMode.CERTIFICATE:
            chains = self._trust.chains_for(request.purpose)
            if not chains:
                raise _fail(
                    Reason.CHAIN_MISSING,
                    f"no certificate chain is configured for {request.purpose!r}; "
                    "public web roots are never used",
                )
            if parsed.leaf_der is None:
                raise _fail(Reason.MALFORMED_BUNDLE, "certificate mode without a certificate")
            rules = self._identities(request)
            mode = CertificateMode(b"".join(c.pem.encode() for c in chains))
            model = self._model(request, mode)
            sans, issuer = certificate_identity(parsed.leaf_der)
            return _Signed(
                identity=_allowed_signer(sans, issuer, rules),
                issuer=issuer,
                trusted_root="chain:" + ",".join(c.id for c in chains),
                signing_time=("certificate_not_before", _not_before(parsed.leaf_der)),
                payload_type=parsed.envelope.payload_type,
                payload=parsed.envelope.payload,
                model=model,
            )
        else:
            signed = self._verify_keyless(request, parsed, None)
            assert signed.identity is not None
            assert signed.issuer is not None
            document = self._trust.root_document(self._root(request))
            mode = SigstoreMode(document, signed.identity, signed.issuer)
        return replace(signed, model=self._model(request, mode))

    def _model(self, request: Request, mode: ModelSigningMode) -> ModelFacts:
        if request.artifact is None:
            return self._model_signing.verify_signature(request.bundle, mode)
        return self._model_signing.verify_model(
            request.bundle, request.artifact, mode, ignore_paths=request.ignore_paths
        )

    # 5 ---------------------------------------------------------------------------------------

    def _facts(
        self,
        request: Request,
        parsed: _Parsed,
        signed: _Signed,
        statement: _Statement | None,
        digest: str | None,
    ) -> VerifiedFacts:
        provenance = _provenance(statement) if statement is not None else _Provenance()
        if provenance.source_repo is None and signed.certified is not None:
            # No provenance statement: the source the CI identity's certificate vouches for.
            cert = signed.certified
            provenance = replace(
                provenance,
                source_repo=cert.source_repo,
                source_ref=cert.source_ref,
                source_digest={"gitCommit": cert.source_commit} if cert.source_commit else {},
            )
        if statement is not None:
            subjects = statement.subjects
        elif digest is not None:
            name = request.artifact.name if request.artifact is not None else ""
            subjects = (Subject(name, {"sha256": digest[7:]}),)
        else:
            subjects = ()
        first = signed.transparency.entries[0] if signed.transparency.entries else None
        source, when = signed.signing_time or ("verification_time", self._clock())
        model = signed.model
        return VerifiedFacts(
            format=parsed.format,
            mode=parsed.mode,
            media_type=parsed.media_type,
            signer_identity=signed.identity,
            signer_issuer=signed.issuer,
            key_id=signed.key_id,
            trusted_root=signed.trusted_root,
            signing_time=when,
            signing_time_source=source,
            trust_config_digest=self._trust_digest,
            predicate_type=statement.predicate_type if statement is not None else None,
            subjects=subjects,
            artifact_digest=model.digest if model is not None else digest,
            integrated_time=first.integrated_time if first is not None else None,
            log_index=first.log_index if first is not None else None,
            timestamps=signed.transparency.timestamps,
            builder_id=provenance.builder_id,
            build_type=provenance.build_type,
            source_repo=provenance.source_repo,
            source_ref=provenance.source_ref,
            source_digest=provenance.source_digest,
            materials=provenance.materials,
            model_name=model.name if model is not None else None,
            model_digest=model.digest if model is not None else None,
        )


def _not_before(der: bytes) -> datetime:
    return x509.load_der_x509_certificate(der).not_valid_before_utc
