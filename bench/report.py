"""Report benchmark: an audit report of 50,000 decisions from a 1,000,000-entry ledger.

Usage (from the repository root)::

    .venv/bin/python -m bench.report --quick            # 100,000 entries, 5,000 decisions
    .venv/bin/python -m bench.report                    # 1,000,000 entries, 50,000 decisions
    .venv/bin/python -m bench.report --backend both     # and on PostgreSQL

The ledger (:mod:`bench._report_ledger`) is filled through ``Ledger.submit`` with the gate's own
entries; the report covers every decision (``--framework all``, a period holding them all) as of
the checkpoint the fill ended at. Each measured run is a fresh child process, timed from its
start to its exit, whose peak RSS is read from ``os.wait4``:

``issue``
    what ``governance report`` does: open the runtime, ``ReportService.issue`` (report data from
    the ledger, the bundle: PDF, CSVs, OSCAL, an inclusion proof of every cited entry, manifest,
    signature; then the ``report`` entry), close. Its stages are timed from the progress callback.
    Target: at most 60 s and 1 GiB.
``baselines``, the same decisions in the same database, each in its own child:
    ``aggregate``: ``SELECT outcome, count(*) … GROUP BY outcome`` over the period's decisions;
    ``scan``: every row of the period's decisions read in keyset chunks, with its summary and
    control results parsed from JSON: the least any report over them has to do.
``validate``
    ``reports.oscal.validate`` of the bundle's ``assessment-results.json`` alone (issuing
    runs it too, before writing the bundle, as ``report verify`` does; printed for its cost at
    this size).

Every repeat issues the same report (same checkpoint and options), so the bundles must be
byte-identical: the bench checks that the data digests agree.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._common import (
    REPO_ROOT,
    Env,
    Report,
    Row,
    add_database_args,
    choose_backends,
    median,
    say,
    verdict,
)
from bench._ledger_append import ledger_settings

TARGET_SECONDS = 60.0
TARGET_RSS = 1 << 30
_DECISIONS_IN_PERIOD = (
    "SELECT {columns} FROM gate_decisions WHERE ledger_index > :after AND ledger_index < :size "
    "AND evaluated_at >= :start AND evaluated_at < :end"
)


# -- children: each prints one JSON line ---------------------------------------------------------


def _child_settings(args: argparse.Namespace) -> Any:
    from governance.config import Settings

    return Settings(database_url=args.db, signing_key_file=Path(args.key), log_json=False)


def _child_issue(args: argparse.Namespace) -> dict[str, Any]:
    from governance.policy.bundle import load_bundle
    from governance.runtime import Runtime
    from reports import data, service

    settings = _child_settings(args)
    stages: dict[str, list[float]] = {}
    clock = time.perf_counter

    def progress(stage: str, done: int, total: int | None) -> None:
        now = clock()
        stages.setdefault(stage, [now, now])[1] = now

    runtime = Runtime.open(settings, start=True)
    try:
        reports = service.ReportService(
            runtime.engine,
            runtime.ledger,
            runtime.signer,
            lambda: load_bundle(overlay=settings.policy_data),
        )
        options = data.ReportOptions.of(args.framework, args.start, args.end, args.checkpoint)
        started = clock()
        issued = reports.issue(options, Path(args.out), progress=progress)
        seconds = clock() - started
    finally:
        runtime.close()
    return {
        "seconds": seconds,
        "stages": {name: [t0 - started, t1 - started] for name, (t0, t1) in stages.items()},
        "decisions": issued.decisions,
        "cited": issued.cited,
        "data_sha256": issued.report.data_sha256,
        "files": {name: info["size"] for name, info in issued.files.items()},
    }


def _child_aggregate(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import text

    from governance.db import create_db_engine

    engine = create_db_engine(args.db)
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    _DECISIONS_IN_PERIOD.format(columns="outcome, count(*)") + " GROUP BY outcome"
                ),
                {"after": -1, "size": args.checkpoint, "start": args.start, "end": args.end},
            ).all()
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"seconds": seconds, "decisions": sum(int(r[1]) for r in rows)}


def _child_scan(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import text

    from governance.db import create_db_engine

    statement = text(
        _DECISIONS_IN_PERIOD.format(columns="ledger_index, summary, results")
        + " ORDER BY ledger_index LIMIT 500"
    )
    engine = create_db_engine(args.db)
    decisions = results = 0
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            after = -1
            while True:
                params = {"size": args.checkpoint, "start": args.start, "end": args.end}
                chunk = conn.execute(statement, {"after": after, **params}).all()
                for _index, summary, results_json in chunk:
                    json.loads(summary)
                    results += len(json.loads(results_json)) if results_json else 0
                decisions += len(chunk)
                if len(chunk) < 500:
                    break
                after = int(chunk[-1][0])
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"seconds": seconds, "decisions": decisions, "results": results}


def _child_validate(args: argparse.Namespace) -> dict[str, Any]:
    from reports import oscal

    started = time.perf_counter()
    document = json.loads((Path(args.out) / "assessment-results.json").read_bytes())
    parsed = time.perf_counter()
    oscal.validate(document)
    return {"seconds": time.perf_counter() - started, "parse": parsed - started}


CHILDREN = {
    "issue": _child_issue,
    "aggregate": _child_aggregate,
    "scan": _child_scan,
    "validate": _child_validate,
}


def _child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=sorted(CHILDREN), required=True)
    for name in ("--db", "--key", "--framework", "--start", "--end", "--out"):
        parser.add_argument(name, default="")
    parser.add_argument("--checkpoint", type=int, default=0)
    args = parser.parse_args(argv)
    answer = CHILDREN[args.child](args)
    # The kernel's own high-water mark of this program's memory, to cross-check the rusage.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                answer["vmhwm_kib"] = int(line.split()[1])
    print(json.dumps(answer), flush=True)
    return 0


#: Starts a measured child and reports its rusage. A child's peak RSS counts the memory of the
#: process it was forked from (Linux keeps the pre-exec high-water mark), so the bench, which
#: holds the workload, never forks a measured child itself: this small launcher does.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"wall": time.perf_counter() - started, "maxrss_kib": usage.ru_maxrss,
                  "status": os.waitstatus_to_exitcode(status), "out": out.decode()}))
"""


def run_child(kind: str, options: dict[str, Any]) -> tuple[dict[str, Any], float, int]:
    """Run a child measurement: (its JSON answer, wall seconds, peak RSS in bytes)."""
    argv = [sys.executable, "-m", "bench.report", "--child", kind]
    for name, value in options.items():
        argv += [f"--{name}", str(value)]
    launched = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *argv],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result = json.loads(launched.stdout)
    if result["status"] != 0:
        raise RuntimeError(f"the {kind} child failed with exit status {result['status']}")
    answer: dict[str, Any] = json.loads(result["out"].strip().splitlines()[-1])
    # Linux reports ru_maxrss in KiB.
    return answer, float(result["wall"]), int(result["maxrss_kib"]) * 1024


# -- the bench -----------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB" if value >= 10 * 2**20 else f"{value / 2**20:.1f} MiB"


def bench_backend(env: Env, backend: str, args: argparse.Namespace, report: Report) -> None:
    from bench._report_ledger import Workload, fill, now, templates
    from governance.policy.bundle import load_bundle
    from governance.runtime import Runtime

    say(
        f"\n== report [{backend}]: {args.entries:,} entries, {args.decisions:,} decisions, "
        f"{args.repeats} repeats"
    )
    url = env.new_db(backend, "report")
    try:
        settings = ledger_settings(env, url, queue_size=60_000)
        started = now()
        workload = Workload(args.entries, args.decisions, templates(load_bundle()), started)
        runtime = Runtime.open(settings, migrate=True)
        try:
            seconds = fill(runtime.ledger, workload)
            size, _root = runtime.ledger.head()
        finally:
            runtime.close()
        counts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(workload.counts.items()))
        say(f"  filled {size:,} entries in {seconds:.0f} s ({counts})")
        options = {
            "db": url,
            "key": settings.signing_key_file,
            "framework": "all",
            "start": (started - timedelta(days=61)).date().isoformat(),
            "end": (started + timedelta(days=2)).date().isoformat(),
            "checkpoint": size,
        }
        issue_runs, digests = [], set()
        for rep in range(args.repeats):
            out = env.tmp / f"bundle-{backend}-{rep}"
            answer, wall, rss = run_child("issue", {**options, "out": out})
            issue_runs.append((wall, rss, answer))
            digests.add(answer["data_sha256"])
            stages = ", ".join(f"{name} {t1:.1f} s" for name, (_t0, t1) in answer["stages"].items())
            say(
                f"  issue {rep + 1}: {wall:.1f} s wall ({answer['seconds']:.1f} s in issue), "
                f"peak RSS {_mib(rss)} (VmHWM {_mib(answer.get('vmhwm_kib', 0) * 1024)}); "
                f"{answer['decisions']:,} decisions, "
                f"{answer['cited']:,} cited entries; stages done at: {stages}"
            )
        if len(digests) != 1:
            raise RuntimeError(f"repeats gave different report data: {sorted(digests)}")
        baselines: dict[str, tuple[list[float], list[int], dict[str, Any]]] = {}
        for kind in ("aggregate", "scan"):
            walls, rsses = [], []
            for _ in range(args.repeats):
                answer, wall, rss = run_child(kind, options)
                walls.append(answer["seconds"])
                rsses.append(rss)
            baselines[kind] = (walls, rsses, answer)
            say(
                f"  {kind}: {median(walls):.2f} s (median), peak RSS {_mib(max(rsses))}; "
                f"{json.dumps(answer)}"
            )
        validate, _wall, validate_rss = run_child(
            "validate", {"out": env.tmp / f"bundle-{backend}-0"}
        )
        say(
            f"  oscal.validate: {validate['seconds']:.1f} s ({validate['parse']:.1f} s parsing), "
            f"peak RSS {_mib(validate_rss)}"
        )
        files = issue_runs[0][2]["files"]
        say("  bundle: " + ", ".join(f"{n} {_mib(s)}" for n, s in sorted(files.items())))
        wall = median([w for w, _, _ in issue_runs])
        inner = median([a["seconds"] for _, _, a in issue_runs])
        rss = max(r for _, r, _ in issue_runs)
        scan = median(baselines["scan"][0])
        aggregate = median(baselines["aggregate"][0])
        decisions = issue_runs[0][2]["decisions"]
        report.add(
            Row(
                "1 issue",
                backend,
                f"report of {decisions:,} decisions @{size:,}: wall (in issue)",
                f"{wall:.1f} s ({inner:.1f} s)",
                f"scan {scan:.1f} s; GROUP BY {aggregate:.2f} s",
                f"{inner / scan:.1f} x scan",
                f"<= {TARGET_SECONDS:.0f} s",
                verdict(wall <= TARGET_SECONDS),
            )
        )
        scan_rss = max(baselines["scan"][1])
        report.add(
            Row(
                "1 issue",
                backend,
                "peak RSS of the issuing process",
                _mib(rss),
                f"scan {_mib(scan_rss)}",
                f"{rss / scan_rss:.1f} x scan",
                f"<= {_mib(TARGET_RSS)}",
                verdict(rss <= TARGET_RSS),
            )
        )
        report.add(
            Row(
                "2 oscal",
                backend,
                "oscal.validate(assessment-results.json)",
                f"{validate['seconds']:.1f} s",
                _mib(files.get("assessment-results.json", 0)),
            )
        )
    finally:
        if not args.keep:
            env.drop_db(url)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Report benchmark: issuing a report from a large ledger, in a child process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_database_args(parser, default_backend="sqlite")
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 5,000 decisions")
    parser.add_argument("--entries", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--decisions", type=int, default=None, help="default 50,000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.entries is None:
        args.entries = 100_000 if args.quick else 1_000_000
    if args.decisions is None:
        args.decisions = 5_000 if args.quick else 50_000
    if not 0 < args.decisions * 2 <= args.entries:
        parser.error("--decisions must be at most half of --entries")
    return args


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return _child_main(argv)
    args = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    backends = choose_backends(args.backend, args.pg_url, report)
    say(
        f"report bench: backends {', '.join(backends)}; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    env = Env("report", args.pg_url if "postgresql" in backends else None, args.keep)
    try:
        for backend in backends:
            bench_backend(env, backend, args, report)
    finally:
        env.close()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report.notes.append(
        f"Total {time.perf_counter() - started:.0f} s. Wall = the child process from start to "
        "exit (interpreter, imports, runtime, issue, close); 'in issue' = ReportService.issue "
        "alone, compared with the scan. Peak RSS is the child's own (os.wait4); the bench "
        f"process that filled the ledger peaked at {_mib(own)}."
    )
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
