"""The OpenAPI document: what each route declares, plus what the request pipeline answers.

Routes declare their response models and the problems they answer themselves
(:func:`problems`). What :mod:`governance.api.middleware` and :mod:`governance.api.errors` answer
for every route is added here, in one place, from the same rules they apply:

1. FastAPI's automatic ``422 Validation Error`` goes: request validation errors are answered
   400 problems (:func:`governance.api.errors.install`), like every other bad request.
2. Every operation can answer 400 (a control character in the URL, a malformed
   ``Content-Length``, parameters that do not validate).
3. Every operation with a request body can answer 413 (one body limit for all routes).
4. Every path that needs an API key (:func:`~governance.api.middleware.needs_key`) has the
   bearer security scheme, so "Try it out" in ``/docs`` sends the key, and can answer 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from governance.api.errors import PROBLEM_JSON
from governance.api.middleware import needs_key
from governance.api.schemas import ProblemModel

#: Where the problem schema is registered among the document's components.
PROBLEM_SCHEMA = "Problem"
#: The name of the bearer security scheme.
BEARER = "bearer"

_COMPONENT = "#/components/schemas/{model}"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

_DESCRIPTIONS = {
    400: "the request is invalid; `errors` says where",
    401: "no API key, or an unknown or revoked one",
    403: "the API key's role may not do this",
    404: "no such thing",
    409: "the Idempotency-Key was used before for a different body",
    410: "gone: erased",
    413: "the body is over the limit (GOVERNANCE_MAX_BODY_BYTES)",
    415: "the body's media type or encoding is not accepted",
    422: "the request was understood but cannot be accepted",
    503: "the ledger is saturated or not ready; retry after `Retry-After` seconds",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "the authentication scheme to use",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

#: How a route documents the ``Idempotency-Key`` header it reads (see
#: :func:`governance.api.evidence.idempotency_key`).
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "replaces the default idempotency key: a retry with the same key and body "
    "answers the original receipt; the same key with another body is 409. 1 to "
    "GOVERNANCE_MAX_IDEMPOTENCY_KEY_LENGTH (default 255) printable ASCII characters, no spaces.",
    "schema": {"type": "string", "minLength": 1, "pattern": "^[\\x21-\\x7e]+$"},
}


def problem_response(
    status: int,
    description: str | None = None,
    *,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One problem+json response for a route's ``responses``.

    401 and 503 come with the header they always carry (``WWW-Authenticate``,
    ``Retry-After``) unless ``headers`` replaces them.
    """
    response: dict[str, Any] = {
        "description": description or _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": _COMPONENT.format(model=PROBLEM_SCHEMA)}}},
    }
    chosen = _HEADERS.get(status) if headers is None else headers
    if chosen:
        response["headers"] = chosen
    return response


def problems(*declared: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The problem responses a route answers itself: statuses, or ``(status, description)``."""
    found: dict[int | str, dict[str, Any]] = {}
    for item in declared:
        status, description = item if isinstance(item, tuple) else (item, None)
        found[status] = problem_response(status, description)
    return found


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's own generator builds the document and caches it; complete it in place.
            complete(FastAPI.openapi(app))
        return app.openapi_schema  # type: ignore[return-value]  # set by FastAPI.openapi

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add what the pipeline answers to ``document`` (see the module docstring), in place."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    problem = ProblemModel.model_json_schema(ref_template=_COMPONENT, mode="serialization")
    for name, schema in problem.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas[PROBLEM_SCHEMA] = problem
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key (`governance keys create`); roles are named per route",
        }
    }
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _complete_operation(operation, protected=needs_key(path))
    return document


def _complete_operation(operation: dict[str, Any], *, protected: bool) -> None:
    responses: dict[str, Any] = operation["responses"]
    automatic = responses.get("422", {}).get("content", {}).get("application/json", {})
    if automatic.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    added = [400]
    if "requestBody" in operation:
        added.append(413)
    if protected:
        operation["security"] = [{BEARER: []}]
        added.append(401)
    for status in added:
        responses.setdefault(str(status), problem_response(status))
    operation["responses"] = dict(sorted(responses.items()))
