"""Pure conversions for :mod:`~governance.lineage.upstream`: stored lineage → policy input parts.

Everything here turns what a producer sent (camelCase facets, free-form JSON) into the
snake_case shapes of the policy input document without guessing: an absent fact stays absent
(``None`` or an empty list), and a value of the wrong type is left out rather than coerced.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from governance.lineage.fold import STATE_RANK, TERMINAL_STATES
from governance.timefmt import policy_time

__all__ = [
    "DIGEST",
    "declared_digest",
    "event_facts",
    "field_tags",
    "owners",
    "policy_form",
    "run_state",
    "snake",
    "snake_object",
]

#: A model digest as a producer may write it: ``sha256:HEX`` or bare hex.
DIGEST = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """``lawfulBasis`` → ``lawful_basis``; an already snake_case name is unchanged."""
    return _CAMEL.sub("_", name).lower()


def snake_object(value: Any) -> Any:
    """A JSON object with its keys in snake_case (``_producer``-style keys dropped)."""
    if not isinstance(value, dict):
        return value
    return {snake(k): v for k, v in value.items() if not k.startswith("_")}


def policy_form(stored: Any) -> str | None:
    """A stored or sent RFC 3339 time in the policy input's form; ``None`` when it is not one."""
    if not isinstance(stored, str):
        return None
    try:
        moment = datetime.fromisoformat(stored)
        return policy_time(moment)
    except (ValueError, OverflowError):
        return None


def declared_digest(version: str | None) -> str | None:
    """``sha256:hex`` when ``version`` (a dataset version or facet value) names a digest."""
    if not isinstance(version, str):
        return None
    match = DIGEST.match(version)
    return f"sha256:{match.group(1).lower()}" if match else None


def owners(facets: dict[str, Any]) -> list[str]:
    """Owner names from an ``ownership`` facet."""
    ownership = facets.get("ownership")
    listed = ownership.get("owners") if isinstance(ownership, dict) else None
    if not isinstance(listed, list):
        return []
    return [o["name"] for o in listed if isinstance(o, dict) and isinstance(o.get("name"), str)]


def field_tags(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``schema`` facet's columns with the ``tags`` facet's column tags (``key=value``)."""
    schema = facets.get("schema")
    columns = schema.get("fields") if isinstance(schema, dict) else None
    tags = facets.get("tags")
    listed = tags.get("tags") if isinstance(tags, dict) else None
    by_field: dict[str, list[str]] = {}
    for tag in listed if isinstance(listed, list) else ():
        if isinstance(tag, dict) and isinstance(tag.get("field"), str):
            key, value = tag.get("key"), tag.get("value")
            if isinstance(key, str):
                text = key if value in (None, "", True, "true") else f"{key}={value}"
                by_field.setdefault(tag["field"], []).append(text)
    names = [
        c["name"]
        for c in (columns if isinstance(columns, list) else ())
        if isinstance(c, dict) and isinstance(c.get("name"), str)
    ]
    names += sorted(set(by_field) - set(names))
    return [{"name": n, "tags": sorted(set(by_field.get(n, [])))} for n in names]


def run_state(events: list[dict[str, Any]]) -> tuple[str, str | None, str | None]:
    """State, start and end of a run from its events, by the projection's rule (fold.py)."""
    state, state_time, started, ended = "OTHER", "", None, None
    for event in events:
        kind = event["type"] if event["type"] in STATE_RANK else "OTHER"
        time = event["time"]
        if STATE_RANK[kind] > STATE_RANK[state] or (
            STATE_RANK[kind] == STATE_RANK[state] and time >= state_time
        ):
            state, state_time = kind, time
        if kind == "START" and (started is None or time < started):
            started = time
        if kind in TERMINAL_STATES and (ended is None or time > ended):
            ended = time
    return state, started, ended


_STATUS = {"pass": "pass", "fail": "fail", "skip": "skip", "passed": "pass", "failed": "fail"}


def event_facts(
    payload: dict[str, Any], index: int, model_node: tuple[str, str] | None
) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """An event's type, time, and the tests it reports.

    Tests are the ``TestRunFacet`` (a run facet with a ``tests`` list) and, for the inputs of the
    event, ``dataQualityAssertions`` input facets. ``model_node`` limits assertions to those on
    the model's node when given (an evaluation run reads more than the model).
    """
    event_type = payload.get("eventType")
    time = policy_form(payload.get("eventTime"))
    run = payload.get("run")
    run_id = run.get("runId") if isinstance(run, dict) else None
    run_id = run_id if isinstance(run_id, str) else None
    tests: list[dict[str, Any]] = []
    facets = run.get("facets") if isinstance(run, dict) else None
    for facet in (facets or {}).values() if isinstance(facets, dict) else ():
        listed = facet.get("tests") if isinstance(facet, dict) else None
        for test in listed if isinstance(listed, list) else ():
            if not isinstance(test, dict) or not isinstance(test.get("name"), str):
                continue
            severity = test.get("severity")
            tests.append(
                {
                    "name": test["name"],
                    "status": _STATUS.get(str(test.get("status", "")).lower(), "fail"),
                    "severity": "warn" if severity == "warn" else "error",
                    "kind": test.get("type") if isinstance(test.get("type"), str) else None,
                    "run_id": run_id,
                    "index": index,
                }
            )
    inputs = payload.get("inputs")
    for item in inputs if isinstance(inputs, list) else ():
        if not isinstance(item, dict):
            continue
        if model_node is not None and (item.get("namespace"), item.get("name")) != model_node:
            continue
        input_facets = item.get("inputFacets")
        quality = (
            input_facets.get("dataQualityAssertions") if isinstance(input_facets, dict) else None
        )
        assertions = quality.get("assertions") if isinstance(quality, dict) else None
        for a in assertions if isinstance(assertions, list) else ():
            if not isinstance(a, dict) or not isinstance(a.get("assertion"), str):
                continue
            column = a.get("column")
            name = a["assertion"] if not isinstance(column, str) else f"{a['assertion']}:{column}"
            tests.append(
                {
                    "name": f"{item.get('name')}/{name}",
                    "status": "pass" if a.get("success") is True else "fail",
                    "severity": "error" if a.get("severity") != "warn" else "warn",
                    "kind": "data_quality",
                    "run_id": run_id,
                    "index": index,
                }
            )
    return (event_type if isinstance(event_type, str) else None), time, tests
