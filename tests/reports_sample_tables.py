"""A realistic, self-consistent report-data document for the tests of the report's outputs.

:func:`sample_report_data` plays a period of gate decisions over a small catalog (three
frameworks, deny and warn controls, one control no decision evaluates) and derives every figure
of :class:`~reports.model.ReportData` from them the way the report describes: control results,
a waiver used by decisions, a break-glass decision, an engine error, attestation verdicts,
promoted models and the ISO 27001 Statement of Applicability. Free text carries commas, quotes,
newlines and non-ASCII characters, so the CSV and OSCAL writers meet them.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass

from reports import model

CATALOG: tuple[model.CatalogControl, ...] = (
    model.CatalogControl(
        control="gdpr-art6",
        framework="gdpr",
        article="Art. 6(1)",
        title="Lawfulness of processing",
        enforcement="deny",
        family="GDPR Ch. II Principles",
    ),
    model.CatalogControl(
        control="gdpr-art9",
        framework="gdpr",
        article="Art. 9(1)–(2)",
        title="Processing of special categories of personal data",
        enforcement="deny",
        family="GDPR Ch. II Principles",
    ),
    model.CatalogControl(
        control="gdpr-art5-1c",
        framework="gdpr",
        article="Art. 5(1)(c)",
        title="Data minimisation",
        enforcement="warn",
        family="GDPR Ch. II Principles",
    ),
    model.CatalogControl(
        control="pdpl-art22-23",
        framework="uae_pdpl",
        article="Art. 22 / Art. 23",
        title="Cross-border transfer with and without an adequate level of protection",
        enforcement="deny",
        family="PDPL Arts. 22–23 Cross-border transfer",
    ),
    model.CatalogControl(
        control="iso-a5.3",
        framework="iso27001",
        article="A.5.3",
        title="Segregation of duties",
        enforcement="deny",
        family="ISO 27001 A.5 Organizational controls",
    ),
    model.CatalogControl(
        control="iso-a8.32",
        framework="iso27001",
        article="A.8.32",
        title="Change management",
        enforcement="deny",
        family="ISO 27001 A.8 Technological controls",
    ),
    model.CatalogControl(
        control="iso-a8.25",
        framework="iso27001",
        article="A.8.25 (+ A.8.4)",
        title="Secure development life cycle; access to source code",
        enforcement="deny",
        family="ISO 27001 A.8 Technological controls",
    ),
)

#: The ledger entries every decision's results cite (a lineage run, an attestation verdict).
LINEAGE_INDEX = 3
ATTESTATION_INDEX = 7
#: The waiver of gdpr-art9 for the fraud model.
WAIVER_INDEX = 5
_MODELS = (
    ("fraud-detector", "1.4.0"),
    ("churn-model", "2.0.1"),
    ("credit-scorer", "0.9.0"),
)
_TARGETS = ("production", "staging")
_PERIOD = model.Period(start="2026-11-01T00:00:00.000000Z", end="2026-11-04T00:00:00.000000Z")
_BUNDLE = "sha256:" + "b" * 64


def _digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def _status(i: int, control: str) -> str:
    """Decision ``i``'s result for ``control``: a fixed, varied pattern."""
    if control == "iso-a8.25":
        return "not_applicable"
    if control == "gdpr-art9":
        return "fail" if i % 4 == 0 else "pass"
    if control == "gdpr-art5-1c":
        return "fail" if i % 3 == 1 else "pass"
    if control == "pdpl-art22-23":
        return "not_evaluated" if i % 5 == 2 else "pass"
    if control == "iso-a5.3":
        return "fail" if i % 7 == 3 else "pass"
    return "pass"


_FIELD = {"pass": "passed", "fail": "failed"}


@dataclass
class _Tally:
    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    not_evaluated: int = 0
    waived: int = 0
    declared: int = 0
    verified: int = 0


def sample_report_data(decisions: int = 24) -> model.ReportData:
    """The report of ``decisions`` decisions (at least 12) over the whole catalog."""
    assert decisions >= 12
    rows: list[model.Decision] = []
    tallies = {c.control: _Tally() for c in CATALOG}
    failed_in: dict[str, list[str]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    cited: dict[int, list[str]] = defaultdict(list)
    waiver_uses: list[str] = []
    per_framework = {f: Counter[str]() for f in ("gdpr", "uae_pdpl", "iso27001")}
    enforcement = {c.control: c.enforcement for c in CATALOG}
    framework_of = {c.control: c.framework for c in CATALOG}
    for i in range(decisions):
        name, version = _MODELS[i % len(_MODELS)]
        index = 10 + 3 * i
        decision_id = f"00000000-0000-4000-8000-{i:012d}"
        evaluated_at = f"2026-11-0{1 + i * 3 // decisions}T{i % 24:02d}:15:00.000000Z"
        mode = "break_glass" if i == 5 else "dry_run" if i == 6 else "enforce"
        error = i == 9
        statuses = {} if error else {c.control: _status(i, c.control) for c in CATALOG}
        failing = [c for c, s in statuses.items() if s == "fail"]
        waived = [c for c in failing if c == "gdpr-art9" and name == "fraud-detector"]
        violations = [c for c in failing if enforcement[c] == "deny" and c not in waived]
        warnings = [c for c in failing if enforcement[c] == "warn"]
        outcome = "error" if error else "deny" if violations else "allow"
        allow = outcome == "allow" or (mode in ("break_glass", "dry_run") and not error)
        rows.append(
            model.Decision(
                decision_id=decision_id,
                index=index,
                evaluated_at=evaluated_at,
                model_name=name,
                model_version=version,
                digest=_digest(name + version),
                target=_TARGETS[i % 2],
                mode=mode,
                outcome=outcome,
                allow=allow,
                requested_by="ci-pipeline" if i % 2 else "Zoë O'Brien",
                violations=violations,
                warnings=warnings,
                waived=waived,
                bundle_digest=_BUNDLE,
                engine="regorus 0.4.0",
            )
        )
        cited[index].append(decision_id)
        if waived:
            waiver_uses.append(decision_id)
            cited[WAIVER_INDEX].append(decision_id)
        for framework, counts in per_framework.items():
            denied = any(framework_of[c] == framework for c in violations)
            counts["error" if error else "deny" if denied else "allow"] += 1
        for control, status in statuses.items():
            tally = tallies[control]
            field = _FIELD.get(status, status)
            setattr(tally, field, getattr(tally, field) + 1)
            tally.waived += control in waived
            tally.declared += control == "gdpr-art6"
            tally.verified += control != "gdpr-art6"
            if status == "fail":
                failed_in[control].append(decision_id)
                failures[control].append(evaluated_at)
        if statuses:
            for cited_index in (LINEAGE_INDEX, ATTESTATION_INDEX):
                cited[cited_index].append(decision_id)
    controls = [
        model.ControlResults(
            control=c.control,
            framework=c.framework,
            article=c.article,
            title=c.title,
            enforcement=c.enforcement,
            passed=tallies[c.control].passed,
            failed=tallies[c.control].failed,
            not_applicable=tallies[c.control].not_applicable,
            not_evaluated=tallies[c.control].not_evaluated,
            waived=tallies[c.control].waived,
            verified=tallies[c.control].verified,
            declared=tallies[c.control].declared,
            failed_in=failed_in[c.control],
            evidence=[]
            if c.control == "iso-a8.25"
            else [LINEAGE_INDEX] + ([ATTESTATION_INDEX] if c.framework == "iso27001" else []),
        )
        for c in CATALOG
    ]
    cited[WAIVER_INDEX].insert(0, f"waiver:{WAIVER_INDEX}")
    cited[ATTESTATION_INDEX].insert(0, f"attestation:{ATTESTATION_INDEX}")
    kinds = {LINEAGE_INDEX: "lineage-run", ATTESTATION_INDEX: "attestation", WAIVER_INDEX: "waiver"}
    evidence = [
        model.EvidenceRef(
            index=index,
            kind=kinds.get(index, "gate-decision"),
            leaf_hash=hashlib.sha256(f"leaf {index}".encode()).hexdigest(),
            cited_by=cited[index],
        )
        for index in sorted(cited)
    ]
    outcomes = Counter[str](d.outcome for d in rows)
    days: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for d in rows:
        days[d.evaluated_at[:10]][d.outcome] += 1
    families: dict[str, list[int]] = {}
    for c, r in zip(CATALOG, controls, strict=True):
        family = families.setdefault(c.family, [0, 0, 0])
        family[0] += r.passed
        family[1] += r.failed
        family[2] += r.not_applicable + r.not_evaluated
    allowed = [d for d in rows if d.allow]
    system = []
    for name, version in sorted({(d.model_name, d.model_version) for d in allowed}):
        group = [d for d in allowed if d.model_name == name]
        system.append(
            model.PromotedModel(
                name=name,
                version=version,
                digest=group[0].digest,
                targets=sorted({d.target for d in group}),
                decisions=[d.decision_id for d in group],
                personal_data_upstream=["dataset:warehouse:customers"]
                if name == "churn-model"
                else [],
            )
        )
    return model.ReportData(
        report=model.ReportInfo(
            report_id="sha256:" + hashlib.sha256(f"report {decisions}".encode()).hexdigest(),
            framework="all",
            frameworks=["gdpr", "uae_pdpl", "iso27001"],
            period=_PERIOD,
            generated_at="2026-11-04T00:05:00.000000Z",
            generated_by="governance-audit 0.1.0",
        ),
        checkpoint=model.Checkpoint(
            size=10 + 3 * decisions,
            root="ab" * 32,
            note="governance-audit/ledger\n82\nq83R…\n\n— governance-audit/ledger Zm9v\n",
            public_key="governance-audit/ledger+1a2b3c4d+AXh5",
            created_at="2026-11-04T00:05:00.000000Z",
        ),
        criteria=model.Criteria(
            bundle_digests=[_BUNDLE],
            engines=["regorus 0.4.0"],
            targets=sorted(_TARGETS),
            catalog_version="2026.12.1",
            catalog=list(CATALOG),
        ),
        summary=model.Summary(
            decisions=len(rows),
            outcomes=model.OutcomeCounts(
                allow=outcomes["allow"], deny=outcomes["deny"], error=outcomes["error"]
            ),
            break_glass=sum(d.mode == "break_glass" for d in rows),
            dry_run=sum(d.mode == "dry_run" for d in rows),
            models=len({d.digest for d in rows}),
            frameworks=[
                model.FrameworkSummary(
                    framework=framework,
                    decisions=model.OutcomeCounts(**counts),
                    top_failing=[
                        model.ControlCount(control=r.control, count=r.failed)
                        for r in sorted(controls, key=lambda r: (-r.failed, r.control))
                        if r.framework == framework and r.failed
                    ][:5],
                )
                for framework, counts in per_framework.items()
            ],
        ),
        decisions=rows,
        controls=controls,
        evidence=evidence,
        exceptions=[
            model.Exception_(
                index=WAIVER_INDEX,
                control="gdpr-art9",
                digest=_digest("fraud-detector1.4.0"),
                target="production",
                approver="dpo@example.com",
                granted_at="2026-10-30T09:00:00.000000Z",
                expires_at="2026-11-30T00:00:00.000000Z",
                reason='Health data "pseudonymised", see DPIA-17;\nreviewed weekly',
                decisions_covered=waiver_uses,
            )
        ],
        break_glass=[
            model.BreakGlass(
                decision_id=d.decision_id,
                index=d.index,
                evaluated_at=d.evaluated_at,
                requested_by="admin",
                reason="Incident INC-4411: rollback, approved by the CISO",
                outcome=d.outcome,
            )
            for d in rows
            if d.mode == "break_glass"
        ],
        supply_chain=model.SupplyChain(
            passed=1,
            failed=1,
            verdicts=[
                model.AttestationVerdict(
                    index=ATTESTATION_INDEX,
                    purpose="model-signature",
                    verdict="pass",
                    reason=None,
                    subject_digests=[_digest("fraud-detector1.4.0")],
                    signer="https://github.com/acme/ml/.github/workflows/train.yml@refs/heads/main",
                    received_at="2026-11-01T00:30:00.000000Z",
                ),
                model.AttestationVerdict(
                    index=8,
                    purpose="slsa-provenance",
                    verdict="fail",
                    reason="subject digest does not match",
                    subject_digests=[_digest("credit-scorer0.9.0"), _digest("other")],
                    signer=None,
                    received_at="2026-11-01T00:40:00.000000Z",
                ),
            ],
        ),
        system=system,
        limitations=model.Limitations(
            engine_errors=outcomes["error"],
            not_evaluated=[
                model.ControlCount(control=r.control, count=r.not_evaluated)
                for r in controls
                if r.not_evaluated
            ],
            declared=[
                model.ControlCount(control=r.control, count=r.declared)
                for r in controls
                if r.declared
            ],
        ),
        corrective_actions=[
            model.CorrectiveAction(
                control=control, failures=len(times), first=min(times), last=max(times)
            )
            for control, times in sorted(failures.items(), key=lambda t: (-len(t[1]), t[0]))
            if len(times) >= 2
        ],
        decisions_per_day=[
            model.DayCount(day=day, allow=c["allow"], deny=c["deny"], error=c["error"])
            for day, c in sorted(days.items())
        ],
        results_per_family=[
            model.FamilyCount(family=f, passed=p, failed=x, other=o)
            for f, (p, x, o) in families.items()
        ],
        soa=[
            model.SoaEntry(
                control="iso-a5.3",
                annex_a="A.5.3",
                title="Segregation of duties",
                applicable=True,
                justification="Evaluated by the promotion gate on every model promotion.",
                evaluated_by_service=True,
            ),
            model.SoaEntry(
                control="iso-a8.32",
                annex_a="A.8.32",
                title="Change management",
                applicable=True,
                justification="Evaluated by the promotion gate on every model promotion.",
                evaluated_by_service=True,
            ),
            model.SoaEntry(
                control="iso-a8.25",
                annex_a="A.8.25",
                title="Secure development life cycle",
                applicable=True,
                justification="Evaluated by the promotion gate on every model promotion.",
                evaluated_by_service=True,
            ),
            model.SoaEntry(
                control="iso-a8.25",
                annex_a="A.8.4",
                title="Access to source code",
                applicable=False,
                justification="Source code is in the group's SCM: out of scope (ISMS-SOA §4).",
                evaluated_by_service=True,
            ),
        ],
    )
