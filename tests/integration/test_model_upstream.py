"""What the gate reads of the lineage: ``LineageQueries.model_upstream``, on both databases.

Real OpenLineage events go through the API; the answer is read from the runtime's queries (and,
for what a decision makes of it, through the gate): which runs are chosen, the as-of and ledger
bounds, distances, declarations and who made them, tests from the runs that wrote and read the
model, digests the lineage declares, and the refusals for a job node and an unknown node.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.api.app import create_app
from governance.auth.keys import Role
from governance.config import Settings
from governance.errors import InputError, NotFound
from governance.runtime import Runtime
from tests.gate_scenario import dataset, facet, run_events

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MODEL = ("s3://models", "fraud")
RAW = ("pg://core", "payments")
CLEAN = ("s3://lake", "payments_clean")
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime)) as c:
        yield c


@pytest.fixture
def ingest(runtime: Runtime) -> str:
    return runtime.keys.create(Role.INGEST, "etl-bot")[1]


def send(client: TestClient, key: str, events: list[dict[str, Any]]) -> list[int]:
    indexes = []
    for event in events:
        answer = client.post(
            "/api/v1/lineage", json=event, headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 201, answer.text
        indexes.append(int(answer.headers["X-Ledger-Index"]))
    return indexes


def model_out(version: str | None = None) -> dict[str, Any]:
    facets = {}
    if version is not None:
        facets["version"] = facet("1-0-1/DatasetVersionDatasetFacet.json", datasetVersion=version)
    return dataset(MODEL, **facets)


def results_facet(*results: tuple[str, str]) -> dict[str, Any]:
    return {
        "test": facet(
            "1-0-1/TestRunFacet.json#/$defs/TestRunFacet",
            tests=[{"name": n, "status": s, "severity": "error"} for n, s in results],
        )
    }


def world(client: TestClient, key: str) -> dict[str, list[int]]:
    """RAW → clean job → CLEAN → train (twice: the second run is the model's current content)."""
    raw = dataset(RAW, governance={"personalData": True, "lawfulBasis": "contract"})
    return {
        "clean": send(client, key, run_events("clean", T0, [raw], [dataset(CLEAN)])),
        "train1": send(
            client,
            key,
            run_events(
                "train",
                T0 + timedelta(days=1),
                [dataset(CLEAN)],
                [model_out(OTHER)],
                run_facets=results_facet(("security", "fail")),
            ),
        ),
        "train2": send(
            client,
            key,
            run_events(
                "train",
                T0 + timedelta(days=2),
                [dataset(CLEAN)],
                [model_out(DIGEST)],
                run_facets=results_facet(("security", "pass")),
            ),
        ),
        "eval": send(
            client,
            key,
            run_events(
                "evaluate",
                T0 + timedelta(days=3),
                [model_out()],
                [dataset(("s3://lake", "fraud_metrics"))],
                run_facets=results_facet(("robustness", "pass")),
            ),
        ),
    }


def test_the_latest_run_per_job_builds_the_model(
    client: TestClient, runtime: Runtime, ingest: str
) -> None:
    indexes = world(client, ingest)
    upstream = runtime.queries.model_upstream(*MODEL, as_of=T0 + timedelta(days=10)).to_json()

    assert [(d["node"], d["distance"]) for d in upstream["datasets"]] == [
        ("dataset:s3://models:fraud", 0),
        ("dataset:s3://lake:payments_clean", 1),
        ("dataset:pg://core:payments", 2),
    ]
    assert [(j["node"], j["distance"]) for j in upstream["jobs"]] == [
        ("job:pipelines:train", 1),
        ("job:pipelines:clean", 2),
    ]
    (train,) = [j for j in upstream["jobs"] if j["name"] == "train"]
    (run,) = train["runs"]
    assert run["state"] == "COMPLETE"
    assert [e["type"] for e in run["events"]] == ["START", "COMPLETE"]
    assert [e["index"] for e in run["events"]] == indexes["train2"]
    assert run["submitted_by"] == ["etl-bot"]
    assert train["inputs"] == ["dataset:s3://lake:payments_clean"]
    assert train["outputs"] == ["dataset:s3://models:fraud"]
    # The personal data's declaration: the producer's facet, by the submitting principal.
    raw = upstream["datasets"][2]
    assert raw["classification"]["personalData"] is True
    assert raw["declaration"]["source"] == "facet"
    assert raw["declaration"]["declared_by"] == "etl-bot"
    # Tests: the current training run's and the evaluation run's, not the superseded run's.
    assert sorted((t["name"], t["status"]) for t in upstream["tests"]) == [
        ("robustness", "pass"),
        ("security", "pass"),
    ]
    assert upstream["declared_digests"] == [{"digest": DIGEST, "index": indexes["train2"][1]}]


def test_as_of_and_ledger_size_bound_the_answer(
    client: TestClient, runtime: Runtime, ingest: str
) -> None:
    indexes = world(client, ingest)
    # As of the first training run's end: the second run had not happened.
    early = runtime.queries.model_upstream(*MODEL, as_of=T0 + timedelta(days=1, hours=1)).to_json()
    (train,) = [j for j in early["jobs"] if j["name"] == "train"]
    assert [e["index"] for e in train["runs"][0]["events"]] == indexes["train1"]
    assert early["declared_digests"] == [{"digest": OTHER, "index": indexes["train1"][1]}]
    assert early["tests"] == [
        {
            "name": "security",
            "status": "fail",
            "severity": "error",
            "kind": None,
            "run_id": train["runs"][0]["run_id"],
            "index": indexes["train1"][1],
        }
    ]
    # Within the ledger as it was before the second run's COMPLETE: its START alone wrote nothing.
    bounded = runtime.queries.model_upstream(
        *MODEL, as_of=T0 + timedelta(days=10), ledger_size=indexes["train2"][1]
    ).to_json()
    (train,) = [j for j in bounded["jobs"] if j["name"] == "train"]
    assert [e["index"] for e in train["runs"][0]["events"]] == indexes["train1"]
    # Depth: one job hop reaches the training run and what it read, no further.
    shallow = runtime.queries.model_upstream(
        *MODEL, as_of=T0 + timedelta(days=10), depth=1
    ).to_json()
    assert [j["name"] for j in shallow["jobs"]] == ["train"]


def test_a_job_node_or_an_unknown_node_is_refused(
    client: TestClient, runtime: Runtime, ingest: str
) -> None:
    world(client, ingest)
    with pytest.raises(InputError, match="is a job"):
        runtime.queries.model_upstream("pipelines", "train", as_of=T0 + timedelta(days=10))
    with pytest.raises(NotFound):
        runtime.queries.model_upstream("s3://models", "nope", as_of=T0 + timedelta(days=10))


def test_a_declared_digest_other_than_the_promoted_one_fails(
    client: TestClient, runtime: Runtime, ingest: str
) -> None:
    world(client, ingest)
    gate = runtime.keys.create(Role.GATE, "ci")[1]
    body = {
        "model": {
            "name": "fraud",
            "version": "1",
            "digest": OTHER,
            "lineage": {"namespace": MODEL[0], "name": MODEL[1]},
        },
        "target": "production",
    }
    answer = client.post(
        "/api/v1/gate/decisions", json=body, headers={"Authorization": f"Bearer {gate}"}
    )
    assert answer.status_code == 201, answer.text
    separation = next(v for v in answer.json()["violations"] if v["control"] == "iso-a8.31")
    assert f"declares the model's digest as {DIGEST}" in separation["message"]
