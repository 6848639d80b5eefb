"""The ledger store: group-committed appends, signed checkpoints, and proofs read from the database.

Appends are queued and committed in batches by one writer thread per process. Each batch runs in one
transaction that holds the ledger's write lock — ``BEGIN IMMEDIATE`` on SQLite, an advisory lock
plus the head row ``FOR UPDATE`` on PostgreSQL — so any number of processes can append to one
PostgreSQL database and still produce one gapless chain. Indexes come from the head row, never from
a sequence (sequences leave gaps). A caller gets its receipt only after the batch has committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from governance import timefmt
from governance.errors import (
    Conflict,
    InputError,
    IntegrityError,
    NotFound,
    Unavailable,
)
from governance.ledger import merkle
from governance.ledger.canonical import canonical_json
from governance.ledger.checkpoint import Checkpoint, NoteSigner
from governance.metrics import Metrics
from governance.sql import Dialect

log = logging.getLogger(__name__)

#: First half of the PostgreSQL advisory lock that makes one process at a time the integrator;
#: the second half is the schema's hash, so ledgers in different schemas do not wait on each other.
ADVISORY_LOCK_CLASS = 0x676F76  # "gov"

#: Envelope fields the ledger owns; kind-specific fields may not use these names.
RESERVED_FIELDS = frozenset({"v", "index", "kind", "prev", "received_at", "payload", "subjects"})

ENVELOPE_VERSION = 1

_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_MEDIA_TYPE = re.compile(r"^[\x21-\x7e]+/[\x21-\x7e]+(\s*;[\x20-\x7e]*)?$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_STOP = object()


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an entry is in the ledger: its leaf, a signed checkpoint, its inclusion path."""

    index: int
    kind: str
    leaf_hash: bytes
    payload_sha256: str
    tree_size: int
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The receipt as the API returns it."""
        return {
            "index": self.index,
            "kind": self.kind,
            "leaf_hash": self.leaf_hash.hex(),
            "sha256": self.payload_sha256,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One stored entry as read back: envelope bytes exactly as hashed, and its payload state."""

    index: int
    kind: str
    envelope: bytes
    leaf_hash: bytes
    payload_sha256: str
    media_type: str
    erased: bool


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry a batch is about to commit, as handed to an :data:`AppendHook`."""

    index: int
    kind: str
    payload: bytes
    #: What the submitter attached to the append (e.g. the already parsed document), or None.
    context: Any = None


#: Called by the writer inside the batch's transaction, after the entries are written and before
#: the commit, with the batch's DBAPI cursor, whether it is PostgreSQL, and the new entries in
#: index order. A hook keeps derived tables in step with the ledger at no extra commit. It runs
#: inside a savepoint: if it raises, its writes are rolled back, the error is logged and the
#: entries still commit (a hook can never lose an append).
AppendHook = Callable[[Any, bool, Sequence[AppendedEntry]], None]


@dataclass(slots=True)
class _Pending:
    kind: str
    payload: bytes
    media_type: str
    subjects: list[dict[str, str]]
    fields: dict[str, Any]
    idem: bytes
    payload_sha256: str
    context: Any = None
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


def _idempotency_digest(kind: str, key: str) -> bytes:
    return hashlib.sha256(kind.encode() + b"\n" + key.encode()).digest()


def _validate_subjects(subjects: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    result = []
    for position, subject in enumerate(subjects):
        if len(subject) != 1:
            raise InputError(f"subject {position} must have exactly one of 'sha256' or 'name'")
        ((key, value),) = subject.items()
        if key == "sha256":
            if not isinstance(value, str) or not _HEX64.match(value):
                raise InputError(f"subject {position}: sha256 must be 64 lowercase hex digits")
        elif key == "name":
            if not isinstance(value, str) or not 0 < len(value) <= 1024:
                raise InputError(f"subject {position}: name must be 1-1024 characters")
        else:
            raise InputError(f"subject {position}: unknown subject type {key!r}")
        result.append({key: value})
    return result


def subject_key(subject: Mapping[str, str]) -> str:
    """The indexed form of a subject: ``sha256:<hex>`` or ``name:<name>``."""
    ((key, value),) = subject.items()
    return f"{key}:{value}"


class Ledger:
    """Appends entries and serves checkpoints and proofs. One instance per process and database.

    Every entry's subjects are in its envelope. They are also written to the subject index
    (``ledger_subjects``, read by :meth:`indexes_for_subject`) unless the entry's kind is one
    of ``unindexed_kinds``: kinds that a projection indexes better and that arrive in volume
    (OpenLineage events, whose job, run and datasets the lineage tables index). Each subject
    row is a random insert into a large index, which costs a page write per row per commit.
    """

    def __init__(
        self,
        engine: Engine,
        signer: NoteSigner,
        *,
        max_batch: int = 1000,
        queue_size: int = 20_000,
        append_timeout: float = 30.0,
        metrics: Metrics | None = None,
        unindexed_kinds: Collection[str] = (),
    ) -> None:
        self._engine = engine
        # Kinds whose entries a projection indexes instead (see the class docstring).
        self._unindexed_kinds = frozenset(unindexed_kinds)
        self._signer = signer
        self._dialect = Dialect.of(engine)
        self._max_batch = max_batch
        self._append_timeout = append_timeout
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._metrics = metrics
        self._writer: threading.Thread | None = None
        self._writer_conn: Any = None
        self._lock = threading.Lock()
        # Root of the newest checkpoint this process has seen, so each batch can cheaply confirm
        # that the head it extends is the one that was signed.
        self._signed: tuple[int, bytes] | None = None
        self._known_size = 0
        self._hooks: list[AppendHook] = []
        # Held by the writer around each SQLite transaction. Other writers of the same database
        # in this process take it too, so they queue here instead of in SQLite's busy handler
        # (which sleeps in steps of up to 100 ms).
        self.write_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    @property
    def origin(self) -> str:
        """The checkpoint origin line (also the signing key's name)."""
        return self._signer.name

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key string for this ledger's checkpoints."""
        return self._signer.verifier_key

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._run_writer, name="ledger-writer", daemon=True
                )
                self._writer.start()

    def close(self) -> None:
        """Commit what is queued, then stop the writer and release its connection."""
        with self._lock:
            writer = self._writer
            self._writer = None
        if writer is not None and writer.is_alive():
            self._queue.put(_STOP)
            writer.join()
        if self._writer_conn is not None:
            if not self._dialect.postgres:
                with suppress(Exception):
                    self._writer_conn.cursor().execute("PRAGMA temp_store=DEFAULT")
            self._writer_conn.close()
            self._writer_conn = None

    def __enter__(self) -> Ledger:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add_hook(self, hook: AppendHook) -> None:
        """Run ``hook`` in every batch's transaction from now on (see :data:`AppendHook`)."""
        self._hooks.append(hook)

    # ------------------------------------------------------------------ appending

    def submit(
        self,
        kind: str,
        payload: bytes,
        media_type: str,
        subjects: Sequence[Mapping[str, str]] = (),
        fields: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        context: Any = None,
    ) -> Future[Receipt]:
        """Validate and queue an append; the future resolves once the entry is committed.

        ``context`` is handed to the append hooks with the entry (it is not stored). Raises
        :class:`InputError` for invalid arguments and :class:`Unavailable` when the queue is
        full (the caller should retry later). Nothing is queued when either is raised.
        """
        return self._enqueue(
            kind, payload, media_type, subjects, fields, idempotency_key, context
        ).future

    def _enqueue(
        self,
        kind: str,
        payload: bytes,
        media_type: str,
        subjects: Sequence[Mapping[str, str]],
        fields: Mapping[str, Any] | None,
        idempotency_key: str | None,
        context: Any,
        waiter: asyncio.Future[Receipt] | None = None,
    ) -> _Pending:
        if not _KIND.match(kind):
            raise InputError(f"invalid entry kind {kind!r}")
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise InputError("payload must be bytes")
        payload = bytes(payload)
        if len(media_type) > 255 or not _MEDIA_TYPE.match(media_type):
            raise InputError(f"invalid media type {media_type[:80]!r}")
        checked_subjects = _validate_subjects(subjects)
        extra = dict(fields or {})
        clash = RESERVED_FIELDS.intersection(extra)
        if clash:
            raise InputError(f"fields may not use reserved envelope names: {sorted(clash)}")
        if extra:
            try:
                canonical_json(extra)
            except Exception as exc:
                raise InputError(f"fields are not canonicalisable JSON: {exc}") from exc
        payload_sha = hashlib.sha256(payload).hexdigest()
        if idempotency_key is None:
            idempotency_key = f"sha256:{payload_sha}"
        pending = _Pending(
            kind=kind,
            payload=payload,
            media_type=media_type,
            subjects=checked_subjects,
            fields=extra,
            idem=_idempotency_digest(kind, idempotency_key),
            payload_sha256=payload_sha,
            context=context,
            waiter=waiter,
        )
        if self._writer is None or not self._writer.is_alive():
            raise Unavailable("the ledger writer is not running")
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise Unavailable("the ledger is saturated; retry shortly", retry_after=1) from None
        return pending

    def append(
        self,
        kind: str,
        payload: bytes,
        media_type: str,
        subjects: Sequence[Mapping[str, str]] = (),
        fields: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Append one entry and wait for its receipt (see :meth:`submit`)."""
        future = self.submit(kind, payload, media_type, subjects, fields, idempotency_key)
        try:
            return future.result(timeout=self._append_timeout)
        except TimeoutError:
            raise Unavailable(
                "the append did not commit in time; retry with the same key"
            ) from None

    async def append_async(
        self,
        kind: str,
        payload: bytes,
        media_type: str,
        subjects: Sequence[Mapping[str, str]] = (),
        fields: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        context: Any = None,
    ) -> Receipt:
        """Append from async code without blocking the event loop.

        The writer settles every waiter of a batch on this loop with one wake-up, rather than
        one thread-safe callback per entry.
        """
        waiter: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._enqueue(kind, payload, media_type, subjects, fields, idempotency_key, context, waiter)
        try:
            async with asyncio.timeout(self._append_timeout):
                return await waiter
        except TimeoutError:
            raise Unavailable(
                "the append did not commit in time; retry with the same key"
            ) from None

    # ------------------------------------------------------------------ the writer

    def _run_writer(self) -> None:
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

    def _commit_batch(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            if self._dialect.postgres:
                outcomes = self._integrate(batch)
            else:
                with self.write_lock:
                    outcomes = self._integrate(batch)
        except Exception as exc:
            log.exception("ledger batch of %d failed; nothing from it was committed", len(batch))
            self._drop_writer_conn()
            failure: Exception = (
                exc
                if isinstance(exc, IntegrityError)
                else Unavailable("ledger write failed; retry")
            )
            self._settle([(pending, failure) for pending in batch])
            return
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
            groups.setdefault(pending.idem, []).append(pending)
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
                first = group[0]
                index = frontier.size
                envelope = canonical_json(
                    {
                        **first.fields,
                        "v": ENVELOPE_VERSION,
                        "index": index,
                        "kind": first.kind,
                        "prev": prev.hex(),
                        "received_at": received_at,
                        "payload": {
                            "media_type": first.media_type,
                            "size": len(first.payload),
                            "sha256": first.payload_sha256,
                        },
                        "subjects": first.subjects,
                    }
                )
                leaf = merkle.leaf_hash(envelope)
                for level, position, digest in frontier.append(leaf):
                    node_id = merkle.node_position(level, position)
                    node_rows.append((node_id, digest))
                entry_rows.append((index, first.kind, envelope, idem))
                payload_rows.append((index, first.payload))
                if first.kind not in self._unindexed_kinds:
                    subject_rows.extend((subject_key(s), index) for s in first.subjects)
                assigned[idem] = (index, leaf)
                if self._hooks:
                    appended.append(AppendedEntry(index, first.kind, first.payload, first.context))
                prev = leaf

            note = None
            if entry_rows:
                new_root = frontier.root()
                note = self._signer.sign(Checkpoint(self.origin, frontier.size, new_root))
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
            self._known_size = frontier.size

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
                    kind=group[0].kind,
                    leaf_hash=leaf,
                    payload_sha256=group[0].payload_sha256,
                    tree_size=frontier.size,
                    checkpoint=note or "",
                    inclusion_proof=tuple(proof),
                )
                outcomes.append((group[0], receipt))
                rest = group[1:]
            else:
                index, envelope = existing[idem]
                try:
                    receipt = self.receipt(index)
                except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                    outcomes.extend((p, exc) for p in group)
                    continue
                rest = group
            for pending in rest:
                if pending.payload_sha256 != receipt.payload_sha256:
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
                    outcomes.append((pending, _as_duplicate(receipt)))
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

    # ------------------------------------------------------------------ reading

    @contextmanager
    def _reader(self) -> Iterator[Any]:
        conn = self._engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
                if self._dialect.postgres:
                    conn.rollback()
        finally:
            conn.close()

    def _query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        with self._reader() as cur:
            cur.execute(self._dialect.sql(sql), params)
            return list(cur.fetchall())

    def head(self) -> tuple[int, bytes]:
        """The committed tree size and root."""
        rows = self._query("SELECT size, root FROM ledger_head WHERE id = 1")
        if not rows:
            raise IntegrityError("the ledger head row is missing; run `governance db upgrade`")
        size, root = int(rows[0][0]), bytes(rows[0][1])
        self._known_size = max(self._known_size, size)
        return size, root

    def _require_size(self, size: int) -> None:
        if size > self._known_size:
            self.head()
        if size > self._known_size:
            raise NotFound(f"the ledger has only {self._known_size} entries, not {size}")

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint note for ``size``, or the newest one."""
        if size is None:
            rows = self._query("SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            if not rows:
                raise NotFound("the ledger is empty: no checkpoint has been signed yet")
        else:
            rows = self._query("SELECT note FROM ledger_checkpoints WHERE size = ?", (size,))
            if not rows:
                raise NotFound(
                    f"no checkpoint for tree size {size}",
                    hint="one checkpoint is signed per committed batch; "
                    "list them with `governance ledger export`",
                )
        return str(rows[0][0])

    def checkpoint_covering(self, index: int) -> tuple[int, str]:
        """The first checkpoint whose tree holds ``index``: the one its receipt was issued with."""
        rows = self._query(
            "SELECT size, note FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT 1",
            (index,),
        )
        if not rows:
            raise NotFound(f"no entry {index} in the ledger")
        return int(rows[0][0]), str(rows[0][1])

    def _nodes(self, subtrees: Sequence[merkle.Subtree]) -> dict[int, bytes]:
        ids = [merkle.node_position(level, position) for level, position in subtrees]
        if not ids:
            return {}
        where, value = self._dialect.id_filter("id", ids)
        rows = self._query(f"SELECT id, hash FROM ledger_nodes WHERE {where}", {"ids": value})  # noqa: S608
        found = {int(r[0]): bytes(r[1]) for r in rows}
        if len(found) != len(set(ids)):
            raise IntegrityError("stored Merkle nodes are missing; run `governance ledger audit`")
        return found

    def _lookup(self, ranges: Sequence[tuple[int, int]]) -> merkle.NodeLookup:
        found = self._nodes(merkle.needed_subtrees(ranges))

        def lookup(level: int, position: int) -> bytes:
            return found[merkle.node_position(level, position)]

        return lookup

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        if not 0 <= index < size:
            raise InputError(f"index must satisfy 0 <= index < size (got {index}, {size})")
        self._require_size(size)
        ranges = merkle.inclusion_ranges(index, size)
        return merkle.inclusion_proof(index, size, self._lookup(ranges))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof from tree ``old_size`` to tree ``new_size``."""
        if not 0 <= old_size <= new_size:
            raise InputError(f"sizes must satisfy 0 <= from <= to (got {old_size}, {new_size})")
        self._require_size(new_size)
        ranges = merkle.consistency_ranges(old_size, new_size)
        return merkle.consistency_proof(old_size, new_size, self._lookup(ranges))

    def root_at(self, size: int) -> bytes:
        """The tree root at ``size`` computed from stored subtrees."""
        self._require_size(size)
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.hash_range(0, size, self._lookup([(0, size)]))

    def entry(self, index: int) -> EntryRecord:
        """Read one entry; raises :class:`NotFound` when there is none."""
        if not 0 <= index < 2**63:
            raise NotFound(f"no entry {index} in the ledger")
        rows = self._query(
            "SELECT e.kind, e.envelope, n.hash, p.idx FROM ledger_entries e "
            "LEFT JOIN ledger_nodes n ON n.id = ? "
            "LEFT JOIN ledger_payloads p ON p.idx = e.idx WHERE e.idx = ?",
            (merkle.node_position(0, index), index),
        )
        if not rows:
            raise NotFound(f"no entry {index} in the ledger")
        kind, envelope, leaf, payload_idx = rows[0]
        envelope = bytes(envelope)
        parsed = json.loads(envelope)
        return EntryRecord(
            index=index,
            kind=str(kind),
            envelope=envelope,
            leaf_hash=bytes(leaf) if leaf is not None else merkle.leaf_hash(envelope),
            payload_sha256=str(parsed["payload"]["sha256"]),
            media_type=str(parsed["payload"]["media_type"]),
            erased=payload_idx is None,
        )

    def payload(self, index: int) -> bytes | None:
        """The payload bytes of an entry, or ``None`` once erased."""
        rows = self._query("SELECT data FROM ledger_payloads WHERE idx = ?", (index,))
        return bytes(rows[0][0]) if rows else None

    def indexes_for_subject(self, subject: Mapping[str, str], kind: str | None = None) -> list[int]:
        """Indexes of entries naming ``subject``, oldest first, optionally of one kind.

        Entries of the ledger's ``unindexed_kinds`` are never found here (a projection indexes
        them); their subjects are still in their envelopes.
        """
        key = subject_key(subject)
        if kind is None:
            rows = self._query(
                "SELECT idx FROM ledger_subjects WHERE subject = ? ORDER BY idx", (key,)
            )
        else:
            rows = self._query(
                "SELECT s.idx FROM ledger_subjects s JOIN ledger_entries e ON e.idx = s.idx "
                "WHERE s.subject = ? AND e.kind = ? ORDER BY s.idx",
                (key, kind),
            )
        return [int(r[0]) for r in rows]

    def receipt(self, index: int) -> Receipt:
        """The receipt of an existing entry, against the checkpoint it was first committed under."""
        record = self.entry(index)
        size, note = self.checkpoint_covering(index)
        return Receipt(
            index=index,
            kind=record.kind,
            leaf_hash=record.leaf_hash,
            payload_sha256=record.payload_sha256,
            tree_size=size,
            checkpoint=note,
            inclusion_proof=tuple(self.inclusion_proof(index, size)),
        )

    def erase(self, index: int, reason: str) -> Receipt:
        """Erase an entry's payload (e.g. GDPR Art. 17), recording why as a new entry.

        The erasure entry is appended first, so a crash between the two steps leaves a payload
        that is still present rather than one that vanished without a record; running the erase
        again completes it.
        """
        if not reason.strip():
            raise InputError("an erasure needs a reason")
        record = self.entry(index)
        if record.kind == "erasure":
            raise InputError("erasure entries cannot themselves be erased")
        receipt = self.append(
            "erasure",
            reason.encode(),
            "text/plain; charset=utf-8",
            fields={"erases": index},
            idempotency_key=f"erase:{index}",
        )
        with self._engine.begin() as conn:
            conn.exec_driver_sql(
                self._dialect.sql("DELETE FROM ledger_payloads WHERE idx = ?"), (index,)
            )
        return receipt


def _as_duplicate(receipt: Receipt) -> Receipt:
    return Receipt(
        index=receipt.index,
        kind=receipt.kind,
        leaf_hash=receipt.leaf_hash,
        payload_sha256=receipt.payload_sha256,
        tree_size=receipt.tree_size,
        checkpoint=receipt.checkpoint,
        inclusion_proof=receipt.inclusion_proof,
        duplicate=True,
    )
