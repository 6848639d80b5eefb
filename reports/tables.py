"""Placeholder (to be replaced): the report's CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from reports.model import ReportData


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def csv_files(data: ReportData) -> dict[str, bytes]:
    """decisions.csv, controls.csv, evidence.csv, exceptions.csv and soa.csv."""
    return {
        "decisions.csv": _csv(
            ("decision_id", "index", "evaluated_at", "outcome", "mode"),
            ((d.decision_id, d.index, d.evaluated_at, d.outcome, d.mode) for d in data.decisions),
        ),
        "controls.csv": _csv(
            ("control", "passed", "failed"),
            ((c.control, c.passed, c.failed) for c in data.controls),
        ),
        "evidence.csv": _csv(
            ("index", "kind", "leaf_hash"),
            ((e.index, e.kind, e.leaf_hash) for e in data.evidence),
        ),
        "exceptions.csv": _csv(
            ("index", "control", "expires_at"),
            ((e.index, e.control, e.expires_at) for e in data.exceptions),
        ),
        "soa.csv": _csv(
            ("annex_a", "control", "applicable"),
            ((s.annex_a, s.control, s.applicable) for s in data.soa),
        ),
    }
