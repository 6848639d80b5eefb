"""The ledger bench's workload (the entries it appends) and its step 1 (see :mod:`bench.ledger`).

Step 1 times ``Ledger.submit`` against raw batched ``INSERT``s of the rows the ledger wrote.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from bench._common import Env, Report, Row, fmt_rate, is_postgres, median, say, verdict
from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.ledger import kinds
from governance.ledger.entries import AppendRequest
from governance.runtime import Runtime

PAYLOAD_BYTES = 300
KIND = kinds.EVIDENCE.name
MEDIA_TYPE = "application/json"
MAX_BATCH = 1000  # the service default (GOVERNANCE_APPEND_MAX_BATCH)
_PAD = (uuid.uuid4().hex * 10).encode()


def payload(tag: bytes, seq: int) -> bytes:
    """A distinct JSON document of exactly PAYLOAD_BYTES bytes."""
    head = b'{"bench":"%s","seq":%d,"pad":"' % (tag, seq)
    return head + _PAD[: PAYLOAD_BYTES - len(head) - 2] + b'"}'


def entry(tag: bytes, seq: int) -> AppendRequest:
    """The entry the bench appends: :func:`payload` as evidence, with no subjects."""
    return AppendRequest(KIND, payload(tag, seq), MEDIA_TYPE)


def nodes_before(leaves: int) -> int:
    """How many stored subtrees a ledger of ``leaves`` entries has (ids 0..n-1)."""
    return 2 * leaves - leaves.bit_count()


def ledger_settings(env: Env, url: str, *, queue_size: int = 20_000) -> Settings:
    """The service's settings on ``url``, with the queue deep enough for the bench's bursts."""
    return Settings(
        database_url=url,
        signing_key_file=env.tmp / "checkpoint.key",
        append_max_batch=MAX_BATCH,
        append_queue_size=queue_size,
        log_json=False,
    )


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
            ledger_settings(env, url, queue_size=max(20_000, n + MAX_BATCH)), migrate=True
        )
        try:
            ledger = runtime.ledger
            # One append first, so the writer's connection is open before the clock starts.
            ledger.append(entry(b"warm", rep))
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
