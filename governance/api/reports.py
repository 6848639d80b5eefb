"""Audit reports over HTTP: ask for one, follow its generation, download its bundle (thin edge).

Reports are generated in the background by :mod:`reports.jobs` (one at a time), which the app's
lifespan opens (:func:`open_jobs`) and closes (:func:`close_jobs`); issuing is
:mod:`reports.service`'s, the same as ``governance report``.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Path, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.errors import problem
from governance.api.openapi import problem_response, problems
from governance.api.schemas import MAX_INDEX, ReceiptModel
from governance.auth.keys import Principal, Role
from governance.errors import Conflict, NotFound
from governance.policy.bundle import load_bundle
from governance.runtime import Runtime
from reports.data import ReportOptions
from reports.jobs import ReportJob, ReportJobs
from reports.service import ReportService

router = routing.router(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))],
    responses=problems(403),
)

_BOUND = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$"
_ID = r"^(sha256:)?[0-9a-f]{64}$"
ReportId = Annotated[
    str,
    Path(description="the report id (sha256:<hex>, or the hex alone)", pattern=_ID),
]


class ReportRequest(BaseModel):
    """What a report covers: a framework and a period, as of a checkpoint."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    framework: Literal["gdpr", "uae_pdpl", "iso27001", "all"]
    start: str = Field(
        alias="from",
        pattern=_BOUND,
        description="period start, inclusive: YYYY-MM-DD (midnight UTC) or RFC 3339 with a zone",
        examples=["2026-01-01"],
    )
    end: str = Field(
        alias="to",
        pattern=_BOUND,
        description="period end, exclusive: YYYY-MM-DD (midnight UTC) or RFC 3339 with a zone",
        examples=["2027-01-01"],
    )
    checkpoint: int | None = Field(
        None, ge=1, le=MAX_INDEX, description="a checkpoint's tree size (default: the newest)"
    )


class ReportProgress(BaseModel):
    """How far generation is: the stage, and how much of it is done."""

    stage: str = Field(description="queued, decisions, inputs, evidence, rendering, proofs, done…")
    done: int
    total: int | None


class PeriodModel(BaseModel):
    """The period the decisions' evaluated_at fall in: [start, end)."""

    start: str
    end: str


class FileModel(BaseModel):
    """A file of the bundle."""

    sha256: str
    size: int


class ReportResult(BaseModel):
    """An issued report: what its ``report`` ledger entry records."""

    report_id: str
    framework: str
    period: PeriodModel
    checkpoint_size: int = Field(description="the checkpoint the report is computed as of")
    data_sha256: str = Field(description="SHA-256 of report-data.json, hex")
    manifest_sha256: str = Field(description="SHA-256 of manifest.json (the entry's payload), hex")
    index: int = Field(description="the report entry's ledger index")
    decisions: int | None = Field(None, description="decisions in the report")
    cited_entries: int | None = Field(None, description="ledger entries the report cites")
    files: dict[str, FileModel] | None = Field(
        None, description="the bundle's files (absent for a report issued before a restart)"
    )
    receipt: ReceiptModel | None = Field(None, description="the report entry's receipt")


class ReportStatus(BaseModel):
    """A report: queued, being generated (with progress), done (with its result), or failed."""

    id: str = Field(description="the report id: sha256 of its framework, period and checkpoint")
    status: Literal["queued", "running", "done", "failed"]
    status_url: str
    bundle_url: str | None = Field(description="where the zip is, once it is there")
    progress: ReportProgress
    error: str | None = Field(description="why it failed")
    result: ReportResult | None


def open_jobs(app: FastAPI, rt: Runtime) -> None:
    """Start taking report requests for ``app`` (its lifespan calls this)."""
    service = ReportService(
        rt.engine,
        rt.ledger,
        rt.signer,
        lambda: load_bundle(overlay=rt.settings.policy_data),
        catch_up=rt.projections.catch_up,
    )
    app.state.report_jobs = ReportJobs(service, rt.settings.reports_dir)


def close_jobs(app: FastAPI) -> None:
    """Stop generating reports (the running one is abandoned); the lifespan calls this."""
    jobs: ReportJobs | None = getattr(app.state, "report_jobs", None)
    if jobs is not None:
        jobs.close()


def _jobs(request: Request) -> ReportJobs:
    jobs: ReportJobs = request.app.state.report_jobs
    return jobs


def _full(report_id: str) -> str:
    return report_id if report_id.startswith("sha256:") else f"sha256:{report_id}"


def _urls(report_id: str) -> tuple[str, str]:
    base = f"/api/v1/reports/{report_id}"
    return base, f"{base}/bundle"


def _status(job: ReportJob, jobs: ReportJobs) -> ReportStatus:
    status_url, bundle_url = _urls(job.report_id)
    body = job.to_json()
    ready = job.status == "done" and jobs.archive(job.report_id) is not None
    return ReportStatus.model_validate(
        {
            **body,
            "status_url": status_url,
            "bundle_url": bundle_url if ready else None,
        }
    )


def _issued(report_id: str, rt: Runtime, jobs: ReportJobs) -> ReportStatus:
    """A report no job remembers, from the ledger's report index (issued before a restart)."""
    found = rt.reports.issued(report_id)
    if not found:
        raise NotFound(f"no report {report_id}")
    status_url, bundle_url = _urls(report_id)
    return ReportStatus(
        id=report_id,
        status="done",
        status_url=status_url,
        bundle_url=bundle_url if jobs.archive(report_id) is not None else None,
        progress=ReportProgress(stage="done", done=0, total=None),
        error=None,
        result=ReportResult.model_validate(found[0]),
    )


@router.post(
    "",
    status_code=202,
    summary="Ask for an audit report; it is generated in the background (role auditor or admin)",
    responses=problems((400, "invalid options, or no checkpoint of that size"), 503),
)
async def create(
    request: Request,
    response: Response,
    body: ReportRequest,
    principal: Annotated[Principal, Depends(require(Role.AUDITOR, Role.ADMIN))],
) -> ReportStatus:
    """202 with the report's id and status URL (also in ``Location``).

    The report is computed as of one signed checkpoint (the newest, unless ``checkpoint`` names
    one), so its id is known at once; asking again for the same report answers the same job.
    Follow ``status_url`` until ``status`` is ``done`` (then ``bundle_url`` has the zip) or
    ``failed``. Issuing it records a ``report`` entry in the ledger.
    """
    options = ReportOptions.of(body.framework, body.start, body.end, body.checkpoint)
    jobs = _jobs(request)
    job = await run_in_threadpool(jobs.submit, options, submitter(principal))
    answer = _status(job, jobs)
    response.headers["Location"] = answer.status_url
    return answer


@router.get(
    "/{report_id}",
    summary="A report's status, progress and result (role auditor or admin)",
    responses=problems((404, "no such report")),
)
async def show(request: Request, report_id: ReportId) -> ReportStatus:
    """The report's status; once done, what its ledger entry records and the bundle's URL."""
    full = _full(report_id)
    jobs = _jobs(request)
    job = jobs.get(full)
    if job is not None:
        return _status(job, jobs)
    return await run_in_threadpool(_issued, full, runtime(request), jobs)


@router.get(
    "/{report_id}/bundle",
    summary="Download a report's bundle as a zip (role auditor or admin)",
    response_class=Response,
    responses={
        200: {
            "description": "the bundle's files in one folder; check it with "
            "`governance report verify`",
            "content": {"application/zip": {}},
        },
        **problems(
            (404, "no such report"),
            (409, "the report is not generated yet, or its generation failed"),
        ),
        410: problem_response(410, "the bundle is no longer kept; ask for the report again"),
    },
)
async def bundle(request: Request, report_id: ReportId) -> Response:
    """The bundle zip (``report-<id prefix>/`` holding every file)."""
    full = _full(report_id)
    jobs = _jobs(request)
    job = jobs.get(full)
    if job is not None and job.status != "done":
        raise Conflict(
            f"report {full} is {job.status}" + (f": {job.error}" if job.error else ""),
        )
    archive: FilePath | None = jobs.archive(full)
    if archive is None:
        if job is None and not await run_in_threadpool(runtime(request).reports.issued, full):
            raise NotFound(f"no report {full}")
        return problem(
            410, f"the bundle of {full} is no longer kept; ask for the report again", code="gone"
        )
    name = f"report-{full.removeprefix('sha256:')[:12]}.zip"
    return FileResponse(archive, media_type="application/zip", filename=name)
