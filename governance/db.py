"""Database engines for SQLite (embedded default) and PostgreSQL (scale-out), and migrations.

Tables are created only by the Alembic migrations in ``migrations/``; :func:`upgrade` applies them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from governance.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

#: How long SQLite waits for another connection's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: WAL pages after which a committing connection copies the WAL back into the database
#: (SQLite's default is 1,000, about 4 MiB). An OpenLineage event writes about 30 pages, so the
#: default checkpoints every few ledger batches, on the writer's commit path, and writes the
#: pages every event touches (the jobs', datasets' and indexes' current pages) to the database
#: file again each time. At 10,000 pages (about 40 MiB of WAL) those pages are copied once per
#: many batches instead: ingest is about 25% faster in-process and 10-15% over HTTP, while each
#: (now rarer) checkpoint stalls the writer longer (ingest p99 about 30 ms instead of 18 ms).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; FULL makes every acknowledged commit durable.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A transaction that will write asks for the write lock up front (execution option
    # ``sqlite_immediate``): upgrading a read lock later can deadlock against the ledger writer.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares a statement once it has run a few times, and PostgreSQL may then keep
    # one generic plan for it. Made while a table was nearly empty, that plan is a sequential
    # scan, and it is kept as the table grows until an ANALYZE replaces it (never, on a server
    # without autovacuum): a lookup by key of each ingest batch read the whole runs table.
    # Planning each execution with its values keeps such lookups on their indexes.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def create_db_engine(url: str, *, pool: bool = True) -> Engine:
    """Create an engine with the service's connection settings for the URL's backend."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if not pool:
        kwargs["poolclass"] = NullPool
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise ConfigError(
                "an in-memory SQLite database cannot hold a ledger",
                hint="set GOVERNANCE_DATABASE_URL to sqlite:///path/to/file.db",
            )
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # The service manages transactions itself (BEGIN IMMEDIATE for the writer).
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "isolation_level": None,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "detect_types": 0,
        }
        if pool:
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 16
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # With the driver in autocommit mode, SQLAlchemy transactions must open one explicitly.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ConfigError(
                f"unsupported PostgreSQL driver {parsed.get_driver_name()!r}",
                hint="use a postgresql+psycopg://… URL (psycopg 3)",
            )
        if pool:
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 16
            kwargs["pool_pre_ping"] = True
        # The integrator reads the head row after waiting for its lock; under a stricter default
        # (a server or role set to repeatable read) that read would fail with a serialization
        # error. Readers that need a snapshot (audit, export) set their own level.
        kwargs["isolation_level"] = "READ COMMITTED"
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _postgres_session)
        return engine
    raise ConfigError(
        f"unsupported database backend {backend!r}",
        hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
    )


def migrations_dir() -> Path:
    """Where the Alembic scripts live: inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError("Alembic migrations not found next to the governance package")


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the project's migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (all of them by default)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def is_sqlite_connection(dbapi_connection: object) -> bool:
    """Whether a raw DB-API connection is SQLite's."""
    return isinstance(dbapi_connection, sqlite3.Connection)
