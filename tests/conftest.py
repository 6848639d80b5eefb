"""Shared fixtures: a ledger database on SQLite and on PostgreSQL, migrated for real.

PostgreSQL tests need ``GOVERNANCE_TEST_POSTGRES_URL`` (``.ci/run`` always sets it); each test gets
its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from governance.config import Settings
from governance.db import upgrade
from governance.runtime import Runtime

PG_URL = os.environ.get("GOVERNANCE_TEST_POSTGRES_URL")
SHARED = Path(__file__).resolve().parents[2] / "shared"
NO_PG = "GOVERNANCE_TEST_POSTGRES_URL is not set (.ci/run sets it; see README)"


@dataclass
class Database:
    """A migrated, empty database for one test."""

    backend: str
    url: str


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_database() -> Iterator[Database]:
    if PG_URL is None:
        pytest.skip(NO_PG)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _pg_schema_url(schema)
    try:
        upgrade(url)
        yield Database("postgresql", url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    return Database("sqlite", url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_database" if request.param == "sqlite" else "pg_database"
    db: Database = request.getfixturevalue(name)
    return db


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        ledger_origin="test.governance/ledger",
        log_json=False,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    try:
        yield rt
    finally:
        rt.close()
