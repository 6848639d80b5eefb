"""The SQL the service writes by hand, in one place: placeholders, id lists, paging, transactions.

The hot paths (the ledger writer, the projections, audit and export) talk to the DB-API driver
directly, because compiling each statement through SQLAlchemy costs more than running it. What
differs between SQLite and PostgreSQL there is small and lives here:

* **placeholders** — statements are written with ``?`` (positional) or ``:name`` (named), as
  SQLite takes them; :meth:`Dialect.sql` rewrites them to psycopg's ``%s`` / ``%(name)s``;
* **id lists** — :func:`id_filter` is "column is one of these ids" with one parameter, whatever
  the number of ids (a JSON array on SQLite, an array on PostgreSQL), so the statement's text and
  its cached plan never depend on the list's length;
* **keyset paging** — :func:`keyset` reads a large table in key order, a chunk per statement;
* **transactions** — :func:`snapshot` (one consistent read-only view: audit, export) and
  :func:`write_transaction` (behind the ledger writer on SQLite, which has one writer at a time).

Queries through SQLAlchemy (``text()`` with ``:name`` parameters) use :func:`id_filter` too.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "MAX_BIGINT",
    "Dialect",
    "id_filter",
    "keyset",
    "keyset_rows",
    "select_by_ids",
    "snapshot",
    "write_transaction",
]

_NAMED = re.compile(r"(?<![:\w]):(\w+)")

#: Largest ledger index, size, offset or limit: both databases store 64-bit signed integers.
MAX_BIGINT = 2**63 - 1


@functools.cache
def _pyformat(statement: str) -> str:
    escaped = statement.replace("%", "%%")
    return _NAMED.sub(r"%(\1)s", escaped).replace("?", "%s")


@dataclass(frozen=True, slots=True)
class Dialect:
    """Which database a raw DB-API cursor talks to, and how to write statements for it."""

    name: str

    @classmethod
    def of(cls, bind: Engine | Connection) -> Dialect:
        """The dialect of an engine or a SQLAlchemy connection."""
        return cls(bind.dialect.name)

    @property
    def postgres(self) -> bool:
        """Whether this is PostgreSQL (otherwise SQLite)."""
        return self.name == "postgresql"

    def sql(self, statement: str) -> str:
        """``statement`` (``?`` or ``:name`` placeholders) as the driver takes it."""
        return _pyformat(statement) if self.postgres else statement

    @staticmethod
    def marks(count: int) -> str:
        """``count`` positional placeholders, comma-separated (short lists that are not ids)."""
        return ",".join(["?"] * count)

    def id_filter(self, column: str, ids: Iterable[int]) -> tuple[str, Any]:
        """See :func:`id_filter`."""
        return id_filter(self.postgres, column, ids)


def id_filter(postgres: bool, column: str, ids: Iterable[int]) -> tuple[str, Any]:
    """SQL for "``column`` is one of ``ids``" with one ``:ids`` parameter, and its value.

    One statement shape whatever the number of ids (a placeholder per id would make every list
    length a new statement to prepare and cache): a JSON array on SQLite, an array on PostgreSQL.
    """
    values = sorted(ids)
    if postgres:
        return f"{column} = ANY(CAST(:ids AS BIGINT[]))", values
    # Only the caller's fixed column name is interpolated; the ids are one bound parameter.
    return f"{column} IN (SELECT value FROM json_each(:ids))", json.dumps(values)  # noqa: S608


def select_by_ids(
    cursor: Any, dialect: Dialect, queries: Sequence[tuple[str, str, Iterable[int]]]
) -> list[list[Any]]:
    """The rows of each ``(statement, column, ids)`` query, in order.

    ``{ids}`` in a statement stands for "``column`` is one of ``ids``" (:func:`id_filter`). An
    empty ``ids`` gives no rows and no statement. On PostgreSQL the statements go out in one
    pipeline: one round trip for all.
    """
    results: list[list[Any]] = [[] for _ in queries]
    todo: list[tuple[int, str, dict[str, Any]]] = []
    for position, (statement, column, ids) in enumerate(queries):
        wanted = set(ids)
        if wanted:
            where, value = dialect.id_filter(column, wanted)
            todo.append((position, dialect.sql(statement.format(ids=where)), {"ids": value}))
    if not dialect.postgres:
        for position, sql, params in todo:
            cursor.execute(sql, params)
            results[position] = list(cursor.fetchall())
        return results
    connection = cursor.connection
    with contextlib.ExitStack() as stack:
        cursors = [stack.enter_context(connection.cursor()) for _ in todo]
        with connection.pipeline():
            for each, (_, sql, params) in zip(cursors, todo, strict=True):
                each.execute(sql, params)
            for each, (position, _, _) in zip(cursors, todo, strict=True):
                results[position] = list(each.fetchall())
    return results


def keyset(
    cursor: Any,
    dialect: Dialect,
    statement: str,
    params: Mapping[str, Any] | None = None,
    *,
    chunk: int = 5000,
    key: int = 0,
    after: int = -1,
) -> Iterator[Sequence[Any]]:
    """The rows of ``statement`` in key order, one chunk (a list of rows) at a time.

    ``statement`` must select ``… WHERE <key> > :after … ORDER BY <key> LIMIT :limit``; column
    ``key`` of its rows is that key. Each chunk is one statement that starts after the last key
    seen, so a large table is read at the same cost per chunk from start to end (unlike OFFSET).
    """
    sql = dialect.sql(statement)
    values = dict(params or {})
    while True:
        cursor.execute(sql, {**values, "after": after, "limit": chunk})
        rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        after = int(rows[-1][key])


def keyset_rows(
    cursor: Any,
    dialect: Dialect,
    statement: str,
    params: Mapping[str, Any] | None = None,
    *,
    chunk: int = 5000,
) -> Iterator[Any]:
    """The rows of :func:`keyset`, one at a time."""
    for rows in keyset(cursor, dialect, statement, params, chunk=chunk):
        yield from rows


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Any]:
    """A DB-API cursor on one consistent, read-only view of the database (rolled back after).

    PostgreSQL: a ``REPEATABLE READ, READ ONLY`` transaction. SQLite: a read transaction, which
    in WAL mode sees the database as of its first read while the writer goes on.
    """
    postgres = engine.dialect.name == "postgresql"
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            if postgres:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            else:
                cursor.execute("BEGIN")
            yield cursor
        finally:
            with contextlib.suppress(Exception):
                if postgres:
                    conn.rollback()
                else:
                    cursor.execute("ROLLBACK")
            cursor.close()
    finally:
        conn.close()


@contextlib.contextmanager
def write_transaction(engine: Engine, lock: threading.Lock | None = None) -> Iterator[Any]:
    """A DB-API cursor in a write transaction, committed on success and rolled back on error.

    On SQLite the transaction takes the write lock up front (``BEGIN IMMEDIATE``: upgrading a
    read lock later can deadlock against the ledger writer) and, when ``lock`` (the ledger's
    in-process write lock) is given, queues behind the ledger writer there rather than in
    SQLite's busy handler, which sleeps in steps of up to 100 ms.
    """
    postgres = engine.dialect.name == "postgresql"
    guard = lock if lock is not None and not postgres else contextlib.nullcontext()
    with guard:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            if not postgres:
                cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.close()
