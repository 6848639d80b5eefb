"""``governance gate``: ask a running service whether a model may be promoted (for CI).

Exit codes: 0 the promotion is allowed (``allow`` true: an allow, a dry run or a break-glass
decision), 1 it is denied, 2 the gate could not decide (an engine error; or the gate could not be
reached, did not answer within ``--timeout``, refused the request, or answered something that is
not a decision: the message says which). Nothing but a well-formed allow exits 0.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from governance.cli.common import EXIT_ERROR, EXIT_FAILED_CHECK, EXIT_OK, echo_json, fail


def gate(
    url: Annotated[
        str, typer.Option("--url", envvar="GOVERNANCE_URL", help="The service's base URL")
    ],
    api_key: Annotated[
        str,
        typer.Option(
            "--api-key",
            envvar="GOVERNANCE_API_KEY",
            help="An API key with role gate (prefer the environment variable in CI)",
        ),
    ],
    model: Annotated[str, typer.Option("--model", help="The model's name")],
    version: Annotated[str, typer.Option("--version", help="The model's version")],
    digest: Annotated[str, typer.Option("--digest", help="sha256:<hex> of the model artifact")],
    target: Annotated[str, typer.Option("--target", help="Target environment, e.g. production")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="The model's lineage node: namespace")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The model's lineage node: dataset name")
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="direct, canary or blue_green")
    ] = "direct",
    mode: Annotated[
        str, typer.Option("--mode", help="enforce, dry_run or break_glass (role admin)")
    ] = "enforce",
    change_ref: Annotated[
        str | None, typer.Option("--change-ref", help="The change record, e.g. CHG-1234")
    ] = None,
    initiator: Annotated[
        str | None, typer.Option("--initiator", help="Who triggered the pipeline")
    ] = None,
    framework: Annotated[
        list[str] | None,
        typer.Option("--framework", help="Evaluate only this framework (repeatable)"),
    ] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help="The model's purpose")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required for break_glass)")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON")] = False,
) -> None:
    """Ask the gate for a promotion decision; exit 0 allow, 1 deny, 2 could not decide."""
    from governance.gate.client import GateCallFailed, request_decision

    if (namespace is None) != (name is None):
        raise typer.Exit(fail("give both --namespace and --name (the model's lineage node)"))
    body: dict[str, object] = {
        "model": {
            "name": model,
            "version": version,
            "digest": digest,
            "lineage": None if name is None else {"namespace": namespace, "name": name},
            "purpose": purpose,
        },
        "target": target,
        "strategy": strategy,
        "mode": mode,
        "change_ref": change_ref,
        "initiator": initiator,
        "frameworks": framework or None,
        "reason": reason,
    }
    try:
        decision = request_decision(url, api_key, body, timeout=timeout)
    except GateCallFailed as exc:
        raise typer.Exit(fail(exc.message, hint=exc.hint)) from None
    if as_json:
        echo_json(decision)
    else:
        _print(decision)
    if decision["outcome"] == "error" and not decision["allow"]:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_OK if decision["allow"] else EXIT_FAILED_CHECK)


def _print(decision: dict[str, Any]) -> None:
    verdict = "ALLOW" if decision["allow"] else "DENY"
    outcome = str(decision["outcome"])
    note = "" if decision["mode"] == "enforce" else f" ({decision['mode']}; policies: {outcome})"
    if outcome == "error":
        note = f" (the policies could not decide: {decision.get('error')})"
    typer.echo(f"{verdict}{note} — decision {decision['decision_id']}")
    for heading, key in (
        ("violation", "violations"),
        ("warning", "warnings"),
        ("waived", "waived"),
    ):
        for result in decision.get(key) or []:
            article = result.get("article") or ""
            typer.echo(f"  {heading}: {result['control']} {article} — {result.get('message')}")
    policy = decision["policy"]
    typer.echo(
        f"evaluated {', '.join(decision['evaluated']) or 'nothing'} at "
        f"{decision['evaluated_at']} on {policy['engine']} {policy['engine_version']}, "
        f"bundle {policy['bundle_digest']}"
    )
