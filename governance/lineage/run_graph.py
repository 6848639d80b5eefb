"""Run-level lineage (``type=run``): runs linked through the dataset versions they wrote and read.

A run read the version of each input that was newest at the run's event time, and that version
was written by exactly one run. Each dataset node of the answer is one version,
``dataset:<ns>:<name>@<writer run id>``; a dataset no run in the ledger wrote is a plain
``dataset:<ns>:<name>`` node (a source, read as it was). Like the job/dataset graph, the walk is
breadth first, bounded by depth, cycle-safe and "as of" a time, and every edge carries the ledger
indexes that assert it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from governance.errors import NotFound
from governance.lineage.graph import Direction, Edge, Graph, Node, node_key
from governance.lineage.nodes import NodeQueries, dataset_data, exists, rows_for_ids
from governance.lineage.projection import run_pk
from governance.timefmt import time_key

__all__ = ["RunGraphQueries"]

#: The writer of a dataset no run in the ledger wrote.
_SOURCE = -1


@dataclass(frozen=True, order=True)
class _Link:
    """A run wrote a dataset version that another run then read."""

    writer: int
    dataset: int
    reader: int
    write_time: str
    write_index: int
    read_time: str
    read_index: int


class RunGraphQueries(NodeQueries):
    """The run graph over dataset versions."""

    def run_graph(
        self,
        run_id: str,
        *,
        direction: Direction = Direction.UPSTREAM,
        depth: int = 20,
        as_of: datetime | None = None,
    ) -> Graph:
        """Runs linked through the dataset versions they wrote and read.

        Each dataset node is one version, ``dataset:<ns>:<name>@<writer run id>``: a run read the
        version written by the newest writer at or before the run's read, so the answer says
        which pie used which filling from which picking.
        """
        until = time_key(as_of, name="as_of")
        with self._engine.connect() as conn:
            start = run_pk(run_id)
            if not exists(conn, "lineage_runs", start):
                raise NotFound(f"no run {run_id} in the lineage graph")
            runs: set[int] = {start}
            links: set[_Link] = set()
            for walk in direction.walks():
                upstream = walk == Direction.UPSTREAM
                step = _writers_of_reads if upstream else _readers_of_writes
                frontier, seen = {start}, {start}
                for _hop in range(depth):
                    following: set[int] = set()
                    for run in frontier:
                        for link in step(conn, run, until):
                            links.add(link)
                            other = link.writer if upstream else link.reader
                            if other != _SOURCE and other not in seen:
                                seen.add(other)
                                following.add(other)
                    frontier = following
                    if not frontier:
                        break
                runs |= seen
            return _assemble_runs(conn, runs, links)


def _run_edges(conn: Connection, run: int, direction: str, until: str) -> Sequence[Any]:
    """A run's datasets in one direction, each with its first event time and ledger index."""
    return conn.execute(
        text(
            "SELECT dataset_id, MIN(event_time), MIN(ledger_index) FROM lineage_edges "
            "WHERE run_pk = :r AND direction = :dir AND event_time <= :until "
            "GROUP BY dataset_id"
        ),
        {"r": run, "dir": direction, "until": until},
    ).all()


def _writers_of_reads(conn: Connection, run: int, until: str) -> list[_Link]:
    links = []
    for dataset, read_time, read_index in _run_edges(conn, run, "read", until):
        writer = conn.execute(
            text(
                "SELECT run_pk, event_time, ledger_index FROM lineage_edges "
                "WHERE dataset_id = :d AND direction = 'wrote' AND event_time <= :t "
                "AND run_pk <> :r ORDER BY event_time DESC, ledger_index DESC LIMIT 1"
            ),
            {"d": dataset, "t": min(str(read_time), until), "r": run},
        ).first()
        if writer is None:
            # A source: nothing in the ledger wrote it; the run read it as it was.
            links.append(_Link(_SOURCE, int(dataset), run, "", -1, str(read_time), int(read_index)))
        else:
            links.append(
                _Link(
                    int(writer[0]),
                    int(dataset),
                    run,
                    str(writer[1]),
                    int(writer[2]),
                    str(read_time),
                    int(read_index),
                )
            )
    return links


def _readers_of_writes(conn: Connection, run: int, until: str) -> list[_Link]:
    links = []
    for dataset, wrote_time, wrote_index in _run_edges(conn, run, "wrote", until):
        # This version is current until another run writes the dataset.
        superseded = conn.execute(
            text(
                "SELECT MIN(event_time) FROM lineage_edges WHERE dataset_id = :d "
                "AND direction = 'wrote' AND event_time > :t AND run_pk <> :r"
            ),
            {"d": dataset, "t": wrote_time, "r": run},
        ).scalar()
        upper = min(str(superseded), until) if superseded else until
        readers = conn.execute(
            text(
                "SELECT run_pk, MIN(event_time), MIN(ledger_index) FROM lineage_edges "
                "WHERE dataset_id = :d AND direction = 'read' AND event_time >= :t "
                "AND event_time <= :upper AND run_pk <> :r GROUP BY run_pk"
            ),
            {"d": dataset, "t": wrote_time, "upper": upper, "r": run},
        ).all()
        for reader, read_time, read_index in readers:
            if superseded is not None and str(read_time) >= str(superseded):
                continue
            links.append(
                _Link(
                    run,
                    int(dataset),
                    int(reader),
                    str(wrote_time),
                    int(wrote_index),
                    str(read_time),
                    int(read_index),
                )
            )
    return links


def _assemble_runs(conn: Connection, runs: set[int], links: set[_Link]) -> Graph:
    graph = Graph()
    ddata = dataset_data(conn, {link.dataset for link in links})
    rdata: dict[int, dict[str, Any]] = {}
    rows = rows_for_ids(
        conn,
        "SELECT r.id, r.run_id, r.state, r.started_at, r.ended_at, r.last_event_time, "
        "j.namespace, j.name FROM lineage_runs r "
        "JOIN lineage_jobs j ON j.id = r.job_id WHERE {ids}",
        "r.id",
        runs,
    )
    for pk, rid, state, started, ended, last, ns, name in rows:
        rdata[int(pk)] = {
            "runId": rid,
            "state": state,
            "startedAt": started,
            "endedAt": ended,
            "eventTime": last,
            "job": {"namespace": ns, "name": name},
        }
        graph.nodes[f"run:{rid}"] = Node(f"run:{rid}", "RUN", rdata[int(pk)])
    for link in sorted(links):
        if link.reader not in rdata or link.dataset not in ddata:
            continue
        base = node_key("dataset", ddata[link.dataset]["namespace"], ddata[link.dataset]["name"])
        if link.writer == _SOURCE:
            version_key = base
            graph.nodes.setdefault(base, Node(base, "DATASET", ddata[link.dataset]))
        elif link.writer in rdata:
            writer_id = rdata[link.writer]["runId"]
            data = {**ddata[link.dataset], "version": writer_id}
            version_key = f"{base}@{writer_id}"
            graph.nodes.setdefault(version_key, Node(version_key, "DATASET_VERSION", data))
            _attach(graph, f"run:{writer_id}", version_key, link.write_time, link.write_index)
        else:
            continue
        _attach(
            graph,
            version_key,
            f"run:{rdata[link.reader]['runId']}",
            link.read_time,
            link.read_index,
        )
    return graph


def _attach(graph: Graph, origin: str, destination: str, time: str, index: int) -> None:
    """Add the edge, or add ``index`` to the one already there (several links can assert it)."""
    edge = graph.edges.get((origin, destination))
    if edge is None:
        graph.add_edge(Edge(origin, destination, time, [index]))
    elif index not in edge.ledger_indexes:
        edge.ledger_indexes.append(index)
        edge.first_seen = min(edge.first_seen, time)
