"""The gate's end-to-end scenario (``tests/gate_scenario.py``) on a live ``governance serve``.

On SQLite and PostgreSQL: the scenario with the embedded engine, then again on a fresh database
with ``GOVERNANCE_POLICY_ENGINE=opa`` against the real OPA engine (``../shared/opa``), and the two
runs give the same decision at every step. Keys are made with ``governance keys create``; every
other step goes over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OpaServer, postgres_schema
from tests.e2e._server import running_server
from tests.gate_scenario import KEYS, Scenario, run, summary, write_configuration

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@contextmanager
def live_scenario(backend: str, tmp: Path, **engine: str) -> Iterator[Scenario]:
    """A scenario against a fresh live server on ``backend``, with its keys made."""
    trust, overlay = write_configuration(tmp / "config")
    settings: dict[str, object] = {"trust_config": trust, "policy_data": overlay, **engine}
    with ExitStack() as stack:
        if backend == "postgresql":
            settings["database_url"] = stack.enter_context(postgres_schema())
        server = stack.enter_context(running_server(tmp / "server", **settings))
        keys = {(name, role): server.create_key(role, name)[1] for name, role in KEYS}
        client = stack.enter_context(httpx.Client(base_url=server.url, timeout=120))
        yield Scenario(client, keys)
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scenario_on_a_live_server_with_both_engines(
    backend: str, tmp_path: Path, opa_server: OpaServer
) -> None:
    with live_scenario(backend, tmp_path / "embedded") as scenario:
        embedded: dict[str, dict[str, Any]] = run(scenario)
    with live_scenario(
        backend,
        tmp_path / "opa",
        policy_engine="opa",
        opa_url=opa_server.url,
        opa_token=opa_server.token,
    ) as scenario:
        opa = run(scenario)
    assert {d["policy"]["engine"] for d in embedded.values()} == {"embedded"}
    assert {d["policy"]["engine"] for d in opa.values()} == {"opa"}
    assert list(opa) == list(embedded)
    for step in embedded:
        assert summary(opa[step]) == summary(embedded[step]), step
