"""Issuing a report: its data as of a checkpoint, its bundle, and its entry in the ledger.

:meth:`ReportService.issue`, in order:

1. pin the options to a checkpoint (the newest, unless one was asked for), which fixes the
   report's id;
2. build ``report-data.json`` from the ledger as of that checkpoint (:mod:`reports.data`),
   once the projections it reads have applied every entry (``catch_up``, when given);
3. write the bundle, with an inclusion proof of every cited entry, signed with the ledger's key
   (:mod:`reports.bundle`);
4. append a ``report`` entry naming the data digest and the manifest's (the manifest is its
   payload): issuing the same bundle again returns the first entry.

The command line and the API's background jobs (:mod:`reports.jobs`) both call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from governance.errors import InputError
from governance.ledger.checkpoint import NoteSigner
from governance.ledger.entries import Receipt, Submitter
from governance.ledger.store import Ledger
from governance.policy.bundle import PolicyBundle
from governance.reports_index.record import IssuedReport, report_request
from governance.sql import Dialect, snapshot
from reports.bundle import MANIFEST, write_bundle
from reports.data import Progress, ReportOptions, build_report_data, report_id

__all__ = ["Issued", "ReportService"]


@dataclass(frozen=True, slots=True)
class Issued:
    """An issued report: what its entry records, the entry's receipt, and where its bundle is."""

    report: IssuedReport
    receipt: Receipt
    directory: Path
    #: The manifest's ``files``: name → ``{"sha256", "size"}``.
    files: dict[str, dict[str, Any]]
    decisions: int
    cited: int

    def to_json(self) -> dict[str, Any]:
        """As ``governance report --json`` prints it and the API answers it."""
        return {
            **self.report.fields(),
            "index": self.receipt.index,
            "duplicate": self.receipt.duplicate,
            "bundle": str(self.directory),
            "decisions": self.decisions,
            "cited_entries": self.cited,
            "files": self.files,
            "receipt": self.receipt.to_json(),
        }


class ReportService:
    """Issues reports from one ledger (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        signer: NoteSigner,
        bundle: Callable[[], PolicyBundle],
        *,
        catch_up: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._signer = signer
        self._bundle = bundle
        self._catch_up = catch_up

    def pin(self, options: ReportOptions) -> ReportOptions:
        """Step 1: ``options`` at the newest checkpoint, or at the one asked for if it exists.

        :class:`InputError` when there is no such checkpoint (or none at all).
        """
        with snapshot(self._engine) as cursor:
            if options.checkpoint is None:
                cursor.execute("SELECT max(size) FROM ledger_checkpoints")
                row = cursor.fetchone()
                if row is None or row[0] is None:
                    raise InputError("the ledger is empty: no checkpoint has been signed yet")
                return options.at(int(row[0]))
            cursor.execute(
                Dialect.of(self._engine).sql("SELECT size FROM ledger_checkpoints WHERE size = ?"),
                (options.checkpoint,),
            )
            if cursor.fetchone() is None:
                raise InputError(
                    f"no checkpoint of size {options.checkpoint}",
                    hint="one checkpoint is signed per committed batch; "
                    "`governance ledger checkpoint` prints the newest",
                )
        return options

    def report_id(self, options: ReportOptions) -> str:
        """The id of the report ``options`` (pinned to a checkpoint) ask for."""
        if options.checkpoint is None:
            raise ValueError("pin the options to a checkpoint first")
        return report_id(options, options.checkpoint)

    def issue(
        self,
        options: ReportOptions,
        out: Path,
        *,
        submitter: Submitter | None = None,
        progress: Progress | None = None,
    ) -> Issued:
        """Steps 1-4 of the module docstring; the bundle is written to ``out`` (new or empty)."""
        pinned = self.pin(options)
        if self._catch_up is not None:
            self._catch_up()
        data = build_report_data(
            self._engine, self._bundle(), self._signer.verifier_key, pinned, progress=progress
        )
        written = write_bundle(
            out, data, self._ledger.inclusion_proofs, self._signer, progress=progress
        )
        issued = IssuedReport(
            report_id=data.report.report_id,
            framework=data.report.framework,
            period_start=data.report.period.start,
            period_end=data.report.period.end,
            checkpoint_size=data.checkpoint.size,
            data_sha256=written.data_sha256,
            manifest_sha256=written.manifest_sha256,
        )
        receipt = self._ledger.append(
            report_request(issued, (out / MANIFEST).read_bytes(), submitter)
        )
        return Issued(
            issued,
            receipt,
            out,
            written.manifest["files"],
            decisions=len(data.decisions),
            cited=len(data.evidence),
        )
