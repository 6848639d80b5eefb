"""Helpers shared by the CLI command modules.

Command modules import only what ``--help`` needs at module level (typer and this module); the
service's parts, and libraries that take long to import (SQLAlchemy, Sigstore, rich), are
imported inside the commands that use them, so every command starts quickly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from governance.config import Settings
    from governance.runtime import Runtime

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_ERROR = 2


def command_group(help_text: str, *, name: str | None = None) -> typer.Typer:
    """A group of commands, configured like every other: help when run without a command.

    Help is plain text: formatting it with rich would import rich's Markdown and syntax
    highlighting, which alone takes longer than the rest of ``--help``.
    """
    return typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def settings_from_env() -> Settings:
    """Read the ``GOVERNANCE_*`` settings (the CLI's one place that does)."""
    from governance.config import Settings

    return Settings()


def fail(message: str, *, hint: str | None = None) -> int:
    """Print an error (and a hint) to stderr; return the error exit code."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return EXIT_ERROR


@contextmanager
def open_runtime(*, start: bool = False, attestations: bool = False) -> Iterator[Runtime]:
    """The service's runtime for one command, closed afterwards."""
    from governance.runtime import Runtime

    runtime = Runtime.open(settings_from_env(), start=start, attestations=attestations)
    try:
        yield runtime
    finally:
        runtime.close()


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (``--json`` output)."""
    typer.echo(json.dumps(value, indent=2, default=str))
