"""Lineage questions: graphs up- and downstream, as of a time, and the compliance questions.

The graph has two kinds of node, jobs and datasets: a job *wrote* a dataset (job → dataset) or
*read* it (dataset → job), as some run of the job asserted in some event. Traversal is breadth
first with one indexed query per level and direction, bounded by depth, and cycle-safe (a node is
expanded once). "As of" keeps only edges whose event time is at or before the given time, so the
graph is the one that had been asserted by then. Every edge carries the ledger indexes that assert
it, so an answer can be checked against the ledger.

Run-level lineage (``type=run``) follows dataset versions: a run read the version of each input
that was newest at the run's event time, and that version was written by exactly one run.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from governance.errors import InputError, NotFound
from governance.lineage.models import EVIDENCE_PER_EDGE
from governance.lineage.projection import dataset_id, job_id, run_pk
from governance.sql import id_filter
from governance.timefmt import FAR_FUTURE, time_key

MAX_DEPTH = 50


class Direction(StrEnum):
    """Which way to walk the graph."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


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


@dataclass
class Edge:
    """One graph edge with the ledger indexes asserting it and its earliest event time."""

    origin: str
    destination: str
    first_seen: str
    ledger_indexes: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The edge as the API returns it."""
        return {
            "origin": self.origin,
            "destination": self.destination,
            "first_seen": self.first_seen,
            "ledger_indexes": self.ledger_indexes,
        }


@dataclass
class Node:
    """A job, dataset or run in an answer."""

    id: str
    type: str
    data: dict[str, Any]
    in_edges: list[Edge] = field(default_factory=list)
    out_edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Marquez's node shape (``id``, ``type``, ``data``, ``inEdges``, ``outEdges``)."""
        return {
            "id": self.id,
            "type": self.type,
            "data": self.data,
            "inEdges": [e.to_json() for e in self.in_edges],
            "outEdges": [e.to_json() for e in self.out_edges],
        }


@dataclass
class Graph:
    """Nodes keyed by id, with each edge attached to both of its ends."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"graph": [node, ...]}``, nodes in a stable order."""
        return {"graph": [self.nodes[k].to_json() for k in sorted(self.nodes)]}


def node_key(kind: str, namespace: str, name: str) -> str:
    """Marquez node ids: ``dataset:<ns>:<name>`` and ``job:<ns>:<name>``."""
    return f"{kind}:{namespace}:{name}"


def parse_node_id(node: str) -> tuple[str, str]:
    """Split a Marquez ``nodeId`` into its type and the rest, ``<namespace>:<name>``.

    Both halves of the rest may contain colons (namespaces are often URIs such as
    ``postgres://host:5432``), so which colon separates them is decided against the projection.
    """
    kind, _, rest = node.partition(":")
    if kind not in ("dataset", "job") or ":" not in rest:
        raise InputError(
            "nodeId must look like dataset:<namespace>:<name> or job:<namespace>:<name>",
            errors=[{"path": "nodeId", "message": f"got {node[:200]!r}"}],
        )
    return kind, rest


class LineageQueries:
    """Read-only queries over the projection tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- node lookup ------------------------------------------------------------------------

    def _resolve_marquez(self, conn: Connection, kind: str, rest: str) -> tuple[str, str]:
        table = "lineage_datasets" if kind == "dataset" else "lineage_jobs"
        position = rest.find(":")
        while position != -1:
            namespace, name = rest[:position], rest[position + 1 :]
            pk = dataset_id(namespace, name) if kind == "dataset" else job_id(namespace, name)
            if conn.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": pk}).first():
                return namespace, name
            position = rest.find(":", position + 1)
        raise NotFound(f"no {kind} {rest!r} in the lineage graph")

    def _dataset_data(self, conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        rows = _by_id(
            conn,
            "SELECT id, namespace, name, classification, tags, is_model, first_index, "
            "last_index, is_personal FROM lineage_datasets WHERE {ids}",
            ids,
        )
        for pk, ns, name, classification, tags, is_model, first, last, personal in rows:
            found[int(pk)] = {
                "namespace": ns,
                "name": name,
                "classification": json.loads(classification) if classification else None,
                "tags": json.loads(tags) if tags else [],
                "model": bool(is_model),
                "personal": bool(personal),
                "first_ledger_index": int(first),
                "last_ledger_index": int(last),
            }
        return found

    def _job_data(self, conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        rows = _by_id(
            conn,
            "SELECT id, namespace, name, job_type, source_code_location, owners, "
            "first_index, last_index FROM lineage_jobs WHERE {ids}",
            ids,
        )
        for pk, ns, name, job_type, location, owners, first, last in rows:
            found[int(pk)] = {
                "namespace": ns,
                "name": name,
                "jobType": json.loads(job_type) if job_type else None,
                "sourceCodeLocation": location,
                "owners": json.loads(owners) if owners else [],
                "first_ledger_index": int(first),
                "last_ledger_index": int(last),
            }
        return found

    def split_dataset_path(self, path: str) -> tuple[str, str]:
        """``namespace/name`` where either may contain ``/``: prefer a split naming a dataset."""
        positions = [i for i, ch in enumerate(path) if ch == "/"]
        if not positions:
            raise InputError("the path must be {namespace}/{name}")
        with self._engine.connect() as conn:
            for position in positions:
                namespace, name = path[:position], path[position + 1 :]
                found = conn.execute(
                    text("SELECT 1 FROM lineage_datasets WHERE id = :id"),
                    {"id": dataset_id(namespace, name)},
                ).first()
                if found is not None and namespace and name:
                    return namespace, name
        namespace, name = path[: positions[0]], path[positions[0] + 1 :]
        if not namespace or not name:
            raise InputError("the path must be {namespace}/{name}")
        return namespace, name

    # -- dataset / job graph ----------------------------------------------------------------

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
            start_pk = dataset_id(namespace, name) if kind == "dataset" else job_id(namespace, name)
            table = "lineage_datasets" if kind == "dataset" else "lineage_jobs"
            if not conn.execute(
                text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": start_pk}
            ).first():
                raise NotFound(f"no {kind} {namespace}:{name} in the lineage graph")
            datasets: set[int] = set()
            jobs: set[int] = set()
            raw_edges: dict[tuple[str, int, int], tuple[str, list[int]]] = {}
            walks = (
                [Direction.UPSTREAM, Direction.DOWNSTREAM]
                if direction == Direction.BOTH
                else [direction]
            )
            (datasets if kind == "dataset" else jobs).add(start_pk)
            for walk in walks:
                frontier_d = {start_pk} if kind == "dataset" else set()
                frontier_j = {start_pk} if kind == "job" else set()
                seen_d, seen_j = set(frontier_d), set(frontier_j)
                for _hop in range(depth):
                    if not frontier_d and not frontier_j:
                        break
                    next_d: set[int] = set()
                    next_j: set[int] = set()
                    if frontier_d:
                        # upstream: who wrote these datasets; downstream: who read them
                        rel = "wrote" if walk == Direction.UPSTREAM else "read"
                        for d, j, first, idx in self._edges(
                            conn, "dataset_id", frontier_d, rel, until, after
                        ):
                            _add_edge(raw_edges, rel, j, d, first, idx)
                            if j not in seen_j:
                                seen_j.add(j)
                                next_j.add(j)
                    if frontier_j:
                        rel = "read" if walk == Direction.UPSTREAM else "wrote"
                        for d, j, first, idx in self._edges(
                            conn, "job_id", frontier_j, rel, until, after
                        ):
                            _add_edge(raw_edges, rel, j, d, first, idx)
                            if d not in seen_d:
                                seen_d.add(d)
                                next_d.add(d)
                    frontier_d, frontier_j = next_d, next_j
                datasets |= seen_d
                jobs |= seen_j
            return self._assemble(conn, datasets, jobs, raw_edges)

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
        where, params = _id_filter(conn, column, ids)
        rows = conn.execute(
            text(
                "SELECT dataset_id, job_id, first_time, evidence_indexes, evidence_times "
                f"FROM lineage_job_dataset_edges WHERE {where} AND direction = :dir "
                "AND first_time <= :until"
            ),
            {**params, "dir": direction, "until": until},
        )
        found: list[tuple[int, int, str, list[int]]] = []
        everything = until >= FAR_FUTURE
        for d, j, first, indexes, times in rows.all():
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
        where, params = _id_filter(conn, column, ids)
        rows = conn.execute(
            text(
                "SELECT dataset_id, job_id, event_time, ledger_index FROM lineage_edges "
                f"WHERE {where} AND direction = :dir "
                "AND event_time <= :until AND event_time >= :after "
                "ORDER BY event_time, ledger_index"
            ),
            {**params, "dir": direction, "until": until, "after": after},
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

    def _assemble(
        self,
        conn: Connection,
        datasets: set[int],
        jobs: set[int],
        raw_edges: dict[tuple[str, int, int], tuple[str, list[int]]],
    ) -> Graph:
        graph = Graph()
        ddata = self._dataset_data(conn, datasets)
        jdata = self._job_data(conn, jobs)
        keys: dict[tuple[str, int], str] = {}
        for pk, data in ddata.items():
            key = node_key("dataset", data["namespace"], data["name"])
            keys[("d", pk)] = key
            graph.nodes[key] = Node(key, "DATASET", data)
        for pk, data in jdata.items():
            key = node_key("job", data["namespace"], data["name"])
            keys[("j", pk)] = key
            graph.nodes[key] = Node(key, "JOB", data)
        for (relation, j, d), (first, indexes) in sorted(raw_edges.items()):
            job_key, data_key = keys.get(("j", j)), keys.get(("d", d))
            if job_key is None or data_key is None:
                continue
            origin, destination = (
                (job_key, data_key) if relation == "wrote" else (data_key, job_key)
            )
            edge = Edge(origin, destination, first, sorted(indexes))
            graph.edges[(origin, destination)] = edge
            graph.nodes[origin].out_edges.append(edge)
            graph.nodes[destination].in_edges.append(edge)
        return graph

    def marquez_lineage(self, node: str, depth: int = 20) -> Graph:
        """Marquez's ``GET /api/v1/lineage?nodeId=…&depth=…``: both directions."""
        kind, rest = parse_node_id(node)
        with self._engine.connect() as conn:
            namespace, name = self._resolve_marquez(conn, kind, rest)
        return self.graph(kind, namespace, name, direction=Direction.BOTH, depth=depth)

    # -- run graph (dataset versions) -------------------------------------------------------

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
            if (
                conn.execute(
                    text("SELECT 1 FROM lineage_runs WHERE id = :id"), {"id": start}
                ).first()
                is None
            ):
                raise NotFound(f"no run {run_id} in the lineage graph")
            walks = (
                [Direction.UPSTREAM, Direction.DOWNSTREAM]
                if direction == Direction.BOTH
                else [direction]
            )
            runs: set[int] = {start}
            links: set[_Link] = set()
            for walk in walks:
                frontier, seen = {start}, {start}
                for _hop in range(depth):
                    following: set[int] = set()
                    for run in frontier:
                        step = (
                            self._writers_of_reads
                            if walk == Direction.UPSTREAM
                            else self._readers_of_writes
                        )
                        for link in step(conn, run, until):
                            links.add(link)
                            other = link.writer if walk == Direction.UPSTREAM else link.reader
                            if other != _SOURCE and other not in seen:
                                seen.add(other)
                                following.add(other)
                    frontier = following
                    if not frontier:
                        break
                runs |= seen
            return self._assemble_runs(conn, runs, links)

    @staticmethod
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

    def _writers_of_reads(self, conn: Connection, run: int, until: str) -> list[_Link]:
        links = []
        for dataset, read_time, read_index in self._run_edges(conn, run, "read", until):
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
                links.append(
                    _Link(_SOURCE, int(dataset), run, "", -1, str(read_time), int(read_index))
                )
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

    def _readers_of_writes(self, conn: Connection, run: int, until: str) -> list[_Link]:
        links = []
        for dataset, wrote_time, wrote_index in self._run_edges(conn, run, "wrote", until):
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

    def _assemble_runs(self, conn: Connection, runs: set[int], links: set[_Link]) -> Graph:
        graph = Graph()
        ddata = self._dataset_data(conn, {link.dataset for link in links})
        rdata: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(sorted(runs)):
            rows = conn.execute(
                text(
                    "SELECT r.id, r.run_id, r.state, r.started_at, r.ended_at, r.last_event_time, "
                    "j.namespace, j.name FROM lineage_runs r "
                    f"JOIN lineage_jobs j ON j.id = r.job_id WHERE r.id IN ({_marks(chunk)})"
                ),
                _params(chunk),
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
            base = node_key(
                "dataset", ddata[link.dataset]["namespace"], ddata[link.dataset]["name"]
            )
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

    # -- listings ---------------------------------------------------------------------------

    def namespaces(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Namespaces in name order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT name, first_index FROM lineage_namespaces ORDER BY name "
                    "LIMIT :l OFFSET :o"
                ),
                {"l": limit, "o": offset},
            )
            return [{"name": n, "first_ledger_index": int(i)} for n, i in rows]

    def datasets(
        self,
        namespace: str | None = None,
        *,
        personal: bool | None = None,
        model: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Datasets in (namespace, name) order, optionally filtered."""
        clauses, params = ["1 = 1"], {"l": limit, "o": offset}
        if namespace is not None:
            clauses.append("namespace = :ns")
            params["ns"] = namespace  # type: ignore[assignment]
        if model is not None:
            clauses.append("is_model = :m")
            params["m"] = 1 if model else 0
        if personal is not None:
            clauses.append("is_personal = :p")
            params["p"] = 1 if personal else 0
        with self._engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    text(
                        f"SELECT id FROM lineage_datasets WHERE {' AND '.join(clauses)} "
                        "ORDER BY namespace, name LIMIT :l OFFSET :o"
                    ),
                    params,
                )
            ]
            data = self._dataset_data(conn, ids)
        return [data[i] for i in ids if i in data]

    def jobs(
        self, namespace: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Jobs in (namespace, name) order."""
        clause = "WHERE namespace = :ns" if namespace is not None else ""
        with self._engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    text(
                        f"SELECT id FROM lineage_jobs {clause} "
                        "ORDER BY namespace, name LIMIT :l OFFSET :o"
                    ),
                    {"ns": namespace, "l": limit, "o": offset},
                )
            ]
            data = self._job_data(conn, ids)
        return [data[i] for i in ids if i in data]

    def runs(
        self,
        namespace: str | None = None,
        job: str | None = None,
        *,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally of one job or in one state."""
        clauses, params = ["1 = 1"], {"l": limit, "o": offset}
        if namespace is not None and job is not None:
            clauses.append("r.job_id = :job")
            params["job"] = job_id(namespace, job)
        elif namespace is not None:
            clauses.append("j.namespace = :ns")
            params["ns"] = namespace  # type: ignore[assignment]
        if state is not None:
            clauses.append("r.state = :state")
            params["state"] = state.upper()  # type: ignore[assignment]
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT r.run_id, r.state, r.started_at, r.ended_at, r.last_event_time, "
                    "r.parent_run_id, r.root_run_id, j.namespace, j.name, r.first_index, "
                    "r.last_index FROM lineage_runs r JOIN lineage_jobs j ON j.id = r.job_id "
                    f"WHERE {' AND '.join(clauses)} "
                    "ORDER BY r.last_event_time DESC, r.run_id LIMIT :l OFFSET :o"
                ),
                params,
            )
            return [
                {
                    "runId": rid,
                    "state": st,
                    "startedAt": started,
                    "endedAt": ended,
                    "eventTime": last,
                    "parentRunId": parent,
                    "rootRunId": root,
                    "job": {"namespace": ns, "name": name},
                    "first_ledger_index": int(first),
                    "last_ledger_index": int(lastidx),
                }
                for rid, st, started, ended, last, parent, root, ns, name, first, lastidx in rows
            ]

    # -- compliance questions ---------------------------------------------------------------

    def downstream_of_dataset(
        self, namespace: str, name: str, *, depth: int = 20, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """Models and datasets downstream of a dataset (what it reached)."""
        graph = self.graph(
            "dataset", namespace, name, direction=Direction.DOWNSTREAM, depth=depth, as_of=as_of
        )
        start = node_key("dataset", namespace, name)
        datasets = [n for k, n in graph.nodes.items() if n.type == "DATASET" and k != start]
        return {
            "dataset": {"namespace": namespace, "name": name},
            "models": [_summary(n) for n in datasets if n.data["model"]],
            "datasets": [_summary(n) for n in datasets],
            "jobs": [_summary(n) for n in graph.nodes.values() if n.type == "JOB"],
            "edges": [e.to_json() for e in graph.edges.values()],
        }

    def personal_data_upstream(
        self,
        namespace: str,
        name: str,
        *,
        kind: str = "dataset",
        depth: int = 20,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """Personal data (by classification or tags) upstream of a dataset or model."""
        graph = self.graph(
            kind, namespace, name, direction=Direction.UPSTREAM, depth=depth, as_of=as_of
        )
        personal = [n for n in graph.nodes.values() if n.type == "DATASET" and n.data["personal"]]
        return {
            "target": {"type": kind, "namespace": namespace, "name": name},
            "personal_datasets": [_summary(n) for n in personal],
            "edges": [e.to_json() for e in graph.edges.values()],
        }

    def consent_withdrawal_impact(
        self, namespace: str, name: str, since: datetime, *, depth: int = 20
    ) -> dict[str, Any]:
        """What a consent withdrawal for a dataset touches: everything derived from it since."""
        graph = self.graph(
            "dataset", namespace, name, direction=Direction.DOWNSTREAM, depth=depth, since=since
        )
        start = node_key("dataset", namespace, name)
        datasets = [n for k, n in graph.nodes.items() if n.type == "DATASET" and k != start]
        jobs = [n for n in graph.nodes.values() if n.type == "JOB"]
        with self._engine.connect() as conn:
            job_ids = [job_id(n.data["namespace"], n.data["name"]) for n in jobs]
            runs: list[dict[str, Any]] = []
            for chunk in _chunks(job_ids):
                rows = conn.execute(
                    text(
                        "SELECT DISTINCT r.run_id, r.state, r.last_event_time, j.namespace, j.name "
                        "FROM lineage_edges e JOIN lineage_runs r ON r.id = e.run_pk "
                        "JOIN lineage_jobs j ON j.id = e.job_id "
                        f"WHERE e.job_id IN ({_marks(chunk)}) AND e.event_time >= :since "
                        "ORDER BY r.last_event_time, r.run_id"
                    ),
                    {**_params(chunk), "since": time_key(since, name="since")},
                )
                runs.extend(
                    {"runId": r, "state": s, "eventTime": t, "job": {"namespace": ns, "name": n}}
                    for r, s, t, ns, n in rows
                )
        return {
            "dataset": {"namespace": namespace, "name": name},
            "since": time_key(since, name="since"),
            "datasets": [_summary(n) for n in datasets],
            "models": [_summary(n) for n in datasets if n.data["model"]],
            "jobs": [_summary(n) for n in jobs],
            "runs": runs,
            "edges": [e.to_json() for e in graph.edges.values()],
        }


def _summary(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        **{
            k: v
            for k, v in node.data.items()
            if k in ("namespace", "name", "classification", "tags", "model")
        },
    }


def _add_edge(
    edges: dict[tuple[str, int, int], tuple[str, list[int]]],
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


def _attach(graph: Graph, origin: str, destination: str, time: str, index: int) -> None:
    edge = graph.edges.get((origin, destination))
    if edge is None:
        edge = Edge(origin, destination, time, [index])
        graph.edges[(origin, destination)] = edge
        graph.nodes[origin].out_edges.append(edge)
        graph.nodes[destination].in_edges.append(edge)
    elif index not in edge.ledger_indexes:
        edge.ledger_indexes.append(index)
        edge.first_seen = min(edge.first_seen, time)


def _id_filter(conn: Connection, column: str, ids: Iterable[int]) -> tuple[str, dict[str, Any]]:
    """``column`` is one of ``ids`` (see :func:`governance.sql.id_filter`)."""
    where, value = id_filter(conn.dialect.name == "postgresql", column, ids)
    return where, {"ids": value}


def _by_id(conn: Connection, sql: str, ids: Iterable[int]) -> Sequence[Any]:
    """The rows of ``sql`` whose ``{ids}`` stands for "``id`` is one of ``ids``"."""
    where, params = _id_filter(conn, "id", ids)
    return conn.execute(text(sql.format(ids=where)), params).all()


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _marks(chunk: Sequence[int]) -> str:
    return ",".join(f":p{i}" for i in range(len(chunk)))


def _params(chunk: Sequence[int]) -> dict[str, Any]:
    return {f"p{i}": v for i, v in enumerate(chunk)}
