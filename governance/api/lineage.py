"""OpenLineage ingestion (what the stock clients send) and lineage queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import pydantic_core
from fastapi import Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from governance.api import routing
from governance.api.deps import require, runtime, submitter
from governance.api.evidence import idempotency_key
from governance.api.openapi import IDEMPOTENCY_KEY, problems
from governance.api.schemas import (
    MAX_INDEX,
    BatchModel,
    ConsentWithdrawalModel,
    DatasetsPage,
    DownstreamModel,
    GraphModel,
    JobsPage,
    NamespacesPage,
    PersonalDataModel,
    ReceiptModel,
    RunsPage,
)
from governance.auth.keys import Principal, Role
from governance.errors import InputError
from governance.ledger.kinds import LINEAGE_PROJECTION
from governance.lineage.classification import check_classification
from governance.lineage.ingest import check_content_type, decode_body
from governance.lineage.queries import MAX_DEPTH, Direction, Graph
from governance.lineage.warnings import LineageWarnings

router = routing.router(tags=["lineage"])
READERS = (Role.AUDITOR, Role.GATE, Role.ADMIN)
_RAW_JSON = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
#: What a query answers besides its document: a key without a reader's role, an unknown node.
_NODE_QUERY_PROBLEMS = problems(403, (404, "no such dataset, job or run in the lineage graph"))


async def fresh_projection(request: Request) -> None:
    """Before a query: bring the projection up to everything the ledger has acknowledged."""
    projections = runtime(request).projections
    if await run_in_threadpool(projections.behind, LINEAGE_PROJECTION):
        await run_in_threadpool(projections.catch_up, LINEAGE_PROJECTION)


QUERY_DEPENDENCIES = [Depends(require(*READERS)), Depends(fresh_projection)]


async def _body(request: Request, content_type: str | None, encoding: str | None) -> bytes:
    check_content_type(content_type)
    body = await request.body()
    return decode_body(body, encoding, runtime(request).settings.max_body_bytes)


@router.post(
    "/api/v1/lineage",
    status_code=201,
    summary="Receive one OpenLineage event (role ingest or admin); 201 with an empty body",
    response_class=Response,
    responses={
        201: {
            "description": "recorded (or recorded before); the body is empty",
            "headers": {
                "X-Ledger-Index": {
                    "description": "the event's ledger index",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
        },
        **problems(
            (400, "identity fields missing or malformed (errors by JSON path)"),
            403,
            409,
            (415, "not JSON, or a Content-Encoding other than gzip"),
            503,
        ),
    },
    openapi_extra={**_RAW_JSON, "parameters": [IDEMPOTENCY_KEY]},
)
async def post_event(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.INGEST, Role.ADMIN))],
    content_type: Annotated[str | None, Header()] = None,
    content_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """Exactly what OpenLineage clients send: a RunEvent, DatasetEvent or JobEvent.

    ``Content-Encoding: gzip`` is accepted. Facet-schema problems are recorded as warnings, not
    rejections. Sending the same bytes again is a no-op that still answers 201.
    """
    raw = await _body(request, content_type, content_encoding)
    rt = runtime(request)
    key = idempotency_key(request, rt.settings.max_idempotency_key_length)
    receipt = await rt.lineage.ingest(raw, submitter(principal), key)
    return Response(status_code=201, headers={"X-Ledger-Index": str(receipt.index)})


@router.post(
    "/api/v1/lineage/batch",
    summary="Receive a JSON array of OpenLineage events; one result per event (role ingest or "
    "admin)",
    response_model=BatchModel,
    # A result leaves out what does not apply to it (no index for a refused event).
    response_model_exclude_none=True,
    responses={
        207: {"model": BatchModel, "description": "some events were not accepted"},
        **problems((415, "not JSON, or a Content-Encoding other than gzip"), 403, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "array"}}},
        }
    },
)
async def post_batch(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Role.INGEST, Role.ADMIN))],
    content_type: Annotated[str | None, Header()] = None,
    content_encoding: Annotated[str | None, Header()] = None,
) -> BatchModel:
    """200 when every event was accepted, 207 when some were not (each result has a status)."""
    raw = await _body(request, content_type, content_encoding)
    results = await runtime(request).lineage.ingest_batch(raw, submitter(principal))
    response.status_code = 200 if all(r.status == 201 for r in results) else 207
    return BatchModel.model_validate({"results": [r.to_json() for r in results]})


# The graph is encoded off the event loop (GraphResponse), never validated on the way out: the
# model documents it.
_GRAPH_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "model": GraphModel,
        "description": "The graph: nodes with their data and edges; each edge names the ledger "
        "indexes that assert it",
    },
    **_NODE_QUERY_PROBLEMS,
}


class GraphResponse(JSONResponse):
    """JSON encoded by pydantic-core's Rust encoder.

    The same compact UTF-8 bytes as the standard library's encoder, about ten times faster,
    which matters for answers of a megabyte.
    """

    def render(self, content: Any) -> bytes:
        """``content`` as compact JSON."""
        return pydantic_core.to_json(content)


def _graph_response(build: Callable[[], Graph]) -> GraphResponse:
    """Build a graph and encode it (both off the event loop: a deep graph is megabytes)."""
    return GraphResponse(build().to_json())


@router.get(
    "/api/v1/lineage",
    summary="Marquez-compatible lineage graph around a node (both directions) (role auditor, "
    "gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    response_class=GraphResponse,
    responses=_GRAPH_RESPONSE,
)
async def marquez_lineage(
    request: Request,
    node_id: Annotated[
        str,
        Query(
            alias="nodeId",
            description="dataset:<ns>:<name> or job:<ns>:<name>",
            # Documented only: the query checks it and says what it got.
            json_schema_extra={"pattern": "^(dataset|job):.*:"},
        ),
    ],
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 20,
) -> GraphResponse:
    """``{"graph": [{"id", "type", "data", "inEdges", "outEdges"}]}``; edges name ledger indexes."""
    queries = runtime(request).queries
    return await run_in_threadpool(_graph_response, lambda: queries.marquez_lineage(node_id, depth))


@router.get(
    "/api/v1/lineage/graph",
    summary="Lineage graph of a dataset, job or run, in a direction, as of a time (role auditor, "
    "gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    response_class=GraphResponse,
    responses=_GRAPH_RESPONSE,
)
async def lineage_graph(
    request: Request,
    type_: Annotated[str, Query(alias="type", pattern="^(dataset|job|run)$")],
    name: Annotated[str, Query(description="dataset or job name, or the run id")],
    namespace: Annotated[str, Query()] = "",
    direction: Annotated[Direction, Query()] = Direction.BOTH,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 20,
    as_of: Annotated[
        datetime | None, Query(description="RFC 3339: only edges whose event time is at or before")
    ] = None,
) -> GraphResponse:
    """For ``type=run`` dataset nodes are versions (``…@<writer run id>``)."""
    if type_ != "run" and not namespace:
        raise InputError("namespace is required for datasets and jobs")
    queries = runtime(request).queries
    return await run_in_threadpool(
        _graph_response,
        lambda: queries.graph(
            type_, namespace, name, direction=direction, depth=depth, as_of=as_of
        ),
    )


@router.get(
    "/api/v1/namespaces",
    summary="Namespaces seen in lineage (role auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=problems(403),
)
async def namespaces(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> NamespacesPage:
    """Paginated by ``limit`` and ``offset``."""
    rows = await run_in_threadpool(runtime(request).queries.namespaces, limit, offset)
    return NamespacesPage.model_validate({"namespaces": rows})


@router.get(
    "/api/v1/datasets",
    summary="Datasets (role auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=problems(403),
)
async def datasets(
    request: Request,
    namespace: str | None = None,
    personal: bool | None = None,
    model: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> DatasetsPage:
    """Filter by namespace, personal-data classification, or being a model."""
    queries = runtime(request).queries
    rows = await run_in_threadpool(
        lambda: queries.datasets(
            namespace, personal=personal, model=model, limit=limit, offset=offset
        )
    )
    return DatasetsPage.model_validate({"datasets": rows})


@router.get(
    "/api/v1/jobs",
    summary="Jobs (role auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=problems(403),
)
async def jobs(
    request: Request,
    namespace: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> JobsPage:
    """Paginated by ``limit`` and ``offset``."""
    queries = runtime(request).queries
    rows = await run_in_threadpool(lambda: queries.jobs(namespace, limit=limit, offset=offset))
    return JobsPage.model_validate({"jobs": rows})


@router.get(
    "/api/v1/runs",
    summary="Runs, newest first (role auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=problems(403),
)
async def runs(
    request: Request,
    namespace: str | None = None,
    job: str | None = None,
    state: Annotated[
        str | None, Query(pattern="^(?i:start|running|complete|fail|abort|other)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> RunsPage:
    """Filter by job (``namespace`` + ``job``) and state."""
    queries = runtime(request).queries
    rows = await run_in_threadpool(
        lambda: queries.runs(namespace, job, state=state, limit=limit, offset=offset)
    )
    return RunsPage.model_validate({"runs": rows})


@router.put(
    "/api/v1/datasets/{path:path}/classification",
    summary="Classify a dataset for governance (role steward or admin); recorded in the ledger",
    dependencies=[Depends(fresh_projection)],
    responses=problems(403, 409, 503),
    openapi_extra={"parameters": [IDEMPOTENCY_KEY]},
)
async def classify(
    request: Request,
    path: str,
    principal: Annotated[Principal, Depends(require(Role.STEWARD, Role.ADMIN))],
    classification: Annotated[dict[str, Any], Body()],
    namespace: Annotated[
        str | None, Query(description="the namespace, when it contains '/'; path = name then")
    ] = None,
) -> ReceiptModel:
    """The body uses the fields of the ``governance`` dataset facet (see the README).

    The path is ``{namespace}/{name}``. Namespaces are often URIs with slashes
    (``postgres://db:5432``): the split that names a known dataset is used, else the first
    ``/``; or pass ``?namespace=`` and put only the name in the path.
    """
    check_classification(classification)
    if namespace is None:
        namespace, name = await run_in_threadpool(runtime(request).queries.split_dataset_path, path)
    else:
        name = path
    assert namespace is not None
    rt = runtime(request)
    key = idempotency_key(request, rt.settings.max_idempotency_key_length)
    receipt = await rt.lineage.classify(namespace, name, classification, submitter(principal), key)
    return ReceiptModel.model_validate(receipt.to_json())


@router.get(
    "/api/v1/lineage/compliance/downstream",
    summary="Models and datasets downstream of a dataset (role auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=_NODE_QUERY_PROBLEMS,
)
async def downstream(
    request: Request,
    namespace: str,
    name: str,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 20,
    as_of: datetime | None = None,
) -> DownstreamModel:
    """What the dataset reached, each edge with the ledger indexes asserting it."""
    queries = runtime(request).queries
    found = await run_in_threadpool(
        lambda: queries.downstream_of_dataset(namespace, name, depth=depth, as_of=as_of)
    )
    return DownstreamModel.model_validate(found)


@router.get(
    "/api/v1/lineage/compliance/personal-data",
    summary="Personal data upstream of a dataset or model (by classification and tags) (role "
    "auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=_NODE_QUERY_PROBLEMS,
)
async def personal_data(
    request: Request,
    namespace: str,
    name: str,
    type_: Annotated[str, Query(alias="type", pattern="^(dataset|job)$")] = "dataset",
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 20,
    as_of: datetime | None = None,
) -> PersonalDataModel:
    """Datasets upstream that are classified personal (governance facet or ``pii`` tag)."""
    queries = runtime(request).queries
    found = await run_in_threadpool(
        lambda: queries.personal_data_upstream(
            namespace, name, kind=type_, depth=depth, as_of=as_of
        )
    )
    return PersonalDataModel.model_validate(found)


@router.get(
    "/api/v1/lineage/compliance/consent-withdrawal",
    summary="What withdrawing consent for a dataset touches since a date (role auditor, gate "
    "or admin)",
    dependencies=QUERY_DEPENDENCIES,
    responses=_NODE_QUERY_PROBLEMS,
)
async def consent_withdrawal(
    request: Request,
    namespace: str,
    name: str,
    since: datetime,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = 20,
) -> ConsentWithdrawalModel:
    """Downstream datasets, jobs, runs and models derived from the dataset since ``since``."""
    queries = runtime(request).queries
    found = await run_in_threadpool(
        lambda: queries.consent_withdrawal_impact(namespace, name, since, depth=depth)
    )
    return ConsentWithdrawalModel.model_validate(found)


# ------------------------------------------------------------------------- schema warnings


class NodeNameModel(BaseModel):
    """A job or dataset, by namespace and name."""

    namespace: str
    name: str


class WarningModel(BaseModel):
    """One schema warning recorded for an event."""

    position: int = Field(description="its place among the event's warnings, from 0")
    path: str = Field(description="where in the event, as a JSON path such as $.run.facets")
    message: str = Field(description="what deviates from the OpenLineage schema")


class EventSummaryModel(BaseModel):
    """What an OpenLineage event's ledger envelope says about it, with names resolved."""

    ledger_index: int = Field(description="the event's ledger index")
    event_kind: str | None = Field(description="run, dataset or job (the event's shape)")
    event_type: str | None = Field(description="eventType of a run event (START, COMPLETE, …)")
    event_time: str | None = Field(description="eventTime, in UTC")
    received_at: str | None = Field(description="when the ledger accepted the event")
    job: NodeNameModel | None = Field(description="the event's job, when known")
    run_id: str | None = Field(description="run.runId of a run event")
    dataset: NodeNameModel | None = Field(description="the dataset of a dataset event")
    erased: bool = Field(description="the payload was erased, and the projection forgot it")


class LineageEventResponse(EventSummaryModel):
    """An OpenLineage event of the ledger and the schema warnings recorded for it."""

    kind: str = Field(description="the entry's kind: openlineage")
    warnings: list[WarningModel] = Field(description="in the order validation found them")


class WarningListItemModel(EventSummaryModel, WarningModel):
    """A schema warning with the event it was recorded for."""


class WarningListResponse(BaseModel):
    """A page of schema warnings, newest event first."""

    warnings: list[WarningListItemModel]


@router.get(
    "/api/v1/lineage/events/{index}",
    summary="One OpenLineage event of the ledger and the schema warnings recorded for it (role "
    "auditor, gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    response_model=LineageEventResponse,
    responses=problems(403, (404, "no entry at this index, or not an OpenLineage event")),
)
async def lineage_event(
    request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]
) -> LineageEventResponse:
    """Kind, type, time, job and run from the event's envelope; warnings from validation."""
    warnings = LineageWarnings(runtime(request).engine)
    found = await run_in_threadpool(warnings.event, index)
    return LineageEventResponse.model_validate(found.to_json())


@router.get(
    "/api/v1/lineage/warnings",
    summary="Schema warnings recorded for OpenLineage events, newest event first (role auditor, "
    "gate or admin)",
    dependencies=QUERY_DEPENDENCIES,
    response_model=WarningListResponse,
    responses=problems(403),
)
async def lineage_warnings(
    request: Request,
    namespace: Annotated[
        str | None,
        Query(description="only events whose job (a dataset event: dataset) is in it"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INDEX)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
) -> WarningListResponse:
    """Each warning with its event's ledger index and job; paginated by warnings."""
    warnings = LineageWarnings(runtime(request).engine)
    items = await run_in_threadpool(lambda: warnings.listing(namespace, limit=limit, offset=offset))
    return WarningListResponse.model_validate({"warnings": [i.to_json() for i in items]})
