"""Every kind of ledger entry, in one registry: the only place a kind's name is written.

A kind says what an entry is (an OpenLineage event, an attestation verdict, …). The registry also
says, for each kind, whether the ledger's subject index (``ledger_subjects``) lists its entries —
kinds that a projection indexes better and that arrive in volume are left out of it — and which
projections read it. Code refers to kinds through the constants below (``kinds.EVIDENCE.name``),
SQL through :func:`names_read_by`; a kind that is not registered cannot be appended.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from governance.errors import InputError

__all__ = [
    "APPROVAL",
    "ATTESTATION",
    "DATASET_CLASSIFICATION",
    "ERASURE",
    "EVIDENCE",
    "GATE_DECISION",
    "OPENLINEAGE",
    "REPORT",
    "TRUST_CONFIG",
    "WAIVER",
    "EntryKind",
    "all_kinds",
    "kind",
    "names_read_by",
]


@dataclass(frozen=True, slots=True)
class EntryKind:
    """One kind of ledger entry."""

    #: The ``kind`` field of the envelope (lowercase, at most 64 characters).
    name: str
    #: What an entry of this kind records, for people (``governance ledger kinds``).
    description: str
    #: Whether the entry's subjects go to the subject index as well as into its envelope.
    subject_indexed: bool = True
    #: Names of the projections that read entries of this kind.
    projections: tuple[str, ...] = ()


#: Projection names, as projections declare them (``governance ledger reindex --projection``).
LINEAGE_PROJECTION = "lineage"
VERDICTS_PROJECTION = "attestation-verdicts"
GATE_PROJECTION = "gate"
REPORTS_PROJECTION = "reports"

EVIDENCE = EntryKind(
    "evidence",
    "a document kept as evidence (a DPIA, a pen-test report, a ticket export), as sent",
)
OPENLINEAGE = EntryKind(
    "openlineage",
    "one OpenLineage run, dataset or job event, as sent by the producer",
    # The lineage tables index events by job, run and dataset; an event names ~6 subjects and
    # events come in volume, so subject rows would cost a random index insert each.
    subject_indexed=False,
    projections=(LINEAGE_PROJECTION,),
)
DATASET_CLASSIFICATION = EntryKind(
    "dataset-classification",
    "a data steward's classification of a dataset (outranks what facets say)",
    projections=(LINEAGE_PROJECTION,),
)
ATTESTATION = EntryKind(
    "attestation",
    "a signing attestation and the verdict of verifying it at ingest (pass or fail)",
    projections=(VERDICTS_PROJECTION,),
)
TRUST_CONFIG = EntryKind(
    "trust-config",
    "the attestation trust configuration in force (recorded once per distinct digest)",
)
ERASURE = EntryKind(
    "erasure",
    "the erasure of another entry's payload (e.g. GDPR Art. 17), with the reason",
)

GATE_DECISION = EntryKind(
    "gate-decision",
    "a promotion decision: the evidence the policies saw (the input document) and their answer",
    projections=(GATE_PROJECTION,),
)
APPROVAL = EntryKind(
    "approval",
    "an approval of a model's promotion to a target, by the authenticated principal",
    projections=(GATE_PROJECTION,),
)
WAIVER = EntryKind(
    "waiver",
    "an exception for one control on a model digest and target, with a reason and an expiry",
    projections=(GATE_PROJECTION,),
)

REPORT = EntryKind(
    "report",
    "an audit report issued: its framework, period and checkpoint, and the digests of its data "
    "and of its bundle's manifest (the manifest is the payload)",
    projections=(REPORTS_PROJECTION,),
)

_REGISTRY: dict[str, EntryKind] = {
    k.name: k
    for k in (
        EVIDENCE,
        OPENLINEAGE,
        DATASET_CLASSIFICATION,
        ATTESTATION,
        TRUST_CONFIG,
        ERASURE,
        GATE_DECISION,
        APPROVAL,
        WAIVER,
        REPORT,
    )
}


def all_kinds() -> Iterator[EntryKind]:
    """Every registered kind, in registration order."""
    return iter(_REGISTRY.values())


def kind(name: str) -> EntryKind:
    """The registered kind called ``name``; :class:`InputError` for any other name."""
    found = _REGISTRY.get(name)
    if found is None:
        raise InputError(
            f"invalid entry kind {name[:64]!r}: not a registered kind",
            hint=f"registered kinds: {', '.join(_REGISTRY)}",
        )
    return found


def names_read_by(projection: str) -> tuple[str, ...]:
    """The names of the kinds ``projection`` reads, in registration order."""
    return tuple(k.name for k in _REGISTRY.values() if projection in k.projections)
