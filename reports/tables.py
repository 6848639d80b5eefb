"""The report's CSV files, as pandas tables of the report-data document.

Each file is one list of :class:`~reports.model.ReportData`, one row per item in the document's
order, one column per field, named as in ``report-data.json``:

================== ===================== =====================================================
file               rows                  columns
================== ===================== =====================================================
``decisions.csv``  ``decisions``         :data:`DECISION_COLUMNS`
``controls.csv``   ``controls``          :data:`CONTROL_COLUMNS`
``evidence.csv``   ``evidence``          :data:`EVIDENCE_COLUMNS`
``exceptions.csv`` ``exceptions``        :data:`EXCEPTION_COLUMNS`
``soa.csv``        ``soa``               :data:`SOA_COLUMNS` (ISO 27001 Statement of
                                         Applicability)
================== ===================== =====================================================

Lists are joined with ``;`` (decision ids, control ids and ledger indexes contain none), booleans
are ``true``/``false`` as in the JSON. The bytes are deterministic: UTF-8, CRLF line ends as
RFC 4180 has them, minimal quoting (a field with a comma, a quote, a CR or an LF is quoted: with
LF line ends Python's writer would leave a lone CR unquoted, which readers take for a row's end),
no index column.

A text cell that a spreadsheet would read as a formula (one starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: free text such as a waiver's reason comes from API callers)
gets a leading ``'``, so opening the file runs nothing (OWASP, "CSV Injection");
``report-data.json`` holds every value as given.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel

from reports.model import ReportData

__all__ = [
    "CONTROL_COLUMNS",
    "DECISION_COLUMNS",
    "EVIDENCE_COLUMNS",
    "EXCEPTION_COLUMNS",
    "FORMULA_STARTS",
    "LIST_SEPARATOR",
    "SOA_COLUMNS",
    "csv_bytes",
    "csv_files",
    "frames",
]

#: Separator of a list's items in one cell.
LIST_SEPARATOR = ";"

DECISION_COLUMNS = (
    "decision_id",
    "index",
    "evaluated_at",
    "model_name",
    "model_version",
    "digest",
    "target",
    "mode",
    "outcome",
    "allow",
    "requested_by",
    "violations",
    "warnings",
    "waived",
    "bundle_digest",
    "engine",
)
CONTROL_COLUMNS = (
    "control",
    "framework",
    "article",
    "title",
    "enforcement",
    "passed",
    "failed",
    "not_applicable",
    "not_evaluated",
    "waived",
    "verified",
    "declared",
    "failed_in",
    "evidence",
)
EVIDENCE_COLUMNS = ("index", "kind", "leaf_hash", "cited_by")
EXCEPTION_COLUMNS = (
    "index",
    "control",
    "digest",
    "target",
    "approver",
    "granted_at",
    "expires_at",
    "reason",
    "decisions_covered",
)
SOA_COLUMNS = (
    "annex_a",
    "title",
    "applicable",
    "justification",
    "control",
    "evaluated_by_service",
)


#: First characters that make a spreadsheet evaluate a cell (module docstring).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(str(item) for item in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _frame(items: Sequence[BaseModel], columns: Sequence[str]) -> pd.DataFrame:
    rows = [[_cell(getattr(item, column)) for column in columns] for item in items]
    return pd.DataFrame(rows, columns=list(columns))


def frames(data: ReportData) -> dict[str, pd.DataFrame]:
    """The report's tables, by CSV file name (module docstring), in the document's row order."""
    return {
        "decisions.csv": _frame(data.decisions, DECISION_COLUMNS),
        "controls.csv": _frame(data.controls, CONTROL_COLUMNS),
        "evidence.csv": _frame(data.evidence, EVIDENCE_COLUMNS),
        "exceptions.csv": _frame(data.exceptions, EXCEPTION_COLUMNS),
        "soa.csv": _frame(data.soa, SOA_COLUMNS),
    }


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV: a header row, UTF-8, CRLF line ends, minimal quoting, no index."""
    text: str = frame.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")


def csv_files(data: ReportData) -> dict[str, bytes]:
    """The bytes of each CSV file of ``data`` (:func:`frames`), by file name."""
    return {name: csv_bytes(frame) for name, frame in frames(data).items()}
