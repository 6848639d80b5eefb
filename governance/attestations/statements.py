"""Signed in-toto statements: their subjects and predicate type, and the SLSA build facts.

A statement is read only once its signature has verified (``read_statement``), except for
``predicate_type_hint``, which routes a submission before anything is trusted. The subjects must
include the artifact (``check_subject``), the predicate type may be pinned
(``check_predicate_type``), and a SLSA provenance predicate (v1 or v0.2) yields the builder,
the build type, the source and the materials (``provenance_of``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from in_toto_attestation.v1.statement import STATEMENT_TYPE_URI

from governance.attestations.envelopes import Envelope
from governance.attestations.facts import Material, Subject
from governance.attestations.reasons import Reason, VerificationFailed

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "MODEL_SIGNING_PREDICATES",
    "Provenance",
    "Statement",
    "check_predicate_type",
    "check_subject",
    "predicate_type_hint",
    "provenance_of",
    "read_statement",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset({STATEMENT_TYPE_URI, "https://in-toto.io/Statement/v0.1"})
MODEL_SIGNING_PREDICATES = frozenset(
    {"https://model_signing/signature/v1.0", "https://model_signing/Digests/v0.1"}
)
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"


@dataclass(frozen=True)
class Statement:
    """A signed in-toto statement (v1 or v0.1): predicate type, subjects, predicate."""

    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Mapping[str, Any]


def predicate_type_hint(envelope: Envelope) -> str | None:
    """The (unverified) predicate type, for routing only."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        return None
    try:
        statement = json.loads(envelope.payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    predicate_type = statement.get("predicateType") if isinstance(statement, dict) else None
    return predicate_type if isinstance(predicate_type, str) else None


# Read by hand rather than with in-toto-attestation's ``Statement`` (a protocol buffer): it
# knows only v1, not the legacy ``Statement/v0.1`` that model-signing's ``Digests/v0.1``
# signatures carry; its JSON reading and ``validate`` refuse statements accepted here (a subject
# ``name`` that is not a string, an empty digest map, a predicate that is absent, empty or
# another falsy value) and accept some refused here (``predicate_type`` or ``type`` spelled the
# protobuf way); and predicate numbers would come back as floats.
def read_statement(payload_type: str | None, payload: bytes | None) -> Statement:
    """Read a verified DSSE payload as an in-toto statement.

    Raises ``unsupported_format`` for another payload or statement type, ``malformed_bundle``
    for a statement without predicate type or subjects.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE or payload is None:
        raise VerificationFailed(
            Reason.UNSUPPORTED_FORMAT, f"DSSE payloadType {payload_type!r} is not in-toto"
        )
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationFailed(
            Reason.MALFORMED_BUNDLE, f"in-toto statement is not JSON: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "in-toto statement is not an object")
    if raw.get("_type") not in STATEMENT_TYPES:
        raise VerificationFailed(Reason.UNSUPPORTED_FORMAT, f"statement _type {raw.get('_type')!r}")
    predicate_type = raw.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "statement without predicateType")
    subjects = raw.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "statement without subjects")
    parsed = []
    for i, s in enumerate(subjects):
        digest = s.get("digest") if isinstance(s, dict) else None
        if not isinstance(digest, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
        ):
            raise VerificationFailed(Reason.MALFORMED_BUNDLE, f"subject[{i}] without a digest map")
        name = s.get("name", "")
        parsed.append(Subject(name if isinstance(name, str) else "", {**digest}))
    predicate = raw.get("predicate") or {}
    if not isinstance(predicate, dict):
        raise VerificationFailed(Reason.MALFORMED_BUNDLE, "statement predicate is not an object")
    return Statement(predicate_type, tuple(parsed), predicate)


def check_subject(statement: Statement, digest: str | None) -> None:
    """The artifact digest (``sha256:<hex>``), when known, must be among the subjects."""
    if digest is None:
        return
    wanted = digest.removeprefix("sha256:")
    if not any(s.digest.get("sha256", "").lower() == wanted for s in statement.subjects):
        names = ", ".join(
            f"{s.name or '?'}=sha256:{s.digest.get('sha256', '-')}" for s in statement.subjects
        )
        raise VerificationFailed(
            Reason.SUBJECT_MISMATCH, f"{digest} is not among the statement's subjects ({names})"
        )


def check_predicate_type(statement: Statement, expected: str | None) -> None:
    """The predicate type, when one is expected, must be that one."""
    if expected is not None and statement.predicate_type != expected:
        raise VerificationFailed(
            Reason.PREDICATE_UNSUPPORTED,
            f"predicate type is {statement.predicate_type}, expected {expected}",
        )


@dataclass(frozen=True)
class Provenance:
    """Build facts from a provenance predicate: builder, build type, source and materials."""

    builder_id: str | None = None
    build_type: str | None = None
    source_repo: str | None = None
    source_ref: str | None = None
    source_digest: Mapping[str, str] = field(default_factory=dict)
    materials: tuple[Material, ...] = ()


def provenance_of(statement: Statement) -> Provenance:
    """SLSA provenance v1 and v0.2; other predicates carry no build facts.

    Raises ``predicate_unsupported`` for a SLSA predicate without its required fields.
    """
    predicate = statement.predicate
    try:
        if statement.predicate_type == SLSA_PROVENANCE_V1:
            return _slsa_v1(predicate)
        if statement.predicate_type == SLSA_PROVENANCE_V02:
            return _slsa_v02(predicate)
    except (KeyError, TypeError, AttributeError) as exc:
        raise VerificationFailed(
            Reason.PREDICATE_UNSUPPORTED,
            f"{statement.predicate_type} predicate unreadable: {exc!r}",
        ) from None
    return Provenance()


def _materials(items: object) -> tuple[Material, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        Material(str(m.get("uri", "")), {k: str(v) for k, v in (m.get("digest") or {}).items()})
        for m in items
        if isinstance(m, dict)
    )


def _git_source(uri: str) -> tuple[str, str | None]:
    """``git+https://host/repo@refs/heads/main`` → (``https://host/repo``, ``refs/heads/main``)."""
    uri = uri.removeprefix("git+")
    repo, at, ref = uri.rpartition("@")
    return (repo, ref) if at and "/" in ref else (uri, None)


def _source(materials: tuple[Material, ...]) -> tuple[str | None, str | None, Mapping[str, str]]:
    for m in materials:
        if m.uri.startswith("git+"):
            repo, ref = _git_source(m.uri)
            return repo, ref, m.digest
    return None, None, {}


def _slsa_v1(predicate: Mapping[str, Any]) -> Provenance:
    definition, run = predicate["buildDefinition"], predicate["runDetails"]
    builder_id, build_type = run["builder"]["id"], definition["buildType"]
    if not isinstance(builder_id, str) or not isinstance(build_type, str):
        raise TypeError("builder.id and buildType must be strings")
    materials = _materials(definition.get("resolvedDependencies"))
    repo, ref, digest = _source(materials)
    workflow = (definition.get("externalParameters") or {}).get("workflow")
    if isinstance(workflow, dict) and isinstance(workflow.get("repository"), str):
        # GitHub Actions build types (actions.github.io/buildtypes/workflow/v1 and the like)
        repo, ref = workflow["repository"], workflow.get("ref", ref)
    return Provenance(builder_id, build_type, repo, ref, digest, materials)


def _slsa_v02(predicate: Mapping[str, Any]) -> Provenance:
    builder_id, build_type = predicate["builder"]["id"], predicate["buildType"]
    materials = _materials(predicate.get("materials"))
    repo, ref, digest = _source(materials)
    config = (predicate.get("invocation") or {}).get("configSource") or {}
    if isinstance(config.get("uri"), str):
        repo, ref = _git_source(config["uri"])
        digest = {k: str(v) for k, v in (config.get("digest") or {}).items()}
    return Provenance(str(builder_id), str(build_type), repo, ref, digest, materials)
