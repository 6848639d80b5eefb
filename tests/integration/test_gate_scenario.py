"""The gate's end-to-end scenario (``tests/gate_scenario.py``) on the in-process app.

On SQLite and PostgreSQL, with the embedded engine and with the real OPA engine
(``../shared/opa``), each on a database of its own: both engines give the same decision at every
step. The same scenario runs on a live server in ``tests/e2e/test_gate_scenario.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from governance.api.app import create_app
from governance.auth.keys import Role
from governance.config import Settings
from governance.db import upgrade
from governance.runtime import Runtime
from tests.conftest import Database, OpaServer, postgres_schema
from tests.gate_scenario import PRINCIPALS, Scenario, run, summary, write_configuration


def scenario_run(settings: Settings) -> dict[str, dict[str, Any]]:
    runtime = Runtime.open(settings, attestations=True)
    try:
        keys = {name: runtime.keys.create(Role(role), name)[1] for name, role in PRINCIPALS.items()}
        with TestClient(create_app(settings, runtime)) as client:
            return run(Scenario(client, keys))
    finally:
        runtime.close()


def settings_for(database_url: str, tmp: Path, **engine: Any) -> Settings:
    trust, overlay = write_configuration(tmp / "config")
    return Settings(
        database_url=database_url,
        signing_key_file=tmp / "keys" / "checkpoint.key",
        ledger_origin="test.governance/ledger",
        log_json=False,
        trust_config=trust,
        policy_data=overlay,
        **engine,
    )


@contextmanager
def another_database(backend: str, tmp: Path) -> Iterator[str]:
    """A second empty, migrated database on the same backend."""
    if backend == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        url = f"sqlite:///{tmp / 'second.db'}"
        upgrade(url)
        yield url


def test_scenario_embedded_and_opa_agree(
    database: Database, tmp_path: Path, opa_server: OpaServer
) -> None:
    embedded = scenario_run(settings_for(database.url, tmp_path / "embedded"))
    assert {d["policy"]["engine"] for d in embedded.values()} == {"embedded"}
    with another_database(database.backend, tmp_path) as url:
        opa = scenario_run(
            settings_for(
                url,
                tmp_path / "opa",
                policy_engine="opa",
                opa_url=opa_server.url,
                opa_token=opa_server.token,
            )
        )
    assert {d["policy"]["engine"] for d in opa.values()} == {"opa"}
    assert list(opa) == list(embedded)
    for step in embedded:
        assert summary(opa[step]) == summary(embedded[step]), step
        assert opa[step]["policy"]["bundle_digest"] == embedded[step]["policy"]["bundle_digest"]
