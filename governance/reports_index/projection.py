"""The report index projection: one ``reports`` row per ``report`` ledger entry.

A projection of the framework in :mod:`governance.ledger.projections`: written in the ledger
batch's transaction, caught up by the follower, rebuilt by ``ledger reindex``. Each row depends on
its own entry's envelope only (:func:`~governance.reports_index.record.report_row`), so erasing the
payload (the manifest) changes nothing here.
"""

from __future__ import annotations

from governance.ledger import kinds
from governance.ledger.projections import Projection, ProjectionBatch
from governance.reports_index.record import report_row

_COLUMNS = (
    "ledger_index",
    "report_id",
    "framework",
    "period_start",
    "period_end",
    "checkpoint_size",
    "data_sha256",
    "manifest_sha256",
    "issued_by",
    "issued_at",
)
_UPSERT = (
    f"INSERT INTO reports ({', '.join(_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join(f':{c}' for c in _COLUMNS)}) "
    f"ON CONFLICT (ledger_index) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
)


class ReportProjection(Projection):
    """Every issued report, by ledger index."""

    name = kinds.REPORTS_PROJECTION
    tables = ("reports",)
    on_erasure = "reapply"

    def apply(self, batch: ProjectionBatch) -> None:
        """Write (or rewrite) each report entry's row."""
        rows = [report_row(entry) for entry in batch.entries]
        batch.cursor.executemany(batch.dialect.sql(_UPSERT), rows)
