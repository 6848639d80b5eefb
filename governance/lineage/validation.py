"""Read one OpenLineage event (or a batch) into a :class:`LineageEvent`, in two tiers.

1. **Identity** — what the lineage graph is keyed on: a parseable ``eventTime``; for run events
   ``run.runId`` and ``job.namespace``/``job.name``; for job events the job; for dataset events
   ``dataset.namespace``/``dataset.name``; a namespace and name on every input and output. Any
   problem here rejects the event with :class:`~governance.errors.InputError` (HTTP 400) listing
   *every* problem by JSON path, because the stock Python client gives up on 4xx and the
   producer's operator needs the whole list at once. See :mod:`governance.lineage.identity`.
2. **Everything else** is checked against the official OpenLineage JSON Schemas shipped in
   ``schemas/`` (the event against ``OpenLineage.json``, each facet against its facet schema,
   the project's ``governance`` facet against ``GovernanceDatasetFacet.json``) and recorded as
   warnings on the event, never as errors: real producers deviate from the spec (Spark sends
   ``"file"`` where a URI is required, Airflow custom facets, naive timestamps …) and a
   compliance ledger must not lose their events over it. See
   :mod:`governance.lineage.schema_warnings` and, for the schemas,
   :mod:`governance.lineage.facet_schemas`, which never fetches anything over the network.

The kind of an event is told by its *shape* (``run`` → run event, else ``dataset`` → dataset
event, else ``job`` → job event), never by ``schemaURL``, which producers get wrong.

Before either tier a body is decoded and held to :class:`Limits`
(:mod:`governance.jsondoc`). This module is the entry point: the names in
``__all__`` are imported from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from governance.errors import InputError
from governance.jsondoc import Limits, enforce, json_type, parse
from governance.lineage.events import DatasetRef, LineageEvent, Problem
from governance.lineage.facet_schemas import GOVERNANCE_FACET_SCHEMA_URL, governance_facet_schema
from governance.lineage.identity import _IdentityReader
from governance.lineage.schema_warnings import _schema_warnings
from governance.lineage.timestamps import parse_time

__all__ = [
    "GOVERNANCE_FACET_SCHEMA_URL",
    "MAX_WARNINGS",
    "DatasetRef",
    "Limits",
    "LineageEvent",
    "Problem",
    "governance_facet_schema",
    "parse_batch",
    "parse_event",
    "parse_time",
    "validate_event",
]

#: Warnings kept per event; the rest are summarised in one final "... N more" warning, so a
#: 23 MB Spark event with a systematic deviation cannot flood the warnings table.
MAX_WARNINGS = 100

# Limits is frozen, so one instance can safely be every call's default.
_DEFAULT_LIMITS = Limits()


def parse_event(raw: bytes, limits: Limits = _DEFAULT_LIMITS) -> LineageEvent:
    """Decode and validate one event body.

    Raises :class:`InputError` (400; :class:`PayloadTooLarge`, 413, for a size limit) for a body
    that is not UTF-8 JSON, breaks ``limits``, is not an object, or lacks identity fields; the
    error's ``errors`` lists every identity problem by JSON path. Nothing else is raised for bad
    input: schema deviations become ``LineageEvent.warnings``.
    """
    value = parse(raw)
    if not isinstance(value, dict):
        detail = f"an event must be a JSON object, not {json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    enforce(value, limits)
    return validate_event(value)


def parse_batch(raw: bytes, limits: Limits = _DEFAULT_LIMITS) -> list[Any]:
    """Decode a batch body (a JSON array of events) within ``limits``; events not yet validated.

    Each element is meant for :func:`validate_event`, so that one bad event can be reported by
    its index without rejecting the others.
    """
    value = parse(raw)
    if not isinstance(value, list):
        detail = f"a batch must be a JSON array of events, not {json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    enforce(value, limits)
    return value


def validate_event(value: Any) -> LineageEvent:
    """Validate an already-decoded event; as :func:`parse_event` after decoding.

    The caller is responsible for structural limits (``parse_event``/``parse_batch`` enforce
    them); values read back from the ledger were within them when they were accepted.
    """
    if not isinstance(value, dict):
        detail = f"an event must be a JSON object, not {json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    reader = _IdentityReader(value)
    event = reader.read()
    if reader.errors:
        raise InputError(
            "the event is missing identity fields or they are invalid",
            errors=[problem.to_json() for problem in reader.errors],
        )
    assert event is not None
    warnings = _cap([*reader.warnings, *_schema_warnings(value, event.kind)])
    return dataclasses.replace(event, warnings=warnings)


def _cap(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    kept: list[Problem] = []
    seen: set[Problem] = set()
    more = 0
    for problem in problems:
        if problem in seen:
            continue
        seen.add(problem)
        if len(kept) < MAX_WARNINGS:
            kept.append(problem)
        else:
            more += 1
    if more:
        kept.append(Problem("$", f"... {more} more warnings"))
    return tuple(kept)
