"""Full re-verification of the ledger: in the database (``ledger audit``) or in an export bundle.

Both paths feed the same :class:`Replay`, which recomputes everything from the envelope bytes:

1. indexes are contiguous and each envelope names its own index (missing / reordered entries);
2. each envelope's ``prev`` is the leaf hash of the entry before it (the hash chain);
3. each envelope's leaf hash equals the stored leaf (envelope changed, or the node changed);
4. each payload still hashes to the SHA-256 its envelope commits to (or was erased, on record);
5. every stored subtree node equals the hash of its stored children (database audit only);
6. every checkpoint is signed by the ledger key and names the root recomputed at its size;
7. the head row (database) or manifest (bundle) matches the recomputed tree.

The first finding by index is what is wrong first; later findings are often its consequences.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Engine

from governance.errors import CheckpointError
from governance.ledger import kinds, merkle
from governance.ledger.checkpoint import NoteVerifier
from governance.sql import Dialect, keyset_rows, snapshot

Progress = Callable[[int], None]


class Damage(StrEnum):
    """What kind of damage a finding describes."""

    ENTRY_MISSING = "entry_missing"
    ENTRY_REORDERED = "entry_reordered"
    ENVELOPE_CHANGED = "envelope_changed"
    PAYLOAD_CHANGED = "payload_changed"
    PAYLOAD_MISSING = "payload_missing"
    NODE_INCONSISTENT = "node_inconsistent"
    HEAD_INCONSISTENT = "head_inconsistent"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    DUPLICATE_KEY = "duplicate_idempotency_key"


# At one index, the more fundamental damage is reported first.
_SEVERITY = {damage: rank for rank, damage in enumerate(Damage)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: the first entry index it affects (``None``: the log as a whole) and what."""

    index: int | None
    damage: Damage
    detail: str

    def sort_key(self) -> tuple[float, int]:
        """Order findings by index, then by how fundamental the damage is."""
        position = float("inf") if self.index is None else float(self.index)
        return position, _SEVERITY[self.damage]

    def describe(self) -> str:
        """One human-readable line."""
        where = "log" if self.index is None else f"index {self.index}"
        return f"{where}: {self.damage.value}: {self.detail}"


@dataclass
class AuditReport:
    """What an audit or a bundle verification found."""

    entries: int = 0
    checkpoints: int = 0
    root: bytes = merkle.EMPTY_ROOT
    findings: list[Finding] = field(default_factory=list)
    erased: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No damage found (erased payloads on record are not damage)."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The finding with the lowest index, if any."""
        return min(self.findings, key=Finding.sort_key) if self.findings else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        first = self.first
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "root": self.root.hex(),
            "erased": self.erased,
            "first_problem": None
            if first is None
            else {"index": first.index, "damage": first.damage.value, "detail": first.detail},
            "problems": len(self.findings),
            "seconds": round(self.seconds, 3),
        }


#: Marks a payload that is absent from the source (erased, or deleted behind our back).
MISSING: Any = object()
#: Marks a payload the source does not carry at all (an export made with ``--no-payloads``).
NOT_CARRIED: Any = object()

_MAX_FINDINGS = 1000

# The bare decoder skips json.loads's encoding detection: envelopes are UTF-8 by construction.
_decode = json.JSONDecoder().decode


class Replay:
    """Recomputes the log entry by entry and records what disagrees. Pure: no I/O."""

    def __init__(self, verifier: NoteVerifier) -> None:
        self.verifier = verifier
        self.report = AuditReport()
        self.frontier = merkle.Frontier()
        self._prev_leaf = bytes(32)
        self._prev_leaf_hex = self._prev_leaf.hex()
        # When a stored leaf disagrees with its envelope, the next entry may chain to either:
        # the disagreement itself is reported once, at the entry where it is.
        self._prev_stored_hex = bytes(32).hex()
        self._expected = 0
        self._stopped = False
        self._missing_payloads: list[int] = []
        self._erasures: dict[int, int] = {}
        # A stored leaf that differs from the envelope's hash: decided by the next entry's prev.
        self._leaf_doubt: tuple[int, str] | None = None
        # Hashes of stored subtrees, checked against their stored children as they complete.
        self._stored_stack: list[bytes] = []
        self._diverged = False
        self.completed: list[tuple[int, int, bytes]] = []

    # -- findings ---------------------------------------------------------------------------

    def add(self, index: int | None, damage: Damage, detail: str) -> None:
        """Record a finding (bounded, so a wrecked log cannot exhaust memory)."""
        if len(self.report.findings) < _MAX_FINDINGS:
            self.report.findings.append(Finding(index, damage, detail))

    def stop(self) -> None:
        """Stop replaying: the source cannot be read any further."""
        self._stopped = True

    @property
    def stopped(self) -> bool:
        """Whether the replay can no longer continue (an entry is missing)."""
        return self._stopped

    # -- entries ----------------------------------------------------------------------------

    def entry(
        self,
        row_index: int,
        envelope: bytes,
        payload: bytes | Any,
        stored_leaf: bytes | None,
    ) -> bytes | None:
        """Replay one stored entry; returns the recomputed leaf hash (``None`` once stopped)."""
        if self._stopped:
            return None
        if row_index != self._expected:
            self.add(
                self._expected,
                Damage.ENTRY_MISSING,
                f"expected entry {self._expected}, found {row_index} next",
            )
            self._stopped = True
            return None
        self._expected += 1
        leaf = merkle.leaf_hash(envelope)
        try:
            parsed = _decode(envelope.decode())
        except ValueError:
            parsed = None
        if self._leaf_doubt is not None:
            self._resolve_doubt(parsed.get("prev") if isinstance(parsed, dict) else None)
        problem = self._check_envelope(row_index, parsed, payload)
        if stored_leaf is not None and stored_leaf != leaf and problem is None:
            self._leaf_doubt = (row_index, leaf.hex())
        self.completed = self.frontier.append(leaf)
        self._prev_leaf = leaf
        self._prev_leaf_hex = leaf.hex()
        self._prev_stored_hex = self._prev_leaf_hex if stored_leaf is None else stored_leaf.hex()
        self.report.entries += 1
        return leaf

    def _resolve_doubt(self, prev_of_next: str | None) -> None:
        if self._leaf_doubt is None:
            return
        index, computed = self._leaf_doubt
        self._leaf_doubt = None
        if prev_of_next == computed:
            self.add(
                index, Damage.NODE_INCONSISTENT, "stored leaf hash differs from the envelope's"
            )
        else:
            self.add(index, Damage.ENVELOPE_CHANGED, "envelope bytes no longer hash to its leaf")

    def _check_envelope(self, index: int, parsed: Any, payload: bytes | Any) -> Damage | None:
        try:
            named_index = parsed["index"]
            prev = parsed["prev"]
            committed = parsed["payload"]
            kind = parsed["kind"]
        except Exception:  # noqa: BLE001 - any unparsable envelope is damage
            self.add(index, Damage.ENVELOPE_CHANGED, "envelope is not a valid ledger envelope")
            return Damage.ENVELOPE_CHANGED
        if named_index != index:
            self.add(
                index,
                Damage.ENTRY_REORDERED,
                f"the envelope at position {index} is entry {named_index}",
            )
            return Damage.ENTRY_REORDERED
        if prev != self._prev_leaf_hex and prev != self._prev_stored_hex:
            self.add(index, Damage.ENVELOPE_CHANGED, "prev does not chain to the entry before")
            return Damage.ENVELOPE_CHANGED
        if kind == kinds.ERASURE.name and isinstance(parsed.get("erases"), int):
            self._erasures[parsed["erases"]] = index
        if payload is NOT_CARRIED:
            return None
        if payload is MISSING:
            self._missing_payloads.append(index)
            return None
        if len(payload) != committed.get("size") or hashlib.sha256(
            payload
        ).hexdigest() != committed.get("sha256"):
            self.add(index, Damage.PAYLOAD_CHANGED, "payload no longer matches its SHA-256")
            return Damage.PAYLOAD_CHANGED
        return None

    # -- stored nodes (database audit) ------------------------------------------------------

    def stored_node(
        self, index: int, level: int, digest: bytes | None, computed: bytes | None = None
    ) -> bool:
        """Check one stored node completed by entry ``index``; ``False`` once nodes are unusable.

        Nodes arrive leaf first, in append order. Each internal node must equal the hash of its two
        stored children, so one altered node is reported once, where it is, not up the tree.
        """
        stack = self._stored_stack
        if digest is not None and digest == computed and not self._diverged:
            # While stored and recomputed trees agree, equality with the recomputed hash is
            # equality with the hash of the stored children: no need to hash them again.
            if level:
                del stack[-2:]
            stack.append(digest)
            return True
        self._diverged = True
        if digest is None:
            self.add(index, Damage.NODE_INCONSISTENT, f"stored node (level {level}) is missing")
            return False
        if level:
            right = stack.pop()
            left = stack.pop()
            if merkle.node_hash(left, right) != digest:
                first = (index >> level) << level
                self.add(
                    index,
                    Damage.NODE_INCONSISTENT,
                    f"stored node (level {level}, entries {first}-{index}) is not the hash of "
                    "its children",
                )
        stack.append(digest)
        return True

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self, size: int, stored_root: bytes | None, note: str) -> None:
        """Check a checkpoint against the tree recomputed so far (call when it has ``size``)."""
        self.report.checkpoints += 1
        index = max(size - 1, 0)
        try:
            signed = self.verifier.verify(note)
        except CheckpointError as exc:
            self.add(index, Damage.CHECKPOINT_INVALID, f"checkpoint {size}: {exc.message}")
            return
        if signed.size != size or (stored_root is not None and signed.root != stored_root):
            self.add(index, Damage.CHECKPOINT_INVALID, f"checkpoint {size}: stored fields differ")
            return
        if self.frontier.size == size and signed.root != self.frontier.root():
            self.add(
                index,
                Damage.CHECKPOINT_INVALID,
                f"checkpoint {size} signs a root the entries do not produce",
            )

    # -- the end ----------------------------------------------------------------------------

    def finish(self, last_leaf_hint: bytes | None) -> AuditReport:
        """Settle pending decisions (erasures, a doubtful last leaf) and return the report."""
        self._resolve_doubt(None if last_leaf_hint is None else last_leaf_hint.hex())
        for index in self._missing_payloads:
            if index in self._erasures:
                self.report.erased.append(index)
            else:
                self.add(index, Damage.PAYLOAD_MISSING, "payload deleted without an erasure entry")
        self.report.root = self.frontier.root()
        self.report.findings.sort(key=Finding.sort_key)
        return self.report


def _merge_checkpoints(
    replay: Replay, checkpoints: Iterator[tuple[int, bytes | None, str]], upto: int
) -> tuple[int, bytes | None, str] | None:
    """Feed checkpoints with size <= ``upto``; return the first one beyond, if read."""
    for size, root, note in checkpoints:
        if size > upto:
            return size, root, note
        replay.checkpoint(size, root, note)
    return None


def replay_stream(
    replay: Replay,
    entries: Iterable[tuple[int, bytes, bytes | Any, bytes | None]],
    checkpoints: Iterable[tuple[int, bytes | None, str]],
    *,
    nodes: Iterator[tuple[int, bytes]] | None = None,
    progress: Progress | None = None,
) -> None:
    """Drive a :class:`Replay` over ordered entries, checkpoints and (optionally) stored nodes."""
    cp_iter = iter(checkpoints)
    waiting = next(cp_iter, None)
    next_node = next(nodes, None) if nodes is not None else None
    check_nodes = nodes is not None
    # Stored nodes are numbered in the order appends complete them, so they stream in step.
    node_position = 0
    count = 0
    for row_index, envelope, payload, stored_leaf in entries:
        if check_nodes and stored_leaf is None and next_node is not None:
            stored_leaf = next_node[1] if next_node[0] == node_position else None
        if replay.entry(row_index, envelope, payload, stored_leaf) is None:
            break
        if check_nodes:
            assert nodes is not None
            for level in range(_completed_levels(row_index)):
                digest = None
                if next_node is not None and next_node[0] == node_position:
                    digest = next_node[1]
                    next_node = next(nodes, None)
                node_position += 1
                if not replay.stored_node(row_index, level, digest, replay.completed[level][2]):
                    check_nodes = False
                    break
        size = row_index + 1
        while waiting is not None and waiting[0] <= size:
            if waiting[0] < size:
                replay.add(
                    waiting[0] - 1,
                    Damage.CHECKPOINT_INVALID,
                    f"checkpoint {waiting[0]} out of order",
                )
            else:
                replay.checkpoint(*waiting)
            waiting = next(cp_iter, None)
        count += 1
        if progress is not None and count % 10_000 == 0:
            progress(10_000)
    if progress is not None:
        progress(count % 10_000)
    if not replay.stopped:
        while waiting is not None:
            replay.add(
                waiting[0] - 1,
                Damage.CHECKPOINT_INVALID,
                f"checkpoint {waiting[0]} is beyond the {replay.report.entries} entries",
            )
            waiting = next(cp_iter, None)
        if check_nodes and next_node is not None:
            replay.add(None, Damage.NODE_INCONSISTENT, "stored nodes beyond the last entry")


def _completed_levels(index: int) -> int:
    """How many subtrees appending entry ``index`` completes: its leaf plus one per carry."""
    return ((index + 1) & -(index + 1)).bit_length()


# -- the database audit ---------------------------------------------------------------------


def audit_database(
    engine: Engine, verifier: NoteVerifier, *, progress: Progress | None = None
) -> AuditReport:
    """Re-verify every entry, node, checkpoint and the head row from one consistent snapshot."""
    started = time.perf_counter()
    replay = Replay(verifier)
    dialect = Dialect.of(engine)
    with snapshot(engine) as main:
        main.execute("SELECT size, root, frontier, last_leaf FROM ledger_head WHERE id = 1")
        head = main.fetchone()
        # Three streams read side by side, each with a cursor of its own in the same snapshot.
        node_cur = main.connection.cursor()
        cp_cur = main.connection.cursor()
        entries = (
            (r[0], r[1], MISSING if r[2] is None else r[2], None)
            for r in keyset_rows(
                main,
                dialect,
                # The bound on p.idx too keeps PostgreSQL from rescanning payloads from the
                # start for every chunk (a merge join with an unbounded inner scan).
                "SELECT e.idx, e.envelope, p.data FROM ledger_entries e "
                "LEFT JOIN ledger_payloads p ON p.idx = e.idx AND p.idx > :after "
                "WHERE e.idx > :after ORDER BY e.idx LIMIT :limit",
            )
        )
        # Both drivers return int and bytes for these columns already.
        nodes = keyset_rows(
            node_cur,
            dialect,
            "SELECT id, hash FROM ledger_nodes WHERE id > :after ORDER BY id LIMIT :limit",
        )
        checkpoints = (
            (int(r[0]), bytes(r[1]), str(r[2]))
            for r in keyset_rows(
                cp_cur,
                dialect,
                "SELECT size, root, note FROM ledger_checkpoints WHERE size > :after "
                "ORDER BY size LIMIT :limit",
            )
        )
        replay_stream(replay, entries, checkpoints, nodes=nodes, progress=progress)
        main.execute(
            "SELECT COUNT(*) FROM (SELECT idem FROM ledger_entries GROUP BY idem "
            "HAVING COUNT(*) > 1) d"
        )
        duplicates = int((main.fetchone() or (0,))[0])
        node_cur.close()
        cp_cur.close()
    if duplicates:
        replay.add(None, Damage.DUPLICATE_KEY, f"{duplicates} idempotency keys are used twice")
    last_leaf = bytes(head[3]) if head is not None and replay.report.entries else None
    report = replay.finish(last_leaf)
    _check_head(replay, head)
    report.findings.sort(key=Finding.sort_key)
    report.seconds = time.perf_counter() - started
    return report


def _check_head(replay: Replay, head: Any) -> None:
    n = replay.report.entries
    if head is None:
        replay.add(None, Damage.HEAD_INCONSISTENT, "the head row is missing")
        return
    size, root, frontier, last_leaf = int(head[0]), bytes(head[1]), bytes(head[2]), bytes(head[3])
    if replay.stopped:
        return
    if size > n:
        replay.add(n, Damage.ENTRY_MISSING, f"the head records {size} entries; only {n} are stored")
    elif size < n:
        replay.add(size, Damage.HEAD_INCONSISTENT, f"head size {size}, but {n} entries are stored")
    elif root != replay.frontier.root() or frontier != replay.frontier.to_bytes():
        replay.add(None, Damage.HEAD_INCONSISTENT, "head root or frontier differs from the entries")
    elif n and last_leaf != replay._prev_leaf:
        replay.add(n - 1, Damage.HEAD_INCONSISTENT, "head last_leaf differs from the last entry")
