"""The real service: ``python -m governance.cli.main serve`` over real HTTP, driven by the CLI.

One server process on SQLite in a temporary directory; keys are made with the ``governance``
console script (another process), evidence goes over a socket with httpx, and the server is
stopped with SIGTERM. Its logs must be JSON lines throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from governance.ledger import merkle
from governance.ledger.checkpoint import NoteVerifier
from tests.e2e._server import ORIGIN, Server, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MAX_BODY = 4096
# Uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so the parent sees it.
CLEAN_EXIT = (0, -signal.SIGTERM)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, max_body_bytes=MAX_BODY) as srv:
        yield srv


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    result = subprocess.run(
        [sys.executable, "-m", "governance.cli.main", "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("serve", "db", "keys", "ledger"):
        assert command in result.stdout


def test_live_server(server: Server) -> None:
    # The checkpoint key was created on first start, readable by its owner only.
    key_file = server.tmp / "keys" / "checkpoint.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    _ingest_id, ingest = server.create_key("ingest", "e2e ingest")
    _auditor_id, auditor = server.create_key("auditor", "e2e auditor")

    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/readyz").status_code == 200

        # The public key over HTTP is the one the CLI prints.
        vkey = http.get("/api/v1/ledger/public-key", headers=_bearer(auditor)).text.strip()
        assert vkey == server.cli("ledger", "public-key").strip()
        verifier = NoteVerifier.from_verifier_key(vkey)

        document = b"%PDF-1.7\n" + bytes(range(256)) * 4
        response = http.post(
            "/api/v1/evidence",
            content=document,
            headers={**_bearer(ingest), "Content-Type": "application/pdf"},
        )
        assert response.status_code == 201, response.text
        receipt = response.json()
        digest = hashlib.sha256(document).hexdigest()
        assert receipt["sha256"] == digest
        assert response.headers["location"] == f"/api/v1/evidence/{digest}"
        checkpoint = verifier.verify(receipt["checkpoint"])
        assert checkpoint.origin == ORIGIN
        # Entry 0 is the trust configuration the server records at startup.
        assert checkpoint.size == receipt["tree_size"] == 2
        merkle.verify_inclusion(
            bytes.fromhex(receipt["leaf_hash"]),
            receipt["index"],
            receipt["tree_size"],
            [bytes.fromhex(h) for h in receipt["inclusion_proof"]],
            checkpoint.root,
        )

        fetched = http.get(response.headers["location"], headers=_bearer(auditor))
        assert fetched.status_code == 200
        assert fetched.content == document
        assert fetched.headers["content-type"] == "application/pdf"

        # A real chunked upload: under the limit it is stored, over it it is refused.
        def chunks(total: int) -> Iterator[bytes]:
            for start in range(0, total, 1000):
                yield b"c" * min(1000, total - start)

        small = http.post(
            "/api/v1/evidence",
            content=chunks(3000),
            headers={**_bearer(ingest), "Content-Type": "text/plain"},
        )
        assert small.status_code == 201, small.text
        assert small.request.headers.get("transfer-encoding") == "chunked"
        for body in (b"x" * (MAX_BODY + 1), chunks(MAX_BODY * 3)):
            too_big = http.post(
                "/api/v1/evidence",
                content=body,
                headers={**_bearer(ingest), "Content-Type": "text/plain"},
            )
            assert too_big.status_code == 413, too_big.text
            assert too_big.headers["content-type"] == "application/problem+json"

        # A key revoked with the CLI stops working at once (the cache is off here).
        revoker_id, revoker = server.create_key("ingest", "to be revoked")
        assert (
            http.post(
                "/api/v1/evidence",
                content=b"before",
                headers={**_bearer(revoker), "Content-Type": "text/plain"},
            ).status_code
            == 201
        )
        server.cli("keys", "revoke", revoker_id)
        refused = http.post(
            "/api/v1/evidence",
            content=b"after",
            headers={**_bearer(revoker), "Content-Type": "text/plain"},
        )
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"

        size = int(http.get("/readyz").json()["tree_size"])
        assert size == 4  # the startup trust-configuration entry and three documents

        # The CLI, in another process, sees the same ledger and finds it clean.
        audit = server.cli("ledger", "audit")
        assert f"audit: {size} entries" in audit
        assert "OK: no damage found" in audit
        note = server.cli("ledger", "checkpoint")
        assert verifier.verify(note).size == size

        metrics = http.get("/metrics", headers=_bearer(auditor))
        assert 'governance_ledger_appends_total{kind="evidence"} 3.0' in metrics.text

    assert server.process.poll() is None, "the server died during the test"
    assert server.stop() in CLEAN_EXIT
    _assert_json_logs(server)

    # Closing the runtime closes every SQLite connection, and SQLite then checkpoints and removes
    # the WAL; a leftover WAL means `serve` never reached its `runtime.close()`.
    assert not (server.tmp / "g.db-wal").exists(), "serve did not close its runtime on SIGTERM"


def test_malformed_requests_do_not_hurt_the_server(server: Server) -> None:
    _key_id, ingest = server.create_key("ingest", "e2e ingest")
    host, port = server.address
    raw = (
        b"POST /api/v1/evidence HTTP/1.1\r\n"
        b"Host: " + host.encode() + b"\r\n"
        b"Authorization: Bearer " + ingest.encode() + b"\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: abc\r\n"
        b"Connection: close\r\n\r\nhello"
    )
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(raw)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500, reply[:200]

    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        # Nothing was appended: only the startup trust-configuration entry is there.
        assert http.get("/readyz").json()["tree_size"] == 1
    assert server.stop() in CLEAN_EXIT
    _assert_json_logs(server)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _assert_json_logs(server: Server) -> None:
    """Every line the server wrote is one JSON object; no traceback anywhere."""
    records = []
    for stream in (server.stdout, server.stderr):
        for line in stream.read_text().splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"non-JSON log line in {stream.name}: {line!r}")
            assert isinstance(record, dict), line
            for field in ("time", "level", "logger", "message"):
                assert field in record, line
            records.append(record)
    assert records, "the server logged nothing"
    assert not [r for r in records if "exc_info" in r or r["level"] in ("error", "critical")]
    access = [r for r in records if r["logger"] == "governance.access"]
    assert any(r["path"] == "/healthz" and r["status"] == 200 for r in access)
    messages = [r["message"] for r in records]
    assert any("Application shutdown complete" in m for m in messages), messages[-5:]
