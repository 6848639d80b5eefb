"""The schema tier: an event and each of its facets checked against the shipped schemas.

Every deviation found here is a warning, never an error. A facet with a known schema, by its key
or by the ``_schemaURL`` it declares, is checked against that schema and left out of the event
schema's own check, so that each problem is reported once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from governance.jsondoc import json_path, shorten
from governance.lineage.events import EventKind, Problem
from governance.lineage.facet_schemas import (
    _EVENT_DEFS,
    _GOVERNANCE_ID,
    _OPENLINEAGE_ID,
    FacetLocation,
    _FacetSchema,
    _Schemas,
    _schemas,
    _validator,
)
from governance.lineage.timestamps import parse_time

_LOCATION_FIELDS: dict[FacetLocation, str] = {
    "run": "run.facets",
    "job": "job.facets",
    "dataset": "facets",
    "input": "inputFacets",
    "output": "outputFacets",
}

Path = tuple[str | int, ...]


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The specific errors behind an ``anyOf``/``oneOf`` failure, instead of the summary.

    The OpenLineage schema wraps every facets map in a one-branch ``anyOf``, whose own message
    ("... is not valid under any of the given schemas") names neither the facet nor the field.
    When several alternatives fail (a lineage entry is a dataset *or* a job entry), the one with
    the fewest problems is reported: it is most likely the one the producer meant.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    # Branches in schema order, so ties go to the first alternative: deterministic warnings.
    candidates = [[leaf for sub in subs for leaf in _leaves(sub)] for subs in branches.values()]
    return min(candidates, key=len)


def _missing_property(error: ValidationError) -> tuple[str, ...]:
    # Point a "required" failure at the missing field itself ("$.run.facets.parent.run.runId"),
    # like the identity errors do, rather than at the object that lacks it.
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance and error.message == f"{name!r} is a required property":
                return (name,)
    return ()


def _schema_problems(uri: str, instance: Any, prefix: Path) -> Iterator[Problem]:
    # Producers repeat the same facets in event after event (a job's START and COMPLETE, a
    # dataset's schema in every run): validate each distinct facet value once.
    try:
        key = json.dumps(instance, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        relative = _relative_problems(uri, instance)
    else:
        relative = _cached_problems(uri, key)
    for parts, message in relative:
        yield Problem(json_path((*prefix, *parts)), message)


@functools.lru_cache(maxsize=8192)
def _cached_problems(uri: str, key: str) -> tuple[tuple[Path, str], ...]:
    return _relative_problems(uri, json.loads(key))


def _relative_problems(uri: str, instance: Any) -> tuple[tuple[Path, str], ...]:
    found: list[tuple[Path, str]] = []
    try:
        for error in _validator(uri).iter_errors(instance):
            for leaf in _leaves(error):
                parts: Path = (*leaf.absolute_path, *_missing_property(leaf))
                found.append((parts, shorten(leaf.message)))
    except Unresolvable as exc:  # a shipped schema is broken; never the caller's fault
        found.append(((), shorten(f"schema {uri} could not be resolved: {exc}")))
    except RecursionError:
        # jsonschema recurses ~10 frames per nesting level: fine within the default
        # Limits.max_depth, not for a caller that raised it a lot. Not the producer's fault either.
        found.append(((), "too deeply nested to check against the schema"))
    return tuple(found)


@dataclass(frozen=True)
class _FacetSite:
    path: Path  # of the facets map, e.g. ("inputs", 0, "inputFacets")
    location: FacetLocation
    facets: dict[str, Any]


def _facet_sites(value: dict[str, Any], kind: EventKind) -> Iterator[_FacetSite]:
    def site(
        container: Any, path: Path, field: str, location: FacetLocation
    ) -> Iterator[_FacetSite]:
        if isinstance(container, dict) and isinstance(container.get(field), dict):
            yield _FacetSite((*path, field), location, container[field])

    yield from site(value.get("run"), ("run",), "facets", "run")
    if kind != "dataset":
        yield from site(value.get("job"), ("job",), "facets", "job")
    for side in ("inputs", "outputs") if kind != "dataset" else ():
        listed = value.get(side)
        for index, item in enumerate(listed if isinstance(listed, list) else []):
            yield from site(item, (side, index), "facets", "dataset")
            yield from site(item, (side, index), "inputFacets", "input")
            yield from site(item, (side, index), "outputFacets", "output")
    if kind == "dataset":
        yield from site(value.get("dataset"), ("dataset",), "facets", "dataset")


def _declared_facet(facet: Any, schemas: _Schemas) -> _FacetSchema | None:
    """The known facet schema a facet's ``_schemaURL`` names, by definition or file name.

    Matches across versions and spec layouts: ``.../facets/1-0-1/SQLJobFacet.json#/$defs/
    SQLJobFacet`` and the pre-2.0 ``.../OpenLineage.json#/definitions/SQLJobFacet`` alike.
    """
    url = facet.get("_schemaURL") if isinstance(facet, dict) else None
    if not isinstance(url, str):
        return None
    address, _, fragment = url.partition("#")
    if fragment.startswith("/"):
        return schemas.by_definition.get(fragment.rsplit("/", 1)[1])
    stem = address.rsplit("/", 1)[-1]
    return schemas.by_file.get(stem.removesuffix(".json")) if stem.endswith(".json") else None


def _governance_extras(facet: Any, path: Path, schemas: _Schemas) -> Iterator[Problem]:
    if not isinstance(facet, dict):
        return
    for field in facet:
        if field.startswith("_") or field in schemas.governance_fields:
            continue  # "_producer", "_schemaURL", "_deleted" come from the facet base
        yield Problem(
            json_path((*path, field)), f"unknown field {field} in the governance facet (kept)"
        )
    collected = facet.get("collectedAt")
    if isinstance(collected, str):
        # `format` is not asserted schema-wide; this one is ours and feeds storage limitation.
        try:
            parse_time(collected)
        except ValueError:
            yield Problem(
                json_path((*path, "collectedAt")), "collectedAt is not an RFC 3339 date-time"
            )


def _schema_warnings(value: dict[str, Any], kind: EventKind) -> Iterator[Problem]:
    schemas = _schemas()
    plan: list[tuple[Path, _FacetSchema, Any]] = []
    planned: dict[Path, set[str]] = {}
    notes: list[Problem] = []
    for site in _facet_sites(value, kind):
        for key, facet in site.facets.items():
            if isinstance(facet, dict) and facet.get("_deleted") is True:
                continue  # a deletion marker carries no content to check
            path: Path = (*site.path, key)
            target = schemas.by_location.get((site.location, key))
            if target is None:
                # Unknown keys are custom facets and fine, unless they claim a known schema.
                declared = _declared_facet(facet, schemas)
                if declared is None:
                    continue
                notes.append(
                    Problem(
                        json_path(path),
                        f"facet {key} declares the {declared.definition} schema, which is the "
                        f"'{declared.key}' facet in {_LOCATION_FIELDS[declared.location]}; "
                        "validated against it",
                    )
                )
                target = declared
            plan.append((path, target, facet))
            planned.setdefault(site.path, set()).add(key)
    event_schema = f"{_OPENLINEAGE_ID}#/$defs/{_EVENT_DEFS[kind]}"
    yield from _schema_problems(event_schema, _without_identity(_pruned(value, planned)), ())
    yield from notes
    for path, target, facet in plan:
        yield from _schema_problems(target.uri, facet, path)
        if target.uri.startswith(_GOVERNANCE_ID):
            yield from _governance_extras(facet, path, schemas)


# Stand-ins for per-event identity values (already checked to be strings, and formats are not
# enforced): with them the rest of an event's envelope repeats and its validation is cached.
_RUN_ID_STANDIN = "00000000-0000-0000-0000-000000000000"
_TIME_STANDIN = "1970-01-01T00:00:00Z"


def _without_identity(event: dict[str, Any]) -> dict[str, Any]:
    result = dict(event)
    if isinstance(result.get("eventTime"), str):
        result["eventTime"] = _TIME_STANDIN
    run = result.get("run")
    if isinstance(run, dict) and isinstance(run.get("runId"), str):
        result["run"] = {**run, "runId": _RUN_ID_STANDIN}
    return result


def _pruned(value: dict[str, Any], planned: dict[Path, set[str]]) -> dict[str, Any]:
    """A copy of the event without the facets that get their own, more specific validation.

    Saves the event schema's generic facet check (``_producer``/``_schemaURL``) on facets whose
    own schema repeats it, and so reports each problem once. Only the containers on the way to
    a pruned facets map are copied; everything else is shared with the original.
    """
    root = dict(value)
    copies: dict[int, Any] = {id(value): root}  # original container → its copy
    for site, keys in planned.items():
        original: Any = value
        duplicate: Any = root
        for part in site[:-1]:
            original = original[part]
            made = copies.get(id(original))
            if made is None:
                made = dict(original) if isinstance(original, dict) else list(original)
                copies[id(original)] = made
                duplicate[part] = made
            duplicate = made
        facets = original[site[-1]]
        duplicate[site[-1]] = {k: v for k, v in facets.items() if k not in keys}
    return root
