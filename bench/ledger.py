#!/usr/bin/env python3
"""Ledger benchmarks: every figure is printed next to a baseline measured in the same run.

Usage (from the repository root)::

    .venv/bin/python bench/ledger.py --quick             # ~1.5 min (2-core VM)
    .venv/bin/python bench/ledger.py --backend sqlite    # full size, SQLite only: ~5 min
    .venv/bin/python bench/ledger.py                     # full size, both backends: ~15 min

Steps (``--steps``, comma separated; all by default):

``append``
    ``Ledger.submit`` of N distinct ~300-byte payloads (submit all, then wait for every future:
    the group-commit path) against a raw batched ``INSERT`` of the very rows the ledger wrote
    (entries, payloads, nodes), replayed into a freshly migrated database in the ledger's own
    batch sizes, one transaction per batch, on the service's engine (same durability settings).
``http``
    ``governance serve`` (uvicorn, SQLite) in a subprocess; 8 concurrent keep-alive clients
    POST distinct documents to ``/api/v1/evidence``; baseline: ``GET /healthz`` with the same
    client. The client is ``wrk`` when installed, else a lean asyncio HTTP/1.1 client in its own
    process (``--client`` picks one explicitly).
``proofs`` / ``audit`` / ``size``
    One ledger filled to ``--entries-for-proofs`` entries is shared by these: inclusion and
    consistency proof latency (baseline: one primary-key SELECT of a node row on a held
    connection), ``audit_database`` speed (baseline: entries joined with payloads, read in the
    audit's keyset chunks without verifying anything), and bytes per entry on disk.

PostgreSQL runs in its own throw-away schema (``bench_<random>``) of the ``--pg-url`` database;
temporary directories and schemas are removed at the end (``--keep`` keeps the directory).
Ratios are "measured / baseline": for throughput higher is better, for latency lower is.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.ledger import audit as audit_module
from governance.ledger import merkle
from governance.ledger.audit import audit_database
from governance.ledger.checkpoint import NoteVerifier
from governance.ledger.entries import AppendRequest
from governance.ledger.store import Ledger
from governance.runtime import Runtime

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAYLOAD_BYTES = 300
KIND = "evidence"
MEDIA_TYPE = "application/json"
MAX_BATCH = 1000  # the service default (GOVERNANCE_APPEND_MAX_BATCH)
HTTP_CONCURRENCY = 8
# Chunk size the audit streams rows in; the scan baseline uses the same.
AUDIT_CHUNK: int = getattr(audit_module, "_CHUNK", 5000)
_PAD = (uuid.uuid4().hex * 10).encode()


def say(message: str = "") -> None:
    print(message, flush=True)


def payload(tag: bytes, seq: int) -> bytes:
    """A distinct JSON document of exactly PAYLOAD_BYTES bytes."""
    head = b'{"bench":"%s","seq":%d,"pad":"' % (tag, seq)
    return head + _PAD[: PAYLOAD_BYTES - len(head) - 2] + b'"}'


def pct(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt_rate(value: float, unit: str = "/s") -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}{unit}"


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.3f} ms"


def nodes_before(leaves: int) -> int:
    """How many stored subtrees a ledger of ``leaves`` entries has (ids 0..n-1)."""
    return 2 * leaves - leaves.bit_count()


# ---------------------------------------------------------------------------------- results


@dataclass
class Row:
    section: str
    backend: str
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def print(self) -> None:
        headers = Row(
            "step", "backend", "measure", "median", "baseline (same run)", "ratio", "target", ""
        )
        cols = list(headers.__dataclass_fields__)
        # By step number (stable, so rows of one step keep their order).
        table = [headers, *sorted(self.rows, key=lambda r: r.section.split()[0])]
        widths = {c: max(len(getattr(r, c)) for r in table) for c in cols}
        line = "  ".join("-" * widths[c] for c in cols)
        say()
        say(line)
        for index, row in enumerate(table):
            say("  ".join(getattr(row, c).ljust(widths[c]) for c in cols).rstrip())
            if index == 0:
                say(line)
        say(line)
        for note in self.notes:
            say(textwrap.fill(note, width=100, initial_indent="* ", subsequent_indent="  "))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ------------------------------------------------------------------------------ environment


class Env:
    """Temporary directory and PostgreSQL schemas, all removed by :meth:`close`."""

    def __init__(self, pg_url: str | None, keep: bool) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
        self.pg_url = pg_url
        self.keep = keep
        self._admin: Engine | None = None
        self._schemas: dict[str, str] = {}

    def admin(self) -> Engine:
        assert self.pg_url is not None
        if self._admin is None:
            self._admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        return self._admin

    def new_db(self, backend: str, name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / name}.db"
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self.admin().connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        assert self.pg_url is not None
        sep = "&" if "?" in self.pg_url else "?"
        url = f"{self.pg_url}{sep}options=-csearch_path%3D{schema}"
        self._schemas[url] = schema
        return url

    def drop_db(self, url: str) -> None:
        schema = self._schemas.pop(url, None)
        if schema is not None:
            with self.admin().connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        elif url.startswith("sqlite:///"):
            base = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                Path(base + suffix).unlink(missing_ok=True)

    def settings(self, url: str, *, queue_size: int = 20_000) -> Settings:
        return Settings(
            database_url=url,
            signing_key_file=self.tmp / "checkpoint.key",
            append_max_batch=MAX_BATCH,
            append_queue_size=queue_size,
            log_json=False,
        )

    def close(self) -> None:
        for url in list(self._schemas):
            try:
                self.drop_db(url)
            except Exception as exc:  # noqa: BLE001 - report and keep cleaning up
                say(f"warning: could not drop schema {self._schemas.get(url)}: {exc}")
        if self._admin is not None:
            self._admin.dispose()
        if self.keep:
            say(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def choose_backends(choice: str, pg_url: str, report: Report) -> list[str]:
    """The backends a bench run covers (``--backend``): PostgreSQL only if it is reachable.

    Asked for PostgreSQL alone and it is not reachable: exit with the reason. Asked for both:
    SQLite only, and the report says why.
    """
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in backends:
        problem = pg_reachable(pg_url)
        if problem is not None:
            if choice == "postgresql":
                raise SystemExit(f"PostgreSQL at {pg_url} is not reachable: {problem}")
            say(f"PostgreSQL is not reachable ({problem}); SQLite only")
            report.notes.append("PostgreSQL was skipped: not reachable.")
            backends = ["sqlite"]
    return backends


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers, else why not."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# ----------------------------------------------------------------------- 1. append vs INSERT


@dataclass
class AppendRun:
    ledger_eps: float
    raw_eps: float
    raw_rows_ps: float
    rows_per_entry: float
    batches: int
    median_batch: float


def _written_rows(engine: Engine, first: int) -> tuple[list[int], list[Any], list[Any], list[Any]]:
    """Batch sizes and the entry, payload and node rows written for entries >= ``first``."""
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        mark = "%s" if is_postgres(engine) else "?"
        cur.execute(
            f"SELECT size FROM ledger_checkpoints WHERE size > {mark} ORDER BY size", (first,)
        )
        sizes = [first] + [int(r[0]) for r in cur.fetchall()]
        batches = [b - a for a, b in itertools.pairwise(sizes)]
        cur.execute(
            f"SELECT idx, kind, envelope, idem FROM ledger_entries WHERE idx >= {mark} "
            "ORDER BY idx",
            (first,),
        )
        entries = [(int(r[0]), r[1], bytes(r[2]), bytes(r[3])) for r in cur.fetchall()]
        cur.execute(
            f"SELECT idx, data FROM ledger_payloads WHERE idx >= {mark} ORDER BY idx", (first,)
        )
        payloads = [(int(r[0]), bytes(r[1])) for r in cur.fetchall()]
        cur.execute(
            f"SELECT id, hash FROM ledger_nodes WHERE id >= {mark} ORDER BY id",
            (nodes_before(first),),
        )
        nodes = [(int(r[0]), bytes(r[1])) for r in cur.fetchall()]
        cur.close()
        conn.rollback()
    finally:
        conn.close()
    return batches, entries, payloads, nodes


def _raw_insert(
    url: str,
    first: int,
    batches: list[int],
    entries: list[Any],
    payloads: list[Any],
    nodes: list[Any],
) -> tuple[float, int]:
    """Insert the rows into a freshly migrated database, batch by batch; (seconds, rows)."""
    upgrade(url)
    engine = create_db_engine(url)
    try:
        postgres = is_postgres(engine)
        mark = "%s" if postgres else "?"
        ins_entries = (
            f"INSERT INTO ledger_entries (idx, kind, envelope, idem) "
            f"VALUES ({mark},{mark},{mark},{mark})"
        )
        ins_payloads = f"INSERT INTO ledger_payloads (idx, data) VALUES ({mark},{mark})"
        ins_nodes = f"INSERT INTO ledger_nodes (id, hash) VALUES ({mark},{mark})"
        node_base = nodes_before(first)
        spans = []
        start = first
        for size in batches:
            end = start + size
            spans.append(
                (
                    entries[start - first : end - first],
                    payloads[start - first : end - first],
                    nodes[nodes_before(start) - node_base : nodes_before(end) - node_base],
                )
            )
            start = end
        rows = sum(len(a) + len(b) + len(c) for a, b, c in spans)
        conn = engine.raw_connection()
        try:
            cur = conn.cursor()
            started = time.perf_counter()
            for batch_entries, batch_payloads, batch_nodes in spans:
                if not postgres:
                    cur.execute("BEGIN IMMEDIATE")
                cur.executemany(ins_entries, batch_entries)
                cur.executemany(ins_payloads, batch_payloads)
                cur.executemany(ins_nodes, batch_nodes)
                if postgres:
                    conn.commit()
                else:
                    cur.execute("COMMIT")
            elapsed = time.perf_counter() - started
            cur.close()
        finally:
            conn.close()
    finally:
        engine.dispose()
    return elapsed, rows


def append_once(env: Env, backend: str, n: int, rep: int) -> AppendRun:
    url = env.new_db(backend, f"append{rep}")
    try:
        runtime = Runtime.open(
            env.settings(url, queue_size=max(20_000, n + MAX_BATCH)), migrate=True
        )
        try:
            ledger = runtime.ledger
            # One append first, so the writer's connection is open before the clock starts.
            ledger.append(AppendRequest(KIND, payload(b"warm", rep), MEDIA_TYPE))
            tag = f"append-{rep}-{uuid.uuid4().hex[:6]}".encode()
            documents = [payload(tag, i) for i in range(n)]
            started = time.perf_counter()
            futures = [ledger.submit(AppendRequest(KIND, doc, MEDIA_TYPE)) for doc in documents]
            for future in futures:
                future.result()
            ledger_seconds = time.perf_counter() - started
            batches, entries, payloads, nodes = _written_rows(runtime.engine, 1)
        finally:
            runtime.close()
    finally:
        env.drop_db(url)
    assert sum(batches) == n == len(entries), (sum(batches), n, len(entries))
    raw_url = env.new_db(backend, f"raw{rep}")
    try:
        raw_seconds, rows = _raw_insert(raw_url, 1, batches, entries, payloads, nodes)
    finally:
        env.drop_db(raw_url)
    return AppendRun(
        ledger_eps=n / ledger_seconds,
        raw_eps=n / raw_seconds,
        raw_rows_ps=rows / raw_seconds,
        rows_per_entry=rows / n,
        batches=len(batches),
        median_batch=median(batches),
    )


def bench_append(env: Env, backend: str, n: int, repeats: int, report: Report) -> None:
    say(f"\n== append throughput vs raw INSERT [{backend}]: {n:,} x {PAYLOAD_BYTES} B")
    runs = []
    for rep in range(repeats):
        run = append_once(env, backend, n, rep)
        runs.append(run)
        say(
            f"  run {rep + 1}: ledger {fmt_rate(run.ledger_eps, ' entries/s')} in {run.batches} "
            f"batches (median {run.median_batch:.0f}); raw {fmt_rate(run.raw_eps, ' entries/s')}"
            f" = {fmt_rate(run.raw_rows_ps, ' rows/s')} ({run.rows_per_entry:.2f} rows/entry); "
            f"ratio {run.ledger_eps / run.raw_eps:.2f}"
        )
    ledger_eps = median([r.ledger_eps for r in runs])
    raw_eps = median([r.raw_eps for r in runs])
    raw_rows = median([r.raw_rows_ps for r in runs])
    ratio = median([r.ledger_eps / r.raw_eps for r in runs])
    report.add(
        Row(
            "1 append",
            backend,
            f"Ledger.submit x{n:,} ({PAYLOAD_BYTES} B)",
            fmt_rate(ledger_eps, " entries/s"),
            f"raw INSERT {fmt_rate(raw_eps, ' entries/s')} ({fmt_rate(raw_rows, ' rows/s')})",
            f"{ratio:.2f}",
            ">= 0.50",
            verdict(ratio >= 0.5),
        )
    )


# --------------------------------------------------------------------------- 2. HTTP ingest

WRK_SCRIPT = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  mode = args[1]
  nonce = args[2]
  counter = 0
  pad = string.rep("p", 200)
  if mode == "post" then
    wrk.method = "POST"
    wrk.path = "/api/v1/evidence"
    wrk.headers["Authorization"] = "Bearer " .. args[3]
    wrk.headers["Content-Type"] = "application/json"
  else
    wrk.method = "GET"
    wrk.path = "/healthz"
    fixed = wrk.format()
  end
end

function request()
  if fixed then
    return fixed
  end
  counter = counter + 1
  local body = string.format('{"bench":"%s","t":%d,"n":%d,"pad":"%s"}', nonce, tid, counter, pad)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,'
    .. '"p50_us":%.1f,"p99_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class HttpRun:
    rate: float
    p50: float
    p99: float
    ok_total: int  # every 2xx response, warm-up included (for the tree-size cross-check)
    errors: int
    client_cpu: float  # CPU seconds per wall second over the measured window
    server_cpu: float
    ledger: dict[str, float] = field(default_factory=dict)


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_get(port: int, path: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_LEDGER_METRICS = (
    "governance_ledger_batch_size_sum",
    "governance_ledger_batch_size_count",
    "governance_ledger_commit_seconds_sum",
    "governance_ledger_append_seconds_sum",
    "governance_ledger_append_seconds_count",
)


def _ledger_metrics(port: int, key: str) -> dict[str, float]:
    """The server's batch and commit counters, from /metrics."""
    status, body = _http_get(port, "/metrics", key)
    values = dict.fromkeys(_LEDGER_METRICS, 0.0)
    if status == 200:
        for line in body.decode().splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
    return values


def _run_wrk(
    script: Path, port: int, server_pid: int, mode: str, key: str, seconds: float, warmup: float
) -> HttpRun:
    def once(duration: float) -> tuple[dict[str, Any], float, float]:
        cmd = [
            "wrk", "-t2", f"-c{HTTP_CONCURRENCY}", f"-d{max(1, round(duration))}s",
            "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}",
            "--", mode, uuid.uuid4().hex, key,
        ]  # fmt: skip
        server_before = _proc_cpu_seconds(server_pid)
        children_before = os.times()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 60, check=False
        )
        children_after = os.times()
        server_cpu = _proc_cpu_seconds(server_pid) - server_before
        client_cpu = (
            children_after.children_user
            + children_after.children_system
            - children_before.children_user
            - children_before.children_system
        )
        for line in proc.stdout.splitlines():
            if line.startswith("WRK-JSON "):
                return json.loads(line.removeprefix("WRK-JSON ")), server_cpu, client_cpu
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")

    warm = {"requests": 0, "status_errors": 0}
    if warmup > 0:
        warm, _, _ = once(warmup)
    data, server_cpu, client_cpu = once(seconds)
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


def _run_python_client(
    flavour: str, port: int, server_pid: int, mode: str, key: str, seconds: float, warmup: float
) -> HttpRun:
    spec = {
        "flavour": flavour,
        "port": port,
        "server_pid": server_pid,
        "mode": mode,
        "key": key,
        "seconds": seconds,
        "warmup": warmup,
        "concurrency": HTTP_CONCURRENCY,
        "nonce": uuid.uuid4().hex,
    }
    command = [sys.executable, str(Path(__file__).resolve()), "_http-client"]
    return run_client_process(command, spec, timeout=seconds + warmup + 60)


def run_client_process(command: list[str], spec: dict[str, Any], timeout: float) -> HttpRun:
    """Run a load-generating client process (``command`` + the JSON spec) and read its result.

    The client prints one JSON object (its last line starting with ``{``) with counts over its
    measuring window.
    """
    proc = subprocess.run(
        [*command, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"HTTP client failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    data = json.loads(lines[-1])
    return HttpRun(
        rate=data["ok"] / data["window"],
        p50=data["p50"],
        p99=data["p99"],
        ok_total=data["ok_total"],
        errors=data["errors"],
        client_cpu=data["client_cpu"] / data["window"],
        server_cpu=data["server_cpu"] / data["window"],
    )


def _start_server(exe: str, child_env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    port = int(child_env["GOVERNANCE_PORT"])
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [exe, "serve"],
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"governance serve exited:\n{log_path.read_text()[-3000:]}")
        try:
            if _http_get(port, "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"governance serve did not start:\n{log_path.read_text()[-3000:]}")
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


def bench_http(env: Env, args: argparse.Namespace, report: Report) -> None:
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not installed")
    seconds, warmup = args.http_seconds, 1.0
    say(
        f"\n== HTTP ingest [sqlite]: {HTTP_CONCURRENCY} concurrent connections ({client} client), "
        f"{seconds:g} s per run after a {warmup:g} s warm-up"
    )
    url = env.new_db("sqlite", "http")
    bindir = Path(sys.executable).parent
    exe = shutil.which("governance", path=str(bindir)) or shutil.which("governance")
    if exe is None:
        raise SystemExit("the `governance` console script is not installed in the venv")
    port = _free_port()
    child_env = {
        **os.environ,
        "GOVERNANCE_DATABASE_URL": url,
        "GOVERNANCE_SIGNING_KEY_FILE": str(env.tmp / "http-checkpoint.key"),
        "GOVERNANCE_HOST": "127.0.0.1",
        "GOVERNANCE_PORT": str(port),
        "GOVERNANCE_LOG_LEVEL": "WARNING",
    }
    server = _start_server(exe, child_env, env.tmp / "serve.log")
    try:
        key = _create_key(exe, child_env, "ingest")
        metrics_key = _create_key(exe, child_env, "auditor")
        script = env.tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)

        def run(mode: str) -> HttpRun:
            before = _ledger_metrics(port, metrics_key)
            if client == "wrk":
                result = _run_wrk(script, port, server.pid, mode, key, seconds, warmup)
            else:
                result = _run_python_client(client, port, server.pid, mode, key, seconds, warmup)
            after = _ledger_metrics(port, metrics_key)
            result.ledger = {name: after[name] - before[name] for name in _LEDGER_METRICS}
            return result

        health: list[HttpRun] = []
        posts: list[HttpRun] = []
        for rep in range(args.repeats):
            health.append(run("get"))
            posts.append(run("post"))
            h, p = health[-1], posts[-1]
            batches = p.ledger["governance_ledger_batch_size_count"] or math.nan
            say(
                f"  run {rep + 1}: POST {fmt_rate(p.rate)} (p50 {fmt_ms(p.p50)}, "
                f"p99 {fmt_ms(p.p99)}, errors {p.errors}; CPU cores: server {p.server_cpu:.2f}, "
                f"client {p.client_cpu:.2f}); GET /healthz {fmt_rate(h.rate)} (p50 "
                f"{fmt_ms(h.p50)}, p99 {fmt_ms(h.p99)}; CPU: server {h.server_cpu:.2f}, "
                f"client {h.client_cpu:.2f})"
            )
            say(
                f"         ledger during the POST run: mean batch "
                f"{p.ledger['governance_ledger_batch_size_sum'] / batches:.1f} entries, mean "
                f"commit {fmt_ms(p.ledger['governance_ledger_commit_seconds_sum'] / batches)}, "
                f"mean submit-to-receipt "
                + fmt_ms(
                    p.ledger["governance_ledger_append_seconds_sum"]
                    / (p.ledger["governance_ledger_append_seconds_count"] or math.nan)
                )
            )
        status, body = _http_get(port, "/readyz")
        ready = json.loads(body) if status == 200 else {}
        tree_size = int(ready.get("tree_size", -1))
        counted = sum(p.ok_total for p in posts)
        slack = HTTP_CONCURRENCY * 2 * len(posts)  # wrk may stop before in-flight answers
        consistent = counted <= tree_size <= counted + (slack if client == "wrk" else 0)
        say(
            f"  ledger tree size {tree_size:,} for {counted:,} 2xx answers counted by the client"
            + ("" if consistent else "  <-- MISMATCH")
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    try:
        if "audit" in args.steps and "key" in ready:
            _audit_small_batches(url, NoteVerifier.from_verifier_key(ready["key"]), report)
    finally:
        env.drop_db(url)
    rate = median([p.rate for p in posts])
    base = median([h.rate for h in health])
    report.add(
        Row(
            "2 http",
            "sqlite",
            f"POST /api/v1/evidence, {HTTP_CONCURRENCY} conns",
            fmt_rate(rate, " entries/s"),
            f"GET /healthz {fmt_rate(base, ' req/s')}",
            f"{rate / base:.2f}",
            ">= 1,000/s",
            verdict(rate >= 1000),
        )
    )
    p50, p99 = median([p.p50 for p in posts]), median([p.p99 for p in posts])
    h50, h99 = median([h.p50 for h in health]), median([h.p99 for h in health])
    report.add(
        Row(
            "2 http",
            "sqlite",
            "POST latency p50 / p99",
            f"{fmt_ms(p50)} / {fmt_ms(p99)}",
            f"GET /healthz {fmt_ms(h50)} / {fmt_ms(h99)}",
            f"{p50 / h50:.1f} / {p99 / h99:.1f}",
        )
    )
    report.notes.append(
        f"HTTP: {client} client, {HTTP_CONCURRENCY} keep-alive connections, medians of "
        f"{len(posts)} runs of {seconds:g} s. CPU cores used while POSTing: server "
        f"{median([p.server_cpu for p in posts]):.2f}, client "
        f"{median([p.client_cpu for p in posts]):.2f} (of {os.cpu_count()})."
    )


def _audit_small_batches(url: str, verifier: NoteVerifier, report: Report) -> None:
    """Audit the ledger the HTTP step built: small batches, so one signed checkpoint per few
    entries (the 1M-entry ledger of step 4 has one per 1,000)."""
    engine = create_db_engine(url)
    try:
        result = audit_database(engine, verifier)
        if not result.ok:
            raise RuntimeError(f"audit of the HTTP-built ledger failed: {result.to_json()}")
        rows, seconds = scan_entries(engine, bound_join=True)
    finally:
        engine.dispose()
    rate, base = result.entries / result.seconds, rows / seconds
    say(
        f"  audit of this ledger: {result.entries:,} entries, {result.checkpoints:,} checkpoints "
        f"({result.entries / max(result.checkpoints, 1):.1f} entries each) in "
        f"{result.seconds:.2f} s = {fmt_rate(rate, ' entries/s')}; chunked scan "
        f"{fmt_rate(base, ' rows/s')}"
    )
    report.add(
        Row(
            "4 audit",
            "sqlite",
            f"audit_database, HTTP-built @{result.entries:,}",
            fmt_rate(rate, " entries/s"),
            f"chunked SELECT {fmt_rate(base, ' rows/s')}",
            f"{rate / base:.2f}",
            ">= 100,000/s",
            verdict(rate >= 100_000),
        )
    )
    report.notes.append(
        f"The HTTP-built ledger has a signed checkpoint per "
        f"{result.entries / max(result.checkpoints, 1):.1f} entries (one per committed batch), "
        "each verified by the audit; the filled ledger of steps 3-5 has one per 1,000."
    )


# the client process ------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(head[at + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise RuntimeError(f"unframed response: {head[:200]!r}")
    return status


@dataclass
class LoadWindow:
    """A client's measuring window: what it counts inside it (after the warm-up)."""

    measure_from: float
    stop_at: float
    latencies: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "ok_total": 0, "errors": 0})

    def record(self, started: float, ended: float, status: int) -> None:
        """One request: 2xx in total, and (inside the window) its latency or an error."""
        if 200 <= status < 300:
            self.counts["ok_total"] += 1
        if started >= self.measure_from and ended <= self.stop_at:
            if 200 <= status < 300:
                self.counts["ok"] += 1
                self.latencies.append(ended - started)
            else:
                self.counts["errors"] += 1


async def measure_load(
    spec: dict[str, Any], run_workers: Callable[[LoadWindow], Awaitable[object]]
) -> dict[str, Any]:
    """Run ``run_workers`` over the spec's warm-up and window; counts, latency and CPU as JSON.

    Server and client CPU are sampled over exactly the measured window.
    """
    measure_from = time.perf_counter() + spec["warmup"]
    window = LoadWindow(measure_from, measure_from + spec["seconds"])
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, window.measure_from - time.perf_counter()))
        cpu["server"] = _proc_cpu_seconds(spec["server_pid"])
        cpu["client"] = time.process_time()
        await asyncio.sleep(max(0.0, window.stop_at - time.perf_counter()))
        cpu["server"] = _proc_cpu_seconds(spec["server_pid"]) - cpu["server"]
        cpu["client"] = time.process_time() - cpu["client"]

    sampler = asyncio.ensure_future(sample_cpu())
    await run_workers(window)
    await sampler
    window.latencies.sort()
    return {
        **window.counts,
        "window": spec["seconds"],
        "server_cpu": cpu["server"],
        "client_cpu": cpu["client"],
        "p50": pct(window.latencies, 50),
        "p99": pct(window.latencies, 99),
    }


async def raw_socket_workers(
    spec: dict[str, Any], window: LoadWindow, request: Callable[[int, int], bytes]
) -> None:
    """``spec["concurrency"]`` keep-alive connections, each sending ``request(worker, seq)``
    (workers and sequence numbers from 1) and reading the response, until the window ends."""

    async def worker(number: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", spec["port"])
        try:
            seq = 0
            while (started := time.perf_counter()) < window.stop_at:
                seq += 1
                writer.write(request(number, seq))
                status = await _read_response(reader)
                window.record(started, time.perf_counter(), status)
        finally:
            writer.close()

    await asyncio.gather(*(worker(w + 1) for w in range(spec["concurrency"])))


def client_process_entry(
    raw_spec: str, main: Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]
) -> None:
    """A client process's entry point: run ``main(spec)`` (on uvloop if installed), print JSON."""
    spec = json.loads(raw_spec)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(main(spec))), flush=True)


async def _client_main(spec: dict[str, Any]) -> dict[str, Any]:
    port, nonce = spec["port"], spec["nonce"]
    host = f"127.0.0.1:{port}"
    post = spec["mode"] == "post"
    pad = "p" * 200

    def body(worker: int, seq: int) -> bytes:
        return f'{{"bench":"{nonce}","w":{worker},"n":{seq},"pad":"{pad}"}}'.encode()

    def raw_request(worker: int, seq: int) -> bytes:
        if not post:
            return f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        data = body(worker, seq)
        return (
            f"POST /api/v1/evidence HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {spec['key']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    async def httpx_workers(window: LoadWindow) -> None:
        import httpx

        concurrency = spec["concurrency"]
        headers = {"Authorization": f"Bearer {spec['key']}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

        async def worker(number: int, client: Any) -> None:
            seq = 0
            while (started := time.perf_counter()) < window.stop_at:
                seq += 1
                if post:
                    resp = await client.post(
                        "/api/v1/evidence", content=body(number, seq), headers=headers
                    )
                else:
                    resp = await client.get("/healthz")
                window.record(started, time.perf_counter(), resp.status_code)

        async with httpx.AsyncClient(base_url=f"http://{host}", limits=limits) as client:
            await asyncio.gather(*(worker(w + 1, client) for w in range(concurrency)))

    if spec["flavour"] == "httpx":
        return await measure_load(spec, httpx_workers)
    return await measure_load(spec, lambda window: raw_socket_workers(spec, window, raw_request))


# ------------------------------------------------------------- 3-5. a big ledger: fill once


def fill(ledger: Ledger, n: int) -> float:
    """Append ``n`` entries in large bursts (up to 40,000 outstanding); returns seconds."""
    window, chunk = 40_000, 10_000
    tag = f"fill-{uuid.uuid4().hex[:6]}".encode()
    pending: deque[Any] = deque()
    started = time.perf_counter()
    committed, next_report = 0, 60.0
    for i in range(n):
        pending.append(ledger.submit(AppendRequest(KIND, payload(tag, i), MEDIA_TYPE)))
        if len(pending) >= window:
            for _ in range(chunk):
                pending.popleft().result()
            committed += chunk
            elapsed = time.perf_counter() - started
            if elapsed >= next_report:
                say(f"    {committed:,} committed after {elapsed:.0f} s")
                next_report += 60.0
    while pending:
        pending.popleft().result()
    return time.perf_counter() - started


def timed(calls: Sequence[tuple[Any, ...]], fn: Callable[..., Any]) -> list[float]:
    clock = time.perf_counter
    out = []
    for call in calls:
        t0 = clock()
        fn(*call)
        out.append(clock() - t0)
    out.sort()
    return out


@dataclass
class Latency:
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)

    def add(self, sorted_values: list[float]) -> None:
        self.p50.append(pct(sorted_values, 50))
        self.p99.append(pct(sorted_values, 99))

    def text(self) -> str:
        return f"{fmt_ms(median(self.p50))} / {fmt_ms(median(self.p99))}"


def bench_proofs(
    ledger: Ledger, engine: Engine, backend: str, calls: int, repeats: int, report: Report
) -> None:
    size, root = ledger.head()
    say(f"  proofs at size {size:,}: {calls:,} calls per kind, {repeats} repeats")
    rng = random.Random(20_26)
    # Correctness first: a few proofs must verify against the signed root.
    for index in rng.sample(range(size), 5):
        proof = ledger.inclusion_proof(index, size)
        merkle.verify_inclusion(ledger.entry(index).leaf_hash, index, size, proof, root)
    for old in rng.sample(range(1, size), 3):
        proof = ledger.consistency_proof(old, size)
        merkle.verify_consistency(old, size, ledger.root_at(old), root, proof)
    postgres = is_postgres(engine)
    mark = "%s" if postgres else "?"
    node_count = nodes_before(size)
    held = engine.raw_connection()
    cur = held.cursor()

    def pk_select(node: int) -> None:
        cur.execute(f"SELECT hash FROM ledger_nodes WHERE id = {mark}", (node,))
        cur.fetchone()

    def in_select(ids: list[int]) -> None:
        cur.execute(
            f"SELECT id, hash FROM ledger_nodes WHERE id IN ({','.join([mark] * len(ids))})", ids
        )
        cur.fetchall()

    def proof_ids(index: int) -> list[int]:
        ranges = merkle.inclusion_ranges(index, size)
        return [merkle.node_position(lv, ps) for lv, ps in merkle.needed_subtrees(ranges)]

    inclusion, consistency, pk, same_query = Latency(), Latency(), Latency(), Latency()
    try:
        warm = [(rng.randrange(size), size) for _ in range(min(calls, 500))]
        timed(warm, ledger.inclusion_proof)
        for _ in range(repeats):
            indexes = [(rng.randrange(size), size) for _ in range(calls)]
            inclusion.add(timed(indexes, ledger.inclusion_proof))
            pk.add(timed([(rng.randrange(node_count),) for _ in range(calls)], pk_select))
            same_query.add(timed([(proof_ids(i),) for i, _ in indexes], in_select))
            olds = [(rng.randrange(1, size), size) for _ in range(calls)]
            consistency.add(timed(olds, ledger.consistency_proof))
            if postgres:
                held.rollback()
    finally:
        cur.close()
        held.rollback()
        held.close()
    say(
        f"  inclusion p50/p99 {inclusion.text()}; consistency {consistency.text()}; "
        f"PK select {pk.text()}; the proof's IN-select on a held connection {same_query.text()}"
    )
    limit = 0.002 if postgres else 0.001
    p99 = median(inclusion.p99)
    report.add(
        Row(
            "3 proofs",
            backend,
            f"inclusion_proof p50 / p99 @{size:,}",
            inclusion.text(),
            f"PK SELECT {pk.text()}",
            f"{median(inclusion.p50) / median(pk.p50):.1f} / {p99 / median(pk.p99):.1f}",
            f"p99 <= {limit * 1000:g} ms",
            verdict(p99 <= limit),
        )
    )
    report.add(
        Row(
            "3 proofs",
            backend,
            f"consistency_proof p50 / p99 @{size:,}",
            consistency.text(),
            f"PK SELECT {pk.text()}",
            f"{median(consistency.p50) / median(pk.p50):.1f} / "
            f"{median(consistency.p99) / median(pk.p99):.1f}",
        )
    )
    report.add(
        Row(
            "3 proofs",
            backend,
            "  (proof's IN-SELECT, held conn)",
            same_query.text(),
            f"PK SELECT {pk.text()}",
            f"{median(same_query.p50) / median(pk.p50):.1f} / "
            f"{median(same_query.p99) / median(pk.p99):.1f}",
        )
    )


def scan_entries(engine: Engine, *, bound_join: bool) -> tuple[int, float]:
    """Stream every entry with its payload in keyset chunks, verifying nothing: (rows, seconds).

    ``bound_join`` also bounds the payload side of the join by the chunk's lower key, so each
    chunk reads only its own rows on both sides; without it this is the query ``audit_database``
    runs (as of this writing), where PostgreSQL's merge join re-reads the payload index from its
    start for every chunk.
    """
    postgres = is_postgres(engine)
    mark = "%s" if postgres else "?"
    join = f"p.idx = e.idx AND p.idx > {mark}" if bound_join else "p.idx = e.idx"
    sql = (
        "SELECT e.idx, e.envelope, p.data FROM ledger_entries e "
        f"LEFT JOIN ledger_payloads p ON {join} "
        f"WHERE e.idx > {mark} ORDER BY e.idx LIMIT {mark}"
    )
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        started = time.perf_counter()
        if postgres:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            cur.execute("BEGIN")
        rows, last = 0, -1
        while True:
            params = (last, last, AUDIT_CHUNK) if bound_join else (last, AUDIT_CHUNK)
            cur.execute(sql, params)
            chunk = cur.fetchall()
            rows += len(chunk)
            if len(chunk) < AUDIT_CHUNK:
                break
            last = int(chunk[-1][0])
        elapsed = time.perf_counter() - started
        if postgres:
            conn.rollback()
        else:
            cur.execute("ROLLBACK")
        cur.close()
    finally:
        conn.close()
    return rows, elapsed


def bench_audit(ledger: Ledger, engine: Engine, backend: str, repeats: int, report: Report) -> None:
    verifier = NoteVerifier.from_verifier_key(ledger.verifier_key)
    size, _root = ledger.head()
    audit_rates, scan_rates, audit_query_rates = [], [], []
    for rep in range(repeats):
        result = audit_database(engine, verifier)
        if not result.ok or result.entries != size:
            raise RuntimeError(f"audit failed: {result.to_json()}")
        rows, seconds = scan_entries(engine, bound_join=True)
        same_rows, same_seconds = scan_entries(engine, bound_join=False)
        assert rows == same_rows == size, (rows, same_rows, size)
        audit_rates.append(result.entries / result.seconds)
        scan_rates.append(rows / seconds)
        audit_query_rates.append(same_rows / same_seconds)
        say(
            f"  audit run {rep + 1}: {result.entries:,} entries, {result.checkpoints:,} "
            f"checkpoints in {result.seconds:.2f} s = {fmt_rate(audit_rates[-1], ' entries/s')}; "
            f"chunked scan {fmt_rate(scan_rates[-1], ' rows/s')}; the audit's own entry query "
            f"without verification {fmt_rate(audit_query_rates[-1], ' rows/s')}"
        )
    rate, base = median(audit_rates), median(scan_rates)
    report.add(
        Row(
            "4 audit",
            backend,
            f"audit_database @{size:,}",
            fmt_rate(rate, " entries/s"),
            f"chunked SELECT {fmt_rate(base, ' rows/s')}",
            f"{rate / base:.2f}",
            ">= 100,000/s",
            verdict(rate >= 100_000),
        )
    )
    same = median(audit_query_rates)
    report.add(
        Row(
            "4 audit",
            backend,
            "  (audit's entry query, no verification)",
            fmt_rate(same, " rows/s"),
            f"chunked SELECT {fmt_rate(base, ' rows/s')}",
            f"{same / base:.2f}",
        )
    )


def bench_size(url: str, engine: Engine, backend: str, report: Report) -> None:
    """Bytes per entry on disk (call after the runtime is closed for SQLite)."""
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        try:
            busy, _frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                say("  warning: WAL checkpoint was blocked by a reader")
            entries = int(conn.execute("SELECT size FROM ledger_head").fetchone()[0])
            per_table: dict[str, int] = {}
            for name, table, size in conn.execute(
                "SELECT d.name, m.tbl_name, SUM(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY d.name"
            ):
                key = table or name
                per_table[key] = per_table.get(key, 0) + int(size)
        finally:
            conn.close()
        total = os.path.getsize(path) + sum(
            os.path.getsize(path + s) for s in ("-wal",) if os.path.exists(path + s)
        )
        parts = {t: b for t, b in per_table.items() if t.startswith("ledger_")}
    else:
        with engine.connect() as conn:
            entries = int(conn.execute(text("SELECT size FROM ledger_head")).scalar_one())
            result = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
                    "pg_indexes_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
                    "AND c.relname LIKE 'ledger%'"
                )
            ).all()
        parts = {str(r[0]): int(r[1]) for r in result}
        detail = {str(r[0]): (int(r[2]), int(r[3])) for r in result}
        total = sum(parts.values())
    breakdown = ", ".join(
        f"{t.removeprefix('ledger_')} {b / entries:,.0f}"
        for t, b in sorted(parts.items(), key=lambda kv: -kv[1])
        if b / entries >= 1
    )
    say(f"  {total / 2**20:,.1f} MiB for {entries:,} entries = {total / entries:,.0f} B/entry")
    say(f"  per table (B/entry, indexes included): {breakdown}")
    if backend != "sqlite":
        for name, (heap, indexes) in sorted(detail.items()):
            say(f"    {name}: heap {heap / entries:,.1f}, indexes {indexes / entries:,.1f} B/entry")
    report.add(
        Row(
            "5 size",
            backend,
            f"bytes per entry @{entries:,} ({PAYLOAD_BYTES} B payload)",
            f"{total / entries:,.0f} B",
            breakdown,
        )
    )


def bench_big(env: Env, backend: str, args: argparse.Namespace, report: Report) -> None:
    n = args.entries_for_proofs
    say(f"\n== proofs / audit / size [{backend}]: one ledger of {n:,} entries")
    url = env.new_db(backend, "big")
    try:
        runtime = Runtime.open(env.settings(url, queue_size=60_000), migrate=True)
        try:
            seconds = fill(runtime.ledger, n)
            say(
                f"  filled {n:,} entries in {seconds:.1f} s = {fmt_rate(n / seconds, ' entries/s')}"
            )
            report.add(
                Row(
                    "3 fill",
                    backend,
                    f"fill to {n:,} (bursts of 40k)",
                    fmt_rate(n / seconds, " entries/s"),
                    f"{seconds:.0f} s",
                )
            )
            if "proofs" in args.steps:
                bench_proofs(
                    runtime.ledger, runtime.engine, backend, args.proofs, args.repeats, report
                )
            if "audit" in args.steps:
                bench_audit(runtime.ledger, runtime.engine, backend, args.repeats, report)
        finally:
            runtime.close()
        if "size" in args.steps:
            engine = create_db_engine(url, pool=False)
            try:
                bench_size(url, engine, backend, report)
            finally:
                engine.dispose()
    finally:
        env.drop_db(url)


# ---------------------------------------------------------------------------------- main

STEPS = ("append", "http", "proofs", "audit", "size")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ledger benchmarks; each figure is printed next to a same-run baseline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes (~2-3 minutes)")
    parser.add_argument(
        "--entries-for-proofs",
        type=int,
        default=None,
        help="ledger size for steps 3-5 (default 1,000,000; 100,000 with --quick)",
    )
    parser.add_argument("--appends", type=int, default=None, help="default 20,000 (5,000 quick)")
    parser.add_argument("--proofs", type=int, default=10_000, help="proof calls per kind/repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--http-seconds", type=float, default=None, help="default 10 (5 quick)")
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python", "httpx"], default="auto",
        help="HTTP load generator; auto = wrk when installed, else the asyncio client",
    )  # fmt: skip
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL database to create throw-away schemas in [env BENCH_PG_URL]",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.steps = {s.strip() for s in args.steps.split(",") if s.strip()}
    unknown = args.steps - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    if args.entries_for_proofs is None:
        args.entries_for_proofs = 100_000 if args.quick else 1_000_000
    if args.appends is None:
        args.appends = 5_000 if args.quick else 20_000
    if args.http_seconds is None:
        args.http_seconds = 5.0 if args.quick else 10.0
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    backends = choose_backends(args.backend, args.pg_url, report)
    say(
        f"ledger bench: backends {', '.join(backends)}; steps {', '.join(sorted(args.steps))}; "
        f"{'quick' if args.quick else 'full'} mode; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    env = Env(args.pg_url if "postgresql" in backends else None, args.keep)
    timings: list[str] = []

    def timed_step(label: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        fn()
        timings.append(f"{label} {time.perf_counter() - t0:.0f} s")

    try:
        if "append" in args.steps:
            for backend in backends:
                timed_step(
                    f"append[{backend}]",
                    lambda b=backend: bench_append(env, b, args.appends, args.repeats, report),
                )
        if "http" in args.steps:
            timed_step("http[sqlite]", lambda: bench_http(env, args, report))
        if args.steps & {"proofs", "audit", "size"}:
            for backend in backends:
                if backend == "postgresql" and args.quick and len(backends) > 1:
                    report.notes.append("--quick: steps 3-5 ran on SQLite only.")
                    continue
                timed_step(
                    f"fill+proofs+audit+size[{backend}]",
                    lambda b=backend: bench_big(env, b, args, report),
                )
    finally:
        env.close()
    report.notes.append(
        f"Total {time.perf_counter() - started:.0f} s ({'; '.join(timings)}). "
        "Ratios are measured/baseline: throughput higher is better, latency lower is better."
    )
    report.print()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_http-client":
        client_process_entry(sys.argv[2], _client_main)
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
