"""report.pdf without external tools: the same data gives the same bytes, in any environment,
and the layout helpers never change what they lay out.

``tests/integration/test_report_pdf_pages.py`` reads the rendered pages back with poppler.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.model import DayCount, Period, ReportData
from reports.pdf import data_digest, render_pdf
from reports.pdf_charts import timeline
from reports.pdf_layout import (
    TEXT_WIDTH,
    data_table,
    styles,
)
from reports.pdf_text import (
    FONT,
    printable,
    text,
)
from reports.pdf_text import _pieces as pieces
from reports.pdf_words import index_ranges
from tests.reports_sample import sample_report_data

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = sample_report_data()

RENDER_IN_A_CHILD = """
import sys
from reports.pdf import render_pdf
from tests.reports_sample import sample_report_data
sys.stdout.buffer.write(render_pdf(sample_report_data()))
"""


def test_the_same_data_gives_the_same_bytes() -> None:
    first = render_pdf(SAMPLE)
    assert first.startswith(b"%PDF-")
    assert render_pdf(sample_report_data()) == first


def test_the_bytes_depend_on_nothing_but_the_data() -> None:
    """Another process, another time zone, a SOURCE_DATE_EPOCH: the same bytes."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TZ": "Asia/Dubai",
        "SOURCE_DATE_EPOCH": "1234567890",
        "PYTHONHASHSEED": "7",
    }
    child = subprocess.run(
        [sys.executable, "-c", RENDER_IN_A_CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    assert child.stdout == render_pdf(SAMPLE)


def test_nothing_is_compressed() -> None:
    """deflate's bytes depend on the zlib build: the verifier's machine may have another."""
    assert b"/FlateDecode" not in render_pdf(SAMPLE)


def test_the_document_time_is_the_reports_and_the_id_comes_from_the_digest() -> None:
    pdf = render_pdf(SAMPLE)
    # The document information dictionary is not compressed.
    assert b"/CreationDate (D:20260401060000+00'00')" in pdf
    assert b"/ModDate (D:20260401060000+00'00')" in pdf
    assert SAMPLE.report.generated_at.startswith("2026-04-01T06:00:00")
    other = SAMPLE.model_copy(
        update={"limitations": SAMPLE.limitations.model_copy(update={"engine_errors": 99})}
    )
    assert data_digest(other) != data_digest(SAMPLE)
    trailer_id = pdf[pdf.rindex(b"/ID") :][:80]
    assert trailer_id not in render_pdf(other)


def test_the_data_digest_is_the_sha256_of_the_canonical_document() -> None:
    import hashlib

    from governance.ledger.canonical import canonical_json

    canonical = canonical_json(SAMPLE.model_dump(mode="json"))
    assert data_digest(SAMPLE) == "sha256:" + hashlib.sha256(canonical).hexdigest()
    # The document round-trips through its JSON: the verifier renders from report-data.json.
    assert ReportData.model_validate_json(canonical) == SAMPLE


@pytest.mark.parametrize(
    "word",
    [
        "customer-churn-gradient-boosted-ensemble-with-calibrated-probabilities",
        "sha256:" + "0123456789abcdef" * 4,
        "dataset:s3://example-ml-features/fraud/customer_profiles_2025/",
        "ed6550d0-e0f9-483b-a106-f3193ec05824,",
        "x" * 300,
    ],
)
@pytest.mark.parametrize("width", [20.0, 60.0, 140.0])
def test_long_words_are_cut_not_changed(word: str, width: float) -> None:
    cut = pieces(word, FONT, 7.5, width)
    assert "".join(cut) == word
    # Every line fits, but a lone character wider than the line.
    assert all(stringWidth(p, FONT, 7.5) <= width or len(p) == 1 for p in cut)
    # Pieces end at a separator when one is close enough to the end of the line.
    if "-" in word and width >= 60:
        assert cut[0].endswith(("-", ":", "/"))


def test_a_header_word_wider_than_its_column_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        data_table(["Index", "Unbreakablewordinanarrowcolumn"], [["1", "x"]], [0.5, 0.05])


def test_numeric_columns_grow_to_fit_their_numbers() -> None:
    table = data_table(["Name", "Count"], [["a", "1,000,000,000"]], [0.9, 0.02], numeric=(1,))
    name, count = table._colWidths
    assert count >= stringWidth("1,000,000,000", FONT, styles().cell.fontSize)
    # The room comes from the other column: the table keeps its width.
    assert name + count == pytest.approx(0.92 * TEXT_WIDTH)


def test_ledger_indexes_are_shown_as_runs() -> None:
    assert index_ranges([9, 3, 4, 5, 5, 11, 12]) == ["3–5", "9", "11–12"]
    assert index_ranges([7]) == ["7"]
    assert index_ranges([]) == []


@pytest.mark.parametrize(
    ("start", "end", "unit", "bars"),
    [
        ("2026-03-01T00:00:00.000000Z", "2026-03-08T00:00:00.000000Z", "day", 7),
        ("2026-01-01T00:00:00.000000Z", "2026-04-01T00:00:00.000000Z", "week", 13),
        ("2025-01-15T12:00:00.000000Z", "2026-04-01T00:00:00.000000Z", "month", 15),
    ],
)
def test_the_timeline_covers_the_period_and_counts_each_decision_once(
    start: str, end: str, unit: str, bars: int
) -> None:
    period = Period(start=start, end=end)
    days = [
        DayCount(day=d.day, allow=d.allow, deny=d.deny, error=d.error)
        for d in SAMPLE.decisions_per_day
        if start[:10] <= d.day < end[:10]
    ]
    line = timeline(days, period)
    assert line.unit == unit
    assert len(line.buckets) == bars
    assert line.buckets[0].first.isoformat() == start[:10]
    for before, after in zip(line.buckets, line.buckets[1:], strict=False):
        assert (after.first - before.last).days == 1
    for outcome in ("allow", "deny", "error"):
        assert sum(getattr(b, outcome) for b in line.buckets) == sum(
            getattr(d, outcome) for d in days
        )


def test_characters_the_font_lacks_are_written_as_code_points() -> None:
    assert printable("Approved — naïve “quotes” ≤ 5 …") == "Approved — naïve “quotes” ≤ 5 …"
    assert printable("مدير ✓") == "[U+0645][U+062F][U+064A][U+0631] [U+2713]"
    assert text("<b>✓</b>") == "&lt;b&gt;[U+2713]&lt;/b&gt;"
