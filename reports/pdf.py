"""Placeholder (to be replaced): the report as a PDF, deterministic (reportlab invariant mode)."""

from __future__ import annotations

import io

from reportlab.pdfgen import canvas

from reports.model import ReportData


def render_pdf(data: ReportData) -> bytes:
    """A one-page PDF of the report's headline figures; the same data gives the same bytes."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, invariant=True)
    page.setTitle(f"Audit report {data.report.report_id}")
    lines = [
        f"Report {data.report.report_id}",
        f"Framework {data.report.framework}, {data.report.period.start} to "
        f"{data.report.period.end}",
        f"Checkpoint {data.checkpoint.size} ({data.checkpoint.created_at})",
        f"Decisions {data.summary.decisions}: allow {data.summary.outcomes.allow}, "
        f"deny {data.summary.outcomes.deny}, error {data.summary.outcomes.error}",
    ]
    y = 800
    for line in lines:
        page.drawString(40, y, line)
        y -= 16
    page.showPage()
    page.save()
    return buffer.getvalue()
