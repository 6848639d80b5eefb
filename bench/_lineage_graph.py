"""The lineage bench's synthetic graph, written straight into the projection tables.

The rows go into a freshly migrated database with bulk inserts (``executemany`` on SQLite,
``COPY`` on PostgreSQL), with the ids the projection computes (``dataset_id``, ``job_id``,
``run_pk``, version ids), so the service's own
:class:`~governance.lineage.queries.LineageQueries` reads it as if every row had come through
``POST /api/v1/lineage``. Shape: a layered DAG like a data platform, 50 layers; layer 0 holds
source datasets; every job of layer L reads 2-5 datasets of earlier layers (mostly L-1, some
L-2..L-5, some anywhere) and writes 1-2 datasets of its own; each job runs 10-30 times over 60
days, one COMPLETE event (one ledger index) per run, and every run repeats the job's edges.
"""

from __future__ import annotations

import abc
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.ledger.kinds import LINEAGE_PROJECTION
from governance.lineage.models import EVIDENCE_PER_EDGE, stable_id
from governance.lineage.projection import dataset_id, job_id, run_pk

LAYERS = 50
DAYS = 60
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
DATASET_NAMESPACES = ("postgres://warehouse:5432", "s3://lake", "bigquery")
JOB_NAMESPACE = "airflow://prod"
JOB_TYPE = '{"integration":"AIRFLOW","jobType":"TASK","processingType":"BATCH"}'
CHUNK = 50_000


def time_text(moment: datetime) -> str:
    """The projection's event-time form: UTC, microseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    mean_edges_per_job = 5.0 * 20  # (3.5 reads + 1.5 writes) x 20 runs on average
    return layered_shape(max(2, round(target_edges / mean_edges_per_job / (LAYERS - 1))), seed)


#: Nodes (datasets and jobs) per job of a layer: the job, 1.5 outputs, and 2 sources per 49 jobs.
NODES_PER_LAYER_JOB = 1 + 1.5 + 2 / (LAYERS - 1)


def layered_shape(per_layer: int, seed: int) -> Shape:
    """A layered DAG with ``per_layer`` jobs in each layer but the first (sources only).

    It has about ``NODES_PER_LAYER_JOB * per_layer * (LAYERS - 1)`` nodes.
    """
    rng = random.Random(seed)
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


class Sink(abc.ABC):
    """Bulk writer of projection rows: runs, edges and versions are buffered and written in
    chunks of :data:`CHUNK` edges; :meth:`write` writes a table's rows at once."""

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

    @abc.abstractmethod
    def write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None: ...

    @abc.abstractmethod
    def set_watermark(self, next_index: int) -> None:
        """Record the projection as current up to ``next_index``, as the projection would."""

    @abc.abstractmethod
    def close(self) -> None:
        """Commit everything written."""


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

    def set_watermark(self, next_index: int) -> None:
        self.conn.execute(
            "UPDATE projection_state SET next_index = ? WHERE name = ?",
            (next_index, LINEAGE_PROJECTION),
        )

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresSink(Sink):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.raw = engine.raw_connection()
        self.conn = cast(psycopg.Connection[Any], self.raw.driver_connection)

    def write(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def set_watermark(self, next_index: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE projection_state SET next_index = %s WHERE name = %s",
                (next_index, LINEAGE_PROJECTION),
            )

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
    sink: Sink = PostgresSink(engine) if postgres else SqliteSink(url.removeprefix("sqlite:///"))
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
    for table, (columns, nodes) in node_rows(shape).items():
        sink.write(table, columns, nodes)
        counts[table] = len(nodes)
    job_edges = [
        (job, direction, dataset, first, count, *fold_evidence(evidence))
        for (job, direction, dataset), (first, count, evidence) in folded.items()
    ]
    sink.write("lineage_job_dataset_edges", JOB_EDGE_COLUMNS, job_edges)
    counts["lineage_job_dataset_edges"] = len(job_edges)
    sink.set_watermark(max(j.last_index for j in shape.jobs) + 1)
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
