"""Words, numbers and small flowables the report's sections share, and its section numbering.

The caps on tables that grow with the ledger are here too (:mod:`reports.pdf`'s docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Paragraph,
    Table,
)

from reports.model import ReportData
from reports.pdf_charts import (
    last_day,
)
from reports.pdf_layout import (
    MUTED,
    Heading,
    plain_table,
    styles,
)
from reports.pdf_text import (
    text,
    wrapped,
)

DECISION_ROWS = 500
#: The most cited ledger entries the appendix lists (the rest are in ``evidence.csv``).
EVIDENCE_ROWS = 500
#: The most rows the other lists (models, waivers, break-glass decisions, attestation verdicts)
#: show.
LIST_ROWS = 200
#: The most decision ids, or ledger index ranges, one table cell lists.
IDS_PER_CELL = 12

FRAMEWORK_NAMES: dict[str, str] = {
    "gdpr": "GDPR",
    "uae_pdpl": "UAE PDPL",
    "iso27001": "ISO/IEC 27001:2022",
}
FRAMEWORK_TITLES: dict[str, str] = {
    "gdpr": "Regulation (EU) 2016/679 (General Data Protection Regulation)",
    "uae_pdpl": "UAE Federal Decree-Law No. 45 of 2021 (Personal Data Protection Law)",
    "iso27001": "ISO/IEC 27001:2022, Annex A",
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
VERIFY_COMMAND = "governance report verify DIR --public-key KEY"
_T = TypeVar("_T")


class Numbering:
    """Section ``n``'s heading and its subsections' (``n.1``, ``n.2``...), and the data digest.

    The digest rides along so it is computed once: canonical JSON of 50,000 decisions takes
    seconds.
    """

    def __init__(self, number: int, digest: str) -> None:
        self.number = number
        self.digest = digest
        self._sub = 0

    def section(self, title: str) -> Heading:
        """The section's heading (level 0, in the outline and the contents)."""
        return Heading(f"{self.number}  {title}", 0, f"s{self.number}")

    def sub(self, title: str) -> Heading:
        """The next subsection's heading, numbered ``n.k``."""
        self._sub += 1
        return Heading(f"{self.number}.{self._sub}  {title}", 1, f"s{self.number}-{self._sub}")


def count_text(value: int) -> str:
    """A count with thousands separators: ``50,000``."""
    return f"{value:,}"


def when_text(moment: str) -> str:
    """A service time, shorter: ``2026-01-04 12:55:03Z`` (the fraction only when not zero)."""
    day, _, clock = moment.partition("T")
    clock = clock.removesuffix("Z").removesuffix(".000000")
    return f"{day} {clock}Z"


def when_cell(moment: str, prefix: str = "") -> Paragraph:
    """:func:`when_text` in a table cell: the date, then the time on its own line."""
    day, _, clock = when_text(moment).partition(" ")
    return Paragraph(f"{prefix}{day}<br/>{clock}", styles().cell)


def long_date(day: date) -> str:
    """A day in words: ``1 January 2026``."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def period_words(data: ReportData) -> str:
    """The period in words: its first and last day (its end is exclusive)."""
    period = data.report.period
    return f"{long_date(date.fromisoformat(period.start[:10]))} to {long_date(last_day(period))}"


def pdf_date(moment: str) -> str:
    """A service time as a PDF date string (the document info's dates)."""
    digits = moment[:19].replace("-", "").replace("T", "").replace(":", "")
    return f"D:{digits}+00'00'"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``count`` and the noun in the right number: ``1 decision``, ``2 decisions``."""
    return f"{count_text(count)} {one if count == 1 else (many or one + 's')}"


def index_ranges(indexes: Sequence[int]) -> list[str]:
    """Ledger indexes as runs: ``[3, 4, 5, 9]`` → ``["3–5", "9"]``."""
    runs: list[list[int]] = []
    for i in sorted(set(indexes)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [str(first) if first == last else f"{first}–{last}" for first, last in runs]


def capped_ids(
    items: Sequence[str], where: str, noun: str = "", cap: int = IDS_PER_CELL
) -> Flowable:
    """Up to ``cap`` items in a cell, then how many more there are and where they are."""
    if not items:
        return Paragraph("—", styles().cell)
    more = len(items) - cap
    tail = f" … <i>and {count_text(more)} more{noun} (all in {text(where)})</i>" if more > 0 else ""
    return wrapped(", ".join(items[:cap]), styles().mono, "{}" + tail)


def first_rows(items: Sequence[_T], cap: int, noun: str, where: str) -> tuple[Sequence[_T], str]:
    """The first ``cap`` items, and a sentence saying the table stops there (or ``""``)."""
    if len(items) <= cap:
        return items, ""
    return items[:cap], (
        f" The table lists the first {count_text(cap)} of the {count_text(len(items))} {noun} "
        "(it is capped at "
        f"{count_text(cap)} rows); the complete list is in {where}."
    )


def body_text(markup: str) -> Paragraph:
    """A paragraph of body text."""
    return Paragraph(markup, styles().body)


def table_note(markup: str) -> Paragraph:
    """A small italic note (below a table, or standing for an empty one)."""
    return Paragraph(markup, styles().note)


def bullets(items: Sequence[str]) -> list[Paragraph]:
    """A bulleted list, one paragraph per item."""
    return [Paragraph(item, styles().bullet, bulletText="•") for item in items]


def key_values(rows: Sequence[tuple[str, Flowable | str]], key_width: float = 0.26) -> Table:
    """A two-column table of labels and values (values may be flowables)."""
    s = styles()
    body = [
        [Paragraph(text(k), s.cell_bold), wrapped(v, s.cell) if isinstance(v, str) else v]
        for k, v in rows
    ]
    return plain_table(
        body,
        [key_width, 1 - key_width],
        [
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, MUTED),
            ("TOPPADDING", (0, 0), (-1, -1), 3.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ],
    )


def section_start(heading: Heading) -> list[Flowable]:
    """A new section: on this page only if a good part of the page is left."""
    return [CondPageBreak(70 * mm), heading]


def empty_note(what: str) -> Paragraph:
    """What stands in for a table with no rows."""
    return table_note(f"{text(what)}")


def catalog_titles(data: ReportData) -> dict[str, str]:
    """Each catalog control's title, by control id."""
    return {c.control: c.title for c in data.criteria.catalog}
