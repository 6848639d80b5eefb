"""Policy evaluation benchmark: decisions per second and p50/p99 latency, per engine.

Usage (from the repository root)::

    .venv/bin/python -m bench.policy                      # embedded engine, ~1 min
    .venv/bin/python -m bench.policy --opa-url http://127.0.0.1:8181 [--opa-token T]
    .venv/bin/python -m bench.policy --packages           # plus each package's own cost

The input is a realistic document: a fixture base of the bundle (``--base``, by default one where
every framework applies) grown to ``--datasets`` datasets, ``--jobs`` jobs and
``--attestations`` attestations (50, 20, 10). Each engine decides it ``--decisions`` times
through the service's own path (schema check, the engine, reading the decision), one decision at
a time. The baseline, in the same run and through the same path, is the same engine deciding the
same input with a trivial policy (a constant decision): what the engine costs before any rule
runs (for the embedded engine: the worker round trip and turning the input into Rego terms).

OPA is measured when ``--opa-url`` names a server, e.g. the local one of ``../shared/opa``::

    "$(../shared/opa/setup.sh)" ../shared/opa/opa_rest.py --port 8181

``--packages`` adds, for the embedded engine evaluated in this process (no worker), the time of
each framework package's results alone, the gate's decision, and the input conversion.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from bench._common import Latency, Report, Row, fmt_ms, fmt_rate, median, pct, say
from bench._policy_input import base, scaled
from governance.policy.bundle import PolicyBundle, load_bundle
from governance.policy.engine import PolicyEngine, decide

TIMEOUT = 30.0

#: A decision document that decides nothing: the engine's floor.
TRIVIAL = """package governance.gate

import rego.v1

decision := {
\t"allow": true, "applicable": [], "evaluated": [],
\t"results": [], "violations": [], "warnings": [], "waived": [], "conflicted": [],
}
"""


def trivial_bundle(bundle: PolicyBundle) -> PolicyBundle:
    """The bundle's data with one constant module in place of every rule."""
    return PolicyBundle({"gate/gate.rego": TRIVIAL}, bundle.data, bundle.revision)


def _measure(
    engine: PolicyEngine, bundle: PolicyBundle, document: Mapping[str, Any], count: int
) -> tuple[list[float], str]:
    """Seconds per decision (sorted) and the last outcome."""
    engine.load(bundle)
    outcome = decide(engine, bundle, document, TIMEOUT)  # warm-up: the worker compiles
    if outcome.outcome == "error":
        raise SystemExit(f"the engine failed on the benchmark input: {outcome.error}")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        outcome = decide(engine, bundle, document, TIMEOUT)
        times.append(time.perf_counter() - started)
    times.sort()
    return times, outcome.outcome


def _engine_rows(
    report: Report,
    label: str,
    make: Callable[[], PolicyEngine],
    bundle: PolicyBundle,
    document: Mapping[str, Any],
    args: argparse.Namespace,
) -> None:
    real, trivial = Latency(), Latency()
    rates: list[float] = []
    outcome = ""
    engine = make()
    try:
        for _ in range(args.repeats):
            times, outcome = _measure(engine, bundle, document, args.decisions)
            real.add(times)
            rates.append(len(times) / sum(times))
            floor, _ = _measure(engine, trivial_bundle(bundle), document, args.decisions)
            trivial.add(floor)
    finally:
        engine.close()
    p50, p99 = median(real.p50), median(real.p99)
    base50, base99 = median(trivial.p50), median(trivial.p99)
    report.add(
        Row(
            "1 decide",
            label,
            f"decisions/s ({outcome})",
            fmt_rate(median(rates)),
            f"trivial policy {fmt_rate(1 / base50)}",
            f"{base50 / p50:.2f}",
        )
    )
    report.add(
        Row(
            "1 decide",
            label,
            "p50 / p99",
            real.text(),
            f"trivial policy {trivial.text()}",
            f"{p50 / base50:.1f} x / {p99 / base99:.1f} x",
        )
    )


def _package_rows(
    report: Report,
    bundle: PolicyBundle,
    document: Mapping[str, Any],
    section: str = "2 in-process",
    runs: int = 20,
) -> None:
    """Each package's cost, in this process on rego-cpp (no worker, no schema check): the median
    of ``runs`` evaluations each."""
    import regopy

    interpreter = regopy.Interpreter()
    for path, text in sorted(bundle.modules.items()):
        interpreter.add_module(path, text)
    interpreter.add_data_json(json.dumps(dict(bundle.data)))
    text = json.dumps(document)
    queries = {
        name: interpreter.build(f"x := {query}")
        for name, query in {
            "gdpr results": "count(data.governance.gdpr.results)",
            "uae_pdpl results": "count(data.governance.uae_pdpl.results)",
            "iso27001 results": "count(data.governance.iso27001.results)",
            "gate decision": "data.governance.gate.decision",
        }.items()
    }
    convert: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        interpreter.set_input_term(text)
        convert.append(time.perf_counter() - started)
    convert.sort()
    report.add(Row(section, "embedded", "input to Rego terms", fmt_ms(pct(convert, 50))))
    for name, compiled in queries.items():
        spent: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            output = interpreter.query_bundle(compiled)
            spent.append(time.perf_counter() - started)
        if not output.ok():
            raise SystemExit(f"{name} failed: {str(output)[:500]}")
        spent.sort()
        report.add(Row(section, "embedded", name, fmt_ms(pct(spent, 50))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="gdpr-clean.json", help="fixture base to grow")
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--attestations", type=int, default=10)
    parser.add_argument("--decisions", type=int, default=100, help="per repeat and engine")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--opa-url", help="an OPA server to measure too")
    parser.add_argument("--opa-token")
    parser.add_argument("--packages", action="store_true", help="each package's own cost")
    args = parser.parse_args(argv)

    bundle = load_bundle()
    document = scaled(base(args.base), args.datasets, args.jobs, args.attestations)
    size = len(json.dumps(document))
    say(
        f"== policy decisions: {args.base} grown to {len(document['datasets'])} datasets, "
        f"{len(document['jobs'])} jobs, {len(document['attestations'])} attestations "
        f"({size:,} bytes of JSON); {args.repeats} x {args.decisions} decisions per engine"
    )
    report = Report()

    from adapters.regopy_engine import EmbeddedEngine

    _engine_rows(report, "embedded", lambda: EmbeddedEngine(workers=1), bundle, document, args)
    if args.opa_url:
        from adapters.opa_engine import OpaServerEngine

        url, token = args.opa_url, args.opa_token
        _engine_rows(
            report, "opa", lambda: OpaServerEngine(url, token, TIMEOUT), bundle, document, args
        )
    else:
        report.notes.append("OPA not measured: give --opa-url (see the module docstring).")
    if args.packages:
        _package_rows(report, bundle, document)
    report.notes.append(
        "Ratios: decisions/s is real/trivial (1.0 = the rules cost nothing); latency is how many "
        "times the trivial policy's. One decision at a time; the embedded engine in one worker."
    )
    report.print()


if __name__ == "__main__":
    main()
