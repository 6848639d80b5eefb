"""Several OS processes appending to one PostgreSQL ledger at once.

Each worker process opens its own :class:`Runtime` (its own writer thread and connections) on the
same database and signing key; they start together and append as fast as they can. The result
must be one gapless, verifiable chain in which every acknowledged receipt is true.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from governance.config import Settings
from governance.ledger import merkle
from governance.ledger.audit import audit_database
from governance.ledger.checkpoint import Checkpoint, NoteVerifier, load_or_create_signing_key
from governance.runtime import Runtime
from tests.integration import _workers as workers

if TYPE_CHECKING:
    from tests.conftest import Database

ORIGIN = "test.governance/ledger"
PROCESSES = 4
PER_PROCESS = 2000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _config(db: Database, tmp_path: Path, worker: int, **extra: Any) -> dict[str, Any]:
    return {
        "url": db.url,
        "key": str(tmp_path / "keys" / "checkpoint.key"),
        "origin": ORIGIN,
        "start": str(tmp_path / "start"),
        "ready": str(tmp_path / f"ready-{worker}"),
        "out": str(tmp_path / f"out-{worker}.json"),
        "worker": worker,
        **extra,
    }


def _run(tmp_path: Path, mode: str, configs: list[dict[str, Any]], timeout: float) -> float:
    """Run the workers to completion, all released at once; returns the wall time."""
    load_or_create_signing_key(tmp_path / "keys" / "checkpoint.key")
    with workers.Children(tmp_path) as children:
        for config in configs:
            children.spawn(mode, config)
        children.release(tmp_path / "start")
        started = time.perf_counter()
        children.wait(timeout)
        return time.perf_counter() - started


def _open(db: Database, tmp_path: Path) -> Runtime:
    settings = Settings(
        database_url=db.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        ledger_origin=ORIGIN,
        log_json=False,
    )
    return Runtime.open(settings, start=False)


def _stored_entries(runtime: Runtime) -> list[tuple[int, bytes, bytes]]:
    """Every stored entry as (index, envelope, idem), in index order."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT idx, envelope, idem FROM ledger_entries ORDER BY idx")
        ).all()
    return [(int(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]


class _Checker:
    """Verifies receipts against their signed checkpoints (each note verified once)."""

    def __init__(self, verifier: NoteVerifier) -> None:
        self.verifier = verifier
        self.notes: dict[str, Checkpoint] = {}

    def verify(self, receipt: dict[str, Any]) -> None:
        note = receipt["checkpoint"]
        if note not in self.notes:
            self.notes[note] = self.verifier.verify(note)
        signed = self.notes[note]
        assert signed.origin == ORIGIN
        assert signed.size == receipt["tree_size"]
        assert receipt["index"] < signed.size
        merkle.verify_inclusion(
            bytes.fromhex(receipt["leaf"]),
            receipt["index"],
            signed.size,
            [bytes.fromhex(h) for h in receipt["proof"]],
            signed.root,
        )


def _assert_clean_chain(runtime: Runtime, size: int) -> list[tuple[int, bytes, bytes]]:
    head_size, _root = runtime.ledger.head()
    assert head_size == size
    stored = _stored_entries(runtime)
    assert [idx for idx, _env, _idem in stored] == list(range(size)), "indexes are not gapless"
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    report = audit_database(runtime.engine, verifier)
    assert report.ok, report.first.describe() if report.first else report
    assert report.entries == size
    return stored


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_append_one_gapless_verifiable_chain(
    pg_database: Database, tmp_path: Path
) -> None:
    configs = [
        _config(pg_database, tmp_path, w, count=PER_PROCESS, threads=4, chunk=50)
        for w in range(PROCESSES)
    ]
    elapsed = _run(tmp_path, "bulk", configs, timeout=300)
    reports = [json.loads(Path(c["out"]).read_text()) for c in configs]
    total = PROCESSES * PER_PROCESS
    span = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    print(
        f"\n{PROCESSES} processes x {PER_PROCESS} appends: {span:.2f}s from first start to last "
        f"receipt ({total / span:.0f} appends/s); {elapsed:.2f}s wall after release"
    )

    runtime = _open(pg_database, tmp_path)
    try:
        stored = _assert_clean_chain(runtime, total)
        checker = _Checker(NoteVerifier.from_verifier_key(runtime.ledger.verifier_key))
    finally:
        runtime.close()

    owner: dict[int, int] = {}
    for worker, report in enumerate(reports):
        receipts = report["receipts"]
        assert sorted(r["number"] for r in receipts) == list(range(PER_PROCESS))
        for receipt in receipts:
            assert not receipt["duplicate"]
            assert receipt["sha256"] == _sha(workers.bulk_payload(worker, receipt["number"]))
            assert receipt["index"] not in owner, f"index {receipt['index']} acknowledged twice"
            owner[receipt["index"]] = worker
            # The receipt describes what is stored at its index.
            _idx, envelope, _idem = stored[receipt["index"]]
            assert merkle.leaf_hash(envelope) == bytes.fromhex(receipt["leaf"])
            assert json.loads(envelope)["payload"]["sha256"] == receipt["sha256"]
            checker.verify(receipt)
    assert sorted(owner) == list(range(total))
    # The workers really ran side by side: their entries interleave in the chain.
    switches = sum(1 for i in range(1, total) if owner[i] != owner[i - 1])
    assert switches > PROCESSES - 1, "the processes appended one after another, not concurrently"
    print(f"{len(checker.notes)} checkpoints signed; the writer changed {switches} times")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("tag", ["shared-key", None], ids=["explicit-key", "default-key"])
def test_same_idempotency_key_from_two_processes_commits_once(
    pg_database: Database, tmp_path: Path, tag: str | None
) -> None:
    processes, threads, rounds, fillers = 2, 4, 6, 10
    configs = [
        _config(pg_database, tmp_path, w, threads=threads, rounds=rounds, fillers=fillers, tag=tag)
        for w in range(processes)
    ]
    _run(tmp_path, "idem", configs, timeout=180)
    receipts = [r for c in configs for r in json.loads(Path(c["out"]).read_text())["receipts"]]
    total = rounds + processes * threads * rounds * 2 * fillers

    runtime = _open(pg_database, tmp_path)
    try:
        stored = _assert_clean_chain(runtime, total)
        checker = _Checker(NoteVerifier.from_verifier_key(runtime.ledger.verifier_key))
    finally:
        runtime.close()
    idem_count = Counter(idem for _idx, _env, idem in stored)
    sha_count = Counter(json.loads(env)["payload"]["sha256"] for _idx, env, _idem in stored)

    for round_number in range(rounds):
        payload = workers.shared_payload(tag, round_number)
        key = f"sha256:{_sha(payload)}" if tag is None else f"{tag}-{round_number}"
        idem = hashlib.sha256(f"{workers.KIND}\n{key}".encode()).digest()
        shared = [r for r in receipts if r["shared"] and r["round"] == round_number]
        assert len(shared) == processes * threads
        assert idem_count[idem] == 1, f"round {round_number}: key stored {idem_count[idem]} times"
        assert sha_count[_sha(payload)] == 1
        assert len({(r["index"], r["leaf"]) for r in shared}) == 1, "callers got different entries"
        assert sum(not r["duplicate"] for r in shared) == 1, "not exactly one original receipt"
        index = shared[0]["index"]
        assert stored[index][2] == idem
        for receipt in shared:
            assert receipt["sha256"] == _sha(payload)
            checker.verify(receipt)

    fill = [r for r in receipts if not r["shared"]]
    assert len(fill) == processes * threads * rounds * 2 * fillers
    assert not any(r["duplicate"] for r in fill)
    shared_indexes = {r["index"] for r in receipts if r["shared"]}
    fill_indexes = [r["index"] for r in fill]
    assert len(set(fill_indexes)) == len(fill_indexes)
    assert sorted(shared_indexes | set(fill_indexes)) == list(range(total))
    for receipt in fill:
        _idx, envelope, _idem = stored[receipt["index"]]
        assert merkle.leaf_hash(envelope) == bytes.fromhex(receipt["leaf"])
        checker.verify(receipt)
