"""Helpers shared by the CLI command modules.

Command modules import only what ``--help`` needs at module level (typer and this module); the
service's parts, and libraries that take long to import (SQLAlchemy, Sigstore, rich), are
imported inside the commands that use them, so every command starts quickly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
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


@contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """Progress bars on stderr, one per stage of a long operation (hidden off a terminal).

    The callback is told ``(stage, done, total)``; a new stage gets a new bar.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (``--json`` output)."""
    typer.echo(json.dumps(value, indent=2, default=str))


#: What ``--help`` says about tables, wherever a command prints one.
TABLE_HELP = (
    "Print JSON instead of a table (a table is tab-separated, with a header line and values "
    "in full, when output is not a terminal)"
)

# Escapes that keep a tab-separated row on one line and its columns apart (as in "linear TSV").
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def cell(value: Any) -> str:
    """A value as a table cell: ``-`` for none, JSON for lists and objects."""
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    r"""Print ``rows`` (their ``columns``) for a person on a terminal, or for a program.

    On a terminal: a rich table, fitted to its width. Otherwise (a pipe, a file): one header
    line of the column names, then one line per row, tab-separated, every value in full, with
    tab, newline, carriage return and backslash written as ``\t``, ``\n``, ``\r`` and ``\\``
    so each row stays one line for ``grep``, ``cut -f`` and ``sort``. The title is left out
    there: it is for people, and would be one more line to skip.
    """
    if not sys.stdout.isatty():
        lines = ["\t".join(columns)]
        lines.extend(
            "\t".join(cell(row.get(c)).translate(_TSV_ESCAPES) for c in columns) for row in rows
        )
        typer.echo("\n".join(lines))
        return
    # Imported here: rich takes longer to import than a command without a table needs.
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[cell(row.get(c)) for c in columns])
    Console().print(table)
