"""How an issued report is written into the ledger, and read back out of it.

One ``report`` entry per issued report. The **envelope** says what the report covers and commits
to: its id, framework, period and checkpoint size, the SHA-256 of its ``report-data.json`` and of
its bundle's ``manifest.json``, and who issued it. The **payload** is the manifest itself (every
file of the bundle by SHA-256 and size), so the ledger holds what a bundle must match. Nothing in
either names a person but the issuing principal, as every entry does; the index row
(:func:`report_row`) is rebuilt from the envelope alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from governance.errors import InputError
from governance.ledger import kinds
from governance.ledger.entries import AppendRequest, Submitter
from governance.ledger.projections import StoredEntry

MANIFEST_MEDIA_TYPE = "application/vnd.governance-audit.report-manifest+json"


@dataclass(frozen=True, slots=True)
class IssuedReport:
    """What a ``report`` entry records about one report."""

    report_id: str
    framework: str
    period_start: str
    period_end: str
    checkpoint_size: int
    #: SHA-256 (hex) of ``report-data.json``.
    data_sha256: str
    #: SHA-256 (hex) of ``manifest.json``.
    manifest_sha256: str

    def fields(self) -> dict[str, Any]:
        """The envelope fields (and the API's answer) for this report."""
        return {
            "report_id": self.report_id,
            "framework": self.framework,
            "period": {"start": self.period_start, "end": self.period_end},
            "checkpoint_size": self.checkpoint_size,
            "data_sha256": self.data_sha256,
            "manifest_sha256": self.manifest_sha256,
        }


def report_request(
    report: IssuedReport, manifest: bytes, submitter: Submitter | None
) -> AppendRequest:
    """The ledger entry issuing ``report``, whose bundle's manifest is ``manifest``.

    The idempotency key is the default, the manifest's SHA-256: issuing the same bundle again
    (same checkpoint, options and contents) returns the first entry.
    """
    if hashlib.sha256(manifest).hexdigest() != report.manifest_sha256:
        raise InputError("the manifest does not match the report's manifest digest")
    fields = report.fields()
    if submitter is not None:
        fields.update(submitter.fields())
    return AppendRequest(
        kinds.REPORT.name,
        manifest,
        MANIFEST_MEDIA_TYPE,
        [{"sha256": report.data_sha256}, {"name": report.report_id}],
        fields,
    )


def report_row(entry: StoredEntry) -> dict[str, Any]:
    """The ``reports`` row a report entry says (from its envelope only)."""
    envelope = entry.fields()
    return {
        "ledger_index": entry.index,
        "report_id": envelope["report_id"],
        "framework": envelope["framework"],
        "period_start": envelope["period"]["start"],
        "period_end": envelope["period"]["end"],
        "checkpoint_size": envelope["checkpoint_size"],
        "data_sha256": envelope["data_sha256"],
        "manifest_sha256": envelope["manifest_sha256"],
        "issued_by": envelope.get("submitted_by"),
        "issued_at": envelope["received_at"],
    }
