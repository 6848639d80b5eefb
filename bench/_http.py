"""The HTTP benches' harness: the server in a subprocess, its keys and metrics, and load runs.

A load run (:class:`Load`) is wrk, with a Lua script of the bench's own that makes every body
distinct, or the asyncio client of :mod:`bench._loadclient` in a process of its own; both give
an :class:`HttpRun`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, fmt_ms, fmt_rate
from bench._loadclient import LoadResult, LoadSpec, proc_cpu_seconds, run_client


@dataclass
class HttpRun:
    rate: float
    p50: float
    p99: float
    ok_total: int  # every 2xx response, warm-up included (for the cross-checks)
    errors: int
    client_cpu: float  # CPU seconds per wall second over the measured window
    server_cpu: float
    #: What the bench read around the run: /metrics deltas and the like.
    ledger: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: LoadResult) -> HttpRun:
        return cls(
            rate=result["ok"] / result["window"],
            p50=result["p50"],
            p99=result["p99"],
            ok_total=result["ok_total"],
            errors=result["errors"],
            client_cpu=result["client_cpu"] / result["window"],
            server_cpu=result["server_cpu"] / result["window"],
        )

    def text(self, unit: str = "/s") -> str:
        return (
            f"{fmt_rate(self.rate, unit)} (p50 {fmt_ms(self.p50)}, p99 {fmt_ms(self.p99)}, "
            f"errors {self.errors}; CPU cores: server {self.server_cpu:.2f}, "
            f"client {self.client_cpu:.2f})"
        )


@dataclass(frozen=True)
class Server:
    """A running server: its port and process, an ingest key, and an auditor key for /metrics."""

    port: int
    pid: int
    key: str
    metrics_key: str
    #: From starting the process to ``/healthz`` answering (migrations included).
    startup_seconds: float


@dataclass(frozen=True)
class Load:
    """``concurrency`` keep-alive connections to ``server`` for ``warmup`` then ``seconds``."""

    server: Server
    seconds: float
    warmup: float
    concurrency: int

    def python(self, target: str, mode: str) -> HttpRun:
        """The asyncio client ``target`` (see :mod:`bench._loadclient`), in its own process."""
        spec: LoadSpec = {
            "port": self.server.port,
            "server_pid": self.server.pid,
            "mode": mode,
            "key": self.server.key,
            "seconds": self.seconds,
            "warmup": self.warmup,
            "concurrency": self.concurrency,
            "nonce": uuid.uuid4().hex,
        }
        timeout = self.seconds + self.warmup + 60
        return HttpRun.of(run_client(target, spec, timeout=timeout))

    def wrk(self, script: Path, mode: str) -> HttpRun:
        """wrk with ``script``, which gets ``mode``, a nonce and the key as its arguments.

        The script's ``done`` prints ``WRK-JSON {...}`` with requests, duration, errors and
        percentiles. Warm-up and window are two wrk invocations.
        """
        warm = {"requests": 0, "status_errors": 0}
        if self.warmup > 0:
            warm, _, _ = self._wrk_once(script, mode, self.warmup)
        data, server_cpu, client_cpu = self._wrk_once(script, mode, self.seconds)
        wall = data["duration_us"] / 1e6
        ok = data["requests"] - data["status_errors"]
        return HttpRun(
            rate=ok / wall,
            p50=data["p50_us"] / 1e6,
            p99=data["p99_us"] / 1e6,
            ok_total=ok + warm["requests"] - warm["status_errors"],
            errors=data["status_errors"] + data["socket_errors"],
            client_cpu=client_cpu / wall,
            server_cpu=server_cpu / wall,
        )

    def _wrk_once(
        self, script: Path, mode: str, duration: float
    ) -> tuple[dict[str, Any], float, float]:
        cmd = [
            "wrk", "-t2", f"-c{self.concurrency}", f"-d{max(1, round(duration))}s",
            "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{self.server.port}",
            "--", mode, uuid.uuid4().hex, self.server.key,
        ]  # fmt: skip
        server_before = proc_cpu_seconds(self.server.pid)
        children_before = os.times()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 60, check=False
        )
        children_after = os.times()
        server_cpu = proc_cpu_seconds(self.server.pid) - server_before
        client_cpu = (
            children_after.children_user
            + children_after.children_system
            - children_before.children_user
            - children_before.children_system
        )
        for line in proc.stdout.splitlines():
            if line.startswith("WRK-JSON "):
                data: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
                return data, server_cpu, client_cpu
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


_WRK_SETUP = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
"""
_WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,'
    .. '"p50_us":%.1f,"p99_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(requests: str) -> str:
    """A wrk script around the bench's Lua ``init`` and ``request``: threads numbered from 1
    (``tid``), and the summary line :meth:`Load.wrk` reads."""
    return _WRK_SETUP + requests + _WRK_DONE


def choose_client(choice: str) -> str:
    """``--client``: ``auto`` is wrk when it is on ``PATH``, else the asyncio client."""
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not installed")
    return choice


# --------------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def running_server(
    command: Sequence[str] | None,
    url: str,
    signing_key_file: Path,
    log_path: Path,
    *,
    log_level: str = "WARNING",
    timeout: float = 60,
) -> Iterator[Server]:
    """``command`` (``governance serve`` when None) on ``url``, started from the repository
    root and stopped with Ctrl-C on leaving; ready once ``/healthz`` answers 200."""
    exe = _governance_exe()
    port = _free_port()
    child_env = {
        **os.environ,
        "GOVERNANCE_DATABASE_URL": url,
        "GOVERNANCE_SIGNING_KEY_FILE": str(signing_key_file),
        "GOVERNANCE_HOST": "127.0.0.1",
        "GOVERNANCE_PORT": str(port),
        "GOVERNANCE_LOG_LEVEL": log_level,
    }
    started = time.perf_counter()
    process = _start(list(command or [exe, "serve"]), child_env, log_path, timeout)
    startup = time.perf_counter() - started
    try:
        key = _create_key(exe, child_env, "ingest")
        metrics_key = _create_key(exe, child_env, "auditor")
        yield Server(port, process.pid, key, metrics_key, startup)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _governance_exe() -> str:
    """The ``governance`` console script of this interpreter's environment."""
    bindir = Path(sys.executable).parent
    exe = shutil.which("governance", path=str(bindir)) or shutil.which("governance")
    if exe is None:
        raise SystemExit("the `governance` console script is not installed in the venv")
    return exe


def _start(
    command: list[str], child_env: dict[str, str], log_path: Path, timeout: float
) -> subprocess.Popen[bytes]:
    port = int(child_env["GOVERNANCE_PORT"])
    shown = " ".join([Path(command[0]).name, *command[1:]])
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"`{shown}` exited:\n{log_path.read_text()[-3000:]}")
        try:
            if http_get(port, "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"`{shown}` did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def _create_key(exe: str, child_env: dict[str, str], role: str) -> str:
    created = subprocess.run(
        [exe, "keys", "create", "--role", role, "--name", "bench"],
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1].strip()


# ---------------------------------------------------------------------------- ledger metrics

LEDGER_METRICS = (
    "governance_ledger_batch_size_sum",
    "governance_ledger_batch_size_count",
    "governance_ledger_commit_seconds_sum",
    "governance_ledger_append_seconds_sum",
    "governance_ledger_append_seconds_count",
)


def ledger_metrics(server: Server) -> dict[str, float]:
    """The server's batch and commit counters, from /metrics."""
    status, body = http_get(server.port, "/metrics", server.metrics_key)
    values = dict.fromkeys(LEDGER_METRICS, 0.0)
    if status == 200:
        for line in body.decode().splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
    return values


def ledger_summary(deltas: Mapping[str, float]) -> str:
    """Mean batch size, commit time and submit-to-receipt time from two metrics readings."""
    batches = deltas["governance_ledger_batch_size_count"] or math.nan
    appends = deltas["governance_ledger_append_seconds_count"] or math.nan
    return (
        f"mean batch {deltas['governance_ledger_batch_size_sum'] / batches:.1f} entries, "
        f"mean commit {fmt_ms(deltas['governance_ledger_commit_seconds_sum'] / batches)}, "
        f"mean submit-to-receipt {fmt_ms(deltas['governance_ledger_append_seconds_sum'] / appends)}"
    )
