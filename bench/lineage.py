#!/usr/bin/env python3
"""Lineage query benchmark: depth-10 upstream graphs on a synthetic 1,000,000-edge projection.

Usage (from the repository root)::

    .venv/bin/python bench/lineage.py --quick             # 100,000 edges, SQLite (~1 min)
    .venv/bin/python bench/lineage.py                     # 1,000,000 edges, SQLite
    .venv/bin/python bench/lineage.py --backend both      # ... and PostgreSQL

The graph is written straight into the projection tables of a freshly migrated database with bulk
inserts (``executemany`` on SQLite, ``COPY`` on PostgreSQL), with the ids the projection computes
(``dataset_id``, ``job_id``, ``run_pk``, version ids), so the service's own
:class:`~governance.lineage.queries.LineageQueries` reads it as if every row had come through
``POST /api/v1/lineage``. Shape: a layered DAG like a data platform, 50 layers; layer 0 holds
source datasets; every job of layer L reads 2-5 datasets of earlier layers (mostly L-1, some
L-2..L-5, some anywhere) and writes 1-2 datasets of its own; each job runs 10-30 times over 60
days, one COMPLETE event (one ledger index) per run, and every run repeats the job's edges.

Timed, ``--queries`` random datasets of the 10 deepest layers, ``--repeats`` times:

* ``graph("dataset", ns, name, direction=UPSTREAM, depth=10)``, and the same ``as_of`` day 30;
* ``marquez_lineage("dataset:ns:name", depth=10)`` (both directions) on ``--marquez`` of them;
* the upstream query through ``GET /api/v1/lineage/graph`` of the app ``governance serve`` builds
  (auditor key, in-process client: routing, auth, the projection check and JSON encoding, no
  network);
* baseline: one indexed ``SELECT`` of a dataset's writer edges (the statement the traversal runs
  per hop, for one id), on a pooled connection of the same engine.

Also printed: mean result size, SQL statements per query and the per-run ``lineage_edges`` rows
its folded edges stand for, the plan of the per-hop edge query, and the collector's full passes
during the timed queries. The bench freezes its own objects (``gc.freeze()``) after the build, so
only what the queries leave behind is collected, as in the service.

Ratios are "measured / baseline" latencies: lower is better.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.ledger import (
    DEFAULT_PG_URL,
    Env,
    Latency,
    Report,
    Row,
    choose_backends,
    median,
    say,
    verdict,
)
from governance.api.app import create_app
from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.lineage.models import EVIDENCE_PER_EDGE, stable_id
from governance.lineage.projection import dataset_id, job_id, run_pk
from governance.lineage.queries import FAR_FUTURE, Direction, Graph, LineageQueries
from governance.runtime import Runtime

LAYERS = 50
DEEP_LAYERS = 10  # queries start from datasets of the deepest layers
DAYS = 60
DEPTH = 10
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = BASE_TIME + timedelta(days=DAYS // 2)
TARGET_P99 = 0.050
DATASET_NAMESPACES = ("postgres://warehouse:5432", "s3://lake", "bigquery")
JOB_NAMESPACE = "airflow://prod"
JOB_TYPE = '{"integration":"AIRFLOW","jobType":"TASK","processingType":"BATCH"}'
CHUNK = 50_000


def time_text(moment: datetime) -> str:
    """The projection's event-time form: UTC, microseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.2f} ms"


# ----------------------------------------------------------------------------- the graph


@dataclass
class Dataset:
    namespace: str
    name: str
    layer: int
    pk: int
    personal: bool = False
    first_index: int = 0
    last_index: int = 0
    last_time: str = ""


@dataclass
class Job:
    name: str
    layer: int
    pk: int
    inputs: list[int]  # dataset positions
    outputs: list[int]
    runs: int
    first_index: int = 0
    last_index: int = 0
    last_time: str = ""


@dataclass
class Shape:
    datasets: list[Dataset] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    by_layer: list[list[int]] = field(default_factory=list)  # dataset positions per layer
    edges: int = 0
    runs: int = 0


def make_shape(target_edges: int, seed: int) -> Shape:
    """A layered DAG whose runs add up to about ``target_edges`` lineage_edges rows."""
    rng = random.Random(seed)
    mean_edges_per_job = 5.0 * 20  # (3.5 reads + 1.5 writes) x 20 runs on average
    per_layer = max(2, round(target_edges / mean_edges_per_job / (LAYERS - 1)))
    shape = Shape(by_layer=[[] for _ in range(LAYERS)])

    def add_dataset(layer: int, name: str) -> int:
        namespace = DATASET_NAMESPACES[len(shape.datasets) % len(DATASET_NAMESPACES)]
        shape.datasets.append(Dataset(namespace, name, layer, dataset_id(namespace, name)))
        shape.by_layer[layer].append(len(shape.datasets) - 1)
        return len(shape.datasets) - 1

    for i in range(2 * per_layer):
        position = add_dataset(0, f"raw.source_{i:05d}")
        shape.datasets[position].personal = rng.random() < 0.1
    for layer in range(1, LAYERS):
        for j in range(per_layer):
            wanted = rng.randint(2, 5)
            inputs: set[int] = set()
            while len(inputs) < wanted:
                roll = rng.random()
                if roll < 0.6:
                    source = layer - 1
                elif roll < 0.85:
                    source = max(0, layer - rng.randint(2, 5))
                else:
                    source = rng.randrange(layer)
                inputs.add(rng.choice(shape.by_layer[source]))
            name = f"dag_{layer:02d}.task_{j:05d}"
            outputs = [
                add_dataset(layer, f"layer_{layer:02d}.table_{j:05d}_{k}")
                for k in range(rng.randint(1, 2))
            ]
            job = Job(name, layer, job_id(JOB_NAMESPACE, name), sorted(inputs), outputs, 0)
            job.runs = rng.randint(10, 30)
            shape.jobs.append(job)
            shape.edges += job.runs * (len(job.inputs) + len(job.outputs))
            shape.runs += job.runs
    return shape


@dataclass
class RunRows:
    run: tuple[Any, ...]
    edges: list[tuple[Any, ...]]
    versions: list[tuple[Any, ...]]


def run_rows(shape: Shape, seed: int) -> Iterator[RunRows]:
    """Every run of every job as the projection would store it, in ledger (time) order.

    Each run is one COMPLETE event: a ``lineage_runs`` row, one ``read`` edge per input, one
    ``wrote`` edge and one dataset version per output, all naming the event's ledger index.
    """
    rng = random.Random(seed + 1)
    schedule = []
    for position, job in enumerate(shape.jobs):
        offset = timedelta(minutes=15 * job.layer, seconds=position % 600)
        for k in range(job.runs):
            day = k * DAYS // job.runs
            schedule.append((BASE_TIME + timedelta(days=day) + offset, position))
    schedule.sort()
    for index, (moment, position) in enumerate(schedule, start=1):
        job = shape.jobs[position]
        when = time_text(moment)
        rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rpk = run_pk(rid)
        started = time_text(moment - timedelta(minutes=5))
        edges: list[tuple[Any, ...]] = []
        versions: list[tuple[Any, ...]] = []
        for d in job.inputs:
            edges.append((rpk, shape.datasets[d].pk, "read", index, job.pk, None, when))
        for d in job.outputs:
            dpk = shape.datasets[d].pk
            version = stable_id("version", str(dpk), rid)
            versions.append((version, dpk, rid, rid, when, index))
            edges.append((rpk, dpk, "wrote", index, job.pk, version, when))
        for d in (*job.inputs, *job.outputs):
            ds = shape.datasets[d]
            ds.first_index = ds.first_index or index
            ds.last_index, ds.last_time = index, when
        job.first_index = job.first_index or index
        job.last_index, job.last_time = index, when
        run = (
            rpk, rid, job.pk, "COMPLETE", when, started, when, when, when, None, None, "{}",
            index, index,
        )  # fmt: skip
        yield RunRows(run, edges, versions)


RUN_COLUMNS = (
    "id, run_id, job_id, state, state_time, started_at, ended_at, first_event_time, "
    "last_event_time, parent_run_id, root_run_id, facets, first_index, last_index"
)
EDGE_COLUMNS = "run_pk, dataset_id, direction, ledger_index, job_id, version_id, event_time"
JOB_EDGE_COLUMNS = (
    "job_id, direction, dataset_id, first_time, evidence_count, evidence_indexes, evidence_times"
)
VERSION_COLUMNS = "id, dataset_id, version, run_id, event_time, ledger_index"
DATASET_COLUMNS = (
    "id, namespace, name, facets, facets_time, classification, classification_index, "
    "classification_source, tags, is_model, is_personal, first_index, last_index"
)
JOB_COLUMNS = (
    "id, namespace, name, job_type, source_code_location, owners, facets, facets_time, "
    "first_index, last_index"
)
NAMESPACE_COLUMNS = "name, first_index"
PERSONAL = '{"personalData":true}'


def node_rows(shape: Shape) -> dict[str, tuple[str, list[tuple[Any, ...]]]]:
    """Datasets, jobs and namespaces (after :func:`run_rows` set their ledger indexes)."""
    datasets = [
        (
            d.pk,
            d.namespace,
            d.name,
            "{}",
            d.last_time,
            PERSONAL if d.personal else None,
            d.first_index if d.personal else None,
            "steward" if d.personal else None,
            None,
            0,
            1 if d.personal else 0,
            d.first_index,
            d.last_index,
        )
        for d in shape.datasets
        if d.first_index  # a source no job read is not in the projection
    ]
    jobs = [
        (
            j.pk,
            JOB_NAMESPACE,
            j.name,
            JOB_TYPE,
            None,
            None,
            '{"jobType":' + JOB_TYPE + "}",
            j.last_time,
            j.first_index,
            j.last_index,
        )
        for j in shape.jobs
    ]
    first: dict[str, int] = {JOB_NAMESPACE: min(j.first_index for j in shape.jobs)}
    for d in shape.datasets:
        if d.first_index:
            first[d.namespace] = min(first.get(d.namespace, d.first_index), d.first_index)
    return {
        "lineage_datasets": (DATASET_COLUMNS, datasets),
        "lineage_jobs": (JOB_COLUMNS, jobs),
        "lineage_namespaces": (NAMESPACE_COLUMNS, sorted(first.items())),
    }


# ------------------------------------------------------------------------------- filling


class Sink:
    """Bulk writer of projection rows; ``flush`` is called with a table's pending rows."""

    def __init__(self) -> None:
        self.pending: dict[str, list[tuple[Any, ...]]] = {
            "lineage_runs": [],
            "lineage_edges": [],
            "lineage_dataset_versions": [],
        }
        self.columns = {
            "lineage_runs": RUN_COLUMNS,
            "lineage_edges": EDGE_COLUMNS,
            "lineage_dataset_versions": VERSION_COLUMNS,
        }

    def add(self, rows: RunRows) -> None:
        self.pending["lineage_runs"].append(rows.run)
        self.pending["lineage_edges"].extend(rows.edges)
        self.pending["lineage_dataset_versions"].extend(rows.versions)
        if len(self.pending["lineage_edges"]) >= CHUNK:
            self.flush_all()

    def flush_all(self) -> None:
        for table, rows in self.pending.items():
            if rows:
                self.write(table, self.columns[table], rows)
                rows.clear()

    def write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError


class SqliteSink(Sink):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.conn = sqlite3.connect(path, isolation_level=None)
        # Build-only settings on the bench's own connection: the service's engine is untouched.
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-524288")  # 512 MiB
        self.conn.execute("BEGIN")

    def write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        marks = ",".join("?" * (columns.count(",") + 1))
        self.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresSink(Sink):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.raw = engine.raw_connection()
        self.conn: Any = self.raw.driver_connection

    def write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self.conn.commit()
        self.raw.close()


def fold_evidence(evidence: list[tuple[int, str]]) -> tuple[str, str]:
    """The first asserting edges by (event time, ledger index), as the projection stores them."""
    earliest = sorted((when, index) for index, when in evidence)[:EVIDENCE_PER_EDGE]
    return " ".join(str(i) for _, i in earliest), " ".join(w for w, _ in earliest)


def fill(url: str, shape: Shape, seed: int, engine: Engine) -> tuple[float, dict[str, int]]:
    """Write the whole graph; (seconds, rows per table)."""
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    sink: SqliteSink | PostgresSink = (
        PostgresSink(engine) if postgres else SqliteSink(url.removeprefix("sqlite:///"))
    )
    counts: dict[str, int] = {}
    # What the projection folds into lineage_job_dataset_edges: (job, direction, dataset) ->
    # [first event time, asserting edges, (ledger index, event time) of each].
    folded: dict[tuple[int, str, int], list[Any]] = {}
    for rows in run_rows(shape, seed):
        sink.add(rows)
        for _run, dataset, direction, index, job, _version, when in rows.edges:
            entry = folded.setdefault((job, direction, dataset), [when, 0, []])
            entry[0] = min(entry[0], when)
            entry[1] += 1
            entry[2].append((index, when))
        counts["lineage_runs"] = counts.get("lineage_runs", 0) + 1
        counts["lineage_edges"] = counts.get("lineage_edges", 0) + len(rows.edges)
        counts["lineage_dataset_versions"] = counts.get("lineage_dataset_versions", 0) + len(
            rows.versions
        )
    sink.flush_all()
    for table, (columns, rows) in node_rows(shape).items():
        sink.write(table, columns, rows)
        counts[table] = len(rows)
    job_edges = [
        (job, direction, dataset, first, count, *fold_evidence(evidence))
        for (job, direction, dataset), (first, count, evidence) in folded.items()
    ]
    sink.write("lineage_job_dataset_edges", JOB_EDGE_COLUMNS, job_edges)
    counts["lineage_job_dataset_edges"] = len(job_edges)
    last = max(j.last_index for j in shape.jobs)
    if postgres:
        with sink.conn.cursor() as cur:
            cur.execute("UPDATE lineage_projection_state SET next_index = %s", (last + 1,))
    else:
        sink.conn.execute("UPDATE lineage_projection_state SET next_index = ?", (last + 1,))
    sink.close()
    if postgres:
        # What autovacuum does on its own shortly after a bulk load.
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return time.perf_counter() - started, counts


def db_size(url: str, engine: Engine) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                    )
                ).scalar_one()
            )
    return os.path.getsize(url.removeprefix("sqlite:///"))


# ------------------------------------------------------------------------------ querying


def edge_sql(postgres: bool) -> str:
    """The traversal's per-hop statement (``LineageQueries.job_dataset_edges``) as SQL text."""
    where = (
        "= ANY(CAST(:ids AS BIGINT[]))" if postgres else "IN (SELECT value FROM json_each(:ids))"
    )
    return (
        "SELECT dataset_id, job_id, first_time, evidence_indexes, evidence_times "
        f"FROM lineage_job_dataset_edges WHERE dataset_id {where} AND direction = :dir "
        "AND first_time <= :until"
    )


class GcWatch:
    """Counts the collector's full (generation 2) passes and their pause time while active."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)


def timed(calls: Sequence[Any], fn: Callable[[Any], Any]) -> list[float]:
    clock = time.perf_counter
    out = []
    for call in calls:
        t0 = clock()
        fn(call)
        out.append(clock() - t0)
    out.sort()
    return out


@dataclass
class GraphSize:
    nodes: float
    edges: float
    statements: float
    rows: float  # per-run lineage_edges rows behind the graph's edges (one per run per edge)


def measure_sizes(
    engine: Engine, queries: LineageQueries, shape: Shape, sample: list[Dataset], as_of: bool
) -> GraphSize:
    """One untimed pass: result sizes, SQL statements per query, per-run edges they stand for."""
    runs_of = {f"job:{JOB_NAMESPACE}:{j.name}": j for j in shape.jobs}
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    nodes = edges = rows = 0
    try:
        for d in sample:
            graph = upstream(queries, d, AS_OF if as_of else None)
            nodes += len(graph.nodes)
            edges += len(graph.edges)
            for origin, destination in graph.edges:
                job = runs_of.get(origin) or runs_of[destination]
                if as_of:  # runs of day 30 happen after midnight, so after AS_OF
                    rows += sum(1 for k in range(job.runs) if k * DAYS // job.runs < DAYS // 2)
                else:
                    rows += job.runs
    finally:
        event.remove(engine, "before_cursor_execute", count)
    n = len(sample)
    return GraphSize(nodes / n, edges / n, statements / n, rows / n)


def upstream(queries: LineageQueries, d: Dataset, as_of: datetime | None) -> Graph:
    return queries.graph(
        "dataset", d.namespace, d.name, direction=Direction.UPSTREAM, depth=DEPTH, as_of=as_of
    )


def compiled_cache_entries(engine: Engine) -> int:
    """Statements in SQLAlchemy's compiled cache (one per distinct SQL text; internal)."""
    cache = getattr(engine, "_compiled_cache", None)
    return len(cache) if cache is not None else -1


def explain(engine: Engine, ids: list[int]) -> list[str]:
    """The plan of the traversal's per-hop statement for a frontier of ``ids``."""
    postgres = engine.dialect.name == "postgresql"
    sql = edge_sql(postgres)
    params: dict[str, Any] = {"ids": ids if postgres else json.dumps(ids)}
    params |= {"dir": "wrote", "until": FAR_FUTURE}
    prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.execute(text(prefix + sql), params).all()
    lines = [str(r[0]) if len(r) == 1 else str(r[-1]) for r in rows]
    return [line if len(line) <= 150 else line[:147] + "..." for line in lines]


def bench_backend(env: Env, backend: str, args: argparse.Namespace, report: Report) -> None:
    say(f"\n== lineage graph [{backend}]: ~{args.edges:,} edges, depth {DEPTH} upstream")
    shape = make_shape(args.edges, args.seed)
    url = env.new_db(backend, "lineage")
    upgrade(url)
    engine = create_db_engine(url)
    try:
        seconds, counts = fill(url, shape, args.seed, engine)
        size = db_size(url, engine)
        say(
            f"  built in {seconds:.1f} s: "
            + ", ".join(f"{t.removeprefix('lineage_')} {n:,}" for t, n in counts.items())
            + f"; {LAYERS} layers, {len(shape.jobs) // (LAYERS - 1)} jobs/layer; "
            f"{size / 2**20:,.0f} MiB"
        )
        report.add(
            Row(
                "0 build",
                backend,
                f"bulk insert, {counts['lineage_edges']:,} edges",
                f"{seconds:.1f} s",
                f"{counts['lineage_edges'] / seconds:,.0f} edges/s; {size / 2**20:,.0f} MiB",
            )
        )
        for line in explain(engine, [d.pk for d in shape.datasets[-100:]]):
            say(f"  plan (per-hop edge query, 100 ids): {line}")
        queries = LineageQueries(engine)
        rng = random.Random(args.seed + 2)
        deep = [
            shape.datasets[p] for layer in shape.by_layer[-DEEP_LAYERS:] for p in layer
        ]  # written by some job, so a depth-10 walk has something to find
        sample = rng.sample(deep, min(args.queries, len(deep)))
        marquez_sample = sample[: args.marquez]
        for d in sample[:20]:  # warm the caches
            upstream(queries, d, None)
        # The bench's own objects (the shape) must not make the collector's passes slower than
        # they would be in the service.
        gc.collect()
        gc.freeze()
        sizes = measure_sizes(engine, queries, shape, sample, as_of=False)
        sizes_as_of = measure_sizes(engine, queries, shape, sample, as_of=True)
        say(
            f"  result: {sizes.nodes:,.0f} nodes / {sizes.edges:,.0f} edges on average "
            f"({sizes.statements:.0f} SQL statements; they fold ~{sizes.rows:,.0f} run edges); "
            f"as of day {DAYS // 2}: {sizes_as_of.nodes:,.0f} / {sizes_as_of.edges:,.0f} "
            f"({sizes_as_of.statements:.0f} statements, ~{sizes_as_of.rows:,.0f} rows)"
        )

        def base(d: Dataset) -> None:
            with engine.connect() as conn:
                queries.job_dataset_edges(conn, "dataset_id", {d.pk}, "wrote", FAR_FUTURE)

        def marquez(d: Dataset) -> None:
            queries.marquez_lineage(f"dataset:{d.namespace}:{d.name}", depth=DEPTH)

        # The same query through the service's HTTP API, as `governance serve` builds it
        # (in-process client: no network, but routing, auth, the projection check, encoding).
        settings = Settings(
            database_url=url, signing_key_file=env.tmp / f"{backend}-http.key", log_json=False
        )
        runtime = Runtime.open(settings)
        auth = {"Authorization": f"Bearer {runtime.keys.create('auditor', 'bench')[1]}"}
        client = TestClient(create_app(settings, runtime, freeze_heap=True))
        client.__enter__()

        def http(d: Dataset) -> None:
            params = {"type": "dataset", "namespace": d.namespace, "name": d.name}
            params |= {"direction": "upstream", "depth": str(DEPTH)}
            response = client.get("/api/v1/lineage/graph", params=params, headers=auth)
            if response.status_code != 200:
                raise RuntimeError(f"GET /api/v1/lineage/graph: {response.status_code}")

        for d in sample[:20]:
            http(d)
        plain, as_of, mq, baseline = Latency(), Latency(), Latency(), Latency()
        web = Latency()
        pauses: list[GcWatch] = []
        for rep in range(args.repeats):
            with GcWatch() as watch:
                plain.add(timed(sample, lambda d: upstream(queries, d, None)))
            pauses.append(watch)
            as_of.add(timed(sample, lambda d: upstream(queries, d, AS_OF)))
            baseline.add(timed(sample, base))
            web.add(timed(sample, http))
            if marquez_sample:
                mq.add(timed(marquez_sample, marquez))
            say(
                f"  run {rep + 1}: upstream p50/p99 {fmt_ms(plain.p50[-1])} / "
                f"{fmt_ms(plain.p99[-1])}; as_of {fmt_ms(as_of.p50[-1])} / "
                f"{fmt_ms(as_of.p99[-1])}; marquez "
                + (f"{fmt_ms(mq.p50[-1])} / {fmt_ms(mq.p99[-1])}" if marquez_sample else "-")
                + f"; HTTP {fmt_ms(web.p50[-1])} / {fmt_ms(web.p99[-1])}"
                + f"; baseline SELECT {fmt_ms(baseline.p50[-1])} / {fmt_ms(baseline.p99[-1])}"
            )
            say(
                f"         during the upstream pass: {watch.count} full GC passes of "
                f"{fmt_ms(watch.seconds / max(watch.count, 1))} on average; SQLAlchemy's "
                f"compiled-statement cache holds {compiled_cache_entries(engine):,} statements"
            )
        client.__exit__(None, None, None)
        runtime.close()
    finally:
        gc.unfreeze()
        engine.dispose()
        env.drop_db(url)

    b50, b99 = median(baseline.p50), median(baseline.p99)
    base_text = f"writer-edge SELECT {fmt_ms(b50)} / {fmt_ms(b99)}"

    def add(measure: str, lat: Latency, sized: GraphSize | None, target: bool) -> None:
        p50, p99 = median(lat.p50), median(lat.p99)
        report.add(
            Row(
                "1 query",
                backend,
                measure,
                f"{fmt_ms(p50)} / {fmt_ms(p99)}",
                base_text,
                f"{p50 / b50:.0f} / {p99 / b99:.0f}",
                "p99 <= 50 ms" if target else "",
                verdict(p99 <= TARGET_P99) if target else "",
            )
        )
        if sized is not None:
            report.add(
                Row(
                    "1 query",
                    backend,
                    "  mean result / statements / rows read",
                    f"{sized.nodes:,.0f} nodes, {sized.edges:,.0f} edges",
                    f"{sized.statements:.0f} statements, ~{sized.rows:,.0f} run edges folded",
                )
            )

    add(f"upstream depth {DEPTH} p50 / p99 (x{len(sample)})", plain, sizes, True)
    report.add(
        Row(
            "1 query",
            backend,
            "  full GC passes during those queries",
            f"{median([w.count for w in pauses]):.0f} x "
            f"{fmt_ms(median([w.seconds / max(w.count, 1) for w in pauses]))}",
            f"{len(sample)} queries",
        )
    )
    add(f"  as_of day {DAYS // 2}", as_of, sizes_as_of, True)
    add("  GET /api/v1/lineage/graph (in-process client)", web, None, True)
    if marquez_sample:
        add(f"marquez_lineage depth {DEPTH} (x{len(marquez_sample)})", mq, None, False)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Depth-10 upstream lineage queries on a synthetic projection.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="100,000 edges")
    parser.add_argument("--edges", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--queries", type=int, default=200, help="datasets queried per repeat")
    parser.add_argument("--marquez", type=int, default=50, help="of those, also via Marquez API")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL database to create a throw-away schema in [env BENCH_PG_URL]",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.edges is None:
        args.edges = 100_000 if args.quick else 1_000_000
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    backends = choose_backends(args.backend, args.pg_url, report)
    say(
        f"lineage bench: backends {', '.join(backends)}; ~{args.edges:,} edges; "
        f"{args.queries} queries x {args.repeats} repeats; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    env = Env(args.pg_url if "postgresql" in backends else None, args.keep)
    timings = []
    try:
        for backend in backends:
            t0 = time.perf_counter()
            bench_backend(env, backend, args, report)
            timings.append(f"{backend} {time.perf_counter() - t0:.0f} s")
    finally:
        env.close()
    report.notes.append(
        f"Latencies are medians over {args.repeats} repeats of each percentile; the baseline is "
        "one indexed SELECT of a dataset's writer edges (the traversal's per-hop statement for "
        "one id) on the same engine. Run edges folded = the per-run lineage_edges rows the "
        "graph's edges stand for (one per run per edge); the traversal reads one folded row "
        "per job-dataset edge instead."
    )
    report.notes.append(f"Total {time.perf_counter() - started:.0f} s ({'; '.join(timings)}).")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
