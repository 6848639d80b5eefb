"""The report's CSV files: fixed columns, one row per item of the document, deterministic bytes."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from reports import tables
from reports.model import ReportData
from tests.reports_sample import sample_report_data

FILES = {
    "decisions.csv": ("decisions", tables.DECISION_COLUMNS),
    "controls.csv": ("controls", tables.CONTROL_COLUMNS),
    "evidence.csv": ("evidence", tables.EVIDENCE_COLUMNS),
    "exceptions.csv": ("exceptions", tables.EXCEPTION_COLUMNS),
    "soa.csv": ("soa", tables.SOA_COLUMNS),
}


@pytest.fixture(scope="module")
def data() -> ReportData:
    return sample_report_data()


@pytest.fixture(scope="module")
def files(data: ReportData) -> dict[str, bytes]:
    return tables.csv_files(data)


def parse(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def expected_cell(value: object) -> str:
    """What the issue says a cell holds, written independently of reports.tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def expected_rows(items: Sequence[BaseModel], columns: Sequence[str]) -> list[list[str]]:
    return [[expected_cell(getattr(item, c)) for c in columns] for item in items]


def test_the_five_files_and_their_columns(files: dict[str, bytes]) -> None:
    assert list(files) == list(FILES)
    for name, (_, columns) in FILES.items():
        assert parse(files[name])[0] == list(columns), name


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_row_is_an_item_of_the_document(
    data: ReportData, files: dict[str, bytes], name: str
) -> None:
    field, columns = FILES[name]
    items = getattr(data, field)
    rows = parse(files[name])[1:]
    assert len(rows) == len(items) > 0
    assert rows == expected_rows(items, columns)


def test_counts_match_the_document(data: ReportData, files: dict[str, bytes]) -> None:
    decisions = parse(files["decisions.csv"])[1:]
    outcome = tables.DECISION_COLUMNS.index("outcome")
    for name in ("allow", "deny", "error"):
        assert sum(r[outcome] == name for r in decisions) == getattr(data.summary.outcomes, name)
    mode = tables.DECISION_COLUMNS.index("mode")
    assert sum(r[mode] == "break_glass" for r in decisions) == len(data.break_glass)
    controls = parse(files["controls.csv"])[1:]
    failed = tables.CONTROL_COLUMNS.index("failed")
    failed_in = tables.CONTROL_COLUMNS.index("failed_in")
    for row, control in zip(controls, data.controls, strict=True):
        assert (
            int(row[failed])
            == control.failed
            == len(row[failed_in].split(";") if row[failed_in] else [])
        )
    evidence = parse(files["evidence.csv"])[1:]
    assert [int(r[0]) for r in evidence] == [e.index for e in data.evidence]
    soa = parse(files["soa.csv"])[1:]
    assert [(r[0], r[2]) for r in soa] == [
        (s.annex_a, "true" if s.applicable else "false") for s in data.soa
    ]


def test_bytes_are_deterministic_utf8_with_crlf_line_ends(
    data: ReportData, files: dict[str, bytes]
) -> None:
    again = tables.csv_files(ReportData.model_validate_json(data.model_dump_json()))
    assert again == files
    for raw in files.values():
        assert raw.endswith(b"\r\n")
        # RFC 4180: CRLF after every record, and any field holding a CR or LF quoted.
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(parse(raw))
        assert out.getvalue().encode() == raw
        assert not raw.startswith(b"\xef\xbb\xbf")
    assert "Zoë O'Brien".encode() in files["decisions.csv"]
    assert "Art. 9(1)–(2)".encode() in files["controls.csv"]


def test_free_text_with_quotes_commas_and_newlines_round_trips(
    data: ReportData, files: dict[str, bytes]
) -> None:
    column = tables.EXCEPTION_COLUMNS.index("reason")
    reasons = [row[column] for row in parse(files["exceptions.csv"])[1:]]
    assert reasons == [e.reason for e in data.exceptions]
    assert any(all(special in reason for special in ('"', ",", "\n")) for reason in reasons)


def test_an_empty_report_gives_headers_only(data: ReportData) -> None:
    empty = data.model_copy(
        update={"decisions": [], "controls": [], "evidence": [], "exceptions": [], "soa": []}
    )
    for name, raw in tables.csv_files(empty).items():
        assert raw == (",".join(FILES[name][1]) + "\r\n").encode()


def test_frames_are_the_csv_tables(data: ReportData) -> None:
    frames = tables.frames(data)
    assert {name: list(f.columns) for name, f in frames.items()} == {
        name: list(columns) for name, (_, columns) in FILES.items()
    }
    assert int(frames["controls.csv"]["failed"].sum()) == sum(c.failed for c in data.controls)
    assert frames["decisions.csv"]["index"].tolist() == [d.index for d in data.decisions]
