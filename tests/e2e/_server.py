"""A live ``governance serve`` for end-to-end tests: a process on a free port.

On SQLite in its directory, or on the database a test names (``database_url=``: a PostgreSQL
schema of :func:`tests.conftest.postgres_schema`). The process imports the checkout under test
(``PYTHONPATH``), not whatever copy of ``governance`` the environment has installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ORIGIN = "e2e.governance/ledger"
STARTUP_SECONDS = 60
#: The checkout under test, first on the path of every process a test starts.
ROOT = Path(__file__).resolve().parents[2]


def checkout_pythonpath() -> str:
    """``PYTHONPATH`` for a process that must import this checkout's code."""
    paths = [str(ROOT), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(p for p in paths if p))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def governance_command() -> list[str]:
    """The installed console script when there is one (it is in the project venv)."""
    script = Path(sys.executable).parent / "governance"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "governance.cli.main"]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    tmp: Path
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.tmp / "g.db"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*governance_command(), *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def create_key(self, role: str, name: str) -> tuple[str, str]:
        """A new API key made with ``governance keys create``: (key id, key) from its output."""
        out = self.cli("keys", "create", "--role", role, "--name", name)
        key = out.rstrip("\n").split("\n")[-1]
        assert key.startswith("gov_"), out
        key_id = out.split("created API key ", 1)[1].split()[0]
        return key_id, key

    def key(self, role: str) -> str:
        """An API key for ``role``, made once."""
        if role not in self.keys:
            self.keys[role] = self.create_key(role, f"e2e {role}")[1]
        return self.keys[role]

    def logs(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def access_log(self) -> list[dict[str, Any]]:
        records = []
        for line in self.logs().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("logger") == "governance.access":
                records.append(record)
        return records

    def tree_size(self) -> int:
        return int(httpx.get(f"{self.url}/readyz", timeout=10).json()["tree_size"])

    def stop(self) -> int | None:
        """SIGTERM, then wait; SIGKILL only if it does not stop."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None


@contextmanager
def running_server(tmp: Path, **settings: object) -> Iterator[Server]:
    """``governance serve`` on SQLite in ``tmp``, with ``settings`` (``max_body_bytes=4096``:
    ``GOVERNANCE_MAX_BODY_BYTES=4096``; ``database_url=...``: another database) over the
    defaults; stopped with SIGTERM afterwards."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update(
        GOVERNANCE_DATABASE_URL=f"sqlite:///{tmp / 'g.db'}",
        GOVERNANCE_SIGNING_KEY_FILE=str(tmp / "keys" / "checkpoint.key"),
        GOVERNANCE_LEDGER_ORIGIN=ORIGIN,
        GOVERNANCE_API_KEY_CACHE_SECONDS="0",
        GOVERNANCE_LOG_LEVEL="INFO",
        GOVERNANCE_LOG_JSON="true",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=checkout_pythonpath(),
    )
    env.update({f"GOVERNANCE_{name.upper()}": str(value) for name, value in settings.items()})
    stdout, stderr = tmp / "server.stdout", tmp / "server.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "governance.cli.main", "serve", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    server = Server(f"http://127.0.0.1:{port}", env, tmp, process, stdout, stderr)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.logs()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start in {STARTUP_SECONDS}s:\n{server.logs()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def requests_logged(server: Server, path: str, status: int) -> int:
    return sum(1 for r in server.access_log() if r["path"] == path and r["status"] == status)


def wait_for_log(server: Server, path: str, status: int, count: int) -> int:
    """Access log lines are written just after the response; wait for ``count`` of them."""
    deadline = time.monotonic() + 10
    while requests_logged(server, path, status) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a retry would have been logged by now
    return requests_logged(server, path, status)
