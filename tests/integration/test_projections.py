"""Every projection is rebuilt identically from the ledger, and a crash loses nothing.

A mixed workload (OpenLineage events, classifications, passing and failing attestations,
evidence, and erasures of each projected kind) is run through the services; `governance ledger
reindex` (all projections, and one at a time) then reproduces every projection table exactly.
A process that appends and projects is killed with SIGKILL at random moments; after the restart
every acknowledged entry is projected and the tables equal a rebuild.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from governance.cli.main import main
from governance.config import Settings
from governance.gate.request import GateRequest
from governance.ledger import kinds
from governance.ledger.checkpoint import load_or_create_signing_key
from governance.ledger.entries import Submitter
from governance.lineage.fold import LineageFold
from governance.lineage.validation import LineageEvent
from governance.policy.bundle import load_bundle
from governance.runtime import Runtime
from reports.data import ReportOptions
from reports.service import ReportService
from tests.conftest import OPENLINEAGE, Database, shared_path
from tests.integration import _workers as workers
from tests.integration.test_attestations import expected_case
from tests.integration.test_attestations_api import (
    bundle_bytes,
    expected_digest,
    purpose_of,
    trust_document,
)

#: Attestation cases that pass with the test trust configuration (and a tampered one that fails).
PASSING = ("sp-bundle-v03", "keyed-slsa-ed25519")
FAILING = "tamper-signature"

RUNNER = Submitter("runner", "k_runner")
STEWARD = Submitter("steward", "k_steward")
CI = Submitter("ci", "k_ci")
AUDITOR = Submitter("auditor", "k_auditor")
APPROVER = Submitter("approver", "k_approver")

MODEL_DIGEST = "sha256:" + "5e" * 32
GATE_REQUEST = GateRequest.model_validate(
    {
        "model": {"name": "churn", "version": "3.0.0", "digest": MODEL_DIGEST},
        "target": "production",
    }
)


@pytest.fixture
def trust_file(tmp_path: Path) -> Path:
    path = tmp_path / "trust.yaml"
    path.write_text(yaml.safe_dump(trust_document(), sort_keys=False))
    return path


def settings_for(database: Database, tmp_path: Path, trust: Path | None = None) -> Settings:
    return Settings(
        database_url=database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        ledger_origin="test.governance/ledger",
        log_json=False,
        trust_config=trust,
    )


def tables_of(runtime: Runtime) -> list[str]:
    """Every table a projection keeps, and the framework's failure records."""
    found = [t for s in runtime.projections.status() for t in s.tables]
    return [*found, "projection_failures"]


def snapshot(engine: Engine, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, all columns, ordered by primary key."""
    inspector = inspect(engine)
    result: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in tables:
            columns = [c["name"] for c in inspector.get_columns(table)]
            key = inspector.get_pk_constraint(table)["constrained_columns"]
            rows = conn.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}")
            ).all()
            result[table] = [tuple(r) for r in rows]
    return result


def lineage_fixtures() -> list[bytes]:
    root = shared_path(OPENLINEAGE)
    folders = ("real", "clients", "edge-cases", "scenarios")
    paths = sorted(p for folder in folders for p in (root / folder).rglob("*.json"))
    return [p.read_bytes() for p in paths]


def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> int:
    for name, value in {
        "GOVERNANCE_DATABASE_URL": settings.database_url,
        "GOVERNANCE_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "GOVERNANCE_LEDGER_ORIGIN": settings.ledger_origin,
        "GOVERNANCE_LOG_JSON": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOVERNANCE_TRUST_CONFIG", raising=False)
    return main(list(argv))


def mixed_workload(runtime: Runtime) -> dict[str, list[int]]:
    """Lineage, classifications, attestations (pass and fail), evidence; the indexes by kind."""
    service = runtime.attestations
    assert service is not None
    indexes: dict[str, list[int]] = {}

    async def run() -> None:
        for raw in lineage_fixtures():
            receipt = await runtime.lineage.ingest(raw, RUNNER)
            indexes.setdefault("lineage", []).append(receipt.index)
        for n, personal in enumerate((True, False, True)):
            receipt = await runtime.lineage.classify(
                "food", f"ingredients{n % 2}", {"personalData": personal}, STEWARD
            )
            indexes.setdefault("classification", []).append(receipt.index)
        for case_id in (*PASSING, FAILING):
            c = expected_case(case_id)
            outcome = await service.submit(
                bundle_bytes(c), purpose_of(c), CI, expected_digest=expected_digest(c)
            )
            indexes.setdefault("pass" if outcome.passed else "fail", []).append(
                outcome.receipt.index
            )
        # the right bundle, the wrong artifact: a failing verdict for a passing signature
        c = expected_case(PASSING[0])
        outcome = await service.submit(
            bundle_bytes(c), purpose_of(c), CI, expected_digest="sha256:" + "ab" * 32
        )
        assert not outcome.passed
        indexes["fail"].append(outcome.receipt.index)
        receipt = await runtime.evidence.store(b"%PDF-1.7 a DPIA", "application/pdf", AUDITOR)
        indexes["evidence"] = [receipt.index]
        # the gate: decisions (one with a waiver in force), approvals and waivers
        for mode in ("enforce", "dry_run"):
            decided = await runtime.gate.decide(
                GATE_REQUEST.model_copy(update={"mode": mode}), CI, may_break_glass=False
            )
            indexes.setdefault("decision", []).append(decided.index)
        _, receipt = await runtime.gate.waive(
            control="iso-a8.32",
            digest=MODEL_DIGEST,
            target="production",
            reason="the change board meets on Monday",
            expires_at=datetime.now(UTC) + timedelta(days=7),
            submitter=APPROVER,
        )
        indexes["waiver"] = [receipt.index]
        for approver in (APPROVER, AUDITOR):
            _, receipt = await runtime.gate.approve(
                digest=MODEL_DIGEST,
                target="production",
                decision_id=None,
                comment=f"approved by {approver.principal}",
                submitter=approver,
            )
            indexes.setdefault("approval", []).append(receipt.index)

    asyncio.run(run())
    assert len(indexes["pass"]) == len(PASSING)
    # a report issued on all of it
    with tempfile.TemporaryDirectory() as out:
        issued = ReportService(runtime.engine, runtime.ledger, runtime.signer, load_bundle).issue(
            ReportOptions.of("all", "2000-01-01", "2100-01-01"), Path(out) / "report"
        )
    indexes["report"] = [issued.receipt.index]
    return indexes


def test_reindex_reproduces_every_projection_after_a_mixed_workload(
    database: Database, tmp_path: Path, trust_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(database, tmp_path, trust_file)
    runtime = Runtime.open(settings, attestations=True)
    try:
        indexes = mixed_workload(runtime)
        # an erasure of each projected kind, through the one erasure service
        kinds_erased = (
            "lineage",
            "classification",
            "pass",
            "fail",
            "decision",
            "approval",
            "report",
        )
        for kind in kinds_erased:
            erasure = runtime.erasure.erase(indexes[kind][0], "data subject request")
            runtime.erasure.finish(erasure)
        tables = tables_of(runtime)
        live = snapshot(runtime.engine, tables)
        verdicts = {row[0]: row for row in live["attestation_verdicts"]}
        assert set(verdicts) == set(indexes["pass"] + indexes["fail"])
        erased_pass = verdicts[indexes["pass"][0]]
        assert erased_pass[2] == "pass"
        assert json.loads(erased_pass[6])["signer"]["identity"] is None
        kept_pass = verdicts[indexes["pass"][1]]
        assert json.loads(kept_pass[6])["signer"]["key_id"] is not None
        assert verdicts[indexes["fail"][1]][4]  # a failure keeps its detail unless erased
        assert verdicts[indexes["fail"][0]][4] is None
        # an erased decision keeps its envelope's summary; its results went with the payload
        decisions = {row[0]: row for row in live["gate_decisions"]}
        assert set(decisions) == set(indexes["decision"])
        assert decisions[indexes["decision"][0]][-1] is None
        assert json.loads(decisions[indexes["decision"][1]][-1])
        assert [row[-1] for row in live["gate_approvals"]] == [None, "approved by auditor"]
        # an erased report's manifest leaves its index row as the envelope says it
        (report,) = live["reports"]
        assert report[0] == indexes["report"][0]
        assert runtime.ledger.entry(indexes["report"][0]).erased
        size = runtime.ledger.head()[0]
        for table in tables[:-1]:
            assert live[table], f"{table} is empty: the workload should fill every table"
    finally:
        runtime.close()

    assert cli(monkeypatch, settings, "ledger", "reindex") == 0
    reopened = Runtime.open(settings)
    try:
        assert snapshot(reopened.engine, tables) == live
        for status in reopened.projections.status():
            assert status.next_index == size
        # each projection alone, after emptying it by hand
        with reopened.engine.begin() as conn:
            conn.execute(text("DELETE FROM attestation_verdicts"))
    finally:
        reopened.close()
    assert (
        cli(monkeypatch, settings, "ledger", "reindex", "--projection", "attestation-verdicts") == 0
    )
    assert cli(monkeypatch, settings, "ledger", "reindex", "--projection", "lineage") == 0
    reopened = Runtime.open(settings)
    try:
        assert snapshot(reopened.engine, tables) == live
    finally:
        reopened.close()
    assert cli(monkeypatch, settings, "ledger", "reindex", "--projection", "nope") == 2


def test_erasure_over_http_is_the_same_as_the_cli(
    database: Database, tmp_path: Path, trust_file: Path
) -> None:
    from fastapi.testclient import TestClient

    from governance.api.app import create_app
    from governance.auth.keys import Role

    settings = settings_for(database, tmp_path, trust_file)
    runtime = Runtime.open(settings, attestations=True)
    try:
        indexes = mixed_workload(runtime)
        admin = runtime.keys.create(Role.ADMIN, "admin")[1]
        auditor = runtime.keys.create(Role.AUDITOR, "auditor")[1]
        with TestClient(create_app(settings, runtime)) as client:
            url = f"/api/v1/ledger/entries/{indexes['pass'][0]}/erasure"
            body = {"reason": "Art. 17 request 12"}
            denied = client.post(url, json=body, headers={"Authorization": f"Bearer {auditor}"})
            assert denied.status_code == 403
            assert not runtime.ledger.entry(indexes["pass"][0]).erased
            headers = {"Authorization": f"Bearer {admin}"}
            assert client.post(url, json={}, headers=headers).status_code == 400
            first = client.post(url, json=body, headers=headers)
            assert first.status_code == 201, first.text
            answer = first.json()
            assert answer["erased"] == indexes["pass"][0]
            assert answer["kind"] == kinds.ATTESTATION.name
            assert answer["rebuilding"] == []
            erasure = runtime.ledger.entry(answer["receipt"]["index"])
            assert erasure.kind == kinds.ERASURE.name
            envelope = json.loads(erasure.envelope)
            assert envelope["erases"] == indexes["pass"][0]
            assert envelope["submitted_by"]  # the admin key that asked
            again = client.post(url, json=body, headers=headers)
            assert again.status_code == 200
            assert again.json()["receipt"]["index"] == answer["receipt"]["index"]
            verdict = runtime.attestations.get(indexes["pass"][0])  # type: ignore[union-attr]
            assert verdict["facts"]["signer"]["identity"] is None
            # an OpenLineage event: the lineage projection is emptied and caught up again
            url = f"/api/v1/ledger/entries/{indexes['lineage'][0]}/erasure"
            lineage = client.post(url, json=body, headers=headers)
            assert lineage.status_code == 201
            assert lineage.json()["rebuilding"] == ["lineage"]
            deadline = time.monotonic() + 30
            while runtime.projections.behind("lineage"):
                assert time.monotonic() < deadline, "the follower did not rebuild the projection"
                time.sleep(0.05)
            missing = client.post(
                "/api/v1/ledger/entries/999999/erasure", json=body, headers=headers
            )
            assert missing.status_code == 404
    finally:
        runtime.close()


def test_status_names_entries_a_projection_could_not_apply(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(database, tmp_path)
    runtime = Runtime.open(settings)
    original = LineageFold.lineage_event
    poison = str(uuid.uuid4())

    def failing(self: LineageFold, event: LineageEvent, index: int) -> None:
        if event.run_id == poison:
            raise RuntimeError("cannot project this one")
        original(self, event, index)

    try:
        assert cli(monkeypatch, settings, "ledger", "status") == 0
        monkeypatch.setattr(LineageFold, "lineage_event", failing)
        bad = json.dumps(
            {
                "eventType": "START",
                "eventTime": "2026-01-01T00:00:00Z",
                "run": {"runId": poison},
                "job": {"namespace": "status", "name": "job"},
                "producer": "https://example.com/test",
            }
        ).encode()
        receipt = asyncio.run(runtime.lineage.ingest(bad, RUNNER))
        runtime.projections.catch_up()
        capsys.readouterr()
        assert cli(monkeypatch, settings, "ledger", "status", "--json") == 1
        status = json.loads(capsys.readouterr().out)
        (lineage,) = [p for p in status["projections"] if p["name"] == "lineage"]
        assert lineage["failures"] == [
            {"projection": "lineage", "index": receipt.index, "error": "RuntimeError"}
        ]
        assert lineage["behind"] == 0
        assert cli(monkeypatch, settings, "ledger", "status") == 1
        assert f"entry {receipt.index} not projected: RuntimeError" in capsys.readouterr().out
    finally:
        runtime.close()


# --- SIGKILL between append and projection -----------------------------------------------------


def acknowledged(log: Path) -> list[tuple[int, str]]:
    data = log.read_bytes() if log.exists() else b""
    return [
        (int(index), kind)
        for index, kind in (line.decode().split(" ") for line in data.split(b"\n")[:-1])
    ]


@pytest.mark.slow
@pytest.mark.parametrize("hooks", [True, False], ids=["in-batch", "follower-only"])
def test_a_sigkill_leaves_nothing_unprojected(
    database: Database, tmp_path: Path, trust_file: Path, hooks: bool
) -> None:
    """The child appends OpenLineage events, classifications and attestation verdicts and logs
    each acknowledged index; with ``hooks`` the batches project themselves, without them only
    the follower projects (as for a replica that appends but does not project). It is killed at
    a random moment, three times; each restart catches up, and then every acknowledged entry is
    projected and the tables equal a rebuild from the ledger."""
    settings = settings_for(database, tmp_path, trust_file)
    load_or_create_signing_key(settings.signing_key_file)
    seen: list[tuple[int, str]] = []
    rng = random.Random(7)
    for attempt in range(3):
        log = tmp_path / f"acknowledged-{attempt}.log"
        config = {
            "url": database.url,
            "key": str(settings.signing_key_file),
            "origin": settings.ledger_origin,
            "trust": str(trust_file),
            "start": str(tmp_path / f"start-{attempt}"),
            "ready": str(tmp_path / f"ready-{attempt}"),
            "log": str(log),
            "hooks": hooks,
            "tag": f"{attempt}",
            "bundles": [
                [bundle_bytes(c).hex(), purpose_of(c), expected_digest(c)]
                for c in map(expected_case, PASSING)
            ],
        }
        with workers.Children(tmp_path) as children:
            proc = children.spawn("project", config)
            children.release(Path(str(config["start"])))
            wanted, started = 40 + rng.randrange(60), time.monotonic()
            while len(acknowledged(log)) < wanted:
                assert proc.poll() is None, children.stderr(proc)
                assert time.monotonic() - started < 120, "the child acknowledged too little"
                time.sleep(0.01)
            time.sleep(rng.random() * 0.3)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        seen.extend(acknowledged(log))

        runtime = Runtime.open(settings)  # the restart catches every projection up
        try:
            size = runtime.ledger.head()[0]
            for status in runtime.projections.status():
                assert status.next_index == size, status
                assert status.failures == []
            assert_projected(runtime, seen)
            tables = tables_of(runtime)
            live = snapshot(runtime.engine, tables)
            runtime.projections.rebuild()
            assert snapshot(runtime.engine, tables) == live
        finally:
            runtime.close()


def assert_projected(runtime: Runtime, seen: list[tuple[int, str]]) -> None:
    with runtime.engine.connect() as conn:
        runs = {int(i) for (i,) in conn.execute(text("SELECT last_index FROM lineage_runs"))}
        runs |= {int(i) for (i,) in conn.execute(text("SELECT first_index FROM lineage_runs"))}
        classified = {
            int(i)
            for (i,) in conn.execute(
                text(
                    "SELECT classification_index FROM lineage_datasets "
                    "WHERE classification_index IS NOT NULL"
                )
            )
        }
        verdicts = {
            int(i) for (i,) in conn.execute(text("SELECT ledger_index FROM attestation_verdicts"))
        }
    for index, kind in seen:
        if kind == kinds.OPENLINEAGE.name:
            assert index in runs, f"event {index} is not projected"
        elif kind == kinds.ATTESTATION.name:
            assert index in verdicts, f"verdict {index} is not projected"
    last_classification = max(i for i, k in seen if k == kinds.DATASET_CLASSIFICATION.name)
    assert last_classification in classified
