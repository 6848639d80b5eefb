"""Shared fixtures: a ledger database on SQLite and on PostgreSQL, migrated for real.

PostgreSQL tests need ``GOVERNANCE_TEST_POSTGRES_URL`` (``.ci/run`` always sets it); each test gets
its own schema, dropped afterwards. Fixture data (OpenLineage events, signed bundles) lives next
to the repository, in ``../shared``; tests reach it through :func:`shared_path` only.

A test whose prerequisite (PostgreSQL, a ``../shared`` path) is missing is skipped, with the
reason; under ``CI=true`` it fails instead, so that CI never passes without having run it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text

from governance.config import Settings
from governance.db import upgrade
from governance.runtime import Runtime

PG_URL = os.environ.get("GOVERNANCE_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI") == "true"
SHARED = Path(__file__).resolve().parents[2] / "shared"
NO_PG = "GOVERNANCE_TEST_POSTGRES_URL is not set (.ci/run sets it; see README)"
# The shared fixture sets, relative to SHARED.
OPENLINEAGE = "fixtures/openlineage"
SIGNING = "fixtures/signing"


def prerequisite_missing(reason: str) -> NoReturn:
    """Skip the running test for ``reason``; under ``CI=true``, fail it.

    Outside CI a missing database or fixture set is the developer's setup; in CI it would turn
    tests into skips that nobody reads, and a green run that tested less than it claims.
    """
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true that fails the test", pytrace=False)
    pytest.skip(reason)


def shared_path(*parts: str) -> Path:
    """``../shared/<parts>``, which the running test needs: it is skipped (or failed, see
    :func:`prerequisite_missing`) when the path is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        prerequisite_missing(f"{path} is missing (../shared sits next to the repository)")
    return path


def openlineage_fixture(*parts: str) -> Path:
    """A file or folder of the shared OpenLineage events (see :func:`shared_path`)."""
    return shared_path(OPENLINEAGE, *parts)


def signing_fixture(*parts: str) -> Path:
    """A file or folder of the shared signed bundles and trust roots (see :func:`shared_path`)."""
    return shared_path(SIGNING, *parts)


def collect_from_shared(relative: str, collect: Callable[[Path], list[str]]) -> list[str]:
    """What ``collect`` reads from ``../shared/<relative>`` while tests are collected, to
    parametrise a test with (file names, case ids).

    Collection can neither skip nor fail a single test, and a test parametrised with an empty
    list is skipped quietly, even in CI. So when the path is missing this is one placeholder,
    ``"."``, and the test's own :func:`shared_path` call reports the missing path.
    """
    path = SHARED / relative
    return collect(path) if path.exists() else ["."]


@dataclass
class Database:
    """A migrated, empty database for one test."""

    backend: str
    url: str


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL schema, dropped afterwards."""
    if PG_URL is None:
        prerequisite_missing(NO_PG)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _pg_schema_url(schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_database() -> Iterator[Database]:
    with postgres_schema() as url:
        yield Database("postgresql", url)


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
        reports_dir=tmp_path / "reports",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    try:
        yield rt
    finally:
        rt.close()


@dataclass(frozen=True)
class OpaServer:
    """A running OPA REST server (the real OPA engine; ``../shared/opa``) and its token."""

    url: str
    token: str


@pytest.fixture(scope="session")
def opa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaServer]:
    """One OPA server for the session, with bearer-token auth, on a free port."""
    import secrets
    import socket
    import subprocess
    import time
    import urllib.request

    setup = shared_path("opa", "setup.sh")
    venv = tmp_path_factory.getbasetemp().parent / "opa-rest-venv"
    made = subprocess.run(
        ["bash", str(setup)],
        capture_output=True,
        text=True,
        env={**os.environ, "OPA_VENV": os.environ.get("OPA_VENV", str(venv))},
        check=False,
        timeout=600,
    )
    if made.returncode != 0:
        pytest.fail(f"../shared/opa/setup.sh failed:\n{made.stderr[-2000:]}", pytrace=False)
    python = made.stdout.strip().splitlines()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    log = tmp_path_factory.mktemp("opa") / "opa.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [python, str(shared_path("opa", "opa_rest.py")), "--port", str(port), "--token", token],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the OPA server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield OpaServer(url, token)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
