"""``governance keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from governance.auth.keys import KeyStore
from governance.cli.common import settings_from_env
from governance.db import create_db_engine

app = typer.Typer(help="API keys (stored hashed; each has one role).", no_args_is_help=True)


def _store() -> KeyStore:
    return KeyStore(create_db_engine(settings_from_env().database_url, pool=False))


@app.command()
def create(
    role: Annotated[str, typer.Option(help="ingest, gate, approver, auditor or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")],
) -> None:
    """Create a key. The key is printed once, alone on the last line; it is never shown again."""
    info, key = _store().create(role, name)
    typer.echo(f"created API key {info.key_id} (role {info.role.value}, name {info.name!r})")
    typer.echo("store it now; only its hash is kept:")
    typer.echo(key)


@app.command("list")
def list_keys() -> None:
    """List keys: id, role, name, created, revoked."""
    rows = _store().list()
    typer.echo(f"{'ID':<14} {'ROLE':<9} {'CREATED':<28} {'REVOKED':<28} NAME")
    for k in rows:
        revoked = k.revoked_at or "-"
        typer.echo(f"{k.key_id:<14} {k.role.value:<9} {k.created_at:<28} {revoked:<28} {k.name}")


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`)")]) -> None:
    """Revoke a key; servers stop accepting it within GOVERNANCE_API_KEY_CACHE_SECONDS."""
    info = _store().revoke(key_id)
    typer.echo(f"revoked {info.key_id} at {info.revoked_at}")
