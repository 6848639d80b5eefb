"""The policy engine protocol, and a decision as the service records it.

Two engines evaluate the same bundle (chosen by ``GOVERNANCE_POLICY_ENGINE``; both in
``adapters/``): ``embedded`` runs the rego-cpp engine (``regopy``) in a worker process of its own,
because some Rego constructs crash or hang it; ``opa`` asks an OPA server, whose copy of the bundle
is checked by digest before every decision. Either way :func:`decide` fails closed: an engine
error, a crash, a timeout, or a decision document that is not the shape the gate promises, is a
decision with outcome ``error`` and ``allow`` false — never an allow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from governance.errors import GovernanceError, InputError
from governance.policy.bundle import PolicyBundle
from governance.policy.input import PolicyInput

#: The decision document every engine is asked for.
DECISION_QUERY = "data.governance.gate.decision"

STATUSES = frozenset({"pass", "fail", "not_applicable", "not_evaluated"})
BASES = frozenset({"verified", "declared"})
FRAMEWORKS = frozenset({"gdpr", "uae_pdpl", "iso27001"})
#: What a rule reports for a control (``lib.result`` in Rego); the catalog adds the rest.
_RESULT_KEYS = frozenset({"control", "status", "basis", "message", "subjects", "evidence"})

Outcome = Literal["allow", "deny", "error"]


class PolicyEngineError(GovernanceError):
    """The engine could not produce a decision (error, crash, timeout, unreachable server)."""

    code = "policy-engine"


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Which engine decided, and its version."""

    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        """As decisions record it."""
        return {"engine": self.name, "engine_version": self.version}


class PolicyEngine(Protocol):
    """Evaluates the bundle's gate decision for an input document."""

    @property
    def info(self) -> EngineInfo:
        """The engine's name and version."""
        ...

    def load(self, bundle: PolicyBundle) -> None:
        """Make ``bundle`` (modules and data) the one every later decision uses."""
        ...

    def evaluate(self, document: Mapping[str, Any], timeout: float) -> Any:
        """The raw decision document for ``document``; :class:`PolicyEngineError` otherwise."""
        ...

    def close(self) -> None:
        """Release the engine's process or connections."""
        ...


@dataclass(frozen=True)
class Decision:
    """The gate's answer for one input, as recorded and returned."""

    outcome: Outcome
    allow: bool
    applicable: list[str]
    evaluated: list[str]
    results: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    waived: list[dict[str, Any]]
    engine: EngineInfo
    bundle_digest: str
    milliseconds: float
    error: str | None = None
    #: Principals who may not approve or waive this promotion (segregation of duties).
    conflicted: list[str] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The decision document as the CLI and the API show it."""
        return {
            "outcome": self.outcome,
            "allow": self.allow,
            "applicable": self.applicable,
            "evaluated": self.evaluated,
            "violations": self.violations,
            "warnings": self.warnings,
            "waived": self.waived,
            "conflicted": self.conflicted,
            "results": self.results,
            "error": self.error,
            "policy": {"bundle_digest": self.bundle_digest, **self.engine.to_json()},
        }


def _check_frameworks(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(x in FRAMEWORKS for x in value):
        raise PolicyEngineError(f"the decision's {name} is not a list of framework names")
    return sorted(value)


def _check_results(value: Any, bundle: PolicyBundle, evaluated: list[str]) -> list[dict[str, Any]]:
    """The rules' results joined with the catalog, in control id order.

    Exactly one per control of every evaluated framework, each naming a control of the catalog.
    """
    if not isinstance(value, list):
        raise PolicyEngineError("the decision's results are not a list")
    catalog = {c.id: c for c in bundle.controls()}
    joined: dict[str, dict[str, Any]] = {}
    for result in value:
        if not isinstance(result, dict) or set(result) != _RESULT_KEYS:
            raise PolicyEngineError("a result of the decision is not a control's result")
        control = catalog.get(result["control"]) if isinstance(result["control"], str) else None
        if control is None or control.framework not in evaluated:
            raise PolicyEngineError(f"a result names no evaluated control: {result['control']!r}")
        if control.id in joined:
            raise PolicyEngineError(f"two results for the control {control.id}")
        if result["status"] not in STATUSES or result["basis"] not in BASES:
            raise PolicyEngineError(f"the result of {control.id} has an unknown status or basis")
        joined[control.id] = {
            "control": control.id,
            "framework": control.framework,
            "article": control.article,
            "title": control.title,
            "status": result["status"],
            "basis": result["basis"],
            "message": result["message"],
            "subjects": result["subjects"],
            "evidence": result["evidence"],
            "enforcement": control.enforcement,
        }
    missing = [c.id for c in catalog.values() if c.framework in evaluated and c.id not in joined]
    if missing:
        raise PolicyEngineError(f"the decision has no result for {', '.join(missing)}")
    return [joined[control] for control in sorted(joined)]


def _failing(
    name: str, value: Any, results: Mapping[str, dict[str, Any]], enforcement: str
) -> list[str]:
    """The control ids the decision lists as ``name``: each a failing result of ``enforcement``."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise PolicyEngineError(f"the decision's {name} is not a list of control ids")
    for control in value:
        result = results.get(control)
        if result is None or result["status"] != "fail" or result["enforcement"] != enforcement:
            raise PolicyEngineError(f"the decision lists {control} among its {name} wrongly")
    return sorted(set(value))


def read_decision(
    raw: Any,
    bundle: PolicyBundle,
    document: Mapping[str, Any],
    engine: EngineInfo,
    milliseconds: float,
) -> Decision:
    """A :class:`Decision` from an engine's raw (compact) document, decided on ``document``.

    Each result is joined with the catalog entry of ``bundle`` (framework, article, title,
    enforcement in force); violations, warnings and waived are expanded from control ids into
    those results, a waived one with its waiver from the input. :class:`PolicyEngineError` if
    the document is not the gate's shape or contradicts itself: a result missing or doubled, a
    violation that is no failing deny control, a failing deny control neither a violation nor
    waived, an allow with violations.
    """
    if not isinstance(raw, dict):
        raise PolicyEngineError("the engine returned no decision document (undefined)")
    allow = raw.get("allow")
    if not isinstance(allow, bool):
        raise PolicyEngineError("the decision has no boolean allow")
    evaluated = _check_frameworks("evaluated", raw.get("evaluated"))
    results = _check_results(raw.get("results"), bundle, evaluated)
    by_control = {r["control"]: r for r in results}
    violations = _failing("violations", raw.get("violations"), by_control, "deny")
    warnings = _failing("warnings", raw.get("warnings"), by_control, "warn")
    waived_raw = raw.get("waived")
    if not isinstance(waived_raw, list) or not all(
        isinstance(w, dict) and set(w) == {"control", "waiver"} for w in waived_raw
    ):
        raise PolicyEngineError("the decision's waived is not a list of {control, waiver}")
    waivers = {w["index"]: w for w in document.get("waivers") or ()}
    waived_by: dict[str, Mapping[str, Any]] = {}
    for entry in waived_raw:
        waiver = waivers.get(entry["waiver"])
        if waiver is None or waiver["control"] != entry["control"]:
            raise PolicyEngineError("the decision waives a control with a waiver not in the input")
        waived_by[entry["control"]] = waiver
    waived_ids = _failing("waived", sorted(waived_by), by_control, "deny")
    denied = {c for c, r in by_control.items() if r["status"] == "fail"}
    denied = {c for c in denied if by_control[c]["enforcement"] == "deny"}
    if denied != set(violations) | set(waived_ids) or set(violations) & set(waived_ids):
        raise PolicyEngineError("the decision's violations and waivers do not cover its failures")
    if allow == bool(violations):
        raise PolicyEngineError("the decision's allow contradicts its violations")
    conflicted = raw.get("conflicted")
    if not isinstance(conflicted, list) or not all(isinstance(c, str) for c in conflicted):
        raise PolicyEngineError("the decision's conflicted is not a list of principals")
    return Decision(
        outcome="allow" if allow else "deny",
        allow=allow,
        applicable=_check_frameworks("applicable", raw.get("applicable")),
        evaluated=evaluated,
        results=results,
        violations=[by_control[c] for c in violations],
        warnings=[by_control[c] for c in warnings],
        waived=[{**by_control[c], "waiver": _waiver_json(waived_by[c])} for c in waived_ids],
        engine=engine,
        bundle_digest=bundle.digest,
        milliseconds=milliseconds,
        conflicted=sorted(set(conflicted)),
        raw=raw,
    )


def _waiver_json(waiver: Mapping[str, Any]) -> dict[str, Any]:
    return {k: waiver[k] for k in ("index", "approver", "reason", "expires_at")}


def error_decision(
    message: str, engine: EngineInfo, bundle_digest: str, milliseconds: float
) -> Decision:
    """The fail-closed decision for an engine that could not decide."""
    return Decision(
        outcome="error",
        allow=False,
        applicable=[],
        evaluated=[],
        results=[],
        violations=[],
        warnings=[],
        waived=[],
        engine=engine,
        bundle_digest=bundle_digest,
        milliseconds=milliseconds,
        error=message,
    )


def check_input(document: Mapping[str, Any]) -> PolicyInput:
    """``document`` as a :class:`PolicyInput`; :class:`InputError` naming each misfit."""
    try:
        return PolicyInput.model_validate(document)
    except ValidationError as exc:
        errors = [
            {
                "path": "$"
                + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                "message": str(e["msg"]),
            }
            for e in exc.errors()
        ]
        raise InputError("the policy input does not fit its schema", errors=errors) from None


def decide(
    engine: PolicyEngine,
    bundle: PolicyBundle,
    document: PolicyInput | Mapping[str, Any],
    timeout: float,
) -> Decision:
    """Evaluate ``document`` (validated against the input schema first) and read the answer.

    Never raises for an engine's failure: that is an ``error`` decision (``allow`` false). An
    input that does not fit the schema raises :class:`~governance.errors.InputError`, since no
    engine was asked.
    """
    checked = document if isinstance(document, PolicyInput) else check_input(document)
    plain = checked.model_dump(mode="json")
    started = time.perf_counter()
    try:
        raw = engine.evaluate(plain, timeout)
        elapsed = (time.perf_counter() - started) * 1000
        return read_decision(raw, bundle, plain, engine.info, elapsed)
    except PolicyEngineError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return error_decision(exc.message, engine.info, bundle.digest, elapsed)


def failing_controls(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the results that failed, sorted."""
    return sorted(str(r["control"]) for r in results if r["status"] == "fail")
