"""OpenLineage ingestion and lineage queries through the HTTP API and the CLI, on both backends.

Events are real ones from ``../shared/fixtures/openlineage`` (the apples scenario and every
accepted fixture) plus small graphs built here. Every lineage edge an answer gives must name ledger
entries that exist and that are about both ends of the edge, and the projection must be exactly
reproducible from the ledger (``governance ledger reindex``, and catching up after a crash).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from governance.api.app import create_app
from governance.cli.main import main
from governance.config import Settings
from governance.ledger.entries import AppendRequest
from governance.ledger.kinds import LINEAGE_PROJECTION
from governance.ledger.store import Ledger
from governance.lineage.models import PROJECTION_TABLES
from governance.lineage.validation import GOVERNANCE_FACET_SCHEMA_URL, LineageEvent
from governance.runtime import Runtime
from tests.conftest import openlineage_fixture

if TYPE_CHECKING:
    # Starlette's TestClient is built on httpx2 (httpx's successor): its responses are httpx2's.
    from httpx2 import Response

NO_RUN_ID = "negative/fluentd_event_no_run_id.json"
NEGATIVE = (
    "negative/fluentd_event_invalid_dataset_facet.json",
    "negative/fluentd_event_invalid_input_dataset_facet.json",
    "negative/fluentd_event_invalid_job_facet.json",
    "negative/fluentd_event_invalid_output_dataset_facet.json",
    "negative/fluentd_event_invalid_run_facet.json",
)
ACCEPTED_FOLDERS = ("real", "clients", "edge-cases", "scenarios")

LINEAGE = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"
GRAPH = "/api/v1/lineage/graph"
PRODUCER = "https://github.com/governance-audit/tests/integration/test_lineage.py"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
DATASET_TYPE_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json"
    "#/$defs/DatasetTypeDatasetFacet"
)
PARENT_SCHEMA = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"

# The apples story (scenarios/apples/README.md): two pickings, two fillings, two pies.
FIRST_PICKING = "fc57cd10-90ce-49aa-ac91-29d222d66fdf"
FIRST_FILLING = "ab468fb4-4654-4286-9679-59d13d185b19"
CIDER = "5f974ced-9cb5-49cc-b15d-230d41d31005"
VINEGAR = "a1060004-2a7b-4c3f-a8f9-696362c134df"
FIRST_PIE = "66ad484e-9bba-4eed-a5f5-3a17558e7f6b"
CRAB_APPLE_PICKING = "155dbf08-c4c5-43e6-bb3a-8095c4ba59b8"
SECOND_FILLING = "e7d71919-25b3-49cc-a0f5-63ecbee72b0f"
LAST_PIE = "bcef9942-cb5c-476a-995b-3e5ca14aff27"
KITCHEN = "grandmas.kitchen"

READER_ROLES = ("auditor", "gate", "admin")


# --------------------------------------------------------------------------------------- helpers


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fixture_files(*folders: str) -> list[Path]:
    """Every event file under the folders, in path order (the apples scenario in name order)."""
    return sorted(p for folder in folders for p in openlineage_fixture(folder).rglob("*.json"))


def run_event(
    run_id: str,
    namespace: str,
    job: str,
    *,
    time: str,
    event_type: str = "COMPLETE",
    inputs: tuple[dict[str, Any], ...] = (),
    outputs: tuple[dict[str, Any], ...] = (),
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def dataset(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def governance_facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": GOVERNANCE_FACET_SCHEMA_URL, **fields}


def model_facet() -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": DATASET_TYPE_SCHEMA, "datasetType": "MODEL"}


def new_run_id() -> str:
    return str(uuid.uuid4())


def post_raw(
    client: TestClient,
    key: str,
    body: bytes,
    *,
    path: str = LINEAGE,
    content_type: str | None = "application/json",
    **headers: str,
) -> Response:
    sent = {**bearer(key), **headers}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(path, content=body, headers=sent)


def post_event(client: TestClient, key: str, event: dict[str, Any] | bytes) -> int:
    """Post one event; it must be accepted (201, empty body); returns its ledger index."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    response = post_raw(client, key, body)
    assert response.status_code == 201, response.text
    assert response.content == b""
    return int(response.headers["x-ledger-index"])


def get_json(client: TestClient, key: str, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=bearer(key))
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


def head_size(runtime: Runtime) -> int:
    return runtime.ledger.head()[0]


def node_ids(graph: dict[str, Any]) -> set[str]:
    return {node["id"] for node in graph["graph"]}


def edges_of(graph: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for node in graph["graph"]:
        for edge in (*node["inEdges"], *node["outEdges"]):
            found[(edge["origin"], edge["destination"])] = edge
    return found


def subject_of(node: dict[str, Any]) -> str:
    """The envelope subject an entry about this node carries (versions name their dataset)."""
    data = node["data"]
    if node["type"] in ("DATASET", "DATASET_VERSION"):
        return f"dataset:{data['namespace']}:{data['name']}"
    if node["type"] == "JOB":
        return f"job:{data['namespace']}:{data['name']}"
    assert node["type"] == "RUN", node
    return f"run:{data['runId']}"


class LedgerEntries:
    """Reads entries through ``GET /api/v1/ledger/entries/{i}`` (cached per test)."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.key = key
        self.cache: dict[int, tuple[str, set[str]]] = {}

    def get(self, index: int) -> tuple[str, set[str]]:
        if index not in self.cache:
            body = get_json(self.client, self.key, f"/api/v1/ledger/entries/{index}")
            envelope = json.loads(base64.b64decode(body["envelope"]))
            assert body["index"] == envelope["index"] == index
            assert body["kind"] == envelope["kind"]
            names = {s["name"] for s in envelope["subjects"] if "name" in s}
            self.cache[index] = (body["kind"], names)
        return self.cache[index]

    def assert_edges_asserted(self, graph: dict[str, Any]) -> None:
        """Every edge names ledger entries: openlineage events about both of its ends."""
        nodes = {node["id"]: node for node in graph["graph"]}
        edges = edges_of(graph)
        assert edges, "the graph has no edges"
        for (origin, destination), edge in edges.items():
            assert origin in nodes, origin
            assert destination in nodes, destination
            assert edge["ledger_indexes"], edge
            for index in edge["ledger_indexes"]:
                kind, subjects = self.get(index)
                assert kind == "openlineage", (edge, kind)
                assert subject_of(nodes[origin]) in subjects, (edge, subjects)
                assert subject_of(nodes[destination]) in subjects, (edge, subjects)


# -------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    """One API key per role."""
    return {
        role: runtime.keys.create(role, f"test-{role}")[1]
        for role in ("ingest", "gate", "approver", "auditor", "steward", "admin")
    }


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a crash must surface as the 500 a real client would get.
    with TestClient(create_app(settings, runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def entries(client: TestClient, keys: dict[str, str]) -> LedgerEntries:
    return LedgerEntries(client, keys["auditor"])


@pytest.fixture
def apples(client: TestClient, keys: dict[str, str]) -> dict[str, int]:
    """The apples scenario, posted in file-name order; ledger index by file name."""
    files = fixture_files("scenarios/apples")
    assert [f.name for f in files][:2] == ["1_pick_apples.json", "2_apple_filling.json"]
    return {f.name: post_event(client, keys["ingest"], f.read_bytes()) for f in files}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """``GOVERNANCE_*`` variables naming the same database and key as ``settings``."""
    for name in list(os.environ):
        if name.startswith("GOVERNANCE_") and name != "GOVERNANCE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(settings.signing_key_file))
    monkeypatch.setenv("GOVERNANCE_LEDGER_ORIGIN", settings.ledger_origin)
    monkeypatch.setenv("GOVERNANCE_LOG_JSON", "false")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "400")  # rich tables: no wrapped or truncated names


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, (argv, code, out, err)
    return out


# ----------------------------------------------------------------------------- the apples story


def test_apples_dataset_upstream(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], entries: LedgerEntries
) -> None:
    graph = get_json(
        client,
        keys["auditor"],
        GRAPH,
        type="dataset",
        namespace=KITCHEN,
        name="apple.pie",
        direction="upstream",
    )
    ids = node_ids(graph)
    for expected in (
        "dataset:grandmas.kitchen:apple.pie",
        "job:grandmas.kitchen:prepare_apple_pie",
        "dataset:grandmas.kitchen:apple.filling",
        "job:grandmas.kitchen:prepare_apple_filling",
        "dataset:grandmas.kitchen:apples",
        "job:grandmas.kitchen:gather_apples",
        "dataset:backyard:crab.apples",
        "dataset:laurents-orchard:red.delicious",
        "dataset:grandmas.kitchen:cinnamon",
        "dataset:cupboard:sugar",
    ):
        assert expected in ids, (expected, sorted(ids))
    # Upstream only: nothing the apples went into besides the pie's ancestry.
    assert "dataset:grandmas.kitchen:apple.cider" not in ids
    assert "dataset:cupboard:apple.vinegar" not in ids
    edges = edges_of(graph)
    assert ("job:grandmas.kitchen:gather_apples", "dataset:grandmas.kitchen:apples") in edges
    assert ("dataset:backyard:crab.apples", "job:grandmas.kitchen:gather_apples") in edges
    # Both pickings asserted gather_apples -> apples.
    picked = edges[("job:grandmas.kitchen:gather_apples", "dataset:grandmas.kitchen:apples")]
    assert set(picked["ledger_indexes"]) == {
        apples["1_pick_apples.json"],
        apples["7_pick_different_apples.json"],
    }
    entries.assert_edges_asserted(graph)


def test_apples_dataset_upstream_as_of_before_the_second_picking(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], entries: LedgerEntries
) -> None:
    graph = get_json(
        client,
        keys["gate"],
        GRAPH,
        type="dataset",
        namespace=KITCHEN,
        name="apple.pie",
        direction="upstream",
        as_of="2020-10-01T00:00:00Z",
    )
    ids = node_ids(graph)
    assert "dataset:laurents-orchard:red.delicious" in ids
    assert "dataset:backyard:crab.apples" not in ids
    # Sugar only went into the second filling (2020-10-15).
    assert "dataset:cupboard:sugar" not in ids
    picked = edges_of(graph)[
        ("job:grandmas.kitchen:gather_apples", "dataset:grandmas.kitchen:apples")
    ]
    assert picked["ledger_indexes"] == [apples["1_pick_apples.json"]]
    entries.assert_edges_asserted(graph)


def test_apples_run_upstream_of_the_last_pie(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], entries: LedgerEntries
) -> None:
    graph = get_json(
        client, keys["auditor"], GRAPH, type="run", name=LAST_PIE, direction="upstream"
    )
    ids = node_ids(graph)
    assert f"run:{LAST_PIE}" in ids
    assert f"run:{SECOND_FILLING}" in ids
    assert f"run:{CRAB_APPLE_PICKING}" in ids
    assert f"run:{FIRST_PICKING}" not in ids
    assert f"run:{FIRST_FILLING}" not in ids
    # Dataset nodes are versions, named by the run that wrote them.
    assert f"dataset:grandmas.kitchen:apple.filling@{SECOND_FILLING}" in ids
    assert f"dataset:grandmas.kitchen:apples@{CRAB_APPLE_PICKING}" in ids
    assert f"dataset:grandmas.kitchen:apples@{FIRST_PICKING}" not in ids
    assert "dataset:backyard:crab.apples" in ids
    assert "dataset:laurents-orchard:red.delicious" not in ids
    edges = edges_of(graph)
    filling = f"dataset:grandmas.kitchen:apple.filling@{SECOND_FILLING}"
    assert (f"run:{SECOND_FILLING}", filling) in edges
    assert (filling, f"run:{LAST_PIE}") in edges
    assert edges[(f"run:{SECOND_FILLING}", filling)]["ledger_indexes"] == [
        apples["8_apple_filling.json"]
    ]
    assert edges[(filling, f"run:{LAST_PIE}")]["ledger_indexes"] == [apples["9_apple_pie.json"]]
    nodes = {n["id"]: n for n in graph["graph"]}
    assert nodes[filling]["type"] == "DATASET_VERSION"
    assert nodes[filling]["data"]["version"] == SECOND_FILLING
    assert nodes[f"run:{LAST_PIE}"]["data"]["state"] == "COMPLETE"
    entries.assert_edges_asserted(graph)


def test_apples_run_downstream_of_the_first_picking(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], entries: LedgerEntries
) -> None:
    graph = get_json(
        client, keys["admin"], GRAPH, type="run", name=FIRST_PICKING, direction="downstream"
    )
    ids = node_ids(graph)
    for run in (FIRST_PICKING, FIRST_FILLING, FIRST_PIE, CIDER, VINEGAR):
        assert f"run:{run}" in ids, (run, sorted(ids))
    for run in (SECOND_FILLING, LAST_PIE, CRAB_APPLE_PICKING):
        assert f"run:{run}" not in ids, (run, sorted(ids))
    assert f"dataset:grandmas.kitchen:apples@{FIRST_PICKING}" in ids
    assert f"dataset:grandmas.kitchen:apple.filling@{FIRST_FILLING}" in ids
    entries.assert_edges_asserted(graph)


def test_apples_run_graph_as_of(
    client: TestClient, keys: dict[str, str], apples: dict[str, int]
) -> None:
    # Before the vinegar was made, the first picking had not reached it.
    graph = get_json(
        client,
        keys["auditor"],
        GRAPH,
        type="run",
        name=FIRST_PICKING,
        direction="downstream",
        as_of="2020-10-01T00:00:00Z",
    )
    ids = node_ids(graph)
    assert f"run:{CIDER}" in ids
    assert f"run:{FIRST_PIE}" in ids
    assert f"run:{VINEGAR}" not in ids


def test_unknown_nodes_and_bad_graph_requests(
    client: TestClient, keys: dict[str, str], apples: dict[str, int]
) -> None:
    key = keys["auditor"]
    for params in (
        {"type": "dataset", "namespace": KITCHEN, "name": "no.such.dataset"},
        {"type": "job", "namespace": KITCHEN, "name": "no_such_job"},
        {"type": "run", "name": str(uuid.UUID(int=0))},
    ):
        assert_problem(client.get(GRAPH, params=params, headers=bearer(key)), 404)
    for params in (
        {"type": "table", "namespace": KITCHEN, "name": "apples"},
        {"type": "dataset", "name": "apples"},  # no namespace
        {"type": "dataset", "namespace": KITCHEN, "name": "apples", "direction": "sideways"},
        {"type": "dataset", "namespace": KITCHEN, "name": "apples", "depth": "-1"},
        {"type": "dataset", "namespace": KITCHEN, "name": "apples", "as_of": "yesterday"},
    ):
        assert_problem(client.get(GRAPH, params=params, headers=bearer(key)), 400)


@pytest.mark.parametrize("role", ["ingest", "steward", "approver"])
def test_only_readers_may_query(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], role: str
) -> None:
    params = {"type": "dataset", "namespace": KITCHEN, "name": "apples"}
    assert_problem(client.get(GRAPH, params=params, headers=bearer(keys[role])), 403)
    for reader in READER_ROLES:
        assert client.get(GRAPH, params=params, headers=bearer(keys[reader])).status_code == 200
    assert_problem(client.get(GRAPH, params=params), 401)


# ------------------------------------------------------------------------- Marquez-compatible API


def test_marquez_lineage_shape(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], entries: LedgerEntries
) -> None:
    body = get_json(
        client, keys["auditor"], LINEAGE, nodeId="dataset:grandmas.kitchen:apples", depth=2
    )
    assert set(body) == {"graph"}
    assert isinstance(body["graph"], list)
    for node in body["graph"]:
        assert set(node) == {"id", "type", "data", "inEdges", "outEdges"}
        assert node["type"] in ("DATASET", "JOB")
        for edge in (*node["inEdges"], *node["outEdges"]):
            assert {"origin", "destination"} <= set(edge)
        kind, namespace, name = node["id"].split(":", 2)
        assert (kind.upper(), node["data"]["namespace"], node["data"]["name"]) == (
            node["type"],
            namespace,
            name,
        )
    ids = node_ids(body)
    # Both directions around the node.
    assert "dataset:grandmas.kitchen:apples" in ids
    assert "job:grandmas.kitchen:gather_apples" in ids
    assert "dataset:laurents-orchard:red.delicious" in ids
    assert "job:grandmas.kitchen:prepare_apple_filling" in ids
    assert "job:grandmas.kitchen:prepare_apple_cider" in ids
    entries.assert_edges_asserted(body)


def test_marquez_node_id_with_colons_in_the_namespace(
    client: TestClient, keys: dict[str, str], entries: LedgerEntries
) -> None:
    users = dataset("postgres://db:5432", "public.users")
    report = dataset("s3://reports", "daily/users.parquet")
    post_event(
        client,
        keys["ingest"],
        run_event(
            new_run_id(),
            "http://airflow-host:8081",
            "export.users",
            time="2024-03-01T10:00:00Z",
            inputs=(users,),
            outputs=(report,),
        ),
    )
    body = get_json(
        client, keys["auditor"], LINEAGE, nodeId="dataset:postgres://db:5432:public.users"
    )
    ids = node_ids(body)
    assert "dataset:postgres://db:5432:public.users" in ids
    assert "job:http://airflow-host:8081:export.users" in ids
    assert "dataset:s3://reports:daily/users.parquet" in ids
    entries.assert_edges_asserted(body)
    by_job = get_json(
        client, keys["auditor"], LINEAGE, nodeId="job:http://airflow-host:8081:export.users"
    )
    assert node_ids(by_job) == ids


@pytest.mark.parametrize(
    "node_id",
    ["grandmas.kitchen:apples", "table:grandmas.kitchen:apples", "dataset:apples", "dataset", ""],
)
def test_marquez_malformed_node_id(
    client: TestClient, keys: dict[str, str], apples: dict[str, int], node_id: str
) -> None:
    response = client.get(LINEAGE, params={"nodeId": node_id}, headers=bearer(keys["auditor"]))
    assert_problem(response, 400)


def test_marquez_unknown_node(
    client: TestClient, keys: dict[str, str], apples: dict[str, int]
) -> None:
    for node_id in ("dataset:grandmas.kitchen:pears", "job:nowhere:nothing", "dataset:a:b:c"):
        response = client.get(LINEAGE, params={"nodeId": node_id}, headers=bearer(keys["gate"]))
        assert_problem(response, 404)


# ---------------------------------------------------------------------------------------- runs


@pytest.mark.parametrize("order", ["in order", "complete first"])
def test_run_state_machine(
    client: TestClient, keys: dict[str, str], runtime: Runtime, order: str
) -> None:
    run_id = new_run_id()
    start = run_event(run_id, "state", "job", event_type="START", time="2024-05-01T10:00:00Z")
    complete = run_event(
        run_id, "state", "job", event_type="COMPLETE", time="2024-05-01T10:05:30.5+02:00"
    )
    events = [start, complete] if order == "in order" else [complete, start]
    for event in events:
        post_event(client, keys["ingest"], event)
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="state", job="job")
    assert len(runs["runs"]) == 1
    run = runs["runs"][0]
    assert run["runId"] == run_id
    assert run["state"] == "COMPLETE"
    assert run["startedAt"] == "2024-05-01T10:00:00.000000Z"
    assert run["endedAt"] == "2024-05-01T08:05:30.500000Z"  # +02:00 read as UTC
    assert run["job"] == {"namespace": "state", "name": "job"}
    # A RUNNING update after the end does not reopen the run.
    post_event(
        client,
        keys["ingest"],
        run_event(run_id, "state", "job", event_type="RUNNING", time="2024-05-01T10:06:00Z"),
    )
    run = get_json(client, keys["auditor"], "/api/v1/runs", namespace="state", job="job")["runs"][0]
    assert run["state"] == "COMPLETE"


def test_fail_then_start_out_of_order_stays_failed(
    client: TestClient, keys: dict[str, str]
) -> None:
    run_id = new_run_id()
    post_event(
        client,
        keys["ingest"],
        run_event(run_id, "state", "flaky", event_type="FAIL", time="2024-05-02T11:00:00Z"),
    )
    post_event(
        client,
        keys["ingest"],
        run_event(run_id, "state", "flaky", event_type="START", time="2024-05-02T10:00:00Z"),
    )
    (run,) = get_json(client, keys["auditor"], "/api/v1/runs", namespace="state", job="flaky")[
        "runs"
    ]
    assert (run["state"], run["startedAt"], run["endedAt"]) == (
        "FAIL",
        "2024-05-02T10:00:00.000000Z",
        "2024-05-02T11:00:00.000000Z",
    )


def test_parent_run_facet(client: TestClient, keys: dict[str, str]) -> None:
    parent, child = new_run_id(), new_run_id()
    post_event(
        client,
        keys["ingest"],
        run_event(parent, "dags", "etl_dag", event_type="START", time="2024-06-01T00:00:00Z"),
    )
    facet = {
        "parent": {
            "_producer": PRODUCER,
            "_schemaURL": PARENT_SCHEMA,
            "run": {"runId": parent},
            "job": {"namespace": "dags", "name": "etl_dag"},
        }
    }
    post_event(
        client,
        keys["ingest"],
        run_event(
            child,
            "dags",
            "etl_dag.extract",
            event_type="START",
            time="2024-06-01T00:00:01Z",
            run_facets=facet,
        ),
    )
    # A later event without the facet keeps the parent.
    post_event(
        client,
        keys["ingest"],
        run_event(child, "dags", "etl_dag.extract", time="2024-06-01T00:00:09Z"),
    )
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="dags")["runs"]
    by_id = {r["runId"]: r for r in runs}
    assert by_id[child]["parentRunId"] == parent
    assert by_id[child]["state"] == "COMPLETE"
    assert by_id[parent]["parentRunId"] is None


# ------------------------------------------------------------------------------------ listings


def test_listings_filter_and_paginate(client: TestClient, keys: dict[str, str]) -> None:
    ingest, auditor = keys["ingest"], keys["auditor"]
    run_ids = [new_run_id() for _ in range(3)]
    for i, run_id in enumerate(run_ids):
        post_event(
            client,
            ingest,
            run_event(
                run_id,
                "list-a",
                "etl",
                time=f"2024-07-0{i + 1}T00:00:00Z",
                inputs=(dataset("list-src", "events"),),
                outputs=(dataset("list-a", f"table_{i}"),),
            ),
        )
    started = new_run_id()
    post_event(
        client,
        ingest,
        run_event(started, "list-a", "etl", event_type="START", time="2024-07-09T00:00:00Z"),
    )
    other = new_run_id()
    post_event(client, ingest, run_event(other, "list-b", "etl", time="2024-07-05T00:00:00Z"))

    namespaces = get_json(client, auditor, "/api/v1/namespaces")["namespaces"]
    assert [n["name"] for n in namespaces] == ["list-a", "list-b", "list-src"]
    assert all(isinstance(n["first_ledger_index"], int) for n in namespaces)
    page = get_json(client, auditor, "/api/v1/namespaces", limit=1, offset=1)["namespaces"]
    assert [n["name"] for n in page] == ["list-b"]

    datasets = get_json(client, auditor, "/api/v1/datasets", namespace="list-a")["datasets"]
    assert [d["name"] for d in datasets] == ["table_0", "table_1", "table_2"]
    assert {d["namespace"] for d in datasets} == {"list-a"}
    page = get_json(client, auditor, "/api/v1/datasets", namespace="list-a", limit=2, offset=2)
    assert [d["name"] for d in page["datasets"]] == ["table_2"]
    assert get_json(client, auditor, "/api/v1/datasets", namespace="nowhere")["datasets"] == []

    jobs = get_json(client, auditor, "/api/v1/jobs")["jobs"]
    assert [(j["namespace"], j["name"]) for j in jobs] == [("list-a", "etl"), ("list-b", "etl")]
    assert [
        j["namespace"]
        for j in get_json(client, auditor, "/api/v1/jobs", namespace="list-b")["jobs"]
    ] == ["list-b"]

    # Newest first; COMPLETE only; one job.
    complete = get_json(
        client, auditor, "/api/v1/runs", namespace="list-a", job="etl", state="COMPLETE"
    )["runs"]
    assert [r["runId"] for r in complete] == run_ids[::-1]
    page = get_json(
        client,
        auditor,
        "/api/v1/runs",
        namespace="list-a",
        job="etl",
        state="COMPLETE",
        limit=1,
        offset=1,
    )["runs"]
    assert [r["runId"] for r in page] == [run_ids[1]]
    lowercase = get_json(client, auditor, "/api/v1/runs", state="start")["runs"]
    assert [r["runId"] for r in lowercase] == [started]
    everything = get_json(client, auditor, "/api/v1/runs")["runs"]
    assert {r["runId"] for r in everything} == {*run_ids, started, other}
    by_namespace = get_json(client, auditor, "/api/v1/runs", namespace="list-b")["runs"]
    assert [r["runId"] for r in by_namespace] == [other]

    for path, params in (
        ("/api/v1/runs", {"state": "DONE"}),
        ("/api/v1/runs", {"limit": "0"}),
        ("/api/v1/datasets", {"offset": "-1"}),
        ("/api/v1/jobs", {"limit": "100000"}),
        ("/api/v1/namespaces", {"limit": "x"}),
    ):
        assert_problem(client.get(path, params=params, headers=bearer(auditor)), 400)


def test_personal_filter_paginates_over_the_matching_datasets(
    client: TestClient, keys: dict[str, str]
) -> None:
    outputs = (
        dataset("pages", "a_plain"),
        dataset("pages", "b_plain"),
        dataset("pages", "c_personal", governance=governance_facet(personalData=True)),
        dataset("pages", "d_personal", governance=governance_facet(personalData=True)),
    )
    post_event(
        client,
        keys["ingest"],
        run_event(new_run_id(), "pages", "load", time="2024-07-10T00:00:00Z", outputs=outputs),
    )
    auditor = keys["auditor"]
    everything = get_json(client, auditor, "/api/v1/datasets", namespace="pages", personal="true")
    assert [d["name"] for d in everything["datasets"]] == ["c_personal", "d_personal"]
    first = get_json(
        client, auditor, "/api/v1/datasets", namespace="pages", personal="true", limit=1
    )
    assert [d["name"] for d in first["datasets"]] == ["c_personal"]
    second = get_json(
        client, auditor, "/api/v1/datasets", namespace="pages", personal="true", limit=1, offset=1
    )
    assert [d["name"] for d in second["datasets"]] == ["d_personal"]


def test_the_stock_python_client_event_is_projected(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """The event the stock 1.54.0 HTTP transport sends (its jobType facet is ~250 characters)."""
    path = openlineage_fixture("clients/captured_openlineage-python-1.54.0_http_start_event.json")
    event = json.loads(path.read_bytes())
    index = post_event(client, keys["ingest"], path.read_bytes())
    (job,) = get_json(client, keys["auditor"], "/api/v1/jobs", namespace=event["job"]["namespace"])[
        "jobs"
    ]
    assert job["name"] == event["job"]["name"]
    assert job["jobType"]["jobType"] == event["job"]["facets"]["jobType"]["jobType"]
    assert job["first_ledger_index"] == index


def test_long_identifiers_never_wedge_the_projection(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """Identifiers the schema allows (any string) must not fail the projection with a 500.

    A 500 after the append leaves an entry the projection cannot get past: every later event
    would fail too, while the stock client retries each one five times.
    """
    long_run_id = "run-" + "x" * 300
    long_name = "warehouse/" + "deep/" * 250 + "table.parquet"  # 1 270 characters
    version = dataset("long", "versioned")
    version["facets"]["version"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
        "#/$defs/DatasetVersionDatasetFacet",
        "datasetVersion": "v" * 300,
    }
    writer = new_run_id()
    accepted = []
    for event in (
        run_event(long_run_id, "long", "job", time="2024-10-01T00:00:00Z"),
        run_event(
            writer,
            "long",
            "job",
            time="2024-10-01T00:01:00Z",
            outputs=(dataset("long", long_name), version),
        ),
    ):
        before = head_size(runtime)
        response = post_raw(client, keys["ingest"], json.dumps(event).encode())
        assert response.status_code < 500, response.text
        if response.status_code == 201:
            accepted.append(event["run"]["runId"])
        else:
            assert head_size(runtime) == before, "refused, yet appended"
    # What was accepted was projected.
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="long", job="job")
    assert sorted(r["runId"] for r in runs["runs"]) == sorted(accepted)
    if writer in accepted:
        names = {
            d["name"] for d in get_json(client, keys["auditor"], "/api/v1/datasets")["datasets"]
        }
        assert long_name in names
    # Whatever happened above, an ordinary event is still accepted and projected.
    run_id = new_run_id()
    post_event(
        client, keys["ingest"], run_event(run_id, "long", "after", time="2024-10-02T00:00:00Z")
    )
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="long", job="after")
    assert [r["runId"] for r in runs["runs"]] == [run_id]


# ------------------------------------------------------------------------------ classification


def classification_url(namespace: str, name: str) -> str:
    return f"/api/v1/datasets/{quote(namespace, safe='')}/{quote(name, safe='')}/classification"


def find_dataset(client: TestClient, key: str, namespace: str, name: str) -> dict[str, Any]:
    listing = get_json(client, key, "/api/v1/datasets", namespace=namespace)
    rows: list[dict[str, Any]] = listing["datasets"]
    (row,) = [r for r in rows if r["name"] == name]
    return row


def test_classification_from_the_facet_and_by_a_steward(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    ingest, auditor, steward = keys["ingest"], keys["auditor"], keys["steward"]
    facet = governance_facet(personalData=True, lawfulBasis="consent", purposes=["analytics"])
    index = post_event(
        client,
        ingest,
        run_event(
            new_run_id(),
            "crm",
            "load_customers",
            time="2024-08-01T00:00:00Z",
            inputs=(dataset("crm", "raw_orders"),),
            outputs=(dataset("crm", "customers", governance=facet),),
        ),
    )
    personal = get_json(client, auditor, "/api/v1/datasets", personal="true")["datasets"]
    assert [(d["namespace"], d["name"]) for d in personal] == [("crm", "customers")]
    assert personal[0]["classification"]["personalData"] is True
    assert personal[0]["classification"]["lawfulBasis"] == "consent"
    not_personal = get_json(client, auditor, "/api/v1/datasets", personal="false")["datasets"]
    assert [d["name"] for d in not_personal] == ["raw_orders"]
    # The facet is known and valid: no warning for it.
    with runtime.engine.connect() as conn:
        warned = conn.execute(
            text("SELECT path FROM lineage_warnings WHERE ledger_index = :i"), {"i": index}
        ).all()
    assert not [p for (p,) in warned if "governance" in p], warned

    decided = {"personalData": True, "lawfulBasis": "contract", "retentionDays": 30}
    before = head_size(runtime)
    response = client.put(
        classification_url("crm", "customers"), json=decided, headers=bearer(steward)
    )
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["index"] == before
    assert receipt["kind"] == "dataset-classification"
    assert receipt["duplicate"] is False
    assert head_size(runtime) == before + 1
    _kind, subjects = LedgerEntries(client, auditor).get(receipt["index"])
    assert "dataset:crm:customers" in subjects
    assert find_dataset(client, auditor, "crm", "customers")["classification"] == decided

    # A later event without the facet keeps the steward's classification.
    post_event(
        client,
        ingest,
        run_event(
            new_run_id(),
            "crm",
            "load_customers",
            time="2024-08-02T00:00:00Z",
            outputs=(dataset("crm", "customers"),),
        ),
    )
    assert find_dataset(client, auditor, "crm", "customers")["classification"] == decided


def test_steward_classifies_a_dataset_no_event_named_yet(
    client: TestClient, keys: dict[str, str]
) -> None:
    decided = {"personalData": False, "anonymised": True}
    response = client.put(
        classification_url("hr", "headcount"), json=decided, headers=bearer(keys["admin"])
    )
    assert response.status_code == 200, response.text
    assert find_dataset(client, keys["auditor"], "hr", "headcount")["classification"] == decided
    post_event(
        client,
        keys["ingest"],
        run_event(
            new_run_id(),
            "hr",
            "report",
            time="2024-08-03T00:00:00Z",
            outputs=(dataset("hr", "headcount"),),
        ),
    )
    assert find_dataset(client, keys["auditor"], "hr", "headcount")["classification"] == decided


def test_classification_of_a_dataset_in_a_uri_namespace(
    client: TestClient, keys: dict[str, str]
) -> None:
    # Real namespaces are URIs (postgres://host:5432, s3://bucket), names are often paths.
    namespace, name = "postgres://db:5432", "public.users"
    post_event(
        client,
        keys["ingest"],
        run_event(
            new_run_id(),
            "etl",
            "users",
            time="2024-08-04T00:00:00Z",
            outputs=(dataset(namespace, name),),
        ),
    )
    decided = {"personalData": True, "lawfulBasis": "contract"}
    response = client.put(
        classification_url(namespace, name), json=decided, headers=bearer(keys["steward"])
    )
    assert response.status_code == 200, response.text
    assert find_dataset(client, keys["auditor"], namespace, name)["classification"] == decided


def test_invalid_classification_is_rejected_by_path(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    before = head_size(runtime)
    url = classification_url("crm", "customers")
    response = client.put(
        url,
        json={"personalData": "yes", "lawfulBasis": "because", "retentionDays": -1},
        headers=bearer(keys["steward"]),
    )
    problem = assert_problem(response, 400)
    paths = {e["path"] for e in problem["errors"]}
    assert paths == {"$.personalData", "$.lawfulBasis", "$.retentionDays"}, problem
    # Unknown fields and non-objects are refused too.
    unknown = assert_problem(
        client.put(url, json={"colour": "red"}, headers=bearer(keys["steward"])), 400
    )
    assert unknown["errors"], unknown
    assert_problem(client.put(url, json=[True], headers=bearer(keys["steward"])), 400)
    assert_problem(client.put(url, content=b"{", headers=bearer(keys["steward"])), 400)
    assert head_size(runtime) == before


def test_classification_with_location_and_transfer(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """The nested fields of the facet (``location``, ``transfer``) are checked like the rest."""
    url = classification_url("crm", "customers")
    before = head_size(runtime)
    invalid = client.put(
        url,
        json={"location": {"country": "Germany"}, "transfer": {"mechanism": "handshake"}},
        headers=bearer(keys["steward"]),
    )
    problem = assert_problem(invalid, 400)
    assert {e["path"] for e in problem["errors"]} == {
        "$.location.country",
        "$.transfer.mechanism",
    }, problem
    assert head_size(runtime) == before
    decided = {
        "personalData": True,
        "location": {"country": "AE", "region": "me-central-1"},
        "transfer": {"mechanism": "pdpl_art22", "ref": "DPA-7"},
        "jurisdictions": ["AE", "EU"],
    }
    response = client.put(url, json=decided, headers=bearer(keys["steward"]))
    assert response.status_code == 200, response.text
    assert find_dataset(client, keys["auditor"], "crm", "customers")["classification"] == decided


def test_a_steward_can_revert_a_classification(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """A, then B, then A again: the dataset ends classified A (the third PUT is a new decision)."""
    url = classification_url("crm", "leads")
    first = {"personalData": True, "lawfulBasis": "consent"}
    second = {"personalData": True, "lawfulBasis": "legitimate_interests", "liaRef": "LIA-9"}
    receipts = []
    for body in (first, second, first):
        response = client.put(url, json=body, headers=bearer(keys["steward"]))
        assert response.status_code == 200, response.text
        receipts.append(response.json())
        assert find_dataset(client, keys["auditor"], "crm", "leads")["classification"] == body
    assert len({r["index"] for r in receipts}) == 3, receipts


def test_the_governance_facet_is_checked_with_warnings(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    facet = governance_facet(
        personalData="yes",
        location={"country": "Germany"},
        favouriteColour="blue",
    )
    index = post_event(
        client,
        keys["ingest"],
        run_event(
            new_run_id(),
            "crm",
            "load",
            time="2024-08-05T00:00:00Z",
            outputs=(dataset("crm", "contacts", governance=facet),),
        ),
    )
    with runtime.engine.connect() as conn:
        paths = {
            path
            for (path,) in conn.execute(
                text("SELECT path FROM lineage_warnings WHERE ledger_index = :i"), {"i": index}
            )
        }
    assert {
        "$.outputs[0].facets.governance.personalData",
        "$.outputs[0].facets.governance.location.country",
        "$.outputs[0].facets.governance.favouriteColour",
    } <= paths, paths


@pytest.mark.parametrize("role", ["ingest", "auditor", "gate"])
def test_only_stewards_and_admins_classify(
    client: TestClient, keys: dict[str, str], runtime: Runtime, role: str
) -> None:
    before = head_size(runtime)
    response = client.put(
        classification_url("crm", "customers"),
        json={"personalData": True},
        headers=bearer(keys[role]),
    )
    assert_problem(response, 403)
    assert head_size(runtime) == before


# -------------------------------------------------------------------------- compliance questions


@pytest.fixture
def ml_graph(client: TestClient, keys: dict[str, str]) -> dict[str, str]:
    """raw (personal) → featurize → features → train → model, run twice: May and July 2024."""
    raw = dataset(
        "ml", "raw", governance=governance_facet(personalData=True, lawfulBasis="consent")
    )
    features = dataset("ml", "features")
    model = dataset("ml", "churn_model", datasetType=model_facet())
    runs = {}
    for label, month in (("may", "05"), ("july", "07")):
        runs[f"featurize_{label}"] = featurize = new_run_id()
        runs[f"train_{label}"] = train = new_run_id()
        post_event(
            client,
            keys["ingest"],
            run_event(
                featurize,
                "ml",
                "featurize",
                time=f"2024-{month}-01T00:00:00Z",
                inputs=(raw,),
                outputs=(features,),
            ),
        )
        post_event(
            client,
            keys["ingest"],
            run_event(
                train,
                "ml",
                "train",
                time=f"2024-{month}-02T00:00:00Z",
                inputs=(features,),
                outputs=(model,),
            ),
        )
    # Unrelated: a dataset the model never saw.
    post_event(
        client,
        keys["ingest"],
        run_event(
            new_run_id(),
            "ml",
            "other",
            time="2024-07-03T00:00:00Z",
            inputs=(dataset("ml", "weather"),),
            outputs=(dataset("ml", "forecast"),),
        ),
    )
    return runs


def test_models_downstream_of_a_dataset(
    client: TestClient, keys: dict[str, str], ml_graph: dict[str, str]
) -> None:
    answer = get_json(
        client,
        keys["gate"],
        "/api/v1/lineage/compliance/downstream",
        namespace="ml",
        name="raw",
    )
    assert [m["id"] for m in answer["models"]] == ["dataset:ml:churn_model"]
    assert {d["id"] for d in answer["datasets"]} == {
        "dataset:ml:features",
        "dataset:ml:churn_model",
    }
    assert {j["id"] for j in answer["jobs"]} == {"job:ml:featurize", "job:ml:train"}
    assert all(e["ledger_indexes"] for e in answer["edges"])
    models = get_json(client, keys["auditor"], "/api/v1/datasets", model="true")["datasets"]
    assert [(m["namespace"], m["name"]) for m in models] == [("ml", "churn_model")]


def test_personal_data_reaching_a_model(
    client: TestClient, keys: dict[str, str], ml_graph: dict[str, str]
) -> None:
    answer = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/personal-data",
        namespace="ml",
        name="churn_model",
    )
    personal = answer["personal_datasets"]
    assert [d["id"] for d in personal] == ["dataset:ml:raw"]
    assert personal[0]["classification"]["personalData"] is True
    # As of before the first training, nothing had reached the model.
    before = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/personal-data",
        namespace="ml",
        name="churn_model",
        as_of="2024-05-01T12:00:00Z",
    )
    assert before["personal_datasets"] == []
    # By job: what personal data the training job consumed.
    by_job = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/personal-data",
        namespace="ml",
        name="train",
        type="job",
    )
    assert [d["id"] for d in by_job["personal_datasets"]] == ["dataset:ml:raw"]


def test_consent_withdrawal_blast_radius(
    client: TestClient, keys: dict[str, str], ml_graph: dict[str, str]
) -> None:
    answer = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/consent-withdrawal",
        namespace="ml",
        name="raw",
        since="2024-06-01T00:00:00Z",
    )
    assert {d["id"] for d in answer["datasets"]} == {
        "dataset:ml:features",
        "dataset:ml:churn_model",
    }
    assert [m["id"] for m in answer["models"]] == ["dataset:ml:churn_model"]
    assert {j["id"] for j in answer["jobs"]} == {"job:ml:featurize", "job:ml:train"}
    run_ids = [r["runId"] for r in answer["runs"]]
    assert sorted(run_ids) == sorted([ml_graph["featurize_july"], ml_graph["train_july"]])
    assert ml_graph["featurize_may"] not in run_ids
    assert ml_graph["train_may"] not in run_ids
    # Since before everything: all four runs.
    everything = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/consent-withdrawal",
        namespace="ml",
        name="raw",
        since="2024-01-01T00:00:00Z",
    )
    assert len({r["runId"] for r in everything["runs"]}) == 4
    # Since after everything: nothing.
    nothing = get_json(
        client,
        keys["auditor"],
        "/api/v1/lineage/compliance/consent-withdrawal",
        namespace="ml",
        name="raw",
        since="2025-01-01T00:00:00Z",
    )
    assert (nothing["datasets"], nothing["models"], nothing["runs"]) == ([], [], [])
    # `since` is required and must carry a timezone.
    assert_problem(
        client.get(
            "/api/v1/lineage/compliance/consent-withdrawal",
            params={"namespace": "ml", "name": "raw"},
            headers=bearer(keys["auditor"]),
        ),
        400,
    )
    assert_problem(
        client.get(
            "/api/v1/lineage/compliance/consent-withdrawal",
            params={"namespace": "ml", "name": "raw", "since": "2024-06-01T00:00:00"},
            headers=bearer(keys["auditor"]),
        ),
        400,
    )


# ---------------------------------------------------------------------- batch, encodings, types


def test_batch_with_one_invalid_event(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    first, third = new_run_id(), new_run_id()
    invalid = run_event(new_run_id(), "batch", "job", time="2024-09-01T00:00:01Z")
    del invalid["run"]["runId"]
    events = [
        run_event(first, "batch", "job", time="2024-09-01T00:00:00Z"),
        invalid,
        run_event(third, "batch", "job", time="2024-09-01T00:00:02Z"),
    ]
    before = head_size(runtime)
    response = post_raw(client, keys["ingest"], json.dumps(events).encode(), path=BATCH)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    assert [r["position"] for r in results] == [0, 1, 2]
    assert [e["path"] for e in results[1]["errors"]] == ["$.run.runId"]
    assert [results[0]["index"], results[2]["index"]] == [before, before + 1]
    assert head_size(runtime) == before + 2
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="batch")["runs"]
    assert {r["runId"] for r in runs} == {first, third}

    # All valid: 200. The same events again are duplicates of the same entries.
    valid = [events[0], events[2]]
    again = post_raw(client, keys["ingest"], json.dumps(valid).encode(), path=BATCH)
    assert again.status_code == 200, again.text
    assert [(r["status"], r["duplicate"]) for r in again.json()["results"]] == [
        (201, True),
        (201, True),
    ]
    assert head_size(runtime) == before + 2
    # Not an array: 400.
    assert_problem(post_raw(client, keys["ingest"], b'{"run": {}}', path=BATCH), 400)


def test_gzip_body_is_accepted(client: TestClient, keys: dict[str, str], runtime: Runtime) -> None:
    run_id = new_run_id()
    raw = json.dumps(run_event(run_id, "gz", "job", time="2024-09-02T00:00:00Z")).encode()
    response = post_raw(client, keys["ingest"], gzip.compress(raw), **{"Content-Encoding": "gzip"})
    assert response.status_code == 201, response.text
    index = int(response.headers["x-ledger-index"])
    entry = get_json(client, keys["auditor"], f"/api/v1/ledger/entries/{index}")
    # The ledger keeps the event as sent, not its compressed transfer form.
    assert entry["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert runtime.ledger.payload(index) == raw
    # The same event uncompressed is the same entry.
    assert post_event(client, keys["ingest"], raw) == index


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/xml"}, b"<event/>", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415),
        ({"Content-Encoding": "br"}, b"\x0b\x02\x80{}\x03", 415),
        ({"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00 this is not gzip", 400),
        ({"Content-Encoding": "gzip"}, gzip.compress(b'{"a": 1}')[:-6], 400),
        ({}, b'{"eventTime": "2024-01-01T00:00:00Z", "run": ', 400),
        ({}, b"", 400),
        ({}, b"[]", 400),
    ],
    ids=["xml", "form", "brotli", "corrupt-gzip", "truncated-gzip", "bad-json", "empty", "array"],
)
def test_bad_bodies_are_refused(
    client: TestClient,
    keys: dict[str, str],
    runtime: Runtime,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    before = head_size(runtime)
    sent = {"Content-Type": "application/json", **headers}
    response = client.post(LINEAGE, content=body, headers={**bearer(keys["ingest"]), **sent})
    assert_problem(response, status)
    assert head_size(runtime) == before


def test_charset_and_query_string_are_accepted(client: TestClient, keys: dict[str, str]) -> None:
    raw = json.dumps(run_event(new_run_id(), "q", "job", time="2024-09-03T00:00:00Z")).encode()
    response = client.post(
        f"{LINEAGE}?foo=bar",
        content=raw,
        headers={**bearer(keys["ingest"]), "Content-Type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 201, response.text


def test_no_run_id_is_a_400_naming_the_field(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    event = openlineage_fixture(NO_RUN_ID).read_bytes()
    before = head_size(runtime)
    response = post_raw(client, keys["ingest"], event)
    problem = assert_problem(response, 400)
    assert [e["path"] for e in problem["errors"]] == ["$.run.runId"]
    assert head_size(runtime) == before


# -------------------------------------------------------------------------- reindex and recovery


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table, all columns, ordered by primary key."""
    inspector = inspect(engine)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in PROJECTION_TABLES:
            columns = [c["name"] for c in inspector.get_columns(table)]
            key = inspector.get_pk_constraint(table)["constrained_columns"]
            assert key, table
            rows = conn.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}")
            ).all()
            tables[table] = [tuple(row) for row in rows]
    return tables


def watermark(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT next_index FROM projection_state WHERE name = 'lineage'")
            ).scalar_one()
        )


@pytest.fixture
def everything(client: TestClient, keys: dict[str, str], runtime: Runtime) -> dict[str, int]:
    """Every accepted fixture event, the negative ones but one, and a classification."""
    root = openlineage_fixture()
    indexes = {}
    for path in (*fixture_files(*ACCEPTED_FOLDERS), *fixture_files("negative")):
        name = str(path.relative_to(root))
        if name == NO_RUN_ID:
            continue
        indexes[name] = post_event(client, keys["ingest"], path.read_bytes())
    response = client.put(
        classification_url(KITCHEN, "apples"),
        json={"personalData": False, "purposes": ["baking"]},
        headers=bearer(keys["steward"]),
    )
    assert response.status_code == 200, response.text
    # Distinct files are distinct entries (their bytes differ).
    assert len(set(indexes.values())) == len(indexes)
    assert head_size(runtime) == len(indexes) + 1
    assert_every_entry_projected(runtime)
    return indexes


def assert_every_entry_projected(runtime: Runtime) -> None:
    """Each accepted event's run, job and datasets are in the projection (none was skipped)."""
    with runtime.engine.connect() as conn:
        skipped = conn.execute(text("SELECT ledger_index, error FROM projection_failures")).all()
        runs = {r for (r,) in conn.execute(text("SELECT run_id FROM lineage_runs"))}
        jobs = {(ns, n) for ns, n in conn.execute(text("SELECT namespace, name FROM lineage_jobs"))}
        datasets = {
            (ns, n) for ns, n in conn.execute(text("SELECT namespace, name FROM lineage_datasets"))
        }
        indexes = [
            int(i)
            for (i,) in conn.execute(
                text("SELECT idx FROM ledger_entries WHERE kind = 'openlineage' ORDER BY idx")
            )
        ]
    assert skipped == [], skipped
    for index in indexes:
        payload = runtime.ledger.payload(index)
        assert payload is not None
        event = json.loads(payload)
        if "run" in event:
            assert event["run"]["runId"] in runs, index
        if "job" in event:
            assert (event["job"]["namespace"], event["job"]["name"]) in jobs, index
        named = [*event.get("inputs", []), *event.get("outputs", [])]
        if "dataset" in event:
            named.append(event["dataset"])
        for item in named:
            assert (item["namespace"], item["name"]) in datasets, (index, item)


def test_negative_events_are_accepted_with_warnings(
    runtime: Runtime, everything: dict[str, int]
) -> None:
    expected = {
        "negative/fluentd_event_invalid_dataset_facet.json": "$.outputs[0].facets.ownership",
        "negative/fluentd_event_invalid_input_dataset_facet.json": (
            "$.inputs[0].inputFacets.dataQualityMetrics"
        ),
        "negative/fluentd_event_invalid_job_facet.json": "$.job.facets.ownership",
        "negative/fluentd_event_invalid_output_dataset_facet.json": (
            "$.outputs[0].outputFacets.outputStatistics"
        ),
        "negative/fluentd_event_invalid_run_facet.json": "$.run.facets.parent",
    }
    with runtime.engine.connect() as conn:
        for name, prefix in expected.items():
            rows = conn.execute(
                text(
                    "SELECT position, path, message FROM lineage_warnings "
                    "WHERE ledger_index = :i ORDER BY position"
                ),
                {"i": everything[name]},
            ).all()
            assert rows, name
            assert any(path.startswith(prefix) for _p, path, _m in rows), (name, rows)
            assert [p for p, _path, _m in rows] == list(range(len(rows)))


def assert_reindex_is_identical(
    runtime: Runtime, capsys: pytest.CaptureFixture[str], *, every_table: bool
) -> None:
    before = snapshot(runtime.engine)
    if every_table:
        for table, rows in before.items():
            assert rows, f"{table} is empty: the events should exercise every projection table"
    size = head_size(runtime)
    assert watermark(runtime.engine) == size

    out = run_cli(capsys, "ledger", "reindex")
    assert f"projection rebuilt from {size} ledger entries" in out
    after = snapshot(runtime.engine)
    for table in PROJECTION_TABLES:
        assert after[table] == before[table], table
    assert watermark(runtime.engine) == size
    # Twice is the same as once.
    run_cli(capsys, "ledger", "reindex")
    assert snapshot(runtime.engine) == before


def assert_catch_up_is_identical(settings: Settings, runtime: Runtime) -> None:
    # The process "dies": its follower must not catch up while the rows are being removed.
    runtime.projections.stop()
    before = snapshot(runtime.engine)
    size = head_size(runtime)
    # As if every entry had been committed but the process died before projecting any of them:
    # no projection rows, and the watermark back at the start.
    with runtime.engine.begin() as conn:
        for table in PROJECTION_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE projection_state SET next_index = 0 WHERE name = 'lineage'"))
    assert all(not rows for rows in snapshot(runtime.engine).values())

    reopened = Runtime.open(settings)  # catches up on start
    try:
        assert watermark(reopened.engine) == size
        after = snapshot(reopened.engine)
        for table in PROJECTION_TABLES:
            assert after[table] == before[table], table
    finally:
        reopened.close()


def test_reindex_of_every_fixture_is_identical(
    runtime: Runtime,
    everything: dict[str, int],
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_reindex_is_identical(runtime, capsys, every_table=True)


def test_catch_up_of_every_fixture_after_a_crash_is_identical(
    settings: Settings, runtime: Runtime, everything: dict[str, int]
) -> None:
    assert_catch_up_is_identical(settings, runtime)


@pytest.fixture
def stories(
    client: TestClient,
    keys: dict[str, str],
    apples: dict[str, int],
    ml_graph: dict[str, str],
) -> None:
    """The apples and ML stories, with runs out of order, a parent, a steward's decision."""
    parent, child = new_run_id(), new_run_id()
    facet = {
        "parent": {
            "_producer": PRODUCER,
            "_schemaURL": PARENT_SCHEMA,
            "run": {"runId": parent},
            "job": {"namespace": "ml", "name": "nightly"},
        }
    }
    for event in (
        run_event(child, "ml", "nightly.score", time="2024-07-05T00:10:00Z", run_facets=facet),
        run_event(child, "ml", "nightly.score", event_type="START", time="2024-07-05T00:00:00Z"),
        run_event(parent, "ml", "nightly", event_type="START", time="2024-07-04T23:59:00Z"),
    ):
        post_event(client, keys["ingest"], event)
    for name in ("edge-cases/marquez_event_dataset_event.json", *NEGATIVE):
        post_event(client, keys["ingest"], openlineage_fixture(name).read_bytes())
    response = client.put(
        classification_url(KITCHEN, "apples"),
        json={"personalData": False, "purposes": ["baking"]},
        headers=bearer(keys["steward"]),
    )
    assert response.status_code == 200, response.text


def test_reindex_of_the_stories_is_identical(
    runtime: Runtime, stories: None, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_reindex_is_identical(runtime, capsys, every_table=False)


def test_catch_up_of_the_stories_after_a_crash_is_identical(
    settings: Settings, runtime: Runtime, stories: None
) -> None:
    assert_catch_up_is_identical(settings, runtime)


# ------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli_stories(apples: dict[str, int], ml_graph: dict[str, str], cli_env: None) -> dict[str, str]:
    return ml_graph


def test_cli_graph(
    client: TestClient,
    keys: dict[str, str],
    cli_stories: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["lineage", "graph", "--type", "dataset", "--namespace", KITCHEN, "--name", "apple.pie"]
    upstream = json.loads(run_cli(capsys, *argv, "--direction", "upstream", "--json"))
    ids = node_ids(upstream)
    assert "dataset:backyard:crab.apples" in ids
    assert "dataset:laurents-orchard:red.delicious" in ids
    # The CLI and the API give the same answer.
    assert upstream == get_json(
        client,
        keys["auditor"],
        GRAPH,
        type="dataset",
        namespace=KITCHEN,
        name="apple.pie",
        direction="upstream",
    )
    table = run_cli(capsys, *argv, "--direction", "upstream")
    assert "job:grandmas.kitchen:gather_apples" in table
    runs = json.loads(
        run_cli(capsys, "lineage", "graph", "--type", "run", "--name", LAST_PIE, "--json")
    )
    assert f"run:{CRAB_APPLE_PICKING}" in node_ids(runs)


@pytest.mark.parametrize("as_of", ["2020-10-01T00:00:00+00:00", "2020-10-01T10:00:00+10:00"])
def test_cli_graph_as_of(
    cli_stories: dict[str, str], capsys: pytest.CaptureFixture[str], as_of: str
) -> None:
    as_of_graph = json.loads(
        run_cli(
            capsys,
            "lineage",
            "graph",
            "--type",
            "dataset",
            "--namespace",
            KITCHEN,
            "--name",
            "apple.pie",
            "--direction",
            "upstream",
            "--as-of",
            as_of,
            "--json",
        )
    )
    ids = node_ids(as_of_graph)
    assert "dataset:laurents-orchard:red.delicious" in ids
    assert "dataset:backyard:crab.apples" not in ids


def test_cli_graph_as_of_a_date(
    cli_stories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_cli(
        capsys,
        "lineage",
        "graph",
        "--type",
        "dataset",
        "--namespace",
        KITCHEN,
        "--name",
        "apple.pie",
        "--direction",
        "upstream",
        "--as-of",
        "2020-10-01",
        "--json",
    )
    ids = node_ids(json.loads(out))
    assert "dataset:laurents-orchard:red.delicious" in ids
    assert "dataset:backyard:crab.apples" not in ids


def test_cli_listings(cli_stories: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    runs = json.loads(
        run_cli(
            capsys, "lineage", "runs", "--namespace", KITCHEN, "--job", "gather_apples", "--json"
        )
    )
    assert [r["runId"] for r in runs] == [CRAB_APPLE_PICKING, FIRST_PICKING]
    assert {r["state"] for r in runs} == {"COMPLETE"}
    all_runs = json.loads(run_cli(capsys, "lineage", "runs", "--json"))
    assert {FIRST_PICKING, LAST_PIE, *cli_stories.values()} <= {r["runId"] for r in all_runs}
    runs_table = run_cli(capsys, "lineage", "runs", "--state", "COMPLETE")
    assert LAST_PIE in runs_table

    table = run_cli(capsys, "lineage", "datasets")
    for name in ("apple.pie", "crab.apples", "red.delicious", "churn_model"):
        assert name in table, table
    personal = run_cli(capsys, "lineage", "datasets", "--personal")
    assert "raw" in personal
    assert "apple.pie" not in personal
    models = json.loads(run_cli(capsys, "lineage", "datasets", "--model", "--json"))
    assert [(m["namespace"], m["name"]) for m in models] == [("ml", "churn_model")]
    jobs = run_cli(capsys, "lineage", "jobs", "--namespace", KITCHEN)
    assert "prepare_apple_pie" in jobs
    namespaces = json.loads(run_cli(capsys, "lineage", "namespaces", "--json"))
    assert {n["name"] for n in namespaces} >= {KITCHEN, "backyard", "cupboard", "ml"}


def test_cli_compliance_questions(
    cli_stories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ml_graph = cli_stories
    impact = json.loads(
        run_cli(
            capsys,
            "lineage",
            "consent-withdrawal",
            "--namespace",
            "ml",
            "--name",
            "raw",
            "--since",
            "2024-06-01T00:00:00+00:00",
            "--json",
        )
    )
    assert [m["id"] for m in impact["models"]] == ["dataset:ml:churn_model"]
    assert {d["id"] for d in impact["datasets"]} == {
        "dataset:ml:features",
        "dataset:ml:churn_model",
    }
    assert sorted(r["runId"] for r in impact["runs"]) == sorted(
        [ml_graph["featurize_july"], ml_graph["train_july"]]
    )
    text_impact = run_cli(
        capsys,
        "lineage",
        "consent-withdrawal",
        "--namespace",
        "ml",
        "--name",
        "raw",
        "--since",
        "2024-06-01",
    )
    assert "churn_model" in text_impact
    assert ml_graph["train_july"] in text_impact
    assert ml_graph["train_may"] not in text_impact

    downstream = json.loads(
        run_cli(capsys, "lineage", "downstream", "--namespace", "ml", "--name", "raw", "--json")
    )
    assert [m["id"] for m in downstream["models"]] == ["dataset:ml:churn_model"]
    personal = json.loads(
        run_cli(
            capsys,
            "lineage",
            "personal-data",
            "--namespace",
            "ml",
            "--name",
            "churn_model",
            "--json",
        )
    )
    assert [d["id"] for d in personal["personal_datasets"]] == ["dataset:ml:raw"]


def test_cli_unknown_dataset_is_an_error(
    cli_stories: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["lineage", "graph", "--type", "dataset", "--namespace", "ml", "--name", "nothing"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert "no dataset ml:nothing" in err


def projected_run_ids(runtime: Runtime) -> set[str]:
    with runtime.engine.connect() as conn:
        return {r for (r,) in conn.execute(text("SELECT run_id FROM lineage_runs"))}


def test_an_acknowledged_event_is_projected_in_its_own_transaction(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """The 201 comes after a commit that holds both the entry and its projection: with the
    background follower stopped, the tables (read directly, not through a query endpoint that
    would catch up) already show the event."""
    runtime.projections.stop()
    run_id = new_run_id()
    index = post_event(
        client,
        keys["ingest"],
        run_event(run_id, "tx", "job", time="2024-10-01T00:00:00Z", outputs=(dataset("tx", "o"),)),
    )
    assert run_id in projected_run_ids(runtime)
    assert watermark(runtime.engine) == index + 1 == head_size(runtime)
    assert not runtime.projections.behind()


def test_entries_appended_without_the_hook_are_caught_up(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """Entries written by a process that does not project (here a second, hook-less ledger)
    leave the projection behind; a query catches it up before answering, and the follower
    catches up on its own."""
    runtime.projections.stop()
    other = Ledger(runtime.engine, runtime.signer)
    first, second = new_run_id(), new_run_id()
    with other:
        for run_id in (first, second):
            body = json.dumps(run_event(run_id, "side", "job", time="2024-10-01T00:00:00Z"))
            other.append(AppendRequest("openlineage", body.encode(), "application/json"))
            if run_id == first:
                assert runtime.projections.behind(LINEAGE_PROJECTION)
                assert first not in projected_run_ids(runtime)
                runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="side")
                assert [r["runId"] for r in runs["runs"]] == [first]
                assert not runtime.projections.behind(LINEAGE_PROJECTION)
    # The follower, woken (or on its own within a second), applies the second one.
    assert second not in projected_run_ids(runtime)
    runtime.projections.start()
    runtime.projections.notify()
    deadline = time.monotonic() + 20
    while second not in projected_run_ids(runtime):
        assert time.monotonic() < deadline, "the follower did not catch up"
        time.sleep(0.05)
    assert watermark(runtime.engine) == head_size(runtime)
    # And ingestion through the service projects in its own transaction again.
    runtime.projections.stop()
    third = new_run_id()
    post_event(client, keys["ingest"], run_event(third, "side", "job", time="2024-10-02T00:00:00Z"))
    assert third in projected_run_ids(runtime)


def edge_answers(runtime: Runtime, until: str) -> tuple[list[Any], list[Any]]:
    """Every job-dataset edge at every node, both ways: from the folded rows and the run edges."""
    queries = runtime.queries
    folded, per_run = [], []
    with runtime.engine.connect() as conn:
        datasets = {int(r[0]) for r in conn.execute(text("SELECT id FROM lineage_datasets"))}
        jobs = {int(r[0]) for r in conn.execute(text("SELECT id FROM lineage_jobs"))}
        for column, ids in (("dataset_id", datasets), ("job_id", jobs)):
            for direction in ("read", "wrote"):
                folded.append(
                    sorted(queries.job_dataset_edges(conn, column, ids, direction, until))
                )
                per_run.append(
                    sorted(queries.folded_run_edges(conn, column, ids, direction, until))
                )
    return folded, per_run


def test_folded_job_dataset_edges_answer_as_the_run_edges(
    runtime: Runtime, everything: dict[str, int], stories: None
) -> None:
    """Graph traversal reads the folded rows; they must say what the per-run edges say, at
    every point in time (each distinct event time is tried as an "as of")."""
    with runtime.engine.connect() as conn:
        times = sorted({r[0] for r in conn.execute(text("SELECT event_time FROM lineage_edges"))})
    assert len(times) > 10
    for until in (*times, "9999-12-31T23:59:59.999999Z"):
        folded, per_run = edge_answers(runtime, until)
        assert folded == per_run, until
    assert any(answer for answer in folded)


def test_an_edge_asserted_by_many_runs_keeps_its_first_entries_as_of_any_time(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """30 runs of one job write one dataset, delivered out of time order. An edge lists at most
    20 asserting entries: the earliest (by event time, then ledger index) of those asserted by
    the "as of" time, whatever order they arrived in."""
    posted: list[tuple[int, str]] = []
    for n in range(30):
        day = 1 + (n * 7) % 30  # a permutation of days 1..30
        when = f"2024-06-{day:02d}T00:00:00Z"
        event = run_event(new_run_id(), "many", "load", time=when, outputs=(dataset("many", "t"),))
        posted.append((post_event(client, keys["ingest"], event), when))
    for as_of in ("2024-06-10T00:00:00Z", "2024-06-25T00:00:00Z", None):
        params = {"type": "dataset", "namespace": "many", "name": "t", "direction": "upstream"}
        if as_of:
            params["as_of"] = as_of
        graph = get_json(client, keys["auditor"], "/api/v1/lineage/graph", **params)
        edges = {
            (e["origin"], e["destination"]): e for node in graph["graph"] for e in node["inEdges"]
        }
        edge = edges[("job:many:load", "dataset:many:t")]
        asserted = [i for i, when in posted if as_of is None or when.replace("Z", "") <= as_of]
        earliest = sorted((when, i) for i, when in posted if i in asserted)[:20]
        assert edge["ledger_indexes"] == sorted(i for _, i in earliest), as_of
        first = min(when for i, when in posted if i in asserted)
        assert edge["first_seen"].startswith(first.replace("T00:00:00Z", ""))


def test_an_event_whose_projection_fails_is_kept_and_recorded(
    client: TestClient,
    keys: dict[str, str],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A projection failure never fails the append: the event is acknowledged and stays in the
    ledger, the hook's writes for its batch are rolled back, the follower then applies that batch
    entry by entry and records why the failing one is missing; later events project as usual."""
    from governance.lineage.fold import LineageFold

    poison = new_run_id()
    original = LineageFold.lineage_event

    def failing(self: LineageFold, event: LineageEvent, index: int) -> None:
        if event.run_id == poison:
            raise RuntimeError("cannot project this one")
        original(self, event, index)

    monkeypatch.setattr(LineageFold, "lineage_event", failing)
    index = post_event(
        client, keys["ingest"], run_event(poison, "fail", "job", time="2024-10-01T00:00:00Z")
    )
    assert runtime.ledger.payload(index) is not None
    ok = new_run_id()
    post_event(client, keys["ingest"], run_event(ok, "fail", "job", time="2024-10-02T00:00:00Z"))
    runs = get_json(client, keys["auditor"], "/api/v1/runs", namespace="fail")  # catches up
    assert [r["runId"] for r in runs["runs"]] == [ok]
    with runtime.engine.connect() as conn:
        recorded = conn.execute(
            text(
                "SELECT error FROM projection_failures "
                "WHERE projection = 'lineage' AND ledger_index = :i"
            ),
            {"i": index},
        ).all()
    assert [r[0] for r in recorded] == ["RuntimeError"]
    assert watermark(runtime.engine) == head_size(runtime)


def test_erasing_an_event_removes_it_from_the_lineage_projection(
    client: TestClient,
    keys: dict[str, str],
    runtime: Runtime,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After `ledger erase` of an OpenLineage event, nothing it said is left in the projection
    (its run, edges, facet history), and the projection equals a rebuild from the ledger."""
    facet = governance_facet(personalData=True, consentRef="consent-42")
    kept, erased = new_run_id(), new_run_id()
    post_event(
        client,
        keys["ingest"],
        run_event(
            kept, "gdpr", "load", time="2024-10-01T00:00:00Z", outputs=(dataset("gdpr", "a"),)
        ),
    )
    index = post_event(
        client,
        keys["ingest"],
        run_event(
            erased,
            "gdpr",
            "load",
            time="2024-10-02T00:00:00Z",
            outputs=(dataset("gdpr", "b", governance=facet),),
        ),
    )
    assert erased in projected_run_ids(runtime)
    out = run_cli(capsys, "ledger", "erase", "--index", str(index), "--reason", "Art. 17")
    assert "lineage projection rebuilt" in out
    assert projected_run_ids(runtime) == {kept}
    with runtime.engine.connect() as conn:
        facet_rows = conn.execute(
            text("SELECT facets FROM lineage_dataset_facets WHERE ledger_index = :i"), {"i": index}
        ).all()
        edge_rows = conn.execute(
            text("SELECT 1 FROM lineage_edges WHERE ledger_index = :i"), {"i": index}
        ).all()
        datasets = {r[0] for r in conn.execute(text("SELECT name FROM lineage_datasets"))}
    assert facet_rows == []
    assert edge_rows == []
    assert datasets == {"a"}
    before = snapshot(runtime.engine)
    run_cli(capsys, "ledger", "reindex")
    assert snapshot(runtime.engine) == before


def test_facet_history_keeps_what_each_event_asserted_new(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    """A dataset's facet history has a row for each event that asserted a facet or value the
    dataset did not hold, including an out-of-order older one; repeats add nothing."""
    facets = "https://openlineage.io/spec/facets/1-0-1"
    schema_url = f"{facets}/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    ownership_url = f"{facets}/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet"
    v1 = {"_producer": PRODUCER, "_schemaURL": schema_url, "fields": [{"name": "id"}]}
    v2 = {**v1, "fields": [{"name": "id"}, {"name": "email"}]}
    owner = {"_producer": PRODUCER, "_schemaURL": ownership_url, "owners": [{"name": "team:crm"}]}

    def load(time: str, **facets: Any) -> int:
        out = dataset("hist", "customers", **facets)
        return post_event(
            client,
            keys["ingest"],
            run_event(new_run_id(), "hist", "load", time=time, outputs=(out,)),
        )

    first = load("2024-05-01T00:00:00Z", schema=v1)
    load("2024-05-02T00:00:00Z", schema=v1)  # the same schema again
    widened = load("2024-05-03T00:00:00Z", schema=v2)
    load("2024-05-04T00:00:00Z", schema=v2)  # again
    owned = load("2024-05-05T00:00:00Z", schema=v2, ownership=owner)  # a new facet
    late = load("2024-04-01T00:00:00Z", schema=v1)  # older than all: v1 is no longer current
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.ledger_index, h.facets FROM lineage_dataset_facets h "
                "JOIN lineage_datasets d ON d.id = h.dataset_id WHERE d.name = 'customers' "
                "ORDER BY h.ledger_index"
            )
        ).all()
        current = conn.execute(
            text("SELECT facets FROM lineage_datasets WHERE name = 'customers'")
        ).scalar_one()
    assert [(int(i), json.loads(f)) for i, f in rows] == [
        (first, {"schema": v1}),
        (widened, {"schema": v2}),
        (owned, {"schema": v2, "ownership": owner}),
        (late, {"schema": v1}),
    ]
    # The late event filled in nothing: the current facets are still the newest ones.
    assert json.loads(current) == {"schema": v2, "ownership": owner}
