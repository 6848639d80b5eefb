"""Ledger benchmarks: every figure is printed next to a baseline measured in the same run.

Usage (from the repository root)::

    .venv/bin/python -m bench.ledger --quick             # ~1.5 min (2-core VM)
    .venv/bin/python -m bench.ledger --backend sqlite    # full size, SQLite only: ~5 min
    .venv/bin/python -m bench.ledger                     # full size, both backends: ~15 min

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
import functools
import os
import sys
import time
from collections.abc import Callable

from bench._common import Env, Report, add_database_args, choose_backends, say
from bench._ledger_append import bench_append
from bench._ledger_big import bench_big
from bench._ledger_http import bench_http

STEPS = ("append", "http", "proofs", "audit", "size")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ledger benchmarks; each figure is printed next to a same-run baseline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_database_args(parser, default_backend="both")
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
    env = Env("ledger", args.pg_url if "postgresql" in backends else None, args.keep)
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
                    functools.partial(
                        bench_append, env, backend, args.appends, args.repeats, report
                    ),
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
                    functools.partial(bench_big, env, backend, args, report),
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
    sys.exit(main(sys.argv[1:]))
