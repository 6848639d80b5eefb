"""Sigstore trusted roots: the ``trusted_root.json`` documents handed to Sigstore verification.

A trusted root names the certificate authorities, transparency logs and timestamp authorities
of one Sigstore deployment. A ``TrustedRoot`` is pinned by content: it comes from a file or
inline JSON (a trusted root, or a client trust config wrapping one), or from the production and
staging roots embedded in the installed sigstore wheel; nothing here consults the user-writable
TUF cache or the network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

from governance.ledger.canonical import canonical_json

__all__ = [
    "CLIENT_TRUST_CONFIG_MEDIA_TYPE",
    "SIGSTORE_TUF_URLS",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "TrustedRoot",
    "check_trusted_root",
    "sigstore_trusted_root",
]

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

#: TUF repositories whose copies the sigstore wheel embeds (see sigstore._utils.read_embedded).
SIGSTORE_TUF_URLS = {
    "production": "https://tuf-repo-cdn.sigstore.dev",
    "staging": "https://tuf-repo-cdn.sigstage.dev",
}


@dataclass(frozen=True)
class TrustedRoot:
    """A Sigstore trusted root document, pinned by content."""

    name: str
    document: bytes
    source: str

    def __post_init__(self) -> None:
        check_trusted_root(json.loads(self.document))

    @property
    def sha256(self) -> str:
        """SHA-256 of the document's canonical JSON form (formatting does not change it)."""
        return hashlib.sha256(canonical_json(json.loads(self.document))).hexdigest()


def check_trusted_root(document: object) -> dict[str, Any]:
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
    url = SIGSTORE_TUF_URLS[instance]
    resource = resources.files("sigstore._store").joinpath(quote(url, safe=""), "trusted_root.json")
    return TrustedRoot(
        name=name or instance, document=resource.read_bytes(), source=f"sigstore:{instance}"
    )
