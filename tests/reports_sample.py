"""A realistic, self-consistent :class:`ReportData` for the tests of the report's outputs (the PDF,
the CSV files, the OSCAL document), built without a database.

:func:`sample_report_data` plays a quarter of gate decisions over the shipped catalog (three
frameworks, deny and warn controls) and derives every figure from them the way
``reports.data`` does: control results (a waived failure is a failure, counted as waived too;
an engine error gives no results), per-framework, per-day and per-family counts, corrective
actions, limitations, promoted models, the cited ledger entries and the ISO 27001 Statement of
Applicability. A test can recompute any figure from the document.

It has what the writers must cope with: decisions of every mode and outcome (dry run,
break-glass, an engine error every 14 decisions), waivers that decisions used, one control no
decision gives a pass or a fail (:data:`NEVER_DECIDED`), controls that were not evaluated or
rest on the requester's declaration, attestation verdicts passed and failed (one without a
signer), long digests, ids and free texts that the PDF's tables must wrap, and free text with
commas, quotes, line breaks and non-ASCII characters for the CSV and OSCAL writers. Each
decision's results cite the lineage run recorded just before it, ISO A.8 results the model's
latest attestation verdict too, and waived results their waiver.

The same arguments always give the same document: the "randomness" is a seeded generator, and the
checkpoint is signed with a fixed Ed25519 key (Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.ledger.canonical import canonical_json
from governance.ledger.checkpoint import Checkpoint as SignedHead
from governance.ledger.checkpoint import NoteSigner
from governance.policy.bundle import shipped_bundle
from governance.timefmt import format_time
from reports.model import (
    AttestationVerdict,
    BreakGlass,
    CatalogControl,
    Checkpoint,
    ControlCount,
    ControlResults,
    CorrectiveAction,
    Criteria,
    DayCount,
    Decision,
    EvidenceRef,
    Exception_,
    FamilyCount,
    Framework,
    FrameworkSummary,
    Limitations,
    Outcome,
    OutcomeCounts,
    Period,
    PromotedModel,
    ReportData,
    ReportInfo,
    SoaEntry,
    Summary,
    SupplyChain,
)

ORIGIN = "audit.example.com/governance/ledger"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
GENERATED_AT = "2026-04-01T06:00:00.000000Z"
GENERATED_BY = "governance-audit 0.1.0"
FRAMEWORKS: tuple[Framework, ...] = ("gdpr", "uae_pdpl", "iso27001")
BUNDLES = (
    "sha256:c6b988d44a0bcd8c439b0fa562cc8a5c0b12a4aa5bb82d8ec5ef711da3683d3c",
    "sha256:0f4e2d9a7b61c3e58d2a94f1b7c06e3d5a8b92c4e1f7d603a9b5c28e4d71f6a0",
)
ENGINES = ("embedded (regopy 1.5.2)", "opa (v1.4.2, REST)")
TARGETS = ("production", "staging", "uae-north-1-production-inference-cluster")
MODELS = (
    ("fraud-scoring-xgboost", "3.2.0"),
    ("customer-churn-gradient-boosted-ensemble-with-calibrated-probabilities", "2026.02.17-rc4"),
    ("support-ticket-triage-llm", "1.0.1"),
    ("credit-limit-recommender", "0.9.12"),
    ("image-kyc-face-match", "5.4.0"),
)
#: Who asks: the release pipeline enforces, an admin breaks the glass (a name with an apostrophe
#: and a non-ASCII letter, for the CSV writer), a service account runs the dry runs.
REQUESTERS = (
    "ci:github-actions/example-org/ml-models/release.yml",
    "Zoë O'Brien",
    "svc-mlops-promoter",
)
#: Controls that fail now and then, with their weight; the rest always pass or do not apply.
TROUBLED = {
    "gdpr-art35": 5,
    "iso-a8.29": 4,
    "pdpl-art21": 3,
    "gdpr-ch5": 2,
    "iso-a5.3": 2,
    "gdpr-art5-1c": 2,
    "pdpl-art7": 1,
    "iso-a8.8": 1,
}
#: Controls whose results rest on what the requester declared, not on verified evidence.
DECLARED = ("gdpr-art30", "gdpr-art28", "pdpl-art7", "iso-a5.9-12", "pdpl-art10")
#: Controls the engine sometimes could not evaluate (the input lacked what they read).
UNEVALUATED = ("gdpr-art22", "gdpr-art36", "iso-a8.11-33")
#: The control no decision gives a pass or a fail: it never applies (no input names the source
#: repository it reads), so its OSCAL finding is neither satisfied nor failed.
NEVER_DECIDED = "iso-a8.25"
#: The Annex A control of the Statement of Applicability that is not applicable, and why.
NOT_APPLICABLE_ANNEX_A = ("A.8.4", "Source code is in the group's SCM: out of scope (ISMS-SOA §4).")
PERSONAL_DATA = {
    "fraud-scoring-xgboost": [
        "dataset:postgres://payments-db.internal:5432/payments.public.card_transactions",
        "dataset:s3://example-ml-features/fraud/customer_profiles_2025/",
    ],
    "customer-churn-gradient-boosted-ensemble-with-calibrated-probabilities": [
        "dataset:bigquery://example-analytics/crm.customers_with_contact_details_and_usage_history",
    ],
    "credit-limit-recommender": [
        "dataset:postgres://credit-db.internal:5432/credit.public.applications",
        "dataset:s3://example-ml-features/credit/bureau_scores/",
        "dataset:kafka://events.internal:9092/customer-income-updates",
    ],
    "image-kyc-face-match": ["dataset:s3://example-kyc-uploads/identity-documents/"],
}
LONG_REASON = (
    "The data protection impact assessment (DPIA v3) for the fraud scoring model is under review "
    "by the supervisory authority following prior consultation under Art. 36; interim risk "
    "acceptance was signed by the DPO and the CISO on 2026-01-08 (ticket GRC-4411). Compensating "
    "controls: human review of every adverse decision, monthly bias and drift audit, and "
    "retention of scoring features limited to 90 days. To be withdrawn when the authority answers."
)
#: A reason with a comma, quotes, a line break and non-ASCII characters.
QUOTED_REASON = (
    'Penetration test of the feature store booked for February (vendor PO-7781, "grey box", '
    "staging only);\nrisk accepted by the CISO — Zoë O'Brien reviews it weekly."
)
BREAK_GLASS_REASON = (
    "Production incident INC-20931: card-fraud losses rising; roll back to the last model "
    "version the risk committee approved, pending the full gate."
)
#: The ledger index the decisions come after (after the last attestation verdict if that is
#: later: no two entries share an index).
FIRST_DECISION = 2_000

Status = Literal["pass", "fail", "not_applicable", "not_evaluated"]


def _sha256(*parts: object) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()


def family(control: str) -> str:
    """The family (GDPR/PDPL chapter, ISO Annex A theme) a control belongs to."""
    if control.startswith("iso-a5"):
        return "ISO A.5 Organizational controls"
    if control.startswith("iso-"):
        return "ISO A.8 Technological controls"
    if control.startswith("gdpr-"):
        if control == "gdpr-ch5":
            return "GDPR Ch. V Transfers"
        if control in ("gdpr-art17-21", "gdpr-art22"):
            return "GDPR Ch. III Rights of the data subject"
        if control.startswith("gdpr-art5") or control in ("gdpr-art6", "gdpr-art7", "gdpr-art9"):
            return "GDPR Ch. II Principles"
        if control == "gdpr-art10":
            return "GDPR Ch. II Principles"
        return "GDPR Ch. IV Controller and processor"
    if control in ("pdpl-art15-17", "pdpl-art18"):
        return "PDPL Rights of the data subject"
    if control == "pdpl-art22-23":
        return "PDPL Cross-border transfer"
    if control in ("pdpl-art2", "pdpl-art4", "pdpl-art5"):
        return "PDPL Processing conditions"
    return "PDPL Controller and processor duties"


@cache
def catalog() -> tuple[CatalogControl, ...]:
    """The shipped catalog's controls, in catalog order, with their family."""
    return tuple(
        CatalogControl(
            control=c.id,
            framework=cast(Framework, c.framework),
            article=c.article,
            title=c.title,
            enforcement="deny" if c.enforcement == "deny" else "warn",
            family=family(c.id),
        )
        for c in shipped_bundle().controls()
    )


@cache
def _enforcement() -> dict[str, Literal["deny", "warn"]]:
    return {c.control: c.enforcement for c in catalog()}


@cache
def _framework_of() -> dict[str, Framework]:
    return {c.control: c.framework for c in catalog()}


def _soa(controls: Iterable[CatalogControl]) -> list[SoaEntry]:
    """One Statement of Applicability row per Annex A control an ISO control cites."""
    rows = []
    for c in controls:
        if c.framework != "iso27001":
            continue
        refs = re.findall(r"A\.\d+\.\d+", c.article)
        titles = c.title.split("; ")
        if len(titles) != len(refs):
            titles = [c.title] * len(refs)
        for ref, title in zip(refs, titles, strict=True):
            applicable = ref != NOT_APPLICABLE_ANNEX_A[0]
            rows.append(
                SoaEntry(
                    control=c.control,
                    annex_a=ref,
                    title=title,
                    applicable=applicable,
                    justification=(
                        f"Evaluated by the promotion gate on every model promotion as "
                        f"{c.control} (enforcement {c.enforcement})."
                        if applicable
                        else NOT_APPLICABLE_ANNEX_A[1]
                    ),
                    evaluated_by_service=True,
                )
            )
    return rows


@dataclass
class _Waiver:
    index: int
    control: str
    model: int
    target: str
    approver: str
    granted: datetime
    expires: datetime
    reason: str
    covered: list[str] = field(default_factory=list)

    def covers(self, control: str, model: int, target: str, at: datetime) -> bool:
        return (control, model, target) == (self.control, self.model, self.target) and (
            self.granted <= at < self.expires
        )


def _waivers() -> list[_Waiver]:
    return [
        _Waiver(
            412,
            "gdpr-art35",
            0,
            "production",
            "dpo@example.com (Data Protection Officer)",
            datetime(2025, 12, 20, 9, 30, tzinfo=UTC),
            datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC),
            LONG_REASON,
        ),
        _Waiver(
            655,
            "iso-a8.29",
            1,
            "staging",
            "ciso@example.com",
            datetime(2026, 1, 10, 14, 0, tzinfo=UTC),
            datetime(2026, 2, 15, 0, 0, tzinfo=UTC),
            QUOTED_REASON,
        ),
        _Waiver(
            1890,
            "pdpl-art21",
            3,
            "uae-north-1-production-inference-cluster",
            "head-of-risk@example.ae",
            datetime(2026, 2, 2, 8, 15, tzinfo=UTC),
            datetime(2026, 6, 30, 0, 0, tzinfo=UTC),
            "PDPL impact assessment being translated into Arabic for the UAE Data Office; the "
            "English version was approved on 2026-01-29.",
        ),
    ]


def _digest(model: int) -> str:
    name, version = MODELS[model]
    return "sha256:" + _sha256("model", name, version)


def _attestations(n: int) -> list[AttestationVerdict]:
    """``n`` verdicts, a week apart, on the models in turn; one in four failed."""
    verdicts = []
    for i in range(n):
        failed = i % 4 == 2
        signer: str | None = (
            "https://github.com/example-org/ml-models/.github/workflows/release.yml"
            f"@refs/tags/v{i}.0.0"
        )
        reason = None
        if failed and i % 8 == 6:
            signer, reason = None, "no_signature: the bundle carries no signature to verify"
        elif failed:
            reason = (
                "identity_not_allowed: the signer identity is not allowed for this purpose "
                "(https://github.com/example-org/ml-models/.github/workflows/release.yml"
                "@refs/heads/feature/unreviewed-experiment)"
            )
        verdicts.append(
            AttestationVerdict(
                index=1_200 + 97 * i,
                purpose=("model-release", "training-provenance")[i % 2],
                verdict="fail" if failed else "pass",
                reason=reason,
                subject_digests=[_digest(i % len(MODELS)), "sha256:" + _sha256("weights", i)],
                signer=signer,
                received_at=format_time(START + timedelta(days=7 * i, hours=3)),
            )
        )
    return verdicts


@dataclass
class _Result:
    """One control's result in one decision, as the engine gives it."""

    status: Status
    basis: Literal["verified", "declared"]
    #: The ledger entries it cites, with their kind.
    evidence: list[tuple[int, str]]


@dataclass
class _Tally:
    status: Counter[str] = field(default_factory=Counter)
    waived: int = 0
    verified: int = 0
    declared: int = 0
    failed_in: list[str] = field(default_factory=list)
    failed_at: list[str] = field(default_factory=list)
    evidence: set[int] = field(default_factory=set)


class _Ledger:
    """The entries the report cites: kind and citers (each citer once in a row)."""

    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}
        self.cited: dict[int, list[str]] = {}

    def cite(self, index: int, kind: str, by: str) -> None:
        self.kinds[index] = kind
        citers = self.cited.setdefault(index, [])
        if not citers or citers[-1] != by:
            citers.append(by)


def _decision_id(i: int) -> str:
    return (
        f"{_sha256('decision', i)[:8]}-{_sha256('d', i)[:4]}-4{_sha256('e', i)[:3]}-"
        f"a{_sha256('f', i)[:3]}-{_sha256('g', i)[:12]}"
    )


@dataclass
class _Play:
    """The period's decisions, played one by one, and what they add up to."""

    n: int
    waivers: list[_Waiver]
    verdicts: list[AttestationVerdict]
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    ledger: _Ledger = field(default_factory=_Ledger)
    decisions: list[Decision] = field(default_factory=list)
    tallies: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    per_framework: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    #: Each model's verdicts (time, index) by time: its decisions' supply-chain results cite
    #: the latest.
    by_model: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for v in sorted(self.verdicts, key=lambda v: v.received_at):
            self.by_model[v.subject_digests[0]].append((v.received_at, v.index))

    def attestation(self, digest: str, at: str) -> int | None:
        """The latest verdict on ``digest`` received by ``at``, if any."""
        verdicts = self.by_model[digest]
        before = bisect.bisect_right(verdicts, (at, sys.maxsize))  # received at ``at``: included
        return verdicts[before - 1][1] if before else None

    def play(self) -> None:
        last = max((v.index for v in self.verdicts), default=0)
        index = max(FIRST_DECISION, last + 1)
        for i in range(self.n):
            index += 3 + self.rng.randrange(40)
            self.decide(i, index)

    def decide(self, i: int, index: int) -> None:
        """Decision ``i``, at ledger ``index`` (its lineage run is entry ``index - 1``)."""
        rng, n = self.rng, self.n
        at = START + timedelta(seconds=int((END - START).total_seconds() * (i + rng.random()) / n))
        model = rng.randrange(len(MODELS))
        target = TARGETS[rng.randrange(len(TARGETS))]
        # Every 10th decision is one a waiver in force is there for (the one that covered the
        # fewest decisions so far): the waived control fails in it.
        forced: _Waiver | None = None
        in_force = [w for w in self.waivers if w.granted <= at < w.expires]
        if i % 10 == 4 and in_force:
            forced = min(in_force, key=lambda w: len(w.covered))
            model, target = forced.model, forced.target
        mode: Literal["enforce", "dry_run", "break_glass"] = "enforce"
        if i % 15 == 7:
            mode = "break_glass"
        elif i % 10 == 3:
            mode = "dry_run"
        errored = i % 14 == 5
        evaluated_at = format_time(at)
        digest = _digest(model)
        attestation = self.attestation(digest, evaluated_at)
        enforcement = _enforcement()
        results: dict[str, _Result] = {}
        violations: list[str] = []
        warnings: list[str] = []
        waived: list[tuple[str, _Waiver]] = []
        for control in () if errored else enforcement:
            cites = [(index - 1, "lineage-run")]
            if control.startswith("iso-a8") and attestation is not None:
                cites.append((attestation, "attestation"))
            status: Status
            if control == NEVER_DECIDED:
                status = "not_applicable"
            elif (forced is not None and control == forced.control) or (
                rng.random() < TROUBLED.get(control, 0) / 20
            ):
                status = "fail"
                waiver = next((w for w in in_force if w.covers(control, model, target, at)), None)
                if waiver is not None and enforcement[control] == "deny":
                    waived.append((control, waiver))
                    cites.append((waiver.index, "waiver"))
                elif enforcement[control] == "deny":
                    violations.append(control)
                else:
                    warnings.append(control)
            elif control.startswith("pdpl-") and target != TARGETS[2] and rng.random() < 0.7:
                status = "not_applicable"
            elif control in UNEVALUATED and rng.random() < 0.15:
                status, cites = "not_evaluated", []
            else:
                status = "pass"
            basis: Literal["verified", "declared"] = (
                "declared" if control in DECLARED else "verified"
            )
            results[control] = _Result(status, basis, cites)
        outcome: Outcome = "error" if errored else ("deny" if violations else "allow")
        name, version = MODELS[model]
        decision = Decision(
            decision_id=_decision_id(i),
            index=index,
            evaluated_at=evaluated_at,
            model_name=name,
            model_version=version,
            digest=digest,
            target=target,
            mode=mode,
            outcome=outcome,
            allow=outcome == "allow" or mode != "enforce",
            requested_by=REQUESTERS[("enforce", "break_glass", "dry_run").index(mode)],
            violations=violations,
            warnings=warnings,
            waived=[control for control, _ in waived],
            bundle_digest=BUNDLES[0] if i < n // 2 else BUNDLES[1],
            engine=ENGINES[i % 4 == 1],
        )
        self.record(decision, results, waived)

    def record(
        self, d: Decision, results: dict[str, _Result], waived: list[tuple[str, _Waiver]]
    ) -> None:
        """Count a decision into every figure, the way ``reports.data`` does."""
        self.decisions.append(d)
        self.ledger.cite(d.index, "gate-decision", d.decision_id)
        framework_of = _framework_of()
        for fw in FRAMEWORKS:
            denied = any(framework_of[c] == fw for c in d.violations)
            self.per_framework[fw][
                "error" if d.outcome == "error" else "deny" if denied else "allow"
            ] += 1
        for control, waiver in waived:
            waiver.covered.append(d.decision_id)
            self.ledger.cite(waiver.index, "waiver", d.decision_id)
            self.tallies[control].waived += 1
        for control, result in results.items():
            tally = self.tallies[control]
            tally.status[result.status] += 1
            if result.basis == "declared":
                tally.declared += 1
            else:
                tally.verified += 1
            if result.status == "fail":
                tally.failed_in.append(d.decision_id)
                tally.failed_at.append(d.evaluated_at)
            tally.evidence.update(index for index, _ in result.evidence)
        # Each entry the results cite is cited by the decision once.
        for index, kind in dict.fromkeys(e for r in results.values() for e in r.evidence):
            self.ledger.cite(index, kind, d.decision_id)


def _signed_checkpoint(size: int) -> Checkpoint:
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    root = hashlib.sha256(f"root {size}".encode()).digest()
    note = signer.sign(SignedHead(origin=ORIGIN, size=size, root=root))
    return Checkpoint(
        size=size,
        root=base64.b64encode(root).decode(),
        note=note,
        public_key=signer.verifier_key,
        created_at=GENERATED_AT,
    )


def _counts(counts: Counter[str]) -> OutcomeCounts:
    return OutcomeCounts(allow=counts["allow"], deny=counts["deny"], error=counts["error"])


def _system(decisions: Iterable[Decision]) -> list[PromotedModel]:
    """The models allowed (in any mode), with where and by which decisions."""
    groups: dict[tuple[str, str, str], list[Decision]] = defaultdict(list)
    for d in decisions:
        if d.allow:
            groups[(d.model_name, d.model_version, d.digest)].append(d)
    return [
        PromotedModel(
            name=name,
            version=version,
            digest=digest,
            targets=sorted({d.target for d in group}),
            decisions=[d.decision_id for d in group],
            personal_data_upstream=sorted(PERSONAL_DATA.get(name, [])),
        )
        for (name, version, digest), group in sorted(groups.items())
    ]


def sample_report_data(*, decisions: int = 30, attestations: int = 8) -> ReportData:
    """The sample document: ``decisions`` gate decisions over Q1 2026 and ``attestations``
    attestation verdicts. From 8 decisions on, every kind of decision is there."""
    cat = catalog()
    waivers = _waivers()
    verdicts = _attestations(attestations)
    played = _Play(decisions, waivers, verdicts)
    played.play()
    ds, ledger = played.decisions, played.ledger
    for v in verdicts:
        ledger.cite(v.index, "attestation", f"attestation:{v.index}")
    for w in waivers:
        ledger.cite(w.index, "waiver", f"waiver:{w.index}")
    size = (ds[-1].index if ds else FIRST_DECISION) + 731

    controls = []
    for c in cat:
        t = played.tallies[c.control]
        controls.append(
            ControlResults(
                control=c.control,
                framework=c.framework,
                article=c.article,
                title=c.title,
                enforcement=c.enforcement,
                passed=t.status["pass"],
                failed=t.status["fail"],
                not_applicable=t.status["not_applicable"],
                not_evaluated=t.status["not_evaluated"],
                waived=t.waived,
                verified=t.verified,
                declared=t.declared,
                failed_in=t.failed_in,
                evidence=sorted(t.evidence),
            )
        )
    by_failures = sorted(controls, key=lambda c: (-c.failed, c.control))

    families: dict[str, Counter[str]] = defaultdict(Counter)
    for c, result in zip(cat, controls, strict=True):
        families[c.family]["passed"] += result.passed
        families[c.family]["failed"] += result.failed
        families[c.family]["other"] += result.not_applicable + result.not_evaluated
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for d in ds:
        per_day[d.evaluated_at[:10]][d.outcome] += 1

    period = Period(start=format_time(START), end=format_time(END))
    options = {"framework": "all", "period": period.model_dump(), "checkpoint": size}
    return ReportData(
        report=ReportInfo(
            report_id="sha256:" + hashlib.sha256(canonical_json(options)).hexdigest(),
            framework="all",
            frameworks=list(FRAMEWORKS),
            period=period,
            generated_at=GENERATED_AT,
            generated_by=GENERATED_BY,
        ),
        checkpoint=_signed_checkpoint(size),
        criteria=Criteria(
            bundle_digests=sorted({d.bundle_digest for d in ds}),
            engines=sorted({d.engine for d in ds}),
            targets=sorted({d.target for d in ds}),
            catalog_version=shipped_bundle().catalog_version,
            catalog=list(cat),
        ),
        summary=Summary(
            decisions=len(ds),
            outcomes=_counts(Counter(d.outcome for d in ds)),
            break_glass=sum(d.mode == "break_glass" for d in ds),
            dry_run=sum(d.mode == "dry_run" for d in ds),
            models=len({d.digest for d in ds}),
            frameworks=[
                FrameworkSummary(
                    framework=fw,
                    decisions=_counts(played.per_framework[fw]),
                    top_failing=[
                        ControlCount(control=c.control, count=c.failed)
                        for c in by_failures
                        if c.framework == fw and c.failed
                    ][:5],
                )
                for fw in FRAMEWORKS
            ],
        ),
        decisions=ds,
        controls=controls,
        evidence=[
            EvidenceRef(
                index=i, kind=ledger.kinds[i], leaf_hash=_sha256("leaf", i), cited_by=citers
            )
            for i, citers in sorted(ledger.cited.items())
        ],
        exceptions=[
            Exception_(
                index=w.index,
                control=w.control,
                digest=_digest(w.model),
                target=w.target,
                approver=w.approver,
                granted_at=format_time(w.granted),
                expires_at=format_time(w.expires),
                reason=w.reason,
                decisions_covered=w.covered,
            )
            for w in waivers
        ],
        break_glass=[
            BreakGlass(
                decision_id=d.decision_id,
                index=d.index,
                evaluated_at=d.evaluated_at,
                requested_by=d.requested_by,
                reason=BREAK_GLASS_REASON,
                outcome=d.outcome,
            )
            for d in ds
            if d.mode == "break_glass"
        ],
        supply_chain=SupplyChain(
            passed=sum(v.verdict == "pass" for v in verdicts),
            failed=sum(v.verdict == "fail" for v in verdicts),
            verdicts=verdicts,
        ),
        system=_system(ds),
        limitations=Limitations(
            engine_errors=sum(d.outcome == "error" for d in ds),
            not_evaluated=[
                ControlCount(control=c.control, count=c.not_evaluated)
                for c in controls
                if c.not_evaluated
            ],
            declared=[
                ControlCount(control=c.control, count=c.declared) for c in controls if c.declared
            ],
        ),
        corrective_actions=[
            CorrectiveAction(
                control=c.control,
                failures=c.failed,
                first=min(played.tallies[c.control].failed_at),
                last=max(played.tallies[c.control].failed_at),
            )
            for c in by_failures
            if c.failed >= 2
        ],
        decisions_per_day=[
            DayCount(day=day, allow=c["allow"], deny=c["deny"], error=c["error"])
            for day, c in sorted(per_day.items())
        ],
        results_per_family=[
            FamilyCount(family=f, passed=c["passed"], failed=c["failed"], other=c["other"])
            for f, c in families.items()
        ],
        soa=_soa(cat),
    )
