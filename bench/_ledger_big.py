"""The ledger bench's steps 3-5 (see :mod:`bench.ledger`): proofs, audit and size on one ledger.

The ledger is filled once, to ``--entries-for-proofs`` entries, and shared by the three steps.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import sqlite3
import time
import uuid
from collections import deque
from concurrent.futures import Future

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench._common import (
    Env,
    Latency,
    Report,
    Row,
    fmt_rate,
    is_postgres,
    median,
    say,
    timed,
    verdict,
)
from bench._ledger_append import PAYLOAD_BYTES, entry, ledger_settings, nodes_before
from governance.db import create_db_engine
from governance.ledger import merkle
from governance.ledger.audit import audit_database
from governance.ledger.checkpoint import NoteVerifier
from governance.ledger.entries import Receipt
from governance.ledger.store import Ledger
from governance.runtime import Runtime
from governance.sql import keyset_rows

# The audit streams rows in keyset_rows's default chunks; the scan baseline uses the same.
AUDIT_CHUNK: int = inspect.signature(keyset_rows).parameters["chunk"].default


def fill(ledger: Ledger, n: int) -> float:
    """Append ``n`` entries in large bursts (up to 40,000 outstanding); returns seconds."""
    window, chunk = 40_000, 10_000
    tag = f"fill-{uuid.uuid4().hex[:6]}".encode()
    pending: deque[Future[Receipt]] = deque()
    started = time.perf_counter()
    committed, next_report = 0, 60.0
    for i in range(n):
        pending.append(ledger.submit(entry(tag, i)))
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


def scan_entries(engine: Engine) -> tuple[int, float]:
    """Stream every entry with its payload in keyset chunks, verifying nothing: (rows, seconds).

    This is the audit's own entry query; the payload side of the join is bounded by the chunk's
    lower key too, so each chunk reads only its own rows on both sides.
    """
    postgres = is_postgres(engine)
    mark = "%s" if postgres else "?"
    sql = (
        "SELECT e.idx, e.envelope, p.data FROM ledger_entries e "
        f"LEFT JOIN ledger_payloads p ON p.idx = e.idx AND p.idx > {mark} "
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
            cur.execute(sql, (last, last, AUDIT_CHUNK))
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
    audit_rates, scan_rates = [], []
    for rep in range(repeats):
        result = audit_database(engine, verifier)
        if not result.ok or result.entries != size:
            raise RuntimeError(f"audit failed: {result.to_json()}")
        rows, seconds = scan_entries(engine)
        assert rows == size, (rows, size)
        audit_rates.append(result.entries / result.seconds)
        scan_rates.append(rows / seconds)
        say(
            f"  audit run {rep + 1}: {result.entries:,} entries, {result.checkpoints:,} "
            f"checkpoints in {result.seconds:.2f} s = {fmt_rate(audit_rates[-1], ' entries/s')}; "
            f"chunked scan {fmt_rate(scan_rates[-1], ' rows/s')}"
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


def _sqlite_sizes(path: str) -> tuple[int, int, dict[str, int]]:
    """Entries, file bytes, and bytes per ledger table (indexes included) from ``dbstat``."""
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
    return entries, total, {t: b for t, b in per_table.items() if t.startswith("ledger_")}


def _postgres_sizes(engine: Engine) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """Entries, and (total, heap, index) bytes per ledger table."""
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
    return entries, {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in result}


def bench_size(url: str, engine: Engine, backend: str, report: Report) -> None:
    """Bytes per entry on disk (call after the runtime is closed for SQLite)."""
    detail: dict[str, tuple[int, int, int]] = {}
    if backend == "sqlite":
        entries, total, parts = _sqlite_sizes(url.removeprefix("sqlite:///"))
    else:
        entries, detail = _postgres_sizes(engine)
        parts = {name: sizes[0] for name, sizes in detail.items()}
        total = sum(parts.values())
    breakdown = ", ".join(
        f"{t.removeprefix('ledger_')} {b / entries:,.0f}"
        for t, b in sorted(parts.items(), key=lambda kv: -kv[1])
        if b / entries >= 1
    )
    say(f"  {total / 2**20:,.1f} MiB for {entries:,} entries = {total / entries:,.0f} B/entry")
    say(f"  per table (B/entry, indexes included): {breakdown}")
    for name, (_total, heap, indexes) in sorted(detail.items()):
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
        runtime = Runtime.open(ledger_settings(env, url, queue_size=60_000), migrate=True)
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
