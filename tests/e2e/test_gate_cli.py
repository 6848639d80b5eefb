"""The CI examples in ``docs/ci/`` run as written against a live server, on SQLite and PostgreSQL.

Each file's ``governance gate`` command is taken from its YAML, the CI's variables filled in as the
runner would (GitHub ``${{ … }}`` expressions through the job's ``env``, the dispatch inputs at
their defaults where this test gives none; GitLab ``variables`` and the project's CI/CD
variables), and run with bash as a process that imports this checkout. First a training run,
sent with the stock OpenLineage client, writes the model's lineage node (the command's
``--namespace`` and ``--name``), so the gate decides on real lineage. Exit codes: a deny is 1 and
names each failed control with its article; a dry run is 0; an unreachable service, a refused key,
an unknown lineage node and a crashed policy engine are 2, and the server goes on deciding.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.dataset_type_dataset import DatasetTypeDatasetFacet
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from tests._processes import crash_regopy_workers
from tests.conftest import postgres_schema
from tests.e2e._server import ROOT, Server, checkout_pythonpath, free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DOCS = ROOT / "docs" / "ci"
GITHUB = DOCS / "github-actions.yml"
GITLAB = DOCS / "gitlab-ci.yml"
PRODUCER = "https://github.com/governance-audit/tests/e2e/test_gate_cli.py"

# What the CI would supply: who started the pipeline, the release, the artifact, the change.
INITIATOR = "octocat"
VERSION = "3.0.0"
DIGEST = "sha256:" + "5e" * 32
CHANGE_REF = "CHG-1234"
#: The job whose run trained the model (its OpenLineage events are this test's).
TRAINING_JOB = ("ml-training", "train_churn")
#: Options every example passes, and the variables behind them.
REQUIRED_OPTIONS = (
    "--url",
    "--model",
    "--version",
    "--digest",
    "--namespace",
    "--name",
    "--target",
    "--strategy",
    "--mode",
    "--change-ref",
    "--initiator",
)


# --------------------------------------------------------------------------- the CI files


@dataclass(frozen=True)
class GateStep:
    """A CI file's gate command (one logical line) and the environment its runner gives it."""

    command: str
    variables: dict[str, str]


def gate_line(script: str) -> str:
    """The one ``governance gate`` command of a script, its continuation lines joined."""
    lines = script.replace("\\\n", " ").splitlines()
    found = [line.strip() for line in lines if line.strip().startswith("governance gate ")]
    assert len(found) == 1, f"expected one `governance gate` command in:\n{script}"
    return found[0]


def substitute(value: Any, pattern: str, known: Mapping[str, str], where: str) -> str:
    """``value`` with each ``pattern`` match (group 1: a name) replaced from ``known``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            pytest.fail(f"{where}: {match.group(0)} is not something this test provides")
        return known[name]

    return re.sub(pattern, replace, str(value))


def github_gate(workflow: dict[Any, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The workflow's one job and step that run ``governance gate``: (job name, job, step)."""
    ((name, job, step),) = [
        (name, job, step)
        for name, job in workflow["jobs"].items()
        for step in job["steps"]
        if "governance gate" in step.get("run", "")
    ]
    return name, job, step


def gitlab_gate(pipeline: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The pipeline's one job whose script runs ``governance gate``: (job name, job)."""
    ((name, job),) = [
        (name, job)
        for name, job in pipeline.items()
        if isinstance(job, dict)
        and any("governance gate" in line for line in job.get("script", []))
    ]
    return name, job


def github_step(url: str, key: str) -> GateStep:
    """The gate step of the GitHub workflow, dispatched with this test's inputs (the others at
    their defaults), with the service's URL and key as repository variable and secret."""
    workflow = yaml.safe_load(GITHUB.read_text())
    # YAML 1.1 reads the key `on` as true.
    declared = workflow[True]["workflow_dispatch"]["inputs"]
    given = {"model-version": VERSION, "model-digest": DIGEST, "change-ref": CHANGE_REF}
    context = {
        "vars.GOVERNANCE_URL": url,
        "secrets.GOVERNANCE_GATE_KEY": key,
        "vars.GOVERNANCE_PACKAGE": "governance-audit",
        "github.actor": INITIATOR,
    }
    for name, spec in declared.items():
        value = given.get(name, spec.get("default"))
        assert value is not None, f"input {name} has no default and this test gives none"
        context[f"inputs.{name}"] = value
    _, job, step = github_gate(workflow)
    env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
    variables = {
        name: substitute(value, r"\$\{\{\s*(.+?)\s*\}\}", context, f"{GITHUB.name} env {name}")
        for name, value in env.items()
    }
    return GateStep(gate_line(step["run"]), variables)


def gitlab_step(url: str, key: str) -> GateStep:
    """The gate job of the GitLab pipeline, with the service's URL and key as project variables
    and the pipeline's variables (which outrank the file's)."""
    pipeline = yaml.safe_load(GITLAB.read_text())
    _, job = gitlab_gate(pipeline)
    # Project CI/CD variables, predefined ones, the train job's dotenv and the pipeline's.
    provided = {
        "GOVERNANCE_URL": url,
        "GOVERNANCE_API_KEY": key,
        "GOVERNANCE_PACKAGE": "governance-audit",
        "GITLAB_USER_LOGIN": INITIATOR,
        "CI_COMMIT_TAG": VERSION,
        "MODEL_DIGEST": DIGEST,
        "CHANGE_REF": CHANGE_REF,
    }
    declared: dict[str, str] = {}
    for name, value in {**pipeline.get("variables", {}), **job.get("variables", {})}.items():
        value = value["value"] if isinstance(value, dict) else value
        declared[name] = substitute(
            value, r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", provided, f"{GITLAB.name} {name}"
        )
    (script,) = [line for line in job["script"] if "governance gate" in line]
    return GateStep(gate_line(script), {**declared, **provided})


STEPS: dict[str, Callable[[str, str], GateStep]] = {"github": github_step, "gitlab": gitlab_step}


def shell_env(tmp: Path, step: GateStep) -> dict[str, str]:
    """The runner's environment: ``governance`` on the PATH, importing this checkout."""
    bin_dir = tmp / "bin"
    shim = bin_dir / "governance"
    if not shim.exists():
        bin_dir.mkdir(parents=True, exist_ok=True)
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m governance.cli.main "$@"\n')
        shim.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    return {
        **base,
        **step.variables,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": checkout_pythonpath(),
        "NO_COLOR": "1",
    }


def run_step(tmp: Path, step: GateStep, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the step's command (with ``extra`` options appended) in bash, as CI would."""
    command = " ".join([step.command, *extra])
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env=shell_env(tmp, step),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def arguments(tmp: Path, step: GateStep) -> dict[str, str]:
    """The options the command passes, as bash expands them (``governance`` is a function
    that prints its arguments, so nothing is asked)."""
    shown = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            f"governance() {{ printf '%s\\0' \"$@\"; }}; {step.command}",
        ],
        env=shell_env(tmp, step),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split("\0")[:-1]
    assert shown[0] == "gate", shown
    options = shown[1:]
    assert len(options) % 2 == 0, options
    return dict(zip(options[::2], options[1::2], strict=True))


@pytest.mark.parametrize("ci", STEPS)
def test_the_examples_pass_every_option_from_ci_variables(ci: str, tmp_path: Path) -> None:
    step = STEPS[ci]("https://governance.example.com", "gov_example_key")
    passed = arguments(tmp_path, step)
    assert set(REQUIRED_OPTIONS) <= set(passed), passed
    assert passed["--url"] == "https://governance.example.com"
    # The key reaches the CLI in its environment variable, never on the command line.
    assert "--api-key" not in passed
    assert step.variables["GOVERNANCE_API_KEY"] == "gov_example_key"
    assert (passed["--version"], passed["--digest"]) == (VERSION, DIGEST)
    assert (passed["--initiator"], passed["--change-ref"]) == (INITIATOR, CHANGE_REF)
    assert passed["--target"] == "production"
    assert passed["--mode"] == "enforce"
    assert passed["--strategy"] in ("direct", "canary", "blue_green")
    assert VERSION in passed["--name"]  # the lineage node of this release


def needed(job: dict[str, Any]) -> list[str]:
    """The jobs ``job`` waits for (``needs`` in either CI's forms)."""
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    return [need["job"] if isinstance(need, dict) else need for need in needs]


def test_a_non_zero_exit_fails_the_github_workflow_before_deploying() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    name, job, _ = github_gate(workflow)
    runs = [step.get("run", "") for step in job["steps"]]
    install = next(i for i, run in enumerate(runs) if "pip install" in run)
    assert install < next(i for i, run in enumerate(runs) if "governance gate" in run)
    # bash -e: a failing command fails the step; nothing lets the step or job fail quietly.
    assert job.get("defaults", {}).get("run", {}).get("shell", "bash") == "bash"
    assert not job.get("continue-on-error")
    assert not any(step.get("continue-on-error") for step in job["steps"])
    assert not any("|| true" in run or "set +e" in run for run in runs)
    assert any(name in needed(other) for other in workflow["jobs"].values())


def test_a_non_zero_exit_fails_the_gitlab_pipeline_before_deploying() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    name, job = gitlab_gate(pipeline)
    script = job["script"]
    install = next(i for i, line in enumerate(script) if "pip install" in line)
    assert install < next(i for i, line in enumerate(script) if "governance gate" in line)
    assert job.get("allow_failure", False) is False
    assert not any("|| true" in line or "set +e" in line for line in script)
    assert any(name in needed(other) for other in pipeline.values() if isinstance(other, dict))


# --------------------------------------------------------------------------- the live gate


@dataclass
class Gate:
    """A live server with a gate key and the model's lineage in its graph."""

    server: Server
    key: str
    tmp: Path

    def step(self, ci: str) -> GateStep:
        return STEPS[ci](self.server.url, self.key)

    def run(self, ci: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_step(self.tmp, self.step(ci), *extra)


def send_training_run(server: Server, namespace: str, name: str) -> None:
    """A training run, sent with the stock OpenLineage client's transport: it reads a table and
    writes the model."""
    transport = HttpTransport(
        HttpConfig(
            url=server.url,
            endpoint="api/v1/lineage",
            timeout=60,
            auth=ApiKeyTokenProvider({"apiKey": server.key("ingest")}),
        )
    )
    run_id = str(uuid.uuid4())
    model_type = DatasetTypeDatasetFacet(datasetType="MODEL", producer=PRODUCER)
    for state in (RunState.START, RunState.COMPLETE):
        sent = transport.emit(
            RunEvent(
                eventType=state,
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId=run_id),
                job=Job(namespace=TRAINING_JOB[0], name=TRAINING_JOB[1]),
                inputs=[InputDataset(namespace="postgres://warehouse:5432", name="crm.customers")],
                outputs=[
                    OutputDataset(
                        namespace=namespace, name=name, facets={"datasetType": model_type}
                    )
                ],
                producer=PRODUCER,
            )
        )
        assert sent.status_code == 201, sent.text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gate]:
    """One server per database for the module, with the lineage of both examples' models."""
    tmp = tmp_path_factory.mktemp(f"gate-{request.param}")
    with ExitStack() as stack:
        settings = {}
        if request.param == "postgresql":
            settings["database_url"] = stack.enter_context(postgres_schema())
        server = stack.enter_context(running_server(tmp / "server", **settings))
        live = Gate(server, server.create_key("gate", "ci")[1], tmp)
        nodes = {
            (passed["--namespace"], passed["--name"])
            for passed in (arguments(tmp, live.step(ci)) for ci in STEPS)
        }
        for namespace, name in sorted(nodes):
            send_training_run(server, namespace, name)
        yield live


def violation_lines(out: str) -> set[tuple[str, str]]:
    """(control, article) of each ``  violation: CONTROL ARTICLE — message`` line."""
    return set(re.findall(r"^  violation: (\S+) (.+?) — ", out, re.MULTILINE))


def decision_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


@pytest.mark.parametrize("ci", STEPS)
def test_a_deny_fails_the_pipeline_naming_each_failed_control(gate: Gate, ci: str) -> None:
    denied = gate.run(ci)
    assert denied.returncode == 1, (denied.stdout, denied.stderr)
    assert denied.stdout.startswith("DENY — decision ")

    as_json = gate.run(ci, "--json")
    assert as_json.returncode == 1, (as_json.stdout, as_json.stderr)
    decision = decision_of(as_json)
    assert (decision["outcome"], decision["allow"], decision["mode"]) == ("deny", False, "enforce")
    assert decision["decision_id"]
    assert decision["violations"]
    # The summary names every failed control with its article (same evidence, same controls).
    expected = {(v["control"], v["article"]) for v in decision["violations"]}
    assert all(article for _, article in expected)
    assert violation_lines(denied.stdout) == expected
    # The lineage node named by the command was found: results cite the job that trained it.
    training = "job:{}:{}".format(*TRAINING_JOB)
    assert any(training in result["subjects"] for result in decision["results"])
    # What CI said is what the gate recorded: the initiator may not approve, the digest.
    assert INITIATOR in decision["conflicted"]
    assert decision["requested_by"] == "ci"
    assert decision["model"] == {"name": "churn", "version": VERSION, "digest": DIGEST}
    # The receipt in the output verifies offline, as docs/ci/README.md says.
    saved = gate.tmp / f"decision-{ci}.json"
    saved.write_text(as_json.stdout)
    public_key = gate.server.cli("ledger", "public-key").strip()
    verified = gate.server.cli("ledger", "verify-receipt", str(saved), "--public-key", public_key)
    assert verified.rstrip().endswith("verified")
    recorded = httpx.get(
        f"{gate.server.url}/api/v1/gate/decisions/{decision['decision_id']}",
        headers={"Authorization": f"Bearer {gate.server.key('auditor')}"},
        timeout=30,
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["outcome"] == "deny"


@pytest.mark.parametrize("ci", STEPS)
def test_a_dry_run_passes_and_says_what_would_have_happened(gate: Gate, ci: str) -> None:
    result = gate.run(ci, "--mode", "dry_run")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith("ALLOW (dry_run; policies: deny) — decision ")
    assert violation_lines(result.stdout)


@pytest.mark.parametrize("ci", STEPS)
def test_an_unreachable_gate_fails_closed(gate: Gate, ci: str) -> None:
    result = run_step(gate.tmp, STEPS[ci](f"http://127.0.0.1:{free_port()}", gate.key))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "could not reach the gate" in result.stderr


@pytest.mark.parametrize("ci", STEPS)
def test_a_refused_key_fails_closed(gate: Gate, ci: str) -> None:
    wrong = run_step(gate.tmp, STEPS[ci](gate.server.url, "gov_nosuchkey_" + "0" * 43))
    assert wrong.returncode == 2, (wrong.stdout, wrong.stderr)
    assert "(401)" in wrong.stderr
    assert "hint: check the API key" in wrong.stderr
    auditor = run_step(gate.tmp, STEPS[ci](gate.server.url, gate.server.key("auditor")))
    assert auditor.returncode == 2, (auditor.stdout, auditor.stderr)
    assert "(403)" in auditor.stderr


@pytest.mark.parametrize("ci", STEPS)
def test_an_unknown_lineage_node_fails_closed(gate: Gate, ci: str) -> None:
    result = gate.run(ci, "--name", "churn/never-trained")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "(404)" in result.stderr
    assert "churn/never-trained" in result.stderr


def test_a_crashed_engine_is_an_error_and_the_server_goes_on(gate: Gate) -> None:
    assert gate.run("github").returncode == 1  # a first decision starts the embedded engine

    crash_regopy_workers(gate.server.process.pid)
    crashed = gate.run("github")
    assert crashed.returncode == 2, (crashed.stdout, crashed.stderr)
    assert crashed.stdout.startswith("DENY (the policies could not decide: ")
    assert "worker restarted" in crashed.stdout
    assert httpx.get(f"{gate.server.url}/healthz", timeout=10).status_code == 200
    after = gate.run("github", "--json")
    assert after.returncode == 1, (after.stdout, after.stderr)
    assert decision_of(after)["outcome"] == "deny"

    crash_regopy_workers(gate.server.process.pid)  # the one that took the dead one's place
    crashed = gate.run("github", "--json")
    assert crashed.returncode == 2, (crashed.stdout, crashed.stderr)
    decision = decision_of(crashed)
    assert (decision["outcome"], decision["allow"]) == ("error", False)
    assert "worker restarted" in decision["error"]
    assert (decision["results"], decision["violations"]) == ([], [])
    assert gate.run("github").returncode == 1
