"""The ledger's writer: one thread per process that commits queued appends in batches.

Each batch is one transaction that holds the ledger's write lock — ``BEGIN IMMEDIATE`` on SQLite,
an advisory lock plus the head row ``FOR UPDATE`` on PostgreSQL — so any number of processes can
append to one PostgreSQL database and still produce one gapless chain. Indexes come from the head
row, never from a sequence (sequences leave gaps). The append hooks (the projections) run inside
the same transaction, each in a savepoint. A caller's future is settled only after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from governance import timefmt
from governance.errors import Conflict, IntegrityError, Unavailable
from governance.ledger import merkle
from governance.ledger.checkpoint import Checkpoint, NoteSigner
from governance.ledger.entries import (
    AppendedEntry,
    PreparedEntry,
    Receipt,
    envelope_bytes,
    subject_key,
)
from governance.metrics import Metrics
from governance.sql import Dialect

log = logging.getLogger(__name__)

#: First half of the PostgreSQL advisory lock that makes one process at a time the integrator;
#: the second half is the schema's hash, so ledgers in different schemas do not wait on each other.
ADVISORY_LOCK_CLASS = 0x676F76  # "gov"

_STOP = object()

#: Called by the writer inside the batch's transaction, after the entries are written and before
#: the commit, with the batch's DBAPI cursor, whether it is PostgreSQL, and the new entries in
#: index order. A hook keeps derived tables in step with the ledger at no extra commit. It runs
#: inside a savepoint: if it raises, its writes are rolled back, the error is logged and the
#: entries still commit (a hook can never lose an append).
AppendHook = Callable[[Any, bool, Sequence[AppendedEntry]], None]


@dataclass(slots=True)
class _Pending:
    entry: PreparedEntry
    future: Future[Receipt] = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    # Set by append_async: the future it awaits on its event loop.
    waiter: asyncio.Future[Receipt] | None = None


def _settle_waiters(settled: list[tuple[asyncio.Future[Receipt], Receipt | Exception]]) -> None:
    """Hand outcomes to awaiting coroutines (on their loop); a caller that gave up is skipped."""
    for waiter, outcome in settled:
        if waiter.done():
            continue
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


class BatchWriter:
    """Queues prepared entries and commits them in batches from one thread.

    ``receipt_of`` reads the receipt of an entry that is already committed (a retry's answer).
    """

    def __init__(
        self,
        engine: Engine,
        signer: NoteSigner,
        receipt_of: Callable[[int], Receipt],
        *,
        max_batch: int,
        queue_size: int,
        metrics: Metrics | None,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._receipt_of = receipt_of
        self._dialect = Dialect.of(engine)
        self._max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._metrics = metrics
        self._thread: threading.Thread | None = None
        self._writer_conn: Any = None
        self._lock = threading.Lock()
        # Root of the newest checkpoint this process has seen, so each batch can cheaply confirm
        # that the head it extends is the one that was signed.
        self._signed: tuple[int, bytes] | None = None
        #: The largest tree size this process has committed.
        self.committed_size = 0
        self._hooks: list[AppendHook] = []
        # Held by the writer around each SQLite transaction. Other writers of the same database
        # in this process take it too, so they queue here instead of in SQLite's busy handler
        # (which sleeps in steps of up to 100 ms).
        self.write_lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Commit what is queued, then stop the thread and release its connection."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join()
        if self._writer_conn is not None:
            if not self._dialect.postgres:
                with suppress(Exception):
                    self._writer_conn.cursor().execute("PRAGMA temp_store=DEFAULT")
            self._writer_conn.close()
            self._writer_conn = None

    def add_hook(self, hook: AppendHook) -> None:
        """Run ``hook`` in every batch's transaction from now on (see :data:`AppendHook`)."""
        self._hooks.append(hook)

    def enqueue(
        self, entry: PreparedEntry, waiter: asyncio.Future[Receipt] | None = None
    ) -> Future[Receipt]:
        """Queue ``entry``; the future resolves once it is committed.

        Raises :class:`Unavailable` when the writer is not running or the queue is full.
        """
        if self._thread is None or not self._thread.is_alive():
            raise Unavailable("the ledger writer is not running")
        pending = _Pending(entry, waiter=waiter)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise Unavailable("the ledger is saturated; retry shortly", retry_after=1) from None
        return pending.future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch: list[_Pending] = [item]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._commit_batch(batch)
            except Exception:
                # Nothing may stop the writer: every later append would wait for it in vain.
                # Whatever committed is found again by a retry with the same key.
                log.exception("ledger batch of %d: unexpected error after the commit", len(batch))
                failure = Unavailable("the append's outcome is unknown; retry with the same key")
                self._settle([(pending, failure) for pending in batch])

    def _integrate_locked(
        self, batch: list[_Pending]
    ) -> list[tuple[_Pending, Receipt | Exception]]:
        if self._dialect.postgres:
            return self._integrate(batch)
        with self.write_lock:
            return self._integrate(batch)

    def _commit_batch(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            outcomes = self._integrate_locked(batch)
        except IntegrityError as exc:
            # The stored ledger contradicts itself: no entry may be appended to it.
            log.exception("ledger batch of %d failed; nothing from it was committed", len(batch))
            self._drop_writer_conn()
            self._settle([(pending, exc) for pending in batch])
            return
        except Exception:
            if len(batch) == 1:
                log.exception(
                    "a ledger entry of kind %s could not be committed", batch[0].entry.kind
                )
                self._drop_writer_conn()
                self._settle([(batch[0], Unavailable("ledger write failed; retry"))])
                return
            # One entry the database refuses must not cost the others their append: the batch
            # rolled back as a whole, so each entry is tried again in a transaction of its own.
            log.warning(
                "ledger batch of %d failed; committing its entries one by one",
                len(batch),
                exc_info=True,
            )
            self._drop_writer_conn()
            outcomes = [self._commit_alone(pending) for pending in batch]
        now = time.perf_counter()
        appended: dict[str, int] = {}
        duplicates = 0
        for _pending, outcome in outcomes:
            if isinstance(outcome, Exception):
                continue
            if outcome.duplicate:
                duplicates += 1
            else:
                appended[outcome.kind] = appended.get(outcome.kind, 0) + 1
        self._settle(outcomes)
        metrics = self._metrics
        if metrics is not None:
            metrics.commit_seconds.observe(now - started)
            metrics.batch_size.observe(len(batch))
            for kind, count in appended.items():
                metrics.appends.labels(kind).inc(count)
            if duplicates:
                metrics.duplicates.inc(duplicates)
            for pending in batch:
                metrics.append_seconds.observe(now - pending.submitted)

    def _commit_alone(self, pending: _Pending) -> tuple[_Pending, Receipt | Exception]:
        try:
            (outcome,) = self._integrate_locked([pending])
        except IntegrityError as exc:
            self._drop_writer_conn()
            return pending, exc
        except Exception:
            log.exception("a ledger entry of kind %s could not be committed", pending.entry.kind)
            self._drop_writer_conn()
            return pending, Unavailable("ledger write failed; retry")
        return outcome

    @staticmethod
    def _settle(outcomes: Sequence[tuple[_Pending, Receipt | Exception]]) -> None:
        """Resolve each entry's future, and wake each waiting event loop once for the batch."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for pending, outcome in outcomes:
            # A caller may have cancelled its future; that must not cost the others theirs
            # (nor the writer thread its life).
            with suppress(InvalidStateError):
                if isinstance(outcome, Exception):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)
            if pending.waiter is not None:
                by_loop.setdefault(pending.waiter.get_loop(), []).append((pending.waiter, outcome))
        for loop, settled in by_loop.items():
            # A loop that has closed has no one left waiting.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_waiters, settled)

    def _connection(self) -> Any:
        if self._writer_conn is None:
            conn = self._engine.raw_connection()
            if not self._dialect.postgres:
                # The append hooks' savepoint journals every page a hook changes; in a file
                # (SQLite's default) that is a temporary file created, written and deleted for
                # every batch. This connection is the writer's alone, so its few hundred KiB
                # per batch stay in memory.
                conn.cursor().execute("PRAGMA temp_store=MEMORY")
            self._writer_conn = conn
        return self._writer_conn

    def _drop_writer_conn(self) -> None:
        if self._writer_conn is not None:
            try:
                self._writer_conn.rollback()
                self._writer_conn.invalidate()
            except Exception:  # noqa: BLE001, S110 - the connection is being discarded anyway
                pass
            self._writer_conn = None

    def _integrate(self, batch: list[_Pending]) -> list[tuple[_Pending, Receipt | Exception]]:
        """Assign indexes, write entries, payloads, nodes, checkpoint and head in one transaction.

        1. Take the write lock and read the head row.
        2. Confirm the head's frontier gives its root, and that root is the newest signed one.
        3. Split the batch into new entries and retries of existing ones (idempotency keys).
        4. Build each envelope (with ``prev``), its leaf, and every subtree the leaf completes.
        5. Insert everything, sign the new root, update the head, commit.
        6. Build receipts: inclusion proofs come from the old frontier and the new subtrees.
        """
        d = self._dialect
        conn = self._connection()
        cur = conn.cursor()
        groups: dict[bytes, list[_Pending]] = {}
        for pending in batch:
            groups.setdefault(pending.entry.idem, []).append(pending)
        head_sql = "SELECT size, root, frontier, last_leaf FROM ledger_head WHERE id = 1"
        idem_sql = d.sql(
            "SELECT idem, idx, envelope FROM ledger_entries "  # noqa: S608 - placeholders only
            f"WHERE idem IN ({d.marks(len(groups))})"
        )
        try:
            if d.postgres:
                # Lock, head and the retries' lookup in one round trip (they run in order).
                with conn.cursor() as head_cur, conn.cursor() as idem_cur, conn.pipeline():
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                        (ADVISORY_LOCK_CLASS,),
                    )
                    head_cur.execute(head_sql + " FOR UPDATE")
                    idem_cur.execute(idem_sql, list(groups))
                    row = head_cur.fetchone()
                    found = idem_cur.fetchall()
            else:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(head_sql)
                row = cur.fetchone()
                cur.execute(idem_sql, list(groups))
                found = cur.fetchall()
            if row is None:
                raise IntegrityError("the ledger head row is missing; run `governance db upgrade`")
            size, root, frontier_bytes, last_leaf = int(row[0]), bytes(row[1]), row[2], row[3]
            frontier = merkle.Frontier.from_bytes(size, bytes(frontier_bytes))
            if frontier.root() != root:
                raise IntegrityError("the ledger head's frontier does not produce its root")
            self._confirm_signed(cur, size, root)
            existing = {bytes(r[0]): (int(r[1]), bytes(r[2])) for r in found}

            old_frontier = frontier.copy()
            received_at = timefmt.now()
            prev = bytes(last_leaf)
            entry_rows: list[tuple[int, str, bytes, bytes]] = []
            payload_rows: list[tuple[int, bytes]] = []
            subject_rows: list[tuple[str, int]] = []
            node_rows: list[tuple[int, bytes]] = []
            assigned: dict[bytes, tuple[int, bytes]] = {}
            appended: list[AppendedEntry] = []
            for idem, group in groups.items():
                if idem in existing:
                    continue
                first = group[0].entry
                index = frontier.size
                envelope = envelope_bytes(first, index, prev, received_at)
                leaf = merkle.leaf_hash(envelope)
                for level, position, digest in frontier.append(leaf):
                    node_id = merkle.node_position(level, position)
                    node_rows.append((node_id, digest))
                entry_rows.append((index, first.kind, envelope, idem))
                payload_rows.append((index, first.payload))
                if first.subject_indexed:
                    subject_rows.extend((subject_key(s), index) for s in first.subjects)
                assigned[idem] = (index, leaf)
                if self._hooks:
                    appended.append(
                        AppendedEntry(index, first.kind, first.payload, first.context, envelope)
                    )
                prev = leaf

            note = None
            if entry_rows:
                new_root = frontier.root()
                note = self._signer.sign(Checkpoint(self._signer.name, frontier.size, new_root))
                # On PostgreSQL the inserts go out in one pipeline: one round trip, not six.
                with cur.connection.pipeline() if d.postgres else nullcontext():
                    cur.executemany(
                        d.sql(
                            "INSERT INTO ledger_entries (idx, kind, envelope, idem) "
                            "VALUES (?,?,?,?)"
                        ),
                        entry_rows,
                    )
                    cur.executemany(
                        d.sql("INSERT INTO ledger_payloads (idx, data) VALUES (?,?)"),
                        payload_rows,
                    )
                    cur.executemany(
                        d.sql("INSERT INTO ledger_nodes (id, hash) VALUES (?,?)"), node_rows
                    )
                    if subject_rows:
                        cur.executemany(
                            d.sql("INSERT INTO ledger_subjects (subject, idx) VALUES (?,?)"),
                            subject_rows,
                        )
                    cur.execute(
                        d.sql(
                            "INSERT INTO ledger_checkpoints (size, root, note, created_at) "
                            "VALUES (?,?,?,?)"
                        ),
                        (frontier.size, new_root, note, received_at),
                    )
                    cur.execute(
                        d.sql(
                            "UPDATE ledger_head SET size = ?, root = ?, frontier = ?, "
                            "last_leaf = ? WHERE id = 1"
                        ),
                        (frontier.size, new_root, frontier.to_bytes(), prev),
                    )
                for hook in self._hooks:
                    self._run_hook(cur, hook, appended)
            if d.postgres:
                conn.commit()
            else:
                cur.execute("COMMIT")
        except BaseException:
            if not d.postgres:
                # The original error is what matters; a failed rollback adds nothing.
                with suppress(Exception):
                    cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

        if note is not None:
            self._signed = (frontier.size, frontier.root())
            self.committed_size = max(self.committed_size, frontier.size)

        try:
            proofs = merkle.batch_inclusion_proofs(old_frontier, [r[1] for r in assigned.values()])
        except Exception:
            log.exception("receipts for entries %d.. could not be built", old_frontier.size)
            proofs = []
        outcomes: list[tuple[_Pending, Receipt | Exception]] = []
        for idem, group in groups.items():
            if idem in assigned:
                index, leaf = assigned[idem]
                try:
                    proof = proofs[index - old_frontier.size]
                except IndexError:
                    # Committed, so never report it as lost: a retry with the same key returns
                    # the entry's receipt.
                    log.exception("entry %d committed but its receipt could not be built", index)
                    failure = Unavailable(
                        f"entry {index} was committed but its receipt could not be built; "
                        "retry with the same idempotency key to get it"
                    )
                    outcomes.extend((p, failure) for p in group)
                    continue
                receipt = Receipt(
                    index=index,
                    kind=group[0].entry.kind,
                    leaf_hash=leaf,
                    payload_sha256=group[0].entry.payload_sha256,
                    tree_size=frontier.size,
                    checkpoint=note or "",
                    inclusion_proof=tuple(proof),
                )
                outcomes.append((group[0], receipt))
                rest = group[1:]
            else:
                index, envelope = existing[idem]
                try:
                    receipt = self._receipt_of(index)
                except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                    outcomes.extend((p, exc) for p in group)
                    continue
                rest = group
            for pending in rest:
                if pending.entry.payload_sha256 != receipt.payload_sha256:
                    outcomes.append(
                        (
                            pending,
                            Conflict(
                                f"idempotency key already used for entry {receipt.index} "
                                "with a different payload"
                            ),
                        )
                    )
                else:
                    outcomes.append((pending, receipt.as_duplicate()))
        return outcomes

    def _run_hook(self, cur: Any, hook: AppendHook, appended: list[AppendedEntry]) -> None:
        cur.execute("SAVEPOINT ledger_hook")
        try:
            hook(cur, self._dialect.postgres, appended)
        except Exception:
            log.exception(
                "append hook %r failed for entries %d..%d; the entries commit without it",
                hook,
                appended[0].index,
                appended[-1].index,
            )
            cur.execute("ROLLBACK TO SAVEPOINT ledger_hook")
        cur.execute("RELEASE SAVEPOINT ledger_hook")

    def _confirm_signed(self, cur: Any, size: int, root: bytes) -> None:
        # Never sign a root that does not extend the previous one: the head we extend must be
        # exactly the newest signed checkpoint (or the empty tree).
        if size == 0:
            return
        if self._signed is not None and self._signed[0] == size:
            signed_root = self._signed[1]
        else:
            cur.execute(
                self._dialect.sql("SELECT root FROM ledger_checkpoints WHERE size = ?"), (size,)
            )
            row = cur.fetchone()
            if row is None:
                raise IntegrityError(f"no signed checkpoint for the head size {size}")
            signed_root = bytes(row[0])
        if signed_root != root:
            raise IntegrityError(f"the head root at size {size} differs from its checkpoint")
