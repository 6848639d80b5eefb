"""Audit reports on SQLite and PostgreSQL: decisions made through the real gate, reports issued.

A model trained on personal data of EU data subjects is decided on several times (enforce, dry
run, with a waiver, break glass), approved twice, a second model once, and a signature that
verifies nothing is attested; then reports are issued. Every figure of ``report-data.json`` is
compared with the same figure computed here from the gate's, the attestations' and the lineage's
own API listings. Bundles regenerate byte for byte, verify offline, and name the file that was
changed; the report index is rebuilt identically by ``reindex``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import text

from governance.api.app import create_app
from governance.auth.keys import Role
from governance.cli.common import EXIT_ERROR, EXIT_FAILED_CHECK, EXIT_OK
from governance.cli.main import main
from governance.config import Settings
from governance.ledger import kinds
from governance.ledger.canonical import canonical_json
from governance.ledger.checkpoint import NoteSigner
from governance.policy.bundle import load_bundle
from governance.runtime import Runtime
from reports import bundle as report_bundle
from reports import oscal
from reports.bundle import verify_bundle
from reports.data import ReportOptions
from reports.model import ReportData
from reports.service import Issued, ReportService

NS = "reports-test"
MODEL = "sha256:" + "7a" * 32
OTHER = "sha256:" + "7b" * 32
PERIOD = ("2000-01-01", "2100-01-01")
REASON = "incident 7: rollback of a broken model"
FILES = (
    "report.pdf",
    "report-data.json",
    "decisions.csv",
    "controls.csv",
    "evidence.csv",
    "exceptions.csv",
    "soa.csv",
    "assessment-results.json",
    "checkpoint.txt",
    "proofs.json",
    "manifest.json",
    "SHA256SUMS",
    "SHA256SUMS.sig",
)


def dataset(name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": NS, "name": name, "facets": facets}


TRAIN = {
    "eventType": "COMPLETE",
    "eventTime": "2026-01-01T00:00:00Z",
    "producer": "https://example.test/reports",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "01890000-0000-7000-8000-0000000000aa"},
    "job": {"namespace": NS, "name": "train"},
    "inputs": [
        dataset(
            "customers",
            governance={"personalData": True, "jurisdictions": ["EU"], "lawfulBasis": "contract"},
        ),
        dataset("weather"),
    ],
    "outputs": [dataset("model", datasetType={"datasetType": "MODEL"})],
}


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.open(settings, attestations=True)
    try:
        yield runtime
    finally:
        runtime.close()


@dataclass
class Service:
    """The app over ``rt``, each principal's key, and what the scenario recorded."""

    client: TestClient
    rt: Runtime
    keys: dict[str, str]
    decisions: dict[str, dict[str, Any]]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, path: str, who: str = "auditor", **params: Any) -> Any:
        answer = self.client.get(path, headers=self.headers(who), params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any, who: str, status: int = 201) -> Any:
        answer = self.client.post(path, json=body, headers=self.headers(who))
        assert answer.status_code == status, answer.text
        return answer.json()

    def decide(self, step: str, who: str = "ci", **changes: Any) -> dict[str, Any]:
        body = {
            "model": {
                "name": "churn",
                "version": "3",
                "digest": MODEL,
                "lineage": {"namespace": NS, "name": "model"},
            },
            "target": "production",
            **changes,
        }
        decided: dict[str, Any] = self.post("/api/v1/gate/decisions", body, who)
        self.decisions[step] = decided
        return decided

    def service(self) -> ReportService:
        return ReportService(self.rt.engine, self.rt.ledger, self.rt.signer, load_bundle)


def record_scenario(s: Service) -> None:
    """Lineage, decisions, approvals, a waiver, break glass, an attestation that fails."""
    answer = s.client.post("/api/v1/lineage", json=TRAIN, headers=s.headers("airflow"))
    assert answer.status_code == 201, answer.text
    first = s.decide("first")
    assert first["outcome"] == "deny"
    assert "gdpr" in first["evaluated"]
    s.decide("dry-run", mode="dry_run")
    for approver in ("alice", "bob"):
        s.post(
            "/api/v1/approvals",
            {"digest": MODEL, "target": "production", "decision_id": first["decision_id"]},
            approver,
        )
    waiver = {
        "control": "iso-a8.24",
        "digest": MODEL,
        "target": "production",
        "reason": "signing key rotation in progress",
        "expires_at": "2100-01-01T00:00:00Z",
    }
    s.post("/api/v1/waivers", waiver, "alice")
    waived = s.decide("waived")
    assert [w["control"] for w in waived["waived"]] == ["iso-a8.24"]
    s.decide("break-glass", who="root", mode="break_glass", reason=REASON)
    s.decide(
        "other-model",
        model={"name": "fraud", "version": "1", "digest": OTHER},
        target="staging",
    )
    failed = s.client.post(
        "/api/v1/attestations",
        json={"bundle": {"mediaType": "unknown"}, "purpose": "reports", "expected_digest": MODEL},
        headers=s.headers("airflow"),
    )
    assert failed.status_code == 422, failed.text


@pytest.fixture
def svc(settings: Settings, rt: Runtime) -> Iterator[Service]:
    roles = {
        "airflow": Role.INGEST,
        "ci": Role.GATE,
        "alice": Role.APPROVER,
        "bob": Role.APPROVER,
        "root": Role.ADMIN,
        "auditor": Role.AUDITOR,
    }
    keys = {name: rt.keys.create(role, name)[1] for name, role in roles.items()}
    with TestClient(create_app(settings, rt)) as client:
        service = Service(client, rt, keys, {})
        record_scenario(service)
        yield service


def issue(s: Service, out: Path, framework: str = "all", **options: Any) -> Issued:
    start, end = options.pop("period", PERIOD)
    return s.service().issue(ReportOptions.of(framework, start, end, **options), out)


def read_data(directory: Path) -> ReportData:
    return ReportData.model_validate_json((directory / "report-data.json").read_bytes())


# -- the figures, computed from the API ---------------------------------------------------------


def expected(s: Service, framework: str, start: str, end: str) -> dict[str, Any]:
    """Every figure of a report, from the API's listings and each decision's detail."""
    catalog = {c.id: c for c in load_bundle().controls()}
    chosen = ["gdpr", "uae_pdpl", "iso27001"] if framework == "all" else [framework]
    listed = s.get("/api/v1/gate/decisions", limit=500)["decisions"]
    details = {
        d["decision_id"]: s.get(f"/api/v1/gate/decisions/{d['decision_id']}") for d in listed
    }
    period = [d for d in listed if start <= d["evaluated_at"] < end]
    ours = [
        d
        for d in period
        if framework == "all"
        or d["outcome"] == "error"
        or framework in details[d["decision_id"]]["evaluated"]
    ]
    outcomes = Counter(d["outcome"] for d in ours)
    per_framework = {}
    for name in chosen:
        counts: Counter[str] = Counter()
        for d in ours:
            if d["outcome"] == "error":
                counts["error"] += 1
            elif name in details[d["decision_id"]]["evaluated"]:
                denied = any(catalog[c].framework == name for c in d["violations"])
                counts["deny" if denied else "allow"] += 1
        per_framework[name] = {k: counts[k] for k in ("allow", "deny", "error")}
    controls: dict[str, Counter[str]] = {}
    failed_in: dict[str, list[str]] = {}
    cited: dict[int, list[str]] = {}
    for d in ours:
        cited.setdefault(d["index"], []).append(d["decision_id"])
        for control in d["waived"]:
            if catalog[control].framework in chosen:
                controls.setdefault(control, Counter())["waived"] += 1
        for result in details[d["decision_id"]]["results"]:
            if result["framework"] not in chosen:
                continue
            tally = controls.setdefault(result["control"], Counter())
            tally[result["status"]] += 1
            tally[result["basis"]] += 1
            if result["status"] == "fail":
                failed_in.setdefault(result["control"], []).append(d["decision_id"])
            for index in result["evidence"]:
                if isinstance(index, int) and d["decision_id"] not in cited.get(index, []):
                    cited.setdefault(index, []).append(d["decision_id"])
        for w in details[d["decision_id"]]["waived"]:
            if d["decision_id"] not in cited.get(w["waiver_index"], []):
                cited.setdefault(w["waiver_index"], []).append(d["decision_id"])
    approvals = [
        a for a in s.get("/api/v1/approvals", limit=500)["approvals"]
        if start <= a["approved_at"] < end
    ]  # fmt: skip
    waivers = [
        w
        for w in s.get("/api/v1/waivers", limit=500)["waivers"]
        if w["granted_at"] < end
        and w["expires_at"] > start
        and catalog[w["control"]].framework in chosen
    ]
    verdicts = [
        v
        for v in s.get("/api/v1/attestations", subject=MODEL)["attestations"]
        if start <= v["verified_at"] < end
    ]
    allowed = [d for d in ours if d["allow"]]
    models: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in allowed:
        key = (d["model"]["name"], d["model"]["version"], d["model"]["digest"])
        models.setdefault(key, []).append(d)
    return {
        "decisions": [d["decision_id"] for d in ours],
        "outcomes": {k: outcomes[k] for k in ("allow", "deny", "error")},
        "break_glass": [d["decision_id"] for d in ours if d["mode"] == "break_glass"],
        "dry_run": sum(d["mode"] == "dry_run" for d in ours),
        "models": len({d["model"]["digest"] for d in ours}),
        "per_framework": per_framework,
        "controls": {c: dict(t) for c, t in controls.items()},
        "failed_in": failed_in,
        "approvals": [a["index"] for a in approvals],
        "exceptions": {
            w["index"]: [
                d["decision_id"]
                for d in ours
                if w["index"] in [x["waiver_index"] for x in details[d["decision_id"]]["waived"]]
            ]
            for w in waivers
        },
        "verdicts": {v["index"]: v["verdict"] for v in verdicts},
        "system": {key: [d["decision_id"] for d in group] for key, group in models.items()},
        "cited": cited,
        "days": Counter(d["evaluated_at"][:10] for d in ours),
        "targets": sorted({d["target"] for d in ours}),
        "bundles": sorted({d["policy"]["bundle_digest"] for d in ours}),
        # Erased decisions answer no results (and an error decision has none to answer).
        "erased": sum(
            not details[d["decision_id"]]["results"] and d["outcome"] != "error" for d in ours
        ),
    }


def check_figures(s: Service, data: ReportData, framework: str, start: str, end: str) -> None:
    want = expected(s, framework, start, end)
    assert [d.decision_id for d in data.decisions] == want["decisions"]
    assert data.summary.decisions == len(want["decisions"])
    assert data.summary.outcomes.model_dump() == want["outcomes"]
    assert data.summary.break_glass == len(want["break_glass"])
    assert [b.decision_id for b in data.break_glass] == want["break_glass"]
    assert data.summary.dry_run == want["dry_run"]
    assert data.summary.models == want["models"]
    assert data.summary.approvals == len(want["approvals"])
    assert [a.index for a in data.approvals] == want["approvals"]
    assert {f.framework: f.decisions.model_dump() for f in data.summary.frameworks} == want[
        "per_framework"
    ]
    by_control = {c.control: c for c in data.controls}
    for control, tally in want["controls"].items():
        got = by_control[control]
        figures = {
            "pass": got.passed,
            "fail": got.failed,
            "not_applicable": got.not_applicable,
            "not_evaluated": got.not_evaluated,
            "waived": got.waived,
            "verified": got.verified,
            "declared": got.declared,
        }
        assert {k: v for k, v in figures.items() if v} == tally, control
        assert got.failed_in == want["failed_in"].get(control, [])
    untouched = set(by_control) - set(want["controls"])
    assert all(by_control[c].passed + by_control[c].failed == 0 for c in untouched)
    for summary in data.summary.frameworks:
        failing = sorted(
            (-c.failed, c.control)
            for c in data.controls
            if c.framework == summary.framework and c.failed
        )[:5]
        assert [(t.control, t.count) for t in summary.top_failing] == [(c, -n) for n, c in failing]
    assert {e.index: e.decisions_covered for e in data.exceptions} == want["exceptions"]
    assert {v.index: v.verdict for v in data.supply_chain.verdicts} == want["verdicts"]
    assert data.supply_chain.failed == sum(v == "fail" for v in want["verdicts"].values())
    assert data.supply_chain.passed == sum(v == "pass" for v in want["verdicts"].values())
    assert {(m.name, m.version, m.digest): m.decisions for m in data.system} == want["system"]
    assert {(d.day, d.allow + d.deny + d.error) for d in data.decisions_per_day} == set(
        want["days"].items()
    )
    assert data.criteria.targets == want["targets"]
    assert data.criteria.bundle_digests == want["bundles"]
    # Every decision, result evidence, approval, waiver and verdict cited, with its leaf.
    cited = dict(want["cited"])
    for index in want["approvals"]:
        cited.setdefault(index, []).append(f"approval:{index}")
    for index in want["verdicts"]:
        cited.setdefault(index, []).append(f"attestation:{index}")
    for index in want["exceptions"]:
        cited.setdefault(index, []).append(f"waiver:{index}")
    assert {e.index: e.cited_by for e in data.evidence} == cited
    for ref in data.evidence:
        entry = s.get(f"/api/v1/ledger/entries/{ref.index}")
        assert (entry["kind"], entry["leaf_hash"]) == (ref.kind, ref.leaf_hash)
    assert data.limitations.engine_errors == want["outcomes"]["error"]
    assert data.limitations.erased == want["erased"]
    assert {c.control: c.count for c in data.limitations.declared} == {
        c: t["declared"] for c, t in want["controls"].items() if t.get("declared")
    }
    assert {c.control: c.count for c in data.limitations.not_evaluated} == {
        c: t["not_evaluated"] for c, t in want["controls"].items() if t.get("not_evaluated")
    }
    assert {a.control: a.failures for a in data.corrective_actions} == {
        c: t["fail"] for c, t in want["controls"].items() if t.get("fail", 0) >= 2
    }


# -- tests --------------------------------------------------------------------------------------


def test_every_figure_matches_the_api(svc: Service, tmp_path: Path) -> None:
    for framework in ("all", "gdpr", "iso27001"):
        issue(svc, tmp_path / framework, framework)
        data = read_data(tmp_path / framework)
        check_figures(svc, data, framework, data.report.period.start, data.report.period.end)
        assert data.report.frameworks == (
            ["gdpr", "uae_pdpl", "iso27001"] if framework == "all" else [framework]
        )
        assert {c.framework for c in data.criteria.catalog} == set(data.report.frameworks)
    data = read_data(tmp_path / "all")
    assert [b.reason for b in data.break_glass] == [REASON]
    assert data.summary.decisions == 5
    assert data.summary.break_glass == 1
    assert data.summary.dry_run == 1
    assert data.summary.approvals == 2
    assert len(data.exceptions) == 1
    assert data.supply_chain.failed == 1
    # The checkpoint, and the time of the document, are the ledger's.
    checkpoint = data.checkpoint
    assert checkpoint.note == svc.rt.ledger.checkpoint(checkpoint.size)
    assert checkpoint.public_key == svc.rt.ledger.verifier_key
    assert data.report.generated_at == checkpoint.created_at
    # The system description: what the allowed decisions promoted, and its personal data.
    (promoted,) = data.system
    assert promoted.digest == MODEL
    assert promoted.personal_data_upstream == [f"dataset:{NS}:customers"]
    upstream = svc.get("/api/v1/lineage/compliance/personal-data", namespace=NS, name="model")
    assert promoted.personal_data_upstream == sorted(d["id"] for d in upstream["personal_datasets"])
    # The Statement of Applicability covers each Annex A control the ISO controls cite.
    iso = read_data(tmp_path / "iso27001")
    assert {row.annex_a for row in iso.soa} >= {"A.5.3", "A.8.24", "A.8.25", "A.8.4"}
    assert all(row.applicable and row.evaluated_by_service for row in iso.soa)
    assert read_data(tmp_path / "gdpr").soa == []


def test_a_period_counts_only_its_decisions(svc: Service, tmp_path: Path) -> None:
    start = svc.decisions["dry-run"]["evaluated_at"]
    end = svc.decisions["break-glass"]["evaluated_at"]
    issue(svc, tmp_path / "slice", "all", period=(start, end))
    data = read_data(tmp_path / "slice")
    assert [d.decision_id for d in data.decisions] == [
        svc.decisions[step]["decision_id"] for step in ("dry-run", "waived")
    ]
    check_figures(svc, data, "all", data.report.period.start, data.report.period.end)


def test_a_checkpoint_fixes_the_report(svc: Service, tmp_path: Path) -> None:
    size = svc.decisions["waived"]["receipt"]["tree_size"]
    issue(svc, tmp_path / "then", checkpoint=size)
    data = read_data(tmp_path / "then")
    assert data.checkpoint.size == size
    assert all(d.index < size for d in data.decisions)
    assert all(e.index < size for e in data.evidence)
    assert data.decisions[-1].decision_id == svc.decisions["waived"]["decision_id"]
    with pytest.raises(Exception, match=f"no checkpoint of size {size + 1000}"):
        issue(svc, tmp_path / "none", checkpoint=size + 1000)


def test_an_erased_decision_is_counted_but_its_results_are_gone(
    svc: Service, tmp_path: Path
) -> None:
    issue(svc, tmp_path / "before")
    before = read_data(tmp_path / "before")
    glass = svc.decisions["break-glass"]
    erasure = svc.rt.erasure.erase(glass["receipt"]["index"], "data subject request")
    svc.rt.erasure.finish(erasure)
    issue(svc, tmp_path / "after")
    after = read_data(tmp_path / "after")
    assert after.summary.decisions == before.summary.decisions
    assert after.summary.outcomes == before.summary.outcomes
    assert (before.limitations.erased, after.limitations.erased) == (0, 1)
    assert [b.reason for b in after.break_glass] == ["(erased)"]
    results = len(glass["results"])
    total = [
        sum(c.passed + c.failed + c.not_applicable + c.not_evaluated for c in d.controls)
        for d in (before, after)
    ]
    assert total[0] - total[1] == results
    check_figures(svc, after, "all", after.report.period.start, after.report.period.end)


def test_issuing_again_gives_the_same_bytes_and_the_same_entry(
    svc: Service, tmp_path: Path
) -> None:
    size = svc.rt.ledger.head()[0]
    first = issue(svc, tmp_path / "one", checkpoint=size)
    second = issue(svc, tmp_path / "two", checkpoint=size)
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(FILES)
    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert (first.receipt.duplicate, second.receipt.duplicate) == (False, True)
    assert second.receipt.index == first.receipt.index
    entry = svc.rt.ledger.entry(first.receipt.index)
    assert entry.kind == kinds.REPORT.name
    envelope = json.loads(entry.envelope)
    assert envelope["data_sha256"] == first.report.data_sha256
    assert envelope["report_id"] == read_data(tmp_path / "one").report.report_id
    assert (
        svc.rt.ledger.payload(first.receipt.index)
        == (tmp_path / "one" / "manifest.json").read_bytes()
    )
    # The report entry came after the checkpoint: a report as of the newest one is another.
    later = issue(svc, tmp_path / "later")
    assert later.report.report_id != first.report.report_id
    assert later.report.checkpoint_size > size


def test_a_bundle_verifies_offline(svc: Service, tmp_path: Path) -> None:
    issue(svc, tmp_path / "b")
    result = verify_bundle(tmp_path / "b", svc.rt.ledger.verifier_key)
    assert result.problem is None, result.problem
    assert result.ok
    assert not result.self_trusted
    assert [s["step"] for s in result.steps] == list(report_bundle.VERIFY_STEPS)
    # SHA256SUMS and its signature are a C2SP signed note.
    sums = (tmp_path / "b" / "SHA256SUMS").read_bytes()
    note = sums + b"\n" + (tmp_path / "b" / "SHA256SUMS.sig").read_bytes()
    from governance.ledger.checkpoint import NoteVerifier

    assert NoteVerifier.from_verifier_key(svc.rt.ledger.verifier_key).verify_text(note) == sums
    # The OSCAL Assessment Results validate against the vendored schema.
    oscal.validate(json.loads((tmp_path / "b" / "assessment-results.json").read_bytes()))


def _tamper(path: Path) -> None:
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    # A printable character changed for another, so text stays text and base64 stays base64.
    content[middle] = ord("A") if content[middle] != ord("A") else ord("B")
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("name", FILES)
def test_changing_any_file_is_named(svc: Service, tmp_path: Path, name: str) -> None:
    issue(svc, tmp_path / "good")
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "good", bad)
    _tamper(bad / name)
    result = verify_bundle(bad, svc.rt.ledger.verifier_key)
    assert result.problem is not None
    assert not result.ok
    assert result.problem.file == name, result.problem


def test_a_missing_or_extra_file_is_named(svc: Service, tmp_path: Path) -> None:
    issue(svc, tmp_path / "good")
    for change, named in (("remove", "proofs.json"), ("add", "notes.txt")):
        bad = tmp_path / change
        shutil.copytree(tmp_path / "good", bad)
        if change == "remove":
            (bad / named).unlink()
        else:
            (bad / named).write_text("trust me\n")
        result = verify_bundle(bad, svc.rt.ledger.verifier_key)
        assert result.problem is not None
        assert result.problem.file == named, result.problem


def test_the_wrong_key_fails(svc: Service, tmp_path: Path) -> None:
    issue(svc, tmp_path / "b")
    other = NoteSigner(svc.rt.signer.name, Ed25519PrivateKey.generate()).verifier_key
    result = verify_bundle(tmp_path / "b", other)
    assert not result.ok
    assert result.problem is not None
    assert result.problem.file == "SHA256SUMS.sig"
    assert "no signature by key" in result.problem.message
    # Without a key the bundle's own is used: consistent, and said to be self-trusted.
    alone = verify_bundle(tmp_path / "b")
    assert alone.ok
    assert alone.self_trusted


def _resign(directory: Path, signer: NoteSigner) -> None:
    """Recompute the manifest and SHA256SUMS and sign them again, as a forger with the key."""
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in manifest["files"]:
        content = (directory / name).read_bytes()
        manifest["files"][name] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }
    manifest["data_sha256"] = manifest["files"]["report-data.json"]["sha256"]
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    digests = {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in [*manifest["files"], "manifest.json"]
    }
    sums = report_bundle._sums(digests)
    (directory / "SHA256SUMS").write_bytes(sums)
    (directory / "SHA256SUMS.sig").write_text(signer.signature_line(sums))


def test_a_signed_but_inconsistent_bundle_is_caught(svc: Service, tmp_path: Path) -> None:
    issue(svc, tmp_path / "good")
    # report-data.json says fewer denials than the outputs were rendered from (the first output
    # in name order that carries the figure is named: the OSCAL document does).
    forged = tmp_path / "data"
    shutil.copytree(tmp_path / "good", forged)
    document = json.loads((forged / "report-data.json").read_bytes())
    document["summary"]["outcomes"]["deny"] -= 1
    (forged / "report-data.json").write_bytes(canonical_json(document))
    _resign(forged, svc.rt.signer)
    result = verify_bundle(forged, svc.rt.ledger.verifier_key)
    assert result.problem is not None
    assert result.problem.file == "assessment-results.json"
    assert [s["status"] for s in result.steps][-1] == "failed"
    # A proof that leads elsewhere.
    forged = tmp_path / "proof"
    shutil.copytree(tmp_path / "good", forged)
    lines = (forged / "proofs.json").read_text().split("\n")
    record = json.loads(lines[1].rstrip(","))
    record["hashes"][0] = "00" * 32
    lines[1] = json.dumps(record, separators=(",", ":")) + ("," if lines[1].endswith(",") else "")
    (forged / "proofs.json").write_text("\n".join(lines))
    _resign(forged, svc.rt.signer)
    result = verify_bundle(forged, svc.rt.ledger.verifier_key)
    assert result.problem is not None
    assert result.problem.file == "proofs.json"
    assert "inclusion" in result.problem.message


def test_an_invalid_oscal_document_is_refused_and_named(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renderer fault (here: the results' uuid left out) never reaches an auditor unnoticed."""
    render = oscal.assessment_results

    def without_uuid(data: ReportData) -> dict[str, Any]:
        document = render(data)
        del document["assessment-results"]["uuid"]
        return document

    monkeypatch.setattr(oscal, "assessment_results", without_uuid)
    size = svc.rt.ledger.head()[0]
    with pytest.raises(oscal.InvalidAssessmentResults, match="uuid"):
        issue(svc, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    assert svc.rt.ledger.head()[0] == size
    # Issued anyway (the check bypassed), the bundle regenerates byte for byte from its data with
    # the same renderer, and still fails verification on the schema, naming the document.
    monkeypatch.setattr(oscal, "validate", lambda document: None)
    issue(svc, tmp_path / "b")
    monkeypatch.undo()
    monkeypatch.setattr(oscal, "assessment_results", without_uuid)
    result = verify_bundle(tmp_path / "b", svc.rt.ledger.verifier_key)
    assert result.problem is not None
    assert result.problem.file == "assessment-results.json"
    assert "uuid" in result.problem.message
    assert [(s["step"], s["status"]) for s in result.steps][-2:] == [
        ("regeneration", "ok"),
        ("OSCAL schema", "failed"),
    ]


def test_reindex_rebuilds_the_report_index(svc: Service, tmp_path: Path) -> None:
    issue(svc, tmp_path / "a", "gdpr")
    issue(svc, tmp_path / "b", "iso27001")
    query = text("SELECT * FROM reports ORDER BY ledger_index")
    with svc.rt.engine.connect() as conn:
        live = conn.execute(query).all()
    assert [row.framework for row in live] == ["gdpr", "iso27001"]
    assert (
        live[0].data_sha256
        == hashlib.sha256((tmp_path / "a" / "report-data.json").read_bytes()).hexdigest()
    )
    svc.rt.projections.rebuild(kinds.REPORTS_PROJECTION)
    with svc.rt.engine.connect() as conn:
        assert conn.execute(query).all() == live
    svc.rt.projections.rebuild()
    with svc.rt.engine.connect() as conn:
        assert conn.execute(query).all() == live
    assert [r["report_id"] for r in svc.rt.reports.all()] == [row.report_id for row in live]


# -- the HTTP API -------------------------------------------------------------------------------


def _wait(s: Service, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        found: dict[str, Any] = s.get(status_url)
        if found["status"] in ("done", "failed") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_api_generates_in_the_background(svc: Service, tmp_path: Path) -> None:
    body = {"framework": "iso27001", "from": PERIOD[0], "to": PERIOD[1]}
    answer = svc.client.post("/api/v1/reports", json=body, headers=svc.headers("auditor"))
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["Location"] == job["status_url"] == f"/api/v1/reports/{job['id']}"
    assert job["status"] in ("queued", "running", "done")
    # Asking again is the same report.
    again = svc.post("/api/v1/reports", body, "auditor", status=202)
    assert again["id"] == job["id"]
    done = _wait(svc, job["status_url"])
    assert done["status"] == "done", done
    result = done["result"]
    assert result["report_id"] == job["id"]
    assert set(result["files"]) == set(FILES) - {"manifest.json", "SHA256SUMS", "SHA256SUMS.sig"}
    entry = json.loads(svc.rt.ledger.entry(result["index"]).envelope)
    assert (entry["kind"], entry["submitted_by"]) == ("report", "auditor")
    # The zip holds the bundle, which verifies offline.
    zipped = svc.client.get(done["bundle_url"], headers=svc.headers("auditor"))
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(zipped.content)).extractall(tmp_path / "unzipped")
    (folder,) = (tmp_path / "unzipped").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    verified = verify_bundle(folder, svc.rt.ledger.verifier_key)
    assert verified.ok, verified.problem
    assert read_data(folder).report.framework == "iso27001"
    # The same id with the hex alone.
    assert svc.get(f"/api/v1/reports/{job['id'].removeprefix('sha256:')}")["status"] == "done"


def test_the_api_refuses_what_it_cannot_do(svc: Service) -> None:
    body = {"framework": "gdpr", "from": PERIOD[0], "to": PERIOD[1]}
    for who in ("ci", "alice", "airflow"):
        answer = svc.client.post("/api/v1/reports", json=body, headers=svc.headers(who))
        assert answer.status_code == 403, who
    assert svc.client.post("/api/v1/reports", json=body).status_code == 401
    bad = [
        ({**body, "checkpoint": 10_000}, "no checkpoint of size 10000"),
        ({**body, "from": PERIOD[1], "to": PERIOD[0]}, "period is empty"),
        ({**body, "framework": "hipaa"}, "framework"),
        ({**body, "from": "yesterday"}, "from"),
    ]
    for request, problem in bad:
        answer = svc.client.post("/api/v1/reports", json=request, headers=svc.headers("auditor"))
        assert answer.status_code == 400, answer.text
        assert problem in answer.text
    unknown = "sha256:" + "ab" * 32
    for path in (f"/api/v1/reports/{unknown}", f"/api/v1/reports/{unknown}/bundle"):
        answer = svc.client.get(path, headers=svc.headers("auditor"))
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name in list(os.environ):
        if name.startswith("GOVERNANCE_") and name != "GOVERNANCE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(settings.signing_key_file))
    monkeypatch.setenv("GOVERNANCE_LEDGER_ORIGIN", settings.ledger_origin)
    monkeypatch.setenv("GOVERNANCE_LOG_JSON", "false")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("cli_env")
def test_the_command_line(svc: Service, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    size = svc.rt.ledger.head()[0]
    args = ["report", "--framework", "all", "--from", PERIOD[0], "--to", PERIOD[1]]
    code, stdout, _ = run(capsys, *args, "--checkpoint", str(size), "--out", str(out), "--json")
    assert code == EXIT_OK, stdout
    issued = json.loads(stdout)
    assert issued["checkpoint_size"] == size
    assert issued["decisions"] == 5
    assert (
        issued["data_sha256"] == hashlib.sha256((out / "report-data.json").read_bytes()).hexdigest()
    )
    # The same report through the service: the same bytes, the same entry.
    again = issue(svc, tmp_path / "again", checkpoint=size)
    assert again.receipt.index == issued["index"]
    assert again.receipt.duplicate
    assert (tmp_path / "again" / "report.pdf").read_bytes() == (out / "report.pdf").read_bytes()

    key = svc.rt.ledger.verifier_key
    code, stdout, _ = run(capsys, "report", "verify", str(out), "--public-key", key)
    assert code == EXIT_OK, stdout
    assert stdout.strip().endswith("verified"), stdout
    _tamper(out / "evidence.csv")
    code, stdout, _ = run(capsys, "report", "verify", str(out), "--public-key", key, "--json")
    assert code == EXIT_FAILED_CHECK
    assert json.loads(stdout)["problem"]["file"] == "evidence.csv"
    code, stdout, _ = run(capsys, "report", "verify", str(out), "--public-key", key)
    assert code == EXIT_FAILED_CHECK
    assert "NOT verified: evidence.csv" in stdout

    # Errors: exit 2, with the reason.
    for argv, reason in (
        (["report", "--framework", "all", "--out", str(tmp_path / "x")], "missing --from, --to"),
        ([*args, "--out", str(out)], "not an empty directory"),
        ([*args, "--checkpoint", "999999", "--out", str(tmp_path / "y")], "no checkpoint"),
        (["report", "verify", str(tmp_path / "nowhere")], "not a directory"),
        (["report", "verify", str(out), "--public-key", "nonsense"], "public key"),
    ):
        code, _, stderr = run(capsys, *argv)
        assert code == EXIT_ERROR, argv
        assert reason in stderr, (argv, stderr)
    # `ledger reindex` rebuilds the report index too.
    code, stdout, _ = run(capsys, "ledger", "reindex", "--projection", "reports", "--json")
    assert code == EXIT_OK
    assert json.loads(stdout)["rebuilt"] == ["reports"]
    assert [r["index"] for r in svc.rt.reports.all()] == [issued["index"]]
