"""``TrustConfig``: everything a verification may trust, looked up by purpose, and its digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.attestations.trust_anchors import (
    ANY_PURPOSE,
    AllowedIdentity,
    CertificateChain,
    RegisteredKey,
    TimestampAuthority,
)
from governance.attestations.trust_roots import TrustedRoot
from governance.ledger.canonical import canonical_json

__all__ = ["TrustConfig"]


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
        return "sha256:" + hashlib.sha256(canonical_json(self.to_json())).hexdigest()
