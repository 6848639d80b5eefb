"""A client of the gate's HTTP API, for CI: ask for a decision, get its answer or a clear error.

Uses only the standard library, so a CI job needs nothing but this package. Every way the call
can go wrong is :class:`GateCallFailed`, never a silent allow, and the message says which:

* the gate could not be reached (no request was sent: name resolution, connecting, TLS);
* the request was sent but no answer came within the timeout (the decision may still have been
  made and recorded);
* the connection broke before a whole answer arrived;
* the gate refused the request (a problem document: its status and detail);
* the gate answered 2xx with something that is not a decision (not JSON, fields missing or of
  the wrong type, or an ``allow`` that contradicts the outcome and mode).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from governance.http_call import CallFailed, post_json

DECISIONS_PATH = "/api/v1/gate/decisions"

_OUTCOMES = ("allow", "deny", "error")
_MODES = ("enforce", "dry_run", "break_glass")
#: The lists of results a decision has, each item naming at least its control.
_RESULT_LISTS = ("violations", "warnings", "waived")


class GateCallFailed(CallFailed):
    """The gate could not be asked, or refused the request (status 0 when nothing answered)."""

    code = "gate-call"


def request_decision(
    url: str, api_key: str, body: Mapping[str, Any], *, timeout: float = 60.0
) -> dict[str, Any]:
    """POST ``body`` to the gate at ``url`` (the service's base URL); the decision as JSON.

    The answer is checked to be a decision (:func:`check_decision`) before it is returned.
    """
    try:
        answer = post_json(
            url,
            DECISIONS_PATH,
            api_key,
            body,
            timeout=timeout,
            service="the gate",
            awaited="the decision",
            pending="the decision may have been recorded anyway (GET /api/v1/gate/decisions"
            "?digest=)",
            hints={
                403: "the key needs the role gate (or admin)",
                503: "the gate is busy or not ready: ask again",
            },
        )
    except CallFailed as exc:
        raise GateCallFailed(exc.message, status=exc.status, body=exc.body, hint=exc.hint) from None
    return check_decision(answer)


def check_decision(answer: Any) -> dict[str, Any]:
    """``answer`` if it is a decision the CLI can act on; :class:`GateCallFailed` otherwise.

    A decision has a ``decision_id``; an ``outcome`` (allow, deny or error) and a ``mode``
    (enforce, dry_run or break_glass) whose ``allow`` agrees with them (in enforce, allow only
    on outcome allow; otherwise always allow); ``error`` (text or null); the lists ``evaluated``
    (framework names) and ``violations``, ``warnings`` and ``waived`` (results naming a
    control); ``evaluated_at``; and ``policy`` naming the bundle and engine.
    """
    if not isinstance(answer, dict):
        raise _not_a_decision("it is not a JSON object")
    decision: dict[str, Any] = answer
    _require(decision, "decision_id", isinstance(decision.get("decision_id"), str))
    _require(decision, "outcome", decision.get("outcome") in _OUTCOMES)
    _require(decision, "mode", decision.get("mode") in _MODES)
    _require(decision, "allow", isinstance(decision.get("allow"), bool))
    _require(decision, "error", isinstance(decision.get("error"), str | None))
    _require(decision, "evaluated_at", isinstance(decision.get("evaluated_at"), str))
    _require(decision, "evaluated", _is_list_of(decision.get("evaluated"), str))
    for key in _RESULT_LISTS:
        _require(decision, key, _is_list_of(decision.get(key), dict))
        _require(decision, key, all(isinstance(r.get("control"), str) for r in decision[key]))
    policy = decision.get("policy")
    _require(
        decision,
        "policy",
        isinstance(policy, dict)
        and all(
            isinstance(policy.get(k), str) for k in ("bundle_digest", "engine", "engine_version")
        ),
    )
    expected = decision["outcome"] == "allow" if decision["mode"] == "enforce" else True
    if decision["allow"] is not expected:
        raise _not_a_decision(
            f"allow is {str(decision['allow']).lower()} for outcome {decision['outcome']} "
            f"in mode {decision['mode']}"
        )
    return decision


def _require(decision: Mapping[str, Any], key: str, ok: bool) -> None:
    if not ok:
        shown = json.dumps(decision.get(key))[:80] if key in decision else "missing"
        raise _not_a_decision(f"{key} is {shown}")


def _is_list_of(value: Any, item: type) -> bool:
    return isinstance(value, list) and all(isinstance(v, item) for v in value)


def _not_a_decision(why: str) -> GateCallFailed:
    return GateCallFailed(
        f"the gate's answer is not a decision: {why}",
        hint="is --url the governance service itself, not a proxy or another service?",
    )
