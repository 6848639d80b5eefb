"""Schema warnings of OpenLineage events through the API and the CLI, on both backends; and the
CLI's tables when its output is not a terminal.

Events are posted through the API as a producer would. Every answer is compared with what the
projection recorded (``lineage_warnings``) and what the ledger holds (the envelopes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from governance.api.app import create_app
from governance.cli.main import main
from governance.config import Settings
from governance.lineage import warnings as lineage_warnings
from governance.runtime import Runtime

# cli_env is a fixture (used by name below): GOVERNANCE_* variables for this test's database.
from tests.integration.test_lineage import (  # noqa: F401
    PRODUCER,
    READER_ROLES,
    assert_problem,
    bearer,
    cli_env,
    dataset,
    get_json,
    governance_facet,
    new_run_id,
    post_event,
    run_cli,
    run_event,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = "/api/v1/lineage/events"
WARNINGS = "/api/v1/lineage/warnings"
MAX_INDEX = 2**63 - 1

# Namespaces with colons, one a prefix of the other: the subject `job:NS:NAME` must be split
# into the job that exists, and a namespace filter must not match by prefix.
NS = "postgres://db:5432"
PREFIX_NS = "postgres://db"
WAREHOUSE = "warehouse"
JOB_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
DATASET_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
TIME = "2024-09-01T10:00:00+00:00"
#: TIME as the ledger records it (normalised to UTC, microseconds).
RECORDED_TIME = "2024-09-01T10:00:00.000000Z"


def broken_facet() -> dict[str, Any]:
    """A governance facet with two deviations (a string for a bool, an unknown field)."""
    return governance_facet(personalData="yes", favouriteColour="blue")


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    roles = ("ingest", "steward", "approver", *READER_ROLES)
    return {role: runtime.keys.create(role, f"test-{role}")[1] for role in roles}


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def events(client: TestClient, keys: dict[str, str]) -> dict[str, int]:
    """A clean event, then warned run, run, dataset and job events; ledger index by name."""
    ingest = keys["ingest"]
    run = dataset(NS, "public.contacts", governance=broken_facet())
    posted = {
        "clean": run_event(new_run_id(), NS, "load", time=TIME),
        "run": run_event(new_run_id(), NS, "load", time=TIME, outputs=(run,)),
        "prefix": run_event(
            new_run_id(), PREFIX_NS, "x", time=TIME, event_type="START", outputs=(run,)
        ),
        "dataset": {
            "eventTime": TIME,
            "producer": PRODUCER,
            "schemaURL": DATASET_EVENT_SCHEMA,
            "dataset": dataset(WAREHOUSE, "t", governance=broken_facet()),
        },
        "job": {
            "eventTime": TIME,
            "producer": PRODUCER,
            "schemaURL": JOB_EVENT_SCHEMA,
            "job": {"namespace": NS, "name": "define", "facets": {}},
            "inputs": [],
            "outputs": [dataset(NS, "public.leads", governance=broken_facet())],
        },
    }
    return {name: post_event(client, ingest, event) for name, event in posted.items()}


def recorded(runtime: Runtime, index: int | None = None) -> list[tuple[int, int, str, str]]:
    """``(ledger index, position, path, message)`` rows, newest event first."""
    where = "" if index is None else "WHERE ledger_index = :i"
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ledger_index, position, path, message FROM lineage_warnings "
                f"{where} ORDER BY ledger_index DESC, position"
            ),
            {"i": index},
        )
        return [(int(i), int(p), path, m) for i, p, path, m in rows]


def listed(client: TestClient, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(client, key, WARNINGS, **params)["warnings"]
    return items


def as_rows(items: list[dict[str, Any]]) -> list[tuple[int, int, str, str]]:
    return [(i["ledger_index"], i["position"], i["path"], i["message"]) for i in items]


# ------------------------------------------------------------------------------ one event


@pytest.mark.parametrize("role", READER_ROLES)
def test_an_event_with_its_warnings(
    client: TestClient, keys: dict[str, str], runtime: Runtime, events: dict[str, int], role: str
) -> None:
    index = events["run"]
    body = get_json(client, keys[role], f"{EVENTS}/{index}")

    assert body["ledger_index"] == index
    assert body["kind"] == "openlineage"
    assert (body["event_kind"], body["event_type"], body["event_time"]) == (
        "run",
        "COMPLETE",
        RECORDED_TIME,
    )
    assert body["job"] == {"namespace": NS, "name": "load"}
    assert body["run_id"]
    assert body["dataset"] is None
    assert body["erased"] is False
    assert body["received_at"]
    warnings = body["warnings"]
    assert [(index, w["position"], w["path"], w["message"]) for w in warnings] == recorded(
        runtime, index
    )
    assert [w["position"] for w in warnings] == list(range(len(warnings)))
    assert {
        "$.outputs[0].facets.governance.personalData",
        "$.outputs[0].facets.governance.favouriteColour",
    } <= {w["path"] for w in warnings}


def test_an_event_without_warnings(
    client: TestClient, keys: dict[str, str], events: dict[str, int]
) -> None:
    body = get_json(client, keys["auditor"], f"{EVENTS}/{events['clean']}")
    assert body["warnings"] == []
    assert body["job"] == {"namespace": NS, "name": "load"}


def test_dataset_and_job_events(
    client: TestClient, keys: dict[str, str], events: dict[str, int]
) -> None:
    of_dataset = get_json(client, keys["gate"], f"{EVENTS}/{events['dataset']}")
    assert of_dataset["event_kind"] == "dataset"
    assert of_dataset["dataset"] == {"namespace": WAREHOUSE, "name": "t"}
    assert (of_dataset["job"], of_dataset["run_id"], of_dataset["event_type"]) == (None, None, None)
    assert of_dataset["warnings"]

    of_job = get_json(client, keys["gate"], f"{EVENTS}/{events['job']}")
    assert of_job["event_kind"] == "job"
    assert of_job["job"] == {"namespace": NS, "name": "define"}
    assert (of_job["run_id"], of_job["dataset"]) == (None, None)
    assert of_job["warnings"]


def test_an_index_that_is_not_an_openlineage_event_is_404(
    client: TestClient, keys: dict[str, str], runtime: Runtime, events: dict[str, int]
) -> None:
    evidence = client.post(
        "/api/v1/evidence",
        content=b"%PDF-1.4 not really",
        headers={**bearer(keys["ingest"]), "Content-Type": "application/pdf"},
    )
    assert evidence.status_code == 201, evidence.text
    not_lineage = evidence.json()["index"]
    size = runtime.ledger.head()[0]
    for index in (not_lineage, size, MAX_INDEX):
        problem = assert_problem(
            client.get(f"{EVENTS}/{index}", headers=bearer(keys["auditor"])), 404
        )
        assert str(index) in problem["detail"]
    assert (
        "not an OpenLineage event"
        in client.get(f"{EVENTS}/{not_lineage}", headers=bearer(keys["auditor"])).json()["detail"]
    )
    for bad in (-1, MAX_INDEX + 1, "x"):
        response = client.get(f"{EVENTS}/{bad}", headers=bearer(keys["auditor"]))
        assert assert_problem(response, 400)["errors"][0]["path"] == "path.index"


@pytest.mark.parametrize("role", ["ingest", "steward", "approver"])
def test_only_readers_see_warnings(
    client: TestClient, keys: dict[str, str], events: dict[str, int], role: str
) -> None:
    for path in (f"{EVENTS}/{events['run']}", WARNINGS):
        assert_problem(client.get(path, headers=bearer(keys[role])), 403)
        assert_problem(client.get(path), 401)


# ------------------------------------------------------------------------------- listings


def test_warnings_newest_event_first(
    client: TestClient, keys: dict[str, str], runtime: Runtime, events: dict[str, int]
) -> None:
    items = listed(client, keys["auditor"], limit=1000)

    assert as_rows(items) == recorded(runtime)
    assert items[0]["ledger_index"] == events["job"]
    assert events["clean"] not in {i["ledger_index"] for i in items}
    by_index = {i["ledger_index"]: i for i in items}
    assert by_index[events["run"]]["job"] == {"namespace": NS, "name": "load"}
    assert by_index[events["prefix"]]["job"] == {"namespace": PREFIX_NS, "name": "x"}
    assert by_index[events["dataset"]]["job"] is None
    assert by_index[events["dataset"]]["dataset"] == {"namespace": WAREHOUSE, "name": "t"}
    assert by_index[events["job"]]["event_kind"] == "job"
    assert by_index[events["run"]]["event_time"] == RECORDED_TIME


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [(NS, ["job", "run"]), (PREFIX_NS, ["prefix"]), (WAREHOUSE, ["dataset"]), ("none", [])],
)
def test_warnings_of_a_namespace(
    client: TestClient,
    keys: dict[str, str],
    runtime: Runtime,
    events: dict[str, int],
    namespace: str,
    expected: list[str],
) -> None:
    items = listed(client, keys["admin"], namespace=namespace)
    wanted = {events[name] for name in expected}
    assert as_rows(items) == [row for row in recorded(runtime) if row[0] in wanted]


@pytest.mark.parametrize("namespace", [None, NS])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_make_up_the_whole_listing(
    client: TestClient,
    keys: dict[str, str],
    events: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    namespace: str | None,
    limit: int,
) -> None:
    # Scan one event per statement, so that pages cross the filter's chunks.
    monkeypatch.setattr(lineage_warnings, "_SCAN_CHUNK", 1)
    filters = {} if namespace is None else {"namespace": namespace}
    whole = listed(client, keys["auditor"], limit=1000, **filters)
    pages: list[dict[str, Any]] = []
    for offset in range(0, len(whole) + limit, limit):
        page = listed(client, keys["auditor"], limit=limit, offset=offset, **filters)
        assert len(page) <= limit
        pages.extend(page)
    assert pages == whole
    assert listed(client, keys["auditor"], offset=MAX_INDEX, **filters) == []
    assert listed(client, keys["auditor"], limit=MAX_INDEX, **filters) == whole


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": MAX_INDEX + 1}, {"offset": -1}, {"offset": MAX_INDEX + 1}],
)
def test_listing_bounds(client: TestClient, keys: dict[str, str], params: dict[str, int]) -> None:
    response = client.get(WARNINGS, params=params, headers=bearer(keys["auditor"]))
    problem = assert_problem(response, 400)
    assert problem["errors"][0]["path"] == f"query.{next(iter(params))}"


def test_an_erased_event_loses_its_warnings(
    client: TestClient, keys: dict[str, str], runtime: Runtime, events: dict[str, int]
) -> None:
    erasure = runtime.erasure.erase(events["run"], "GDPR Art. 17 request")
    runtime.erasure.finish(erasure)

    body = get_json(client, keys["auditor"], f"{EVENTS}/{events['run']}")
    assert body["erased"] is True
    assert body["warnings"] == []
    assert body["event_kind"] == "run"  # the envelope is kept
    assert events["run"] not in {i["ledger_index"] for i in listed(client, keys["auditor"])}


# ------------------------------------------------------------------------------------ CLI


@pytest.mark.usefixtures("cli_env")
def test_cli_warnings_answer_as_the_api(
    client: TestClient,
    keys: dict[str, str],
    events: dict[str, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = keys["auditor"]
    assert json.loads(run_cli(capsys, "lineage", "warnings", "--json")) == listed(client, key)
    assert json.loads(
        run_cli(capsys, "lineage", "warnings", "--namespace", NS, "--limit", "2", "--json")
    ) == listed(client, key, namespace=NS, limit=2)
    assert json.loads(
        run_cli(capsys, "lineage", "warnings", "--offset", "1", "--limit", "3", "--json")
    ) == listed(client, key, offset=1, limit=3)
    index = events["job"]
    assert json.loads(
        run_cli(capsys, "lineage", "warnings", "--index", str(index), "--json")
    ) == get_json(client, key, f"{EVENTS}/{index}")


@pytest.mark.usefixtures("cli_env")
def test_cli_warnings_table(
    runtime: Runtime, events: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    # Captured output is not a terminal: tab-separated, a header line, every value in full.
    lines = run_cli(capsys, "lineage", "warnings", "--namespace", NS).splitlines()
    assert lines[0].split("\t") == ["ledger_index", "event", "namespace", "name", "path", "message"]
    rows = [line.split("\t") for line in lines[1:]]
    expected = [r for r in recorded(runtime) if r[0] in (events["job"], events["run"])]
    assert [(int(r[0]), r[4], r[5]) for r in rows] == [(i, path, m) for i, _p, path, m in expected]
    assert {(r[1], r[2], r[3]) for r in rows} == {("job", NS, "define"), ("run", NS, "load")}

    one = run_cli(capsys, "lineage", "warnings", "--index", str(events["dataset"])).splitlines()
    assert len(one) == 1 + len(recorded(runtime, events["dataset"]))
    assert one[1].split("\t")[:4] == [str(events["dataset"]), "dataset", WAREHOUSE, "t"]


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "{evidence}"], "not an OpenLineage event"),
        (["--index", "{size}"], "no entry"),
        (["--index", "1", "--namespace", NS], "not both"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_cli_warnings_errors(
    client: TestClient,
    keys: dict[str, str],
    runtime: Runtime,
    events: dict[str, int],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    evidence = client.post(
        "/api/v1/evidence",
        content=b"a document",
        headers={**bearer(keys["ingest"]), "Content-Type": "text/plain"},
    ).json()["index"]
    size = runtime.ledger.head()[0]
    argv = [a.format(evidence=evidence, size=size) for a in args]
    capsys.readouterr()
    code = main(["lineage", "warnings", *argv])
    _out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_piped_tables_are_not_cut(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    """`governance lineage datasets | cat` prints every name in full, tab-separated."""
    long_name = "warehouse.schema." + "very_long_table_name_" * 6
    long_namespace = "postgres://database-host.internal.example.com:5432"
    event = run_event(
        new_run_id(),
        long_namespace,
        "load",
        time=TIME,
        outputs=(dataset(long_namespace, long_name, governance=broken_facet()),),
    )
    post_event(client, keys["ingest"], event)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update(
        GOVERNANCE_DATABASE_URL=settings.database_url,
        GOVERNANCE_SIGNING_KEY_FILE=str(settings.signing_key_file),
        PYTHONPATH=str(ROOT),
        COLUMNS="80",
    )
    # Datasets list the dataset; warnings, the job of the event that named it.
    for command, expected in (("datasets", long_name), ("warnings", "load")):
        result = subprocess.run(
            [sys.executable, "-m", "governance.cli.main", "lineage", command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result
        lines = result.stdout.splitlines()
        assert "\t" in lines[0]
        assert any(f"{long_namespace}\t{expected}\t" in line for line in lines[1:]), lines
        assert "…" not in result.stdout
