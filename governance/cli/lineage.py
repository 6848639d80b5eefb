"""``governance lineage``: the lineage questions, as tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from governance.cli.common import (
    TABLE_HELP,
    command_group,
    echo_json,
    fail,
    print_table,
    settings_from_env,
)
from governance.lineage.graph import Direction
from governance.sql import MAX_BIGINT

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from governance.lineage.queries import LineageQueries

app = command_group(
    "Lineage questions (jobs, runs, datasets, models). Answers are tables on a terminal; "
    "piped or redirected, a table is tab-separated with a header line and every value in full "
    "(for grep and cut); --json prints JSON."
)

JsonOption = Annotated[bool, typer.Option("--json", help=TABLE_HELP)]
Namespace = Annotated[str, typer.Option(help="Dataset or job namespace")]
Name = Annotated[str, typer.Option(help="Dataset or job name (a run id for --type run)")]
Depth = Annotated[int, typer.Option(help="Hops to follow", min=0, max=50)]
AsOf = Annotated[
    datetime | None,
    typer.Option(
        help="Only what had been asserted by this time (RFC 3339)",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d"],
    ),
]


@contextmanager
def _projection() -> Iterator[Engine]:
    """An engine on a lineage projection that holds every acknowledged event."""
    from governance.db import create_db_engine
    from governance.ledger.kinds import LINEAGE_PROJECTION
    from governance.runtime import build_projections

    engine = create_db_engine(settings_from_env().database_url, pool=False)
    try:
        # Apply whatever the ledger holds that a server has not projected yet (exactly once,
        # whichever process does it), so answers include every acknowledged event.
        build_projections(engine).catch_up(LINEAGE_PROJECTION)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _queries() -> Iterator[LineageQueries]:
    from governance.lineage.queries import LineageQueries

    with _projection() as engine:
        yield LineageQueries(engine)


def _show(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str) -> None:
    if as_json:
        echo_json(rows)
        return
    print_table(rows, columns, title)


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@app.command()
def graph(
    type_: Annotated[str, typer.Option("--type", help="dataset, job or run")],
    name: Name,
    namespace: Annotated[str, typer.Option(help="Namespace (not for runs)")] = "",
    direction: Annotated[
        Direction, typer.Option(help="upstream, downstream or both")
    ] = Direction.BOTH,
    depth: Depth = 20,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """The graph around a dataset, job or run: nodes with their in- and out-edges."""
    with _queries() as queries:
        result = queries.graph(
            type_, namespace, name, direction=direction, depth=depth, as_of=_aware(as_of)
        )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    rows = [
        {
            "from": e.origin,
            "to": e.destination,
            "first seen": e.first_seen,
            "ledger": e.ledger_indexes,
        }
        for e in result.edges.values()
    ]
    _show(rows, ["from", "to", "first seen", "ledger"], False, f"{len(result.nodes)} nodes")


@app.command()
def namespaces(as_json: JsonOption = False, limit: int = 100, offset: int = 0) -> None:
    """Namespaces seen in lineage."""
    with _queries() as queries:
        _show(
            queries.namespaces(limit, offset), ["name", "first_ledger_index"], as_json, "namespaces"
        )


@app.command()
def datasets(
    namespace: Annotated[str | None, typer.Option(help="Only this namespace")] = None,
    personal: Annotated[
        bool | None, typer.Option("--personal/--not-personal", help="By classification")
    ] = None,
    model: Annotated[
        bool | None, typer.Option("--model/--not-model", help="Models only, or none")
    ] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: JsonOption = False,
) -> None:
    """Datasets with their classification and tags."""
    with _queries() as queries:
        rows = queries.datasets(
            namespace, personal=personal, model=model, limit=limit, offset=offset
        )
    _show(rows, ["namespace", "name", "model", "tags", "classification"], as_json, "datasets")


@app.command()
def jobs(
    namespace: Annotated[str | None, typer.Option(help="Only this namespace")] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: JsonOption = False,
) -> None:
    """Jobs with type, source location and owners."""
    with _queries() as queries:
        rows = queries.jobs(namespace, limit=limit, offset=offset)
    _show(rows, ["namespace", "name", "jobType", "sourceCodeLocation", "owners"], as_json, "jobs")


@app.command()
def runs(
    namespace: Annotated[str | None, typer.Option(help="Job namespace")] = None,
    job: Annotated[str | None, typer.Option(help="Job name (with --namespace)")] = None,
    state: Annotated[
        str | None, typer.Option(help="START, RUNNING, COMPLETE, FAIL, ABORT, OTHER")
    ] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: JsonOption = False,
) -> None:
    """Runs, newest first."""
    with _queries() as queries:
        rows = queries.runs(namespace, job, state=state, limit=limit, offset=offset)
    _show(rows, ["runId", "job", "state", "startedAt", "endedAt", "parentRunId"], as_json, "runs")


@app.command()
def downstream(
    namespace: Namespace,
    name: Name,
    depth: Depth = 20,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Models and datasets a dataset reached."""
    with _queries() as queries:
        result = queries.downstream_of_dataset(namespace, name, depth=depth, as_of=_aware(as_of))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _show(
        result["datasets"], ["id", "model", "tags", "classification"], False, "downstream datasets"
    )


@app.command("personal-data")
def personal_data(
    namespace: Namespace,
    name: Name,
    type_: Annotated[str, typer.Option("--type", help="dataset or job")] = "dataset",
    depth: Depth = 20,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Personal data (by classification or tags) upstream of a dataset or model."""
    with _queries() as queries:
        result = queries.personal_data_upstream(
            namespace, name, kind=type_, depth=depth, as_of=_aware(as_of)
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _show(
        result["personal_datasets"],
        ["id", "tags", "classification"],
        False,
        "personal data upstream",
    )


@app.command("consent-withdrawal")
def consent_withdrawal(
    namespace: Namespace,
    name: Name,
    since: Annotated[
        datetime,
        typer.Option(
            help="Withdrawal applies to processing since (RFC 3339)",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d"],
        ),
    ],
    depth: Depth = 20,
    as_json: JsonOption = False,
) -> None:
    """What withdrawing consent for a dataset touches: datasets, jobs, runs, models since."""
    with _queries() as queries:
        result = queries.consent_withdrawal_impact(
            namespace, name, _aware(since) or since, depth=depth
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _show(result["datasets"], ["id", "model", "classification"], False, "affected datasets")
    _show(result["runs"], ["runId", "job", "state", "eventTime"], False, "affected runs")


def _warning_row(item: dict[str, Any]) -> dict[str, Any]:
    """A warning's JSON as a table row: its event's job, or a dataset event's dataset."""
    node = item.get("job") or item.get("dataset") or {}
    return {**item, "event": item["event_kind"], **node}


def _event_title(event: dict[str, Any]) -> str:
    parts = [f"ledger entry {event['ledger_index']}: {event['event_kind'] or '?'} event"]
    if event["event_type"]:
        parts.append(event["event_type"])
    parts.append(f"at {event['event_time']}")
    if event["run_id"]:
        parts.append(f"run {event['run_id']}")
    if event["erased"]:
        parts.append("(erased)")
    return " ".join(parts)


_WARNING_COLUMNS = ["ledger_index", "event", "namespace", "name", "path", "message"]


@app.command()
def warnings(
    namespace: Annotated[
        str | None,
        typer.Option(help="Only events whose job (for a dataset event: dataset) is in it"),
    ] = None,
    index: Annotated[
        int | None,
        typer.Option(
            help="Only the event at this ledger index (--json: with its details)",
            min=0,
            max=MAX_BIGINT,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Warnings to show", min=1, max=MAX_BIGINT)] = 100,
    offset: Annotated[int, typer.Option(help="Warnings to skip", min=0, max=MAX_BIGINT)] = 0,
    as_json: JsonOption = False,
) -> None:
    """Schema warnings recorded when events were ingested, newest event first.

    Events that deviate from the OpenLineage schemas are kept, and each deviation is recorded
    as a warning with its JSON path. With --index, the warnings of one event (exit 2 when that
    entry is not an OpenLineage event); with --json and --index, the event's kind, type, time,
    job and run as well.
    """
    from governance.lineage.warnings import LineageWarnings

    if index is not None and namespace is not None:
        raise typer.Exit(fail("give --index or --namespace, not both"))
    with _projection() as engine:
        queries = LineageWarnings(engine)
        if index is not None:
            event = queries.event(index).to_json()
        else:
            items = [i.to_json() for i in queries.listing(namespace, limit=limit, offset=offset)]
    if index is not None:
        if as_json:
            echo_json(event)
            return
        common = {k: v for k, v in event.items() if k != "warnings"}
        rows = [_warning_row({**common, **w}) for w in event["warnings"]]
        print_table(rows, _WARNING_COLUMNS, _event_title(event))
        return
    if as_json:
        echo_json(items)
        return
    print_table([_warning_row(i) for i in items], _WARNING_COLUMNS, "schema warnings")
