"""The job/dataset graph around a node, up- and downstream, as of a time.

The graph has two kinds of node, jobs and datasets: a job *wrote* a dataset (job → dataset) or
*read* it (dataset → job), as some run of the job asserted in some event. Traversal is breadth
first with one indexed query per level and direction, bounded by depth, and cycle-safe (a node is
expanded once). "As of" keeps only edges whose event time is at or before the given time, so the
graph is the one that had been asserted by then. Every edge carries the ledger indexes that assert
it, so an answer can be checked against the ledger. Marquez's ``GET /api/v1/lineage`` is this
graph in both directions.
"""

from __future__ import annotations

import bisect
from datetime import datetime

from sqlalchemy.engine import Connection

from governance.errors import InputError, NotFound
from governance.lineage.graph import Direction, Edge, Graph, Node, node_key, parse_node_id
from governance.lineage.models import EVIDENCE_PER_EDGE
from governance.lineage.nodes import (
    dataset_data,
    job_data,
    node_exists,
    node_pk,
    resolve_marquez,
    rows_for_ids,
)
from governance.lineage.run_graph import RunGraphQueries
from governance.timefmt import FAR_FUTURE, time_key

__all__ = ["MAX_DEPTH", "GraphQueries"]

MAX_DEPTH = 50

#: Edges found in a walk, by ``(relation, job, dataset)``: first seen and asserting indexes.
_RawEdges = dict[tuple[str, int, int], tuple[str, list[int]]]


class GraphQueries(RunGraphQueries):
    """The job/dataset graph (and, for ``type=run``, the run graph)."""

    def graph(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        direction: Direction = Direction.BOTH,
        depth: int = 20,
        as_of: datetime | None = None,
        since: datetime | None = None,
    ) -> Graph:
        """The job/dataset graph around a node, to ``depth`` hops, as of a time."""
        if not 0 <= depth <= MAX_DEPTH:
            raise InputError(f"depth must be between 0 and {MAX_DEPTH}")
        if kind == "run":
            return self.run_graph(name, direction=direction, depth=depth, as_of=as_of)
        if kind not in ("dataset", "job"):
            raise InputError("type must be dataset, job or run")
        until = time_key(as_of, name="as_of")
        after = "" if since is None else time_key(since, name="since")
        with self._engine.connect() as conn:
            start_pk = node_pk(kind, namespace, name)
            if not node_exists(conn, kind, namespace, name):
                raise NotFound(f"no {kind} {namespace}:{name} in the lineage graph")
            datasets: set[int] = set()
            jobs: set[int] = set()
            raw_edges: _RawEdges = {}
            (datasets if kind == "dataset" else jobs).add(start_pk)
            for walk in direction.walks():
                seen_d, seen_j = self._walk(
                    conn, kind, start_pk, walk, depth, until, after, raw_edges
                )
                datasets |= seen_d
                jobs |= seen_j
            return _assemble(conn, datasets, jobs, raw_edges)

    def _walk(
        self,
        conn: Connection,
        kind: str,
        start: int,
        walk: Direction,
        depth: int,
        until: str,
        after: str,
        raw_edges: _RawEdges,
    ) -> tuple[set[int], set[int]]:
        """The datasets and jobs within ``depth`` hops of ``start`` (a ``kind``), one way.

        Each hop is one query per kind of node in the frontier; the edges it crosses are added
        to ``raw_edges``. ``until`` and ``after`` bound the edges as in :meth:`_edges`.
        """
        frontier_d = {start} if kind == "dataset" else set()
        frontier_j = {start} if kind == "job" else set()
        seen_d, seen_j = set(frontier_d), set(frontier_j)
        upstream = walk == Direction.UPSTREAM
        for _hop in range(depth):
            if not frontier_d and not frontier_j:
                break
            next_d: set[int] = set()
            next_j: set[int] = set()
            # From datasets, upstream is who wrote them and downstream who read them; from jobs,
            # upstream is what they read and downstream what they wrote.
            sides = (
                ("dataset_id", frontier_d, "wrote" if upstream else "read", seen_j, next_j),
                ("job_id", frontier_j, "read" if upstream else "wrote", seen_d, next_d),
            )
            for column, frontier, relation, seen, following in sides:
                if not frontier:
                    continue
                for d, j, first, idx in self._edges(conn, column, frontier, relation, until, after):
                    _add_edge(raw_edges, relation, j, d, first, idx)
                    other = j if column == "dataset_id" else d
                    if other not in seen:
                        seen.add(other)
                        following.add(other)
            frontier_d, frontier_j = next_d, next_j
        return seen_d, seen_j

    def _edges(
        self,
        conn: Connection,
        column: str,
        ids: set[int],
        direction: str,
        until: str,
        after: str,
    ) -> list[tuple[int, int, str, list[int]]]:
        """Job-dataset edges at ``ids`` (``column`` is ``dataset_id`` or ``job_id``).

        Each is ``(dataset, job, first seen, asserting ledger indexes)``: the earliest event time
        in the window and the first :data:`EVIDENCE_PER_EDGE` asserting entries in event-time
        order. Without a lower bound they come from the folded job-dataset edges; with one, from the
        per-run edges (the folded row does not know which of its edges fall inside a window).
        """
        if after:
            return self.folded_run_edges(conn, column, ids, direction, until, after)
        return self.job_dataset_edges(conn, column, ids, direction, until)

    def job_dataset_edges(
        self, conn: Connection, column: str, ids: set[int], direction: str, until: str
    ) -> list[tuple[int, int, str, list[int]]]:
        """:meth:`_edges` as of ``until``, read from ``lineage_job_dataset_edges``.

        A row keeps its first asserting edges in event-time order, so those asserted by
        ``until`` are a prefix of them, and exactly the first ones of the window.
        """
        rows = rows_for_ids(
            conn,
            "SELECT dataset_id, job_id, first_time, evidence_indexes, evidence_times "
            "FROM lineage_job_dataset_edges WHERE {ids} AND direction = :dir "
            "AND first_time <= :until",
            column,
            ids,
            {"dir": direction, "until": until},
        )
        found: list[tuple[int, int, str, list[int]]] = []
        everything = until >= FAR_FUTURE
        for d, j, first, indexes, times in rows:
            kept = list(map(int, indexes.split(" ")))
            if not everything:
                # In event-time order: those asserted by `until` are a prefix.
                del kept[bisect.bisect_right(times.split(" "), until) :]
            found.append((int(d), int(j), str(first), kept))
        return found

    def folded_run_edges(
        self,
        conn: Connection,
        column: str,
        ids: set[int],
        direction: str,
        until: str,
        after: str = "",
    ) -> list[tuple[int, int, str, list[int]]]:
        """:meth:`_edges` in the window ``[after, until]``, folded from ``lineage_edges``."""
        rows = rows_for_ids(
            conn,
            "SELECT dataset_id, job_id, event_time, ledger_index FROM lineage_edges "
            "WHERE {ids} AND direction = :dir "
            "AND event_time <= :until AND event_time >= :after "
            "ORDER BY event_time, ledger_index",
            column,
            ids,
            {"dir": direction, "until": until, "after": after},
        )
        found: dict[tuple[int, int], tuple[str, list[int]]] = {}
        for d, j, time, idx in rows:
            key = (int(d), int(j))
            entry = found.get(key)
            if entry is None:
                found[key] = (str(time), [int(idx)])
            elif len(entry[1]) < EVIDENCE_PER_EDGE:
                entry[1].append(int(idx))
        return [(d, j, first, idx) for (d, j), (first, idx) in found.items()]

    def marquez_lineage(self, node: str, depth: int = 20) -> Graph:
        """Marquez's ``GET /api/v1/lineage?nodeId=…&depth=…``: both directions."""
        kind, rest = parse_node_id(node)
        with self._engine.connect() as conn:
            namespace, name = resolve_marquez(conn, kind, rest)
        return self.graph(kind, namespace, name, direction=Direction.BOTH, depth=depth)


def _add_edge(
    edges: _RawEdges,
    relation: str,
    job: int,
    dataset: int,
    first: str,
    indexes: list[int],
) -> None:
    key = (relation, job, dataset)
    existing = edges.get(key)
    if existing is None:
        edges[key] = (first, list(indexes))
    else:
        merged = sorted(set(existing[1]) | set(indexes))[:EVIDENCE_PER_EDGE]
        edges[key] = (min(existing[0], first), merged)


def _assemble(conn: Connection, datasets: set[int], jobs: set[int], raw_edges: _RawEdges) -> Graph:
    graph = Graph()
    keys: dict[tuple[str, int], str] = {}
    for pk, data in dataset_data(conn, datasets).items():
        key = node_key("dataset", data["namespace"], data["name"])
        keys[("d", pk)] = key
        graph.nodes[key] = Node(key, "DATASET", data)
    for pk, data in job_data(conn, jobs).items():
        key = node_key("job", data["namespace"], data["name"])
        keys[("j", pk)] = key
        graph.nodes[key] = Node(key, "JOB", data)
    for (relation, j, d), (first, indexes) in sorted(raw_edges.items()):
        job_key, data_key = keys.get(("j", j)), keys.get(("d", d))
        if job_key is None or data_key is None:
            continue
        origin, destination = (job_key, data_key) if relation == "wrote" else (data_key, job_key)
        graph.add_edge(Edge(origin, destination, first, sorted(indexes)))
    return graph
