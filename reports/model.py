"""``report-data.json``: everything a report says, as one versioned document.

Every figure of the PDF, every CSV and the OSCAL document are computed from this document and
nothing else, so ``governance report verify`` can regenerate them from it and a reader can check
any number against it. It is written in RFC 8785 canonical JSON; its SHA-256 is the report's data
digest, appended to the ledger when the report is issued.

Times are the service's fixed-width RFC 3339 form (``…Z``); ledger indexes are integers; lists
are in a stated order so the same checkpoint and options always give the same bytes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The version of the document's shape.
SCHEMA_VERSION: Literal[1] = 1

Framework = Literal["gdpr", "uae_pdpl", "iso27001"]
Outcome = Literal["allow", "deny", "error"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Data):
    """The decisions covered: ``evaluated_at`` in ``[start, end)``."""

    start: str
    end: str


class ReportInfo(_Data):
    """What was asked for, and by whom the report was generated."""

    #: ``sha256:`` of the canonical options (framework, period, checkpoint size): the same
    #: options give the same id.
    report_id: str
    #: ``all`` or one framework, as asked.
    framework: Literal["gdpr", "uae_pdpl", "iso27001", "all"]
    #: The frameworks the report covers, in catalog order.
    frameworks: list[Framework]
    period: Period
    #: The document's time: the checkpoint's (never the clock, so regeneration is identical).
    generated_at: str
    #: ``governance-audit <version>``.
    generated_by: str


class Checkpoint(_Data):
    """The signed checkpoint the report is computed as of."""

    size: int
    root: str
    #: The signed note, exactly as the ledger signed it.
    note: str
    #: The ledger's public verifier key (``origin+keyid+base64``).
    public_key: str
    created_at: str


class CatalogControl(_Data):
    """A control of the catalog the report covers."""

    control: str
    framework: Framework
    article: str
    title: str
    enforcement: Literal["deny", "warn"]
    #: ISO 27001 Annex A theme or GDPR/PDPL chapter, for the per-family chart.
    family: str


class Criteria(_Data):
    """What the decisions were judged against."""

    bundle_digests: list[str]
    engines: list[str]
    targets: list[str]
    catalog_version: str
    catalog: list[CatalogControl]


class OutcomeCounts(_Data):
    """Decisions by outcome."""

    allow: int = 0
    deny: int = 0
    error: int = 0


class ControlCount(_Data):
    """A control and how often something happened to it."""

    control: str
    count: int


class FrameworkSummary(_Data):
    """The executive summary of one framework."""

    framework: Framework
    decisions: OutcomeCounts
    top_failing: list[ControlCount]


class Summary(_Data):
    """Figures over the period."""

    decisions: int
    outcomes: OutcomeCounts
    break_glass: int
    dry_run: int
    models: int
    frameworks: list[FrameworkSummary]
    #: Approvals recorded in the period (``approvals``).
    approvals: int = 0


class Decision(_Data):
    """One gate decision in the period (``gate-decision`` entry)."""

    decision_id: str
    index: int
    evaluated_at: str
    model_name: str
    model_version: str
    digest: str
    target: str
    mode: Literal["enforce", "dry_run", "break_glass"]
    outcome: Outcome
    allow: bool
    requested_by: str
    violations: list[str]
    warnings: list[str]
    waived: list[str]
    bundle_digest: str
    engine: str


class ControlResults(_Data):
    """How one control fared over the period's decisions that evaluated it."""

    control: str
    framework: Framework
    article: str
    title: str
    enforcement: Literal["deny", "warn"]
    passed: int
    failed: int
    not_applicable: int
    not_evaluated: int
    waived: int
    verified: int
    declared: int
    #: Decisions in which it failed, by id (ordered by ledger index).
    failed_in: list[str]
    #: Ledger indexes its results cite.
    evidence: list[int]


class EvidenceRef(_Data):
    """A ledger entry the report cites, with its inclusion proof in ``proofs.json``."""

    index: int
    kind: str
    leaf_hash: str
    #: What cites it: decision ids, ``approval:<index>``, ``attestation:<index>``,
    #: ``waiver:<index>``.
    cited_by: list[str]


class Exception_(_Data):
    """A waiver in force at some time of the period (the exceptions register)."""

    index: int
    control: str
    digest: str
    target: str
    approver: str
    granted_at: str
    expires_at: str
    reason: str
    #: Decisions that listed the control as waived under this waiver's digest and target.
    decisions_covered: list[str]


class BreakGlass(_Data):
    """A break-glass decision: allowed by an admin, flagged."""

    decision_id: str
    index: int
    evaluated_at: str
    requested_by: str
    reason: str
    outcome: Outcome


class Approval(_Data):
    """An approval of a promotion recorded in the period (an ``approval`` entry).

    Who approved what: the evidence of segregation of duties (ISO 27001 A.5.3).
    """

    index: int
    digest: str
    target: str
    approver: str
    approved_at: str
    #: The decision it names, if any.
    decision_id: str | None


class AttestationVerdict(_Data):
    """An attestation verified (or not) in the period."""

    index: int
    purpose: str
    verdict: Literal["pass", "fail"]
    reason: str | None
    subject_digests: list[str]
    signer: str | None
    received_at: str


class SupplyChain(_Data):
    """Attestation verdicts in the period."""

    passed: int
    failed: int
    verdicts: list[AttestationVerdict]


class PromotedModel(_Data):
    """A model allowed in the period, and the personal data upstream of it (system description)."""

    name: str
    version: str
    digest: str
    targets: list[str]
    decisions: list[str]
    #: Lineage node ids of personal-data datasets upstream, from the decision's recorded input.
    personal_data_upstream: list[str]


class Limitations(_Data):
    """What the report cannot vouch for."""

    engine_errors: int
    not_evaluated: list[ControlCount]
    declared: list[ControlCount]
    #: Decisions whose entry's payload was erased: their control results are gone, so they are
    #: counted by outcome but not in any control's figures.
    erased: int = 0


class CorrectiveAction(_Data):
    """A control that failed repeatedly (in at least two decisions)."""

    control: str
    failures: int
    first: str
    last: str


class DayCount(_Data):
    """Decisions of one day (UTC) by outcome, for the decisions-over-time chart."""

    day: str
    allow: int
    deny: int
    error: int


class FamilyCount(_Data):
    """Results of one control family, for the results-per-family chart."""

    family: str
    passed: int
    failed: int
    other: int


class SoaEntry(_Data):
    """A row of the ISO 27001 Statement of Applicability for an Annex A control evaluated here."""

    control: str
    annex_a: str
    title: str
    applicable: bool
    justification: str
    evaluated_by_service: bool


class ReportData(_Data):
    """The whole document (module docstring)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    report: ReportInfo
    checkpoint: Checkpoint
    criteria: Criteria
    summary: Summary
    decisions: list[Decision]
    controls: list[ControlResults]
    evidence: list[EvidenceRef]
    exceptions: list[Exception_]
    break_glass: list[BreakGlass]
    supply_chain: SupplyChain
    system: list[PromotedModel]
    limitations: Limitations
    corrective_actions: list[CorrectiveAction]
    decisions_per_day: list[DayCount]
    results_per_family: list[FamilyCount]
    soa: list[SoaEntry] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
