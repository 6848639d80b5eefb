"""The entries of a trust configuration besides its Sigstore trusted roots.

* ``RegisteredKey`` — a public key (Ed25519, ECDSA P-256 or P-384) for signatures made without
  a certificate, with the purposes it may sign for and its validity window; it also knows every
  spelling of a key hint that may name it;
* ``CertificateChain`` — PEM roots (and intermediates) for model-signing certificate mode;
* ``AllowedIdentity`` — a signer admitted for a purpose: its issuer and an exact identity or a
  full-match regular expression;
* ``TimestampAuthority`` — an RFC 3161 timestamp authority's chain, added to every trusted root.

Each checks itself when built and raises ``ValueError``; ``to_json`` is its part of the
configuration's digest.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from governance.timefmt import format_optional, format_time

__all__ = [
    "ANY_PURPOSE",
    "AllowedIdentity",
    "CertificateChain",
    "KeyAlgorithm",
    "PublicKey",
    "RegisteredKey",
    "TimestampAuthority",
    "key_algorithm_of",
]

#: A purpose entry that matches every purpose.
ANY_PURPOSE = "*"

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class KeyAlgorithm(StrEnum):
    """Signature algorithms accepted for registered keys."""

    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
    ECDSA_P384_SHA384 = "ecdsa-p384-sha384"
    ED25519 = "ed25519"


_CURVES: dict[KeyAlgorithm, type[ec.EllipticCurve]] = {
    KeyAlgorithm.ECDSA_P256_SHA256: ec.SECP256R1,
    KeyAlgorithm.ECDSA_P384_SHA384: ec.SECP384R1,
}


def _covers(purposes: frozenset[str], purpose: str) -> bool:
    return purpose in purposes or ANY_PURPOSE in purposes


@dataclass(frozen=True)
class RegisteredKey:
    """A public key in the registry, usable for ``purposes`` within its validity window.

    ``valid_from`` is inclusive and ``valid_until`` exclusive; either may be open.
    """

    id: str
    pem: str
    algorithm: KeyAlgorithm
    purposes: frozenset[str]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    public_key: PublicKey = field(init=False, repr=False, compare=False)
    fingerprints: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            key = serialization.load_pem_public_key(self.pem.encode())
        except ValueError as exc:
            raise ValueError(f"not a PEM public key: {exc}") from None
        if self.algorithm is KeyAlgorithm.ED25519:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise ValueError("algorithm is ed25519 but the key is not an Ed25519 key")
        elif not (
            isinstance(key, ec.EllipticCurvePublicKey)
            and isinstance(key.curve, _CURVES[self.algorithm])
        ):
            raise ValueError(f"algorithm is {self.algorithm} but the key is another type")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if not self.purposes:
            raise ValueError("a key needs at least one purpose")
        object.__setattr__(self, "public_key", key)
        object.__setattr__(self, "fingerprints", _fingerprints(self.id, key))

    def allows(self, purpose: str) -> bool:
        """Whether the key may sign for ``purpose``."""
        return _covers(self.purposes, purpose)

    def valid_at(self, when: datetime) -> bool:
        """Whether ``when`` falls inside the key's validity window."""
        if self.valid_from is not None and when < self.valid_from:
            return False
        return self.valid_until is None or when < self.valid_until

    def matches_hint(self, hint: str) -> bool:
        """Whether an (unauthenticated) key hint names this key; a lookup, never proof."""
        return hint in self.fingerprints

    def to_json(self) -> dict[str, Any]:
        """The canonical-JSON-ready form."""
        return {
            "id": self.id,
            "algorithm": self.algorithm.value,
            "spki_sha256": hashlib.sha256(_spki_der(self.public_key)).hexdigest(),
            "purposes": sorted(self.purposes),
            "valid_from": format_optional(self.valid_from),
            "valid_until": format_optional(self.valid_until),
        }


def _spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _fingerprints(key_id: str, key: PublicKey) -> frozenset[str]:
    """Every spelling of a key hint seen in the wild for this key.

    Sigstore/cosign hints are base64 SHA-256 of the DER SubjectPublicKeyInfo; OpenSSF
    model-signing writes the hex SHA-256 of the PEM; DSSE ``keyid`` is free-form, and in-toto
    tooling (securesystemslib) uses the SHA-256 of its canonical key document.
    """
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    prints = {key_id, _securesystemslib_keyid(key, pem.decode())}
    for digest in (hashlib.sha256(_spki_der(key)).digest(), hashlib.sha256(pem).digest()):
        prints.update({digest.hex(), base64.b64encode(digest).decode()})
    return frozenset(prints)


def _securesystemslib_keyid(key: PublicKey, pem: str) -> str:
    r"""SHA-256 of securesystemslib's canonical key document.

    Its canonical JSON sorts keys, is compact, and escapes only ``"`` and ``\`` in strings.
    """
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keytype, scheme, public = "ed25519", "ed25519", raw.hex()
    else:
        keytype, scheme = "ecdsa", f"ecdsa-sha2-nistp{key.curve.key_size}"
        public = pem.replace("\\", "\\\\").replace('"', '\\"')
    document = f'{{"keytype":"{keytype}","keyval":{{"public":"{public}"}},"scheme":"{scheme}"}}'
    return hashlib.sha256(document.encode()).hexdigest()


def key_algorithm_of(pem: str) -> KeyAlgorithm:
    """The registry algorithm of a PEM public key (Ed25519, ECDSA P-256 or P-384)."""
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519
    if isinstance(key, ec.EllipticCurvePublicKey):
        for algorithm, curve in _CURVES.items():
            if isinstance(key.curve, curve):
                return algorithm
    raise ValueError("only Ed25519 and ECDSA P-256/P-384 public keys are supported")


@dataclass(frozen=True)
class CertificateChain:
    """Trust anchors (and intermediates) for model-signing certificate mode."""

    id: str
    pem: str
    purposes: frozenset[str]
    certificates: tuple[x509.Certificate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "certificates", _load_certificates(self.pem))
        if not self.purposes:
            raise ValueError("a certificate chain needs at least one purpose")

    def allows(self, purpose: str) -> bool:
        """Whether the chain may anchor signatures for ``purpose``."""
        return _covers(self.purposes, purpose)

    def to_json(self) -> dict[str, Any]:
        """The canonical-JSON-ready form."""
        return {
            "id": self.id,
            "certificates_sha256": [c.fingerprint(_SHA256).hex() for c in self.certificates],
            "purposes": sorted(self.purposes),
        }


@dataclass(frozen=True)
class AllowedIdentity:
    """An allowed signer: the issuer, and an exact identity or a full-match regular expression."""

    issuer: str
    identity: str | None = None
    identity_regex: str | None = None
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regex is None):
            raise ValueError("give exactly one of identity and identity_regex")
        if not self.issuer:
            raise ValueError("issuer must not be empty")
        pattern = None
        if self.identity_regex is not None:
            try:
                pattern = re.compile(self.identity_regex)
            except re.error as exc:
                raise ValueError(f"identity_regex does not compile: {exc}") from None
        object.__setattr__(self, "_pattern", pattern)

    def matches(self, identity: str, issuer: str | None) -> bool:
        """Whether a signer (identity as a SAN value, and its issuer) is this one."""
        if issuer != self.issuer:
            return False
        if self._pattern is not None:
            return self._pattern.fullmatch(identity) is not None
        return identity == self.identity

    def to_json(self) -> dict[str, Any]:
        """The canonical-JSON-ready form."""
        out: dict[str, Any] = {"issuer": self.issuer}
        if self.identity is not None:
            out["identity"] = self.identity
        else:
            out["identity_regex"] = self.identity_regex
        return out


@dataclass(frozen=True)
class TimestampAuthority:
    """An RFC 3161 timestamp authority: its chain (signing certificate first, root last)."""

    id: str
    pem: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    certificates: tuple[x509.Certificate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        certificates = _load_certificates(self.pem)
        if len(certificates) < 2:
            raise ValueError("a TSA chain needs the signing certificate and its root")
        object.__setattr__(self, "certificates", certificates)

    def as_sigstore_authority(self) -> dict[str, Any]:
        """The ``timestampAuthorities`` entry of a Sigstore trusted root."""
        start = self.valid_from or min(c.not_valid_before_utc for c in self.certificates)
        valid_for = {"start": format_time(start)}
        if self.valid_until is not None:
            valid_for["end"] = format_time(self.valid_until)
        return {
            "subject": {"organization": "governance trust config", "commonName": self.id},
            "certChain": {
                "certificates": [
                    {"rawBytes": base64.b64encode(c.public_bytes(_DER)).decode()}
                    for c in self.certificates
                ]
            },
            "validFor": valid_for,
        }

    def to_json(self) -> dict[str, Any]:
        """The canonical-JSON-ready form."""
        return {
            "id": self.id,
            "certificates_sha256": [c.fingerprint(_SHA256).hex() for c in self.certificates],
            "valid_from": format_optional(self.valid_from),
            "valid_until": format_optional(self.valid_until),
        }


_DER = serialization.Encoding.DER
_SHA256 = hashes.SHA256()


def _load_certificates(pem: str) -> tuple[x509.Certificate, ...]:
    try:
        certificates = tuple(x509.load_pem_x509_certificates(pem.encode()))
    except ValueError as exc:
        raise ValueError(f"not PEM certificates: {exc}") from None
    if not certificates:
        raise ValueError("no certificates in PEM")
    return certificates
