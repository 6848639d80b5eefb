"""``governance report``: issue an audit report as of a signed checkpoint; verify a bundle offline.

``governance report --framework F --from DATE --to DATE [--checkpoint N] --out DIR`` builds the
report from the ledger (the newest checkpoint unless ``--checkpoint`` names one), writes its bundle
to ``DIR`` and records it in the ledger. ``governance report verify DIR`` checks a bundle with no
database and no server.

Exit codes: 0 issued / verified; 1 (``verify``) the bundle has a problem, named with its file;
2 an error (bad options, no such checkpoint, an output directory that is not empty, a directory
that is not a bundle, a malformed key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from governance.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_OK,
    command_group,
    echo_json,
    open_runtime,
    stage_progress,
)
from governance.errors import InputError

_HELP = """Audit reports: issue one as of a signed checkpoint, or verify a bundle offline.

`governance report --framework F --from DATE --to DATE [--checkpoint N] --out DIR` builds the
report from the ledger as of one signed checkpoint (the newest unless --checkpoint names one),
counting the decisions whose evaluated_at falls in [--from, --to); writes its bundle to DIR
(report.pdf, report-data.json, the CSVs, assessment-results.json (OSCAL), checkpoint.txt,
proofs.json, manifest.json, SHA256SUMS and its signature); and records it with a `report` entry
(issuing the same bundle again returns that entry). Exit 0 issued, 2 an error.

`governance report verify DIR [--public-key KEY]` checks a bundle offline.
"""

app = command_group(_HELP)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


@app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    framework: Annotated[
        str | None,
        typer.Option("--framework", help="gdpr, uae_pdpl, iso27001 or all", show_default=False),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Period start, inclusive: YYYY-MM-DD (midnight UTC) or RFC 3339"
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Period end, exclusive: YYYY-MM-DD or RFC 3339")
    ] = None,
    checkpoint: Annotated[
        int | None,
        typer.Option("--checkpoint", help="Tree size of the checkpoint (default: the newest)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="New (or empty) directory for the bundle")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a report (see ``governance report --help``)."""
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in (framework, start, end, checkpoint, out)) or as_json:
            raise InputError(f"give the options after `{ctx.invoked_subcommand}`")
        return
    if framework is None or start is None or end is None or out is None:
        given = {"--framework": framework, "--from": start, "--to": end, "--out": out}
        missing = ", ".join(flag for flag, value in given.items() if value is None)
        raise InputError(f"missing {missing}", hint="see `governance report --help`")
    from governance.policy.bundle import load_bundle
    from reports.data import ReportOptions
    from reports.service import ReportService

    options = ReportOptions.of(framework, start, end, checkpoint)
    with open_runtime(start=True) as rt:
        service = ReportService(
            rt.engine,
            rt.ledger,
            rt.signer,
            lambda: load_bundle(overlay=rt.settings.policy_data),
        )
        with stage_progress() as progress:
            issued = service.issue(options, out, progress=progress)
    if as_json:
        echo_json(issued.to_json())
        return
    fields = issued.report
    typer.echo(
        f"report {fields.report_id} ({fields.framework}, {fields.period_start} to "
        f"{fields.period_end}), as of the checkpoint of {fields.checkpoint_size} entries"
    )
    typer.echo(
        f"{issued.decisions} decisions, {issued.cited} cited entries; "
        f"{len(issued.files) + 3} files written to {out}"
    )
    typer.echo(f"data sha256 {fields.data_sha256}, manifest sha256 {fields.manifest_sha256}")
    again = "already issued as" if issued.receipt.duplicate else "issued:"
    typer.echo(f"{again} ledger entry {issued.receipt.index}")
    typer.echo(
        f'verify offline: governance report verify {out} --public-key "$(governance ledger '
        'public-key)"'
    )


@app.command()
def verify(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A report bundle directory")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Verifier key obtained out of band (name+id+key)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a report bundle offline (no database, no server).

    Checks, in order: SHA256SUMS's signature, every file's SHA-256, the manifest, the
    checkpoint note's signature, report-data.json, an inclusion proof of every cited entry, and
    that the PDF, the CSVs and the OSCAL document regenerate byte for byte from
    report-data.json. Exit 0 verified, 1 naming the first file with a problem, 2 unusable input.
    """
    from reports.bundle import verify_bundle

    with stage_progress() as progress:
        progress("verifying", 0, None)
        result = verify_bundle(directory, public_key)
    if result.self_trusted and not as_json:
        typer.echo(
            "warning: no --public-key given; trusting the key inside the bundle, which proves "
            "only that the bundle is internally consistent",
            err=True,
        )
    if as_json:
        echo_json(result.to_json())
    else:
        for step in result.steps:
            typer.echo(f"{step['status'].upper()}: {step['step']}: {step['detail']}")
        if result.problem is not None:
            typer.echo(f"NOT verified: {result.problem.describe()}")
        elif result.ok:
            typer.echo("verified")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED_CHECK)
