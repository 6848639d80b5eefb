"""DSSE envelopes (https://github.com/secure-systems-lab/dsse): the JSON form, and what is signed.

The pre-authentication encoding (PAE) that every DSSE signature signs is securesystemslib's,
the DSSE authors' own implementation.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from securesystemslib import dsse

from governance.attestations.reasons import Reason, VerificationFailed

__all__ = ["Envelope", "EnvelopeSignature", "decode_b64", "pae"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    return dsse.Envelope(payload, payload_type, {}).pae()


def decode_b64(value: object, what: str) -> bytes:
    """Decode a base64 field of a bundle or envelope; raises ``malformed_bundle``."""
    if not isinstance(value, str):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # Some producers use the URL-safe alphabet (the DSSE spec allows either).
        try:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"{what} is not base64") from None


@dataclass(frozen=True)
class EnvelopeSignature:
    """One DSSE signature and its optional, unauthenticated ``keyid``."""

    sig: bytes
    keyid: str


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: a typed payload and the signatures over its PAE."""

    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    # Read by hand: securesystemslib's ``Envelope.from_dict`` requires a ``keyid`` on every
    # signature (optional in DSSE), keeps one signature per ``keyid`` and refuses unpadded
    # URL-safe base64; sigstore-models' ``Envelope`` decodes base64 without validating it
    # (URL-safe characters are dropped, not decoded), refuses unknown fields and accepts an
    # envelope without signatures. Either would change which envelopes are well-formed.
    @classmethod
    def from_json(cls, obj: object) -> Envelope:
        """Parse the JSON form; raises ``malformed_bundle``."""
        if not isinstance(obj, dict):
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, "DSSE envelope must be an object")
        payload_type = obj.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, "DSSE envelope without payloadType")
        raw_signatures = obj.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, "DSSE envelope without signatures")
        signatures = []
        for i, s in enumerate(raw_signatures):
            if not isinstance(s, dict):
                raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"signatures[{i}] not an object")
            keyid = s.get("keyid") or ""
            if not isinstance(keyid, str):
                raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"signatures[{i}].keyid")
            signatures.append(
                EnvelopeSignature(decode_b64(s.get("sig"), f"signatures[{i}].sig"), keyid)
            )
        return cls(payload_type, decode_b64(obj.get("payload"), "DSSE payload"), tuple(signatures))

    def pae(self) -> bytes:
        """The bytes each signature signs."""
        return pae(self.payload_type, self.payload)
