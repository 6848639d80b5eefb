"""``report-data.json`` from the ledger as of one signed checkpoint (:func:`build_report_data`).

Everything comes from ledger entries below the checkpoint's size, read through their projections
(the gate's decisions, approvals and waivers, the attestation verdicts) and, where a projection
does not keep it, from the entries' payloads (a decision's recorded input, a break-glass reason).
The policy catalog is the bundle in force's. Nothing depends on the clock: the document's time
is the checkpoint's, and every list is in a stated order, so the same checkpoint and options
give the same bytes.

What the figures mean:

* a decision is in a report for a framework when it evaluated that framework, or when its
  engine failed (an ``error`` decision evaluated nothing, so it is in every framework's report);
  ``all`` takes every decision of the period (``evaluated_at`` in ``[start, end)``);
* per framework, a decision's outcome is ``error`` when its engine failed, ``deny`` when one of
  that framework's controls is among its violations, ``allow`` otherwise;
* control figures count the results of the report's decisions (one result per control each
  decision evaluated); a decision whose payload was erased has no results left and is counted
  in :attr:`~reports.model.Limitations.erased` instead;
* exceptions are the waivers of the report's controls in force at some time of the period
  (granted before its end, expiring after its start); approvals and attestation verdicts are
  those recorded in the period;
* promoted models are those of the decisions that allowed the promotion (``allow``: enforce
  allow, a dry run, break glass); their upstream personal data is read from those decisions'
  recorded inputs, with the policies' own test (a personal-data flag in the classification, or
  a ``pii``, ``personal``, ``personal_data`` or ``sensitive`` tag on the dataset or a field).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any, Literal, cast, get_args

from sqlalchemy.engine import Engine

from governance.errors import InputError
from governance.ledger.canonical import canonical_json
from governance.policy.bundle import PolicyBundle
from governance.sql import Dialect, snapshot
from governance.timefmt import format_time
from reports import model
from reports.catalog import FAMILY_ORDER, catalog_control, family, statement_of_applicability
from reports.model import Framework
from reports.reading import (
    APPROVALS_SQL,
    COUNT_DECISIONS_SQL,
    DECISIONS_SQL,
    PAYLOAD_CHUNK,
    VERDICTS_SQL,
    WAIVERS_SQL,
    Reader,
    check_projections,
    read_checkpoint,
    read_leaves,
    read_payloads,
)
from reports.tally import (
    ControlTally,
    DecisionTally,
    input_and_reason,
    personal_upstream,
    subject_digests,
)

__all__ = [
    "FRAMEWORK_CHOICES",
    "Progress",
    "ReportOptions",
    "build_report_data",
    "parse_time",
    "report_id",
]

FrameworkChoice = Literal["gdpr", "uae_pdpl", "iso27001", "all"]
#: What ``--framework`` accepts.
FRAMEWORK_CHOICES: tuple[str, ...] = get_args(FrameworkChoice)

#: Reports progress as (stage, done, total): stages ``decisions``, ``inputs``, ``evidence``.
Progress = Callable[[str, int, int | None], None]

#: Decisions read per statement (each row carries every control result of its decision).
_DECISION_CHUNK = 500
#: Controls listed per framework in the executive summary.
_TOP_FAILING = 5
_ERASED = "(erased)"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- options ------------------------------------------------------------------------------------


def parse_time(text: str, name: str) -> str:
    """A period bound in the service's time form.

    ``YYYY-MM-DD`` is midnight UTC; otherwise RFC 3339 with a zone. :class:`InputError` naming
    ``name`` for anything else.
    """
    try:
        if _DATE.match(text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(text)
        return format_time(moment)
    except (ValueError, OverflowError):
        raise InputError(
            f"{name} must be a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time with a zone",
            hint="e.g. 2026-01-01 or 2026-01-01T00:00:00Z",
        ) from None


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What a report is asked for: a framework, a period ``[start, end)``, maybe a checkpoint."""

    framework: FrameworkChoice
    #: The service's time form (:func:`governance.timefmt.format_time`).
    start: str
    end: str
    #: A checkpoint's tree size; ``None`` is the newest checkpoint.
    checkpoint: int | None = None

    @classmethod
    def of(
        cls, framework: str, start: str, end: str, checkpoint: int | None = None
    ) -> ReportOptions:
        """Options from what a person typed; :class:`InputError` naming what is wrong."""
        if framework not in FRAMEWORK_CHOICES:
            raise InputError(f"framework must be one of {', '.join(FRAMEWORK_CHOICES)}")
        first, last = parse_time(start, "from"), parse_time(end, "to")
        if first >= last:
            raise InputError("the period is empty: from must be before to")
        if checkpoint is not None and checkpoint < 1:
            raise InputError("checkpoint must be a tree size of at least 1")
        return cls(cast("FrameworkChoice", framework), first, last, checkpoint)

    def at(self, size: int) -> ReportOptions:
        """The same options pinned to the checkpoint of ``size``."""
        return ReportOptions(self.framework, self.start, self.end, size)


def report_id(options: ReportOptions, size: int) -> str:
    """``sha256:`` of the canonical options (framework, period, checkpoint size)."""
    canonical = canonical_json(
        {
            "framework": options.framework,
            "period": {"start": options.start, "end": options.end},
            "checkpoint": size,
        }
    )
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def generated_by() -> str:
    """``governance-audit <version>`` of the installed distribution."""
    try:
        version = metadata.version("governance-audit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"governance-audit {version}"


# -- building -----------------------------------------------------------------------------------


def build_report_data(
    engine: Engine,
    bundle: PolicyBundle,
    public_key: str,
    options: ReportOptions,
    *,
    progress: Progress | None = None,
) -> model.ReportData:
    """The report-data document for ``options``, as of one signed checkpoint.

    1. the checkpoint (the newest, or the one of ``options.checkpoint`` entries: an
       :class:`InputError` when there is none), and the projections the report reads must
       have applied every entry below it;
    2. the catalog of the report's frameworks, from ``bundle`` (the bundle in force);
    3. the period's decisions, read once in ledger order a chunk at a time: rows, counts,
       every control result, what each cites;
    4. approvals and attestation verdicts of the period, waivers in force during it;
    5. the promoted models, with the personal data upstream from their decisions' recorded
       inputs, and the break-glass reasons, read a chunk of payloads at a time;
    6. every cited entry's kind and leaf hash.

    Everything is read on one snapshot of the database (see the module docstring for what each
    figure counts). ``public_key`` is the ledger's verifier key, carried in the document.
    """
    with _without_collection():
        return _build(engine, bundle, public_key, options, _Progress(progress))


def _build(
    engine: Engine,
    bundle: PolicyBundle,
    public_key: str,
    options: ReportOptions,
    report: _Progress,
) -> model.ReportData:
    """The steps of :func:`build_report_data`."""
    with snapshot(engine) as cursor:
        reader = Reader(cursor, Dialect.of(engine))
        # 1. The checkpoint.
        size, root, note, created_at = read_checkpoint(reader, options.checkpoint)
        check_projections(reader, size)
        window = {"size": size, "start": options.start, "end": options.end}
        # 2. The catalog.
        catalog_frameworks = list(bundle.governance["catalog"].get("frameworks") or ())
        chosen = (
            [f for f in catalog_frameworks if f in get_args(Framework)]
            if options.framework == "all"
            else [options.framework]
        )
        all_controls = list(bundle.controls())
        framework_of = {c.id: c.framework for c in all_controls}
        catalog = [catalog_control(c) for c in all_controls if c.framework in chosen]
        tallies = {
            c.control: ControlTally(c.framework, c.article, c.title, c.enforcement) for c in catalog
        }
        # 3. The decisions.
        decisions = DecisionTally(
            frameworks=tuple(chosen),
            every=options.framework == "all",
            size=size,
            tallies=tallies,
            framework_of=framework_of,
        )
        total = int(reader.one(COUNT_DECISIONS_SQL, window)[0])
        done = 0
        for chunk in reader.chunks(DECISIONS_SQL, window, _DECISION_CHUNK):
            for row in chunk:
                decisions.add(row)
            done += len(chunk)
            report("decisions", done, total)
        # 4. Approvals, waivers, attestation verdicts.
        approvals = [_approval(r) for r in reader.rows(APPROVALS_SQL, window)]
        for approval in approvals:
            decisions.cite(approval.index, f"approval:{approval.index}")
        exceptions = [
            _exception(r, decisions.waiver_uses)
            for r in reader.rows(WAIVERS_SQL, window)
            if decisions.every or decisions.framework_of.get(r[1]) in chosen
        ]
        verdicts = [_verdict(r) for r in reader.rows(VERDICTS_SQL, window)]
        for verdict in verdicts:
            decisions.cite(verdict.index, f"attestation:{verdict.index}")
        for waiver in exceptions:
            decisions.cite(waiver.index, f"waiver:{waiver.index}")
        # 5. Promoted models and break-glass reasons, from the recorded payloads.
        system, reasons = _system(reader, decisions, report)
        # 6. The cited entries.
        cited = sorted(decisions.cited)
        leaves = read_leaves(reader, cited)
        report("evidence", len(cited), len(cited))
    evidence = [
        model.EvidenceRef(
            index=i, kind=leaves[i][0], leaf_hash=leaves[i][1].hex(), cited_by=decisions.cited[i]
        )
        for i in cited
    ]
    controls = _controls(catalog, tallies)
    return model.ReportData(
        report=model.ReportInfo(
            report_id=report_id(options, size),
            framework=options.framework,
            frameworks=cast("list[Framework]", chosen),
            period=model.Period(start=options.start, end=options.end),
            generated_at=created_at,
            generated_by=generated_by(),
        ),
        checkpoint=model.Checkpoint(
            size=size, root=root.hex(), note=note, public_key=public_key, created_at=created_at
        ),
        criteria=model.Criteria(
            bundle_digests=sorted(decisions.bundles),
            engines=sorted(decisions.engines),
            targets=sorted(decisions.targets),
            catalog_version=bundle.catalog_version,
            catalog=catalog,
        ),
        summary=_summary(decisions, tallies, len(approvals)),
        decisions=decisions.rows,
        controls=controls,
        evidence=evidence,
        exceptions=exceptions,
        break_glass=[
            model.BreakGlass(
                decision_id=d.decision_id,
                index=d.index,
                evaluated_at=d.evaluated_at,
                requested_by=d.requested_by,
                reason=reasons.get(d.index) or _ERASED,
                outcome=d.outcome,
            )
            for d in decisions.break_glass
        ],
        supply_chain=model.SupplyChain(
            passed=sum(v.verdict == "pass" for v in verdicts),
            failed=sum(v.verdict == "fail" for v in verdicts),
            verdicts=verdicts,
        ),
        system=system,
        limitations=model.Limitations(
            engine_errors=decisions.outcomes["error"],
            not_evaluated=[
                model.ControlCount(control=c.control, count=c.not_evaluated)
                for c in controls
                if c.not_evaluated
            ],
            declared=[
                model.ControlCount(control=c.control, count=c.declared)
                for c in controls
                if c.declared
            ],
            erased=decisions.erased,
        ),
        corrective_actions=[
            model.CorrectiveAction(
                control=control,
                failures=tally.failed,
                first=tally.first_failure,
                last=tally.last_failure,
            )
            for control, tally in sorted(tallies.items(), key=lambda t: (-t[1].failed, t[0]))
            if tally.failed >= 2
        ],
        decisions_per_day=[
            model.DayCount(day=day, **counts) for day, counts in sorted(decisions.days.items())
        ],
        results_per_family=_families(controls),
        soa=statement_of_applicability(catalog, bundle.config),
        approvals=approvals,
    )


@contextlib.contextmanager
def _without_collection() -> Iterator[None]:
    """No automatic garbage collection while a report is built.

    A large report holds millions of small objects that make no reference cycles; every
    collection of the oldest generation would walk them all again (a third of the build time
    at 50,000 decisions). The switch is process-wide, for as long as the build lasts.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Progress:
    """Calls the caller's progress function, if any."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)


def _approval(row: Sequence[Any]) -> model.Approval:
    index, digest, target, approver, decision_id, approved_at = row
    return model.Approval(
        index=int(index),
        digest=digest,
        target=target,
        approver=approver,
        approved_at=approved_at,
        decision_id=decision_id,
    )


def _exception(row: Sequence[Any], uses: Mapping[int, list[str]]) -> model.Exception_:
    index, control, digest, target, approver, granted_at, expires_at, reason = row
    return model.Exception_(
        index=int(index),
        control=control,
        digest=digest,
        target=target,
        approver=approver,
        granted_at=granted_at,
        expires_at=expires_at,
        reason=_ERASED if reason is None else reason,
        decisions_covered=list(uses.get(int(index), ())),
    )


def _verdict(row: Sequence[Any]) -> model.AttestationVerdict:
    index, purpose, verdict, reason, expected, facts_json, verified_at = row
    facts = json.loads(facts_json) if facts_json else None
    return model.AttestationVerdict(
        index=int(index),
        purpose=purpose,
        verdict=verdict,
        reason=reason,
        subject_digests=subject_digests(expected, facts),
        signer=((facts or {}).get("signer") or {}).get("identity"),
        received_at=verified_at,
    )


def _system(
    reader: Reader, decisions: DecisionTally, report: _Progress
) -> tuple[list[model.PromotedModel], dict[int, str]]:
    """Step 5: the promoted models and the break-glass reasons."""
    groups: dict[tuple[str, str, str], list[model.Decision]] = {}
    for decision in decisions.allowed:
        key = (decision.model_name, decision.model_version, decision.digest)
        groups.setdefault(key, []).append(decision)
    wanted = sorted({d.index for d in decisions.allowed} | {d.index for d in decisions.break_glass})
    personal: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    for done, (index, payload) in enumerate(read_payloads(reader, wanted), start=1):
        if payload is not None:
            document, reason = input_and_reason(payload)
            personal[index] = personal_upstream(document)
            if isinstance(reason, str):
                reasons[index] = reason
        if done % PAYLOAD_CHUNK == 0 or done == len(wanted):
            report("inputs", done, len(wanted))
    system = [
        model.PromotedModel(
            name=name,
            version=version,
            digest=digest,
            targets=sorted({d.target for d in group}),
            decisions=[d.decision_id for d in group],
            personal_data_upstream=sorted({n for d in group for n in personal.get(d.index, ())}),
        )
        for (name, version, digest), group in sorted(groups.items())
    ]
    return system, reasons


def _controls(
    catalog: Sequence[model.CatalogControl], tallies: Mapping[str, ControlTally]
) -> list[model.ControlResults]:
    """Catalog order, then controls only the recorded results name, by id."""
    order = [c.control for c in catalog]
    order += sorted(set(tallies) - set(order))
    return [
        model.ControlResults(
            control=control,
            framework=cast("Framework", t.framework),
            article=t.article,
            title=t.title,
            enforcement=cast("Literal['deny', 'warn']", t.enforcement),
            passed=t.passed,
            failed=t.failed,
            not_applicable=t.not_applicable,
            not_evaluated=t.not_evaluated,
            waived=t.waived,
            verified=t.verified,
            declared=t.declared,
            failed_in=t.failed_in,
            evidence=sorted(t.evidence),
        )
        for control in order
        for t in (tallies[control],)
    ]


def _summary(
    decisions: DecisionTally, tallies: Mapping[str, ControlTally], approvals: int
) -> model.Summary:
    frameworks = []
    for name in decisions.frameworks:
        failing = sorted(
            ((c, t.failed) for c, t in tallies.items() if t.framework == name and t.failed),
            key=lambda item: (-item[1], item[0]),
        )
        frameworks.append(
            model.FrameworkSummary(
                framework=cast("Framework", name),
                decisions=model.OutcomeCounts(**decisions.per_framework[name]),
                top_failing=[
                    model.ControlCount(control=c, count=n) for c, n in failing[:_TOP_FAILING]
                ],
            )
        )
    return model.Summary(
        decisions=len(decisions.rows),
        outcomes=model.OutcomeCounts(**decisions.outcomes),
        break_glass=len(decisions.break_glass),
        dry_run=decisions.dry_run,
        models=len(decisions.digests),
        frameworks=frameworks,
        approvals=approvals,
    )


def _families(controls: Sequence[model.ControlResults]) -> list[model.FamilyCount]:
    """Per family (GDPR chapters, PDPL articles, Annex A themes, in order): results by status."""
    counts: dict[str, list[int]] = {}
    for c in controls:
        tally = counts.setdefault(family(c.framework, c.article), [0, 0, 0])
        tally[0] += c.passed
        tally[1] += c.failed
        tally[2] += c.not_applicable + c.not_evaluated
    return [
        model.FamilyCount(family=name, passed=p, failed=f, other=o)
        for name, (p, f, o) in sorted(
            counts.items(),
            key=lambda item: (FAMILY_ORDER.get(item[0], len(FAMILY_ORDER)), item[0]),
        )
    ]
