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

This module is the one callers import. The parts, re-exported here, are:

* ``trust_roots``   — ``TrustedRoot`` and the Sigstore roots embedded in the sigstore wheel;
* ``trust_anchors`` — ``RegisteredKey``, ``CertificateChain``, ``AllowedIdentity`` and
  ``TimestampAuthority``, the entries besides the trusted roots;
* ``trust_config``  — ``TrustConfig``, the lookups by purpose and the digest;
* ``trust_files``   — ``load_trust_config`` and ``trust_config_from_mapping``, the file form.

``with_overrides`` adds what a command line names for one verification.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from governance.attestations.trust_anchors import (
    ANY_PURPOSE,
    AllowedIdentity,
    CertificateChain,
    KeyAlgorithm,
    PublicKey,
    RegisteredKey,
    TimestampAuthority,
    key_algorithm_of,
)
from governance.attestations.trust_config import TrustConfig
from governance.attestations.trust_files import load_trust_config, trust_config_from_mapping
from governance.attestations.trust_roots import (
    CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    SIGSTORE_TUF_URLS,
    TRUSTED_ROOT_MEDIA_TYPE,
    TrustedRoot,
    sigstore_trusted_root,
)
from governance.errors import ConfigError

__all__ = [
    "ANY_PURPOSE",
    "CLIENT_TRUST_CONFIG_MEDIA_TYPE",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "AllowedIdentity",
    "CertificateChain",
    "KeyAlgorithm",
    "PublicKey",
    "RegisteredKey",
    "TimestampAuthority",
    "TrustConfig",
    "TrustedRoot",
    "default_trust_config",
    "key_algorithm_of",
    "load_trust_config",
    "sigstore_trusted_root",
    "trust_config_from_mapping",
    "with_overrides",
]


def default_trust_config() -> TrustConfig:
    """Sigstore production (the default) and staging roots, as shipped with sigstore.

    No keys, chains or allowed identities: every signature fails closed until a purpose names
    its signers.
    """
    return TrustConfig(
        trusted_roots={name: sigstore_trusted_root(name) for name in SIGSTORE_TUF_URLS},
        default_trusted_root="production",
    )


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
