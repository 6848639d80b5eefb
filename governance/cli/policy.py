"""``governance policy``: the compliance policy bundle — its fixtures, a decision, what is in force.

Exit codes: ``test`` 0 when every fixture decides as expected, 1 otherwise; ``eval`` 0 allow,
1 deny, 2 error (engine failure, timeout, or an input that does not fit the schema).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from governance.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED_CHECK,
    EXIT_OK,
    command_group,
    echo_json,
    progress,
    settings_from_env,
)
from governance.errors import InputError

if TYPE_CHECKING:
    from governance.policy.service import PolicyService

app = command_group("Compliance policies (Rego): fixtures, decisions, the bundle in force.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine", help="embedded or opa (default: GOVERNANCE_POLICY_ENGINE, else embedded)"
    ),
]


def _service(engine: str | None) -> PolicyService:
    from governance.runtime import build_policy_service

    return build_policy_service(settings_from_env(), engine)


@app.command("test")
def run_fixtures(
    fixtures_dir: Annotated[
        Path | None,
        typer.Option(
            "--fixtures",
            help="A directory of your own fixtures (bases in its bases/), decided with the "
            "bundle in force, GOVERNANCE_POLICY_DATA included (default: the bundle's own)",
        ),
    ] = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide every fixture and compare each decision with what the fixture expects.

    The bundle's own fixtures (policies/tests) describe the shipped bundle, so they run on it
    without GOVERNANCE_POLICY_DATA (a fixture may carry its own overlay). Exit 0 when every
    fixture passes, 1 naming each that does not.
    """
    from governance.policy.bundle import load_bundle, shipped_bundle
    from governance.policy.fixtures import fixtures, run
    from governance.runtime import build_policy_engine

    settings = settings_from_env()
    if fixtures_dir is None:
        bundle = shipped_bundle()
    else:
        if not fixtures_dir.is_dir():
            raise InputError(f"{fixtures_dir} is not a directory of fixtures")
        bundle = load_bundle(overlay=settings.policy_data)
    cases = list(fixtures(fixtures_dir))
    if not cases:
        raise InputError(f"no fixtures (*.json outside bases/) in {fixtures_dir}")
    policy_engine = build_policy_engine(settings, engine)
    try:
        with progress("fixtures", len(cases)) as advance:
            outcomes = run(
                policy_engine,
                bundle,
                cases,
                settings.policy_timeout_seconds,
                progress=lambda: advance(1),
            )
        engine_info = policy_engine.info
    finally:
        policy_engine.close()
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        echo_json(
            {
                "engine": engine_info.to_json(),
                "bundle_digest": bundle.digest,
                "fixtures": len(outcomes),
                "failed": [{"fixture": o.fixture.name, "problems": o.problems} for o in failed],
            }
        )
    else:
        for outcome in failed:
            typer.echo(f"FAIL {outcome.fixture.name}")
            for problem in outcome.problems:
                typer.echo(f"     {problem}")
        typer.echo(
            f"{len(outcomes) - len(failed)} of {len(outcomes)} fixtures pass on "
            f"{engine_info.name} ({engine_info.version})"
        )
    raise typer.Exit(EXIT_FAILED_CHECK if failed else EXIT_OK)


@app.command("eval")
def evaluate(
    input_file: Annotated[Path, typer.Option("--input", help="A policy input document (JSON)")],
    engine: EngineOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide one input document and print the decision: exit 0 allow, 1 deny, 2 error."""
    try:
        document = json.loads(input_file.read_text())
    except OSError as exc:
        raise InputError(f"cannot read {input_file}: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"{input_file} is not JSON: {exc}") from None
    service = _service(engine)
    try:
        decision = service.decide(document)
    finally:
        service.close()
    if as_json:
        echo_json(decision.to_json())
    else:
        typer.echo(
            f"{decision.outcome.upper()}: {len(decision.violations)} violations, "
            f"{len(decision.warnings)} warnings, {len(decision.waived)} waived "
            f"(evaluated {', '.join(decision.evaluated) or 'nothing'}; "
            f"{decision.engine.name}, bundle {decision.bundle_digest})"
        )
        if decision.error:
            typer.echo(f"error: {decision.error}")
        for label, rows in (("violation", decision.violations), ("warning", decision.warnings)):
            for r in rows:
                typer.echo(f"  {label} {r['control']} ({r['article']}): {r['message']}")
    codes = {"allow": EXIT_OK, "deny": EXIT_FAILED_CHECK, "error": EXIT_ERROR}
    raise typer.Exit(codes[decision.outcome])


@app.command()
def show(as_json: JsonOption = False) -> None:
    """The bundle in force: digest, controls (with their enforcement), configuration."""
    from governance.policy.bundle import load_bundle

    bundle = load_bundle(overlay=settings_from_env().policy_data)
    if as_json:
        echo_json(bundle.to_json())
        return
    typer.echo(f"bundle {bundle.digest} (revision {bundle.revision})")
    typer.echo(f"catalog {bundle.catalog_version}; overlay: {bundle.overlay or 'none'}")
    for control in bundle.controls():
        typer.echo(
            f"  {control.id:<16} {control.enforcement:<5} {control.article:<26} {control.title}"
        )
    typer.echo("configuration:")
    typer.echo(json.dumps(bundle.config, indent=2))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the policy input document."""
    from governance.policy.input import json_schema

    echo_json(json_schema())
