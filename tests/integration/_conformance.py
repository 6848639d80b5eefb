"""Checking answers against the service's OpenAPI document, with Schemathesis's checks.

Used by the Schemathesis run (``test_openapi_conformance.py``) and by tests whose answers no
generated request reaches (verified attestations need real signed bundles).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

#: No 5xx; the status, content type, headers and body are the documented ones.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def failures(case: Case[Any], response: Any) -> list[tuple[str, str]]:
    """``(title, report)`` for each check ``response`` to ``case`` fails."""
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        return [(failure.title, str(group)) for failure in group.exceptions]
    return []


def load(document: dict[str, Any]) -> schemathesis.BaseSchema:
    """The OpenAPI ``document`` (``app.openapi()``), ready for :func:`assert_conforms`."""
    return schemathesis.openapi.from_dict(document)


def assert_conforms(
    schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    response: Any,
    **path_parameters: Any,
) -> None:
    """``response`` (to ``method`` on the operation at template ``path``) is as documented."""
    case = schema[path][method].Case(path_parameters=path_parameters)
    found = failures(case, response)
    assert not found, "\n\n".join(report for _title, report in found)
