"""Submissions recognised by shape: a Sigstore bundle, a bare DSSE envelope, a model signature.

``read_submission`` tells the format and the signing mode apart and pulls out what the
signature step needs (the envelope or message signature, a key hint, the leaf certificate).
Nothing in a ``Submission`` is trusted yet.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

from sigstore_models.bundle.v1 import BUNDLE_MEDIA_TYPES

from governance.attestations.envelopes import Envelope, decode_b64
from governance.attestations.facts import Format, SigningMode
from governance.attestations.reasons import Reason, VerificationFailed
from governance.attestations.statements import MODEL_SIGNING_PREDICATES, predicate_type_hint

__all__ = ["Submission", "read_submission"]

_MEDIA_TYPES: frozenset[str] = frozenset(typing.get_args(BUNDLE_MEDIA_TYPES))


@dataclass(frozen=True)
class Submission:
    """The submitted bytes, recognised but not yet trusted."""

    format: Format
    mode: SigningMode
    media_type: str | None
    envelope: Envelope | None
    message_signature: bytes | None
    message_digest: tuple[str, bytes] | None
    key_hint: str | None
    leaf_der: bytes | None
    has_transparency: bool


def read_submission(data: bytes) -> Submission:
    """Recognise the submitted bytes; raises ``malformed_bundle`` or ``unsupported_format``."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "not a JSON object")
    if "mediaType" in raw:
        return _read_bundle(raw)
    if {"payload", "payloadType", "signatures"} <= raw.keys():
        envelope = Envelope.from_json(raw)
        return Submission(
            Format.DSSE_ENVELOPE, SigningMode.KEY, None, envelope, None, None, None, None, False
        )
    raise VerificationFailed(
        Reason.UNSUPPORTED_FORMAT, "neither a Sigstore bundle nor a DSSE envelope"
    )


def _read_bundle(raw: dict[str, Any]) -> Submission:
    try:
        return _bundle_fields(raw)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"bundle structure: {exc!r}") from None


# Read by hand, not as sigstore-models' ``Bundle``, whose validation would refuse bundles that
# verify here: it requires ``tlogEntries`` (model-signing's legacy certificate-mode bundles have
# none), requires ``publicKey.hint`` (a key-signed bundle may carry no hint: every registered key
# is then tried) and refuses unknown fields; and it decodes base64 without validating it.
# The bundles the Sigstore backend verifies meet that model there.
def _bundle_fields(raw: dict[str, Any]) -> Submission:
    media_type = raw["mediaType"]
    if not isinstance(media_type, str) or media_type not in _MEDIA_TYPES:
        raise VerificationFailed(
            Reason.UNSUPPORTED_FORMAT, f"unsupported bundle mediaType {media_type!r}"
        )
    material = raw.get("verificationMaterial")
    if not isinstance(material, dict):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "bundle without verificationMaterial")
    has_envelope, has_message = "dsseEnvelope" in raw, "messageSignature" in raw
    if has_envelope == has_message:
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, "need exactly one of dsseEnvelope, messageSignature"
        )

    envelope = Envelope.from_json(raw["dsseEnvelope"]) if has_envelope else None
    message_signature, message_digest = None, None
    if has_message:
        message_signature, message_digest = _message_signature(raw["messageSignature"])

    tlog_entries = material.get("tlogEntries") or []
    timestamps = (material.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
    key_hint, leaf_der = None, None
    if "publicKey" in material:
        mode = SigningMode.KEY
        if not isinstance(material["publicKey"], dict):
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, "publicKey must be an object")
        hint = material["publicKey"].get("hint")
        key_hint = hint if isinstance(hint, str) and hint else None
    elif "certificate" in material or "x509CertificateChain" in material:
        mode = SigningMode.KEYLESS
        leaf_der = _leaf_certificate(material)
    else:
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, "bundle has neither a certificate nor a public key"
        )

    bundle_format = Format.SIGSTORE_BUNDLE
    if envelope is not None and predicate_type_hint(envelope) in MODEL_SIGNING_PREDICATES:
        bundle_format = Format.MODEL_SIGNING
        # model-signing certificate mode: a chain to private roots, nothing logged.
        if mode is SigningMode.KEYLESS and not tlog_entries and "x509CertificateChain" in material:
            mode = SigningMode.CERTIFICATE
    return Submission(
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
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "messageSignature must be an object")
    signature = decode_b64(obj.get("signature"), "messageSignature.signature")
    digest = obj.get("messageDigest")
    if digest is None:
        return signature, None
    if not isinstance(digest, dict):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "messageDigest must be an object")
    algorithm = digest.get("algorithm")
    return signature, (str(algorithm), decode_b64(digest.get("digest"), "messageDigest.digest"))


def _leaf_certificate(material: dict[str, Any]) -> bytes | None:
    try:
        if "certificate" in material:
            return decode_b64(material["certificate"]["rawBytes"], "certificate")
        certificates = material["x509CertificateChain"]["certificates"]
        return decode_b64(certificates[0]["rawBytes"], "certificate") if certificates else None
    except (KeyError, TypeError, IndexError):
        return None
