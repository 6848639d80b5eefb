"""``governance keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from governance.cli.common import command_group, echo_json, settings_from_env

if TYPE_CHECKING:
    from governance.auth.keys import KeyInfo, KeyStore

app = command_group("API keys (stored hashed; each has one role).")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _store() -> KeyStore:
    from governance.auth.keys import KeyStore
    from governance.db import DatabaseAddress, connect
    from governance.sql import Dialect

    database = DatabaseAddress.from_url(settings_from_env().database_url)
    return KeyStore(lambda: connect(database), Dialect(database.backend))


def _info(info: KeyInfo) -> dict[str, Any]:
    return {
        "id": info.key_id,
        "role": info.role.value,
        "name": info.name,
        "created_at": info.created_at,
        "revoked_at": info.revoked_at,
    }


@app.command()
def create(
    role: Annotated[str, typer.Option(help="ingest, gate, approver, auditor, steward or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")],
    as_json: JsonOption = False,
) -> None:
    """Create a key. The key is printed once, alone on the last line; it is never shown again."""
    info, key = _store().create(role, name)
    if as_json:
        echo_json({**_info(info), "key": key})
        return
    typer.echo(f"created API key {info.key_id} (role {info.role.value}, name {info.name!r})")
    typer.echo("store it now; only its hash is kept:")
    typer.echo(key)


@app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List keys: id, role, name, created, revoked."""
    rows = _store().list()
    if as_json:
        echo_json([_info(k) for k in rows])
        return
    typer.echo(f"{'ID':<14} {'ROLE':<9} {'CREATED':<28} {'REVOKED':<28} NAME")
    for k in rows:
        revoked = k.revoked_at or "-"
        typer.echo(f"{k.key_id:<14} {k.role.value:<9} {k.created_at:<28} {revoked:<28} {k.name}")


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`)")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a key; servers stop accepting it within GOVERNANCE_API_KEY_CACHE_SECONDS."""
    info = _store().revoke(key_id)
    if as_json:
        echo_json(_info(info))
        return
    typer.echo(f"revoked {info.key_id} at {info.revoked_at}")
