"""Hostile input: every fault a hostile-input pass found answers 4xx, changes nothing, and never
costs another request its append. Both backends (PostgreSQL cannot store U+0000 at all).

Sections follow the faults: NUL and control characters, integer and date overflow, work before
authentication, body limits, gzip, duplicate JSON keys, stored documents served back, logs, and
valid appends interleaved with bad ones.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from governance.api.app import create_app
from governance.config import Settings
from governance.ledger import kinds
from governance.ledger.entries import AppendRequest
from governance.ledger.store import Ledger
from governance.runtime import Runtime
from tests.integration.test_api import assert_problem, bearer

if TYPE_CHECKING:
    from governance.ledger.writer import BatchWriter

LINEAGE = "/api/v1/lineage"
ATTESTATIONS = "/api/v1/attestations"
EVIDENCE = "/api/v1/evidence"
MAX = 2**63 - 1


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings, attestations=True)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    return {
        role: runtime.keys.create(role, f"test-{role}")[1]
        for role in ("ingest", "gate", "auditor", "steward", "admin")
    }


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime), raise_server_exceptions=False) as c:
        yield c


def size(runtime: Runtime) -> int:
    return runtime.ledger.head()[0]


def event(job: str = "job", dataset: str = "in", run_id: str | None = None) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "hostile", "name": job},
        "inputs": [{"namespace": "hostile", "name": dataset}],
        "producer": "https://example.com/hostile",
    }


def classification_url(namespace: str, name: str) -> str:
    return f"/api/v1/datasets/{quote(namespace, safe='')}/{quote(name, safe='')}/classification"


# --- NUL and control characters ----------------------------------------------------------------


def test_nul_in_an_attestation_purpose_is_refused_before_anything_is_appended(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    before = size(runtime)
    body = {"bundle": {"mediaType": "x"}, "purpose": "release\u0000"}
    response = client.post(ATTESTATIONS, json=body, headers=bearer(keys["ingest"]))
    assert_problem(response, 400)
    body["purpose"] = "release\u001b[31m"
    assert_problem(client.post(ATTESTATIONS, json=body, headers=bearer(keys["ingest"])), 400)
    assert size(runtime) == before


@pytest.mark.parametrize(
    ("where", "document"),
    [
        ("job name", event(job="j\u0000ob")),
        ("dataset name", event(dataset="in\u0000put")),
        ("run id", event(run_id="run\u0000")),
        ("job name, other control", event(job="job\nname")),
        (
            "a facet value",
            {
                **event(),
                "job": {"namespace": "hostile", "name": "job", "facets": {"x": {"v": "a\u0000b"}}},
            },
        ),
        ("a key", {**event(), "run": {"runId": str(uuid.uuid4()), "facets": {"\u0000": {}}}}),
    ],
)
def test_nul_and_control_characters_in_an_event_are_refused(
    client: TestClient, runtime: Runtime, keys: dict[str, str], where: str, document: Any
) -> None:
    before = size(runtime)
    response = client.post(LINEAGE, json=document, headers=bearer(keys["ingest"]))
    body = assert_problem(response, 400)
    assert body["errors"], where
    assert size(runtime) == before


def test_a_parent_run_id_with_a_control_character_is_refused(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    document = event()
    document["run"]["facets"] = {
        "parent": {
            "_producer": "https://example.com/hostile",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json",
            "job": {"namespace": "hostile", "name": "parent"},
            "run": {"runId": "abc\u0007"},
        }
    }
    body = assert_problem(client.post(LINEAGE, json=document, headers=bearer(keys["ingest"])), 400)
    assert body["errors"][0]["path"] == "$.run.facets.parent"
    assert size(runtime) == 1  # the trust configuration only


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/datasets?namespace=a%00b",
        "/api/v1/datasets?namespace=a%1bb",
        "/api/v1/jobs?namespace=%00",
        "/api/v1/runs?state=%00",
        "/api/v1/lineage/graph?type=dataset&namespace=a&name=b%00",
        f"{ATTESTATIONS}?subject=sha256%00",
        "/api/v1/lineage?nodeId=dataset:a:b%00",
    ],
)
def test_control_characters_in_a_query_are_refused(
    client: TestClient, keys: dict[str, str], url: str
) -> None:
    body = assert_problem(client.get(url, headers=bearer(keys["auditor"])), 400)
    assert "control character" in body["detail"]


def test_a_classification_for_a_name_with_nul_is_refused(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    before = size(runtime)
    url = classification_url("hostile", "ds\u0000")
    response = client.put(url, json={"personalData": True}, headers=bearer(keys["steward"]))
    assert_problem(response, 400)
    assert size(runtime) == before


def test_the_ledger_refuses_unstorable_text_before_queueing(runtime: Runtime) -> None:
    with pytest.raises(Exception, match="U\\+0000"):
        runtime.ledger.submit(
            AppendRequest(kinds.EVIDENCE.name, b"x", "text/plain", fields={"by": "a\u0000"})
        )
    with pytest.raises(Exception, match="control character"):
        runtime.ledger.submit(
            AppendRequest(kinds.EVIDENCE.name, b"x", "text/plain", subjects=[{"name": "a\u0000"}])
        )


def test_an_entry_the_database_refuses_fails_alone(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch the database refuses is committed entry by entry: only the bad entry fails."""
    writer: BatchWriter = runtime.ledger._writer
    original = writer._integrate

    def refusing(batch: list[Any]) -> Any:
        if any(p.entry.payload == b"poison" for p in batch):
            raise RuntimeError("the database refused a row")
        return original(batch)

    monkeypatch.setattr(writer, "_integrate", refusing)
    release = threading.Event()

    def hold(*_: object) -> None:
        release.wait(5)  # hold the writer so that a batch builds up behind it

    runtime.ledger.add_hook(hold)
    first = runtime.ledger.submit(AppendRequest(kinds.EVIDENCE.name, b"held", "text/plain"))
    futures = [
        runtime.ledger.submit(AppendRequest(kinds.EVIDENCE.name, f"ok {n}".encode(), "text/plain"))
        for n in range(10)
    ]
    poison = runtime.ledger.submit(AppendRequest(kinds.EVIDENCE.name, b"poison", "text/plain"))
    futures += [
        runtime.ledger.submit(AppendRequest(kinds.EVIDENCE.name, f"ok {n}".encode(), "text/plain"))
        for n in range(10, 20)
    ]
    release.set()
    first.result(timeout=30)
    indexes = [f.result(timeout=30).index for f in futures]
    assert len(set(indexes)) == 20
    with pytest.raises(Exception, match="retry"):
        poison.result(timeout=30)


def test_reindex_reports_entries_it_cannot_project_in_one_line_each(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry no projection can apply (appended around the edge's checks) is recorded; the
    rebuild says so, one line per entry and no traceback, and exits 1."""
    from governance.cli.main import main

    bad = json.dumps({"eventType": "START", "run": {"runId": "x"}}).encode()  # no job, no time
    with Ledger(runtime.engine, runtime.signer) as hookless:
        hookless.append(AppendRequest(kinds.OPENLINEAGE.name, bad, "application/json"))
    settings = runtime.settings
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(settings.signing_key_file))
    monkeypatch.setenv("GOVERNANCE_LEDGER_ORIGIN", settings.ledger_origin)
    capsys.readouterr()
    assert main(["ledger", "reindex", "--projection", kinds.LINEAGE_PROJECTION]) == 1
    out, err = capsys.readouterr()
    assert "not projected into lineage: InputError" in out
    assert "Traceback" not in out + err


# --- integer and date overflow ------------------------------------------------------------------


@pytest.mark.parametrize("listing", ["namespaces", "datasets", "jobs", "runs"])
def test_an_offset_past_64_bits_is_a_400(
    client: TestClient, keys: dict[str, str], listing: str
) -> None:
    url = f"/api/v1/{listing}?offset=9223372036854775808"
    assert_problem(client.get(url, headers=bearer(keys["auditor"])), 400)
    url = f"/api/v1/{listing}?offset={MAX}"
    assert client.get(url, headers=bearer(keys["auditor"])).status_code == 200


def test_indexes_past_the_ledger_are_404_or_400(client: TestClient, keys: dict[str, str]) -> None:
    headers = bearer(keys["admin"])
    assert_problem(client.get(f"/api/v1/ledger/entries/{MAX}", headers=headers), 404)
    assert_problem(client.get(f"/api/v1/ledger/entries/{MAX + 1}", headers=headers), 400)
    assert_problem(client.get(f"{ATTESTATIONS}/{MAX}", headers=headers), 404)
    assert_problem(client.get(f"{ATTESTATIONS}/{MAX + 1}", headers=headers), 400)
    assert_problem(client.get(f"{ATTESTATIONS}/-1", headers=headers), 400)


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00"]
)
def test_times_that_leave_years_1_to_9999_are_a_400(
    client: TestClient, keys: dict[str, str], moment: str
) -> None:
    headers = bearer(keys["auditor"])
    graph = "/api/v1/lineage/graph?type=dataset&namespace=a&name=b&as_of=" + quote(moment)
    body = assert_problem(client.get(graph, headers=headers), 400)
    assert "as_of" in body["detail"]
    since = "/api/v1/lineage/compliance/consent-withdrawal?namespace=a&name=b&since=" + quote(
        moment
    )
    assert_problem(client.get(since, headers=headers), 400)


def test_a_year_below_1000_is_not_later_than_every_stored_time(
    client: TestClient, keys: dict[str, str]
) -> None:
    document = event(dataset="old")
    document["eventTime"] = "1000-01-01T00:00:00Z"
    assert client.post(LINEAGE, json=document, headers=bearer(keys["ingest"])).status_code == 201
    url = "/api/v1/lineage/graph?type=dataset&namespace=hostile&name=old&as_of="

    def edges(as_of: str) -> list[Any]:
        response = client.get(url + as_of, headers=bearer(keys["auditor"]))
        assert response.status_code == 200, response.text
        return [e for node in response.json()["graph"] for e in node["outEdges"]]

    assert edges("0999-12-31T00:00:00Z") == []
    assert edges("1000-01-02T00:00:00Z")


# --- no work before authentication --------------------------------------------------------------


async def call_without_reading(app: Any, method: str, path: str, headers: list[Any]) -> int:
    """Run one request against the ASGI app; fail if the app reads its body."""
    sent: list[Message] = []
    read = False

    async def receive() -> Message:
        nonlocal read
        read = True
        return {"type": "http.request", "body": b"{" * 1024, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"33554432"),
            *headers,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    await app(scope, receive, send)
    assert not read, "the body was read before the caller was authenticated"
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    return int(start["status"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ATTESTATIONS),
        ("PUT", "/api/v1/datasets/ns/name/classification"),
        ("POST", LINEAGE),
        ("POST", f"{LINEAGE}/batch"),
        ("POST", EVIDENCE),
        ("POST", "/api/v1/ledger/entries/0/erasure"),
    ],
)
def test_no_body_is_read_before_authentication(
    client: TestClient, keys: dict[str, str], method: str, path: str
) -> None:
    app = client.app
    assert asyncio.run(call_without_reading(app, method, path, [])) == 401
    wrong = [(b"authorization", b"Bearer gov_nope_nope")]
    assert asyncio.run(call_without_reading(app, method, path, wrong)) == 401
    # and a malformed body without a key is a 401, not a 400
    response = client.request(method, path, content=b"{not json", headers={})
    assert_problem(response, 401)


# --- one body limit for every route -------------------------------------------------------------


def chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 4096
        sent += 4096


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("POST", ATTESTATIONS, "ingest"),
        ("PUT", "/api/v1/datasets/ns/name/classification", "steward"),
        ("POST", LINEAGE, "ingest"),
        ("POST", EVIDENCE, "ingest"),
    ],
)
def test_a_streamed_body_over_the_limit_is_a_413(
    settings: Settings,
    runtime: Runtime,
    keys: dict[str, str],
    method: str,
    path: str,
    role: str,
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096})
    before = size(runtime)
    with TestClient(create_app(small, runtime), raise_server_exceptions=False) as c:
        headers = {**bearer(keys[role]), "Content-Type": "application/json"}
        response = c.request(method, path, content=chunks(64 * 1024), headers=headers)
        assert_problem(response, 413)
    assert size(runtime) == before


# --- gzip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("two members", gzip.compress(json.dumps(event()).encode()) * 2),
        ("trailing garbage", gzip.compress(json.dumps(event()).encode()) + b"garbage"),
    ],
)
def test_gzip_must_be_one_member_and_nothing_after(
    client: TestClient, runtime: Runtime, keys: dict[str, str], name: str, body: bytes
) -> None:
    before = size(runtime)
    headers = {
        **bearer(keys["ingest"]),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    assert_problem(client.post(LINEAGE, content=body, headers=headers), 400)
    assert size(runtime) == before


# --- duplicate keys -----------------------------------------------------------------------------


def test_duplicate_keys_are_refused_on_every_json_endpoint(
    client: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    before = size(runtime)
    one = json.dumps(event())
    twice = one[:-1] + ', "job": {"namespace": "other", "name": "other"}}'
    headers = {"Content-Type": "application/json"}
    response = client.post(LINEAGE, content=twice, headers={**headers, **bearer(keys["ingest"])})
    assert "appears twice" in assert_problem(response, 400)["detail"]
    response = client.post(
        f"{LINEAGE}/batch", content=f"[{twice}]", headers={**headers, **bearer(keys["ingest"])}
    )
    assert_problem(response, 400)
    response = client.put(
        classification_url("ns", "name"),
        content='{"personalData": true, "personalData": false}',
        headers={**headers, **bearer(keys["steward"])},
    )
    assert "appears twice" in assert_problem(response, 400)["detail"]
    response = client.post(
        ATTESTATIONS,
        content='{"bundle": {}, "purpose": "a", "purpose": "b"}',
        headers={**headers, **bearer(keys["ingest"])},
    )
    assert "appears twice" in assert_problem(response, 400)["detail"]
    assert size(runtime) == before


# --- stored documents and security headers ------------------------------------------------------


def test_a_stored_html_document_is_served_as_an_inert_attachment(
    client: TestClient, keys: dict[str, str]
) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    stored = client.post(
        EVIDENCE, content=page, headers={**bearer(keys["ingest"]), "Content-Type": "text/html"}
    )
    assert stored.status_code == 201, stored.text
    url = stored.headers["location"]
    response = client.get(url, headers=bearer(keys["auditor"]))
    assert response.status_code == 200
    assert response.content == page
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/namespaces", "/api/v1/nothing"])
def test_every_response_carries_the_security_headers(
    client: TestClient, keys: dict[str, str], path: str
) -> None:
    for headers in ({}, bearer(keys["auditor"])):
        response = client.get(path, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# --- logs ---------------------------------------------------------------------------------------


def test_a_client_gone_mid_body_is_one_info_line(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app = client.app
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"eventType": ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError(f"nothing should be sent to a client that left: {message}")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": LINEAGE,
        "raw_path": LINEAGE.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {keys['ingest']}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }

    async def call() -> None:
        await app(scope, receive, send)

    with caplog.at_level(logging.INFO):
        asyncio.run(call())
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    (line,) = [r for r in caplog.records if r.getMessage() == "request"]
    assert line.__dict__["outcome"] == "disconnected"
    assert line.exc_info is None


def test_a_server_error_is_logged_once_and_answered_without_a_trace(
    client: TestClient,
    runtime: Runtime,
    keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.queries, "namespaces", broken)
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/namespaces", headers=bearer(keys["auditor"]))
    body = assert_problem(response, 500)
    assert "secret" not in json.dumps(body)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None


# --- good appends interleaved with bad ones -----------------------------------------------------


def test_thirty_valid_appends_interleaved_with_bad_ones_all_succeed(
    settings: Settings, runtime: Runtime, keys: dict[str, str]
) -> None:
    app = create_app(settings, runtime)
    ingest, steward = bearer(keys["ingest"]), bearer(keys["steward"])
    json_type = {"Content-Type": "application/json"}

    async def run() -> tuple[list[int], list[int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            good: list[Any] = []
            bad: list[Any] = []
            for n in range(10):
                good.append(http.post(LINEAGE, json=event(job=f"good{n}"), headers=ingest))
                good.append(
                    http.put(
                        classification_url("hostile", f"ds{n}"),
                        json={"personalData": n % 2 == 0},
                        headers=steward,
                    )
                )
                good.append(
                    http.post(
                        EVIDENCE,
                        content=f"report {n}".encode(),
                        headers={**ingest, "Content-Type": "text/plain"},
                    )
                )
                bad.append(http.post(LINEAGE, json=event(job=f"bad\u0000{n}"), headers=ingest))
                bad.append(
                    http.put(
                        classification_url("hostile", f"ds\u0000{n}"),
                        json={"personalData": True},
                        headers=steward,
                    )
                )
                bad.append(
                    http.post(
                        ATTESTATIONS,
                        json={"bundle": {}, "purpose": f"p\u0000{n}"},
                        headers=ingest,
                    )
                )
                bad.append(
                    http.post(
                        LINEAGE,
                        content=json.dumps(event())[:-1] + ', "run": {}}',
                        headers={**ingest, **json_type},
                    )
                )
            interleaved = [x for pair in zip(good, bad[: len(good)], strict=True) for x in pair]
            answers = await asyncio.gather(*interleaved, *bad[len(good) :])
            statuses = [a.status_code for a in answers]
            return statuses[0 : 2 * len(good) : 2], [
                *statuses[1 : 2 * len(good) : 2],
                *statuses[2 * len(good) :],
            ]

    before = size(runtime)
    good_statuses, bad_statuses = asyncio.run(run())
    assert all(status in (200, 201) for status in good_statuses), good_statuses
    assert len(good_statuses) == 30
    assert bad_statuses == [400] * 40
    assert size(runtime) == before + 30
