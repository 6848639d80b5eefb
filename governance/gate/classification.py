"""A stored dataset classification as the policy input's :class:`Classification`.

A classification comes from a producer's ``governance`` facet or a steward's entry, in the facet's
camelCase. Known fields are renamed to snake_case; times are put in the input's form; ``transfer``
may be one basis or a list of them. A field whose value does not fit its type, and every unknown
field, is kept under ``extras`` as sent (validation is strict: ``"yes"`` is not ``true``): the
policies see it was said, never a coerced value.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from governance.lineage.upstream_facts import policy_form, snake, snake_object
from governance.policy.input import Classification

__all__ = ["classification_input"]

_FIELDS = set(Classification.model_fields) - {"extras"}


def classification_input(stored: dict[str, Any]) -> Classification:
    """``stored`` (facet fields or a steward's classification) as policy input (module doc)."""
    document: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in stored.items():
        if key.startswith("_"):
            continue
        name = snake(key)
        if name not in _FIELDS or name in document:
            extras[key] = value
            continue
        origin[name] = key
        if name == "transfer":
            items = value if isinstance(value, list) else [value]
            document[name] = [snake_object(item) for item in items]
        elif name in ("location", "processor"):
            document[name] = snake_object(value)
        elif name == "collected_at":
            document[name] = policy_form(value) or value
        else:
            document[name] = value
    # Move each field the model refuses to extras, as sent, until the rest fits.
    while True:
        try:
            return Classification.model_validate({**document, "extras": extras}, strict=True)
        except ValidationError as error:
            bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]} & set(document)
            if not bad:
                raise
            for name in bad:
                extras[origin[name]] = stored[origin[name]]
                del document[name]
