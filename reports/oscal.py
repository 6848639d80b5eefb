"""Placeholder (to be replaced): the report as an OSCAL Assessment Results document."""

from __future__ import annotations

from typing import Any

from reports.model import ReportData


def assessment_results(data: ReportData) -> dict[str, Any]:
    """A minimal OSCAL-shaped document; the same data gives the same document."""
    return {
        "assessment-results": {
            "uuid": data.report.report_id.removeprefix("sha256:")[:32],
            "metadata": {
                "title": f"Audit report {data.report.report_id}",
                "last-modified": data.report.generated_at,
                "oscal-version": "1.1.2",
            },
            "results": [
                {"control": c.control, "passed": c.passed, "failed": c.failed}
                for c in data.controls
            ],
        }
    }
