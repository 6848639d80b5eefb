"""Schemathesis against the live service: every operation does what the OpenAPI document says.

The service runs under uvicorn in a thread, on SQLite and on PostgreSQL (the ``database``
fixture), with a little of everything recorded first (evidence, lineage events, a
classification, a failed attestation) so that queries find something. For every operation of
``/openapi.json``, Schemathesis generates requests from the document: valid ones, valid ones
aimed at the recorded data, and invalid ones. Each answer must not be a 5xx, and its status,
content type, headers and body must be the documented ones. Every operation is also called with
a key of each role and with none (a documented 403 or 401, or an answer).

Bounded for CI: derandomized (the same requests on every run: a fixed seed per operation), a
fixed number of examples per operation and mode, no example database, no shrinking (a failure
is recorded, not minimised). Run it alone with
``python3 scripts/dev.py test tests/integration/test_openapi_conformance.py``.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode, Response
from schemathesis.core.result import Ok

from governance.api.app import create_app
from governance.api.middleware import needs_key
from governance.config import Settings
from governance.runtime import Runtime
from tests.integration._conformance import failures

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: Generated requests per operation: valid ones, invalid ones, and valid ones per pinned target.
EXAMPLES = {GenerationMode.POSITIVE: 100, GenerationMode.NEGATIVE: 30}
PINNED_EXAMPLES = 20
ROLES = ("ingest", "gate", "approver", "auditor", "steward", "admin")
SETTINGS = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
REQUEST_TIMEOUT = 60

NS = "conformance"
RUN_TRAIN = "01890000-0000-7000-8000-000000000001"
RUN_SCORE = "01890000-0000-7000-8000-000000000002"
SUBJECT = "sha256:" + "ab" * 32
EVIDENCE = b"conformance evidence\n"


def dataset(name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": NS, "name": name, "facets": facets}


def run_event(
    run_id: str, job: str, day: int, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2026-01-{day:02d}T00:00:00Z",
        "producer": "https://example.test/conformance",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": NS, "name": job},
        "inputs": inputs,
        "outputs": outputs,
    }


# customers (personal data) -> train -> model -> score -> scores
TRAIN = run_event(
    RUN_TRAIN,
    "train",
    1,
    [dataset("customers", governance={"personalData": True}, tags={"tags": [{"key": "pii"}]})],
    [dataset("model", datasetType={"datasetType": "MODEL"})],
)
SCORE = run_event(RUN_SCORE, "score", 2, [dataset("model")], [dataset("scores")])


GATE_REQUEST = {
    "model": {
        "name": "model",
        "version": "1",
        "digest": SUBJECT,
        "lineage": {"namespace": NS, "name": "model"},
    },
    "target": "production",
}

REPORT_REQUEST = {"framework": "all", "from": "2000-01-01", "to": "2100-01-01"}


@dataclass
class Live:
    """The running service, its keys, and what was recorded before the run."""

    url: str
    keys: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)
    evidence_index: int = -1
    verdict_index: int = -1
    event_index: int = -1
    decision_id: str = ""
    report_id: str = ""

    def send(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}", **kwargs.pop("headers", {})}
        return self.session.request(
            method, self.url + path, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs
        )


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    return server, thread, f"http://{host}:{port}"


def _seed(live: Live) -> None:
    """Record something of every kind the queries read, through the API."""
    stored = live.send(
        "POST", "/api/v1/evidence", data=EVIDENCE, headers={"Content-Type": "text/plain"}
    )
    assert stored.status_code == 201, stored.text
    live.evidence_index = stored.json()["index"]
    for event in (TRAIN, SCORE):
        sent = live.send("POST", "/api/v1/lineage", json=event)
        assert sent.status_code == 201, sent.text
        live.event_index = int(sent.headers["X-Ledger-Index"])
    classified = live.send(
        "PUT",
        f"/api/v1/datasets/{NS}/customers/classification",
        json={"personalData": True, "lawfulBasis": "consent"},
    )
    assert classified.status_code == 200, classified.text
    # No signer is allowed by the default trust configuration: a failure, recorded all the same.
    failed = live.send(
        "POST",
        "/api/v1/attestations",
        json={
            "bundle": {"mediaType": "unknown"},
            "purpose": "conformance",
            "expected_digest": SUBJECT,
        },
    )
    assert failed.status_code == 422, failed.text
    live.verdict_index = failed.json()["index"]
    decided = live.send("POST", "/api/v1/gate/decisions", role="gate", json=GATE_REQUEST)
    assert decided.status_code == 201, decided.text
    live.decision_id = decided.json()["decision_id"]
    asked = live.send("POST", "/api/v1/reports", role="auditor", json=REPORT_REQUEST)
    assert asked.status_code == 202, asked.text
    live.report_id = asked.json()["id"]
    deadline = time.monotonic() + 120
    while (report := live.send("GET", asked.json()["status_url"]).json())["status"] != "done":
        assert report["status"] != "failed", report
        assert time.monotonic() < deadline, report
        time.sleep(0.1)


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    runtime = Runtime.open(settings, attestations=True)
    server, thread, url = _serve(create_app(settings, runtime))
    try:
        keys = {role: runtime.keys.create(role, f"conformance-{role}")[1] for role in ROLES}
        service = Live(url, keys)
        _seed(service)
        yield service
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        runtime.close()


def pinned(live: Live) -> dict[str, list[dict[str, Any]]]:
    """Per operation, requests aimed at the recorded data; what is not pinned is generated."""
    event = {"body": TRAIN, "media_type": "application/json"}
    reader = {"query": {"namespace": NS}}
    return {
        "POST /api/v1/lineage": [event],
        "POST /api/v1/lineage/batch": [
            {"body": [TRAIN, SCORE, {"eventType": "COMPLETE"}], "media_type": "application/json"}
        ],
        "GET /api/v1/evidence/{sha256}": [
            {"path_parameters": {"sha256": hashlib.sha256(EVIDENCE).hexdigest()}}
        ],
        "GET /api/v1/ledger/entries/{index}": [{"path_parameters": {"index": 1}}],
        "GET /api/v1/ledger/proofs/inclusion": [{"query": {"index": 1}}],
        "GET /api/v1/ledger/proofs/consistency": [{"query": {"from": 1, "to": 3}}],
        "GET /api/v1/ledger/checkpoint": [{"query": {"size": 2}}],
        "POST /api/v1/ledger/entries/{index}/erasure": [
            {"path_parameters": {"index": live.evidence_index}}
        ],
        "GET /api/v1/lineage": [
            {"query": {"nodeId": f"dataset:{NS}:customers"}},
            {"query": {"nodeId": f"job:{NS}:score"}},
        ],
        "GET /api/v1/lineage/graph": [
            {"query": {"type": "dataset", "namespace": NS, "name": "model"}},
            {"query": {"type": "job", "namespace": NS, "name": "train"}},
            {"query": {"type": "run", "name": RUN_SCORE}},
        ],
        "GET /api/v1/namespaces": [{"query": {"offset": 0}}],
        "GET /api/v1/datasets": [reader],
        "GET /api/v1/jobs": [reader],
        "GET /api/v1/runs": [reader],
        "PUT /api/v1/datasets/{path}/classification": [
            {"path_parameters": {"path": f"{NS}/scores"}},
            {
                "path_parameters": {"path": f"{NS}/scores"},
                "body": {"personalData": False, "jurisdictions": ["EU"]},
                "media_type": "application/json",
            },
        ],
        "GET /api/v1/lineage/events/{index}": [{"path_parameters": {"index": live.event_index}}],
        "GET /api/v1/lineage/warnings": [{"query": {"namespace": NS}}],
        "GET /api/v1/lineage/compliance/downstream": [
            {"query": {"namespace": NS, "name": "customers"}}
        ],
        "GET /api/v1/lineage/compliance/personal-data": [
            {"query": {"namespace": NS, "name": "scores"}},
            {"query": {"namespace": NS, "name": "score", "type": "job"}},
        ],
        "GET /api/v1/lineage/compliance/consent-withdrawal": [
            {"query": {"namespace": NS, "name": "customers"}}
        ],
        "POST /api/v1/attestations": [
            {
                "body": {"bundle_base64": "e30=", "purpose": "conformance"},
                "media_type": "application/json",
            }
        ],
        "GET /api/v1/attestations": [{"query": {"subject": SUBJECT}}],
        "GET /api/v1/attestations/{index}": [{"path_parameters": {"index": live.verdict_index}}],
        "GET /api/v1/gate/decisions/{decision_id}": [
            {"path_parameters": {"decision_id": live.decision_id}}
        ],
        "POST /api/v1/gate/decisions/{decision_id}/replay": [
            {"path_parameters": {"decision_id": live.decision_id}}
        ],
        "POST /api/v1/reports": [{"body": REPORT_REQUEST, "media_type": "application/json"}],
        "GET /api/v1/reports/{report_id}": [{"path_parameters": {"report_id": live.report_id}}],
        "GET /api/v1/reports/{report_id}/bundle": [
            {"path_parameters": {"report_id": live.report_id}}
        ],
        "POST /api/v1/waivers": [
            {
                "body": {
                    "control": "iso-a8.32",
                    # A digest no decision names: no one is conflicted from waiving it.
                    "digest": "sha256:" + "cd" * 32,
                    "target": "production",
                    "reason": "conformance",
                    "expires_at": "9000-01-01T00:00:00Z",
                },
                "media_type": "application/json",
            }
        ],
    }


@dataclass
class Findings:
    """What the run found, one line per distinct failure."""

    seen: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def check(self, case: Case[Any], response: Response) -> None:
        self.sent += 1
        self.statuses[case.operation.label][response.status_code] += 1
        for title, report in failures(case, response):
            self.seen.setdefault(f"{case.operation.label}: {title}", report)


def explore(
    strategy: SearchStrategy[Case[Any]], examples: int, send: Callable[[Case[Any]], None]
) -> None:
    """Send ``examples`` cases drawn from ``strategy`` (deterministically)."""

    @hypothesis.settings(SETTINGS, max_examples=examples)
    @hypothesis.given(case=strategy)
    def run(case: Case[Any]) -> None:
        send(case)

    run()


def test_every_operation_conforms_to_the_document(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    targets = pinned(live)
    findings = Findings()
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 26, [r for r in results if not isinstance(r, Ok)]

    for operation in operations:
        protected = needs_key(operation.path)
        sweep: list[str | None] = [*ROLES, None] if protected else []

        def send(
            case: Case[Any], protected: bool = protected, sweep: list[str | None] = sweep
        ) -> None:
            # Every case with the admin key (it may do everything); the first few also with
            # each role's key and with none, so the 401 and 403 answers are checked too.
            callers: list[str | None] = ["admin" if protected else None]
            if sweep:
                callers.append(sweep.pop(0))
            for role in callers:
                headers = {"Authorization": f"Bearer {live.keys[role]}"} if role else {}
                response = case.call(
                    base_url=live.url,
                    session=live.session,
                    headers=headers,
                    timeout=REQUEST_TIMEOUT,
                )
                findings.check(case, response)

        for mode, examples in EXAMPLES.items():
            try:
                explore(operation.as_strategy(mode), examples, send)
            except hypothesis.errors.Unsatisfiable:
                # Nothing to get wrong: an operation without parameters or body has no
                # invalid requests to generate.
                assert mode == GenerationMode.NEGATIVE, operation.label
        for overrides in targets.pop(operation.label, []):
            explore(operation.as_strategy(**overrides), PINNED_EXAMPLES, send)

    assert not targets, f"pinned targets for operations the document lacks: {sorted(targets)}"
    assert not findings.seen, (
        f"{len(findings.seen)} failures in {findings.sent} requests:\n"
        + "\n".join(findings.seen)
        + "\n\n"
        + "\n\n".join(findings.seen.values())
    )
    # The run reached every route's own work, not only the refusals in front of it (a failed
    # verification is the most an unsigned attestation gets).
    statuses = {label: dict(sorted(counts.items())) for label, counts in findings.statuses.items()}
    unreached = {
        label: counts
        for label, counts in statuses.items()
        if not any(status < 300 or status == 422 for status in counts)
    }
    assert not unreached, unreached
    assert set(statuses) == {op.label for op in operations}


def test_an_undocumented_method_is_405_naming_the_documented_ones(live: Live) -> None:
    document = live.send("GET", "/openapi.json").json()
    for template, item in document["paths"].items():
        path = re.sub(r"{[^}]+}", "1", template)
        response = live.send("OPTIONS", path)
        assert response.status_code == 405, (path, response.text)
        assert response.headers["allow"] == ", ".join(m.upper() for m in sorted(item)), path
