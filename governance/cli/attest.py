"""``governance attest`` and ``governance trust``: attestations offline, and trust in force.

Verification here runs exactly the service's code.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from governance.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_OK,
    command_group,
    settings_from_env,
)
from governance.errors import InputError

attest_app = command_group("Signing attestations: verify offline, or submit to a server.")
trust_app = command_group("The attestation trust configuration.")

Purpose = Annotated[
    str, typer.Option(help="What the signature is for: selects keys, roots and allowed signers")
]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


@attest_app.command()
def verify(
    bundle: Annotated[Path, typer.Option(help="Sigstore bundle, DSSE envelope or model signature")],
    artifact: Annotated[
        Path | None, typer.Option(help="The signed file, or a model directory")
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(help="sha256:<hex> of the signed artifact (of a model: its model digest)"),
    ] = None,
    purpose: Purpose = "default",
    trusted_root: Annotated[
        Path | None, typer.Option(help="A Sigstore trusted_root.json to pin instead")
    ] = None,
    public_key: Annotated[Path | None, typer.Option(help="PEM public key of the signer")] = None,
    certificate_chain: Annotated[
        Path | None, typer.Option(help="PEM chain for model-signing certificate mode")
    ] = None,
    identity: Annotated[str | None, typer.Option(help="Allowed signer identity")] = None,
    identity_regex: Annotated[
        str | None, typer.Option(help="Allowed signer identities: a full-match regex")
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="Allowed signer's OIDC issuer")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Verify locally and offline. Exit 0 verified, 1 not verified (reason code printed), 2 error.

    Trust comes from GOVERNANCE_TRUST_CONFIG (or Sigstore's shipped roots), plus what the options
    name. Give --artifact or --digest so the signature is checked against what you expect; for a
    model signature, --artifact is the model directory (re-hashed) and --digest the model digest
    (the signed statement's subject, as model-signing computes it).
    """
    from governance.attestations.reasons import VerificationFailed
    from governance.attestations.trust import with_overrides
    from governance.attestations.verify import Request
    from governance.runtime import build_verifier, load_trust

    if artifact is None and digest is None:
        raise InputError("give --artifact PATH or --digest sha256:HEX")
    if identity is not None and identity_regex is not None:
        raise InputError("give --identity or --identity-regex, not both")
    if (identity is not None or identity_regex is not None) != (issuer is not None):
        raise InputError("a signer needs both an identity (or --identity-regex) and --issuer")
    trust = with_overrides(
        load_trust(settings_from_env()),
        purpose,
        trusted_root=trusted_root,
        public_key=_read(public_key, "public key").decode() if public_key else None,
        certificate_chain=_read(certificate_chain, "certificate chain").decode()
        if certificate_chain
        else None,
        identity=identity,
        issuer=issuer,
        identity_regex=identity_regex,
    )
    verifier = build_verifier(trust)
    ignore = (bundle.name,) if artifact is not None and bundle.parent == artifact else ()
    request = Request(
        bundle=_read(bundle, "bundle"),
        purpose=purpose,
        expected_digest=digest,
        artifact=artifact,
        ignore_paths=ignore,
    )
    try:
        facts = verifier.verify(request)
    except VerificationFailed as exc:
        if as_json:
            typer.echo(
                json.dumps({"verified": False, "reason": exc.reason.value, "detail": exc.detail})
            )
        else:
            typer.echo(f"NOT VERIFIED: {exc.reason.value}: {exc.detail}")
        raise typer.Exit(EXIT_FAILED_CHECK) from None
    if as_json:
        typer.echo(json.dumps({"verified": True, "facts": facts.to_json()}, indent=2))
    else:
        signer = facts.signer_identity or facts.key_id or "-"
        typer.echo(f"VERIFIED: {facts.format.value} signed by {signer}")
        for subject in facts.subjects:
            typer.echo(f"  subject {subject.name}: {dict(subject.digest)}")
    raise typer.Exit(EXIT_OK)


@attest_app.command()
def submit(
    bundle: Annotated[Path, typer.Option(help="Sigstore bundle, DSSE envelope or model signature")],
    purpose: Purpose,
    digest: Annotated[str | None, typer.Option(help="sha256:<hex> of the artifact")] = None,
    url: Annotated[str, typer.Option(help="Service base URL")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str,
        typer.Option(envvar="GOVERNANCE_API_KEY", help="An ingest key [env GOVERNANCE_API_KEY]"),
    ] = "",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait")] = 60.0,
) -> None:
    """Send a bundle to a server; it verifies and records the verdict. Exit 0 pass, 1 fail.

    The verdict (the server's answer) is printed as JSON; on failure (422) the problem document,
    naming the reason, goes to standard error. Exit 2 when the server could not be reached, did
    not answer within ``--timeout``, or refused the request.
    """
    from governance.http_call import CallFailed, post_json

    if not api_key:
        raise InputError("an API key is required (--api-key or GOVERNANCE_API_KEY)")
    body: dict[str, Any] = {
        "bundle_base64": base64.b64encode(_read(bundle, "bundle")).decode(),
        "purpose": purpose,
        "expected_digest": digest,
    }
    try:
        answer = post_json(
            url,
            "/api/v1/attestations",
            api_key,
            body,
            timeout=timeout,
            awaited="the verdict",
            pending="the verdict may have been recorded anyway (GET /api/v1/attestations)",
            hints={403: "the key needs the role ingest (or admin)"},
        )
    except CallFailed as exc:
        if exc.status == 422:
            typer.echo(exc.body.decode(errors="replace"), err=True)
            raise typer.Exit(EXIT_FAILED_CHECK) from None
        raise
    typer.echo(json.dumps(answer))
    raise typer.Exit(EXIT_OK)


@trust_app.command()
def show() -> None:
    """Print the trust configuration in force (roots by digest, keys, chains, allowed signers)."""
    from governance.runtime import load_trust

    trust = load_trust(settings_from_env())
    typer.echo(json.dumps({"digest": trust.digest(), **trust.to_json()}, indent=2))
