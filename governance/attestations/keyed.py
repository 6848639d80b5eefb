"""Signatures made with a registered key, no certificate: checked with ``cryptography`` alone.

sigstore-python refuses bundles without a certificate ("expected certificate in bundle"), and a
bare DSSE envelope is never a Sigstore bundle, so these checks are ours:

* the signature is over the DSSE pre-authentication encoding (PAE) of the payload, or over the
  artifact's digest (``messageSignature``; Ed25519 signs the artifact bytes themselves);
* the key comes from the registry, for the request's purpose. A key hint in the bundle (or a
  DSSE ``keyid``) only selects which registered key to try: it is never proof, and a hint that
  names no registered key is ``key_unknown``;
* the key was valid at every verified time of signing (see ``check_key_validity``);
* a transparency-log entry only counts if its body binds *this* key, signature and content
  (``check_log_binding``); its inclusion proof, checkpoint and promise are verified by the
  Sigstore backend against the trusted root.

Supported algorithms: ECDSA P-256/SHA-256, ECDSA P-384/SHA-384 and Ed25519.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sigstore_models.common.v1 import HashAlgorithm

from governance.attestations.envelopes import Envelope
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.trust import KeyAlgorithm, RegisteredKey

__all__ = [
    "candidate_keys",
    "check_key_validity",
    "check_log_binding",
    "file_digest",
    "verify_envelope",
    "verify_message_signature",
]

_HASHES: dict[KeyAlgorithm, type[hashes.HashAlgorithm]] = {
    KeyAlgorithm.ECDSA_P256_SHA256: hashes.SHA256,
    KeyAlgorithm.ECDSA_P384_SHA384: hashes.SHA384,
}


def candidate_keys(
    keys: Sequence[RegisteredKey], hints: Iterable[str], purpose: str
) -> tuple[RegisteredKey, ...]:
    """Registered keys to try, in order: those a hint names, else every key for the purpose.

    A hint narrows the search and nothing more; if hints are given and none names a registered
    key for the purpose, the signer is unknown.
    """
    hints = [h for h in hints if h]
    if not keys:
        raise VerificationFailed(Reason.KEY_UNKNOWN, f"no keys are registered for {purpose!r}")
    if not hints:
        return tuple(keys)
    named = tuple(k for k in keys if any(k.matches_hint(h) for h in hints))
    if not named:
        raise VerificationFailed(
            Reason.KEY_UNKNOWN,
            f"key hint {', '.join(sorted(set(hints)))} names no key registered for {purpose!r}",
        )
    return named


def _verifies(key: RegisteredKey, signature: bytes, data: bytes, *, prehashed: bool) -> bool:
    public_key = key.public_key
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            if prehashed:  # Ed25519 (not Ed25519ph) signs the message itself
                return False
            public_key.verify(signature, data)
        else:
            digest = _HASHES[key.algorithm]()
            algorithm = Prehashed(digest) if prehashed else digest
            if prehashed and len(data) != digest.digest_size:
                return False
            public_key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


def verify_envelope(
    envelope: Envelope, keys: Sequence[RegisteredKey]
) -> tuple[RegisteredKey, bytes]:
    """Return the first key with a valid signature over the envelope's PAE, and that signature.

    A signature's ``keyid`` only orders the attempts. Raises ``signature_invalid``.
    """
    message = envelope.pae()
    for signature in envelope.signatures:
        ordered = sorted(keys, key=lambda k: not k.matches_hint(signature.keyid))
        for key in ordered:
            if _verifies(key, signature.sig, message, prehashed=False):
                return key, signature.sig
    raise VerificationFailed(
        Reason.SIGNATURE_INVALID,
        f"no DSSE signature verifies with the {len(keys)} candidate key(s) "
        f"({', '.join(k.id for k in keys)})",
    )


def verify_message_signature(
    signature: bytes,
    keys: Sequence[RegisteredKey],
    *,
    digest: str | None,
    recorded: tuple[str, bytes] | None,
    artifact: Path | None,
) -> RegisteredKey:
    """Return the first key whose signature over the artifact verifies.

    ``digest`` is the artifact's, ``sha256:<hex>`` (without one: ``artifact_missing``);
    ``recorded`` is the bundle's ``messageDigest`` (algorithm, digest), which must be the
    artifact's when it is SHA-256.
    ECDSA keys sign the artifact digest (SHA-256, or the key's own hash when the artifact file
    is at hand); Ed25519 keys sign the artifact bytes, so those need ``artifact``.
    """
    if digest is None:
        raise VerificationFailed(
            Reason.ARTIFACT_MISSING, "a message signature needs the artifact or its digest"
        )
    sha256 = bytes.fromhex(digest.removeprefix("sha256:"))
    if recorded is not None:
        algorithm, recorded_digest = recorded
        if algorithm == HashAlgorithm.SHA2_256 and recorded_digest != sha256:
            raise VerificationFailed(
                Reason.SUBJECT_MISMATCH,
                f"the bundle signs sha256:{recorded_digest.hex()}, the artifact is {digest}",
            )
    content: bytes | None = None
    for key in keys:
        if key.algorithm is KeyAlgorithm.ED25519:
            if artifact is None:
                continue
            if content is None:
                content = artifact.read_bytes()
            if _verifies(key, signature, content, prehashed=False):
                return key
            continue
        if _verifies(key, signature, sha256, prehashed=True):
            return key
        if artifact is not None and key.algorithm is not KeyAlgorithm.ECDSA_P256_SHA256:
            own = file_digest(artifact, _HASHES[key.algorithm]().name)
            if _verifies(key, signature, own, prehashed=True):
                return key
    if artifact is None and all(k.algorithm is KeyAlgorithm.ED25519 for k in keys):
        raise VerificationFailed(
            Reason.ARTIFACT_MISSING,
            "Ed25519 signatures are over the artifact bytes: the artifact file is needed",
        )
    raise VerificationFailed(
        Reason.SIGNATURE_INVALID,
        f"the signature does not verify over the artifact with the {len(keys)} candidate "
        f"key(s) ({', '.join(k.id for k in keys)})",
    )


def file_digest(path: Path, algorithm: str) -> bytes:
    """The digest of a file's content with ``algorithm`` (a ``hashlib`` name)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, algorithm).digest()


def check_key_validity(key: RegisteredKey, times: Sequence[tuple[str, datetime]]) -> None:
    """Every verified time of signing must fall inside the key's validity window.

    Each time comes with where it comes from (transparency log, TSA, or — with no trusted time
    — the verification time itself, which bounds the signing time from above).
    """
    for source, when in times:
        if not key.valid_at(when):
            window = (
                f"[{key.valid_from.isoformat() if key.valid_from else '-inf'}, "
                f"{key.valid_until.isoformat() if key.valid_until else '+inf'})"
            )
            raise VerificationFailed(
                Reason.KEY_NOT_VALID_AT_SIGNING_TIME,
                f"key {key.id} is valid {window}, signing time ({source}) is {when.isoformat()}",
            )


def check_log_binding(
    kind: str,
    version: str,
    body: bytes,
    *,
    key: RegisteredKey,
    signature: bytes,
    artifact_sha256: bytes | None,
    envelope: Envelope | None,
) -> None:
    """The log entry's body must record this key, this signature and this content.

    Without this, a valid entry for something else would lend its time to any signature.
    Supports Rekor v1 ``hashedrekord``/``dsse`` 0.0.1 and Rekor v2 ``hashedrekord`` 0.0.2.
    Raises ``tlog_inclusion_invalid``.
    """
    try:
        entry = json.loads(body)
        if (entry.get("kind"), entry.get("apiVersion")) != (kind, version):
            _unbound("the body's kind/apiVersion differ from the entry's")
        spec = entry["spec"]
        if (kind, version) == ("hashedrekord", "0.0.1"):
            _bind_hashedrekord_v1(spec, key, signature, artifact_sha256, envelope)
        elif (kind, version) == ("hashedrekord", "0.0.2"):
            _bind_hashedrekord_v2(
                spec["hashedRekordV002"], key, signature, artifact_sha256, envelope
            )
        elif (kind, version) == ("dsse", "0.0.1"):
            _bind_dsse_v1(spec, key, envelope)
        else:
            _unbound(f"unsupported log entry type {kind}/{version}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VerificationFailed(
            Reason.TLOG_INCLUSION_INVALID, f"log entry body unreadable: {exc!r}"
        ) from None


def _unbound(why: str) -> NoReturn:
    raise VerificationFailed(Reason.TLOG_INCLUSION_INVALID, f"log entry does not match: {why}")


def _same_key(key: RegisteredKey, pem_or_der: bytes) -> bool:
    try:
        if pem_or_der.startswith(b"-----BEGIN"):
            other = serialization.load_pem_public_key(pem_or_der)
        else:
            other = serialization.load_der_public_key(pem_or_der)
    except ValueError:
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return other.public_bytes(der, spki) == key.public_key.public_bytes(der, spki)


def _signed_digest(
    key: RegisteredKey, artifact_sha256: bytes | None, envelope: Envelope | None
) -> bytes:
    if envelope is not None:
        algorithm = _HASHES.get(key.algorithm, hashes.SHA256)().name
        return hashlib.new(algorithm, envelope.pae()).digest()
    if artifact_sha256 is None:
        _unbound("no artifact digest to compare with")
    return artifact_sha256


def _bind_hashedrekord_v1(
    spec: dict[str, Any],
    key: RegisteredKey,
    signature: bytes,
    artifact_sha256: bytes | None,
    envelope: Envelope | None,
) -> None:
    if envelope is not None:
        _unbound("a DSSE envelope is logged as dsse/0.0.1 or hashedrekord/0.0.2")
    recorded = spec["data"]["hash"]
    if recorded["algorithm"] != "sha256" or bytes.fromhex(recorded["value"]) != artifact_sha256:
        _unbound("the logged artifact digest differs")
    if base64.b64decode(spec["signature"]["content"]) != signature:
        _unbound("the logged signature differs")
    if not _same_key(key, base64.b64decode(spec["signature"]["publicKey"]["content"])):
        _unbound("the logged public key is not the signing key")


def _bind_hashedrekord_v2(
    spec: dict[str, Any],
    key: RegisteredKey,
    signature: bytes,
    artifact_sha256: bytes | None,
    envelope: Envelope | None,
) -> None:
    if base64.b64decode(spec["data"]["digest"]) != _signed_digest(key, artifact_sha256, envelope):
        _unbound("the logged digest differs")
    if base64.b64decode(spec["signature"]["content"]) != signature:
        _unbound("the logged signature differs")
    verifier = spec["signature"]["verifier"]
    if "publicKey" not in verifier or not _same_key(
        key, base64.b64decode(verifier["publicKey"]["rawBytes"])
    ):
        _unbound("the logged public key is not the signing key")


def _bind_dsse_v1(spec: dict[str, Any], key: RegisteredKey, envelope: Envelope | None) -> None:
    if envelope is None:
        _unbound("a dsse entry for a message signature")
    recorded = spec["payloadHash"]
    if (
        recorded["algorithm"] != "sha256"
        or recorded["value"] != hashlib.sha256(envelope.payload).hexdigest()
    ):
        _unbound("the logged payload hash differs")
    logged = {
        (base64.b64decode(s["signature"]), base64.b64decode(s["verifier"]))
        for s in spec["signatures"]
    }
    if not any(
        sig.sig == logged_sig and _same_key(key, verifier)
        for sig in envelope.signatures
        for logged_sig, verifier in logged
    ):
        _unbound("no logged signature is this envelope's, by the signing key")
