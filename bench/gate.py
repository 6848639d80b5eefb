"""Promotion gate benchmark: decision latency next to the raw policy evaluation of its input.

Usage (from the repository root)::

    .venv/bin/python -m bench.gate --quick                # 10,000 entries, ~1,000 nodes
    .venv/bin/python -m bench.gate                        # 100,000 entries, ~10,000 nodes
    .venv/bin/python -m bench.gate --backend sqlite --engine opa

Each backend gets a fresh database filled through the service's own append paths
(:mod:`bench._gate_world`): ``--entries`` ledger entries, a lineage graph of about ``--nodes``
jobs and datasets, and one model whose upstream is a realistic pipeline (personal sources in the
EU and the UAE, feature tables, weekly training and evaluation runs, steward classifications, a
verified model signature, approvals and a waiver).

Timed, ``--decisions`` times per repeat, one at a time:

* ``GateService.decide`` as ``POST /api/v1/gate/decisions`` calls it (an ``await`` on an event
  loop: the evidence and the policies in a worker thread, the ledger append on the loop);
* right after each decision, in the same run: the policy engine's ``evaluate`` on the input
  document that decision recorded (read back from its ledger entry): the raw policy evaluation,
  the baseline. Ratio = decision / raw evaluation (1.0 would mean the gate adds nothing);
* the same decision through ``POST /api/v1/gate/decisions`` of the app ``governance serve``
  builds, ``--http-decisions`` times per repeat (in-process client: routing, auth, body
  validation and JSON encoding, no network).

The breakdown times the calls a decision makes, each wrapped by the bench for the timed
decisions: evidence assembly (``EvidenceAssembler.assemble``, of which the lineage upstream
``LineageQueries.model_upstream``), the policy service's ``decide`` (of which the engine's
``evaluate``: the rest is the input's schema check and reading the decision), the ledger append
(``Ledger.append_async``, until the entry is committed and projected), and the rest (the input's
SHA-256 over its canonical JSON, the entry's payload, the thread hand-offs); with OPA, also the
engine's check of the server's bundle before each decision. An untimed pass counts the SQL
statements of a decision. ``--profile N`` prints where the Python time of N decisions goes
(evidence and policy, profiled in this thread), and ``--packages`` what each policy package costs
on the last decision's input (rego-cpp in this process, as ``bench/policy.py --packages``).

The embedded engine (rego-cpp in ``policy_workers`` worker processes, the service's default) is
measured by default; ``--engine opa`` asks an OPA server instead: ``--opa-url``, or else the local
harness of ``../shared/opa`` started on a free port (its venv made by ``setup.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import inspect
import io
import json
import os
import pstats
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text

from bench._common import (
    REPO_ROOT,
    Env,
    Latency,
    Report,
    Row,
    add_database_args,
    choose_backends,
    fmt_ms,
    median,
    pct,
    say,
    verdict,
)
from bench._gate_world import WINDOW, World, build_world
from bench.policy import _package_rows
from governance.api.app import create_app
from governance.auth.keys import Role
from governance.config import Settings
from governance.gate.record import input_bytes
from governance.gate.service import GateService
from governance.ledger.entries import Submitter
from governance.policy.bundle import load_bundle
from governance.policy.engine import PolicyEngine
from governance.policy.service import PolicyService
from governance.runtime import Runtime, build_policy_engine

TARGET_P99 = 0.025
OPA_DIR = REPO_ROOT.parent / "shared" / "opa"


def ms(seconds: float) -> str:
    return fmt_ms(seconds, digits=2)


def three(lat: Latency) -> str:
    return f"{ms(median(lat.p50))} / {ms(median(lat.p95))} / {ms(median(lat.p99))}"


# --------------------------------------------------------------------------- instrumentation


class Phases:
    """Seconds each decision spends in named calls, recorded by wrappers the bench installs.

    A wrapper also marks its thread as inside its phase, so that :meth:`statements` can say
    which phase ran each SQL statement (the innermost one).
    """

    def __init__(self) -> None:
        #: Off while the baseline runs: the OPA engine's evaluate calls a wrapped method too.
        self.recording = True
        self.current: defaultdict[str, float] = defaultdict(float)
        self.decisions: list[defaultdict[str, float]] = []
        self._inside: dict[int, list[str]] = {}

    def wrap(self, owner: object, method: str, phase: str) -> None:
        original = getattr(owner, method)
        if inspect.iscoroutinefunction(original):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                with self._phase(phase):
                    return await original(*args, **kwargs)

            setattr(owner, method, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                with self._phase(phase):
                    return original(*args, **kwargs)

            setattr(owner, method, timed)

    @contextmanager
    def _phase(self, phase: str) -> Iterator[None]:
        stack = self._inside.setdefault(threading.get_ident(), [])
        stack.append(phase)
        started = time.perf_counter()
        try:
            yield
        finally:
            if self.recording:
                self.current[phase] += time.perf_counter() - started
            stack.pop()

    def close_decision(self, total: float) -> None:
        self.current["total"] = total
        self.decisions.append(self.current)
        self.current = defaultdict(float)

    def phase_of_this_thread(self) -> str | None:
        stack = self._inside.get(threading.get_ident())
        return stack[-1] if stack else None


def instrument(gate: GateService, runtime: Runtime, service: PolicyService, engine: Any) -> Phases:
    """Wrap the calls of a decision (module docstring) on these instances."""
    phases = Phases()
    phases.wrap(gate._evidence, "assemble", "evidence")
    phases.wrap(runtime.queries, "model_upstream", "lineage")
    phases.wrap(service, "decide", "policy")
    phases.wrap(engine, "evaluate", "engine")
    if hasattr(engine, "_verify"):  # the OPA engine checks the server's bundle every time
        phases.wrap(engine, "_verify", "bundle check")
    phases.wrap(runtime.ledger, "append_async", "append")
    return phases


@contextmanager
def statements(runtime: Runtime, phases: Phases) -> Iterator[Counter[str]]:
    """SQL statements run while active, by the phase of the thread that ran them."""
    counted: Counter[str] = Counter()

    def count(*_args: Any) -> None:
        counted[phases.phase_of_this_thread() or "other threads"] += 1

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


# ------------------------------------------------------------------------------ the OPA server


@contextmanager
def opa_server(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """(URL, token) of the OPA server to use: ``--opa-url``, or the local harness started here."""
    if args.engine != "opa" or args.opa_url:
        yield args.opa_url, args.opa_token
        return
    python = Path(args.opa_python)
    if not python.exists():
        raise SystemExit(
            f"--engine opa: no OPA harness at {python}; make it with {OPA_DIR / 'setup.sh'} "
            "or give --opa-url"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    token = secrets.token_hex(16)
    command = [str(python), str(OPA_DIR / "opa_rest.py"), "--port", str(port), "--token", token]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OPA harness did not start")
            time.sleep(0.1)
        say(f"  OPA harness on {url} (pid {process.pid})")
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=30)


# --------------------------------------------------------------------------------- measuring


@dataclass
class Measured:
    decide: Latency = field(default_factory=Latency)
    raw: Latency = field(default_factory=Latency)
    http: Latency = field(default_factory=Latency)
    #: Per repeat, per phase: mean seconds per decision, and p50 / p99.
    phase_means: dict[str, list[float]] = field(default_factory=dict)
    phase_p50: dict[str, list[float]] = field(default_factory=dict)
    phase_p99: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    #: The input document of the last timed decision.
    document: dict[str, Any] = field(default_factory=dict)
    statements: dict[str, float] = field(default_factory=dict)

    def add_phases(self, decisions: list[defaultdict[str, float]]) -> None:
        """One repeat's phases: each wrapped call, and what the calls leave over."""
        for d in decisions:
            d["evidence other"] = d["evidence"] - d["lineage"]
            d["policy other"] = d["policy"] - d["engine"]
            d["rest"] = d["total"] - d["evidence"] - d["policy"] - d["append"]
        for name in decisions[0]:
            values = sorted(d[name] for d in decisions)
            self.phase_means.setdefault(name, []).append(sum(values) / len(values))
            self.phase_p50.setdefault(name, []).append(pct(values, 50))
            self.phase_p99.setdefault(name, []).append(pct(values, 99))


@dataclass
class Gate:
    """The gate under test, built as ``Runtime.open`` builds it, with its engine at hand."""

    runtime: Runtime
    gate: GateService
    service: PolicyService
    engine: PolicyEngine
    requester: Submitter
    key: str
    settings: Settings


def open_gate(settings: Settings) -> Gate:
    runtime = Runtime.open(settings, migrate=True)
    engine = build_policy_engine(settings)
    service = PolicyService(
        engine, load_bundle(overlay=settings.policy_data), settings.policy_timeout_seconds
    )
    gate = GateService(runtime.engine, runtime.ledger, runtime.queries, lambda: service)
    runtime.gate.close()
    runtime.gate = gate
    info, key = runtime.keys.create(Role.GATE, "ci")
    return Gate(runtime, gate, service, engine, Submitter(info.name, info.key_id), key, settings)


def recorded_input(runtime: Runtime, index: int) -> dict[str, Any]:
    payload = runtime.ledger.payload(index)
    if payload is None:
        raise RuntimeError(f"decision {index} has no payload")
    document: dict[str, Any] = json.loads(payload)["input"]
    return document


def describe(document: dict[str, Any], answer: dict[str, Any]) -> str:
    """The input document's size and contents, and the decision on it."""
    datasets = document.get("datasets", [])
    personal = [d for d in datasets if (d.get("classification") or {}).get("personal_data")]
    jobs = document.get("jobs", [])
    runs = [r for j in jobs for r in j["runs"]]
    listed = {
        "datasets": len(datasets),
        "personal": len(personal),
        "jobs": len(jobs),
        "runs": len(runs),
        "run events": sum(len(r["events"]) for r in runs),
        **{k: len(document.get(k, [])) for k in ("tests", "attestations", "approvals", "waivers")},
    }
    violations = ", ".join(v["control"] for v in answer["violations"]) or "none"
    return (
        f"{len(input_bytes(document)):,} bytes of canonical JSON; "
        + ", ".join(f"{name} {n}" for name, n in listed.items())
        + f"; outcome {answer['outcome']} (violations: {violations})"
    )


@contextmanager
def http_poster(g: Gate, world: World) -> Iterator[Callable[[], float]]:
    """A function that POSTs the bench's request to the app and returns the seconds it took."""
    body = world.request.model_dump(mode="json", exclude_none=True)
    headers = {"Authorization": f"Bearer {g.key}"}
    with TestClient(create_app(g.settings, g.runtime)) as client:

        def post() -> float:
            started = time.perf_counter()
            answer = client.post("/api/v1/gate/decisions", json=body, headers=headers)
            seconds = time.perf_counter() - started
            if answer.status_code != 201:
                raise RuntimeError(f"POST /api/v1/gate/decisions: {answer.status_code}")
            return seconds

        yield post


def warm_up(g: Gate, world: World, decide: Callable[[], tuple[float, Any]], count: int) -> str:
    """``count`` untimed decisions (the engine starts and compiles); what the last one saw."""
    for _ in range(count):
        _seconds, decided = decide()
        if decided.record["outcome"] == "error":
            raise SystemExit(f"the gate answered error: {decided.record['error']}")
    return describe(recorded_input(g.runtime, decided.index), decided.record)


def run_decisions(
    g: Gate, world: World, runner: asyncio.Runner, args: argparse.Namespace
) -> Measured:
    measured = Measured()
    timeout = g.settings.policy_timeout_seconds

    def decide() -> tuple[float, Any]:
        started = time.perf_counter()
        decided = runner.run(g.gate.decide(world.request, g.requester, may_break_glass=False))
        return time.perf_counter() - started, decided

    say(f"  input document: {warm_up(g, world, decide, args.warmup)}")
    phases = instrument(g.gate, g.runtime, g.service, g.engine)
    with statements(g.runtime, phases) as counted:
        for _ in range(5):
            decide()
    measured.statements = {name: count / 5 for name, count in counted.most_common()}
    say(
        "  SQL statements per decision, by the phase that ran them: "
        + ", ".join(f"{name} {count:.0f}" for name, count in measured.statements.items())
        + " (the ledger writer's go through the DB-API and are not counted)"
    )
    phases.current.clear()
    with http_poster(g, world) as post:
        for _ in range(args.warmup):
            post()
        for rep in range(args.repeats):
            decisions, raws = [], []
            phases.decisions.clear()
            phases.current.clear()  # what the HTTP decisions before recorded
            for _ in range(args.decisions):
                seconds, decided = decide()
                phases.close_decision(seconds)
                measured.outcomes[decided.record["outcome"]] += 1
                decisions.append(seconds)
                document = recorded_input(g.runtime, decided.index)
                phases.recording = False
                started = time.perf_counter()
                g.engine.evaluate(document, timeout)
                raws.append(time.perf_counter() - started)
                phases.recording = True
            measured.decide.add(sorted(decisions))
            measured.raw.add(sorted(raws))
            measured.add_phases(phases.decisions)
            measured.http.add(sorted(post() for _ in range(args.http_decisions)))
            say(
                f"  run {rep + 1}: decide p50/p95/p99 {three_of(measured.decide, -1)}; "
                f"raw evaluate {three_of(measured.raw, -1)}; "
                f"HTTP {three_of(measured.http, -1)}"
            )
    if args.profile:
        profile(g, world, args.profile)
    measured.document = document
    return measured


def three_of(lat: Latency, i: int) -> str:
    return f"{ms(lat.p50[i])} / {ms(lat.p95[i])} / {ms(lat.p99[i])}"


def profile(g: Gate, world: World, count: int) -> None:
    """Where a decision's Python time goes: evidence, policy and hashing, in this thread."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        evaluated_at = datetime.now(UTC)
        assembled = g.gate._evidence.assemble(world.request, g.requester.principal, evaluated_at)
        document = assembled.model_dump(mode="json")
        g.service.decide(document)
        input_bytes(document)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    say(f"  profile of {count} decisions (evidence, policy, input hash; no append):")
    for line in out.getvalue().splitlines()[6:]:
        if line.strip():
            say("    " + line[:160])


# ------------------------------------------------------------------------------- one backend


def bench_backend(env: Env, backend: str, args: argparse.Namespace, report: Report) -> None:
    say(
        f"\n== promotion gate [{backend}, {args.engine}]: {args.entries:,} entries, "
        f"~{args.nodes:,} lineage nodes"
    )
    url = env.new_db(backend, "gate")
    try:
        with opa_server(args) as (opa_url, opa_token):
            settings = Settings(
                database_url=url,
                signing_key_file=env.tmp / f"{backend}-checkpoint.key",
                append_queue_size=4 * WINDOW,
                policy_engine=args.engine,
                opa_url=opa_url,
                opa_token=opa_token,
                log_json=False,
            )
            g = open_gate(settings)
            try:
                world = build_world(g.runtime, args.entries, args.nodes, args.seed)
                if backend == "postgresql":
                    # What autovacuum does on its own after the tables grew from nothing.
                    with g.runtime.engine.connect() as conn:
                        conn.execute(text("ANALYZE"))
                        conn.commit()
                nodes = world.counts["lineage_datasets"] + world.counts["lineage_jobs"]
                say(
                    f"  filled {world.entries:,} entries in {world.seconds:.1f} s "
                    f"({world.entries / world.seconds:,.0f}/s): "
                    + ", ".join(f"{name} {n:,}" for name, n in world.counts.items())
                )
                # As `governance serve` freezes what it loaded at start: the bench's own objects
                # must not lengthen the collector's passes.
                gc.collect()
                gc.freeze()
                with asyncio.Runner() as runner:
                    measured = run_decisions(g, world, runner, args)
            finally:
                gc.unfreeze()
                g.runtime.close()
    finally:
        env.drop_db(url)
    add_rows(report, backend, args, world, nodes, measured)
    if args.packages:
        _package_rows(report, load_bundle(), measured.document, "3 packages", runs=5)


def add_rows(
    report: Report,
    backend: str,
    args: argparse.Namespace,
    world: World,
    nodes: int,
    measured: Measured,
) -> None:
    label = f"{backend} / {args.engine}"
    report.add(
        Row(
            "0 build",
            label,
            f"ledger {world.entries:,} entries, {nodes:,} lineage nodes",
            f"{world.seconds:.0f} s",
            f"{world.entries / world.seconds:,.0f} entries/s through the append path",
        )
    )
    r50, r99 = median(measured.raw.p50), median(measured.raw.p99)
    base = f"raw evaluate {three(measured.raw)}"
    for section, measure, lat in (
        ("1 decide", f"GateService.decide p50/p95/p99 (x{args.decisions})", measured.decide),
        ("2 http", f"POST /api/v1/gate/decisions (x{args.http_decisions})", measured.http),
    ):
        p50, p99 = median(lat.p50), median(lat.p99)
        report.add(
            Row(
                section,
                label,
                measure,
                three(lat),
                base,
                f"{p50 / r50:.1f} / {p99 / r99:.1f}",
                "p99 <= 25 ms",
                verdict(p99 <= TARGET_P99),
            )
        )
        if section == "1 decide":
            add_breakdown(report, label, measured)
    outcomes = ", ".join(f"{n} {o}" for o, n in measured.outcomes.items())
    report.notes.append(f"{label}: outcomes of the timed decisions: {outcomes}.")


BREAKDOWN = (
    ("evidence", "  evidence assembly"),
    ("lineage", "    lineage upstream (model_upstream)"),
    ("evidence other", "    head, attestations, approvals, schema"),
    ("policy", "  PolicyService.decide"),
    ("engine", "    engine.evaluate"),
    ("bundle check", "      of which OPA's bundle check"),
    ("policy other", "    input schema check, reading the decision"),
    ("append", "  ledger append (commit + projections)"),
    ("rest", "  rest (input SHA-256, entry, threads)"),
)


def add_breakdown(report: Report, label: str, measured: Measured) -> None:
    total = median(measured.phase_means["total"])
    for name, measure in BREAKDOWN:
        if name not in measured.phase_means:
            continue
        mean = median(measured.phase_means[name])
        report.add(
            Row(
                "1 decide",
                label,
                measure,
                f"mean {ms(mean)} ({mean / total:.0%})",
                f"p50 {ms(median(measured.phase_p50[name]))}, "
                f"p99 {ms(median(measured.phase_p99[name]))}",
            )
        )
    report.add(
        Row(
            "1 decide",
            label,
            "  SQL statements per decision",
            ", ".join(f"{n} {c:.0f}" for n, c in measured.statements.items()),
        )
    )


# ------------------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Promotion gate decisions next to the raw policy evaluation of their input.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_database_args(parser, default_backend="both")
    parser.add_argument("--quick", action="store_true", help="10,000 entries, ~1,000 nodes")
    parser.add_argument("--entries", type=int, default=None, help="default 100,000")
    parser.add_argument("--nodes", type=int, default=None, help="default 10,000")
    parser.add_argument("--decisions", type=int, default=None, help="per repeat; default 100")
    parser.add_argument("--http-decisions", type=int, default=None, help="default 30")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engine", choices=["embedded", "opa"], default="embedded")
    parser.add_argument("--opa-url", help="an OPA server (default: start the local harness)")
    parser.add_argument("--opa-token")
    parser.add_argument(
        "--opa-python",
        default=os.path.join(os.environ.get("OPA_VENV", "/tmp/opa-rest-venv"), "bin", "python"),
        help="the harness's python (../shared/opa/setup.sh makes it) [env OPA_VENV]",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile N decisions afterwards"
    )
    parser.add_argument(
        "--packages",
        action="store_true",
        help="afterwards, each policy package's cost on the last input, rego-cpp in-process",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.entries = args.entries or (10_000 if quick else 100_000)
    args.nodes = args.nodes or (1_000 if quick else 10_000)
    args.decisions = args.decisions or (40 if quick else 100)
    args.http_decisions = args.http_decisions or (20 if quick else 30)
    if quick:
        args.repeats = min(args.repeats, 2)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    backends = choose_backends(args.backend, args.pg_url, report)
    say(
        f"gate bench: backends {', '.join(backends)}; engine {args.engine}; "
        f"{args.entries:,} entries, ~{args.nodes:,} nodes; {args.decisions} decisions x "
        f"{args.repeats} repeats; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )
    env = Env("gate", args.pg_url if "postgresql" in backends else None, args.keep)
    timings = []
    try:
        for backend in backends:
            t0 = time.perf_counter()
            bench_backend(env, backend, args, report)
            timings.append(f"{backend} {time.perf_counter() - t0:.0f} s")
    finally:
        env.close()
    report.notes.append(
        f"Latencies are medians over {args.repeats} repeats of each percentile (p50 / p95 / "
        "p99). The baseline is the policy engine's evaluate on the input document each timed "
        "decision recorded, right after it. Ratio = decision / raw evaluate, at p50 / p99. "
        "Breakdown: mean per decision (share of the mean decision), and its own p50 and p99."
    )
    report.notes.append(f"Total {time.perf_counter() - started:.0f} s ({'; '.join(timings)}).")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
