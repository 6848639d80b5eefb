"""OpenLineage ingest benchmark: POST /api/v1/lineage against a trivial endpoint of the same app.

Usage (from the repository root)::

    .venv/bin/python -m bench.ingest --quick              # ~2 min (2-core VM), both backends
    .venv/bin/python -m bench.ingest --backend sqlite     # ~1.5 min: 3 x 10 s per endpoint
    .venv/bin/python -m bench.ingest                      # ~3.5 min: SQLite and PostgreSQL

The server is this module run as ``python -m bench.ingest --serve-echo``: exactly what
``governance serve`` does (settings from ``GOVERNANCE_*``, migrations, checkpoint key,
``create_app(settings)`` on its server) plus one extra route, ``POST /bench/echo``, that reads the
body and answers 201. Both endpoints therefore live in one app, behind the same middleware, in
the same process. 8 keep-alive connections (wrk when installed, else a lean asyncio client in
its own process) POST realistic OpenLineage ``COMPLETE`` RunEvents (~1.7-2.1 KB, 1-2 inputs and 1
output with schema facets, a fresh ``runId`` per request) to each endpoint in turn, for
``--seconds`` after a 1 s warm-up, ``--repeats`` times. The projection is written in each ledger
batch's transaction (a follower thread catches up anything else): its pace during each run and
its backlog at the end are read from the database, and the time the first lineage query then
takes to catch it up is printed. Afterwards the ledger (queried directly) must hold exactly as
many lineage entries as the server answered 201, and the projection as many runs.

Ratios are "lineage / echo" for throughput (higher is better) and latency (lower is better).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import urllib.request
import uuid
from typing import Any

from fastapi import Request, Response
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench._common import (
    Env,
    Report,
    Row,
    add_database_args,
    choose_backends,
    fmt_ms,
    fmt_rate,
    median,
    say,
    verdict,
)
from bench._http import (
    HttpRun,
    Load,
    Server,
    choose_client,
    http_get,
    ledger_metrics,
    ledger_summary,
    running_server,
    wrk_script,
)
from bench._loadclient import LoadResult, LoadSpec, measure_load, raw_socket_workers
from governance.ledger import kinds

CONCURRENCY = 8
LINEAGE_PATH = "/api/v1/lineage"
ECHO_PATH = "/bench/echo"
#: The argument that makes this module the server (``python -m bench.ingest --serve-echo``).
SERVE_ECHO = "--serve-echo"
TEMPLATES = 40  # distinct jobs the events come from (a job re-runs with the same facets)
PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.3.0"
_FACETS = "https://openlineage.io/spec/facets"
# Markers in the event templates, replaced per request (in this order of appearance).
_MARKERS = ('"@@TIME@@"', '"@@RUN@@"', '"@@NOMINAL@@"')


# ----------------------------------------------------------------------------------- events


def _schema_facet(rng: random.Random, columns: int) -> dict[str, Any]:
    types = ["bigint", "varchar", "timestamp", "double precision", "boolean", "numeric(18,2)"]
    names = [
        "id", "customer_id", "order_id", "created_at", "updated_at", "amount", "currency",
        "country", "status", "channel", "segment", "score", "is_active", "region", "sku",
    ]  # fmt: skip
    picked = rng.sample(names, columns)
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{_FACETS}/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "fields": [{"name": n, "type": rng.choice(types)} for n in picked],
    }


def _dataset(rng: random.Random, name: str, output: bool) -> dict[str, Any]:
    columns = rng.randint(3, 4) if output else 2
    return {
        "namespace": "postgres://warehouse:5432",
        "name": name,
        "facets": {"schema": _schema_facet(rng, columns)},
    }


def event_templates(seed: int = 7) -> list[str]:
    """Compact JSON RunEvents with markers for eventTime, runId and nominal start time."""
    rng = random.Random(seed)
    templates = []
    for job in range(TEMPLATES):
        inputs = [
            _dataset(rng, f"analytics.staging.src_{rng.randrange(200):03d}", False)
            for _ in range(rng.randint(1, 2))
        ]
        event = {
            "eventType": "COMPLETE",
            "eventTime": "@@TIME@@",
            "run": {
                "runId": "@@RUN@@",
                "facets": {
                    "nominalTime": {
                        "_producer": PRODUCER,
                        "_schemaURL": f"{_FACETS}/1-0-1/NominalTimeRunFacet.json"
                        "#/$defs/NominalTimeRunFacet",
                        "nominalStartTime": "@@NOMINAL@@",
                    }
                },
            },
            "job": {
                "namespace": "airflow://bench",
                "name": f"warehouse_dag_{job // 8:02d}.transform_{job:03d}",
                "facets": {
                    "jobType": {
                        "_producer": PRODUCER,
                        "_schemaURL": f"{_FACETS}/2-0-3/JobTypeJobFacet.json"
                        "#/$defs/JobTypeJobFacet",
                        "integration": "AIRFLOW",
                        "jobType": "TASK",
                        "processingType": "BATCH",
                    }
                },
            },
            "inputs": inputs,
            "outputs": [_dataset(rng, f"analytics.marts.table_{job:03d}", True)],
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        }
        raw = json.dumps(event, separators=(",", ":")).replace("%", "%%")
        positions = [raw.index(m) for m in _MARKERS]
        assert positions == sorted(positions), positions
        for marker in _MARKERS:
            raw = raw.replace(marker, '"%s"')
        templates.append(raw)
    return templates


def _uuid_ish(rng: random.Random, worker: int, seq: int) -> str:
    """What the Lua script makes: random hex, then the worker and its counter (never repeats)."""
    return "%08x-%04x-4%03x-%04x-%02x%010x" % (  # noqa: UP031 - mirrors the Lua format
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
        0x8000 | rng.getrandbits(14), worker & 0xFF, seq,
    )  # fmt: skip


def render(template: str, run_id: str, now: float, seq: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    nominal = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(now))
    return (template % (f"{stamp}.{seq % 1000:03d}Z", run_id, nominal)).encode()


def body_sizes(templates: list[str]) -> tuple[int, float, int]:
    sizes = [len(render(t, _uuid_ish(random.Random(1), 1, 1), 0.0, 1)) for t in templates]
    return min(sizes), sum(sizes) / len(sizes), max(sizes)


def check_events(templates: list[str]) -> None:
    """Every template must be a valid event that raises no schema warnings."""
    from governance.lineage.validation import parse_event

    for template in templates:
        event = parse_event(render(template, str(uuid.uuid4()), time.time(), 1))
        if event.warnings:
            raise RuntimeError(f"bench event raises warnings: {event.warnings}")


# ----------------------------------------------------------------------------- wrk script


def lua_script(templates: list[str]) -> str:
    quoted = ",\n".join(f"  [==[{t}]==]" for t in templates)
    head = "local templates = {\n" + quoted + "\n}\n"
    return wrk_script(
        head
        + r"""
function init(args)
  local mode, nonce = args[1], args[2]
  math.randomseed(tonumber(string.sub(nonce, 1, 7), 16) + tid * 7919)
  counter = 0
  wrk.method = "POST"
  wrk.path = mode == "echo" and "/bench/echo" or "/api/v1/lineage"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local now = os.time()
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S", now) .. string.format(".%03dZ", counter % 1000)
  local nominal = os.date("!%Y-%m-%dT%H:%M:00Z", now)
  local run_id = string.format("%08x-%04x-4%03x-%04x-%02x%010x",
    math.random(0, 2147483647), math.random(0, 65535), math.random(0, 4095),
    32768 + math.random(0, 16383), tid, counter)
  local template = templates[math.random(1, #templates)]
  return wrk.format(nil, nil, nil, string.format(template, stamp, run_id, nominal))
end
"""
    )


# ------------------------------------------------------------------ asyncio client (no wrk)


async def client_main(spec: LoadSpec) -> LoadResult:
    """The asyncio client's requests: the templates rendered as the Lua script renders them."""
    port = spec["port"]
    path = ECHO_PATH if spec["mode"] == "echo" else LINEAGE_PATH
    templates = event_templates()
    rng = random.Random(spec["nonce"])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {spec['key']}"
        "\r\nContent-Type: application/json\r\nContent-Length: "
    ).encode()

    def request(worker: int, seq: int) -> bytes:
        body = render(rng.choice(templates), _uuid_ish(rng, worker, seq), time.time(), seq)
        return head + b"%d\r\n\r\n" % len(body) + body

    return await measure_load(spec, lambda window: raw_socket_workers(spec, window, request))


# ------------------------------------------------------------------------- the server mode


def serve_echo() -> None:
    """``governance serve`` plus ``POST /bench/echo`` (reads the body, answers 201)."""
    from governance.api.app import create_app
    from governance.api.server import build_server
    from governance.cli.common import settings_from_env
    from governance.db import upgrade
    from governance.ledger.checkpoint import load_or_create_signing_key
    from governance.logs import configure_logging

    settings = settings_from_env()
    configure_logging(settings.log_level, json_format=settings.log_json)
    upgrade(settings.database_url)
    load_or_create_signing_key(settings.signing_key_file)
    app = create_app(settings, freeze_heap=True)

    async def echo(request: Request) -> Response:
        await request.body()
        return Response(status_code=201)

    app.add_api_route(
        ECHO_PATH, echo, methods=["POST"], status_code=201, response_class=Response,
        include_in_schema=False,
    )  # fmt: skip
    build_server(app, settings).run()


def _status_count(server: Server, route: str, status: str) -> int:
    """How many responses the server sent on a route with a status (its own /metrics counter)."""
    code, body = http_get(server.port, "/metrics", server.metrics_key)
    if code != 200:
        return -1
    want = f'governance_http_requests_total{{route="{route}",status="{status}"}}'
    for line in body.decode().splitlines():
        name, _, value = line.rpartition(" ")
        if name == want:
            return int(float(value))
    return 0


class Progress:
    """The ledger's size and the projection's watermark, read from the database directly."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)

    def read(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            head = conn.execute(text("SELECT size FROM ledger_head WHERE id = 1")).scalar_one()
            applied = conn.execute(
                text("SELECT next_index FROM projection_state WHERE name = :name"),
                {"name": kinds.LINEAGE_PROJECTION},
            ).scalar_one()
        return int(head), int(applied)

    def close(self) -> None:
        self.engine.dispose()


def _db_counts(url: str) -> tuple[int, int, int]:
    """(lineage ledger entries, projected runs, projected edges), read directly."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            entries = conn.execute(
                text("SELECT COUNT(*) FROM ledger_entries WHERE kind = :kind"),
                {"kind": kinds.OPENLINEAGE.name},
            ).scalar_one()
            runs = conn.execute(text("SELECT COUNT(*) FROM lineage_runs")).scalar_one()
            edges = conn.execute(text("SELECT COUNT(*) FROM lineage_edges")).scalar_one()
    finally:
        engine.dispose()
    return int(entries), int(runs), int(edges)


# ------------------------------------------------------------------------------ the bench


def bench_backend(env: Env, backend: str, args: argparse.Namespace, report: Report) -> None:
    client = args.client
    seconds, warmup = args.seconds, 1.0
    say(
        f"\n== OpenLineage ingest [{backend}]: {CONCURRENCY} connections ({client} client), "
        f"{args.repeats} x ({seconds:g} s echo + {seconds:g} s lineage), {warmup:g} s warm-up each"
    )
    url = env.new_db(backend, "ingest")
    echo: list[HttpRun] = []
    posts: list[HttpRun] = []
    progress = Progress(url)
    with contextlib.ExitStack() as stack:
        stack.callback(progress.close)
        server = stack.enter_context(
            running_server(
                [sys.executable, "-m", __spec__.name, SERVE_ECHO],
                url,
                env.tmp / f"{backend}-checkpoint.key",
                env.tmp / f"serve-{backend}.log",
                log_level=args.log_level,
                timeout=90,
            )
        )
        say(f"  server up in {server.startup_seconds:.1f} s (migrations applied)")
        script = env.tmp / "ingest.lua"
        script.write_text(lua_script(event_templates()))
        load = Load(server, seconds, warmup, CONCURRENCY)

        def run(mode: str) -> HttpRun:
            before = ledger_metrics(server)
            head0, applied0 = progress.read()
            started = time.perf_counter()
            if client == "wrk":
                result = load.wrk(script, mode)
            else:
                result = load.python(f"{__spec__.name}:client_main", mode)
            elapsed = time.perf_counter() - started
            head1, applied1 = progress.read()
            after = ledger_metrics(server)
            result.ledger = {name: after[name] - before[name] for name in after}
            # How fast the projection went while the client was posting (warm-up included) and
            # how far behind the ledger it was at the end.
            result.ledger["appended_ps"] = (head1 - head0) / elapsed
            result.ledger["projected_ps"] = (applied1 - applied0) / elapsed
            result.ledger["backlog"] = head1 - applied1
            return result

        for rep in range(args.repeats):
            echo.append(run("echo"))
            posts.append(run("lineage"))
            e, p = echo[-1], posts[-1]
            say(
                f"  run {rep + 1}: lineage {p.text(' ev/s')} | echo {e.text(' req/s')} | ratio "
                f"{p.rate / e.rate:.2f}"
            )
            say(f"         ledger during the lineage run: {ledger_summary(p.ledger)}")
            say(
                f"         projection meanwhile: {fmt_rate(p.ledger['projected_ps'], ' entries/s')}"
                f" while the ledger grew by {fmt_rate(p.ledger['appended_ps'], ' entries/s')}; "
                f"{p.ledger['backlog']:,.0f} entries behind at the end"
            )
        # Requests still in flight when the client stopped finish on the server: wait for the
        # server's own count of 201s to settle before comparing it with the ledger.
        served_201, previous = -2, -1
        while served_201 != previous:
            previous = served_201
            time.sleep(0.5)
            served_201 = _status_count(server, LINEAGE_PATH, "201")
        # A lineage query catches the projection up first (so that no acknowledged event is
        # missed): time the catch-up of whatever backlog is left.
        head, applied = progress.read()
        started = time.perf_counter()
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/v1/namespaces?limit=1"
        )
        request.add_header("Authorization", f"Bearer {server.metrics_key}")
        with urllib.request.urlopen(request, timeout=1800) as response:
            status = response.status
        catch_up = time.perf_counter() - started
        say(
            f"  catch-up: a query found the projection {head - applied:,} entries behind and "
            f"answered ({status}) after {catch_up:.2f} s"
        )
        served_other = sum(_status_count(server, LINEAGE_PATH, s) for s in ("400", "500", "503"))
    try:
        entries, runs, edges = _db_counts(url)
    finally:
        env.drop_db(url)
    counted = sum(p.ok_total for p in posts)
    # Each wrk invocation (warm-up and measured window) stops with up to one request per
    # connection in flight: the server answers (and records) those after wrk stopped counting.
    slack = 2 * CONCURRENCY * len(posts) if client == "wrk" else 0
    exact = entries == served_201 == runs
    within = counted <= entries <= counted + slack
    say(
        f"  check: ledger holds {entries:,} lineage entries; the server answered {served_201:,} "
        f"x 201 (and {served_other} x 400/500/503); the projection has {runs:,} runs, "
        f"{edges:,} edges; the client counted {counted:,} x 201"
        + ("" if exact and within else "  <-- MISMATCH")
    )
    rate, base = median([p.rate for p in posts]), median([e.rate for e in echo])
    ratio = median([p.rate / e.rate for p, e in zip(posts, echo, strict=True)])
    target = ">= 0.50" + (" and >= 1,000/s" if backend == "sqlite" else "")
    ok = ratio >= 0.5 and (backend != "sqlite" or rate >= 1000)
    report.add(
        Row(
            "1 ingest",
            backend,
            f"POST {LINEAGE_PATH}, {CONCURRENCY} conns",
            fmt_rate(rate, " events/s"),
            f"POST {ECHO_PATH} {fmt_rate(base, ' req/s')}",
            f"{ratio:.2f}",
            target,
            verdict(ok),
        )
    )
    p50, p99 = median([p.p50 for p in posts]), median([p.p99 for p in posts])
    e50, e99 = median([e.p50 for e in echo]), median([e.p99 for e in echo])
    report.add(
        Row(
            "1 ingest",
            backend,
            "  latency p50 / p99",
            f"{fmt_ms(p50)} / {fmt_ms(p99)}",
            f"echo {fmt_ms(e50)} / {fmt_ms(e99)}",
            f"{p50 / e50:.1f} / {p99 / e99:.1f}",
        )
    )
    report.add(
        Row(
            "1 ingest",
            backend,
            "  server CPU cores (lineage / echo)",
            f"{median([p.server_cpu for p in posts]):.2f}",
            f"{median([e.server_cpu for e in echo]):.2f}",
            f"client {median([p.client_cpu for p in posts]):.2f} / "
            f"{median([e.client_cpu for e in echo]):.2f}",
        )
    )
    projected = median([p.ledger["projected_ps"] for p in posts])
    appended = median([p.ledger["appended_ps"] for p in posts])
    # Lag: the backlog left when the client stopped, in seconds of the ledger's growth rate.
    lag = median([p.ledger["backlog"] / max(p.ledger["appended_ps"], 1.0) for p in posts])
    report.add(
        Row(
            "1 ingest",
            backend,
            "  projection pace",
            fmt_rate(projected, " entries/s"),
            f"ledger growth {fmt_rate(appended, ' entries/s')}",
            f"{projected / appended:.2f}",
            "lag <= 1 s",
            verdict(lag <= 1.0),
        )
    )
    report.add(
        Row(
            "1 ingest",
            backend,
            "  projection behind when the client stopped",
            f"{median([p.ledger['backlog'] for p in posts]):,.0f} entries = {lag:.2f} s",
            f"last catch-up {catch_up:.2f} s",
        )
    )
    report.add(
        Row(
            "2 check",
            backend,
            "ledger entries = 201s = projected runs",
            f"{entries:,}",
            f"server 201s {served_201:,}; runs {runs:,}; client 201s {counted:,}",
            "",
            "equal",
            verdict(exact and within),
        )
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="OpenLineage ingest throughput against an echo endpoint of the same app.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_database_args(parser, default_backend="both")
    parser.add_argument("--quick", action="store_true", help="5 s windows instead of 10 s")
    parser.add_argument("--seconds", type=float, default=None, help="default 10 (5 with --quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python"], default="auto",
        help="load generator; auto = wrk when installed, else the asyncio client",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", default="WARNING",
        help="server GOVERNANCE_LOG_LEVEL (INFO writes one JSON access-log line per request)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 10.0
    args.client = choose_client(args.client)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    backends = choose_backends(args.backend, args.pg_url, report)
    templates = event_templates()
    check_events(templates)
    smallest, mean, largest = body_sizes(templates)
    say(
        f"ingest bench: backends {', '.join(backends)}; {args.client} client; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; {len(templates)} job templates, "
        f"bodies {smallest:,}-{largest:,} B (mean {mean:,.0f})"
    )
    env = Env("ingest", args.pg_url if "postgresql" in backends else None, args.keep)
    timings = []
    try:
        for backend in backends:
            t0 = time.perf_counter()
            bench_backend(env, backend, args, report)
            timings.append(f"{backend} {time.perf_counter() - t0:.0f} s")
    finally:
        env.close()
    report.notes.append(
        f"Events: OpenLineage COMPLETE RunEvents of {smallest:,}-{largest:,} B (mean "
        f"{mean:,.0f}) from {len(templates)} jobs, 1-2 inputs and 1 output with schema facets, "
        "a fresh runId and eventTime per request; the echo endpoint gets the same bodies and "
        "headers. Medians of "
        f"{args.repeats} runs of {args.seconds:g} s, {CONCURRENCY} keep-alive connections, "
        f"{args.client} client; server log level {args.log_level}."
    )
    report.notes.append(
        f"Total {time.perf_counter() - started:.0f} s ({'; '.join(timings)}). Ratios are "
        "lineage/echo: throughput higher is better, latency lower is better."
    )
    report.print()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == [SERVE_ECHO]:
        serve_echo()
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
