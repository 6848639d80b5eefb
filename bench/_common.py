"""What every bench shares: the report, the throw-away databases, statistics and formatting.

A bench prints each figure next to a baseline measured in the same run (:class:`Report`), on
the backends :func:`choose_backends` finds, in databases an :class:`Env` creates and removes.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import statistics
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVarTuple

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

#: The repository root: child processes start bench modules (``python -m bench.…``) from here.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

Args = TypeVarTuple("Args")


def say(message: str = "") -> None:
    print(message, flush=True)


def pct(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt_rate(value: float, unit: str = "/s") -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}{unit}"


def fmt_ms(seconds: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.{digits}f} ms"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def timed(calls: Sequence[tuple[*Args]], fn: Callable[[*Args], object]) -> list[float]:
    """Seconds each ``fn(*call)`` took, sorted (ready for :func:`pct`)."""
    clock = time.perf_counter
    out = []
    for call in calls:
        t0 = clock()
        fn(*call)
        out.append(clock() - t0)
    out.sort()
    return out


@dataclass
class Latency:
    """p50, p95 and p99 of each repeat; reported as the median of each."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)

    def add(self, sorted_values: list[float]) -> None:
        self.p50.append(pct(sorted_values, 50))
        self.p95.append(pct(sorted_values, 95))
        self.p99.append(pct(sorted_values, 99))

    def text(self) -> str:
        return f"{fmt_ms(median(self.p50))} / {fmt_ms(median(self.p99))}"


# ---------------------------------------------------------------------------------- results


@dataclass
class Row:
    section: str
    backend: str
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def print(self) -> None:
        headers = Row(
            "step", "backend", "measure", "median", "baseline (same run)", "ratio", "target", ""
        )
        cols = [f.name for f in dataclasses.fields(Row)]
        # By step number (stable, so rows of one step keep their order).
        table = [headers, *sorted(self.rows, key=lambda r: r.section.split()[0])]
        widths = {c: max(len(getattr(r, c)) for r in table) for c in cols}
        line = "  ".join("-" * widths[c] for c in cols)
        say()
        say(line)
        for index, row in enumerate(table):
            say("  ".join(getattr(row, c).ljust(widths[c]) for c in cols).rstrip())
            if index == 0:
                say(line)
        say(line)
        for note in self.notes:
            say(textwrap.fill(note, width=100, initial_indent="* ", subsequent_indent="  "))


# ------------------------------------------------------------------------------ environment


class Env:
    """Temporary directory and PostgreSQL schemas, all removed by :meth:`close`."""

    def __init__(self, name: str, pg_url: str | None, keep: bool) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.pg_url = pg_url
        self.keep = keep
        self._admin: Engine | None = None
        self._schemas: dict[str, str] = {}

    def _admin_engine(self) -> Engine:
        if self.pg_url is None:
            raise RuntimeError("this run has no PostgreSQL database")
        if self._admin is None:
            self._admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        return self._admin

    def new_db(self, backend: str, name: str) -> str:
        """The URL of an empty database: a SQLite file, or a schema of its own in PostgreSQL."""
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / name}.db"
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self._admin_engine().connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in str(self.pg_url) else "?"
        url = f"{self.pg_url}{sep}options=-csearch_path%3D{schema}"
        self._schemas[url] = schema
        return url

    def drop_db(self, url: str) -> None:
        schema = self._schemas.pop(url, None)
        if schema is not None:
            with self._admin_engine().connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        elif url.startswith("sqlite:///"):
            base = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                Path(base + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        for url in list(self._schemas):
            try:
                self.drop_db(url)
            except Exception as exc:  # noqa: BLE001 - report and keep cleaning up
                say(f"warning: could not drop schema {self._schemas.get(url)}: {exc}")
        if self._admin is not None:
            self._admin.dispose()
        if self.keep:
            say(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def add_database_args(parser: argparse.ArgumentParser, *, default_backend: str) -> None:
    """``--backend`` (or ``--database``), ``--pg-url`` and ``--keep``, the same in every bench."""
    parser.add_argument(
        "--backend",
        "--database",
        dest="backend",
        choices=["sqlite", "postgresql", "both"],
        default=default_backend,
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL database to create throw-away schemas in [env BENCH_PG_URL]",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def choose_backends(choice: str, pg_url: str, report: Report) -> list[str]:
    """The backends a bench run covers (``--backend``): PostgreSQL only if it is reachable.

    Asked for PostgreSQL alone and it is not reachable: exit with the reason. Asked for both:
    SQLite only, and the report says why.
    """
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in backends:
        problem = pg_reachable(pg_url)
        if problem is not None:
            if choice == "postgresql":
                raise SystemExit(f"PostgreSQL at {pg_url} is not reachable: {problem}")
            say(f"PostgreSQL is not reachable ({problem}); SQLite only")
            report.notes.append("PostgreSQL was skipped: not reachable.")
            backends = ["sqlite"]
    return backends


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers, else why not."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
