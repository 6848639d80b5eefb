"""Schema warnings recorded at ingest: per OpenLineage event, and listed newest first.

Validation keeps an event whose facets deviate from the OpenLineage schemas and records each
deviation as a warning (``lineage_warnings``: ledger index, position, JSON path, message). This
module answers the two questions a producer's owner asks about them: what is wrong with *this*
event, and which events have problems, optionally only those of one namespace.

What an event is about comes from its ledger envelope, which every OpenLineage entry keeps even
once its payload is erased: the event kind, type and time, and its subjects (``job:NS:NAME``,
``run:ID``, ``dataset:NS:NAME``). A subject joins namespace and name with a colon, and both may
contain colons, so the split is the one that names a job (or dataset) of the projection, the
first colon first, as for Marquez node ids (:func:`~governance.lineage.nodes.resolve_marquez`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from governance.errors import InputError, NotFound
from governance.ledger import kinds
from governance.lineage.nodes import NodeQueries, rows_for_ids
from governance.lineage.projection import dataset_id, job_id
from governance.sql import MAX_BIGINT

__all__ = [
    "EventSummary",
    "EventWarnings",
    "LineageWarnings",
    "NodeName",
    "RecordedWarning",
    "WarningListItem",
]

#: Events whose envelopes are read per statement while a namespace filter scans for a page.
_SCAN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class NodeName:
    """A job or dataset, by namespace and name."""

    namespace: str
    name: str

    def to_json(self) -> dict[str, str]:
        """``{"namespace", "name"}``."""
        return {"namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True)
class RecordedWarning:
    """One schema warning of an event: where (JSON path) and what."""

    position: int
    path: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """``{"position", "path", "message"}``."""
        return {"position": self.position, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What an OpenLineage entry's envelope says about its event, with names resolved."""

    index: int
    #: ``run``, ``dataset`` or ``job`` (RunEvent, DatasetEvent, JobEvent).
    event_kind: str | None
    event_type: str | None
    event_time: str | None
    received_at: str | None
    job: NodeName | None
    run_id: str | None
    #: The dataset of a DatasetEvent (a run event's datasets are in the lineage graph).
    dataset: NodeName | None
    erased: bool

    def to_json(self) -> dict[str, Any]:
        """The event's fields in the API's and the CLI's answers."""
        return {
            "ledger_index": self.index,
            "event_kind": self.event_kind,
            "event_type": self.event_type,
            "event_time": self.event_time,
            "received_at": self.received_at,
            "job": self.job.to_json() if self.job is not None else None,
            "run_id": self.run_id,
            "dataset": self.dataset.to_json() if self.dataset is not None else None,
            "erased": self.erased,
        }

    @property
    def namespace(self) -> str | None:
        """The job's namespace; for a DatasetEvent, which has no job, the dataset's."""
        if self.job is not None:
            return self.job.namespace
        return self.dataset.namespace if self.dataset is not None else None


@dataclass(frozen=True, slots=True)
class EventWarnings:
    """One OpenLineage event of the ledger and the schema warnings recorded for it."""

    summary: EventSummary
    kind: str
    warnings: tuple[RecordedWarning, ...]

    def to_json(self) -> dict[str, Any]:
        """The answer of ``GET /api/v1/lineage/events/{index}`` and ``lineage warnings --index``."""
        return {
            "ledger_index": self.summary.index,
            "kind": self.kind,
            **self.summary.to_json(),
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True, slots=True)
class WarningListItem:
    """A warning in a listing, with the event it was recorded for."""

    summary: EventSummary
    warning: RecordedWarning

    def to_json(self) -> dict[str, Any]:
        """One item of ``GET /api/v1/lineage/warnings`` and of ``lineage warnings --json``."""
        return {**self.summary.to_json(), **self.warning.to_json()}


def _bounded(name: str, value: int, low: int) -> None:
    # Beyond a BIGINT the database would fail with an overflow: refuse it as input instead.
    if not low <= value <= MAX_BIGINT:
        raise InputError(f"{name} must be between {low} and {MAX_BIGINT}")


def _subject_names(envelope: dict[str, Any]) -> list[str]:
    subjects = envelope.get("subjects")
    if not isinstance(subjects, list):
        return []
    return [s["name"] for s in subjects if isinstance(s, dict) and isinstance(s.get("name"), str)]


def _splits(rest: str) -> Iterator[NodeName]:
    """Every ``namespace:name`` reading of ``rest``, the first colon first."""
    position = rest.find(":")
    while position != -1:
        yield NodeName(rest[:position], rest[position + 1 :])
        position = rest.find(":", position + 1)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: What an entry's subjects name, by prefix: the kind of node and its projection id.
_NODES: dict[str, Callable[[str, str], int]] = {"job:": job_id, "dataset:": dataset_id}


def _nodes_named(envelope: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(prefix, rest)`` of the job subject, and of a DatasetEvent's dataset subject.

    A run event's datasets are in the lineage graph; only a dataset event is *about* one.
    """
    for name in _subject_names(envelope):
        if name.startswith("job:"):
            yield "job:", name[4:]
        elif name.startswith("dataset:") and envelope.get("event") == "dataset":
            yield "dataset:", name[8:]


class _Resolver:
    """Names the jobs and datasets of several envelopes, with one query per table."""

    def __init__(self, conn: Connection, envelopes: Sequence[dict[str, Any]]) -> None:
        wanted: dict[str, set[int]] = {prefix: set() for prefix in _NODES}
        for envelope in envelopes:
            for prefix, rest in _nodes_named(envelope):
                pk = _NODES[prefix]
                wanted[prefix].update(pk(n.namespace, n.name) for n in _splits(rest))
        self._known = {
            "job:": self._existing(conn, "lineage_jobs", wanted["job:"]),
            "dataset:": self._existing(conn, "lineage_datasets", wanted["dataset:"]),
        }

    @staticmethod
    def _existing(conn: Connection, table: str, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        # Only the caller's fixed table name is interpolated; the ids are one bound parameter.
        sql = f"SELECT id FROM {table} WHERE {{ids}}"  # noqa: S608
        return {int(r[0]) for r in rows_for_ids(conn, sql, "id", ids)}

    def _named(self, prefix: str, rest: str) -> NodeName | None:
        """The reading of ``rest`` that names a node of the projection, the first colon first."""
        pk, known = _NODES[prefix], self._known[prefix]
        return next((n for n in _splits(rest) if pk(n.namespace, n.name) in known), None)

    def event(self, index: int, envelope: dict[str, Any], erased: bool) -> EventSummary:
        """The event an envelope describes, with its job and dataset named when known."""
        named = {prefix: self._named(prefix, rest) for prefix, rest in _nodes_named(envelope)}
        runs = [name[4:] for name in _subject_names(envelope) if name.startswith("run:")]
        return EventSummary(
            index=index,
            event_kind=_text(envelope.get("event")),
            event_type=_text(envelope.get("event_type")),
            event_time=_text(envelope.get("event_time")),
            received_at=_text(envelope.get("received_at")),
            job=named.get("job:"),
            run_id=runs[0] if runs else None,
            dataset=named.get("dataset:"),
            erased=erased,
        )


def _events(conn: Connection, indexes: Iterable[int]) -> dict[int, EventSummary]:
    """The OpenLineage events among the ledger entries ``indexes``, by index."""
    rows = rows_for_ids(
        conn,
        "SELECT e.idx, e.kind, e.envelope, p.idx FROM ledger_entries e "
        "LEFT JOIN ledger_payloads p ON p.idx = e.idx WHERE {ids}",
        "e.idx",
        indexes,
    )
    found = [
        (int(i), json.loads(bytes(envelope)), p is None)
        for i, kind, envelope, p in rows
        if kind == kinds.OPENLINEAGE.name
    ]
    resolver = _Resolver(conn, [envelope for _i, envelope, _erased in found])
    return {i: resolver.event(i, envelope, erased) for i, envelope, erased in found}


class LineageWarnings(NodeQueries):
    """Read-only answers about the schema warnings recorded for OpenLineage events."""

    def event(self, index: int) -> EventWarnings:
        """The OpenLineage event at ledger ``index`` and its warnings.

        Raises :class:`NotFound` when there is no such entry or it is not an OpenLineage event.
        An erased event has no warnings any more: the projection forgot it with its payload.
        """
        _bounded("index", index, 0)
        with self._engine.connect() as conn:
            kind = conn.execute(
                text("SELECT kind FROM ledger_entries WHERE idx = :i"), {"i": index}
            ).scalar()
            if kind is None:
                raise NotFound(f"no entry {index} in the ledger")
            if kind != kinds.OPENLINEAGE.name:
                raise NotFound(f"entry {index} is not an OpenLineage event (its kind is {kind})")
            event = _events(conn, [index])[index]
            rows = conn.execute(
                text(
                    "SELECT position, path, message FROM lineage_warnings "
                    "WHERE ledger_index = :i ORDER BY position"
                ),
                {"i": index},
            )
            warnings = tuple(RecordedWarning(int(p), path, m) for p, path, m in rows)
        return EventWarnings(event, kind, warnings)

    def listing(
        self, namespace: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[WarningListItem]:
        """Warnings, newest event (highest ledger index) first, in order within an event.

        ``namespace`` keeps the events whose job is in it (a DatasetEvent, which has no job:
        whose dataset is). Nothing indexes events by namespace, so that filter reads the
        envelopes of the events with warnings, newest first, until the page is full.
        """
        _bounded("limit", limit, 1)
        _bounded("offset", offset, 0)
        with self._engine.connect() as conn:
            if namespace is None:
                rows = conn.execute(
                    text(
                        "SELECT ledger_index, position, path, message FROM lineage_warnings "
                        "ORDER BY ledger_index DESC, position LIMIT :l OFFSET :o"
                    ),
                    {"l": limit, "o": offset},
                ).all()
            else:
                rows = self._page_of_namespace(conn, namespace, limit, offset)
            events = _events(conn, {int(r[0]) for r in rows})
        return [
            WarningListItem(events[int(i)], RecordedWarning(int(p), path, m))
            for i, p, path, m in rows
            if int(i) in events
        ]

    def _page_of_namespace(
        self, conn: Connection, namespace: str, limit: int, offset: int
    ) -> list[Any]:
        """The warning rows of one page of the events in ``namespace``."""
        wanted: dict[int, tuple[int, int]] = {}  # index -> (warnings to skip, to take)
        skip, take = offset, limit
        for index, count in self._counts_in(conn, namespace):
            if skip >= count:
                skip -= count
                continue
            wanted[index] = (skip, min(count - skip, take))
            take -= wanted[index][1]
            skip = 0
            if take == 0:
                break
        rows = rows_for_ids(
            conn,
            "SELECT ledger_index, position, path, message FROM lineage_warnings "
            "WHERE {ids} ORDER BY ledger_index DESC, position",
            "ledger_index",
            wanted,
        )
        page: list[Any] = []
        seen: dict[int, int] = {}
        for row in rows:
            index = int(row[0])
            position = seen[index] = seen.get(index, -1) + 1
            first, count = wanted[index]
            if first <= position < first + count:
                page.append(row)
        return page

    def _counts_in(self, conn: Connection, namespace: str) -> Iterator[tuple[int, int]]:
        """``(ledger index, warnings)`` of the events in ``namespace``, newest first."""
        before = MAX_BIGINT
        while True:
            chunk = conn.execute(
                text(
                    "SELECT ledger_index, COUNT(*) FROM lineage_warnings "
                    "WHERE ledger_index < :before GROUP BY ledger_index "
                    "ORDER BY ledger_index DESC LIMIT :n"
                ),
                {"before": before, "n": _SCAN_CHUNK},
            ).all()
            if not chunk:
                return
            events = _events(conn, [int(r[0]) for r in chunk])
            for index, count in chunk:
                event = events.get(int(index))
                if event is not None and event.namespace == namespace:
                    yield int(index), int(count)
            if len(chunk) < _SCAN_CHUNK:
                return
            before = int(chunk[-1][0])
