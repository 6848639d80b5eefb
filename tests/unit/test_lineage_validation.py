"""OpenLineage validation: identity errors reject, everything else is a warning; never a crash.

Runs the real and official events in shared/fixtures/openlineage (see its README and
SOURCES.tsv) through ``parse_event`` and checks the contract of DESIGN.md §4.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from governance.errors import InputError, PayloadTooLarge
from governance.lineage import facet_schemas
from governance.lineage.validation import (
    GOVERNANCE_FACET_SCHEMA_URL,
    MAX_WARNINGS,
    Limits,
    LineageEvent,
    governance_facet_schema,
    parse_batch,
    parse_event,
    parse_time,
    validate_event,
)
from governance.timefmt import format_time
from tests.conftest import OPENLINEAGE, collect_from_shared, openlineage_fixture

EVENT_FOLDERS = ("real", "clients", "edge-cases", "scenarios", "negative")
NO_RUN_ID = "negative/fluentd_event_no_run_id.json"

# Each broken-facet fixture and the path its warning must point into.
BROKEN_FACETS = {
    "fluentd_event_invalid_dataset_facet.json": "$.outputs[0].facets.ownership.owners[0].name",
    "fluentd_event_invalid_input_dataset_facet.json": (
        "$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics"
    ),
    "fluentd_event_invalid_job_facet.json": "$.job.facets.ownership.owners[0].name",
    "fluentd_event_invalid_output_dataset_facet.json": (
        "$.outputs[0].outputFacets.outputStatistics.rowCount"
    ),
    "fluentd_event_invalid_run_facet.json": "$.run.facets.parent.run.runId",
}

RUN_ID = "01936893-9751-7a91-a2a0-a51101a3970c"
PRODUCER = "https://github.com/example/producer/tree/1.0.0"


def _names(root: Path, paths: list[Path]) -> list[str]:
    """Fixture files as names relative to the fixture set: the ids of the tests they drive."""
    return [str(p.relative_to(root)) for p in sorted(paths)]


# Names of fixture files (relative to the set), read while collecting to parametrise tests with.
EVENT_FILES = collect_from_shared(
    OPENLINEAGE,
    lambda root: _names(
        root, [p for folder in EVENT_FOLDERS for p in (root / folder).rglob("*.json")]
    ),
)
ACCEPTED = [name for name in EVENT_FILES if name != NO_RUN_ID]


def _load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _shape(value: dict[str, Any]) -> str:
    return "run" if "run" in value else "dataset" if "dataset" in value else "job"


def _paths(event: LineageEvent) -> list[str]:
    return [w.path for w in event.warnings]


def _run_event(**fields: Any) -> dict[str, Any]:
    """A run event that is valid against the official schemas (no warnings)."""
    event: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2024-11-26T13:05:29.606867Z",
        "run": {"runId": RUN_ID},
        "job": {"namespace": "airflow", "name": "dag.task"},
        "inputs": [{"namespace": "bigquery", "name": "project.ds.source"}],
        "outputs": [{"namespace": "bigquery", "name": "project.ds.target"}],
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    event.update(fields)
    return event


def _parse(value: Any) -> LineageEvent:
    return parse_event(json.dumps(value).encode())


def _identity_errors(value: Any) -> list[dict[str, str]]:
    with pytest.raises(InputError) as caught:
        _parse(value)
    return caught.value.errors


def _governance(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": GOVERNANCE_FACET_SCHEMA_URL, **fields}


# --- the fixture set -------------------------------------------------------------------------


def test_fixture_set_is_complete() -> None:
    # Guards the parametrised tests below against silently testing nothing.
    negative = openlineage_fixture("negative")
    assert len(EVENT_FILES) >= 50
    assert NO_RUN_ID in EVENT_FILES
    assert {p.name for p in negative.glob("*.json")} == {
        Path(NO_RUN_ID).name,
        *BROKEN_FACETS,
    }


@pytest.mark.parametrize("name", ACCEPTED)
def test_fixture_event_is_accepted(name: str) -> None:
    path = openlineage_fixture(name)
    raw = _load(path)
    event = parse_event(path.read_bytes())
    assert event.kind == _shape(raw)
    assert event.raw == raw
    assert event.event_time.tzinfo is not None
    assert event.event_time.utcoffset() == timedelta(0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event.event_time_text)
    assert len(event.warnings) <= MAX_WARNINGS + 1
    for warning in event.warnings:
        assert warning.path.startswith("$")
        assert 0 < len(warning.message) <= 300
    if event.kind == "run":
        assert event.run_id == raw["run"]["runId"]
        assert event.job == (raw["job"]["namespace"], raw["job"]["name"])
    names = [(d["namespace"], d["name"]) for d in raw.get("inputs") or []]
    assert [(d.namespace, d.name) for d in event.inputs] == names


def test_event_without_run_id_is_rejected_naming_the_field() -> None:
    with pytest.raises(InputError) as caught:
        parse_event(openlineage_fixture(NO_RUN_ID).read_bytes())
    assert not isinstance(caught.value, PayloadTooLarge)
    assert caught.value.errors == [{"path": "$.run.runId", "message": "runId is required"}]


@pytest.mark.parametrize("name", sorted(BROKEN_FACETS))
def test_broken_facet_is_a_warning_at_its_path(name: str) -> None:
    event = parse_event(openlineage_fixture("negative", name).read_bytes())
    paths = _paths(event)
    assert BROKEN_FACETS[name] in paths, paths
    assert all(".facets." in p or "Facets." in p for p in paths), paths


def test_clients_naive_event_time_is_read_as_utc_with_a_warning() -> None:
    naive = [
        p
        for p in openlineage_fixture("clients").glob("*.json")
        if not re.search(r"(Z|[+-]\d\d:?\d\d)$", _load(p)["eventTime"])
    ]
    assert len(naive) == 3  # the README says three
    for path in naive:
        event = parse_event(path.read_bytes())
        text = _load(path)["eventTime"]
        assert event.event_time == datetime.fromisoformat(text).replace(tzinfo=UTC)
        assert ("$.eventTime", "eventTime has no timezone; read as UTC") in [
            (w.path, w.message) for w in event.warnings
        ]


def test_edge_case_nanoseconds_event_is_parsed() -> None:
    path = openlineage_fixture("edge-cases", "marquez_event_required_nanoseconds.json")
    event = parse_event(path.read_bytes())
    assert event.event_time == datetime(2020, 12, 28, 19, 51, 1, 641499, tzinfo=UTC)
    assert event.event_time_text == "2020-12-28T19:51:01.641499Z"
    # The fixture only has six fractional digits; nine are truncated, with a warning.
    raw = _load(path)
    raw["eventTime"] = "2020-12-28T19:51:01.641499789Z"
    event = _parse(raw)
    assert event.event_time_text == "2020-12-28T19:51:01.641499Z"
    assert "$.eventTime" in _paths(event)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("clients/python_tests_serde_example_dataset_event.json", "dataset"),
        ("clients/python_tests_serde_example_job_event.json", "job"),
        ("edge-cases/marquez_event_dataset_event.json", "dataset"),
        ("edge-cases/marquez_event_job_event.json", "job"),
    ],
)
def test_dataset_and_job_events_are_told_apart_by_shape(name: str, kind: str) -> None:
    event = parse_event(openlineage_fixture(name).read_bytes())
    assert event.kind == kind
    assert event.run_id is None
    assert event.event_type is None
    if kind == "dataset":
        assert event.dataset is not None
        assert event.job is None
        assert event.dataset.name == _load(openlineage_fixture(name))["dataset"]["name"]
    else:
        assert event.dataset is None
        assert event.job is not None


def test_shape_wins_over_schema_url() -> None:
    raw = _run_event(
        schemaURL="https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
    )
    event = _parse(raw)
    assert event.kind == "run"
    assert event.run_id == RUN_ID
    assert _paths(event) == ["$.schemaURL"]
    # The Marquez job event says COMPLETE; a job event has no run state.
    job_event = _load(openlineage_fixture("edge-cases", "marquez_event_job_event.json"))
    job_event["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    assert _parse(job_event).kind == "job"


def test_parent_and_root_are_read_from_the_parent_facet() -> None:
    fragment = _load(openlineage_fixture("spec", "facet-fragments", "ParentRunFacet", "2.json"))
    event = _parse(_run_event(run={"runId": RUN_ID, "facets": fragment}))
    assert event.parent == ("airflow", "my_dag.my_task", "f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11")
    assert event.root == ("airflow", "my_dag", "a0000000-3c3c-1a1a-2b2b-c1b95c24ff11")
    assert event.warnings == ()
    airflow = parse_event(
        openlineage_fixture("real/airflow/providers-1.14.0_line_03.json").read_bytes()
    )
    assert airflow.parent == ("airflow", "BQ", "01936893-9751-7a91-a2a0-a51101a3970c")
    assert airflow.root is None


# Where each official fragment's facet goes in an event (from its schema's base definition).
def _fragment_location(folder: str, fragment: dict[str, Any]) -> str:
    if folder in ("DataQualityAssertionsDatasetFacet", "BaseSubsetDatasetFacet"):
        return "inputFacets"
    if folder == "LineageFacet":
        return "datasetFacets" if "fields" in fragment["lineage"] else "job"
    for suffix, location in (
        ("InputDatasetFacet", "inputFacets"),
        ("OutputDatasetFacet", "outputFacets"),
        ("DatasetFacet", "datasetFacets"),
        ("JobFacet", "job"),
        ("RunFacet", "run"),
    ):
        if folder.endswith(suffix):
            return location
    raise AssertionError(folder)


FRAGMENTS = collect_from_shared(
    OPENLINEAGE,
    lambda root: _names(
        root,
        [
            p
            for p in (root / "spec" / "facet-fragments").glob("*/*.json")
            if p.parent.name.isalnum()
        ],
    ),
)


@pytest.mark.parametrize("name", FRAGMENTS)
def test_official_facet_fragments_validate_cleanly(name: str) -> None:
    path = openlineage_fixture(name)
    fragment = _load(path)
    location = _fragment_location(path.parent.name, fragment)
    event = _run_event()
    if location == "run":
        event["run"]["facets"] = fragment
    elif location == "job":
        event["job"]["facets"] = fragment
    elif location == "datasetFacets":
        event["outputs"][0]["facets"] = fragment
    else:
        event["inputs" if location == "inputFacets" else "outputs"][0][location] = fragment
    assert _parse(event).warnings == ()


def test_facet_fragments_were_found() -> None:
    openlineage_fixture("spec", "facet-fragments")
    assert len(FRAGMENTS) >= 40


def test_wrongly_typed_fragment_warns() -> None:
    # The same plumbing as above must be able to fail.
    fragment = _load(openlineage_fixture("spec", "facet-fragments", "SchemaDatasetFacet", "1.json"))
    fragment["schema"]["fields"][2]["type"] = 7
    event = _run_event()
    event["inputs"][0]["facets"] = fragment
    warnings = _parse(event).warnings
    assert [w.path for w in warnings] == ["$.inputs[0].facets.schema.fields[2].type"]
    assert "is not of type 'string'" in warnings[0].message


def test_failed_alternatives_report_the_closest_one() -> None:
    # A lineage entry is oneOf a dataset or a job entry; a bad name on a DATASET entry should
    # not be reported as "'DATASET' is not one of ['JOB']".
    fragment = _load(
        openlineage_fixture("spec", "facet-fragments", "LineageFacet", "job-to-dataset.json")
    )
    fragment["lineage"]["entries"][0]["name"] = 5
    event = _parse(_run_event(job={"namespace": "n", "name": "j", "facets": fragment}))
    assert [(w.path, w.message) for w in event.warnings] == [
        ("$.job.facets.lineage.entries[0].name", "5 is not of type 'string'")
    ]


# --- identity tier ---------------------------------------------------------------------------


def test_minimal_valid_event_has_no_warnings() -> None:
    event = _parse(_run_event())
    assert event.warnings == ()
    assert event.event_type == "COMPLETE"
    assert event.producer == PRODUCER
    assert event.inputs[0].namespace == "bigquery"


def test_all_identity_errors_are_listed_at_once() -> None:
    raw = _run_event(
        job={"namespace": "airflow"},
        inputs=[{"namespace": "a", "name": "ok"}, {"namespace": "a", "name": 42}],
    )
    assert _identity_errors(raw) == [
        {"path": "$.job.name", "message": "name is required"},
        {"path": "$.inputs[1].name", "message": "name must be a string, not number"},
    ]


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"eventTime": None}, ["$.eventTime"]),
        ({"eventTime": "yesterday"}, ["$.eventTime"]),
        ({"eventTime": "2024-02-30T00:00:00Z"}, ["$.eventTime"]),
        ({"run": []}, ["$.run"]),
        ({"run": {"runId": ""}}, ["$.run.runId"]),
        (
            {"run": {"runId": 7}, "job": {"namespace": "", "name": "j"}},
            ["$.run.runId", "$.job.namespace"],
        ),
        ({"job": None}, ["$.job"]),
        ({"inputs": {}}, ["$.inputs"]),
        ({"outputs": [1, {"name": "x"}]}, ["$.outputs[0]", "$.outputs[1].namespace"]),
    ],
)
def test_identity_problems_are_errors_by_path(change: dict[str, Any], paths: list[str]) -> None:
    assert [e["path"] for e in _identity_errors(_run_event(**change))] == paths


def test_event_without_run_job_or_dataset_is_rejected() -> None:
    raw = {"eventTime": "2024-01-01T00:00:00Z", "producer": PRODUCER}
    assert [e["path"] for e in _identity_errors(raw)] == ["$"]
    job_event = {"eventTime": "2024-01-01T00:00:00Z", "job": {"name": "j"}}
    assert [e["path"] for e in _identity_errors(job_event)] == ["$.job.namespace"]
    dataset_event = {"eventTime": "2024-01-01T00:00:00Z", "dataset": {"namespace": "n"}}
    assert [e["path"] for e in _identity_errors(dataset_event)] == ["$.dataset.name"]


def test_non_uuid_run_id_is_accepted_with_a_warning() -> None:
    event = _parse(_run_event(run={"runId": "spark-application-1700000000"}))
    assert event.run_id == "spark-application-1700000000"
    assert _paths(event) == ["$.run.runId"]


def test_event_type_is_upper_cased_and_may_be_absent() -> None:
    assert _parse(_run_event(eventType="start")).event_type == "START"
    raw = _run_event()
    del raw["eventType"]
    event = _parse(raw)
    assert event.event_type is None
    assert _paths(event) == ["$.eventType"]


def test_event_time_is_normalised_to_utc() -> None:
    event = _parse(_run_event(eventTime="2020-12-28T19:52:00.001+10:00"))
    assert event.event_time == datetime(2020, 12, 28, 9, 52, 0, 1000, tzinfo=UTC)
    assert event.event_time_text == "2020-12-28T09:52:00.001000Z"


# --- decoding and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"eventTime": }',
        b"\xff\xfe{}",
        b'{"a": NaN}',
        b'{"a": 1e999}',
        b'{"a": "\\ud800"}',
        b"[]",
        b'"event"',
        b"null",
    ],
)
def test_bad_bodies_are_input_errors(body: bytes) -> None:
    with pytest.raises(InputError) as caught:
        parse_event(body)
    assert caught.value.errors
    # Values the decoder accepts but JSON does not (1e999 → inf, lone surrogates) are located.
    expected = "$.a" if body in (b'{"a": 1e999}', b'{"a": "\\ud800"}') else "$"
    assert caught.value.errors[0]["path"] == expected


def test_json_errors_say_where() -> None:
    with pytest.raises(InputError) as caught:
        parse_event(b'{"eventTime": }')
    assert caught.value.message.startswith("body is not valid UTF-8 JSON")
    assert "char 14" in caught.value.message
    with pytest.raises(InputError, match="byte 1"):
        parse_event(b"{\xff}")


def test_byte_order_mark_is_ignored() -> None:
    assert parse_event(b"\xef\xbb\xbf" + json.dumps(_run_event()).encode()).kind == "run"


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_very_deep_nesting_is_an_input_error_not_a_crash(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = ('{"x":' + opener * 10_000 + "1" + closer * 10_000 + "}").encode()
    with pytest.raises(InputError) as caught:
        parse_event(body)
    assert caught.value.errors[0]["path"] == "$"
    with pytest.raises(InputError):
        parse_batch(("[" * 10_000 + "]" * 10_000).encode())


def test_depth_limit_is_exact_and_located() -> None:
    def nested(depth: int) -> dict[str, Any]:
        # The event object itself is level 1; each {"n": ...} adds one.
        value: dict[str, Any] = {}
        for _ in range(depth - 2):
            value = {"n": value}
        return value

    ok = _run_event(run={"runId": RUN_ID, "facets": {"x": nested(62)}})
    _parse(ok)  # $ (1) → run (2) → facets (3) → x … 64 levels
    deep = _run_event(run={"runId": RUN_ID, "facets": {"x": nested(63)}})
    with pytest.raises(InputError) as caught:
        _parse(deep)
    assert not isinstance(caught.value, PayloadTooLarge)
    assert caught.value.errors[0]["path"] == "$.run.facets.x" + ".n" * 61
    with pytest.raises(InputError):
        parse_event(json.dumps(deep).encode(), Limits(max_depth=64))
    assert _parse(ok).kind == "run"
    parse_event(json.dumps(deep).encode(), Limits(max_depth=65))


def test_deep_but_allowed_nesting_is_validated_without_crashing() -> None:
    field: dict[str, Any] = {"name": "leaf", "type": 1}
    for level in range(300):
        field = {"name": f"n{level}", "type": "STRUCT", "fields": [field]}
    raw = _run_event()
    raw["inputs"][0]["facets"] = {
        "schema": {"_producer": PRODUCER, "_schemaURL": "x", "fields": [field]}
    }
    event = parse_event(json.dumps(raw).encode(), Limits(max_depth=1000))
    assert [w.path for w in event.warnings] == ["$.inputs[0].facets.schema"]
    # Within the default limits the same shape is checked all the way down.
    for _ in range(280):
        field = field["fields"][0]
    raw["inputs"][0]["facets"]["schema"]["fields"] = [field]
    (warning,) = _parse(raw).warnings
    assert warning.path.startswith("$.inputs[0].facets.schema.fields[0]")
    assert warning.path.endswith("].type")


def test_array_and_string_limits_are_payload_too_large() -> None:
    raw = _run_event(inputs=[{"namespace": "n", "name": f"d{i}"} for i in range(11)])
    with pytest.raises(PayloadTooLarge) as caught:
        parse_event(json.dumps(raw).encode(), Limits(max_array=10))
    assert caught.value.errors[0]["path"] == "$.inputs"
    assert len(parse_event(json.dumps(raw).encode(), Limits(max_array=11)).inputs) == 11
    raw = _run_event(job={"namespace": "n", "name": "j", "facets": {"sql": {"query": "x" * 101}}})
    with pytest.raises(PayloadTooLarge) as caught:
        parse_event(json.dumps(raw).encode(), Limits(max_string=100))
    assert caught.value.errors[0]["path"] == "$.job.facets.sql.query"
    with pytest.raises(PayloadTooLarge):
        parse_event(json.dumps({"k" * 101: 1, **raw}).encode(), Limits(max_string=100))


def test_parse_batch() -> None:
    events = [_run_event(), _load(openlineage_fixture(NO_RUN_ID))]
    values = parse_batch(json.dumps(events).encode())
    assert values == events
    assert validate_event(values[0]).kind == "run"
    with pytest.raises(InputError):
        validate_event(values[1])
    for body in (b"{}", b"not json", b"[" * 5000):
        with pytest.raises(InputError):
            parse_batch(body)
    with pytest.raises(PayloadTooLarge):
        parse_batch(json.dumps([{}] * 3).encode(), Limits(max_array=2))


def test_validate_event_rejects_non_objects() -> None:
    values: list[Any] = [[], "x", None, 3]
    for value in values:
        with pytest.raises(InputError):
            validate_event(value)


# --- the schema tier -------------------------------------------------------------------------


def test_formats_are_not_asserted() -> None:
    raw = _run_event(
        run={
            "runId": RUN_ID,
            "facets": {
                "nominalTime": {
                    "_producer": "not a uri",
                    "_schemaURL": "file",
                    "nominalStartTime": "last tuesday",
                }
            },
        }
    )
    raw["outputs"][0]["facets"] = {
        "dataSource": {"_producer": PRODUCER, "_schemaURL": "x", "name": "f", "uri": "file"}
    }
    assert _parse(raw).warnings == ()


def test_custom_facets_are_fine_unless_they_claim_a_known_schema() -> None:
    custom = {"_producer": PRODUCER, "_schemaURL": "https://example.com/MyFacet.json", "x": [1]}
    raw = _run_event(job={"namespace": "n", "name": "j", "facets": {"mine": custom}})
    assert _parse(raw).warnings == ()
    claimed = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet",
        "query": 42,
    }
    raw = _run_event(job={"namespace": "n", "name": "j", "facets": {"mySql": claimed}})
    warnings = _parse(raw).warnings
    assert [w.path for w in warnings] == ["$.job.facets.mySql", "$.job.facets.mySql.query"]
    assert "'sql'" in warnings[0].message


def test_facets_missing_base_fields_warn_once() -> None:
    raw = _run_event()
    raw["outputs"][0]["facets"] = {"schema": {"fields": []}, "custom": {"a": 1}}
    assert _paths(_parse(raw)) == [
        "$.outputs[0].facets.custom._producer",
        "$.outputs[0].facets.custom._schemaURL",
        "$.outputs[0].facets.schema._producer",
        "$.outputs[0].facets.schema._schemaURL",
    ]


def test_deleted_facet_markers_are_not_checked_against_the_facet_schema() -> None:
    marker = {"_producer": PRODUCER, "_schemaURL": "x", "_deleted": True}
    raw = _run_event(job={"namespace": "n", "name": "j", "facets": {"sql": marker}})
    assert _parse(raw).warnings == ()


def test_warnings_are_capped() -> None:
    fields = [{"name": f"c{i}", "type": i} for i in range(MAX_WARNINGS + 50)]
    raw = _run_event()
    raw["inputs"][0]["facets"] = {
        "schema": {"_producer": PRODUCER, "_schemaURL": "x", "fields": fields}
    }
    warnings = _parse(raw).warnings
    assert len(warnings) == MAX_WARNINGS + 1
    assert warnings[0].path == "$.inputs[0].facets.schema.fields[0].type"
    assert warnings[-1].path == "$"
    assert warnings[-1].message == "... 50 more warnings"


def test_long_messages_are_shortened() -> None:
    raw = _run_event(
        run={
            "runId": RUN_ID,
            "facets": {
                "nominalTime": {
                    "_producer": PRODUCER,
                    "_schemaURL": "x",
                    "nominalStartTime": {"blob": "y" * 10_000},
                }
            },
        }
    )
    (warning,) = _parse(raw).warnings
    assert warning.path == "$.run.facets.nominalTime.nominalStartTime"
    assert len(warning.message) <= 300
    assert warning.message.endswith("is not of type 'string'")


def test_unusual_keys_are_quoted_in_paths() -> None:
    raw = _run_event()
    raw["inputs"][0]["facets"] = {"my.facet": {"_producer": PRODUCER}}
    assert _paths(_parse(raw)) == ["$.inputs[0].facets['my.facet']._schemaURL"]


# --- the governance facet --------------------------------------------------------------------

FULL_GOVERNANCE = _governance(
    personalData=True,
    specialCategory=False,
    criminalOffence=False,
    children=False,
    lawfulBasis="legitimate_interests",
    liaRef="JIRA-123",
    art9Condition="9(2)(a)",
    consentRef="https://consent.example.com/c/1",
    ropaRef="sha256:" + "0" * 64,
    dpiaRef="DPIA-7",
    pdplBasis="consent",
    purposes=["fraud-detection", "model-training"],
    location={"country": "DE", "region": "eu-central-1"},
    transfer={"mechanism": "scc", "ref": "SCC-2021", "tiaRef": "TIA-9"},
    collectedAt="2024-01-01T00:00:00Z",
    retentionDays=365,
    anonymised=False,
    encryptionAtRest=True,
    pseudonymised=True,
    jurisdictions=["EU", "AE"],
)


def _with_governance(facet: dict[str, Any]) -> LineageEvent:
    raw = _run_event()
    raw["outputs"][0]["facets"] = {"governance": facet}
    return _parse(raw)


def test_valid_governance_facet_gives_no_warning() -> None:
    event = _with_governance(FULL_GOVERNANCE)
    assert event.warnings == ()
    assert event.outputs[0].facets["governance"] == FULL_GOVERNANCE
    assert _with_governance(_governance()).warnings == ()


def test_wrongly_typed_governance_field_warns_at_its_path() -> None:
    warnings = _with_governance(_governance(personalData="yes")).warnings
    assert [(w.path, w.message) for w in warnings] == [
        ("$.outputs[0].facets.governance.personalData", "'yes' is not of type 'boolean'")
    ]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"lawfulBasis": "because"}, "$.outputs[0].facets.governance.lawfulBasis"),
        ({"location": {"country": "Germany"}}, "$.outputs[0].facets.governance.location.country"),
        ({"transfer": {"mechanism": "x"}}, "$.outputs[0].facets.governance.transfer.mechanism"),
        ({"retentionDays": -1}, "$.outputs[0].facets.governance.retentionDays"),
        ({"retentionDays": 1.5}, "$.outputs[0].facets.governance.retentionDays"),
        ({"purposes": ["a", 1]}, "$.outputs[0].facets.governance.purposes[1]"),
        ({"collectedAt": "last year"}, "$.outputs[0].facets.governance.collectedAt"),
        ({"_producer": 1}, "$.outputs[0].facets.governance._producer"),
    ],
)
def test_governance_facet_deviations_warn(fields: dict[str, Any], path: str) -> None:
    assert _paths(_with_governance(_governance(**fields))) == [path]


def test_unknown_governance_field_is_kept_with_a_warning() -> None:
    event = _with_governance(_governance(personalData=True, costCentre="CC-1"))
    assert [(w.path, w.message) for w in event.warnings] == [
        (
            "$.outputs[0].facets.governance.costCentre",
            "unknown field costCentre in the governance facet (kept)",
        )
    ]
    assert event.outputs[0].facets["governance"]["costCentre"] == "CC-1"


def test_governance_on_inputs_and_missing_base_fields() -> None:
    raw = _run_event()
    raw["inputs"][0]["facets"] = {"governance": {"personalData": True}}
    assert _paths(_parse(raw)) == [
        "$.inputs[0].facets.governance._producer",
        "$.inputs[0].facets.governance._schemaURL",
    ]


def test_governance_facet_schema() -> None:
    schema = governance_facet_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert GOVERNANCE_FACET_SCHEMA_URL.startswith(schema["$id"] + "#")
    facet = schema["$defs"]["GovernanceDatasetFacet"]
    assert facet["allOf"][0] == {
        "$ref": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
    }
    assert schema["properties"] == {"governance": {"$ref": "#/$defs/GovernanceDatasetFacet"}}
    schema["$defs"].clear()  # a copy: the module's own schema is untouched
    assert governance_facet_schema()["$defs"]


# --- offline -------------------------------------------------------------------------------


def test_validation_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during validation")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    # Rebuild the registry and validators under the patch, then validate everything.
    facet_schemas._schemas.cache_clear()
    facet_schemas._validator.cache_clear()
    for name in ACCEPTED:
        parse_event(openlineage_fixture(name).read_bytes())
    assert _with_governance(FULL_GOVERNANCE).warnings == ()
    claimed = {"_producer": PRODUCER, "_schemaURL": "https://example.com/Other.json#/$defs/X"}
    _parse(_run_event(job={"namespace": "n", "name": "j", "facets": {"x": claimed}}))


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "notes"),
    [
        ("2020-08-29T23:00:00Z", datetime(2020, 8, 29, 23, tzinfo=UTC), []),
        ("2020-08-30T09:00:00.000+10:00", datetime(2020, 8, 29, 23, tzinfo=UTC), []),
        ("2020-08-29t23:00:00z", datetime(2020, 8, 29, 23, tzinfo=UTC), []),
        ("2020-08-29 18:30:00-0430", datetime(2020, 8, 29, 23, tzinfo=UTC), []),
        ("2020-08-29T23:00:00.5+00", datetime(2020, 8, 29, 23, 0, 0, 500000, tzinfo=UTC), []),
        ("2020-08-29T23:00:00.000000000Z", datetime(2020, 8, 29, 23, tzinfo=UTC), []),
        (
            "2020-08-29T23:00:00.123456789Z",
            datetime(2020, 8, 29, 23, 0, 0, 123456, tzinfo=UTC),
            ["fractional seconds beyond microseconds truncated"],
        ),
        (
            "2021-11-03T10:53:52.427343",
            datetime(2021, 11, 3, 10, 53, 52, 427343, tzinfo=UTC),
            ["no timezone; read as UTC"],
        ),
        ("2020-08-29T23:00Z", datetime(2020, 8, 29, 23, tzinfo=UTC), ["no seconds; read as :00"]),
        (
            "2016-12-31T23:59:60Z",
            datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC),
            ["leap second read as :59"],
        ),
    ],
)
def test_parse_time(text: str, expected: datetime, notes: list[str]) -> None:
    moment, found = parse_time(text)
    assert moment == expected
    assert moment.tzinfo is UTC
    assert found == notes


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2020-08-29",
        "2020-13-01T00:00:00Z",
        "2020-02-30T00:00:00Z",
        "2020-08-29T24:00:00Z",
        "2020-08-29T23:00:00+24:00",
        "2020-08-29T23:00:00.Z",
        " 2020-08-29T23:00:00Z",
        "2020-08-29T23:00:00Z trailing",
        "0001-01-01T00:00:00+01:00",
        "２０２０-08-29T23:00:00Z",
        "1598742000",
    ],
)
def test_parse_time_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_time(text)


@settings(max_examples=300)
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
            lambda m: timezone(timedelta(minutes=m))
        ),
    )
)
def test_parse_time_round_trips_isoformat(moment: datetime) -> None:
    parsed, notes = parse_time(moment.isoformat())
    assert parsed == moment
    assert notes == []
    text = format_time(parsed)
    assert parse_time(text) == (parsed, [])


# --- never a crash -------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_known_facets = st.sampled_from(
    ["schema", "parent", "governance", "ownership", "columnLineage", "sql", "lineage", "subset"]
)
_targets = st.sampled_from(
    [
        (),
        ("eventTime",),
        ("eventType",),
        ("schemaURL",),
        ("run",),
        ("run", "runId"),
        ("run", "facets"),
        ("job",),
        ("job", "name"),
        ("job", "facets"),
        ("inputs",),
        ("inputs", 0),
        ("inputs", 0, "facets"),
        ("inputs", 0, "inputFacets"),
        ("outputs", 0, "facets"),
        ("outputs", 0, "outputFacets"),
        ("dataset",),
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=_targets, value=_json, facet=_known_facets, as_facet=st.booleans())
def test_any_json_gives_an_event_or_an_input_error(
    target: tuple[str | int, ...], value: Any, facet: str, as_facet: bool
) -> None:
    raw = _run_event()
    raw["inputs"][0]["facets"] = {}
    raw["outputs"][0]["facets"] = {}
    raw["run"]["facets"] = {}
    raw["job"]["facets"] = {}
    if as_facet and target and target[-1] in ("facets", "inputFacets", "outputFacets"):
        value = {facet: value}
    if not target:
        raw = value
    else:
        node: Any = raw
        for part in target[:-1]:
            node = node[part]
        node[target[-1]] = value
    snapshot = copy.deepcopy(raw)
    rejected: InputError | None = None
    try:
        event = _parse(raw)
    except InputError as exc:
        rejected = exc
    if rejected is not None:
        assert rejected.errors
        return
    assert event.raw == snapshot  # validation does not mutate the event
    assert len(event.warnings) <= MAX_WARNINGS + 1


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_any_bytes_give_an_event_or_an_input_error(body: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_event(body)


# --- cost ----------------------------------------------------------------------------------


def test_typical_airflow_event_is_cheap() -> None:
    # A generous bound that still catches an accidental per-event schema compile (~100× slower).
    body = openlineage_fixture("real/airflow/providers-1.14.0_line_03.json").read_bytes()
    parse_event(body)
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        parse_event(body)
    per_event = (time.perf_counter() - start) / rounds
    assert per_event < 0.05, f"{per_event * 1e6:.0f} µs per event"
