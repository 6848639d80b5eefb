"""The file form of a trust configuration: YAML or JSON, validated, built into a ``TrustConfig``.

The format is documented once, on ``load_trust_config``. Pydantic checks the shape of the
document (an unknown field is an error); each entry is then built into its value type, which
checks its content, and the whole into a ``TrustConfig``, which checks the references between
entries. Every failure is a ``ConfigError`` that begins with the file's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from governance.attestations.trust_anchors import (
    AllowedIdentity,
    CertificateChain,
    KeyAlgorithm,
    RegisteredKey,
    TimestampAuthority,
)
from governance.attestations.trust_config import TrustConfig
from governance.attestations.trust_roots import (
    TrustedRoot,
    check_trusted_root,
    sigstore_trusted_root,
)
from governance.errors import ConfigError

__all__ = ["load_trust_config", "trust_config_from_mapping"]


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
            document = check_trusted_root(document)
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
