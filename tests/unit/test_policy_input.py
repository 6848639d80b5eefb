"""The policy input document: the published JSON Schema is the model's, and it is strict."""

from __future__ import annotations

import json
from typing import Any

import pytest

from governance.errors import InputError
from governance.policy.engine import check_input
from governance.policy.input import json_schema, published_schema


def test_the_published_schema_is_the_models() -> None:
    # When this fails after a change to governance/policy/input.py, publish the new schema:
    #   governance policy schema > governance/policy/schemas/input-v1.json
    assert published_schema() == json.loads(json.dumps(json_schema()))


def minimal() -> dict[str, Any]:
    return {
        "evaluated_at": "2026-01-01T00:00:00.000000+00:00",
        "requested_by": "ci",
        "target": {"environment": "production"},
        "model": {"name": "m", "version": "1", "digest": "sha256:" + "ab" * 32},
    }


def test_a_minimal_document_fits_and_defaults_are_explicit() -> None:
    document = check_input(minimal()).model_dump(mode="json")
    assert document["datasets"] == []
    assert document["frameworks"] is None
    assert document["schema_version"] == 1


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"unknown": 1}, "$.unknown"),
        ({"evaluated_at": "2026-01-01T00:00:00Z"}, "$.evaluated_at"),
        ({"evaluated_at": "2026-02-30T00:00:00.000000+00:00"}, "$.evaluated_at"),
        ({"model": {"name": "m", "version": "1", "digest": "md5:00"}}, "$.model.digest"),
        ({"frameworks": ["hipaa"]}, "$.frameworks[0]"),
        (
            {"jobs": [{"node": "job:a:b", "namespace": "a", "name": "b", "distance": -1}]},
            "$.jobs[0]",
        ),
    ],
)
def test_documents_that_do_not_fit_are_refused_with_the_path(
    change: dict[str, Any], path: str
) -> None:
    with pytest.raises(InputError) as raised:
        check_input({**minimal(), **change})
    assert any(e["path"].startswith(path) for e in raised.value.errors), raised.value.errors
