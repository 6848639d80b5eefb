"""The report bench's ledger (see :mod:`bench.report`): gate decisions among other evidence.

Everything goes through ``Ledger.submit`` with the gate's own entry builders
(:func:`~governance.gate.record.decision_request`, ``waiver_request``, ``approval_request``), so
the gate projection writes its rows in each batch's transaction exactly as the service does.

The decisions are real ones varied: the embedded policy engine decides the three "clean" fixture
bases of the bundle once (27, 12 and 23 control results; two of them deny on this ledger), and
each decision takes one of them with its own model (2,000 models, 5 versions each), target, time
and mode (5% dry runs, 0.2% break glass). Four decisions in five pass what their base fails,
about one in ten fails a control its base passes, and one in a hundred is an engine error
(no results); about three quarters allow. The recorded input is the base document with
the decision's model, target and time (10-16 KB), as the gate records it; the results are the
engine's (6-14 KB). Waivers cover some failing deny controls of the first models, approvals follow
some allowed decisions, and the rest of the ledger is 300-byte evidence entries.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import say
from bench._ledger_append import entry
from bench._policy_input import base
from governance.gate.record import (
    DecisionRecord,
    approval_request,
    decision_request,
    input_bytes,
    waiver_request,
)
from governance.ledger.entries import AppendRequest, Receipt, Submitter
from governance.ledger.store import Ledger
from governance.policy.bundle import PolicyBundle
from governance.policy.engine import Decision, decide
from governance.timefmt import format_time

BASES = ("gdpr-clean.json", "iso27001-clean.json", "uae_pdpl-clean.json")
MODELS = 2_000
VERSIONS = 5
TARGETS = ("production", "staging")
#: Decisions are spread evenly over this many days before the bench started.
PERIOD_DAYS = 60
WAIVERS = 200
#: One approval follows every this-many-th allowed decision.
APPROVAL_EVERY = 25
_REQUESTER = Submitter("ci-pipeline", "key-ci")
_ADMIN = Submitter("platform-admin", "key-admin")
_APPROVER = Submitter("release-manager", "key-release")


@dataclass(frozen=True)
class Template:
    """A fixture base and the engine's decision on it."""

    document: dict[str, Any]
    decision: Decision


def templates(bundle: PolicyBundle) -> list[Template]:
    """The engine's decisions on :data:`BASES` (the embedded engine, one worker)."""
    from adapters.regopy_engine import EmbeddedEngine

    engine = EmbeddedEngine(workers=1)
    try:
        engine.load(bundle)
        found = []
        for name in BASES:
            document = base(name)
            decision = decide(engine, bundle, document, 30.0)
            if decision.outcome == "error":
                raise SystemExit(f"the engine failed on {name}: {decision.error}")
            found.append(Template(document, decision))
        return found
    finally:
        engine.close()


def _model(i: int) -> tuple[str, str, str]:
    name = f"model-{i % MODELS:04d}"
    version = str(1 + (i // MODELS) % VERSIONS)
    return name, version, "sha256:" + hashlib.sha256(f"{name}@{version}".encode()).hexdigest()


@dataclass
class Workload:
    """Generates the entries, in ledger order, and counts what it generated."""

    entries: int
    decisions: int
    templates: Sequence[Template]
    started: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    #: (digest, target, control) -> the waiver's ledger index.
    waivers: dict[tuple[str, str, str], int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def waiver_requests(self) -> list[tuple[tuple[str, str, str], AppendRequest]]:
        """:data:`WAIVERS` waivers of deny controls the templates fail, for the first models."""
        failing = sorted({r["control"] for t in self.templates for r in t.decision.violations})
        expires = format_time(self.started + timedelta(days=365))
        wanted: list[tuple[tuple[str, str, str], AppendRequest]] = []
        for i in range(MODELS * VERSIONS):
            _, _, digest = _model(i)
            for target in TARGETS:
                for control in failing:
                    key = (digest, target, control)
                    request = waiver_request(
                        control=control,
                        digest=digest,
                        target=target,
                        expires_at=expires,
                        reason=f"Compensating control documented in RISK-{len(wanted) + 1:04d}",
                        submitter=_APPROVER,
                    )
                    wanted.append((key, request))
                    if len(wanted) == WAIVERS:
                        return wanted
        return wanted

    def _decision(self, i: int) -> DecisionRecord:
        template = self.templates[i % len(self.templates)]
        name, version, digest = _model(i)
        target = TARGETS[(i // 7) % len(TARGETS)]
        step = timedelta(days=PERIOD_DAYS) / self.decisions
        evaluated_at = format_time(self.started - timedelta(days=PERIOD_DAYS) + step * i)
        mode = "break_glass" if i % 500 == 7 else "dry_run" if i % 20 == 3 else "enforce"
        document = {
            **template.document,
            "evaluated_at": evaluated_at,
            "model": {**template.document["model"], "name": name, "version": version,
                      "digest": digest},
            "target": {**template.document["target"], "environment": target},
        }  # fmt: skip
        decision = template.decision
        if i % 100 == 42:
            results: list[Mapping[str, Any]] = []
            evaluated: list[str] = []
            error: str | None = "the policy engine did not answer within 30 s"
        else:
            # Four decisions in five pass what the base fails; about one in ten fails a control
            # that the base passes.
            repaired = i % 5 != 0
            results = [
                {**r, "status": "fail"}
                if r["status"] == "pass" and (i * 31 + k) % 211 == 0
                else {**r, "status": "pass"}
                if repaired and r["status"] == "fail"
                else r
                for k, r in enumerate(decision.results)
            ]
            evaluated, error = list(decision.evaluated), None
        failing = [r for r in results if r["status"] == "fail"]
        waived = [
            {"control": r["control"], "waiver": self.waivers[(digest, target, r["control"])]}
            for r in failing
            if r["enforcement"] == "deny" and (digest, target, r["control"]) in self.waivers
        ]
        waived_ids = {w["control"] for w in waived}
        violations = [
            r["control"]
            for r in failing
            if r["enforcement"] == "deny" and r["control"] not in waived_ids
        ]
        outcome = "error" if error else "deny" if violations else "allow"
        allow = outcome == "allow" or mode == "break_glass" or (mode == "dry_run" and not error)
        return DecisionRecord(
            decision_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            digest=digest,
            model_name=name,
            model_version=version,
            target=target,
            strategy="canary",
            mode=mode,
            outcome=outcome,
            allow=allow,
            evaluated_at=evaluated_at,
            applicable=list(decision.applicable),
            evaluated=evaluated,
            violations=violations,
            warnings=[r["control"] for r in failing if r["enforcement"] == "warn"],
            waived=waived,
            conflicted=[],
            policy={"bundle_digest": decision.bundle_digest, **decision.engine.to_json()},
            input_sha256=hashlib.sha256(input_bytes(document)).hexdigest(),
            error=error,
            input=document,
            results=results,
            reason="Incident INC-2291: hotfix rollback" if mode == "break_glass" else None,
        )

    def requests(self, slots: int) -> Iterator[AppendRequest]:
        """``slots`` entries: every ``slots // decisions``-th a decision, approvals after some
        allowed ones, evidence entries in between."""
        every = slots // self.decisions
        tag = f"report-{uuid.uuid4().hex[:6]}".encode()
        made = allowed = 0
        approval: AppendRequest | None = None
        for position in range(slots):
            if position % every == every - 1 and made < self.decisions:
                record = self._decision(made)
                submitter = _ADMIN if record.mode == "break_glass" else _REQUESTER
                yield decision_request(record, submitter)
                self._count("gate-decision")
                made += 1
                if record.outcome == "allow":
                    allowed += 1
                    if allowed % APPROVAL_EVERY == 0:
                        approval = approval_request(
                            digest=record.digest,
                            target=record.target,
                            decision_id=record.decision_id,
                            comment="Release approved after review of the gate's decision.",
                            submitter=_APPROVER,
                        )
            elif approval is not None:
                yield approval
                self._count("approval")
                approval = None
            else:
                yield entry(tag, position)
                self._count("evidence")

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


def fill(ledger: Ledger, workload: Workload) -> float:
    """Append the workload (up to 40,000 entries outstanding); returns seconds."""
    started = time.perf_counter()
    waivers = workload.waiver_requests()
    futures = [(key, ledger.submit(request)) for key, request in waivers]
    for key, future in futures:
        workload.waivers[key] = future.result().index
    workload.counts["waiver"] = len(waivers)
    window, chunk = 40_000, 10_000
    pending: deque[Future[Receipt]] = deque()
    committed, next_report = 0, 60.0
    for request in workload.requests(workload.entries - len(waivers)):
        pending.append(ledger.submit(request))
        if len(pending) >= window:
            for _ in range(chunk):
                pending.popleft().result()
            committed += chunk
            elapsed = time.perf_counter() - started
            if elapsed >= next_report:
                say(f"    {committed:,} committed after {elapsed:.0f} s")
                next_report += 60.0
    while pending:
        pending.popleft().result()
    return time.perf_counter() - started


def now() -> datetime:
    """The bench's start: decisions lie in the :data:`PERIOD_DAYS` days before it."""
    return datetime.now(UTC).replace(microsecond=0)
