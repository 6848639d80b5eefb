"""The pinned trust configuration attestations are verified against.

A ``TrustConfig`` says, for each *purpose* (``release``, ``provenance``, ``model``, …), what a
valid signature must chain to and who may have made it:

* **trusted roots** — Sigstore ``trusted_root.json`` documents by name: the production and
  staging roots shipped inside the sigstore wheel, or a private deployment's root from a file
  or inline. They are read once and pinned by content; nothing ever consults the user-writable
  TUF cache or the network;
* **keys** — a registry of public keys ``{id, pem, algorithm, purposes, valid_from,
  valid_until}`` for signatures made without a certificate;
* **certificate chains** — PEM roots (and intermediates) for OpenSSF model-signing certificate
  mode, per purpose; there is no fallback to public web roots;
* **identities** — allowed signers per purpose: an issuer and either an exact identity or a
  regular expression that must match the whole identity;
* **TSA roots** — extra RFC 3161 timestamp authorities (PEM chain, signing certificate first),
  added to every trusted root's own.

``load_trust_config`` reads the YAML or JSON file form (see ``load_trust_config``),
``default_trust_config`` builds the Sigstore public-good configuration, and ``TrustConfig.digest``
is the SHA-256 of a canonical JSON form, recorded with every verdict.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from governance.errors import ConfigError
from governance.ledger.canonical import canonical_json
from governance.timefmt import format_optional, format_time

__all__ = [
    "ANY_PURPOSE",
    "AllowedIdentity",
    "CertificateChain",
    "KeyAlgorithm",
    "PublicKey",
    "RegisteredKey",
    "TimestampAuthority",
    "TrustConfig",
    "TrustedRoot",
    "default_trust_config",
    "load_trust_config",
    "sigstore_trusted_root",
    "trust_config_from_mapping",
]

#: A purpose entry that matches every purpose.
ANY_PURPOSE = "*"

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

# TUF repositories whose copies the sigstore wheel embeds (see sigstore._utils.read_embedded).
_SIGSTORE_TUF_URLS = {
    "production": "https://tuf-repo-cdn.sigstore.dev",
    "staging": "https://tuf-repo-cdn.sigstage.dev",
}

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


def _sha256_canonical(value: object) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _covers(purposes: frozenset[str], purpose: str) -> bool:
    return purpose in purposes or ANY_PURPOSE in purposes


@dataclass(frozen=True)
class TrustedRoot:
    """A Sigstore trusted root document, pinned by content."""

    name: str
    document: bytes
    source: str

    def __post_init__(self) -> None:
        _check_trusted_root(json.loads(self.document))

    @property
    def sha256(self) -> str:
        """SHA-256 of the document's canonical JSON form (formatting does not change it)."""
        return _sha256_canonical(json.loads(self.document))


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


@dataclass(frozen=True)
class TrustConfig:
    """Everything a verification may trust, by purpose. Build with ``load_trust_config``."""

    trusted_roots: Mapping[str, TrustedRoot] = field(default_factory=dict)
    keys: tuple[RegisteredKey, ...] = ()
    certificate_chains: tuple[CertificateChain, ...] = ()
    identities: Mapping[str, tuple[AllowedIdentity, ...]] = field(default_factory=dict)
    tsa_roots: tuple[TimestampAuthority, ...] = ()
    default_trusted_root: str | None = None
    purpose_trusted_roots: Mapping[str, str] = field(default_factory=dict)
    _documents: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in [self.default_trusted_root, *self.purpose_trusted_roots.values()]:
            if name is not None and name not in self.trusted_roots:
                raise ValueError(f"trusted root {name!r} is not defined in trusted_roots")
        for kind, ids in (
            ("key", [k.id for k in self.keys]),
            ("certificate chain", [c.id for c in self.certificate_chains]),
            ("TSA root", [t.id for t in self.tsa_roots]),
        ):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} id(s): {', '.join(duplicates)}")
        object.__setattr__(
            self, "_documents", {n: self._with_tsa_roots(r) for n, r in self.trusted_roots.items()}
        )

    def _with_tsa_roots(self, root: TrustedRoot) -> bytes:
        if not self.tsa_roots:
            return root.document
        document = json.loads(root.document)
        document["timestampAuthorities"] = [
            *document.get("timestampAuthorities", []),
            *(t.as_sigstore_authority() for t in self.tsa_roots),
        ]
        return json.dumps(document).encode()

    def root_name_for(self, purpose: str, override: str | None = None) -> str | None:
        """The trusted root a purpose verifies against: the override, the purpose's, the default."""
        if override is not None:
            return override
        return self.purpose_trusted_roots.get(purpose, self.default_trusted_root)

    def root_document(self, name: str) -> bytes:
        """The trusted root JSON handed to Sigstore: the pinned document plus the TSA roots."""
        return self._documents[name]

    def keys_for(self, purpose: str) -> tuple[RegisteredKey, ...]:
        """Registered keys that may sign for ``purpose``."""
        return tuple(k for k in self.keys if k.allows(purpose))

    def chains_for(self, purpose: str) -> tuple[CertificateChain, ...]:
        """Certificate chains that may anchor model-signing certificates for ``purpose``."""
        return tuple(c for c in self.certificate_chains if c.allows(purpose))

    def identities_for(self, purpose: str) -> tuple[AllowedIdentity, ...]:
        """Allowed signer identities for ``purpose`` (plus those listed under ``*``)."""
        return (*self.identities.get(purpose, ()), *self.identities.get(ANY_PURPOSE, ()))

    def to_json(self) -> dict[str, Any]:
        """A canonical-JSON-ready description (root documents by digest, keys by SPKI digest)."""
        return {
            "version": 1,
            "trusted_roots": {
                name: {"sha256": root.sha256} for name, root in sorted(self.trusted_roots.items())
            },
            "default_trusted_root": self.default_trusted_root,
            "purpose_trusted_roots": dict(sorted(self.purpose_trusted_roots.items())),
            "keys": [k.to_json() for k in sorted(self.keys, key=lambda k: k.id)],
            "certificate_chains": [
                c.to_json() for c in sorted(self.certificate_chains, key=lambda c: c.id)
            ],
            "identities": {
                purpose: [i.to_json() for i in rules]
                for purpose, rules in sorted(self.identities.items())
            },
            "tsa_roots": [t.to_json() for t in sorted(self.tsa_roots, key=lambda t: t.id)],
        }

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON (RFC 8785) of ``to_json()``."""
        return "sha256:" + _sha256_canonical(self.to_json())


# --- loading -------------------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RootSpec(_Spec):
    path: str | None = None
    json_: dict[str, Any] | None = Field(None, alias="json")
    sigstore: Literal["production", "staging"] | None = None


class _KeySpec(_Spec):
    id: str = Field(min_length=1)
    pem: str | None = None
    path: str | None = None
    algorithm: KeyAlgorithm
    purposes: list[str] = Field(min_length=1)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class _ChainSpec(_Spec):
    id: str = Field(min_length=1)
    pem: str | None = None
    path: str | None = None
    purposes: list[str] = Field(min_length=1)


class _IdentitySpec(_Spec):
    issuer: str = Field(min_length=1)
    identity: str | None = None
    identity_regex: str | None = None


class _TsaSpec(_Spec):
    id: str = Field(min_length=1)
    pem: str | None = None
    path: str | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class _FileSpec(_Spec):
    version: Literal[1] = 1
    trusted_roots: dict[str, str | _RootSpec] = Field(default_factory=dict)
    default_trusted_root: str | None = None
    purpose_trusted_roots: dict[str, str] = Field(default_factory=dict)
    keys: list[_KeySpec] = Field(default_factory=list)
    certificate_chains: list[_ChainSpec] = Field(default_factory=list)
    identities: dict[str, list[_IdentitySpec]] = Field(default_factory=dict)
    tsa_roots: list[_TsaSpec] = Field(default_factory=list)


def load_trust_config(path: str | Path) -> TrustConfig:
    r"""Read a trust configuration file (``.json`` as JSON, anything else as YAML).

    Paths inside the file are relative to the file's directory. Example (YAML)::

        version: 1
        default_trusted_root: production
        trusted_roots:
          production: {sigstore: production}      # shipped in the sigstore wheel
          staging: sigstore:staging                # the same, as a string
          corp: roots/corp-trusted_root.json       # a private deployment (or a client trust config)
        purpose_trusted_roots: {internal-model: corp}
        keys:
          - id: ci-provenance-2025
            path: keys/ci.pub.pem                  # or pem: "-----BEGIN PUBLIC KEY-----…"
            algorithm: ed25519                     # ecdsa-p256-sha256 | ecdsa-p384-sha384 | ed25519
            purposes: [provenance]                 # "*" for any purpose
            valid_from: 2025-01-01T00:00:00Z
            valid_until: 2026-01-01T00:00:00Z
        certificate_chains:
          - {id: corp-ml-ca, path: keys/ca-cert.pem, purposes: [model]}
        identities:
          release:
            - issuer: https://token.actions.githubusercontent.com
              identity_regex: https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*
        tsa_roots:
          - {id: corp-tsa, path: keys/tsa-chain.pem}

    Raises ``ConfigError`` naming the file and the offending field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"trust config {path}: cannot read: {exc.strerror}") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"trust config {path}: not valid {_syntax(path)}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"trust config {path}: the top level must be a mapping")
    return trust_config_from_mapping(raw, base_dir=path.parent, source=str(path))


def _syntax(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def trust_config_from_mapping(
    raw: Mapping[str, Any], *, base_dir: Path, source: str = "trust config"
) -> TrustConfig:
    """Build a ``TrustConfig`` from the parsed file form (see ``load_trust_config``)."""
    try:
        spec = _FileSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None
    builder = _Builder(base_dir, source)
    try:
        return TrustConfig(
            trusted_roots={
                name: builder.root(name, entry) for name, entry in spec.trusted_roots.items()
            },
            keys=tuple(builder.key(i, k) for i, k in enumerate(spec.keys)),
            certificate_chains=tuple(
                builder.chain(i, c) for i, c in enumerate(spec.certificate_chains)
            ),
            identities={
                purpose: tuple(builder.identity(purpose, i, r) for i, r in enumerate(rules))
                for purpose, rules in spec.identities.items()
            },
            tsa_roots=tuple(builder.tsa(i, t) for i, t in enumerate(spec.tsa_roots)),
            default_trusted_root=spec.default_trusted_root,
            purpose_trusted_roots=spec.purpose_trusted_roots,
        )
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


@dataclass
class _Builder:
    """Turns validated file entries into the model, naming the entry in every error."""

    base_dir: Path
    source: str

    def _fail(self, where: str, problem: object) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {problem}")

    def _read(self, where: str, relative: str) -> bytes:
        file = self.base_dir / relative
        try:
            return file.read_bytes()
        except OSError as exc:
            raise self._fail(where, f"cannot read {file}: {exc.strerror}") from None

    def _pem(self, where: str, pem: str | None, path: str | None) -> str:
        if (pem is None) == (path is None):
            raise self._fail(where, "give exactly one of pem and path")
        return pem if pem is not None else self._read(f"{where}.path", path or "").decode()

    def root(self, name: str, entry: str | _RootSpec) -> TrustedRoot:
        where = f"trusted_roots.{name}"
        if isinstance(entry, str):
            entry = (
                _RootSpec(sigstore=entry.removeprefix("sigstore:"))
                if entry in ("sigstore:production", "sigstore:staging")
                else _RootSpec(path=entry)
            )
        given = [v for v in (entry.path, entry.json_, entry.sigstore) if v is not None]
        if len(given) != 1:
            raise self._fail(where, "give exactly one of path, json and sigstore")
        if entry.sigstore is not None:
            return sigstore_trusted_root(entry.sigstore, name=name)
        if entry.json_ is not None:
            document, source = entry.json_, "inline"
        else:
            data = self._read(f"{where}.path", entry.path or "")
            try:
                document = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise self._fail(f"{where}.path", f"not JSON: {exc}") from None
            source = str(self.base_dir / (entry.path or ""))
        try:
            document = _check_trusted_root(document)
        except ValueError as exc:
            raise self._fail(where, exc) from None
        return TrustedRoot(name=name, document=json.dumps(document).encode(), source=source)

    def key(self, index: int, spec: _KeySpec) -> RegisteredKey:
        where = f"keys[{index}] ({spec.id})"
        pem = self._pem(where, spec.pem, spec.path)
        try:
            return RegisteredKey(
                id=spec.id,
                pem=pem,
                algorithm=spec.algorithm,
                purposes=frozenset(spec.purposes),
                valid_from=spec.valid_from,
                valid_until=spec.valid_until,
            )
        except ValueError as exc:
            raise self._fail(where, exc) from None

    def chain(self, index: int, spec: _ChainSpec) -> CertificateChain:
        where = f"certificate_chains[{index}] ({spec.id})"
        pem = self._pem(where, spec.pem, spec.path)
        try:
            return CertificateChain(id=spec.id, pem=pem, purposes=frozenset(spec.purposes))
        except ValueError as exc:
            raise self._fail(where, exc) from None

    def identity(self, purpose: str, index: int, spec: _IdentitySpec) -> AllowedIdentity:
        try:
            return AllowedIdentity(
                issuer=spec.issuer, identity=spec.identity, identity_regex=spec.identity_regex
            )
        except ValueError as exc:
            raise self._fail(f"identities.{purpose}[{index}]", exc) from None

    def tsa(self, index: int, spec: _TsaSpec) -> TimestampAuthority:
        where = f"tsa_roots[{index}] ({spec.id})"
        pem = self._pem(where, spec.pem, spec.path)
        try:
            return TimestampAuthority(
                id=spec.id, pem=pem, valid_from=spec.valid_from, valid_until=spec.valid_until
            )
        except ValueError as exc:
            raise self._fail(where, exc) from None


def _check_trusted_root(document: object) -> dict[str, Any]:
    """Return the trusted root inside ``document`` (a trusted root or a client trust config)."""
    if not isinstance(document, dict):
        raise ValueError("a trusted root must be a JSON object")
    if document.get("mediaType") == CLIENT_TRUST_CONFIG_MEDIA_TYPE:
        document = document.get("trustedRoot")
        if not isinstance(document, dict):
            raise ValueError("client trust config without a trustedRoot object")
    if document.get("mediaType") != TRUSTED_ROOT_MEDIA_TYPE:
        raise ValueError(
            f"mediaType must be {TRUSTED_ROOT_MEDIA_TYPE!r}, got {document.get('mediaType')!r}"
        )
    for key in ("tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"):
        if not isinstance(document.get(key, []), list):
            raise ValueError(f"{key} must be a list")
    return document


def sigstore_trusted_root(instance: str, *, name: str | None = None) -> TrustedRoot:
    """The ``trusted_root.json`` embedded in the installed sigstore wheel for ``instance``.

    These are the files ``sigstore`` itself bootstraps TUF from (``sigstore._store``); reading
    them touches neither the network nor the user's TUF cache.
    """
    url = _SIGSTORE_TUF_URLS[instance]
    resource = resources.files("sigstore._store").joinpath(quote(url, safe=""), "trusted_root.json")
    return TrustedRoot(
        name=name or instance, document=resource.read_bytes(), source=f"sigstore:{instance}"
    )


def default_trust_config() -> TrustConfig:
    """Sigstore production (the default) and staging roots, as shipped with sigstore.

    No keys, chains or allowed identities: every signature fails closed until a purpose names
    its signers.
    """
    return TrustConfig(
        trusted_roots={name: sigstore_trusted_root(name) for name in _SIGSTORE_TUF_URLS},
        default_trusted_root="production",
    )


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


def with_overrides(
    base: TrustConfig,
    purpose: str,
    *,
    trusted_root: Path | None = None,
    public_key: str | None = None,
    certificate_chain: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    identity_regex: str | None = None,
) -> TrustConfig:
    """``base`` plus what a command line names for one verification.

    A trusted root file becomes the root in force; a public key or certificate chain is
    registered for ``purpose``; an identity and issuer become the purpose's only allowed signer.
    """
    roots = dict(base.trusted_roots)
    default = base.default_trusted_root
    purpose_roots = dict(base.purpose_trusted_roots)
    if trusted_root is not None:
        try:
            document = trusted_root.read_bytes()
            root = TrustedRoot("command-line", document, str(trusted_root))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot use trusted root {trusted_root}: {exc}") from None
        roots[root.name] = root
        default = root.name
        purpose_roots[purpose] = root.name
    keys = list(base.keys)
    if public_key is not None:
        try:
            algorithm = key_algorithm_of(public_key)
            keys.append(
                RegisteredKey(
                    id="command-line",
                    pem=public_key,
                    algorithm=algorithm,
                    purposes=frozenset({purpose}),
                )
            )
        except ValueError as exc:
            raise ConfigError(f"unusable public key: {exc}") from None
    chains = list(base.certificate_chains)
    if certificate_chain is not None:
        try:
            chains.append(CertificateChain("command-line", certificate_chain, frozenset({purpose})))
        except ValueError as exc:
            raise ConfigError(f"unusable certificate chain: {exc}") from None
    identities = dict(base.identities)
    if issuer is not None and (identity is not None or identity_regex is not None):
        try:
            rule = AllowedIdentity(issuer=issuer, identity=identity, identity_regex=identity_regex)
        except ValueError as exc:
            raise ConfigError(f"unusable signer identity: {exc}") from None
        identities[purpose] = (rule,)
    return dataclasses.replace(
        base,
        trusted_roots=roots,
        default_trusted_root=default,
        purpose_trusted_roots=purpose_roots,
        keys=tuple(keys),
        certificate_chains=tuple(chains),
        identities=identities,
    )
