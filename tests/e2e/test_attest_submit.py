"""``governance attest submit`` against a live ``governance serve``, on SQLite and PostgreSQL.

The real model-signing signature of the fixtures' tiny model, under the trust configuration of
the gate's scenario: it passes with the model's digest (exit 0, the verdict on standard output)
and fails with another (exit 1, the problem naming the reason on standard error). Every way the
call itself can fail exits 2 with a message that says which: a refused key, a server that is not
there, one that never answers within ``--timeout``, a URL that is not HTTP.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import postgres_schema, signing_fixture
from tests.e2e._server import Server, checkout_pythonpath, free_port, running_server
from tests.gate_scenario import MODEL_DIGEST, write_configuration

pytestmark = pytest.mark.slow

SIGNATURE = ("generated", "tiny-model.key-p256.oms.sig")


@dataclass
class Live:
    server: Server
    key: str
    bundle: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(f"attest-{request.param}")
    trust, overlay = write_configuration(tmp / "config")
    settings: dict[str, object] = {"trust_config": trust, "policy_data": overlay}
    with ExitStack() as stack:
        if request.param == "postgresql":
            settings["database_url"] = stack.enter_context(postgres_schema())
        server = stack.enter_context(running_server(tmp / "server", **settings))
        yield Live(server, server.create_key("ingest", "trainer")[1], signing_fixture(*SIGNATURE))


def submit(bundle: Path, *options: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """``governance attest submit`` of ``bundle`` as a model signature, with ``options``, in a
    new process, the key (if any) in its environment."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": checkout_pythonpath(), "NO_COLOR": "1"}
    if key is not None:
        env["GOVERNANCE_API_KEY"] = key
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "governance.cli.main",
            "attest",
            "submit",
            "--bundle",
            str(bundle),
            "--purpose",
            "model-signature",
            *options,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_signature_that_verifies_passes(live: Live) -> None:
    result = submit(
        live.bundle, "--digest", MODEL_DIGEST,
        "--url", live.server.url, key=live.key,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["verdict"] == "pass", verdict
    # It is recorded: the ledger holds the verdict at the index the answer gives.
    recorded = httpx.get(
        f"{live.server.url}/api/v1/ledger/entries/{verdict['receipt']['index']}",
        headers={"Authorization": f"Bearer {live.server.key('auditor')}"},
        timeout=30,
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["index"] == verdict["receipt"]["index"]


def test_a_signature_over_another_digest_fails_naming_the_reason(live: Live) -> None:
    other = "sha256:" + "00" * 32
    result = submit(
        live.bundle, "--digest", other,
        "--url", live.server.url, key=live.key,
    )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    problem = json.loads(result.stderr)
    assert "digest" in json.dumps(problem).lower(), problem


def test_a_refused_key_exits_2_and_says_so(live: Live) -> None:
    result = submit(
        live.bundle, "--digest", MODEL_DIGEST,
        "--url", live.server.url, key="gov_not-a-key",
    )  # fmt: skip
    assert result.returncode == 2
    assert "the service refused the request (401)" in result.stderr
    assert "check the API key" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_key_exits_2_before_sending(live: Live) -> None:
    result = submit(live.bundle, "--url", live.server.url)
    assert result.returncode == 2
    assert "an API key is required" in result.stderr


def test_a_server_that_is_not_there(live: Live) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = submit(live.bundle, "--url", url, key=live.key)
    assert result.returncode == 2
    assert f"could not reach the service at {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_server_that_never_answers_times_out(live: Live) -> None:
    # A listening socket that is never served: the connection is made, no answer comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = submit(
            live.bundle, "--url", url, "--timeout", "0.5",
            key=live.key,
        )  # fmt: skip
    assert result.returncode == 2
    assert "timed out after 0.5 s waiting for the verdict" in result.stderr
    assert "may have been recorded anyway" in result.stderr


def test_a_url_that_is_not_http(live: Live) -> None:
    result = submit(
        live.bundle, "--url", "ftp://example.test",
        key=live.key,
    )  # fmt: skip
    assert result.returncode == 2
    assert "must be http:// or https://" in result.stderr
