"""The gate projection: decisions, approvals and waivers, one row per ledger entry.

A projection of the framework in :mod:`governance.ledger.projections`: written in the ledger
batch's transaction, caught up by the follower, rebuilt by ``ledger reindex``. Each row depends on
its own entry only (:mod:`governance.gate.record`), so an erased entry is applied again without its
payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from governance.gate.record import approval_row, decision_row, waiver_row
from governance.ledger import kinds
from governance.ledger.projections import Projection, ProjectionBatch, StoredEntry


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({names}) VALUES ({values}) "  # noqa: S608 - fixed names
        f"ON CONFLICT (ledger_index) DO UPDATE SET {updates}"
    )


_DECISION = _upsert(
    "gate_decisions",
    (
        "ledger_index",
        "decision_id",
        "digest",
        "model_name",
        "model_version",
        "target",
        "outcome",
        "allow",
        "mode",
        "requested_by",
        "evaluated_at",
        "summary",
        "results",
    ),
)
_APPROVAL = _upsert(
    "gate_approvals",
    ("ledger_index", "digest", "target", "approver", "decision_id", "approved_at", "comment"),
)
_WAIVER = _upsert(
    "gate_waivers",
    (
        "ledger_index",
        "control",
        "digest",
        "target",
        "approver",
        "granted_at",
        "expires_at",
        "reason",
    ),
)

_BY_KIND: dict[str, tuple[str, Callable[[StoredEntry], dict[str, Any]]]] = {
    kinds.GATE_DECISION.name: (_DECISION, decision_row),
    kinds.APPROVAL.name: (_APPROVAL, approval_row),
    kinds.WAIVER.name: (_WAIVER, waiver_row),
}


class GateProjection(Projection):
    """Every decision, approval and waiver, by ledger index."""

    name = kinds.GATE_PROJECTION
    tables = ("gate_decisions", "gate_approvals", "gate_waivers")
    on_erasure = "reapply"

    def apply(self, batch: ProjectionBatch) -> None:
        """Write (or, for an erased entry, rewrite) each entry's row."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in batch.entries:
            statement, row = _BY_KIND[entry.kind]
            grouped.setdefault(statement, []).append(row(entry))
        for statement, rows in grouped.items():
            batch.cursor.executemany(batch.dialect.sql(statement), rows)
