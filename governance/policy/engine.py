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
ENFORCEMENTS = frozenset({"deny", "warn"})
_RESULT_KEYS = frozenset(
    {
        "control",
        "framework",
        "article",
        "title",
        "status",
        "basis",
        "message",
        "subjects",
        "evidence",
        "enforcement",
    }
)

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
            "results": self.results,
            "error": self.error,
            "policy": {"bundle_digest": self.bundle_digest, **self.engine.to_json()},
        }


def _check_results(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise PolicyEngineError(f"the decision's {name} is not a list")
    for result in value:
        if not isinstance(result, dict) or not set(result) >= _RESULT_KEYS:
            raise PolicyEngineError(f"a result in the decision's {name} lacks a required field")
        if result["status"] not in STATUSES or result["basis"] not in BASES:
            raise PolicyEngineError(f"a result in {name} has an unknown status or basis")
        if result["enforcement"] not in ENFORCEMENTS:
            raise PolicyEngineError(f"a result in {name} has an unknown enforcement")
    return value


def _check_frameworks(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise PolicyEngineError(f"the decision's {name} is not a list of framework names")
    return value


def read_decision(
    raw: Any, engine: EngineInfo, bundle_digest: str, milliseconds: float
) -> Decision:
    """A :class:`Decision` from an engine's raw document.

    :class:`PolicyEngineError` if it is not the gate's shape or contradicts itself (an allow
    with violations).
    """
    if not isinstance(raw, dict):
        raise PolicyEngineError("the engine returned no decision document (undefined)")
    allow = raw.get("allow")
    if not isinstance(allow, bool):
        raise PolicyEngineError("the decision has no boolean allow")
    violations = _check_results("violations", raw.get("violations"))
    if allow == bool(violations):
        raise PolicyEngineError("the decision's allow contradicts its violations")
    return Decision(
        outcome="allow" if allow else "deny",
        allow=allow,
        applicable=_check_frameworks("applicable", raw.get("applicable")),
        evaluated=_check_frameworks("evaluated", raw.get("evaluated")),
        results=_check_results("results", raw.get("results")),
        violations=violations,
        warnings=_check_results("warnings", raw.get("warnings")),
        waived=_check_results("waived", raw.get("waived")),
        engine=engine,
        bundle_digest=bundle_digest,
        milliseconds=milliseconds,
        raw=raw,
    )


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
        return read_decision(raw, engine.info, bundle.digest, elapsed)
    except PolicyEngineError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return error_decision(exc.message, engine.info, bundle.digest, elapsed)


def failing_controls(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the results that failed, sorted."""
    return sorted(str(r["control"]) for r in results if r["status"] == "fail")
