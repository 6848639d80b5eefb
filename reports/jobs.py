"""Reports generated in the background, for the HTTP API: one worker thread, a bounded queue.

A request is pinned to its checkpoint when it is submitted (so its id, the report id, is known at
once and a bad checkpoint is refused there), then waits for the worker, which issues reports one at
a time (:meth:`reports.service.ReportService.issue`), recording each stage's progress. A request
for a report already queued, running or done is answered with that job; one that failed is tried
again. The bundle is kept in ``directory/<id hex>/`` with its zip beside it; the newest
:data:`KEEP` jobs are remembered, and an issued report is still found in the ledger's report index
after a restart.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from governance.errors import GovernanceError, Unavailable
from governance.ledger.entries import Submitter
from reports.bundle import zip_bundle
from reports.data import ReportOptions
from reports.service import Issued, ReportService

__all__ = ["KEEP", "MAX_PENDING", "ReportJob", "ReportJobs"]

log = logging.getLogger(__name__)

#: Reports waiting for the worker before new requests are refused (503).
MAX_PENDING = 4
#: Jobs remembered (finished ones are forgotten oldest first).
KEEP = 64

Status = Literal["queued", "running", "done", "failed"]


class _Stopped(Exception):
    """The service is stopping: the running report is abandoned."""


@dataclass
class ReportJob:
    """One report being generated, or generated."""

    report_id: str
    options: ReportOptions
    submitter: Submitter | None
    status: Status = "queued"
    stage: str = "queued"
    done: int = 0
    total: int | None = None
    error: str | None = None
    issued: Issued | None = None
    #: The zip of the bundle, once written.
    archive: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def hex(self) -> str:
        """The report id without its ``sha256:`` prefix (the bundle's directory name)."""
        return self.report_id.removeprefix("sha256:")

    def progress(self, stage: str, done: int, total: int | None) -> None:
        """Record a stage's progress (called by the worker)."""
        with self._lock:
            self.stage, self.done, self.total = stage, done, total

    def finish(
        self, error: str | None, issued: Issued | None = None, archive: Path | None = None
    ) -> None:
        """Record the end: done with the issued report and its zip, or failed with ``error``."""
        with self._lock:
            self.status = "failed" if error is not None else "done"
            self.stage = self.status
            self.error, self.issued, self.archive = error, issued, archive

    def to_json(self) -> dict[str, Any]:
        """The job as ``GET /api/v1/reports/{id}`` answers it."""
        with self._lock:
            return {
                "id": self.report_id,
                "status": self.status,
                "progress": {"stage": self.stage, "done": self.done, "total": self.total},
                "error": self.error,
                "result": None if self.issued is None else self.issued.to_json(),
            }


class ReportJobs:
    """The queue of reports to generate and the worker that generates them (module docstring)."""

    def __init__(self, service: ReportService, directory: Path) -> None:
        self._service = service
        self._directory = directory
        self._jobs: OrderedDict[str, ReportJob] = OrderedDict()
        self._pending: deque[ReportJob] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, options: ReportOptions, submitter: Submitter | None) -> ReportJob:
        """Queue the report ``options`` ask for (pinned to a checkpoint now), or find it.

        :class:`~governance.errors.InputError` for a checkpoint that does not exist,
        :class:`Unavailable` when :data:`MAX_PENDING` reports are waiting already.
        """
        pinned = self._service.pin(options)
        report_id = self._service.report_id(pinned)
        with self._lock:
            if self._stopping:
                raise Unavailable("the service is stopping")
            found = self._jobs.get(report_id)
            if found is not None and found.status != "failed":
                return found
            if len(self._pending) >= MAX_PENDING:
                raise Unavailable(f"{MAX_PENDING} reports are waiting to be generated; retry later")
            job = ReportJob(report_id, pinned, submitter)
            self._jobs[report_id] = job
            self._jobs.move_to_end(report_id)
            self._forget_old()
            self._pending.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="reports", daemon=True)
                self._thread.start()
            self._wake.notify()
        return job

    def get(self, report_id: str) -> ReportJob | None:
        """The job of ``report_id``, if it is remembered."""
        with self._lock:
            return self._jobs.get(report_id)

    def archive(self, report_id: str) -> Path | None:
        """The zip of ``report_id``'s bundle, if one was generated and is still kept."""
        path = self._directory / report_id.removeprefix("sha256:") / "bundle.zip"
        return path if path.is_file() else None

    def close(self) -> None:
        """Stop: refuse new reports, abandon queued ones and the running one, wait for it."""
        with self._lock:
            self._stopping = True
            for job in self._pending:
                job.finish("the service stopped before generating it")
            self._pending.clear()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.status in ("done", "failed")]
        for key in finished[: max(0, len(self._jobs) - KEEP)]:
            del self._jobs[key]

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                job = self._pending.popleft()
                job.progress("starting", 0, None)
                job.status = "running"
            self._run(job)

    def _run(self, job: ReportJob) -> None:
        def progress(stage: str, done: int, total: int | None) -> None:
            if self._stopping:
                raise _Stopped
            job.progress(stage, done, total)

        self._directory.mkdir(parents=True, exist_ok=True)
        scratch = self._directory / f".{job.hex}.{uuid.uuid4().hex[:8]}"
        try:
            issued = self._service.issue(
                job.options, scratch / "bundle", submitter=job.submitter, progress=progress
            )
            zip_bundle(scratch / "bundle", scratch / "bundle.zip", f"report-{job.hex[:12]}")
            target = self._directory / job.hex
            shutil.rmtree(target, ignore_errors=True)
            scratch.rename(target)
            job.finish(None, replace(issued, directory=target / "bundle"), target / "bundle.zip")
        except _Stopped:
            job.finish("the service stopped while generating it")
        except GovernanceError as exc:
            job.finish(exc.message)
        except Exception:
            log.exception("report %s could not be generated", job.report_id)
            job.finish("an internal error stopped the report (see the service's log)")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
