"""Database connections for SQLite (embedded default) and PostgreSQL (scale-out), and migrations.

:func:`connect` opens one DB-API connection configured the way the service needs it (the SQLite
pragmas, PostgreSQL's session settings) from a ``GOVERNANCE_DATABASE_URL``, with no SQLAlchemy:
a short command (``keys list``) needs nothing more and starts faster without it.
:func:`create_db_engine` builds the SQLAlchemy engine the service uses on those same connections.
Tables are created only by the Alembic migrations in ``migrations/``; :func:`upgrade` applies them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

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

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_PREFIX = "postgresql+psycopg://"


@dataclass(frozen=True, slots=True)
class DatabaseAddress:
    """Where the database is: a SQLite file, or a PostgreSQL connection string."""

    backend: str
    #: The SQLite file (``backend == "sqlite"``).
    path: Path | None = None
    #: A libpq connection URI (``backend == "postgresql"``).
    conninfo: str | None = None

    @classmethod
    def from_url(cls, url: str) -> DatabaseAddress:
        """Parse a ``GOVERNANCE_DATABASE_URL``; :class:`ConfigError` for anything unsupported."""
        if url.startswith(_SQLITE_PREFIX):
            database = url[len(_SQLITE_PREFIX) :]
            if database in ("", ":memory:"):
                raise ConfigError(
                    "an in-memory SQLite database cannot hold a ledger",
                    hint="set GOVERNANCE_DATABASE_URL to sqlite:///path/to/file.db",
                )
            if "?" in database:
                raise ConfigError("SQLite URL options are not supported", hint="sqlite:///PATH")
            return cls("sqlite", path=Path(database).expanduser())
        if url.startswith(_POSTGRES_PREFIX):
            return cls("postgresql", conninfo="postgresql://" + url[len(_POSTGRES_PREFIX) :])
        if url.startswith(("postgresql:", "postgresql+", "postgres:")):
            raise ConfigError(
                "unsupported PostgreSQL driver",
                hint="use a postgresql+psycopg://… URL (psycopg 3)",
            )
        if url.startswith("sqlite:"):
            raise ConfigError(
                "an in-memory SQLite database cannot hold a ledger",
                hint="set GOVERNANCE_DATABASE_URL to sqlite:///path/to/file.db",
            )
        scheme = url.split(":", 1)[0]
        raise ConfigError(
            f"unsupported database backend {scheme!r}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )


def connect(database: DatabaseAddress) -> Any:
    """A new DB-API connection to ``database``, with the service's connection settings.

    SQLite: WAL (readers run beside the single writer), ``synchronous=FULL`` (every acknowledged
    commit is durable), the busy timeout and the WAL checkpoint interval; the driver is in
    autocommit mode, since the service opens its transactions itself (``BEGIN IMMEDIATE`` for
    writers). PostgreSQL: each statement is planned with its values (see below).
    """
    if database.backend == "sqlite":
        assert database.path is not None
        database.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            database.path,
            check_same_thread=False,
            isolation_level=None,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            detect_types=0,
        )
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        return conn
    import psycopg

    assert database.conninfo is not None
    pg = psycopg.connect(database.conninfo)
    # psycopg prepares a statement once it has run a few times, and PostgreSQL may then keep
    # one generic plan for it. Made while a table was nearly empty, that plan is a sequential
    # scan, and it is kept as the table grows until an ANALYZE replaces it (never, on a server
    # without autovacuum): a lookup by key of each ingest batch read the whole runs table.
    # Planning each execution with its values keeps such lookups on their indexes.
    with pg.cursor() as session:
        session.execute("SET plan_cache_mode = force_custom_plan")
    pg.commit()
    return pg


def _sqlite_begin(connection: Any) -> None:
    # A transaction that will write asks for the write lock up front (execution option
    # ``sqlite_immediate``): upgrading a read lock later can deadlock against the ledger writer.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_db_engine(url: str, *, pool: bool = True) -> Engine:
    """An engine on :func:`connect`'s connections to the database the URL names."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool, QueuePool

    database = DatabaseAddress.from_url(url)
    kwargs: dict[str, Any] = {"creator": lambda: connect(database)}
    if not pool:
        kwargs["poolclass"] = NullPool
    else:
        # Stated, not left to SQLAlchemy: the URL below names no file, which for SQLite it
        # would take for an in-memory database and give one connection for all threads.
        kwargs["poolclass"] = QueuePool
        kwargs["pool_size"] = 16
        kwargs["max_overflow"] = 16
    if database.backend == "sqlite":
        engine = create_engine("sqlite://", **kwargs)
        # With the driver in autocommit mode, SQLAlchemy transactions must open one explicitly.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if pool:
        kwargs["pool_pre_ping"] = True
    # The integrator reads the head row after waiting for its lock; under a stricter default
    # (a server or role set to repeatable read) that read would fail with a serialization
    # error. Readers that need a snapshot (audit, export) set their own level.
    kwargs["isolation_level"] = "READ COMMITTED"
    return create_engine("postgresql+psycopg://", **kwargs)


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

    DatabaseAddress.from_url(url)  # a clear error for an unusable URL, before Alembic tries it
    command.upgrade(alembic_config(url), revision)


def is_sqlite_connection(dbapi_connection: object) -> bool:
    """Whether a raw DB-API connection is SQLite's."""
    return isinstance(dbapi_connection, sqlite3.Connection)
