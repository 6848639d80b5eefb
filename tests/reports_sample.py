"""A realistic, self-consistent :class:`ReportData` for report tests, built without a database.

Every framework, the shipped catalog's controls, decisions of every mode and outcome, waivers that
cover some of them, break-glass decisions, attestation verdicts (passed and failed), promoted
models with personal data upstream, and the long digests, ids and free texts that tables must
wrap. The aggregates (summary, per-control results, per-day and per-family counts, corrective
actions, limitations) are computed from the decisions here, so a test can recompute any of them.

The same arguments always give the same document: the "randomness" is a seeded generator, and the
checkpoint is signed with a fixed Ed25519 key (Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import base64
import hashlib
import random
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
REQUESTERS = (
    "ci:github-actions/example-org/ml-models/release.yml",
    "alice.martin@example.com",
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
#: Controls whose passing results rest on what the requester declared, not on verified evidence.
DECLARED = ("gdpr-art30", "gdpr-art28", "pdpl-art7", "iso-a5.9-12", "pdpl-art10")
#: Controls the engine sometimes could not evaluate (the input lacked what they read).
UNEVALUATED = ("gdpr-art22", "gdpr-art36", "iso-a8.11-33")
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
    controls = []
    for c in shipped_bundle().controls():
        entry = CatalogControl(
            control=c.id,
            framework=cast(Framework, c.framework),
            article=c.article,
            title=c.title,
            enforcement="deny" if c.enforcement == "deny" else "warn",
            family="",
        )
        controls.append(entry.model_copy(update={"family": family(c.id)}))
    return tuple(controls)


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
            "Penetration test of the feature store scheduled for February (vendor PO-7781); "
            "staging only.",
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


@dataclass
class _Built:
    decisions: list[Decision]
    results: dict[str, Counter[str]]
    failed_in: dict[str, list[str]]
    evidence: dict[str, set[int]]


def _decision(
    rng: random.Random, i: int, n: int, index: int, waivers: list[_Waiver], controls: list[str]
) -> tuple[Decision, dict[str, str]]:
    """Decision ``i`` of ``n`` and each control's result in it."""
    at = START + timedelta(seconds=int((END - START).total_seconds() * (i + rng.random()) / n))
    model = rng.randrange(len(MODELS))
    target = TARGETS[rng.randrange(len(TARGETS))]
    mode: Literal["enforce", "dry_run", "break_glass"] = "enforce"
    if i % 15 == 7:
        mode = "break_glass"
    elif i % 10 == 3:
        mode = "dry_run"
    errored = i % 14 == 5
    catalog_by_id = {c.control: c for c in catalog()}  # cached: the same tuple every time
    results: dict[str, str] = {}
    violations: list[str] = []
    warnings: list[str] = []
    waived: list[str] = []
    for control in controls:
        if errored:
            results[control] = "not_evaluated"
            continue
        weight = TROUBLED.get(control, 0)
        if rng.random() < weight / 20:
            waiver = next(
                (
                    w
                    for w in waivers
                    if w.control == control
                    and w.model == model
                    and w.target == target
                    and w.granted <= at < w.expires
                ),
                None,
            )
            if waiver is not None:
                results[control] = "waived"
                waived.append(control)
            else:
                results[control] = "failed"
                if catalog_by_id[control].enforcement == "deny":
                    violations.append(control)
                else:
                    warnings.append(control)
        elif control.startswith("pdpl-") and target != TARGETS[2] and rng.random() < 0.7:
            results[control] = "not_applicable"
        elif control in UNEVALUATED and rng.random() < 0.15:
            results[control] = "not_evaluated"
        else:
            results[control] = "declared" if control in DECLARED else "verified"
    outcome: Outcome = "error" if errored else ("deny" if violations else "allow")
    name, version = MODELS[model]
    decision = Decision(
        decision_id=f"{_sha256('decision', i)[:8]}-{_sha256('d', i)[:4]}-4{_sha256('e', i)[:3]}-"
        f"a{_sha256('f', i)[:3]}-{_sha256('g', i)[:12]}",
        index=index,
        evaluated_at=format_time(at),
        model_name=name,
        model_version=version,
        digest=_digest(model),
        target=target,
        mode=mode,
        outcome=outcome,
        allow=outcome == "allow" or mode in ("break_glass", "dry_run"),
        requested_by=REQUESTERS[0] if mode == "enforce" else REQUESTERS[1 + i % 2],
        violations=violations,
        warnings=warnings,
        waived=waived,
        bundle_digest=BUNDLES[0] if i < n // 2 else BUNDLES[1],
        engine=ENGINES[i % 4 == 1],
    )
    return decision, results


def _decisions(n: int, waivers: list[_Waiver]) -> _Built:
    rng = random.Random(13)
    controls = [c.control for c in catalog()]
    built = _Built([], defaultdict(Counter), defaultdict(list), defaultdict(set))
    index = 2_000
    for i in range(n):
        index += 3 + rng.randrange(40)
        decision, results = _decision(rng, i, n, index, waivers, controls)
        built.decisions.append(decision)
        for control, result in results.items():
            built.results[control][result] += 1
            if result == "failed":
                built.failed_in[control].append(decision.decision_id)
            if result != "not_evaluated":
                built.evidence[control].add(decision.index)
        for w in waivers:
            if w.control in decision.waived and _digest(w.model) == decision.digest:
                w.covered.append(decision.decision_id)
                built.evidence[w.control].add(w.index)
    return built


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


def _attestations(n: int) -> list[AttestationVerdict]:
    verdicts = []
    for i in range(n):
        model = i % len(MODELS)
        failed = i % 4 == 2
        verdicts.append(
            AttestationVerdict(
                index=1_200 + 97 * i,
                purpose=("model-release", "training-provenance")[i % 2],
                verdict="fail" if failed else "pass",
                reason=(
                    "identity_not_allowed: the signer identity is not allowed for this purpose "
                    "(https://github.com/example-org/ml-models/.github/workflows/release.yml"
                    "@refs/heads/feature/unreviewed-experiment)"
                    if failed
                    else None
                ),
                subject_digests=[_digest(model), "sha256:" + _sha256("weights", i)],
                signer=(
                    "https://github.com/example-org/ml-models/.github/workflows/release.yml"
                    f"@refs/tags/v{i}.0.0"
                ),
                received_at=format_time(START + timedelta(days=7 * i, hours=3)),
            )
        )
    return verdicts


def _counts(outcomes: Iterable[str]) -> OutcomeCounts:
    seen = Counter(outcomes)
    return OutcomeCounts(allow=seen["allow"], deny=seen["deny"], error=seen["error"])


def _framework_outcome(d: Decision, framework: Framework, cat: dict[str, CatalogControl]) -> str:
    if d.outcome == "error":
        return "error"
    failing = [c for c in d.violations if cat[c].framework == framework]
    return "deny" if failing else "allow"


def sample_report_data(decisions: int = 30, attestations: int = 8) -> ReportData:
    """The sample document, with ``decisions`` gate decisions over Q1 2026."""
    cat = catalog()
    by_id = {c.control: c for c in cat}
    waivers = _waivers()
    built = _decisions(decisions, waivers)
    ds = built.decisions
    verdicts = _attestations(attestations)
    size = (ds[-1].index if ds else 2_000) + 731

    controls = []
    for c in cat:
        r = built.results[c.control]
        controls.append(
            ControlResults(
                control=c.control,
                framework=c.framework,
                article=c.article,
                title=c.title,
                enforcement=c.enforcement,
                passed=r["verified"] + r["declared"],
                failed=r["failed"],
                not_applicable=r["not_applicable"],
                not_evaluated=r["not_evaluated"],
                waived=r["waived"],
                verified=r["verified"],
                declared=r["declared"],
                failed_in=built.failed_in[c.control],
                evidence=sorted(built.evidence[c.control]),
            )
        )

    cited: dict[int, tuple[str, list[str]]] = {}
    for d in ds:
        cited[d.index] = ("gate-decision", [d.decision_id])
    for w in waivers:
        cited[w.index] = ("waiver", [f"waiver:{w.index}"])
    for v in verdicts:
        cited[v.index] = ("attestation", [f"attestation:{v.index}"])
    evidence = [
        EvidenceRef(index=i, kind=kind, leaf_hash=_sha256("leaf", i), cited_by=by)
        for i, (kind, by) in sorted(cited.items())
    ]

    per_framework = []
    for fw in FRAMEWORKS:
        failing = Counter(
            {c.control: c.failed for c in controls if c.framework == fw and c.failed}
        ).most_common(5)
        per_framework.append(
            FrameworkSummary(
                framework=fw,
                decisions=_counts(_framework_outcome(d, fw, by_id) for d in ds),
                top_failing=[ControlCount(control=k, count=v) for k, v in failing],
            )
        )

    promoted: dict[str, PromotedModel] = {}
    for d in ds:
        if d.outcome != "allow" or d.mode != "enforce":
            continue
        key = d.digest
        seen = promoted.get(key)
        promoted[key] = PromotedModel(
            name=d.model_name,
            version=d.model_version,
            digest=d.digest,
            targets=sorted({*(seen.targets if seen else []), d.target}),
            decisions=[*(seen.decisions if seen else []), d.decision_id],
            personal_data_upstream=PERSONAL_DATA.get(d.model_name, []),
        )

    failures: dict[str, list[Decision]] = defaultdict(list)
    for d in ds:
        for failed in (*d.violations, *d.warnings):
            failures[failed].append(d)
    corrective = [
        CorrectiveAction(
            control=k, failures=len(fs), first=fs[0].evaluated_at, last=fs[-1].evaluated_at
        )
        for k, fs in sorted(failures.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        if len(fs) >= 2
    ]

    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for d in ds:
        per_day[d.evaluated_at[:10]][d.outcome] += 1
    families: dict[str, Counter[str]] = defaultdict(Counter)
    for result in controls:
        f = by_id[result.control].family
        families[f]["passed"] += result.passed
        families[f]["failed"] += result.failed
        families[f]["other"] += result.not_applicable + result.not_evaluated + result.waived

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
            bundle_digests=list(BUNDLES),
            engines=list(ENGINES),
            targets=sorted(TARGETS),
            catalog_version=shipped_bundle().catalog_version,
            catalog=list(cat),
        ),
        summary=Summary(
            decisions=len(ds),
            outcomes=_counts(d.outcome for d in ds),
            break_glass=sum(d.mode == "break_glass" for d in ds),
            dry_run=sum(d.mode == "dry_run" for d in ds),
            models=len({d.digest for d in ds}),
            frameworks=per_framework,
        ),
        decisions=ds,
        controls=controls,
        evidence=evidence,
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
                reason="Production incident INC-20931: card-fraud losses rising; roll back to "
                "the last model version the risk committee approved, pending the full gate.",
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
        system=list(promoted.values()),
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
        corrective_actions=corrective,
        decisions_per_day=[
            DayCount(day=day, allow=c["allow"], deny=c["deny"], error=c["error"])
            for day, c in sorted(per_day.items())
        ],
        results_per_family=[
            FamilyCount(family=f, passed=c["passed"], failed=c["failed"], other=c["other"])
            for f, c in families.items()
        ],
    )
