"""The ledger: appends through the batch writer, then checkpoints, entries and proofs read back.

:class:`Ledger` is what the rest of the service uses. Appends are :class:`AppendRequest` values,
checked before they are queued and committed by the :class:`~governance.ledger.writer.BatchWriter`
(one thread, group commit; see that module); a caller gets its :class:`Receipt` only after the
batch has committed. Reads (checkpoints, proofs, entries, the subject index) go to the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from governance.errors import InputError, IntegrityError, NotFound, Unavailable
from governance.ledger import kinds, merkle
from governance.ledger.checkpoint import NoteSigner
from governance.ledger.entries import (
    AppendedEntry,
    AppendRequest,
    EntryRecord,
    Receipt,
    Submitter,
    prepare,
    subject_key,
)
from governance.ledger.writer import AppendHook, BatchWriter
from governance.metrics import Metrics
from governance.sql import Dialect, write_transaction

__all__ = [
    "AppendHook",
    "AppendRequest",
    "AppendedEntry",
    "EntryRecord",
    "Ledger",
    "Receipt",
]

log = logging.getLogger(__name__)

#: Runs in the transaction that deletes an erased payload, with its cursor and dialect.
ErasureHook = Callable[[Any, Dialect], None]


class Ledger:
    """Appends entries and serves checkpoints and proofs. One instance per process and database.

    Every entry's subjects are in its envelope. They are also written to the subject index
    (``ledger_subjects``, read by :meth:`indexes_for_subject`) unless the registry says the
    entry's kind is not subject-indexed (:mod:`governance.ledger.kinds`).
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
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._dialect = Dialect.of(engine)
        self._append_timeout = append_timeout
        self._known_size = 0
        self._writer = BatchWriter(
            engine,
            signer,
            self.receipt,
            max_batch=max_batch,
            queue_size=queue_size,
            metrics=metrics,
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def origin(self) -> str:
        """The checkpoint origin line (also the signing key's name)."""
        return self._signer.name

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key string for this ledger's checkpoints."""
        return self._signer.verifier_key

    @property
    def write_lock(self) -> Any:
        """The in-process lock the writer holds around each SQLite transaction.

        Other writers of the same database in this process take it too, so they queue behind
        the ledger writer instead of in SQLite's busy handler.
        """
        return self._writer.write_lock

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        self._writer.start()

    def close(self) -> None:
        """Commit what is queued, then stop the writer and release its connection."""
        self._writer.close()

    def __enter__(self) -> Ledger:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add_hook(self, hook: AppendHook) -> None:
        """Run ``hook`` in every batch's transaction from now on (see :data:`AppendHook`)."""
        self._writer.add_hook(hook)

    # ------------------------------------------------------------------ appending

    def submit(self, request: AppendRequest) -> Future[Receipt]:
        """Check and queue an append; the future resolves once the entry is committed.

        Raises :class:`InputError` for an invalid request and :class:`Unavailable` when the
        queue is full (the caller should retry later). Nothing is queued when either is raised.
        """
        return self._writer.enqueue(prepare(request))

    def append(self, request: AppendRequest) -> Receipt:
        """Append one entry and wait for its receipt (see :meth:`submit`)."""
        future = self.submit(request)
        try:
            return future.result(timeout=self._append_timeout)
        except TimeoutError:
            raise Unavailable(
                "the append did not commit in time; retry with the same key"
            ) from None

    async def append_async(self, request: AppendRequest) -> Receipt:
        """Append from async code without blocking the event loop.

        The writer settles every waiter of a batch on this loop with one wake-up, rather than
        one thread-safe callback per entry.
        """
        waiter: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._writer.enqueue(prepare(request), waiter)
        try:
            async with asyncio.timeout(self._append_timeout):
                return await waiter
        except TimeoutError:
            raise Unavailable(
                "the append did not commit in time; retry with the same key"
            ) from None

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
        self._known_size = max(self._known_size, self._writer.committed_size)
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

    def inclusion_proofs(self, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
        """The inclusion proofs of several entries in the tree of ``size``, with one node query.

        For many entries at once (a report's citations): the nodes the proofs share are read
        once. Callers bound ``indexes`` (a few thousand at a time).
        """
        for index in indexes:
            if not 0 <= index < size:
                raise InputError(f"index must satisfy 0 <= index < size (got {index}, {size})")
        self._require_size(size)
        paths = {index: merkle.inclusion_ranges(index, size) for index in indexes}
        # Proofs in one tree share most of their upper ranges: each is hashed once.
        distinct = list(dict.fromkeys(r for path in paths.values() for r in path))
        lookup = self._lookup(distinct)
        hashes = {(start, end): merkle.hash_range(start, end, lookup) for start, end in distinct}
        return {index: [hashes[r] for r in path] for index, path in paths.items()}

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
        # Past the head there is no entry; checked first because the leaf's node number of an
        # index near 2**63 does not fit a 64-bit column.
        if index < 0 or (index >= self._known_size and index >= self.head()[0]):
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

    def erase(
        self,
        index: int,
        reason: str,
        *,
        submitter: Submitter | None = None,
        also: ErasureHook | None = None,
    ) -> Receipt:
        """Erase an entry's payload (e.g. GDPR Art. 17), recording why as a new entry.

        The erasure entry is appended first, so a crash between the two steps leaves a payload
        that is still present rather than one that vanished without a record; running the erase
        again completes it. ``also`` runs in the transaction that deletes the payload (the
        projections forget what the payload said there, so the two happen together or not at
        all). Returns the erasure entry's receipt.
        """
        if not reason.strip():
            raise InputError("an erasure needs a reason")
        record = self.entry(index)
        if record.kind == kinds.ERASURE.name:
            raise InputError("erasure entries cannot themselves be erased")
        fields: dict[str, Any] = {"erases": index}
        if submitter is not None:
            fields.update(submitter.fields())
        receipt = self.append(
            AppendRequest(
                kinds.ERASURE.name,
                reason.encode(),
                "text/plain; charset=utf-8",
                fields=fields,
                idempotency_key=f"erase:{index}",
            )
        )
        with write_transaction(self._engine, self.write_lock) as cursor:
            cursor.execute(
                self._dialect.sql("DELETE FROM ledger_payloads WHERE idx = :idx"), {"idx": index}
            )
            if also is not None:
                also(cursor, self._dialect)
        return receipt
