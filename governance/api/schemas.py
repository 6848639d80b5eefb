"""Response documents shared by several routes (API schemas, not tables).

The features build their answers as plain JSON values (``to_json``); these models describe
those values for the OpenAPI document and, on routes that return a model, check them on the
way out. A member that is left out rather than set to null is typed ``X | Absent = None``:
optional in the schema, never ``null``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from governance.sql import MAX_BIGINT as MAX_INDEX

__all__ = ["MAX_INDEX", "ReceiptModel"]

#: The type of a member that is left out of the document rather than ``null``.
Absent = SkipJsonSchema[None]

#: An open JSON object: a facet, a classification, a job type, as the producer sent it.
OpenMap = dict[str, Any]


def absent(description: str) -> Any:
    """The field of a member that is left out when it does not apply (type it ``X | Absent``)."""
    return Field(None, description=description, json_schema_extra=_no_default)


def _no_default(schema: dict[str, Any]) -> None:
    # The member is left out, not null: a null default would contradict its type.
    schema.pop("default", None)


# ------------------------------------------------------------------------------ ledger receipts


class ReceiptModel(BaseModel):
    """Proof that an entry is in the ledger: verify the leaf against the checkpoint's root."""

    index: int = Field(description="the entry's ledger index")
    kind: str = Field(description="the entry's kind")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ envelope), hex")
    sha256: str = Field(description="SHA-256 of the payload, hex")
    tree_size: int = Field(description="size of the tree the checkpoint and the proof are for")
    checkpoint: str = Field(description="the signed checkpoint note (C2SP tlog-checkpoint)")
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path, leaf side first, hex")
    duplicate: bool = Field(description="true when this answers a retry of a recorded entry")


# ------------------------------------------------------------------------------------- problems


class ProblemError(BaseModel):
    """One thing wrong with the request, by where it is."""

    path: str = Field(description="where: a JSON path into the body, or a parameter's name")
    message: str = Field(description="what is wrong there")


class ProblemModel(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``); never a stack trace.

    Members beyond the standard five appear only on the problems that carry them.
    """

    # RFC 9457 §3.2: problem types may carry extension members; clients ignore the unknown.
    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        description="urn:governance-audit:problem:<code>, or about:blank",
        examples=["urn:governance-audit:problem:invalid-input"],
    )
    title: str = Field(description="the status's reason phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request")
    instance: str | Absent = absent("the request path")
    hint: str | Absent = absent("how to fix it")
    errors: list[ProblemError] | Absent = absent(
        "each thing wrong with the request, by JSON path or parameter"
    )
    reason: str | Absent = absent("attestation verification failures: the reason code")
    index: int | Absent = absent(
        "attestation verification failures: the ledger index of the verdict"
    )
    receipt: ReceiptModel | Absent = absent(
        "attestation verification failures: the verdict's ledger receipt"
    )


# -------------------------------------------------------------------------------------- lineage


class NameRef(BaseModel):
    """A job or dataset by namespace and name."""

    namespace: str
    name: str


class EdgeModel(BaseModel):
    """A lineage edge and the ledger entries that assert it."""

    origin: str = Field(description="node id the edge leaves")
    destination: str = Field(description="node id the edge reaches")
    first_seen: str = Field(description="the earliest event time asserting it (RFC 3339)")
    ledger_indexes: list[int] = Field(
        description="ledger indexes of the events asserting it (the first 20 by event time)"
    )


class DatasetData(BaseModel):
    """A dataset as the lineage projection has it."""

    namespace: str
    name: str
    classification: OpenMap | None = Field(
        description="the governance facet's fields, or a steward's classification"
    )
    tags: list[str] = Field(description="the tags facet, as key or key=value")
    model: bool = Field(description="the dataset is a model")
    personal: bool = Field(description="classified as personal data (classification or tags)")
    first_ledger_index: int
    last_ledger_index: int


class DatasetVersionData(DatasetData):
    """One version of a dataset: the one a run wrote."""

    version: str = Field(description="the run id of the run that wrote this version")


class JobData(BaseModel):
    """A job as the lineage projection has it."""

    namespace: str
    name: str
    jobType: OpenMap | None = Field(description="the jobType facet")
    sourceCodeLocation: Any = Field(
        description="the sourceCodeLocation facet's url (a string, as the producer sent it)"
    )
    owners: list[Any] = Field(
        description="owner names from the ownership facet (strings, as the producer sent them)"
    )
    first_ledger_index: int
    last_ledger_index: int


class RunData(BaseModel):
    """A run: its state and times, and its job."""

    runId: str
    state: str = Field(description="the state of its latest event (START, COMPLETE, FAIL, …)")
    startedAt: str | None
    endedAt: str | None
    eventTime: str = Field(description="the time of its latest event")
    job: NameRef


class _NodeBase(BaseModel):
    id: str = Field(description="dataset:<ns>:<name>, job:<ns>:<name>, run:<id>, or a version")
    inEdges: list[EdgeModel]
    outEdges: list[EdgeModel]


class DatasetNode(_NodeBase):
    """A dataset node."""

    type: Literal["DATASET"]
    data: DatasetData


class DatasetVersionNode(_NodeBase):
    """A dataset version node (run graphs): ``dataset:<ns>:<name>@<writer run id>``."""

    type: Literal["DATASET_VERSION"]
    data: DatasetVersionData


class JobNode(_NodeBase):
    """A job node."""

    type: Literal["JOB"]
    data: JobData


class RunNode(_NodeBase):
    """A run node (run graphs)."""

    type: Literal["RUN"]
    data: RunData


LineageNode = Annotated[
    DatasetNode | DatasetVersionNode | JobNode | RunNode, Field(discriminator="type")
]


class GraphModel(BaseModel):
    """Marquez's lineage graph: nodes in id order, each with its data and edges."""

    graph: list[LineageNode]


class NamespaceModel(BaseModel):
    """A namespace seen in lineage."""

    name: str
    first_ledger_index: int


class NamespacesPage(BaseModel):
    """A page of namespaces."""

    namespaces: list[NamespaceModel]


class DatasetsPage(BaseModel):
    """A page of datasets."""

    datasets: list[DatasetData]


class JobsPage(BaseModel):
    """A page of jobs."""

    jobs: list[JobData]


class RunModel(BaseModel):
    """A run in a listing: its state, times, lineage, job and the ledger entries that told of it."""

    runId: str
    state: str
    startedAt: str | None
    endedAt: str | None
    eventTime: str
    parentRunId: str | None = Field(description="the run's parent run (the parent facet)")
    rootRunId: str | None = Field(description="the root of the run's parent chain")
    job: NameRef
    first_ledger_index: int
    last_ledger_index: int


class RunsPage(BaseModel):
    """A page of runs, newest first."""

    runs: list[RunModel]


class DatasetSummary(BaseModel):
    """A dataset in a compliance answer."""

    id: str
    namespace: str
    name: str
    classification: OpenMap | None
    tags: list[str]
    model: bool


class JobSummary(BaseModel):
    """A job in a compliance answer."""

    id: str
    namespace: str
    name: str


class DownstreamModel(BaseModel):
    """What a dataset reached: models, datasets and jobs downstream, with the edges."""

    dataset: NameRef
    models: list[DatasetSummary]
    datasets: list[DatasetSummary]
    jobs: list[JobSummary]
    edges: list[EdgeModel]


class TargetRef(BaseModel):
    """The dataset or job a question is about."""

    type: Literal["dataset", "job"]
    namespace: str
    name: str


class PersonalDataModel(BaseModel):
    """Datasets classified personal upstream of a dataset or model, with the edges."""

    target: TargetRef
    personal_datasets: list[DatasetSummary]
    edges: list[EdgeModel]


class ImpactRun(BaseModel):
    """A run that derived something from the dataset since the withdrawal's date."""

    runId: str
    state: str
    eventTime: str
    job: NameRef


class ConsentWithdrawalModel(BaseModel):
    """Everything derived from a dataset since a time, and the runs that did it."""

    dataset: NameRef
    since: str = Field(description="the time asked about, normalised (RFC 3339)")
    datasets: list[DatasetSummary]
    models: list[DatasetSummary]
    jobs: list[JobSummary]
    runs: list[ImpactRun]
    edges: list[EdgeModel]


class BatchResult(BaseModel):
    """The outcome for one event of a batch, by its position in the array."""

    position: int
    status: int = Field(description="what the event alone would have been answered (201, 400, …)")
    index: int | Absent = absent("its ledger index, when accepted")
    duplicate: bool | Absent = absent("when accepted: it was recorded before")
    detail: str | Absent = absent("why it was not accepted")
    errors: list[ProblemError] | Absent = absent("what is wrong, by JSON path")


class BatchModel(BaseModel):
    """One result per event of the batch, in order."""

    results: list[BatchResult]
