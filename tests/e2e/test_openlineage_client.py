"""The stock ``openlineage-python`` client against the real service over HTTP.

``governance serve`` runs in a subprocess on SQLite in a temporary directory; API keys are made
with the ``governance`` CLI in another process. Every event file of the shared OpenLineage fixtures
(``real``, ``clients``, ``edge-cases``, ``scenarios``) goes through the client's own
:class:`HttpTransport` (its serialisation, headers, gzip and retry adapter), and one event is built
with the client's event classes and sent with :meth:`OpenLineageClient.emit`. What the server kept
is checked through the ledger API and, once the server has stopped, in the database file itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import signal
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attr
import httpx
import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import DatasetFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from governance.lineage.validation import GOVERNANCE_FACET_SCHEMA_URL
from tests.conftest import openlineage_fixture
from tests.e2e._server import Server, requests_logged, running_server, wait_for_log

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SMALL_LIMIT = 4096
ACCEPTED_FOLDERS = ("real", "clients", "edge-cases", "scenarios")
NO_RUN_ID = "negative/fluentd_event_no_run_id.json"
# Where each broken facet of the other negative fixtures is (the warning's JSON path starts so).
NEGATIVE_WARNINGS = {
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
LINEAGE = "/api/v1/lineage"
PRODUCER = "https://github.com/governance-audit/tests/e2e/test_openlineage_client.py"


# ------------------------------------------------------------------------------- live server


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests that look only at what their own requests changed."""
    with running_server(tmp_path_factory.mktemp("openlineage-e2e")) as server:
        yield server


# ----------------------------------------------------------------------------------- helpers


def fixture_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in openlineage_fixture(folder).rglob("*.json"))


def name_of(path: Path) -> str:
    return str(path.relative_to(openlineage_fixture()))


def transport_for(
    server: Server,
    key: str,
    *,
    compression: HttpCompression | None = None,
    endpoint: str = "api/v1/lineage",
    headers: dict[str, str] | None = None,
) -> HttpTransport:
    return HttpTransport(
        HttpConfig(
            url=server.url,
            endpoint=endpoint,
            timeout=60,
            auth=ApiKeyTokenProvider({"apiKey": key}),
            compression=compression,
            custom_headers=headers or {},
        )
    )


def emit_raw(transport: HttpTransport, event: dict[str, Any]) -> requests.Response:
    """Send an event as parsed JSON, the way the fixtures are: the transport's serialiser takes
    dicts too, though ``emit`` is typed for the client's event classes."""
    return transport.emit(event)  # type: ignore[arg-type]


def sent_bytes(event: dict[str, Any]) -> bytes:
    """What the stock client puts on the wire for an event (before any gzip)."""
    return Serde.to_json(event).encode("utf-8")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ledger_entry(server: Server, index: int) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/api/v1/ledger/entries/{index}", headers=bearer(server.key("auditor"))
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["envelope_json"] = json.loads(base64.b64decode(body["envelope"]))
    return body


def subjects_of(entry: dict[str, Any]) -> set[str]:
    return {s["name"] for s in entry["envelope_json"]["subjects"] if "name" in s}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


def read_db(server: Server, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the server's SQLite file directly (read-only; fine while it runs: WAL)."""
    with closing(sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run event under a new run id (so it is new to a shared server)."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    copy["run"]["runId"] = str(uuid.uuid4())
    return copy


@attr.define
class GovernanceDatasetFacet(DatasetFacet):
    """The project's ``governance`` facet, as a producer would declare it with the client."""

    personalData: bool | None = attr.field(default=None)
    lawfulBasis: str | None = attr.field(default=None)
    purposes: list[str] | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return GOVERNANCE_FACET_SCHEMA_URL


# ------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("compression", [None, HttpCompression.GZIP], ids=["identity", "gzip"])
def test_stock_client_sends_every_fixture_event(
    tmp_path: Path, compression: HttpCompression | None
) -> None:
    files = fixture_files(*ACCEPTED_FOLDERS)
    assert len(files) >= 40, files
    events = {name_of(p): json.loads(p.read_bytes()) for p in files}
    with running_server(tmp_path) as server:
        transport = transport_for(server, server.key("ingest"), compression=compression)
        client = OpenLineageClient(transport=transport)
        indexes: dict[str, int] = {}
        for name, event in events.items():
            # The client's own transport: Serde serialisation, its headers, retries, gzip.
            response = client.transport.emit(event)
            assert response.status_code == 201, (name, response.status_code, response.text)
            assert response.content == b"", name
            if compression is HttpCompression.GZIP:
                assert response.request.headers["Content-Encoding"] == "gzip"
            indexes[name] = int(response.headers["X-Ledger-Index"])

        # One entry per distinct event: files whose JSON is equal are sent as the same bytes
        # by the client (it re-serialises with sorted keys), and those are one entry.
        distinct = {sent_bytes(e) for e in events.values()}
        assert len(set(indexes.values())) == len(distinct)
        # The server's own startup entries (its trust configuration) come first.
        first = min(indexes.values())
        assert sorted(set(indexes.values())) == list(range(first, first + len(distinct)))
        for name, index in indexes.items():
            entry = ledger_entry(server, index)
            assert entry["kind"] == "openlineage", name
            # The ledger keeps the event as the client serialised it (gunzipped).
            expected = hashlib.sha256(sent_bytes(events[name])).hexdigest()
            assert entry["payload_sha256"] == expected, name
            run_id = events[name].get("run", {}).get("runId")
            if run_id:
                assert f"run:{run_id}" in subjects_of(entry), name

        # An event built with the client's classes, through OpenLineageClient.emit.
        run_id = str(uuid.uuid4())
        governance = GovernanceDatasetFacet(
            personalData=True, lawfulBasis="consent", purposes=["churn"], producer=PRODUCER
        )
        for state in (RunState.START, RunState.COMPLETE):
            client.emit(
                RunEvent(
                    eventType=state,
                    eventTime=datetime.now(UTC).isoformat(),
                    run=Run(runId=run_id),
                    job=Job(
                        namespace="e2e-client",
                        name="train_churn",
                        facets={
                            "jobType": JobTypeJobFacet(
                                processingType="BATCH", integration="CUSTOM", jobType="TASK"
                            )
                        },
                    ),
                    inputs=[
                        InputDataset(
                            namespace="e2e-client",
                            name="customers",
                            facets={"governance": governance},
                        )
                    ],
                    outputs=[OutputDataset(namespace="e2e-client", name="churn_model")],
                    producer=PRODUCER,
                )
            )
        auditor = bearer(server.key("auditor"))
        runs = httpx.get(
            f"{server.url}/api/v1/runs", params={"namespace": "e2e-client"}, headers=auditor
        ).json()["runs"]
        assert [(r["runId"], r["state"]) for r in runs] == [(run_id, "COMPLETE")]
        assert runs[0]["startedAt"] is not None
        assert runs[0]["endedAt"] is not None
        personal = httpx.get(
            f"{server.url}/api/v1/datasets",
            params={"namespace": "e2e-client", "personal": "true"},
            headers=auditor,
        ).json()["datasets"]
        assert [d["name"] for d in personal] == ["customers"]
        assert personal[0]["classification"]["lawfulBasis"] == "consent"

        total = first + len(distinct) + 2
        assert server.tree_size() == total
        assert server.process.poll() is None, server.logs()
        assert server.stop() in (0, -signal.SIGTERM)

    # After the server stopped: the database file holds exactly those entries.
    counts = dict(read_db(server, "SELECT kind, COUNT(*) FROM ledger_entries GROUP BY kind"))
    # Before the events: the server's trust configuration, recorded at startup.
    assert counts == {"trust-config": first, "openlineage": total - first}
    indexes_in_db = [i for (i,) in read_db(server, "SELECT idx FROM ledger_entries ORDER BY idx")]
    assert indexes_in_db == list(range(total))
    # And every event was projected: each run is there, no entry was skipped.
    assert read_db(server, "SELECT ledger_index FROM lineage_warnings WHERE position < 0") == []
    projected = {r for (r,) in read_db(server, "SELECT run_id FROM lineage_runs")}
    sent_runs = {e["run"]["runId"] for e in events.values() if "run" in e}
    assert sent_runs | {run_id} <= projected
    audit = server.cli("ledger", "audit")
    assert f"audit: {total} entries" in audit
    assert "OK: no damage found" in audit


def test_event_without_run_id_is_refused_and_not_retried(shared_server: Server) -> None:
    server = shared_server
    raw = openlineage_fixture(NO_RUN_ID).read_bytes()
    before = server.tree_size()
    logged = requests_logged(server, LINEAGE, 400)
    response = httpx.post(
        f"{server.url}{LINEAGE}",
        content=raw,
        headers={**bearer(server.key("ingest")), "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 400)
    assert "$.run.runId" in [e["path"] for e in problem["errors"]]

    # The stock client raises on the 400 and does not retry it (it retries only 5xx).
    logged = wait_for_log(server, LINEAGE, 400, logged + 1)
    transport = transport_for(server, server.key("ingest"))
    with pytest.raises(requests.HTTPError) as raised:
        emit_raw(transport, json.loads(raw))
    assert raised.value.response is not None
    assert raised.value.response.status_code == 400
    assert wait_for_log(server, LINEAGE, 400, logged + 1) == logged + 1
    assert server.tree_size() == before


def test_broken_facets_are_kept_with_warnings(shared_server: Server) -> None:
    server = shared_server
    transport = transport_for(server, server.key("ingest"))
    for name, prefix in NEGATIVE_WARNINGS.items():
        event = fresh(json.loads(openlineage_fixture(name).read_bytes()))
        response = emit_raw(transport, event)
        assert response.status_code == 201, (name, response.text)
        index = int(response.headers["X-Ledger-Index"])
        assert ledger_entry(server, index)["kind"] == "openlineage"
        warnings = read_db(
            server,
            "SELECT position, path, message FROM lineage_warnings WHERE ledger_index = ? "
            "ORDER BY position",
            (index,),
        )
        assert warnings, name
        assert any(path.startswith(prefix) for _pos, path, _msg in warnings), (name, warnings)
        # The envelope counts them (and does not quote them: they may hold values).
        assert ledger_entry(server, index)["envelope_json"]["warnings"] == len(warnings)


def test_the_same_event_six_times_is_one_entry(shared_server: Server) -> None:
    server = shared_server
    event = fresh(
        json.loads(openlineage_fixture("scenarios/apples/1_pick_apples.json").read_bytes())
    )
    transport = transport_for(server, server.key("ingest"))
    before = server.tree_size()
    indexes = set()
    for _ in range(6):
        response = emit_raw(transport, event)
        assert response.status_code == 201, response.text
        indexes.add(int(response.headers["X-Ledger-Index"]))
    assert indexes == {before}
    assert server.tree_size() == before + 1
    # Gzipped, it is still the same event.
    gzipped = transport_for(server, server.key("ingest"), compression=HttpCompression.GZIP)
    assert emit_raw(gzipped, event).headers["X-Ledger-Index"] == str(before)
    assert server.tree_size() == before + 1
    # One entry names that run (in its envelope: the lineage tables, not the ledger's subject
    # index, index OpenLineage events), and its run row was projected once.
    run_id = event["run"]["runId"]
    ((envelope,),) = read_db(server, "SELECT envelope FROM ledger_entries WHERE idx = ?", (before,))
    assert {"name": f"run:{run_id}"} in json.loads(bytes(envelope))["subjects"]
    assert read_db(
        server, "SELECT COUNT(*) FROM ledger_subjects WHERE subject = ?", (f"name:run:{run_id}",)
    ) == [(0,)]
    assert read_db(
        server, "SELECT first_index, last_index FROM lineage_runs WHERE run_id = ?", (run_id,)
    ) == [(before, before)]


def test_charset_and_query_string(shared_server: Server) -> None:
    server = shared_server
    event = fresh(
        json.loads(openlineage_fixture("edge-cases/marquez_event_unicode.json").read_bytes())
    )
    transport = transport_for(
        server,
        server.key("ingest"),
        endpoint="api/v1/lineage?foo=bar",
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    response = emit_raw(transport, event)
    assert response.status_code == 201, response.text
    assert response.request.url is not None
    assert response.request.url.endswith("/api/v1/lineage?foo=bar")
    assert response.request.headers["Content-Type"] == "application/json; charset=UTF-8"
    # As Java clients send it: charset and gzip together.
    java_like = transport_for(
        server,
        server.key("ingest"),
        compression=HttpCompression.GZIP,
        endpoint="api/v1/lineage?source=java&x=1",
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    response = emit_raw(java_like, fresh(event))
    assert response.status_code == 201, response.text
    auditor = bearer(server.key("auditor"))
    job = event["job"]
    runs = httpx.get(
        f"{server.url}/api/v1/runs",
        params={"namespace": job["namespace"], "job": job["name"]},
        headers=auditor,
    ).json()["runs"]
    assert event["run"]["runId"] in {r["runId"] for r in runs}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"eventTime": "2024-01-01T00:00:00Z", "run": {', "not valid"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"eventTime": NaN}', "NaN"),
        (b"[1, 2, 3]", "object"),
    ],
    ids=["truncated", "not-utf8", "nan", "array"],
)
def test_invalid_json_is_a_400_problem(shared_server: Server, body: bytes, detail: str) -> None:
    server = shared_server
    before = server.tree_size()
    response = httpx.post(
        f"{server.url}{LINEAGE}",
        content=body,
        headers={**bearer(server.key("ingest")), "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 400)
    assert detail in problem["detail"], problem
    assert server.tree_size() == before


def test_bodies_over_the_limit_are_413(tmp_path: Path) -> None:
    large = json.loads(openlineage_fixture("edge-cases/marquez_event_large.json").read_bytes())
    assert len(sent_bytes(large)) > SMALL_LIMIT
    with running_server(tmp_path, max_body_bytes=SMALL_LIMIT) as server:
        key = server.key("ingest")
        before = server.tree_size()
        # A small event still goes through.
        small = json.loads(openlineage_fixture("edge-cases/marquez_event_simple.json").read_bytes())
        assert emit_raw(transport_for(server, key), small).status_code == 201

        for compression in (None, HttpCompression.GZIP):
            logged = requests_logged(server, LINEAGE, 413)
            with pytest.raises(requests.HTTPError) as raised:
                emit_raw(transport_for(server, key, compression=compression), large)
            assert raised.value.response is not None
            assert raised.value.response.status_code == 413
            assert raised.value.response.headers["content-type"] == "application/problem+json"
            # Not retried: 413 is final for the stock client.
            assert wait_for_log(server, LINEAGE, 413, logged + 1) == logged + 1

        # A small gzip body that inflates past the limit.
        bomb = fresh(small)
        bomb["run"]["facets"] = {"padding": {"_producer": PRODUCER, "text": "a" * 50_000}}
        compressed = gzip.compress(sent_bytes(bomb))
        assert len(compressed) < SMALL_LIMIT
        response = httpx.post(
            f"{server.url}{LINEAGE}",
            content=compressed,
            headers={
                **bearer(key),
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        assert_problem(response, 413)
        assert server.tree_size() == before + 1
