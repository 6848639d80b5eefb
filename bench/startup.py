"""CLI start-up benchmark: how long `governance --help` and `governance keys list` take.

Usage (from the repository root)::

    .venv/bin/python -m bench.startup              # ~30 s: 15 runs of each command
    .venv/bin/python -m bench.startup --runs 40

Each command is the installed console script (``.venv/bin/governance``) run as a new process, as
a person or a CI job runs it, against a migrated SQLite database with a few keys. The baseline,
run in the same loop, is the bare interpreter (``python -c pass``) and the import of the CLI's
own framework (``python -c "import typer"``): what no command can avoid. Runs alternate between
the commands so that a noisy moment of the machine falls on all of them alike. The target is
0.5 s for both commands (best run, and median shown).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import REPO_ROOT, Report, Row, fmt_ms, median, say, verdict

TARGET_SECONDS = 0.5


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    python = sys.executable
    governance = str(Path(python).with_name("governance"))
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = {
            **os.environ,
            "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp}/governance.db",
            "GOVERNANCE_SIGNING_KEY_FILE": f"{tmp}/checkpoint.key",
        }
        subprocess.run([governance, "db", "upgrade"], env=env, check=True, capture_output=True)
        for n in range(3):
            subprocess.run(
                [governance, "keys", "create", "--role", "auditor", "--name", f"k{n}"],
                env=env,
                check=True,
                capture_output=True,
            )
        commands = {
            "python -c pass": [python, "-c", "pass"],
            'python -c "import typer"': [python, "-c", "import typer"],
            "governance --help": [governance, "--help"],
            "governance keys list": [governance, "keys", "list"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        say(f"== CLI start-up: {args.runs} runs of each command, alternating")
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(_time(command, env))
    report = Report()
    bare = min(times["python -c pass"])
    framework = min(times['python -c "import typer"'])
    for name in ("governance --help", "governance keys list"):
        best = min(times[name])
        report.add(
            Row(
                "1 start-up",
                "sqlite",
                f"{name}: best / median",
                f"{fmt_ms(best, 0)} / {fmt_ms(median(times[name]), 0)}",
                f"bare python {fmt_ms(bare, 0)}, import typer {fmt_ms(framework, 0)}",
                f"{best / framework:.1f} x typer",
                f"<= {TARGET_SECONDS:.1f} s",
                verdict(best <= TARGET_SECONDS),
            )
        )
    report.notes.append(
        "Best of the runs is the figure compared with the target: the machine has 2 cores shared "
        "with other work, so slower runs measure the neighbours as much as the command."
    )
    report.print()


if __name__ == "__main__":
    main()
