"""A stored classification as policy input: renamed, normalized, never coerced."""

from __future__ import annotations

from typing import Any

import pytest

from governance.gate.classification import classification_input
from governance.lineage.upstream_facts import declared_digest, run_state, snake


@pytest.mark.parametrize(
    ("stored", "expected", "extras"),
    [
        ({"personalData": True}, {"personal_data": True}, {}),
        ({"lawfulBasis": "contract", "_producer": "x"}, {"lawful_basis": "contract"}, {}),
        # One basis or a list of them: always a list.
        (
            {"transfer": {"mechanism": "scc", "tiaRef": "T-1"}},
            {"transfer": [{"mechanism": "scc", "ref": None, "tia_ref": "T-1"}]},
            {},
        ),
        (
            {"transfer": [{"mechanism": "adequacy"}, {"mechanism": "pdpl_art23", "ref": "R"}]},
            {
                "transfer": [
                    {"mechanism": "adequacy", "ref": None, "tia_ref": None},
                    {"mechanism": "pdpl_art23", "ref": "R", "tia_ref": None},
                ]
            },
            {},
        ),
        # Times in the input's form.
        (
            {"collectedAt": "2026-01-02T03:04:05Z"},
            {"collected_at": "2026-01-02T03:04:05.000000+00:00"},
            {},
        ),
        # The wrong type, and an unknown field, are kept as sent under extras.
        ({"personalData": "yes"}, {"personal_data": False}, {"personalData": "yes"}),
        ({"retentionDays": 30, "owner": "crm"}, {"retention_days": 30}, {"owner": "crm"}),
        ({"collectedAt": "last tuesday"}, {"collected_at": None}, {"collectedAt": "last tuesday"}),
        ({"location": {"country": "IE"}}, {"location": {"country": "IE", "region": None}}, {}),
    ],
)
def test_classification_input(
    stored: dict[str, Any], expected: dict[str, Any], extras: dict[str, Any]
) -> None:
    converted = classification_input(stored).model_dump()
    assert {k: converted[k] for k in expected} == expected
    assert converted["extras"] == extras


def test_snake_and_declared_digest() -> None:
    assert [snake(n) for n in ("lawfulBasis", "art9Condition", "pdplArt18Basis", "dpia_ref")] == [
        "lawful_basis",
        "art9_condition",
        "pdpl_art18_basis",
        "dpia_ref",
    ]
    hexdigest = "AB" * 32
    assert declared_digest(f"sha256:{hexdigest}") == f"sha256:{hexdigest.lower()}"
    assert declared_digest(hexdigest) == f"sha256:{hexdigest.lower()}"
    assert declared_digest("v1.2") is None
    assert declared_digest(None) is None


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], ("OTHER", None, None)),
        ([("START", "t1")], ("START", "t1", None)),
        ([("START", "t1"), ("RUNNING", "t2")], ("RUNNING", "t1", None)),
        ([("START", "t1"), ("COMPLETE", "t3")], ("COMPLETE", "t1", "t3")),
        # Arrival order does not matter: the most advanced state wins.
        ([("COMPLETE", "t3"), ("START", "t1")], ("COMPLETE", "t1", "t3")),
        ([("START", "t1"), ("FAIL", "t2")], ("FAIL", "t1", "t2")),
        ([("WEIRD", "t1")], ("OTHER", None, None)),
    ],
)
def test_run_state(events: list[tuple[str, str]], expected: tuple[Any, ...]) -> None:
    assert run_state([{"type": k, "time": t} for k, t in events]) == expected
