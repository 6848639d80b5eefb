"""The attestation verdicts projection: one ``attestation_verdicts`` row per attestation entry.

A projection of the framework in :mod:`governance.ledger.projections`: written in the ledger
batch's transaction, caught up by the follower, rebuilt by ``ledger reindex``. Each row depends
on its own entry only (:func:`~governance.attestations.record.verdict_row`), so an erased entry
is applied again without its payload, which leaves out the signer's identity and the failure
detail.
"""

from __future__ import annotations

from governance.attestations.record import verdict_row
from governance.ledger import kinds
from governance.ledger.projections import Projection, ProjectionBatch

_UPSERT = (
    "INSERT INTO attestation_verdicts (ledger_index, purpose, verdict, reason, detail, "
    "expected_digest, facts, verified_at) VALUES (:idx, :purpose, :verdict, :reason, :detail, "
    ":expected, :facts, :verified_at) ON CONFLICT (ledger_index) DO UPDATE SET "
    "purpose = excluded.purpose, verdict = excluded.verdict, reason = excluded.reason, "
    "detail = excluded.detail, expected_digest = excluded.expected_digest, "
    "facts = excluded.facts, verified_at = excluded.verified_at"
)


class VerdictProjection(Projection):
    """Every attestation verdict with its verified facts, by ledger index."""

    name = kinds.VERDICTS_PROJECTION
    tables = ("attestation_verdicts",)
    on_erasure = "reapply"

    def apply(self, batch: ProjectionBatch) -> None:
        """Write (or, for an erased entry, rewrite) each entry's verdict row."""
        rows = [verdict_row(entry) for entry in batch.entries]
        batch.cursor.executemany(batch.dialect.sql(_UPSERT), rows)
