"""Lineage query benchmark: depth-10 upstream graphs on a synthetic 1,000,000-edge projection.

Usage (from the repository root)::

    .venv/bin/python -m bench.lineage --quick             # 100,000 edges, SQLite (~1 min)
    .venv/bin/python -m bench.lineage                     # 1,000,000 edges, SQLite
    .venv/bin/python -m bench.lineage --backend both      # ... and PostgreSQL

The graph (:mod:`bench._lineage_graph`) is a layered DAG like a data platform's, written
straight into the projection tables of a freshly migrated database, so the service's own
:class:`~governance.lineage.queries.LineageQueries` reads it as if every row had come through
``POST /api/v1/lineage``.

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
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench._common import (
    Env,
    Latency,
    Report,
    Row,
    add_database_args,
    choose_backends,
    fmt_ms,
    median,
    say,
    timed,
    verdict,
)
from bench._lineage_graph import (
    BASE_TIME,
    DAYS,
    JOB_NAMESPACE,
    LAYERS,
    Dataset,
    Shape,
    db_size,
    fill,
    make_shape,
)
from governance.api.app import create_app
from governance.config import Settings
from governance.db import create_db_engine, upgrade
from governance.lineage.queries import FAR_FUTURE, Direction, Graph, LineageQueries
from governance.runtime import Runtime

DEEP_LAYERS = 10  # queries start from datasets of the deepest layers
DEPTH = 10
AS_OF = BASE_TIME + timedelta(days=DAYS // 2)
TARGET_P99 = 0.050


def ms(seconds: float) -> str:
    """Latencies of milliseconds and more: two decimals are enough."""
    return fmt_ms(seconds, digits=2)


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
        calls, marquez_calls = [(d,) for d in sample], [(d,) for d in marquez_sample]
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
                plain.add(timed(calls, lambda d: upstream(queries, d, None)))
            pauses.append(watch)
            as_of.add(timed(calls, lambda d: upstream(queries, d, AS_OF)))
            baseline.add(timed(calls, base))
            web.add(timed(calls, http))
            if marquez_sample:
                mq.add(timed(marquez_calls, marquez))
            say(
                f"  run {rep + 1}: upstream p50/p99 {ms(plain.p50[-1])} / "
                f"{ms(plain.p99[-1])}; as_of {ms(as_of.p50[-1])} / "
                f"{ms(as_of.p99[-1])}; marquez "
                + (f"{ms(mq.p50[-1])} / {ms(mq.p99[-1])}" if marquez_sample else "-")
                + f"; HTTP {ms(web.p50[-1])} / {ms(web.p99[-1])}"
                + f"; baseline SELECT {ms(baseline.p50[-1])} / {ms(baseline.p99[-1])}"
            )
            say(
                f"         during the upstream pass: {watch.count} full GC passes of "
                f"{ms(watch.seconds / max(watch.count, 1))} on average; SQLAlchemy's "
                f"compiled-statement cache holds {compiled_cache_entries(engine):,} statements"
            )
        client.__exit__(None, None, None)
        runtime.close()
    finally:
        gc.unfreeze()
        engine.dispose()
        env.drop_db(url)

    b50, b99 = median(baseline.p50), median(baseline.p99)
    base_text = f"writer-edge SELECT {ms(b50)} / {ms(b99)}"

    def add(measure: str, lat: Latency, sized: GraphSize | None, target: bool) -> None:
        p50, p99 = median(lat.p50), median(lat.p99)
        report.add(
            Row(
                "1 query",
                backend,
                measure,
                f"{ms(p50)} / {ms(p99)}",
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
            f"{ms(median([w.seconds / max(w.count, 1) for w in pauses]))}",
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
    add_database_args(parser, default_backend="sqlite")
    parser.add_argument("--quick", action="store_true", help="100,000 edges")
    parser.add_argument("--edges", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--queries", type=int, default=200, help="datasets queried per repeat")
    parser.add_argument("--marquez", type=int, default=50, help="of those, also via Marquez API")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
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
    env = Env("lineage", args.pg_url if "postgresql" in backends else None, args.keep)
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
