"""``governance policy``: test, eval, show and schema, in-process, on both engines.

The commands need no database: only the bundle, the engine and its settings.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from governance.cli.common import EXIT_ERROR, EXIT_FAILED_CHECK, EXIT_OK
from governance.cli.main import main
from governance.policy.bundle import bundle_dir, load_bundle
from governance.policy.input import published_schema
from tests.conftest import OpaServer

BASES = bundle_dir() / "tests" / "bases"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    for name in list(os.environ):
        if name.startswith("GOVERNANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(["policy", *argv])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def base(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((BASES / name).read_text())
    return loaded


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def own_fixtures(tmp_path: Path, expect_allow: bool) -> Path:
    """A fixture directory of one's own: a base and one fixture expecting ``expect_allow``."""
    root = tmp_path / "fixtures"
    (root / "bases").mkdir(parents=True)
    shutil.copy(BASES / "iso27001-clean.json", root / "bases" / "clean.json")
    fixture = {"base": "clean.json", "input": {}, "expect": {"allow": expect_allow}}
    write(root / "clean-allows.json", fixture)
    return root


def test_eval_allows_denies_and_errors(policy: Any, tmp_path: Path) -> None:
    allowed = policy(
        "eval", "--input", str(write(tmp_path / "a.json", base("iso27001-clean.json")))
    )
    assert allowed.code == EXIT_OK, allowed.out + allowed.err
    assert allowed.out.startswith("ALLOW: 0 violations")
    failing = {**base("iso27001-clean.json"), "scans": {"sast_status": "pass", "critical": 3}}
    denied = policy("eval", "--input", str(write(tmp_path / "d.json", failing)), "--json")
    assert denied.code == EXIT_FAILED_CHECK
    document = denied.json()
    assert document["outcome"] == "deny"
    assert [v["control"] for v in document["violations"]] == ["iso-a8.8"]
    assert document["policy"]["engine"] == "embedded"
    assert document["policy"]["bundle_digest"] == load_bundle().digest
    misfit = policy("eval", "--input", str(write(tmp_path / "m.json", {"model": {}})))
    assert misfit.code == EXIT_ERROR
    assert "does not fit its schema" in misfit.err


def test_eval_of_an_unreadable_input_is_an_error(policy: Any, tmp_path: Path) -> None:
    assert policy("eval", "--input", str(tmp_path / "absent.json")).code == EXIT_ERROR
    (tmp_path / "bad.json").write_text("{")
    result = policy("eval", "--input", str(tmp_path / "bad.json"))
    assert result.code == EXIT_ERROR
    assert "is not JSON" in result.err


def test_eval_on_opa_decides_as_embedded(
    policy: Any, tmp_path: Path, opa_server: OpaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVERNANCE_OPA_URL", opa_server.url)
    monkeypatch.setenv("GOVERNANCE_OPA_TOKEN", opa_server.token)
    document = write(tmp_path / "d.json", base("uae_pdpl-clean.json"))
    on_opa = policy("eval", "--input", str(document), "--engine", "opa", "--json")
    on_embedded = policy("eval", "--input", str(document), "--json")
    assert on_opa.code == on_embedded.code
    opa, embedded = on_opa.json(), on_embedded.json()
    assert opa["policy"]["engine"] == "opa"
    opa.pop("policy")
    embedded.pop("policy")
    assert opa == embedded


def test_test_runs_ones_own_fixtures(policy: Any, tmp_path: Path) -> None:
    passing = policy("test", "--fixtures", str(own_fixtures(tmp_path / "p", True)))
    assert passing.code == EXIT_OK, passing.out
    assert "1 of 1 fixtures pass on embedded" in passing.out
    failing = policy("test", "--fixtures", str(own_fixtures(tmp_path / "f", False)), "--json")
    assert failing.code == EXIT_FAILED_CHECK
    report = failing.json()
    assert report["failed"] == [
        {"fixture": "clean-allows.json", "problems": ["allow is True, expected False"]}
    ]


def test_own_fixtures_run_with_the_operators_overlay(
    policy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = own_fixtures(tmp_path, True)
    overlay = tmp_path / "policy.yaml"
    overlay.write_text("config:\n  approved_builders: []\n")  # no builder is approved: A.8.25
    monkeypatch.setenv("GOVERNANCE_POLICY_DATA", str(overlay))
    result = policy("test", "--fixtures", str(root), "--json")
    assert result.code == EXIT_FAILED_CHECK
    assert result.json()["bundle_digest"] == load_bundle(overlay=overlay).digest


def test_test_refuses_a_directory_without_fixtures(policy: Any, tmp_path: Path) -> None:
    assert policy("test", "--fixtures", str(tmp_path / "absent")).code == EXIT_ERROR
    result = policy("test", "--fixtures", str(tmp_path))
    assert result.code == EXIT_ERROR
    assert "no fixtures" in result.err


def test_show_names_the_bundle_in_force(
    policy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = tmp_path / "policy.yaml"
    overlay.write_text("config:\n  enforcement:\n    iso-a8.8: warn\n")
    monkeypatch.setenv("GOVERNANCE_POLICY_DATA", str(overlay))
    result = policy("show", "--json")
    assert result.code == EXIT_OK
    shown = result.json()
    assert shown["digest"] == load_bundle(overlay=overlay).digest
    assert {c["id"]: c["enforcement"] for c in shown["controls"]}["iso-a8.8"] == "warn"
    assert len(shown["controls"]) == 38
    text = policy("show")
    assert "iso-a8.8" in text.out
    assert f"GOVERNANCE_POLICY_DATA {overlay}" in text.out


def test_schema_prints_the_published_schema(policy: Any) -> None:
    result = policy("schema")
    assert result.code == EXIT_OK
    assert result.json() == published_schema()
