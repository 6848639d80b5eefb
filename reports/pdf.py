"""``report.pdf``: the audit report an auditor reads, rendered from ``report-data.json`` alone.

:func:`render_pdf` is a pure function of :class:`~reports.model.ReportData`: the same document
gives the same bytes (no clock, no randomness, the report's time as the PDF's dates, fonts shipped
with reportlab), so ``governance report verify`` regenerates the PDF from the data file and
compares bytes. Every number printed here is a field of the document, or a count or sum of its
lists.

The sections, in order: cover (with a QR code of the data digest), contents, integrity statement,
executive summary (with the two charts), scope and criteria, methodology and limitations, system
description, control results, decisions, exceptions register, break-glass decisions, supply
chain, corrective actions, sign-off, and an appendix of the cited ledger entries. This module
draws the cover and assembles the document; the sections are in :mod:`reports.pdf_overview`
(1-5) and :mod:`reports.pdf_registers` (6-13), the words, numbers and numbering they share in
:mod:`reports.pdf_words`, the page layout in :mod:`reports.pdf_layout` and the charts in
:mod:`reports.pdf_charts`.

Tables that grow with the ledger are capped (:data:`DECISION_ROWS`, :data:`EVIDENCE_ROWS`,
:data:`LIST_ROWS`, and :data:`IDS_PER_CELL` ids in a cell), each time with a sentence giving the
cap, the full count and the file holding the complete list, so 50,000 decisions make a report of
tens of pages, not thousands. Every control is listed.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    NextPageTemplate,
    PageBreak,
    Paragraph,
    Spacer,
)

from governance.ledger.canonical import canonical_json
from reports.model import ReportData
from reports.pdf_layout import (
    MUTED,
    AuditDocTemplate,
    PageFurniture,
    PageTotal,
    code,
    plain_table,
    styles,
    table_of_contents,
)
from reports.pdf_overview import (
    integrity_section,
    limitations_section,
    scope_section,
    summary_section,
    system_section,
)
from reports.pdf_registers import (
    appendix_section,
    break_glass_section,
    controls_section,
    corrective_section,
    decisions_section,
    exceptions_section,
    sign_off_section,
    supply_chain_section,
)
from reports.pdf_text import (
    FONT,
    text,
)
from reports.pdf_words import (
    DECISION_ROWS,
    EVIDENCE_ROWS,
    FRAMEWORK_NAMES,
    FRAMEWORK_TITLES,
    IDS_PER_CELL,
    LIST_ROWS,
    VERIFY_COMMAND,
    Numbering,
    count_text,
    key_values,
    pdf_date,
    period_words,
    when_text,
)

__all__ = [
    "DECISION_ROWS",
    "EVIDENCE_ROWS",
    "IDS_PER_CELL",
    "LIST_ROWS",
    "data_digest",
    "render_pdf",
]


def data_digest(data: ReportData, canonical: bytes | None = None) -> str:
    """``sha256:`` of the canonical ``report-data.json``: the digest the report is known by.

    ``canonical`` is that file's bytes when the caller already has them (the bundle writes them
    anyway; canonicalising 50,000 decisions takes seconds), else they are computed here.
    """
    raw = canonical_json(data.model_dump(mode="json")) if canonical is None else canonical
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def render_pdf(data: ReportData, canonical: bytes | None = None) -> bytes:
    """The report as PDF bytes; the same ``data`` always gives the same bytes.

    ``canonical``: ``report-data.json``'s bytes, if the caller has them (:func:`data_digest`).
    """
    digest = data_digest(data, canonical)
    info = data.report
    names = ", ".join(FRAMEWORK_NAMES[f] for f in info.frameworks)
    furniture = PageFurniture(
        header=f"Compliance audit report  ·  {names}  ·  {period_words(data)}",
        footer=f"Report {info.report_id[:23]}…  ·  data {digest[:23]}…",
        pdf_date=pdf_date(info.generated_at),
        identity=digest,
    )
    out = io.BytesIO()
    total = PageTotal()
    doc = AuditDocTemplate(
        out,
        furniture,
        total,
        title=f"Compliance audit report: {names}, {period_words(data)}",
        author=info.generated_by,
        subject=f"Report {info.report_id}; report-data.json {digest}",
        creator=info.generated_by,
        keywords=["audit", *info.frameworks],
    )
    story: list[Flowable] = [total, *_cover(data, digest)]
    for number, section in enumerate(_SECTIONS, start=1):
        story.extend(section(data, Numbering(number, digest)))
    doc.multiBuild(story, maxPasses=12)
    return out.getvalue()


# --- cover -------------------------------------------------------------------------------------


def _qr(value: str, size: float) -> Drawing:
    widget = QrCodeWidget(value, barWidth=size, barHeight=size, barLevel="M", barBorder=2)
    drawing = Drawing(size, size, initialFontName=FONT)
    drawing.add(widget)
    return drawing


def _cover(data: ReportData, digest: str) -> list[Flowable]:
    s = styles()
    info = data.report
    names = " · ".join(FRAMEWORK_NAMES[f] for f in info.frameworks)
    frameworks = "<br/>".join(text(FRAMEWORK_TITLES[f]) for f in info.frameworks)
    rows: list[tuple[str, Flowable | str]] = [
        ("Frameworks", Paragraph(frameworks, s.cell)),
        (
            "Period",
            Paragraph(
                f"{period_words(data)}<br/>"
                f"<font size='6.5' color='#{MUTED.hexval()[2:]}'>decisions evaluated from "
                f"{text(info.period.start)} (inclusive) to {text(info.period.end)} "
                f"(exclusive)</font>",
                s.cell,
            ),
        ),
        (
            "Ledger checkpoint",
            Paragraph(
                f"tree size {count_text(data.checkpoint.size)}, "
                f"signed {text(when_text(data.checkpoint.created_at))}"
                f"<br/><font size='6.5'>root {text(data.checkpoint.root)}</font>",
                s.cell,
            ),
        ),
        (
            "Generated",
            f"{when_text(info.generated_at)} (the checkpoint's time) by {info.generated_by}",
        ),
        ("Report id", code(info.report_id)),
        ("Report data digest", code(f"{digest}  (SHA-256 of report-data.json)")),
    ]
    qr = _qr(digest, 34 * mm)
    caption = Paragraph(
        "Scan for the report data digest. It must equal the SHA-256 of "
        "<b>report-data.json</b>, from which every figure in this report is computed. "
        f"Verify the whole bundle offline with <b>{text(VERIFY_COMMAND)}</b> (section 1).",
        s.note,
    )
    qr_block = plain_table(
        [[qr, caption]],
        [0.24, 0.76],
        [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)],
    )
    return [
        Spacer(1, 28 * mm),
        Paragraph("PROMOTION GATE AND EVIDENCE LEDGER", s.kicker),
        Paragraph("Compliance audit report", s.title),
        Paragraph(text(names), s.subtitle),
        Paragraph(period_words(data), s.subtitle),
        Spacer(1, 8 * mm),
        key_values(rows),
        Spacer(1, 14 * mm),
        qr_block,
        NextPageTemplate("body"),
        PageBreak(),
        Paragraph("Contents", s.h1),
        table_of_contents(),
        PageBreak(),
    ]


_SECTIONS: tuple[Callable[[ReportData, Numbering], Iterator[Flowable]], ...] = (
    integrity_section,
    summary_section,
    scope_section,
    limitations_section,
    system_section,
    controls_section,
    decisions_section,
    exceptions_section,
    break_glass_section,
    supply_chain_section,
    corrective_section,
    sign_off_section,
    appendix_section,
)
