"""``governance ledger``: checkpoints, audit, export, offline verification and erasure.

Roots are shown in hex, as the API and the export bundle give them, and in base64, as signed
checkpoints carry them, so either can be compared by eye.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from governance.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_OK,
    command_group,
    echo_json,
    open_runtime,
    progress,
)
from governance.errors import CheckpointError, InputError
from governance.ledger.receipts import root_base64, root_text

if TYPE_CHECKING:
    from governance.ledger.audit import AuditReport

app = command_group("The verifiable ledger.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def with_root_base64(data: dict[str, Any], root: bytes) -> dict[str, Any]:
    """``data`` (a JSON answer with a hex ``root``) with ``root_base64`` right after ``root``."""
    answer: dict[str, Any] = {}
    for key, value in data.items():
        answer[key] = value
        if key == "root":
            answer["root_base64"] = root_base64(root)
    return answer


def _print_report(report: AuditReport, as_json: bool, label: str) -> int:
    if as_json:
        echo_json(with_root_base64(report.to_json(), report.root))
    else:
        rate = report.entries / report.seconds if report.seconds else 0.0
        typer.echo(
            f"{label}: {report.entries} entries, {report.checkpoints} checkpoints, "
            f"{root_text(report.root)}, in {report.seconds:.2f}s ({rate:,.0f} entries/s)"
        )
        if report.erased:
            shown = ", ".join(str(i) for i in report.erased[:20])
            more = "…" if len(report.erased) > 20 else ""
            typer.echo(f"erased (payload deleted on record, not tampering): {shown}{more}")
        first = report.first
        if first is None:
            typer.echo("OK: no damage found")
        else:
            typer.echo(f"FAILED: first problem at {first.describe()}")
            if len(report.findings) > 1:
                typer.echo(f"({len(report.findings) - 1} further problems, often consequences)")
    return EXIT_OK if report.ok else EXIT_FAILED_CHECK


@app.command()
def checkpoint(
    size: Annotated[int | None, typer.Option(help="Tree size (default: newest)")] = None,
) -> None:
    """Print a signed checkpoint note (C2SP tlog-checkpoint)."""
    with open_runtime() as rt:
        typer.echo(rt.ledger.checkpoint(size), nl=False)


@app.command("public-key")
def public_key() -> None:
    """Print the checkpoint verifier key (give it to auditors out of band)."""
    with open_runtime() as rt:
        typer.echo(rt.ledger.verifier_key)


@app.command()
def audit(
    as_json: JsonOption = False,
) -> None:
    """Re-hash every payload, envelope and node, and check every checkpoint and the head.

    Exit 0 when clean, 1 naming the first bad index and the kind of damage. Erased payloads
    (with an erasure entry on record) are listed separately and are not damage.
    """
    from governance.ledger.audit import audit_database
    from governance.ledger.checkpoint import NoteVerifier

    with open_runtime() as rt:
        size, _root = rt.ledger.head()
        with progress("auditing", size) as advance:
            report = audit_database(
                rt.engine, NoteVerifier.from_verifier_key(rt.ledger.verifier_key), progress=advance
            )
    raise typer.Exit(_print_report(report, as_json, "audit"))


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="New directory to write the bundle to")],
    no_payloads: Annotated[
        bool, typer.Option("--no-payloads", help="Leave payload bytes out (envelopes only)")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the bundle's manifest as JSON")
    ] = False,
) -> None:
    """Write entries, checkpoints, the public key and payloads to a bundle for offline checks."""
    from governance.ledger.bundle import export_bundle

    with open_runtime() as rt:
        size, _root = rt.ledger.head()
        with progress("exporting", size) as advance:
            manifest = export_bundle(
                rt.engine, rt.ledger.verifier_key, out, payloads=not no_payloads, progress=advance
            )
    root = bytes.fromhex(manifest["root"])
    if as_json:
        echo_json({"bundle": str(out), **with_root_base64(manifest, root)})
        return
    typer.echo(f"exported {manifest['size']} entries to {out}, {root_text(root)}")


@app.command()
def verify(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle directory from `export`")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Verifier key obtained out of band (name+id+key)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify an export bundle offline (no database, no server). Exit 0 clean, 1 damaged."""
    from governance.ledger.bundle import verify_bundle

    with progress("verifying", None) as advance:
        report, self_trusted = verify_bundle(bundle, public_key, progress=advance)
    if self_trusted and not as_json:
        typer.echo(
            "warning: no --public-key given; trusting the key inside the bundle, which proves "
            "only that the bundle is internally consistent",
            err=True,
        )
    raise typer.Exit(_print_report(report, as_json, "verify"))


ProjectionName = Annotated[
    str | None,
    typer.Option("--projection", help="Only this projection (default: every projection)"),
]


@app.command()
def reindex(
    projection: ProjectionName = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild projections from the ledger (entry 0 onwards); the result equals the live one.

    Projections: lineage (OpenLineage events and classifications), attestation-verdicts and gate
    (decisions, approvals and waivers).
    Exit 0 when every entry was projected, 1 when some could not be (they are listed; they
    stay in the ledger).
    """
    with open_runtime() as rt:
        names = [projection] if projection is not None else list(rt.projections.names)
        size, _root = rt.ledger.head()
        for name in names:
            with progress(f"rebuilding {name}", size) as advance:
                rt.projections.rebuild(name, progress=advance)
        failures = [f for s in rt.projections.status() if s.name in names for f in s.failures]
    if as_json:
        echo_json(
            {
                "ledger_size": size,
                "rebuilt": names,
                "failures": [f.to_json() for f in failures],
            }
        )
    else:
        for name in names:
            typer.echo(f"{name} projection rebuilt from {size} ledger entries")
        for failure in failures[:20]:
            typer.echo(
                f"entry {failure.index} not projected into {failure.projection}: {failure.error}"
            )
        if len(failures) > 20:
            typer.echo(f"… and {len(failures) - 20} more (`governance ledger status` lists all)")
    raise typer.Exit(EXIT_FAILED_CHECK if failures else EXIT_OK)


@app.command()
def status(
    as_json: JsonOption = False,
) -> None:
    """The ledger's size and each projection's progress, with entries it could not apply.

    Exit 0 when every projection is up to date and none recorded a failure, 1 otherwise.
    """
    with open_runtime() as rt:
        size, root = rt.ledger.head()
        projections = rt.projections.status()
    ok = all(p.behind == 0 and not p.failures for p in projections)
    if as_json:
        data = {
            "ledger_size": size,
            "root": root.hex(),
            "root_base64": root_base64(root),
            "projections": [p.to_json() for p in projections],
        }
        echo_json(data)
    else:
        typer.echo(f"ledger: {size} entries, {root_text(root)}")
        for p in projections:
            state = "up to date" if p.behind == 0 else f"{p.behind} entries behind"
            typer.echo(f"{p.name} projection: {state} (next index {p.next_index})")
            for failure in p.failures:
                typer.echo(f"  entry {failure.index} not projected: {failure.error}")
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED_CHECK)


@app.command()
def erase(
    index: Annotated[int, typer.Option("--index", help="Entry whose payload to erase")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the ledger)")],
    as_json: JsonOption = False,
) -> None:
    """Delete an entry's payload and append an erasure entry (e.g. GDPR Art. 17).

    The envelope, chain and tree stay intact; audit and verify then report the entry as erased.
    Every projection forgets what the payload said: an attestation's recorded verdict loses its
    signer identity and failure detail, and the lineage projection is rebuilt without an erased
    OpenLineage event or classification (as `reindex` would).
    """
    with open_runtime(start=True) as rt:
        erasure = rt.erasure.erase(index, reason)
        size, _root = rt.ledger.head()
        with progress("rebuilding without it", size) as advance:
            rt.erasure.finish(erasure, progress=advance)
    if as_json:
        echo_json(erasure.to_json())
        return
    typer.echo(
        f"erased payload of entry {index}; erasure recorded as entry {erasure.receipt.index}"
    )
    for name in erasure.rebuilding:
        typer.echo(f"{name} projection rebuilt from {size} ledger entries without it")


@app.command("verify-receipt")
def verify_receipt(
    receipt_file: Annotated[
        Path,
        typer.Argument(
            metavar="RECEIPT.json",
            help="A receipt, or an API answer holding one as \"receipt\" ('-': standard input)",
        ),
    ],
    public_key: Annotated[
        str,
        typer.Option(
            "--public-key", help="Verifier key obtained out of band (name+id+key, as `public-key`)"
        ),
    ],
    envelope_file: Annotated[
        Path | None,
        typer.Option(
            "--envelope",
            help="The entry's exact envelope bytes (GET /api/v1/ledger/entries/{i}, "
            "envelope base64-decoded): check it is the leaf and names the same entry",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify one receipt offline: no database, no server.

    Checks, in order: the checkpoint's signature with the given key, that the checkpoint is
    for the receipt's tree size, the inclusion proof of the leaf hash at its index against
    the checkpoint's root, and, with --envelope, that SHA-256(0x00 ‖ envelope) is the leaf
    hash and that the envelope names the receipt's index, kind and payload SHA-256.

    Exit 0 verified, 1 not (naming the first step that failed), 2 unreadable input.
    """
    from governance.ledger import receipts
    from governance.ledger.checkpoint import NoteVerifier

    try:
        verifier = NoteVerifier.from_verifier_key(public_key)
    except CheckpointError as exc:
        raise InputError(
            f"the public key is malformed: {exc.message}",
            hint="give it as `governance ledger public-key` prints it: name+keyid+base64",
        ) from None
    receipt = receipts.parse_receipt(_read_input(receipt_file, "receipt"))
    envelope = None if envelope_file is None else _read_input(envelope_file, "envelope")
    outcome = receipts.verify(receipt, verifier, envelope)
    steps, checkpoint, failed = outcome.steps, outcome.checkpoint, outcome.failed_step
    verified = failed is None
    if as_json:
        answer: dict[str, Any] = {
            "verified": verified,
            "failed_step": failed,
            "index": receipt.index,
            "kind": receipt.kind,
            "leaf_hash": receipt.leaf_hash.hex(),
            "tree_size": receipt.tree_size,
        }
        if checkpoint is not None:
            answer = with_root_base64({**answer, "root": checkpoint.root.hex()}, checkpoint.root)
        echo_json({**answer, "steps": [s.to_json() for s in steps]})
    else:
        typer.echo(
            f"receipt: entry {receipt.index} ({receipt.kind}), leaf {receipt.leaf_hash.hex()}, "
            f"tree of {receipt.tree_size} entries"
        )
        for step in steps:
            if step.status != "not run":
                typer.echo(f"{step.status.upper()}: {step.name}: {step.detail}")
        typer.echo("verified" if verified else "NOT verified")
    raise typer.Exit(EXIT_OK if verified else EXIT_FAILED_CHECK)


def _read_input(path: Path, what: str) -> bytes:
    """The bytes of ``path`` (``-``: standard input); unreadable is an input error (exit 2)."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what} {path}: {exc.strerror}") from None
