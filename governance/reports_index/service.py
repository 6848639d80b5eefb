"""Looking up issued reports in the index (the ``reports`` projection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

_SELECT = (
    "SELECT ledger_index, report_id, framework, period_start, period_end, checkpoint_size, "
    "data_sha256, manifest_sha256, issued_by, issued_at FROM reports"
)


def _row(row: Any) -> dict[str, Any]:
    (index, report_id, framework, start, end, size, data, manifest, issued_by, issued_at) = row
    return {
        "index": int(index),
        "report_id": report_id,
        "framework": framework,
        "period": {"start": start, "end": end},
        "checkpoint_size": int(size),
        "data_sha256": data,
        "manifest_sha256": manifest,
        "issued_by": issued_by,
        "issued_at": issued_at,
    }


class ReportIndex:
    """The issued reports, as the ledger's ``report`` entries record them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issued(self, report_id: str) -> list[dict[str, Any]]:
        """Every issue of the report ``report_id``, newest first (one per distinct bundle)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(f"{_SELECT} WHERE report_id = :id ORDER BY ledger_index DESC"),
                {"id": report_id},
            ).all()
        return [_row(r) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        """Every issued report, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(text(f"{_SELECT} ORDER BY ledger_index")).all()
        return [_row(r) for r in rows]
