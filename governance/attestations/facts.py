"""What a verification is asked, and what it proves: ``Request`` and ``VerifiedFacts``.

``Format`` and ``SigningMode`` name what was submitted and how its signer is identified;
``Subject`` and ``Material`` are the artifacts a signed statement names and the build inputs
its provenance lists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from governance.errors import InputError
from governance.timefmt import format_optional

__all__ = ["Format", "Material", "Request", "SigningMode", "Subject", "VerifiedFacts"]

_SHA256_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


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
            match = _SHA256_DIGEST.fullmatch(self.expected_digest)
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
