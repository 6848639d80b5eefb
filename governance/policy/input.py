"""The policy input document: everything a decision may look at, as one versioned JSON document.

The gate assembles it from the ledger (never from the caller's word) and it is the decision entry's
payload, so a decision can be evaluated again later on exactly what it saw. Rego reads it as
``input``; its JSON Schema is published (:func:`json_schema`, ``governance policy schema``) and the
copy in ``governance/policy/schemas/`` is checked against this model by the tests.

Conventions, chosen so that both Rego engines read the document alike:

* every time is RFC 3339 in the service's fixed-width form with the offset written ``+00:00``
  (:func:`governance.timefmt.policy_time`); the embedded engine cannot parse ``Z``, and the fixed
  width makes times comparable as strings;
* names are snake_case; what a producer sent in a camelCase facet is renamed when the document is
  built; unknown facet fields are kept under ``extras``;
* absent knowledge is ``null`` or an empty list, never a guessed default: a policy tells "not
  recorded" (fail, or ``not_evaluated``) from "recorded as false".
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: The version of the document's shape; a decision records the version it was evaluated with.
SCHEMA_VERSION: Literal[1] = 1

_DIGEST = r"^sha256:[0-9a-f]{64}$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$"


def _real_time(value: str) -> str:
    """Refuse a time of the right shape that names no instant (a 30 February, an hour 24)."""
    datetime.fromisoformat(value)
    return value


Time = Annotated[str, Field(pattern=_TIME), AfterValidator(_real_time)]
"""An RFC 3339 time as :func:`governance.timefmt.policy_time` writes it: UTC, microseconds,
``+00:00``. One width, so times also compare as text; both engines parse it."""


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Use(_Document):
    """What the model's outputs are used for (GDPR Art. 22, PDPL Art. 18)."""

    automated_decision: bool = False
    legal_or_similar_effect: bool = False


class LineageNode(_Document):
    """A node of the lineage graph by namespace and name."""

    namespace: str
    name: str


class Model(_Document):
    """The model asked to be promoted."""

    name: str
    version: str
    digest: str = Field(pattern=_DIGEST)
    lineage: LineageNode | None = None
    purpose: str | None = None
    use: Use = Use()
    owner: str | None = None
    authors: list[str] = []
    #: Features the model may use (GDPR Art. 5(1)(c)); ``null`` when none were declared.
    approved_features: list[str] | None = None


class Target(_Document):
    """Where the model is to go, and how."""

    environment: str
    strategy: Literal["direct", "canary", "blue_green"] = "direct"


class Declaration(_Document):
    """Who asserted a dataset's classification, when, and by which ledger entry."""

    #: ``facet``: a producer's ``governance`` dataset facet; ``steward``: a classification entry.
    source: Literal["facet", "steward"]
    index: int
    declared_by: str | None = None
    declared_at: Time | None = None


class Location(_Document):
    """Where data is stored or processed."""

    country: str | None = None
    region: str | None = None


class TransferBasis(_Document):
    """One legal basis for a cross-border transfer (GDPR Ch. V, PDPL Arts. 22-23)."""

    #: ``adequacy``, ``scc``, ``bcr``, ``derogation``, ``pdpl_art22``, ``pdpl_art23`` (or another
    #: value a producer sent, which no rule accepts).
    mechanism: str
    ref: str | None = None
    tia_ref: str | None = None


class Processor(_Document):
    """A third party that processes the data (GDPR Art. 28, PDPL Art. 8)."""

    name: str
    dpa_ref: str | None = None
    instructions_ref: str | None = None


class Classification(_Document):
    """What is declared about a dataset: the ``governance`` facet's fields, in snake_case."""

    personal_data: bool = False
    special_category: bool = False
    criminal_offence: bool = False
    children: bool = False
    lawful_basis: str | None = None
    lia_ref: str | None = None
    art9_condition: str | None = None
    art10_authority_ref: str | None = None
    consent_ref: str | None = None
    compatibility_ref: str | None = None
    pdpl_basis: str | None = None
    purposes: list[str] = []
    ropa_ref: str | None = None
    dpia_ref: str | None = None
    location: Location | None = None
    transfer: list[TransferBasis] = []
    collected_at: Time | None = None
    retention_days: int | None = None
    anonymised: bool = False
    encryption_at_rest: bool | None = None
    pseudonymised: bool | None = None
    access_policy_ref: str | None = None
    dpbd_justification_ref: str | None = None
    #: Data for testing or evaluation: an approval to use it unmasked (ISO A.8.33).
    test_data_approval_ref: str | None = None
    #: On the model's own node: the Art. 22(2) exception, the Art. 22(4) condition, the PDPL
    #: Art. 18 basis, and where a person can ask for human review.
    art22_exception_ref: str | None = None
    art22_4_condition: str | None = None
    pdpl_art18_basis: str | None = None
    human_review_ref: str | None = None
    jurisdictions: list[str] = []
    #: A sector whose own law governs the data (PDPL Art. 2): ``health``, ``banking``,
    #: ``government``, ``difc``, ``adgm``.
    sector: str | None = None
    processor: Processor | None = None
    extras: dict[str, Any] = {}


class DatasetField(_Document):
    """A column of a dataset and its tags (``pii``, ``pii=direct``, ``special_category``)."""

    name: str
    tags: list[str] = []


class ColumnEdge(_Document):
    """A column of this dataset derived from a column of another (``columnLineage`` facet)."""

    field: str
    input_node: str
    input_field: str
    transformation: str | None = None


class Dataset(_Document):
    """A dataset upstream of the model (or the model's own node), with what is known of it."""

    node: str
    namespace: str
    name: str
    #: Hops from the model's node: 0 is the model itself, 1 what the training run read.
    distance: int = Field(ge=0)
    #: What the data is used for in the model's lineage: ``training``, ``evaluation``, ``test``.
    used_for: list[str] = []
    classification: Classification | None = None
    declaration: Declaration | None = None
    tags: list[str] = []
    fields: list[DatasetField] = []
    owners: list[str] = []
    #: The version read (``datasetVersion``), and when that version was written.
    version: str | None = None
    snapshot_time: Time | None = None
    column_lineage: list[ColumnEdge] = []
    #: Ledger indexes that assert what is said here.
    evidence: list[int] = []


class Run(_Document):
    """A run of a job in the model's lineage."""

    run_id: str
    state: str
    started_at: Time | None = None
    ended_at: Time | None = None
    #: The principal whose key submitted the run's events.
    submitted_by: list[str] = []
    #: Every event of the run: its type and time, in time order.
    events: list[RunEvent] = []
    evidence: list[int] = []


class RunEvent(_Document):
    """One OpenLineage event of a run."""

    type: str
    time: Time
    index: int


class Job(_Document):
    """A job whose runs wrote the model or what it was trained on."""

    node: str
    namespace: str
    name: str
    distance: int = Field(ge=0)
    source_code_location: str | None = None
    owners: list[str] = []
    processing_engine: str | None = None
    location: Location | None = None
    processor: Processor | None = None
    #: Node ids of the datasets the job's runs read and wrote (``dataset:<ns>:<name>``).
    inputs: list[str] = []
    outputs: list[str] = []
    runs: list[Run] = []


class QualityCheck(_Document):
    """A test or data-quality assertion a run reported (``test`` run facet, assertions facet)."""

    name: str
    status: Literal["pass", "fail", "skip"]
    severity: Literal["error", "warn"] = "error"
    kind: str | None = None
    run_id: str | None = None
    index: int | None = None


class Attestation(_Document):
    """A verified attestation about the model's digest (failed verifications are not here)."""

    index: int
    purpose: str
    format: str
    predicate_type: str | None = None
    subject_digests: list[str] = []
    signer_identity: str | None = None
    signer_issuer: str | None = None
    key_id: str | None = None
    signing_time: Time | None = None
    integrated_time: Time | None = None
    tlog_index: int | None = None
    builder_id: str | None = None
    source_repo: str | None = None
    source_ref: str | None = None


class Approval(_Document):
    """An approval of the model's promotion to the target, by an authenticated principal."""

    approver: str
    decision: Literal["approve", "reject"] = "approve"
    at: Time
    index: int
    comment: str | None = None


class Waiver(_Document):
    """An exception for one control on the model's digest and target, until it expires."""

    control: str
    approver: str
    reason: str
    at: Time
    expires_at: Time
    index: int


class Change(_Document):
    """The change record the promotion refers to (ISO A.8.32)."""

    ref: str
    status: str | None = None
    approved_at: Time | None = None
    digest: str | None = None
    #: The ledger entry that records the change reference.
    index: int | None = None


class Assessment(_Document):
    """A DPIA, LIA or TIA as recorded, with who declared it."""

    ref: str | None = None
    status: str | None = None
    approved_at: Time | None = None
    review_due: Time | None = None
    dpo_advice_ref: str | None = None
    residual_risk: str | None = None
    prior_consultation_ref: str | None = None
    declared_by: str | None = None
    declared_at: Time | None = None
    #: The ledger entry that records the assessment.
    index: int | None = None


class Assessments(_Document):
    """The impact assessments on record."""

    dpia: Assessment | None = None
    lia: Assessment | None = None
    tia: Assessment | None = None


class Requests(_Document):
    """How far data subjects' requests have been applied (latest time fully applied)."""

    erasure_applied_through: Time | None = None
    objection_applied_through: Time | None = None
    restriction_applied_through: Time | None = None
    stop_applied_through: Time | None = None
    correction_applied_through: Time | None = None
    withdrawal_applied_through: Time | None = None


class Incident(_Document):
    """A personal-data breach on record."""

    type: str
    affects: list[str] = []
    aware_at: Time
    authority_notified_at: Time | None = None
    subjects_notified_at: Time | None = None
    #: When the breach was closed; ``null`` while open or when not recorded.
    closed_at: Time | None = None
    #: The ledger entry that records the incident.
    index: int | None = None


class Scans(_Document):
    """Security scans of the model's serving image and code, when recorded."""

    sast_status: str | None = None
    critical: int | None = None
    high: int | None = None
    #: The ledger entry that records the scan results.
    index: int | None = None


class LedgerState(_Document):
    """The ledger the evidence comes from, as of the decision."""

    size: int
    root: str
    checkpoint_size: int


class PolicyInput(_Document):
    """The whole document a decision is evaluated on (``input`` in Rego)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    evaluated_at: Time
    requested_by: str
    initiator: str | None = None
    target: Target
    model: Model
    #: Frameworks the caller asked for; ``null`` for every applicable one. A request can only
    #: narrow what applies, never widen it.
    frameworks: list[Literal["gdpr", "uae_pdpl", "iso27001"]] | None = None
    datasets: list[Dataset] = []
    jobs: list[Job] = []
    tests: list[QualityCheck] = []
    attestations: list[Attestation] = []
    approvals: list[Approval] = []
    waivers: list[Waiver] = []
    change: Change | None = None
    assessments: Assessments = Assessments()
    requests: Requests | None = None
    incidents: list[Incident] = []
    scans: Scans | None = None
    #: Digests the lineage declares for the model (a dataset version or the governance facet),
    #: with the ledger index that says so; one that differs from ``model.digest`` fails.
    declared_digests: list[DeclaredDigest] = []
    ledger: LedgerState | None = None


class DeclaredDigest(_Document):
    """A digest the lineage states for the model's node."""

    digest: str
    index: int


Run.model_rebuild()
PolicyInput.model_rebuild()

_SCHEMA_FILE = Path(__file__).with_name("schemas") / f"input-v{SCHEMA_VERSION}.json"


def json_schema() -> dict[str, Any]:
    """The document's JSON Schema (2020-12), as published."""
    schema = PolicyInput.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://governance-audit.dev/schemas/policy-input-v{SCHEMA_VERSION}.json"
    return schema


@cache
def published_schema() -> dict[str, Any]:
    """The JSON Schema as shipped in ``governance/policy/schemas/``."""
    loaded: dict[str, Any] = json.loads(_SCHEMA_FILE.read_text())
    return loaded
