"""The OpenAPI document tells the truth about what the service answers (its shape, not its data).

Whether the service's answers match the document is Schemathesis's job
(``tests/integration/test_openapi_conformance.py``); these check the document itself: the
problems the request pipeline answers are declared everywhere, FastAPI's 422 is gone, every
JSON answer has a schema, and the API key is a bearer security scheme.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from governance.api.app import create_app
from governance.config import Settings

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
PUBLIC = {"/healthz", "/readyz"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'unused.db'}",
        signing_key_file=tmp / "unused.key",
        log_json=False,
    )
    # Building the document touches no database: the app is never started.
    built: dict[str, Any] = create_app(settings).openapi()
    return built


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_fastapis_validation_error_is_gone(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert "ValidationError" not in document["components"]["schemas"]
    with422 = [(p, m) for p, m, op in operations(document) if "422" in op["responses"]]
    # Only a failed attestation verification is answered 422.
    assert with422 == [("/api/v1/attestations", "post")]


def test_every_problem_is_problem_json(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, (path, method, status)
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status", "detail"]
    # Members that are left out, never null: no null default, no null type.
    for member in ("instance", "hint", "errors", "reason", "index", "receipt"):
        assert "default" not in problem["properties"][member], member
        assert "null" not in json.dumps(problem["properties"][member]), member


def test_what_the_pipeline_answers_is_declared_everywhere(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "400" in responses, (path, method)
        assert ("413" in responses) == ("requestBody" in operation), (path, method)
        if path in PUBLIC:
            assert "security" not in operation, path
            assert "401" not in responses, path
        else:
            assert operation["security"] == [{"bearer": []}], (path, method)
            assert "401" in responses, (path, method)
            # Every route behind a key checks the key's role.
            assert "403" in responses, (path, method)
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if "503" in responses and path != "/readyz":
            assert responses["503"]["headers"]["Retry-After"]["required"] is True


def test_every_json_answer_has_a_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if content is None:
                continue
            ref = content["schema"]["$ref"]
            name = ref.rsplit("/", 1)[1]
            assert schemas[name]["properties"], (path, method, status)


def test_non_json_answers_name_their_media_type(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/api/v1/ledger/checkpoint", "/api/v1/ledger/public-key", "/metrics"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"text/plain"}, path
    evidence = paths["/api/v1/evidence/{sha256}"]["get"]["responses"]
    assert evidence["200"]["content"] == {"*/*": {}}
    assert "X-Ledger-Index" in evidence["410"]["headers"]
    created = paths["/api/v1/lineage"]["post"]["responses"]["201"]
    assert "content" not in created  # 201 with an empty body
    assert created["headers"]["X-Ledger-Index"]["required"] is True


def test_the_api_key_is_a_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_idempotency_key_is_documented_where_it_is_read(document: dict[str, Any]) -> None:
    reading = {
        (path, method)
        for path, method, operation in operations(document)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert reading == {
        ("/api/v1/evidence", "post"),
        ("/api/v1/lineage", "post"),
        ("/api/v1/datasets/{path}/classification", "put"),
    }


def test_roles_are_named_in_every_protected_summary(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if path not in PUBLIC:
            assert "role" in operation["summary"], (path, method)
