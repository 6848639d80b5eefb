"""The OpenLineage JSON Schemas shipped in ``schemas/``, loaded once and indexed by facet.

Each facet schema is found by where it goes in an event and its standard key (the ``schema``
facet of a dataset), by its definition name, or by its file name, so that a facet can be matched
by its key or by the ``_schemaURL`` it declares.

Loading is offline: every shipped schema is preloaded in a :class:`referencing.Registry` under
its ``$id`` and the registry has no retriever, so a ``$ref`` can never cause network I/O. Formats
(``uri``, ``uuid``, ``date-time``) are deliberately not asserted.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from governance.lineage.events import EventKind

__all__ = ["GOVERNANCE_FACET_SCHEMA_URL", "FacetLocation", "governance_facet_schema"]

#: The ``_schemaURL`` producers should put on the project's ``governance`` dataset facet.
GOVERNANCE_FACET_SCHEMA_URL = (
    "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json"
    "#/$defs/GovernanceDatasetFacet"
)

_EVENT_DEFS: dict[EventKind, str] = {
    "run": "RunEvent",
    "dataset": "DatasetEvent",
    "job": "JobEvent",
}
_OPENLINEAGE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_GOVERNANCE_ID = "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json"

# Where a facet sits in an event ↔ the OpenLineage base definition its schema extends.
FacetLocation = Literal["run", "job", "dataset", "input", "output"]
_BASE_LOCATIONS: dict[str, FacetLocation] = {
    "RunFacet": "run",
    "JobFacet": "job",
    "DatasetFacet": "dataset",
    "InputDatasetFacet": "input",
    "OutputDatasetFacet": "output",
}


@dataclass(frozen=True)
class _FacetSchema:
    key: str  # the standard key in a facets map, e.g. "schema"
    location: FacetLocation
    definition: str  # e.g. "SchemaDatasetFacet"
    uri: str  # e.g. "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/..."


@dataclass(frozen=True)
class _Schemas:
    registry: Registry[Any]
    documents: dict[str, dict[str, Any]]  # by $id
    by_location: dict[tuple[FacetLocation, str], _FacetSchema]
    by_definition: dict[str, _FacetSchema]
    by_file: dict[str, _FacetSchema]  # file stem → its only facet (files with one facet)
    governance_fields: frozenset[str]


def _schema_documents() -> Iterator[dict[str, Any]]:
    root = resources.files("governance.lineage").joinpath("schemas")
    folders = [root, root.joinpath("facets")]
    for folder in folders:
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if entry.name.endswith(".json"):
                document = json.loads(entry.read_text(encoding="utf-8"))
                if isinstance(document, dict) and isinstance(document.get("$id"), str):
                    yield document


def _facet_definitions(
    document: dict[str, Any], reference: Any, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[FacetLocation, str]]:
    """(location, definition name) for each facet definition a property schema points at.

    Follows local ``$ref``/``anyOf``/``oneOf`` (``lineage`` is anyOf a dataset and a job facet;
    ``subset`` is oneOf an input and an output facet) down to definitions whose ``allOf``
    extends one of the OpenLineage facet bases, which says where in an event the facet goes.
    """
    if not isinstance(reference, dict):
        return
    target = reference.get("$ref")
    if isinstance(target, str) and target.startswith("#/$defs/"):
        name = target.removeprefix("#/$defs/")
        if name in seen:
            return
        definition = document.get("$defs", {}).get(name)
        if not isinstance(definition, dict):
            return
        for part in definition.get("allOf", []):
            base = part.get("$ref", "") if isinstance(part, dict) else ""
            if base.startswith(_OPENLINEAGE_ID + "#/$defs/"):
                location = _BASE_LOCATIONS.get(base.rsplit("/", 1)[1])
                if location is not None:
                    yield location, name
                    return
        yield from _facet_definitions(document, definition, seen | {name})
        return
    for combinator in ("anyOf", "oneOf"):
        for option in reference.get(combinator, []):
            yield from _facet_definitions(document, option, seen)


@functools.cache
def _schemas() -> _Schemas:
    documents = {document["$id"]: document for document in _schema_documents()}
    # No `retrieve` callable: an unknown $ref raises Unresolvable instead of fetching anything.
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(document)) for uri, document in documents.items()
    )
    registry = registry.crawl()
    by_location: dict[tuple[FacetLocation, str], _FacetSchema] = {}
    by_definition: dict[str, _FacetSchema] = {}
    per_file: dict[str, list[_FacetSchema]] = {}
    for uri, document in documents.items():
        if uri == _OPENLINEAGE_ID:
            continue
        stem = uri.rsplit("/", 1)[1].removesuffix(".json")
        for key, reference in document.get("properties", {}).items():
            for location, name in _facet_definitions(document, reference):
                facet = _FacetSchema(key, location, name, f"{uri}#/$defs/{name}")
                by_location.setdefault((location, key), facet)
                by_definition.setdefault(name, facet)
                per_file.setdefault(stem, []).append(facet)
    by_file = {stem: facets[0] for stem, facets in per_file.items() if len(facets) == 1}
    governance = documents[_GOVERNANCE_ID]["$defs"]["GovernanceDatasetFacet"]["allOf"][1]
    return _Schemas(
        registry=registry,
        documents=documents,
        by_location=by_location,
        by_definition=by_definition,
        by_file=by_file,
        governance_fields=frozenset(governance["properties"]),
    )


@functools.cache
def _validator(uri: str) -> Any:
    # Built once per definition; Draft202012Validator without a format_checker does not assert
    # `format`, which is what we want (Spark sends "file" for uri fields, Airflow naive times).
    return Draft202012Validator({"$ref": uri}, registry=_schemas().registry)


def governance_facet_schema() -> dict[str, Any]:
    """The JSON Schema of the project's ``governance`` dataset facet (a copy; safe to mutate)."""
    return copy.deepcopy(_schemas().documents[_GOVERNANCE_ID])
