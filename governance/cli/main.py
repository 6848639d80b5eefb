"""``governance``: run the service and operate its ledger.

Exit codes: 0 success; 1 a check found a problem (an audit, a verification, a policy test or
an attestation failed, or a projection has entries it could not project);
2 an error (bad usage, configuration, unreachable database, invalid input).
Every option that has an environment variable says so in ``--help``; settings are the
``GOVERNANCE_*`` variables listed in the README.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from typer.exceptions import TyperException

from governance.cli import attest, gate, keys, ledger, lineage, policy, report
from governance.cli.common import EXIT_ERROR, command_group, fail, settings_from_env
from governance.errors import GovernanceError

app = command_group("Compliance and governance audit service for ML platforms.", name="governance")
db_app = command_group("Database schema (Alembic migrations).")
app.add_typer(db_app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(ledger.app, name="ledger")
app.add_typer(lineage.app, name="lineage")
app.add_typer(attest.attest_app, name="attest")
app.add_typer(attest.trust_app, name="trust")
app.add_typer(policy.app, name="policy")
app.add_typer(report.app, name="report")
app.command("gate")(gate.gate)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [env GOVERNANCE_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [env GOVERNANCE_PORT]")] = None,
) -> None:
    """Apply migrations, load (or create) the checkpoint key, and serve the HTTP API."""
    from governance.api.server import serve as serve_http
    from governance.db import upgrade
    from governance.ledger.checkpoint import load_or_create_signing_key
    from governance.logs import configure_logging

    settings = settings_from_env()
    configure_logging(settings.log_level, json_format=settings.log_json)
    # Fail before listening, with a plain message, if the database or the key is unusable.
    upgrade(settings.database_url)
    load_or_create_signing_key(settings.signing_key_file)
    # The app opens the runtime in its lifespan and closes it there, so a SIGTERM (after which
    # uvicorn re-raises the signal) still drains the writer and closes the database.
    serve_http(settings, host=host, port=port)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply database migrations (``serve`` does this on start)."""
    from governance.db import upgrade

    settings = settings_from_env()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {revision}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    try:
        # Without standalone mode, click returns a command's exit code instead of exiting.
        result = app(args=argv, prog_name="governance", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return EXIT_ERROR
    except TyperException as exc:
        # Usage errors (missing option, bad value, unknown command) print their own message.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        return EXIT_ERROR
    except ValidationError as exc:
        return fail(f"invalid settings: {exc}")
    except GovernanceError as exc:
        return fail(exc.message, hint=exc.hint)
    return result if isinstance(result, int) else 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
