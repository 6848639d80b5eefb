"""Derived tables as projections of the ledger, kept exactly in step and rebuilt identically.

A :class:`Projection` reads the entry kinds the registry (:mod:`~governance.ledger.kinds`) lists
for it and keeps its own tables; it supplies ``apply`` (a run of entries, in ledger order) and
``reset`` (empty its tables). :class:`Projections` owns everything else:

* **the watermark** — one ``projection_state`` row per projection, the next ledger index to look
  at, advanced in the same transaction as the projection's writes, so a crash, a restart or a
  second process can neither skip nor repeat an entry;
* **the append hook** — the ledger writer calls :meth:`Projections.on_append` inside each batch's
  transaction, so an acknowledged entry is already projected; a projection that is not current
  (its watermark is not the batch's first index) leaves the batch to the follower;
* **the follower** — a thread that catches up whatever the hook did not apply: appends by another
  process, a batch whose projection failed, a rebuild;
* **isolation** — a chunk that fails to apply is applied again entry by entry, each in a
  savepoint; an entry that still fails is recorded in ``projection_failures`` (shown by
  ``governance ledger status``) and the projection moves on: it stays in the ledger, never lost and
  never silently missing;
* **erasure** — an erased entry is projected again without its payload, in the transaction that
  deletes the payload (:meth:`Projections.forget`): a projection whose ``apply`` replaces what an
  entry said (``ON_ERASURE_REAPPLY``) applies it again; one that folds entries together
  (``ON_ERASURE_REBUILD``) is reset there and rebuilt by catching up;
* **reindex** — :meth:`Projections.rebuild` resets and catches up from entry 0. Projections must
  derive everything from the entries (ids from natural keys, times from the entries), so the rebuild
  equals the incremental result.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sqlalchemy.engine import Engine

from governance.errors import InputError
from governance.ledger import kinds
from governance.ledger.entries import AppendedEntry
from governance.sql import Dialect, write_transaction

__all__ = [
    "ON_ERASURE_REAPPLY",
    "ON_ERASURE_REBUILD",
    "Failure",
    "Projection",
    "ProjectionBatch",
    "ProjectionStatus",
    "Projections",
    "StoredEntry",
]

log = logging.getLogger(__name__)

ON_ERASURE_REAPPLY = "reapply"
ON_ERASURE_REBUILD = "rebuild"

#: Entries per catch-up transaction (short, so the ledger writer never waits long).
CHUNK = 200
#: Longest error text recorded for an entry that could not be projected.
_MAX_ERROR = 300

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as a projection sees it: envelope bytes, and the payload unless it was erased."""

    index: int
    kind: str
    envelope: bytes
    #: The payload bytes; ``None`` once the payload was erased.
    payload: bytes | None
    #: What the submitter attached to the append (only on the append hook's path), or None.
    context: Any = None

    def fields(self) -> dict[str, Any]:
        """The envelope's fields, parsed."""
        parsed: dict[str, Any] = json.loads(self.envelope)
        return parsed


@dataclass(frozen=True, slots=True)
class ProjectionBatch:
    """A run of entries, in ledger order, to apply inside an open transaction."""

    cursor: Any
    dialect: Dialect
    entries: Sequence[StoredEntry]


class Projection(abc.ABC):
    """What a projection supplies; :class:`Projections` does the rest (module docstring).

    Subclasses set ``name``, ``tables`` and ``on_erasure`` and implement :meth:`apply`; the
    kinds a projection reads are the registry's (:func:`governance.ledger.kinds.names_read_by`).
    """

    #: Its name: the registry's (``kinds.LINEAGE_PROJECTION``, …) and ``reindex --projection``'s.
    name: ClassVar[str]
    #: The tables it keeps (emptied by :meth:`reset`).
    tables: ClassVar[tuple[str, ...]]
    #: How an erased entry leaves it: applied again without its payload, or a rebuild.
    on_erasure: ClassVar[Literal["reapply", "rebuild"]] = "rebuild"

    @abc.abstractmethod
    def apply(self, batch: ProjectionBatch) -> None:
        """Apply ``batch.entries`` (only kinds this projection reads) in order."""

    def reset(self, cursor: Any, dialect: Dialect) -> None:
        """Empty the projection's tables."""
        for table in self.tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - the projection's own table names


@dataclass(frozen=True, slots=True)
class Failure:
    """An entry a projection could not apply, and why (the exception's type)."""

    projection: str
    index: int
    error: str

    def to_json(self) -> dict[str, Any]:
        """As ``governance ledger status --json`` shows it."""
        return {"projection": self.projection, "index": self.index, "error": self.error}


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """How far a projection has applied the ledger."""

    name: str
    kinds: tuple[str, ...]
    tables: tuple[str, ...]
    next_index: int
    ledger_size: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def behind(self) -> int:
        """Ledger entries not yet looked at."""
        return max(0, self.ledger_size - self.next_index)

    def to_json(self) -> dict[str, Any]:
        """As ``governance ledger status --json`` shows it."""
        return {
            "name": self.name,
            "kinds": list(self.kinds),
            "tables": list(self.tables),
            "next_index": self.next_index,
            "ledger_size": self.ledger_size,
            "behind": self.behind,
            "failures": [f.to_json() for f in self.failures],
        }


class _Registered:
    """A projection with what the framework derives for it: its kinds and the SQL to read them."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.name = projection.name
        self.kinds = kinds.names_read_by(projection.name)
        if not self.kinds:
            raise ValueError(f"the kind registry lists no kind for projection {self.name!r}")
        self.kind_set = frozenset(self.kinds)
        marks = ", ".join(f":kind{i}" for i in range(len(self.kinds)))
        self.kind_params = {f"kind{i}": name for i, name in enumerate(self.kinds)}
        #: The next entries of its kinds from ``:start`` (below ``:head``; at most ``:n``).
        self.entries_sql = (
            "SELECT e.idx, e.kind, e.envelope, p.data FROM ledger_entries e "  # noqa: S608
            "LEFT JOIN ledger_payloads p ON p.idx = e.idx "
            f"WHERE e.idx >= :start AND e.idx < :head AND e.kind IN ({marks}) "
            "ORDER BY e.idx LIMIT :n"
        )


_STATE = "SELECT next_index FROM projection_state WHERE name = :name"
_WATERMARKS = "SELECT name, next_index FROM projection_state"
#: On PostgreSQL a watermark a catch-up transaction holds is skipped, not waited for.
_WATERMARKS_LOCKED = _WATERMARKS + " FOR UPDATE SKIP LOCKED"


class Projections:
    """Keeps every projection up to date with the ledger (see the module docstring).

    ``write_lock`` (the ledger's, on SQLite) makes the follower and the rebuilds queue behind the
    ledger writer in this process rather than in SQLite's busy handler.
    """

    def __init__(
        self,
        engine: Engine,
        projections: Sequence[Projection],
        write_lock: threading.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._dialect = Dialect.of(engine)
        self._write_lock = write_lock
        self._registered = {p.name: _Registered(p) for p in projections}
        if len(self._registered) != len(projections):
            raise ValueError("two projections have the same name")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The projections' names, in the order they were given."""
        return tuple(self._registered)

    def _chosen(self, name: str | None) -> list[_Registered]:
        if name is None:
            return list(self._registered.values())
        found = self._registered.get(name)
        if found is None:
            raise InputError(
                f"no projection called {name!r}", hint=f"projections: {', '.join(self.names)}"
            )
        return [found]

    # -- the follower --------------------------------------------------------------------------

    def start(self) -> None:
        """Follow the ledger in a background thread for what the append hooks did not apply."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._follow, name="projections", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following (what is committed stays committed; a restart catches up)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def notify(self) -> None:
        """Something was appended that a hook did not project: catch up soon."""
        self._wake.set()

    def _follow(self) -> None:
        while not self._stopping:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stopping:
                return
            try:
                if self.behind():
                    self.catch_up()
            except Exception:
                log.exception("the projections could not catch up; retrying")

    # -- the append hook -----------------------------------------------------------------------

    def on_append(self, cursor: Any, postgres: bool, entries: Sequence[AppendedEntry]) -> None:
        """The ledger's append hook: apply a batch to every projection that is current.

        A projection is current when its watermark is exactly the batch's first index. One that
        is not (it is behind, or on PostgreSQL another transaction holds its watermark) is left
        to the follower, which is woken. The watermarks are read and advanced with one
        statement each, whatever the number of projections. An exception rolls back this whole
        hook (the ledger runs it in a savepoint): the entries still commit, and the follower
        then applies the batch to each projection, isolating the entry that fails.
        """
        if not entries:
            return
        d = self._dialect
        cursor.execute(_WATERMARKS_LOCKED if d.postgres else _WATERMARKS)
        watermarks = {str(name): int(index) for name, index in cursor.fetchall()}
        first = entries[0].index
        current = [r for r in self._registered.values() if watermarks.get(r.name) == first]
        if len(current) < len(self._registered):
            self.notify()
        if not current:
            return
        for registered in current:
            mine = [
                StoredEntry(e.index, e.kind, e.envelope, e.payload, e.context)
                for e in entries
                if e.kind in registered.kind_set
            ]
            if mine:
                registered.projection.apply(ProjectionBatch(cursor, d, mine))
        names = {f"name{i}": r.name for i, r in enumerate(current)}
        cursor.execute(d.sql(_advance_statement(len(names))), {"n": entries[-1].index + 1, **names})

    def _advance(self, cursor: Any, name: str, next_index: int) -> None:
        cursor.execute(
            self._dialect.sql("UPDATE projection_state SET next_index = :n WHERE name = :name"),
            {"n": next_index, "name": name},
        )

    # -- catching up ---------------------------------------------------------------------------

    def behind(self, name: str | None = None) -> bool:
        """Whether the ledger holds entries a projection has not looked at (a plain read)."""
        return any(s.behind for s in self.status(name, failures=False))

    def catch_up(self, name: str | None = None, progress: Progress | None = None) -> None:
        """Apply everything committed to each projection (or to ``name`` only)."""
        with self._lock:
            for registered in self._chosen(name):
                while not self._catch_up_chunk(registered, progress):
                    pass

    def _catch_up_chunk(self, registered: _Registered, progress: Progress | None) -> bool:
        """Apply one chunk in one transaction; True when nothing committed is left.

        The chunk is applied in one go; if that fails, the transaction is rolled back and the
        chunk applied again entry by entry (see the module docstring on isolation).
        """
        try:
            return self._apply_chunk(registered, progress, isolate=False)
        except Exception as exc:
            log.warning(
                "projecting a chunk into %r failed (%s); applying it entry by entry",
                registered.name,
                type(exc).__name__,
            )
            log.debug("the chunk's failure", exc_info=True)
            return self._apply_chunk(registered, progress, isolate=True)

    def _apply_chunk(
        self, registered: _Registered, progress: Progress | None, *, isolate: bool
    ) -> bool:
        d = self._dialect
        name = registered.name
        with write_transaction(self._engine, self._write_lock) as cursor:
            cursor.execute(d.sql(_STATE + (" FOR UPDATE" if d.postgres else "")), {"name": name})
            found = cursor.fetchone()
            if found is None:
                # The watermark row is gone (deleted by hand): start over from entry 0.
                cursor.execute(
                    d.sql("INSERT INTO projection_state (name, next_index) VALUES (:name, 0)"),
                    {"name": name},
                )
            start = int(found[0]) if found is not None else 0
            cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
            head = int(cursor.fetchone()[0])
            cursor.execute(
                d.sql(registered.entries_sql),
                {"start": start, "head": head, "n": CHUNK, **registered.kind_params},
            )
            rows = cursor.fetchall()
            entries = [
                StoredEntry(int(i), str(k), bytes(e), None if p is None else bytes(p))
                for i, k, e, p in rows
            ]
            projection = registered.projection
            if not isolate:
                if entries:
                    projection.apply(ProjectionBatch(cursor, d, entries))
            else:
                for entry in entries:
                    self._apply_isolated(cursor, registered, entry)
            complete = len(rows) < CHUNK
            new_start = head if complete else entries[-1].index + 1
            self._advance(cursor, name, new_start)
        if progress is not None:
            progress(new_start - start)
        return complete

    def _apply_isolated(self, cursor: Any, registered: _Registered, entry: StoredEntry) -> None:
        cursor.execute("SAVEPOINT projection_entry")
        try:
            registered.projection.apply(ProjectionBatch(cursor, self._dialect, [entry]))
        except Exception as exc:
            # The entry stays in the ledger; the framework records why it is missing here.
            # One line per entry: a rebuild over many such entries must stay readable (the
            # traceback is there at debug level).
            log.warning(
                "ledger entry %d is not projected into %r: %s",
                entry.index,
                registered.name,
                _describe(exc),
            )
            log.debug("why entry %d is not projected", entry.index, exc_info=True)
            cursor.execute("ROLLBACK TO SAVEPOINT projection_entry")
            cursor.execute(
                self._dialect.sql(
                    "INSERT INTO projection_failures (projection, ledger_index, error) "
                    "VALUES (:name, :idx, :error) "
                    "ON CONFLICT (projection, ledger_index) DO NOTHING"
                ),
                {"name": registered.name, "idx": entry.index, "error": _describe(exc)},
            )
        cursor.execute("RELEASE SAVEPOINT projection_entry")

    # -- rebuilding and erasure ----------------------------------------------------------------

    def reset(self, name: str | None = None) -> None:
        """Empty each projection (or ``name``) and rewind its watermark to entry 0."""
        with self._lock, write_transaction(self._engine, self._write_lock) as cursor:
            for registered in self._chosen(name):
                self._reset(cursor, registered)

    def _reset(self, cursor: Any, registered: _Registered) -> None:
        d = self._dialect
        registered.projection.reset(cursor, d)
        params = {"name": registered.name}
        cursor.execute(d.sql("DELETE FROM projection_failures WHERE projection = :name"), params)
        cursor.execute(d.sql("DELETE FROM projection_state WHERE name = :name"), params)
        cursor.execute(
            d.sql("INSERT INTO projection_state (name, next_index) VALUES (:name, 0)"), params
        )

    def rebuild(self, name: str | None = None, progress: Progress | None = None) -> None:
        """``ledger reindex``: reset each projection (or ``name``) and catch up from entry 0."""
        for registered in self._chosen(name):
            self.reset(registered.name)
            self.catch_up(registered.name, progress)

    def readers_of(self, kind: str) -> list[str]:
        """The projections that read entries of ``kind``."""
        return [r.name for r in self._registered.values() if kind in r.kind_set]

    def forget(self, cursor: Any, dialect: Dialect, index: int, kind: str) -> list[str]:
        """Project erased entry ``index`` again without its payload, in the erasing transaction.

        Returns the projections that must now be caught up (those reset for a rebuild).
        """
        rebuild: list[str] = []
        for name in self.readers_of(kind):
            registered = self._registered[name]
            projection = registered.projection
            if projection.on_erasure == ON_ERASURE_REBUILD:
                self._reset(cursor, registered)
                rebuild.append(name)
                continue
            cursor.execute(dialect.sql(_STATE), {"name": name})
            row = cursor.fetchone()
            if row is None or int(row[0]) <= index:
                continue  # not applied yet: catching up will apply it without its payload
            cursor.execute(
                dialect.sql("SELECT envelope FROM ledger_entries WHERE idx = :idx"), {"idx": index}
            )
            envelope = bytes(cursor.fetchone()[0])
            projection.apply(
                ProjectionBatch(cursor, dialect, [StoredEntry(index, kind, envelope, None)])
            )
        return rebuild

    # -- status --------------------------------------------------------------------------------

    def status(self, name: str | None = None, *, failures: bool = True) -> list[ProjectionStatus]:
        """Each projection's watermark against the ledger size, and its recorded failures."""
        d = self._dialect
        chosen = self._chosen(name)
        with _reader(self._engine) as cursor:
            cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
            head = cursor.fetchone()
            size = int(head[0]) if head is not None else 0
            result = []
            for registered in chosen:
                cursor.execute(d.sql(_STATE), {"name": registered.name})
                row = cursor.fetchone()
                found: list[Failure] = []
                if failures:
                    cursor.execute(
                        d.sql(
                            "SELECT ledger_index, error FROM projection_failures "
                            "WHERE projection = :name ORDER BY ledger_index"
                        ),
                        {"name": registered.name},
                    )
                    found = [Failure(registered.name, int(i), str(e)) for i, e in cursor.fetchall()]
                result.append(
                    ProjectionStatus(
                        name=registered.name,
                        kinds=registered.kinds,
                        tables=registered.projection.tables,
                        next_index=int(row[0]) if row is not None else 0,
                        ledger_size=size,
                        failures=found,
                    )
                )
        return result


@functools.cache
def _advance_statement(count: int) -> str:
    """Move the watermarks of ``count`` projections (``:name0``, …) to ``:n``."""
    names = ", ".join(f":name{i}" for i in range(count))
    return f"UPDATE projection_state SET next_index = :n WHERE name IN ({names})"  # noqa: S608


def _describe(exc: Exception) -> str:
    # The type only: an exception's text may quote the payload, which may be personal data.
    return type(exc).__name__[:_MAX_ERROR]


@contextlib.contextmanager
def _reader(engine: Engine) -> Iterator[Any]:
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            conn.rollback()
    finally:
        conn.close()
