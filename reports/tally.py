"""What one pass over a report's decisions gathers, and what is read from a decision's payload.

:class:`DecisionTally` takes the period's ``gate_decisions`` rows in ledger order and keeps every
figure the report prints about them (:mod:`reports.data`'s docstring says what each counts); it
runs no SQL, so its rules can be tested on rows alone. :func:`input_and_reason` reads a decision
payload's recorded input and break-glass reason without parsing its results;
:func:`personal_upstream` applies the policies' personal-data test to that input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports import model

#: The policies' tags for personal data (``policies/lib``: ``pii_tags``).
_PII_TAGS = frozenset({"pii", "personal", "personal_data", "sensitive"})
_PERSONAL_FLAGS = ("personal_data", "special_category", "criminal_offence", "children")


def no_outcomes() -> dict[str, int]:
    """A zero count per outcome (``allow``, ``deny``, ``error``)."""
    return dict.fromkeys(("allow", "deny", "error"), 0)


@dataclass(slots=True)
class ControlTally:
    """How one control fared over the report's decisions."""

    framework: str
    article: str
    title: str
    enforcement: str
    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    not_evaluated: int = 0
    waived: int = 0
    verified: int = 0
    declared: int = 0
    failed_in: list[str] = field(default_factory=list)
    evidence: set[int] = field(default_factory=set)
    first_failure: str = ""
    last_failure: str = ""


@dataclass
class DecisionTally:
    """What one pass over the period's decisions gathers (:meth:`add`)."""

    frameworks: tuple[str, ...]
    every: bool
    size: int
    tallies: dict[str, ControlTally]
    framework_of: dict[str, str]
    rows: list[model.Decision] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=no_outcomes)
    per_framework: dict[str, dict[str, int]] = field(default_factory=dict)
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)
    bundles: set[str] = field(default_factory=set)
    engines: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    break_glass: list[model.Decision] = field(default_factory=list)
    dry_run: int = 0
    erased: int = 0
    #: Decisions that allowed a promotion: (index, decision).
    allowed: list[model.Decision] = field(default_factory=list)
    #: Waiver index → decision ids that waived a control under it.
    waiver_uses: dict[int, list[str]] = field(default_factory=dict)
    #: Cited entry → what cites it, in order.
    cited: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.frameworks:
            self.per_framework[name] = no_outcomes()

    def cite(self, index: int, by: str) -> None:
        """Record that ``by`` cites entry ``index`` (once per citer)."""
        if not 0 <= index < self.size:
            return
        citers = self.cited.setdefault(index, [])
        if not citers or citers[-1] != by:
            citers.append(by)

    def includes(self, outcome: str, evaluated: Sequence[str]) -> bool:
        """Whether a decision is in the report (module docstring)."""
        return self.every or outcome == "error" or any(f in self.frameworks for f in evaluated)

    def add(self, row: Sequence[Any]) -> None:
        """Take one ``gate_decisions`` row (see :data:`DECISIONS_SQL`) into every figure."""
        (index, decision_id, digest, name, version, target, outcome, allow, mode, requested_by,
         evaluated_at, summary_json, results_json) = row  # fmt: skip
        summary = json.loads(summary_json)
        if not self.includes(outcome, summary.get("evaluated") or ()):
            return
        index = int(index)
        policy = summary.get("policy") or {}
        engine = " ".join(str(policy[k]) for k in ("engine", "engine_version") if policy.get(k))
        waived = summary.get("waived") or []
        decision = model.Decision(
            decision_id=decision_id,
            index=index,
            evaluated_at=evaluated_at,
            model_name=name,
            model_version=version,
            digest=digest,
            target=target,
            mode=mode,
            outcome=outcome,
            allow=bool(allow),
            requested_by=requested_by,
            violations=list(summary.get("violations") or ()),
            warnings=list(summary.get("warnings") or ()),
            waived=[w["control"] for w in waived],
            bundle_digest=str(policy.get("bundle_digest", "")),
            engine=engine,
        )
        self.rows.append(decision)
        self.outcomes[outcome] += 1
        day = self.days.setdefault(evaluated_at[:10], no_outcomes())
        day[outcome] += 1
        self.digests.add(digest)
        self.bundles.add(decision.bundle_digest)
        self.engines.add(engine)
        self.targets.add(target)
        if mode == "break_glass":
            self.break_glass.append(decision)
        elif mode == "dry_run":
            self.dry_run += 1
        if decision.allow:
            self.allowed.append(decision)
        self.cite(index, decision_id)
        for name_ in self.frameworks:
            if outcome == "error":
                self.per_framework[name_]["error"] += 1
            elif name_ in (summary.get("evaluated") or ()):
                denied = any(self.framework_of.get(c) == name_ for c in decision.violations)
                self.per_framework[name_]["deny" if denied else "allow"] += 1
        for w in waived:
            self.waiver_uses.setdefault(int(w["waiver"]), []).append(decision_id)
            self.cite(int(w["waiver"]), decision_id)
            tally = self.tallies.get(w["control"])
            if tally is not None:
                tally.waived += 1
        if results_json is None:
            if outcome != "error":
                self.erased += 1
            return
        self._results(json.loads(results_json), decision)

    def _results(self, results: Iterable[Mapping[str, Any]], decision: model.Decision) -> None:
        """Count one decision's control results (the hot loop: about 40 per decision)."""
        tallies, cited, size = self.tallies, self.cited, self.size
        decision_id, at = decision.decision_id, decision.evaluated_at
        for result in results:
            tally = tallies.get(result["control"]) or self._unknown(result)
            if tally is None:
                continue
            status = result["status"]
            if status == "pass":
                tally.passed += 1
            elif status == "fail":
                tally.failed += 1
                tally.failed_in.append(decision_id)
                if not tally.first_failure or at < tally.first_failure:
                    tally.first_failure = at
                if at > tally.last_failure:
                    tally.last_failure = at
            elif status == "not_applicable":
                tally.not_applicable += 1
            else:
                tally.not_evaluated += 1
            if result["basis"] == "declared":
                tally.declared += 1
            else:
                tally.verified += 1
            for index in result["evidence"]:
                if type(index) is int and 0 <= index < size:
                    tally.evidence.add(index)
                    citers = cited.get(index)
                    if citers is None:
                        cited[index] = [decision_id]
                    elif citers[-1] is not decision_id:
                        citers.append(decision_id)

    def _unknown(self, result: Mapping[str, Any]) -> ControlTally | None:
        """A new tally for a control the catalog in force no longer has.

        The result describes it; ``None`` when it is not of the report's frameworks.
        """
        if not self.every and result.get("framework") not in self.frameworks:
            return None
        tally = self.tallies[result["control"]] = ControlTally(
            framework=str(result.get("framework")),
            article=str(result.get("article", "")),
            title=str(result.get("title", "")),
            enforcement=str(result.get("enforcement", "deny")),
        )
        self.framework_of.setdefault(result["control"], tally.framework)
        return tally


_DECODER = json.JSONDecoder()
_INPUT_KEY = '{"input":'
_REASON_KEY = ',"reason":'


def input_and_reason(payload: bytes) -> tuple[Any, Any]:
    """A decision payload's input document and break-glass reason, leaving its results unread.

    The payload is the canonical JSON of ``{"input", "reason", "results"}``
    (:func:`governance.gate.record.decision_request`), so its keys come in that order and the
    results, most of its bytes, need not be parsed. Anything else is parsed whole.
    """
    text = payload.decode("utf-8")
    if text.startswith(_INPUT_KEY):
        try:
            document, end = _DECODER.raw_decode(text, len(_INPUT_KEY))
            if text.startswith(_REASON_KEY, end):
                reason, _ = _DECODER.raw_decode(text, end + len(_REASON_KEY))
                return document, reason
        except ValueError:
            pass
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        return None, None
    return parsed.get("input"), parsed.get("reason")


def _personal(dataset: Mapping[str, Any]) -> bool:
    classification = dataset.get("classification") or {}
    if any(classification.get(flag) is True for flag in _PERSONAL_FLAGS):
        return True
    tags = [
        *dataset.get("tags", ()),
        *(t for f in dataset.get("fields", ()) for t in f.get("tags", ())),
    ]
    return any(str(t).split("=", 1)[0].lower() in _PII_TAGS for t in tags)


def personal_upstream(document: Any) -> list[str]:
    """The upstream datasets of a recorded gate input that hold personal data (policies' test)."""
    if not isinstance(document, dict):
        return []
    datasets = document.get("datasets") or ()
    return [d["node"] for d in datasets if d.get("distance", 0) > 0 and _personal(d)]


def subject_digests(expected: str | None, facts: Mapping[str, Any] | None) -> list[str]:
    """An attestation verdict's subject digests, ``sha256:``-spelled, first seen first."""
    found: list[str] = []
    if expected:
        found.append(expected)
    if facts:
        found.append(facts.get("artifact_digest") or "")
        found.append((facts.get("model") or {}).get("digest") or "")
        found.extend(
            s["digest"]["sha256"] for s in facts.get("subjects") or () if "sha256" in s["digest"]
        )
    spelled = ("sha256:" + d.removeprefix("sha256:").lower() for d in found if d)
    return list(dict.fromkeys(spelled))
