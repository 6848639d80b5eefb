"""Checking a data owner's dataset classification against the ``governance`` facet schema."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from governance.errors import InputError
from governance.lineage.validation import governance_facet_schema


@cache
def _validator() -> Draft202012Validator:
    schema = governance_facet_schema()
    facet = dict(schema["$defs"]["GovernanceDatasetFacet"]) if "$defs" in schema else dict(schema)
    # A classification is the facet's own fields, without the facet envelope (_producer, …).
    fields: dict[str, Any] = {}
    for part in facet.get("allOf", [facet]):
        fields.update(part.get("properties", {}))
    properties = {k: v for k, v in fields.items() if not k.startswith("_")}
    return Draft202012Validator(
        {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            # The fields refer to shared definitions (location, transfer) by "#/$defs/…".
            "$defs": schema.get("$defs", {}),
        }
    )


def check_classification(classification: dict[str, Any]) -> None:
    """Raise :class:`InputError` listing every field that does not fit the facet schema."""
    errors = [
        {
            "path": "$." + ".".join(str(p) for p in error.absolute_path)
            if error.absolute_path
            else "$",
            "message": error.message[:300],
        }
        for error in _validator().iter_errors(classification)
    ]
    if errors:
        raise InputError("the classification does not fit the governance facet", errors=errors)
