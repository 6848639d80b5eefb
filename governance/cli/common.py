"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import typer

from governance.config import Settings

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_ERROR = 2


def settings_from_env() -> Settings:
    """Read the ``GOVERNANCE_*`` settings (the CLI's one place that does)."""
    return Settings()


def fail(message: str, *, hint: str | None = None) -> int:
    """Print an error (and a hint) to stderr; return the error exit code."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return EXIT_ERROR
