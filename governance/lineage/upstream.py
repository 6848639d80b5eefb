"""What a model was built from: the runs that wrote its node and everything upstream, as of a time.

The promotion gate's evidence (:mod:`governance.gate.evidence`) starts here. The walk is over
runs, not the folded job graph, so the answer names the runs that actually built the model:

1. the model's node must be a dataset of the projection (a job → :class:`InputError`, nothing →
   :class:`NotFound`);
2. from the datasets of one level, the runs that wrote them — for each dataset and writing job,
   the latest run as of the time (the one whose output is the dataset's current content);
3. from those runs, the datasets they read, one level further; breadth first, cycle-safe, at
   most ``depth`` job hops;
4. each dataset's classification and who declared it (the entry's submitter and receipt time),
   its tags, columns, owners, the version read and when it was written, and its column lineage;
5. each run's events (type, time, entry), state and submitters, read from the entries
   themselves; tests reported by the runs that wrote the model and by the runs that read it (an
   evaluation run) as of the time;
6. the digests the lineage declares for the model: a ``sha256:`` version written by its latest
   training run, and ``modelDigest`` in the latest ``governance`` facet on its node.

Only edges and entries before ``ledger_size`` (when given) and at or before ``as_of`` count, so
the answer does not move while the ledger grows. Distances: the model's node is 0, a job that
wrote a dataset at distance *d* is *d* + 1, and a dataset its run read is at the job's distance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from governance.errors import InputError, NotFound
from governance.lineage.graph import node_key
from governance.lineage.nodes import NodeQueries, node_exists, rows_for_ids
from governance.lineage.projection import dataset_id
from governance.lineage.traversal import MAX_DEPTH
from governance.lineage.upstream_facts import (
    declared_digest,
    event_facts,
    field_tags,
    owners,
    policy_form,
    run_state,
)
from governance.timefmt import time_key

__all__ = ["ModelUpstream", "UpstreamQueries"]

#: No ledger bound: larger than any index.
_UNBOUNDED = 2**62


@dataclass(frozen=True)
class ModelUpstream:
    """The answer of :meth:`UpstreamQueries.model_upstream`, in the policy input's shapes."""

    node: str
    as_of: str
    datasets: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    tests: list[dict[str, Any]]
    declared_digests: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The answer as JSON (the fields by name)."""
        return {
            "node": self.node,
            "as_of": self.as_of,
            "datasets": self.datasets,
            "jobs": self.jobs,
            "tests": self.tests,
            "declared_digests": self.declared_digests,
        }


@dataclass
class _Walk:
    """What the walk found, by projection id."""

    dataset_distance: dict[int, int] = field(default_factory=dict)
    job_distance: dict[int, int] = field(default_factory=dict)
    #: Selected runs: run id → job id.
    runs: dict[int, int] = field(default_factory=dict)
    #: Per run, the datasets it read and wrote.
    run_inputs: dict[int, set[int]] = field(default_factory=dict)
    run_outputs: dict[int, set[int]] = field(default_factory=dict)
    #: Per run, the entries of its edges.
    run_indexes: dict[int, set[int]] = field(default_factory=dict)
    #: Per dataset, the entries that put it in the walk.
    dataset_indexes: dict[int, set[int]] = field(default_factory=dict)
    #: Per dataset, the version (id) read or written nearest the model, and its entry.
    dataset_version: dict[int, int] = field(default_factory=dict)
    #: The model's latest writes: (version id, entry) per writing run.
    model_writes: list[tuple[int | None, int]] = field(default_factory=list)


class UpstreamQueries(NodeQueries):
    """The model's upstream for the promotion gate (module docstring)."""

    def model_upstream(
        self,
        namespace: str,
        name: str,
        *,
        as_of: datetime,
        depth: int = MAX_DEPTH,
        ledger_size: int | None = None,
    ) -> ModelUpstream:
        """What built the model whose lineage node is the dataset ``namespace:name``."""
        if not 0 <= depth <= MAX_DEPTH:
            raise InputError(f"depth must be between 0 and {MAX_DEPTH}")
        bounds = {"until": time_key(as_of, name="as_of"), "size": _UNBOUNDED}
        if ledger_size is not None:
            bounds["size"] = ledger_size
        with self._engine.connect() as conn:
            # 1. The model's node.
            if not node_exists(conn, "dataset", namespace, name):
                if node_exists(conn, "job", namespace, name):
                    raise InputError(
                        f"{namespace}:{name} is a job; the model's lineage node is the dataset "
                        "its training run wrote"
                    )
                raise NotFound(f"no dataset {namespace}:{name} in the lineage graph")
            model = dataset_id(namespace, name)
            walk = _Walk(dataset_distance={model: 0})
            # 2-3. Writers and what they read, level by level.
            frontier = {model}
            for _ in range(depth):
                if not frontier:
                    break
                new_runs = _writers(conn, frontier, model, walk, bounds)
                frontier = _inputs(conn, new_runs, walk, bounds)
            # 4-6. What is known of each node.
            datasets = _datasets(conn, walk, bounds)
            entries = _entries(conn, walk, datasets, bounds)
            for item in datasets:
                _declaration(item, entries)
            jobs, tests = _jobs_and_tests(conn, walk, entries, (namespace, name), bounds)
            declared = _declared_digests(conn, model, walk, bounds)
        return ModelUpstream(
            node=node_key("dataset", namespace, name),
            as_of=policy_form(bounds["until"]) or "",
            datasets=[{k: v for k, v in d.items() if not k.startswith("_")} for d in datasets],
            jobs=jobs,
            tests=tests,
            declared_digests=declared,
        )


def _writers(
    conn: Connection, frontier: set[int], model: int, walk: _Walk, bounds: dict[str, Any]
) -> set[int]:
    """Select the latest writing run per (dataset, job) of ``frontier``; returns the new runs."""
    rows = rows_for_ids(
        conn,
        "SELECT e.dataset_id, e.run_pk, e.job_id, e.ledger_index, e.version_id, e.event_time "
        "FROM lineage_edges e WHERE {ids} AND e.direction = 'wrote' AND "
        "e.event_time <= :until AND e.ledger_index < :size",
        "e.dataset_id",
        frontier,
        bounds,
    )
    latest: dict[tuple[int, int], tuple[str, int, int]] = {}
    for dataset, run, job, index, _version, time in rows:
        key = (int(dataset), int(job))
        if key not in latest or (time, int(index)) > latest[key][:2]:
            latest[key] = (time, int(index), int(run))
    chosen = {run for _, _, run in latest.values()}
    new_runs: set[int] = set()
    for dataset, run, job, index, version, _time in rows:
        run, dataset, index = int(run), int(dataset), int(index)
        if run not in chosen:
            continue
        distance = walk.dataset_distance[dataset] + 1
        if run not in walk.runs:
            walk.runs[run] = int(job)
            new_runs.add(run)
        walk.job_distance[int(job)] = min(walk.job_distance.get(int(job), distance), distance)
        walk.run_outputs.setdefault(run, set()).add(dataset)
        walk.run_indexes.setdefault(run, set()).add(index)
        walk.dataset_indexes.setdefault(dataset, set()).add(index)
        if version is not None:
            walk.dataset_version.setdefault(dataset, int(version))
        if dataset == model:
            walk.model_writes.append((None if version is None else int(version), index))
    return new_runs


def _inputs(conn: Connection, runs: set[int], walk: _Walk, bounds: dict[str, Any]) -> set[int]:
    """Record what ``runs`` read; returns the datasets seen for the first time."""
    if not runs:
        return set()
    rows = rows_for_ids(
        conn,
        "SELECT e.run_pk, e.dataset_id, e.ledger_index, e.version_id FROM lineage_edges e "
        "WHERE {ids} AND e.direction = 'read' AND e.event_time <= :until "
        "AND e.ledger_index < :size",
        "e.run_pk",
        runs,
        bounds,
    )
    frontier: set[int] = set()
    for run, dataset, index, version in sorted(rows, key=lambda r: int(r[2])):
        run, dataset, index = int(run), int(dataset), int(index)
        distance = walk.job_distance[walk.runs[run]]
        if dataset not in walk.dataset_distance:
            walk.dataset_distance[dataset] = distance
            frontier.add(dataset)
        walk.run_inputs.setdefault(run, set()).add(dataset)
        walk.run_indexes.setdefault(run, set()).add(index)
        walk.dataset_indexes.setdefault(dataset, set()).add(index)
        if version is not None:
            walk.dataset_version.setdefault(dataset, int(version))
    return frontier


def _datasets(conn: Connection, walk: _Walk, bounds: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dataset of the walk, nearest the model first (``_``-keys are for the assembly)."""
    ids = set(walk.dataset_distance)
    rows = rows_for_ids(
        conn,
        "SELECT id, namespace, name, facets, classification, classification_index, "
        "classification_source, tags FROM lineage_datasets WHERE {ids}",
        "id",
        ids,
    )
    versions = {
        int(pk): (version, time)
        for pk, version, time in rows_for_ids(
            conn,
            "SELECT id, version, event_time FROM lineage_dataset_versions WHERE {ids}",
            "id",
            set(walk.dataset_version.values()),
        )
    }
    columns: dict[int, list[tuple[str, int, str, str | None]]] = {}
    for pk, name, source, source_field, transformation in rows_for_ids(
        conn,
        "SELECT dataset_id, field, input_dataset_id, input_field, transformation "
        "FROM lineage_column_edges WHERE {ids} AND ledger_index < :size "
        "ORDER BY dataset_id, field, input_dataset_id, input_field",
        "dataset_id",
        ids,
        {"size": bounds["size"]},
    ):
        columns.setdefault(int(pk), []).append((name, int(source), source_field, transformation))
    names = {int(pk): (ns, name) for pk, ns, name, *_ in rows}
    missing = {s for edges in columns.values() for _, s, _, _ in edges} - set(names)
    for pk, ns, name in rows_for_ids(
        conn, "SELECT id, namespace, name FROM lineage_datasets WHERE {ids}", "id", missing
    ):
        names[int(pk)] = (ns, name)
    found: list[dict[str, Any]] = []
    for pk, ns, name, facets_text, classification, c_index, c_source, tags in rows:
        pk = int(pk)
        facets = json.loads(facets_text) if facets_text else {}
        version = versions.get(walk.dataset_version.get(pk, -1))
        evidence = set(walk.dataset_indexes.get(pk, set()))
        declared = classification is not None and int(c_index) < bounds["size"]
        if declared:
            evidence.add(int(c_index))
        found.append(
            {
                "node": node_key("dataset", ns, name),
                "namespace": ns,
                "name": name,
                "distance": walk.dataset_distance[pk],
                "used_for": [],
                "classification": json.loads(classification) if declared else None,
                "declaration": {"source": c_source, "index": int(c_index)} if declared else None,
                "tags": json.loads(tags) if tags else [],
                "fields": field_tags(facets),
                "owners": owners(facets),
                "version": None if version is None else version[0],
                "snapshot_time": None if version is None else policy_form(version[1]),
                "column_lineage": [
                    {
                        "field": column,
                        "input_node": node_key("dataset", *names[source]),
                        "input_field": source_field,
                        "transformation": transformation,
                    }
                    for column, source, source_field, transformation in columns.get(pk, [])
                    if source in names
                ],
                "evidence": sorted(evidence),
                "_pk": pk,
            }
        )
    found.sort(key=lambda d: (d["distance"], d["node"]))
    return found


@dataclass(frozen=True)
class _Entry:
    submitted_by: str | None
    received_at: str | None
    payload: dict[str, Any] | None


def _entries(
    conn: Connection, walk: _Walk, datasets: list[dict[str, Any]], bounds: dict[str, Any]
) -> dict[int, _Entry]:
    """The entries of the walk's runs and declarations: submitter, receipt time, payload."""
    indexes = {i for found in walk.run_indexes.values() for i in found}
    for pk, first, last in rows_for_ids(
        conn, "SELECT id, first_index, last_index FROM lineage_runs WHERE {ids}", "id", walk.runs
    ):
        walk.run_indexes[int(pk)].update(i for i in (int(first), int(last)) if i < bounds["size"])
        indexes.update(walk.run_indexes[int(pk)])
    with_payload = set(indexes)
    indexes |= {d["declaration"]["index"] for d in datasets if d["declaration"]}
    found: dict[int, _Entry] = {}
    for index, envelope, payload in rows_for_ids(
        conn,
        "SELECT e.idx, e.envelope, p.data FROM ledger_entries e "
        "LEFT JOIN ledger_payloads p ON p.idx = e.idx WHERE {ids}",
        "e.idx",
        indexes,
    ):
        parsed = json.loads(bytes(envelope))
        document = None
        if payload is not None and int(index) in with_payload:
            try:
                document = json.loads(bytes(payload))
            except ValueError:
                document = None
        found[int(index)] = _Entry(
            submitted_by=parsed.get("submitted_by"),
            received_at=parsed.get("received_at"),
            payload=document if isinstance(document, dict) else None,
        )
    return found


def _declaration(dataset: dict[str, Any], entries: dict[int, _Entry]) -> None:
    """Name who declared the dataset's classification and when the ledger received it."""
    declaration = dataset["declaration"]
    if declaration is None:
        return
    entry = entries.get(declaration["index"])
    declaration["declared_by"] = None if entry is None else entry.submitted_by
    declaration["declared_at"] = None if entry is None else policy_form(entry.received_at)


def _jobs_and_tests(
    conn: Connection,
    walk: _Walk,
    entries: dict[int, _Entry],
    model_node: tuple[str, str],
    bounds: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every job of the walk with its selected runs, and the tests that concern the model."""
    dataset_nodes = {
        int(pk): node_key("dataset", ns, name)
        for pk, ns, name in rows_for_ids(
            conn,
            "SELECT id, namespace, name FROM lineage_datasets WHERE {ids}",
            "id",
            set(walk.dataset_distance),
        )
    }
    run_rows = rows_for_ids(
        conn, "SELECT id, run_id, job_id FROM lineage_runs WHERE {ids}", "id", walk.runs
    )
    until = policy_form(bounds["until"]) or ""
    tests: list[dict[str, Any]] = []
    runs_by_job: dict[int, list[dict[str, Any]]] = {}
    inputs: dict[int, set[str]] = {}
    outputs: dict[int, set[str]] = {}
    for pk, run_id, _job in run_rows:
        pk = int(pk)
        job = walk.runs[pk]
        events, submitters = [], set()
        for index in sorted(walk.run_indexes.get(pk, ())):
            entry = entries.get(index)
            if entry is None:
                continue
            if entry.submitted_by:
                submitters.add(entry.submitted_by)
            if entry.payload is None:
                continue
            event_type, time, reported = event_facts(entry.payload, index, None)
            if time is None or time > until:
                continue
            events.append({"type": event_type or "OTHER", "time": time, "index": index})
            if walk.job_distance[job] == 1:
                tests.extend(reported)
        events.sort(key=lambda e: (e["time"], e["index"]))
        state, started, ended = run_state(events)
        runs_by_job.setdefault(job, []).append(
            {
                "run_id": run_id,
                "state": state,
                "started_at": started,
                "ended_at": ended,
                "submitted_by": sorted(submitters),
                "events": events,
                "evidence": sorted(walk.run_indexes.get(pk, ())),
            }
        )
        inputs.setdefault(job, set()).update(
            dataset_nodes[d] for d in walk.run_inputs.get(pk, ()) if d in dataset_nodes
        )
        outputs.setdefault(job, set()).update(
            dataset_nodes[d] for d in walk.run_outputs.get(pk, ()) if d in dataset_nodes
        )
    tests.extend(_evaluation_tests(conn, model_node, bounds))
    jobs: list[dict[str, Any]] = []
    for pk, ns, name, location, job_owners in rows_for_ids(
        conn,
        "SELECT id, namespace, name, source_code_location, owners FROM lineage_jobs WHERE {ids}",
        "id",
        set(walk.job_distance),
    ):
        pk = int(pk)
        jobs.append(
            {
                "node": node_key("job", ns, name),
                "namespace": ns,
                "name": name,
                "distance": walk.job_distance[pk],
                "source_code_location": location,
                "owners": json.loads(job_owners) if job_owners else [],
                "processing_engine": None,
                "location": None,
                "processor": None,
                "inputs": sorted(inputs.get(pk, ())),
                "outputs": sorted(outputs.get(pk, ())),
                "runs": sorted(
                    runs_by_job.get(pk, []), key=lambda r: (r["started_at"] or "", r["run_id"])
                ),
            }
        )
    jobs.sort(key=lambda j: (j["distance"], j["node"]))
    return jobs, tests


def _evaluation_tests(
    conn: Connection, model_node: tuple[str, str], bounds: dict[str, Any]
) -> list[dict[str, Any]]:
    """Tests reported by runs that read the model (an evaluation), latest run per job."""
    rows = conn.execute(
        text(
            "SELECT e.run_pk, e.job_id, e.event_time, e.ledger_index FROM lineage_edges e "
            "WHERE e.dataset_id = :model AND e.direction = 'read' AND "
            "e.event_time <= :until AND e.ledger_index < :size"
        ),
        {**bounds, "model": dataset_id(*model_node)},
    ).all()
    latest: dict[int, tuple[str, int, int]] = {}
    for run, job, time, index in rows:
        if int(job) not in latest or (time, int(index)) > latest[int(job)][:2]:
            latest[int(job)] = (time, int(index), int(run))
    chosen = {run for _, _, run in latest.values()}
    indexes = {int(i) for run, _, _, i in rows if int(run) in chosen}
    for _pk, first, last in rows_for_ids(
        conn, "SELECT id, first_index, last_index FROM lineage_runs WHERE {ids}", "id", chosen
    ):
        indexes.update(i for i in (int(first), int(last)) if i < bounds["size"])
    tests: list[dict[str, Any]] = []
    until = policy_form(bounds["until"]) or ""
    for index, payload in sorted(
        rows_for_ids(conn, "SELECT idx, data FROM ledger_payloads WHERE {ids}", "idx", indexes),
        key=lambda r: int(r[0]),
    ):
        try:
            document = json.loads(bytes(payload))
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        _type, time, reported = event_facts(document, int(index), model_node)
        if time is not None and time <= until:
            tests.extend(reported)
    return tests


def _declared_digests(
    conn: Connection, model: int, walk: _Walk, bounds: dict[str, Any]
) -> list[dict[str, Any]]:
    """The digests the lineage declares for the model (module docstring, step 6)."""
    declared: dict[tuple[str, int], None] = {}
    versions = {
        int(pk): version
        for pk, version in rows_for_ids(
            conn,
            "SELECT id, version FROM lineage_dataset_versions WHERE {ids}",
            "id",
            {v for v, _ in walk.model_writes if v is not None},
        )
    }
    for version, index in walk.model_writes:
        digest = declared_digest(versions.get(version, "") if version is not None else None)
        if digest is not None:
            declared[(digest, index)] = None
    latest = conn.execute(
        text(
            "SELECT ledger_index, facets FROM lineage_dataset_facets WHERE dataset_id = :model "
            "AND event_time <= :until AND ledger_index < :size "
            "ORDER BY event_time DESC, ledger_index DESC LIMIT 1"
        ),
        {**bounds, "model": model},
    ).first()
    if latest is not None:
        governance = json.loads(latest[1]).get("governance")
        value = governance.get("modelDigest") if isinstance(governance, dict) else None
        digest = declared_digest(value)
        if digest is not None:
            declared[(digest, int(latest[0]))] = None
    return [{"digest": d, "index": i} for d, i in sorted(declared, key=lambda k: (k[1], k[0]))]
