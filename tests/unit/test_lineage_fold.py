"""The lineage fold's rules, as tables: pure, no database.

Each case folds a few entries into an empty :class:`LineageFold` and checks the rows it would
write: a run's state whatever order its events arrive in, how facets merge, which events are
facet history, how a steward's classification outranks facets, what counts as personal data,
and which asserting edges a job-dataset edge keeps.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from governance.ledger import kinds
from governance.lineage.fold import (
    FoldedEdge,
    LineageFold,
    _merge,
    _tags,
    dataset_id,
    job_id,
    personal_data,
    run_pk,
)
from governance.lineage.models import EVIDENCE_PER_EDGE
from governance.lineage.validation import validate_event

RUN = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


def run_event(
    event_type: str,
    time: str,
    *,
    run_id: str = RUN,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": time,
        "run": {"runId": run_id},
        "job": {"namespace": "ns", "name": "job", "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
        "producer": "https://example.com/fold-test",
    }


def dataset(name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": "ns", "name": name, "facets": facets}


def fold(*entries: tuple[str, Any]) -> LineageFold:
    """Fold ``(kind, document)`` entries at indexes 0, 1, … into an empty fold."""
    items = []
    for index, (kind, document) in enumerate(entries):
        value = validate_event(document) if kind == kinds.OPENLINEAGE.name else document
        items.append((index, kind, value))
    result = LineageFold()
    result.apply(items)
    return result


def events(*documents: dict[str, Any]) -> LineageFold:
    return fold(*((kinds.OPENLINEAGE.name, d) for d in documents))


T1, T2, T3 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"


def text(time: str) -> str:
    return time.replace("Z", ".000000Z")


# --- a run's state ------------------------------------------------------------------------------

STATE_CASES = [
    # (events in arrival order, state, started_at, ended_at)
    ([("START", T1), ("COMPLETE", T2)], "COMPLETE", T1, T2),
    ([("COMPLETE", T2), ("START", T1)], "COMPLETE", T1, T2),  # late START changes nothing
    ([("START", T1), ("RUNNING", T2)], "RUNNING", T1, None),
    ([("RUNNING", T2), ("START", T1)], "RUNNING", T1, None),
    ([("START", T1), ("FAIL", T2), ("COMPLETE", T3)], "COMPLETE", T1, T3),  # same rank: later
    ([("COMPLETE", T3), ("FAIL", T2)], "COMPLETE", None, T3),  # same rank: earlier loses
    ([("START", T2), ("START", T1)], "START", T1, None),  # the earliest START is the start
    ([("OTHER", T1)], "OTHER", None, None),
    ([("ABORT", T1), ("RUNNING", T2)], "ABORT", None, T1),  # terminal outranks RUNNING
]


@pytest.mark.parametrize(("sequence", "state", "started", "ended"), STATE_CASES)
def test_a_runs_state_is_the_most_advanced_reported(
    sequence: list[tuple[str, str]], state: str, started: str | None, ended: str | None
) -> None:
    result = events(*(run_event(kind, time) for kind, time in sequence))
    row = result.runs[run_pk(RUN)]
    assert row.state == state
    assert row.started_at == (text(started) if started else None)
    assert row.ended_at == (text(ended) if ended else None)
    times = sorted(text(t) for _k, t in sequence)
    assert (row.first_event_time, row.last_event_time) == (times[0], times[-1])
    assert (row.first_index, row.last_index) == (0, len(sequence) - 1)


# --- facets -------------------------------------------------------------------------------------

MERGE_CASES = [
    # (current, current time, new, new time) -> (merged, merged time, changed)
    ({"a": 1}, T1, {"a": 2}, T2, {"a": 2}, T2, True),  # newer overrides
    ({"a": 1}, T2, {"a": 2}, T1, {"a": 1}, T2, False),  # older does not override
    ({"a": 1}, T2, {"b": 2}, T1, {"a": 1, "b": 2}, T2, True),  # older fills a gap
    ({"a": 1}, T1, {"a": 1}, T2, {"a": 1}, T2, False),  # a repeat changes nothing
]


@pytest.mark.parametrize(
    ("current", "current_time", "new", "time", "merged", "merged_time", "changed"), MERGE_CASES
)
def test_facets_merge_newer_over_older(
    current: dict[str, Any],
    current_time: str,
    new: dict[str, Any],
    time: str,
    merged: dict[str, Any],
    merged_time: str,
    changed: bool,
) -> None:
    facets = dict(current)
    assert _merge(facets, current_time, new, time) == (merged_time, changed)
    assert facets == merged


HISTORY_CASES = [
    # facets of three events of one dataset -> which events are facet history
    ([{"schema": {"v": 1}}, {"schema": {"v": 1}}, {"schema": {"v": 1}}], [0]),
    ([{"schema": {"v": 1}}, {"schema": {"v": 2}}, {"schema": {"v": 1}}], [0, 1, 2]),
    ([{"schema": {"v": 1}}, {"owner": {"x": 1}}, {"schema": {"v": 1}, "owner": {"x": 1}}], [0, 1]),
    ([{}, {}, {"schema": {"v": 1}}], [2]),  # events without facets are no history
]


@pytest.mark.parametrize(("facet_list", "history"), HISTORY_CASES)
def test_facet_history_keeps_events_that_assert_something_new(
    facet_list: list[dict[str, Any]], history: list[int]
) -> None:
    documents = [
        run_event("COMPLETE", time, run_id=str(uuid.uuid4()), inputs=[dataset("d", **facets)])
        for facets, time in zip(facet_list, (T1, T2, T3), strict=True)
    ]
    result = events(*documents)
    assert [row["i"] for row in result.facet_history] == history


def test_job_facets_and_owners_fold_like_dataset_facets() -> None:
    result = events(
        run_event("START", T2, job_facets={"jobType": {"jobType": "BATCH"}}),
        run_event("COMPLETE", T1, job_facets={"jobType": {"jobType": "STREAM"}, "x": {}}),
    )
    row = result.jobs[job_id("ns", "job")]
    assert row.facets == {"jobType": {"jobType": "BATCH"}, "x": {}}
    assert row.facets_time == text(T2)


# --- classification and personal data ---------------------------------------------------------


def governance_facet(**fields: Any) -> dict[str, Any]:
    return {
        "_producer": "https://example.com/fold-test",
        "_schemaURL": "https://example.com/GovernanceDatasetFacet.json",
        **fields,
    }


def classification(personal: bool) -> tuple[str, dict[str, Any]]:
    document = {"namespace": "ns", "name": "d", "classification": {"personalData": personal}}
    return kinds.DATASET_CLASSIFICATION.name, document


def facet_event(personal: bool, time: str) -> tuple[str, dict[str, Any]]:
    facets = {"governance": governance_facet(personalData=personal)}
    document = run_event(
        "COMPLETE", time, run_id=str(uuid.uuid4()), inputs=[dataset("d", **facets)]
    )
    return kinds.OPENLINEAGE.name, document


CLASSIFICATION_CASES = [
    # entries in ledger order -> (source, personal, the index that classified)
    ([facet_event(True, T1)], "facet", 1, 0),
    ([facet_event(True, T1), facet_event(False, T2)], "facet", 0, 1),
    ([facet_event(True, T1), classification(False)], "steward", 0, 1),
    ([classification(False), facet_event(True, T2)], "steward", 0, 0),  # the steward outranks
    ([classification(True), classification(False)], "steward", 0, 1),
]


@pytest.mark.parametrize(("entries", "source", "personal", "index"), CLASSIFICATION_CASES)
def test_a_stewards_classification_outranks_facets(
    entries: list[tuple[str, Any]], source: str, personal: int, index: int
) -> None:
    row = fold(*entries).datasets[dataset_id("ns", "d")]
    assert row.classification_source == source
    assert row.is_personal == personal
    assert row.classification_index == index


PERSONAL_CASES = [
    ({"personalData": True}, [], True),
    ({"specialCategory": True}, [], True),
    ({"criminalOffence": True}, [], True),
    ({"children": True}, [], True),
    ({"personalData": False}, [], False),
    (None, ["pii"], True),
    (None, ["PII=direct"], True),
    (None, ["sensitive"], True),
    (None, ["public", "owner=team"], False),
    (None, [], False),
]


@pytest.mark.parametrize(("flags", "tags", "expected"), PERSONAL_CASES)
def test_personal_data_is_a_governance_flag_or_a_pii_like_tag(
    flags: dict[str, Any] | None, tags: list[str], expected: bool
) -> None:
    assert personal_data(json.dumps(flags) if flags else None, tags) is expected


TAG_CASES = [
    ([{"key": "pii"}], ["pii"]),
    ([{"key": "pii", "value": "true"}, {"key": "tier", "value": "gold"}], ["pii", "tier=gold"]),
    ([{"key": "b"}, {"key": "a"}, {"key": "a"}], ["a", "b"]),
    ([{"value": "no key"}, "not an object"], []),
]


@pytest.mark.parametrize(("tags", "expected"), TAG_CASES)
def test_tags_are_keys_or_key_value_pairs(tags: list[Any], expected: list[str]) -> None:
    assert _tags({"tags": {"tags": tags}}) == expected


@pytest.mark.parametrize(
    ("facets", "model"),
    [
        ({"datasetType": {"datasetType": "MODEL"}}, 1),
        ({"datasetType": {"datasetType": "model"}}, 1),
        ({"governance": governance_facet(model=True)}, 1),
        ({"datasetType": {"datasetType": "TABLE"}}, 0),
        ({}, 0),
    ],
)
def test_a_model_is_a_model_dataset_type_or_flag(facets: dict[str, Any], model: int) -> None:
    result = events(run_event("COMPLETE", T1, outputs=[dataset("m", **facets)]))
    assert result.datasets[dataset_id("ns", "m")].is_model == model


# --- edges and versions -----------------------------------------------------------------------


def test_a_dataset_listed_twice_in_one_event_is_one_edge() -> None:
    result = events(run_event("COMPLETE", T1, inputs=[dataset("d"), dataset("d")]))
    assert [(e["d"], e["dir"]) for e in result.edges] == [(dataset_id("ns", "d"), "read")]


@pytest.mark.parametrize(
    ("facets", "label"), [({"version": {"datasetVersion": "v7"}}, "v7"), ({}, RUN)]
)
def test_an_output_version_is_its_version_facet_or_the_run(
    facets: dict[str, Any], label: str
) -> None:
    result = events(run_event("COMPLETE", T1, outputs=[dataset("o", **facets)]))
    assert [v["v"] for v in result.versions] == [label]


@pytest.mark.parametrize("order", ["in time order", "reversed", "shuffled"])
def test_a_job_dataset_edge_keeps_the_first_asserting_edges(order: str) -> None:
    arrivals = [(f"2026-01-01T00:00:{n:02d}.000000Z", n) for n in range(EVIDENCE_PER_EDGE + 10)]
    if order == "reversed":
        arrivals.reverse()
    elif order == "shuffled":
        arrivals = [arrivals[(n * 7) % len(arrivals)] for n in range(len(arrivals))]
    first_time, first_index = arrivals[0]
    edge = FoldedEdge(1, str(first_index), first_time, new=True)
    for time, index in arrivals[1:]:
        edge.add(time, index)
    kept = sorted(arrivals)[:EVIDENCE_PER_EDGE]
    assert edge.count == len(arrivals)
    assert edge.indexes.split(" ") == [str(i) for _t, i in kept]
    assert edge.times.split(" ") == [t for t, _i in kept]


def test_every_run_of_a_job_folds_into_its_job_dataset_edge() -> None:
    documents = [
        run_event("COMPLETE", time, run_id=str(uuid.uuid4()), outputs=[dataset("o")])
        for time in (T3, T1, T2)
    ]
    result = events(*documents)
    edge = result.folded[(job_id("ns", "job"), "wrote", dataset_id("ns", "o"))]
    assert edge.count == 3
    assert edge.indexes == "1 2 0"  # by event time, then index
    assert [e["i"] for e in result.edges] == [0, 1, 2]  # one run edge per asserting event
