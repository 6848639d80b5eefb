"""The ledger store on a real database: receipts, idempotency, proofs, checkpoints, backpressure."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from governance.config import Settings
from governance.db import SQLITE_WAL_AUTOCHECKPOINT_PAGES, create_db_engine
from governance.errors import Conflict, InputError, NotFound, Unavailable
from governance.ledger import merkle
from governance.ledger.checkpoint import NoteVerifier
from governance.ledger.entries import AppendRequest
from governance.ledger.projections import ProjectionBatch
from governance.ledger.store import AppendedEntry, Ledger, Receipt
from governance.ledger.writer import BatchWriter
from governance.lineage.projection import LineageProjection
from governance.runtime import Runtime
from tests.conftest import Database


def _verify_receipt(receipt: Receipt, verifier: NoteVerifier) -> None:
    signed = verifier.verify(receipt.checkpoint)
    assert signed.size == receipt.tree_size
    merkle.verify_inclusion(
        receipt.leaf_hash,
        receipt.index,
        receipt.tree_size,
        list(receipt.inclusion_proof),
        signed.root,
    )


def _append_many(ledger: Ledger, count: int, start: int = 0) -> list[Receipt]:
    futures = [
        ledger.submit(AppendRequest("evidence", f"doc {i}".encode(), "text/plain"))
        for i in range(start, start + count)
    ]
    return [f.result(timeout=30) for f in futures]


def test_receipts_verify_against_their_signed_checkpoints(runtime: Runtime) -> None:
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    receipts = _append_many(runtime.ledger, 300)
    assert sorted(r.index for r in receipts) == list(range(300))
    for receipt in receipts:
        _verify_receipt(receipt, verifier)
    size, root = runtime.ledger.head()
    assert size == 300
    assert verifier.verify(runtime.ledger.checkpoint()).root == root


def test_envelope_is_canonical_and_chains(runtime: Runtime) -> None:
    first = runtime.ledger.append(
        AppendRequest(
            "evidence", b"alpha", "text/plain", subjects=[{"name": "model-a"}], fields={"note": "x"}
        )
    )
    second = runtime.ledger.append(AppendRequest("evidence", b"beta", "application/octet-stream"))
    one = runtime.ledger.entry(first.index)
    two = runtime.ledger.entry(second.index)
    envelope = json.loads(one.envelope)
    assert envelope["v"] == 1
    assert envelope["index"] == first.index
    assert envelope["prev"] == "0" * 64
    assert envelope["payload"] == {
        "media_type": "text/plain",
        "size": 5,
        "sha256": hashlib.sha256(b"alpha").hexdigest(),
    }
    assert envelope["subjects"] == [{"name": "model-a"}]
    assert envelope["note"] == "x"
    assert envelope["received_at"].endswith("Z")
    assert json.loads(two.envelope)["prev"] == one.leaf_hash.hex()
    assert merkle.leaf_hash(one.envelope) == one.leaf_hash == first.leaf_hash
    # Stored exactly as canonical JSON: sorted keys, no whitespace.
    assert one.envelope == json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def test_repeat_returns_the_original_receipt(runtime: Runtime) -> None:
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    original = runtime.ledger.append(AppendRequest("evidence", b"same bytes", "text/plain"))
    _append_many(runtime.ledger, 50)
    again = runtime.ledger.append(AppendRequest("evidence", b"same bytes", "text/plain"))
    assert again.duplicate is True
    assert (again.index, again.leaf_hash, again.tree_size, again.checkpoint) == (
        original.index,
        original.leaf_hash,
        original.tree_size,
        original.checkpoint,
    )
    assert again.inclusion_proof == original.inclusion_proof
    _verify_receipt(again, verifier)
    assert runtime.ledger.head()[0] == 51


def test_duplicates_inside_one_batch_become_one_entry(runtime: Runtime) -> None:
    futures = [
        runtime.ledger.submit(AppendRequest("evidence", b"retry me", "text/plain"))
        for _ in range(6)
    ]
    receipts = [f.result(timeout=30) for f in futures]
    assert {r.index for r in receipts} == {0}
    assert sum(not r.duplicate for r in receipts) == 1
    assert runtime.ledger.head()[0] == 1


def test_explicit_idempotency_key(runtime: Runtime) -> None:
    first = runtime.ledger.append(
        AppendRequest("evidence", b"v1", "text/plain", idempotency_key="ticket-7")
    )
    same = runtime.ledger.append(
        AppendRequest("evidence", b"v1", "text/plain", idempotency_key="ticket-7")
    )
    assert same.index == first.index
    assert same.duplicate
    with pytest.raises(Conflict, match="different payload"):
        runtime.ledger.append(
            AppendRequest("evidence", b"v2", "text/plain", idempotency_key="ticket-7")
        )
    # Keys are scoped by kind; the same bytes under another key are a new entry.
    other = runtime.ledger.append(
        AppendRequest("evidence", b"v1", "text/plain", idempotency_key="ticket-8")
    )
    assert other.index == first.index + 1
    assert runtime.ledger.head()[0] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "Bad Kind"}, "invalid entry kind"),
        ({"media_type": "not a type"}, "invalid media type"),
        ({"subjects": [{"sha256": "abc"}]}, "64 lowercase hex"),
        ({"subjects": [{"colour": "red"}]}, "unknown subject type"),
        ({"subjects": [{"name": "a", "sha256": "b"}]}, "exactly one"),
        ({"fields": {"index": 3}}, "reserved envelope names"),
        ({"fields": {"x": 2**60}}, "canonicalisable"),
        ({"fields": {"x": float("nan")}}, "canonicalisable"),
    ],
)
def test_invalid_appends_are_rejected_and_change_nothing(
    runtime: Runtime, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"kind": "evidence", "payload": b"x", "media_type": "text/plain"}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        runtime.ledger.append(AppendRequest(**args))  # type: ignore[arg-type]
    assert runtime.ledger.head()[0] == 0


def test_consistency_between_every_pair_of_checkpoints(runtime: Runtime) -> None:
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    sizes: list[int] = []
    for batch in (1, 3, 9, 2, 17, 1):
        _append_many(runtime.ledger, batch, start=sum(sizes) if sizes else 0)
        sizes.append(runtime.ledger.head()[0])
    roots = {size: verifier.verify(runtime.ledger.checkpoint(size)).root for size in sizes}
    for old in sizes:
        assert runtime.ledger.root_at(old) == roots[old]
        for new in sizes:
            if old <= new:
                proof = runtime.ledger.consistency_proof(old, new)
                merkle.verify_consistency(old, new, roots[old], roots[new], proof)
    for index in range(sizes[-1]):
        proof = runtime.ledger.inclusion_proof(index, sizes[-1])
        leaf = runtime.ledger.entry(index).leaf_hash
        merkle.verify_inclusion(leaf, index, sizes[-1], proof, roots[sizes[-1]])


def test_batched_inclusion_proofs_are_the_single_ones(runtime: Runtime) -> None:
    _append_many(runtime.ledger, 77)
    for size in (1, 2, 64, 77):
        indexes = sorted({0, size // 3, size // 2, size - 1})
        batched = runtime.ledger.inclusion_proofs(indexes, size)
        assert list(batched) == indexes
        for index in indexes:
            assert batched[index] == runtime.ledger.inclusion_proof(index, size)
    with pytest.raises(InputError):
        runtime.ledger.inclusion_proofs([0, 77], 77)
    with pytest.raises(NotFound):
        runtime.ledger.inclusion_proofs([0], 78)


def test_reads_reject_impossible_requests(runtime: Runtime) -> None:
    _append_many(runtime.ledger, 3)
    with pytest.raises(NotFound):
        runtime.ledger.entry(3)
    with pytest.raises(NotFound):
        runtime.ledger.inclusion_proof(0, 4)
    with pytest.raises(InputError):
        runtime.ledger.inclusion_proof(3, 3)
    with pytest.raises(InputError):
        runtime.ledger.consistency_proof(3, 2)
    with pytest.raises(NotFound, match="no checkpoint for tree size 2"):
        runtime.ledger.checkpoint(2)


def test_subject_index(runtime: Runtime) -> None:
    digest = hashlib.sha256(b"model weights").hexdigest()
    a = runtime.ledger.append(
        AppendRequest("evidence", b"a", "text/plain", subjects=[{"sha256": digest}])
    )
    runtime.ledger.append(
        AppendRequest("trust-config", b"b", "text/plain", subjects=[{"sha256": digest}])
    )
    assert runtime.ledger.indexes_for_subject({"sha256": digest}) == [0, 1]
    assert runtime.ledger.indexes_for_subject({"sha256": digest}, "evidence") == [a.index]


def test_unindexed_kinds_keep_subjects_in_the_envelope_only(runtime: Runtime) -> None:
    """OpenLineage events (which the lineage tables index) name their subjects in the envelope
    but add no rows to the subject index; other kinds with the same subject still do."""
    subject = {"name": "dataset:warehouse:orders"}
    event = json.dumps(
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-01-01T00:00:00Z",
            "run": {"runId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
            "job": {"namespace": "warehouse", "name": "load"},
            "outputs": [{"namespace": "warehouse", "name": "orders"}],
            "producer": "https://example.com/producer",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        }
    ).encode()
    lineage = runtime.ledger.append(
        AppendRequest("openlineage", event, "application/json", subjects=[subject])
    )
    other = runtime.ledger.append(
        AppendRequest("evidence", b"report", "text/plain", subjects=[subject])
    )
    envelope = json.loads(runtime.ledger.entry(lineage.index).envelope)
    assert envelope["subjects"] == [subject]
    assert runtime.ledger.indexes_for_subject(subject) == [other.index]
    with runtime.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT subject, idx FROM ledger_subjects").all()
    assert [(str(k), int(i)) for k, i in rows] == [("name:dataset:warehouse:orders", other.index)]


def test_saturated_writer_answers_unavailable(tmp_path: Path) -> None:
    """With the database write-locked, the queue fills and further appends get Unavailable."""
    db = tmp_path / "g.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        signing_key_file=tmp_path / "key",
        append_queue_size=4,
        append_max_batch=1,
        append_timeout_seconds=0.5,
    )
    runtime = Runtime.open(settings, migrate=True)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        accepted = []
        rejected = None
        for i in range(100):
            try:
                accepted.append(
                    runtime.ledger.submit(AppendRequest("evidence", f"{i}".encode(), "text/plain"))
                )
            except Unavailable as exc:
                rejected = exc
                break
        assert rejected is not None
        assert "saturated" in rejected.message
        assert 4 <= len(accepted) <= 6
        with pytest.raises(Unavailable):
            runtime.ledger.append(AppendRequest("evidence", b"late", "text/plain"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Once the lock is gone, everything that was accepted commits; nothing is lost.
    receipts = [f.result(timeout=60) for f in accepted]
    assert runtime.ledger.head()[0] >= len(receipts)
    runtime.close()


def test_writer_survives_a_failed_batch(runtime: Runtime, database: object) -> None:
    """A batch that cannot commit fails its callers with Unavailable; later batches succeed."""
    ok = runtime.ledger.append(AppendRequest("evidence", b"before", "text/plain"))
    original = runtime.ledger._writer._integrate

    def failing_once(batch: list[object]) -> object:
        runtime.ledger._writer._integrate = original  # type: ignore[method-assign]
        raise RuntimeError("disk on fire")

    runtime.ledger._writer._integrate = failing_once  # type: ignore[assignment,method-assign]
    with pytest.raises(Unavailable, match="retry"):
        runtime.ledger.append(AppendRequest("evidence", b"during", "text/plain"))
    after = runtime.ledger.append(AppendRequest("evidence", b"during", "text/plain"))
    assert after.index == ok.index + 1


def _mark(runtime: Runtime) -> str:
    return "%s" if runtime.engine.dialect.name == "postgresql" else "?"


def _namespaces(runtime: Runtime) -> set[str]:
    with runtime.engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT name FROM lineage_namespaces")}


def test_append_hooks_see_each_batch_in_its_transaction(runtime: Runtime) -> None:
    """A hook gets the batch's new entries in index order, with their contexts; its writes
    commit with the entries."""
    seen: list[list[tuple[int, str, bytes, object]]] = []
    mark = _mark(runtime)

    def hook(cursor: Any, postgres: bool, entries: Sequence[AppendedEntry]) -> None:
        assert postgres is (runtime.engine.dialect.name == "postgresql")
        seen.append([(e.index, e.kind, e.payload, e.context) for e in entries])
        for entry in entries:
            cursor.execute(
                f"INSERT INTO lineage_namespaces (name, first_index) VALUES ({mark}, {mark})",
                (f"hooked-{entry.index}", entry.index),
            )

    runtime.ledger.add_hook(hook)
    futures = [
        runtime.ledger.submit(
            AppendRequest("evidence", f"doc {i}".encode(), "text/plain", context={"n": i})
        )
        for i in range(20)
    ]
    receipts = [f.result(timeout=30) for f in futures]
    flat = [item for batch in seen for item in batch]
    assert [i for i, *_ in flat] == [r.index for r in receipts]
    assert [(kind, payload, context) for _, kind, payload, context in flat] == [
        ("evidence", f"doc {i}".encode(), {"n": i}) for i in range(20)
    ]
    assert {f"hooked-{r.index}" for r in receipts} <= _namespaces(runtime)
    # A retry is not a new entry: hooks are not called for it.
    before = len(flat)
    assert runtime.ledger.append(AppendRequest("evidence", b"doc 3", "text/plain")).duplicate
    assert sum(len(b) for b in seen) == before


def test_a_failing_hook_never_loses_an_append(runtime: Runtime) -> None:
    """A hook that raises has its own writes rolled back; the entries commit regardless and
    the hooks after it still run."""
    mark = _mark(runtime)
    calls: list[int] = []

    def failing(cursor: Any, _postgres: bool, entries: Sequence[AppendedEntry]) -> None:
        cursor.execute(
            f"INSERT INTO lineage_namespaces (name, first_index) VALUES ({mark}, {mark})",
            ("rolled-back", entries[0].index),
        )
        raise RuntimeError("derived table is broken")

    def counting(_cursor: Any, _postgres: bool, entries: Sequence[AppendedEntry]) -> None:
        calls.extend(e.index for e in entries)

    runtime.ledger.add_hook(failing)
    runtime.ledger.add_hook(counting)
    receipts = _append_many(runtime.ledger, 5)
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    for receipt in receipts:
        _verify_receipt(receipt, verifier)
        assert runtime.ledger.payload(receipt.index) is not None
    assert calls == [r.index for r in receipts]
    assert "rolled-back" not in _namespaces(runtime)
    assert runtime.ledger.head()[0] == receipts[-1].index + 1


def _temporary_files() -> set[str]:
    """SQLite temporary files this process holds open (they are unlinked at once: ``(deleted)``)."""
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if "etilqs_" in target:
            found.add(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list open files")
def test_hook_savepoint_journal_stays_in_memory(sqlite_database: Database, tmp_path: Path) -> None:
    """On SQLite a hook that rewrites many existing pages journals them for its savepoint in
    memory: no temporary file is created per batch. Readers keep SQLite's default."""
    settings = Settings(
        database_url=sqlite_database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        log_json=False,
    )
    rt = Runtime.open(settings)
    try:
        with rt.engine.begin() as conn:
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) "
                "INSERT INTO lineage_namespaces (name, first_index) "
                "SELECT printf('%0900d', i), 0 FROM n"
            )
        open_during_hook: list[set[str]] = []

        def rewrite_all(cursor: Any, _postgres: bool, entries: Sequence[AppendedEntry]) -> None:
            # ~600 rows of ~1 KB: every page of the table changes inside the savepoint.
            cursor.execute("UPDATE lineage_namespaces SET first_index = ?", (entries[-1].index,))
            open_during_hook.append(_temporary_files())

        rt.ledger.add_hook(rewrite_all)
        _append_many(rt.ledger, 3)
        assert open_during_hook
        assert all(not files for files in open_during_hook)
        with rt.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT MIN(first_index) FROM lineage_namespaces").scalar()
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 0
    finally:
        rt.close()


def test_sqlite_connections_commit_durably_to_a_large_wal(sqlite_database: Database) -> None:
    """Every SQLite connection is in WAL mode with ``synchronous=FULL`` (an acknowledged commit
    survives power loss) and checkpoints only once the WAL holds 10,000 pages."""
    engine = create_db_engine(sqlite_database.url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert autocheckpoint == SQLITE_WAL_AUTOCHECKPOINT_PAGES == 10_000
    finally:
        engine.dispose()


def test_async_appends_are_settled_on_their_loop(runtime: Runtime) -> None:
    """Many coroutines appending at once each get their own receipt; one that gives up (is
    cancelled) does not disturb the others, and its entry still commits."""

    async def scenario() -> tuple[list[Receipt], int]:
        ledger = runtime.ledger
        tasks = [
            asyncio.create_task(
                ledger.append_async(AppendRequest("evidence", f"a{i}".encode(), "text/plain"))
            )
            for i in range(50)
        ]
        quitter = asyncio.create_task(
            ledger.append_async(AppendRequest("evidence", b"quit", "text/plain"))
        )
        await asyncio.sleep(0)
        quitter.cancel()
        receipts = await asyncio.gather(*tasks)
        with pytest.raises(asyncio.CancelledError):
            await quitter
        retry = await ledger.append_async(AppendRequest("evidence", b"quit", "text/plain"))
        return receipts, retry.index

    receipts, quit_index = asyncio.run(scenario())
    verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
    for i, receipt in enumerate(receipts):
        _verify_receipt(receipt, verifier)
        assert runtime.ledger.payload(receipt.index) == f"a{i}".encode()
    assert sorted({r.index for r in receipts} | {quit_index}) == list(range(51))


def test_async_append_that_outlasts_its_timeout_is_unavailable(
    settings: Settings,
) -> None:
    """A waiter that times out gets :class:`Unavailable` (retry with the same key); the entry
    commits anyway, and the retry returns it."""
    runtime = Runtime.open(settings.model_copy(update={"append_timeout_seconds": 0.2}))
    release = threading.Event()

    def slow(_cursor: Any, _postgres: bool, _entries: Sequence[AppendedEntry]) -> None:
        release.wait(5)

    try:
        runtime.ledger.add_hook(slow)

        async def scenario() -> Receipt:
            with pytest.raises(Unavailable, match="retry with the same key"):
                await runtime.ledger.append_async(AppendRequest("evidence", b"slow", "text/plain"))
            release.set()
            return await runtime.ledger.append_async(
                AppendRequest("evidence", b"slow", "text/plain")
            )

        retry = asyncio.run(scenario())
        assert retry.index == 0
        assert retry.duplicate
        assert runtime.ledger.payload(0) == b"slow"
    finally:
        release.set()
        runtime.close()


def test_a_cancelled_submit_costs_no_one_else_their_receipt(runtime: Runtime) -> None:
    """A caller that cancels its future before the commit: the batch commits, everyone else
    gets a receipt, and the writer keeps going."""
    release = threading.Event()

    def hold(_cursor: Any, _postgres: bool, _entries: Sequence[AppendedEntry]) -> None:
        release.wait(5)

    runtime.ledger.add_hook(hold)
    first = runtime.ledger.submit(
        AppendRequest("evidence", b"held", "text/plain")
    )  # the writer waits in it
    batch = [
        runtime.ledger.submit(AppendRequest("evidence", f"b{i}".encode(), "text/plain"))
        for i in range(5)
    ]
    quitter = runtime.ledger.submit(AppendRequest("evidence", b"quit", "text/plain"))
    assert quitter.cancel()
    release.set()
    assert first.result(timeout=10).index == 0
    assert sorted(f.result(timeout=10).index for f in batch) == list(range(1, 6))
    later = runtime.ledger.append(AppendRequest("evidence", b"later", "text/plain"))
    assert later.index == 7
    assert runtime.ledger.append(AppendRequest("evidence", b"quit", "text/plain")).duplicate


def test_the_writer_survives_an_error_after_its_commit(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error once a batch has committed answers its callers "retry" (a retry with
    the same key finds the entry) and the writer goes on with the next batch."""
    settle = BatchWriter._settle
    calls = {"n": 0}

    def broken_once(outcomes: Sequence[Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("metrics backend exploded")
        settle(outcomes)

    monkeypatch.setattr(BatchWriter, "_settle", staticmethod(broken_once))
    with pytest.raises(Unavailable, match="retry with the same key"):
        runtime.ledger.append(AppendRequest("evidence", b"first", "text/plain"))
    retry = runtime.ledger.append(AppendRequest("evidence", b"first", "text/plain"))
    assert retry.duplicate
    assert retry.index == 0
    assert runtime.ledger.append(AppendRequest("evidence", b"second", "text/plain")).index == 1


def test_postgres_writers_plan_each_statement_with_its_values(
    pg_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the service's connections (the ledger writer with its hooks, the
    projection's catch-up, readers) plan every statement with its actual values: a generic plan
    cached while a table was nearly empty would keep scanning it whole as it grows."""
    settings = Settings(
        database_url=pg_database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        log_json=False,
    )
    rt = Runtime.open(settings)
    seen: list[str] = []

    def show(cursor: Any) -> None:
        cursor.execute("SHOW plan_cache_mode")
        seen.append(str(cursor.fetchone()[0]))

    try:
        rt.ledger.add_hook(lambda cursor, _postgres, _entries: show(cursor))
        rt.ledger.append(AppendRequest("evidence", b"planned", "text/plain"))
        # Catch-up: entries appended by a ledger without the projection hook.
        rt.projections.stop()
        applied = LineageProjection.apply

        def spying(self: LineageProjection, batch: ProjectionBatch) -> None:
            show(batch.cursor)
            applied(self, batch)

        monkeypatch.setattr(LineageProjection, "apply", spying)
        event = json.dumps(
            {
                "eventType": "COMPLETE",
                "eventTime": "2026-01-01T00:00:00Z",
                "run": {"runId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"},
                "job": {"namespace": "plans", "name": "load"},
                "producer": "https://example.com/producer",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            }
        ).encode()
        with Ledger(rt.engine, rt.signer) as hookless:
            hookless.append(AppendRequest("openlineage", event, "application/json"))
        assert rt.projections.behind()
        rt.projections.catch_up()
        assert not rt.projections.behind()
        assert seen[0] == "force_custom_plan"  # the writer, in its batch
        assert seen[-1] == "force_custom_plan"  # the catch-up transaction
        with rt.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
    finally:
        rt.close()
