"""A missing prerequisite (a ``../shared`` path, PostgreSQL) skips the test that needs it, and
fails it under ``CI=true``; the tests that need nothing still pass.

Each case runs pytest in a subprocess on a small test file, with ``tests/conftest.py`` loaded as a
plugin (for ``pg_database``) and ``GOVERNANCE_TEST_POSTGRES_URL`` unset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent
MISSING = "fixtures/no-such-fixture-set"

PROBE = f'''
import pytest

from tests.conftest import Database, collect_from_shared, shared_path


def test_reads_a_missing_shared_path() -> None:
    shared_path("{MISSING}", "event.json")


@pytest.mark.parametrize(
    "name", collect_from_shared("{MISSING}", lambda root: [p.name for p in root.iterdir()])
)
def test_parametrised_from_a_missing_shared_path(name: str) -> None:
    shared_path("{MISSING}", name)


def test_needs_postgresql(pg_database: Database) -> None:
    pass


def test_needs_nothing() -> None:
    pass
'''


def run_probe(tmp_path: Path, ci: str | None) -> dict[str, tuple[str, str]]:
    """Each probe test's outcome (``passed``, or the JUnit element: ``failure``, ``error``,
    ``skipped``) and its message."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GOVERNANCE_TEST_POSTGRES_URL")}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    plugins = ["-p", "tests.conftest", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", f"--junitxml={report}", "test_probe.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.is_file(), proc.stdout + proc.stderr
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        found = [e for e in case if e.tag in ("failure", "error", "skipped")]
        outcome = (found[0].tag, found[0].get("message", "")) if found else ("passed", "")
        outcomes[case.get("name", "")] = outcome
    assert proc.returncode == (0 if ci is None else 1), proc.stdout
    return outcomes


@pytest.mark.parametrize(
    ("ci", "in_body", "in_fixture"),
    [("true", "failure", "error"), (None, "skipped", "skipped")],
    ids=["ci", "not-ci"],
)
def test_missing_prerequisites(
    tmp_path: Path, ci: str | None, in_body: str, in_fixture: str
) -> None:
    outcomes = run_probe(tmp_path, ci)
    missing = str(SHARED / MISSING)
    # Failed under CI, skipped elsewhere; the message names what is missing.
    outcome, message = outcomes["test_reads_a_missing_shared_path"]
    assert outcome == in_body
    assert f"{missing}/event.json is missing" in message
    # Collecting from the missing folder gives one placeholder, which reports the folder.
    outcome, message = outcomes["test_parametrised_from_a_missing_shared_path[.]"]
    assert outcome == in_body
    assert f"{missing} is missing" in message
    # A failure in a fixture is reported as an error.
    outcome, message = outcomes["test_needs_postgresql"]
    assert outcome == in_fixture
    assert "GOVERNANCE_TEST_POSTGRES_URL is not set" in message
    # Only the tests that need the prerequisite: the rest of the module runs.
    assert outcomes["test_needs_nothing"] == ("passed", "")
    assert len(outcomes) == 4
