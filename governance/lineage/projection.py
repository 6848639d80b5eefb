"""Projects ledger entries into the lineage tables, in ledger order, exactly once.

A watermark row (``lineage_projection_state.next_index``) says how far the projection has applied
the ledger, and every write to the projection advances it in the same transaction, so a crash, a
restart or a second process can neither skip nor repeat an entry. Normally the ledger writer
projects each batch inside the batch's own transaction (:meth:`Projector.on_append`, an append
hook); :meth:`Projector.catch_up` applies whatever that did not, in chunks. Either way a run of
entries is applied as a :class:`_Batch`: the rows it touches are read once, changed in memory and
written back once. ``ledger reindex`` empties the tables, resets the watermark and catches up
from entry 0; ids are deterministic, so the rebuild is identical.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.ledger.store import AppendedEntry
from governance.lineage.models import EVIDENCE_PER_EDGE, PROJECTION_TABLES, stable_id
from governance.lineage.validation import DatasetRef, LineageEvent, validate_event
from governance.sql import id_filter

log = logging.getLogger(__name__)

#: Ledger kinds the projection reads.
LINEAGE_KIND = "openlineage"
CLASSIFICATION_KIND = "dataset-classification"
PROJECTED_KINDS = (LINEAGE_KIND, CLASSIFICATION_KIND)

# A run's state is the most advanced one reported, whatever order events arrive in.
_STATE_RANK = {"OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3}
_TERMINAL = {"COMPLETE", "FAIL", "ABORT"}
#: Entries per catch-up transaction (short, so the ledger writer never waits long).
_CHUNK = 200


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dataset_id(namespace: str, name: str) -> int:
    """The projection id of a dataset."""
    return stable_id("dataset", namespace, name)


def job_id(namespace: str, name: str) -> int:
    """The projection id of a job."""
    return stable_id("job", namespace, name)


def run_pk(run_id: str) -> int:
    """The projection id of a run."""
    return stable_id("run", run_id)


def _is_model(facets: dict[str, Any]) -> bool:
    kind = facets.get("datasetType")
    if isinstance(kind, dict) and str(kind.get("datasetType", "")).upper() == "MODEL":
        return True
    governance = facets.get("governance")
    return isinstance(governance, dict) and governance.get("model") is True


def _tags(facets: dict[str, Any]) -> list[str]:
    tags = facets.get("tags")
    if not isinstance(tags, dict) or not isinstance(tags.get("tags"), list):
        return []
    found = []
    for tag in tags["tags"]:
        if isinstance(tag, dict) and isinstance(tag.get("key"), str):
            value = tag.get("value")
            found.append(
                tag["key"] if value in (None, "", True, "true") else f"{tag['key']}={value}"
            )
    return sorted(set(found))


@functools.cache
def _pyformat(sql: str) -> str:
    """``:name`` placeholders (SQLite's named style) as psycopg's ``%(name)s``."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


_PERSONAL_FLAGS = ("personalData", "specialCategory", "criminalOffence", "children")
_PERSONAL_TAGS = frozenset({"pii", "personal", "personal_data", "sensitive"})


def personal_data(classification: str | None, tags: list[str]) -> bool:
    """Whether a dataset holds personal data: a governance flag set, or a ``pii``-like tag."""
    if classification:
        flags = json.loads(classification)
        if isinstance(flags, dict) and any(flags.get(f) is True for f in _PERSONAL_FLAGS):
            return True
    return any(tag.split("=", 1)[0].lower() in _PERSONAL_TAGS for tag in tags)


@dataclass(slots=True)
class _Job:
    namespace: str
    name: str
    facets: dict[str, Any]
    facets_time: str
    first_index: int
    last_index: int
    new: bool = False
    dirty: bool = False
    text: str | None = None  # the facets as stored, while they are unchanged


@dataclass(slots=True)
class _Dataset:
    namespace: str
    name: str
    facets: dict[str, Any]
    facets_time: str
    classification: str | None
    classification_index: int | None
    classification_source: str | None
    tags: str | None
    is_model: int
    is_personal: int
    first_index: int
    last_index: int
    new: bool = False
    dirty: bool = False
    text: str | None = None  # the facets as stored, while they are unchanged


@dataclass(slots=True)
class _Run:
    run_id: str
    job_id: int
    state: str
    state_time: str
    started_at: str | None
    ended_at: str | None
    first_event_time: str
    last_event_time: str
    parent_run_id: str | None
    root_run_id: str | None
    facets: dict[str, Any]
    first_index: int
    last_index: int
    new: bool = False
    dirty: bool = False
    text: str | None = None  # the facets as stored, while they are unchanged


@dataclass(slots=True)
class _Folded:
    """A job-dataset edge row: the first asserting edges as stored (see the model)."""

    count: int
    indexes: str
    times: str
    new: bool = False
    dirty: bool = False
    changed: bool = False  # the kept edges changed, not only the count

    def add(self, time: str, index: int) -> None:
        """One more asserting edge: kept if it is among the first by (event time, index)."""
        self.count += 1
        self.dirty = True
        last = (self.times.rpartition(" ")[2], int(self.indexes.rpartition(" ")[2]))
        if (time, index) > last:
            if self.count > EVIDENCE_PER_EDGE:
                return  # later than every kept edge, and there is no room
            self.indexes += f" {index}"
            self.times += f" {time}"
        else:
            kept = zip(self.times.split(" "), map(int, self.indexes.split(" ")), strict=True)
            items = sorted([*kept, (time, index)])[:EVIDENCE_PER_EDGE]
            self.indexes = " ".join(str(i) for _, i in items)
            self.times = " ".join(t for t, _ in items)
        self.changed = True


def _merge(
    current: dict[str, Any], current_time: str, new: dict[str, Any], time: str
) -> tuple[str, bool]:
    """Merge ``new`` facets into ``current`` in place: (the merged facets' time, whether changed).

    Newer events override facets of the same name; older ones only fill in what is missing.
    """
    changed = False
    if time >= current_time:
        for key, value in new.items():
            if key not in current or current[key] != value:
                current[key] = value
                changed = True
        return time, changed
    for key, value in new.items():
        if key not in current:
            current[key] = value
            changed = True
    return current_time, changed


_FOLDED_SELECT = (
    "SELECT job_id, direction, dataset_id, evidence_count, evidence_indexes, evidence_times "
    "FROM lineage_job_dataset_edges WHERE {ids}"
)


class _Batch:
    """Applies a run of ledger entries to the projection: read once, merge in memory, write once.

    :meth:`load` reads every job, dataset, run and job-dataset edge row the entries touch (one
    statement per table); :meth:`lineage_event` and :meth:`classification` apply each entry in
    ledger order to those rows in memory, exactly as one statement per change would; and
    :meth:`flush` writes each table with one ``executemany`` (pipelined on PostgreSQL). Statements
    go to the driver directly: compiling each through SQLAlchemy costs more than executing it.
    """

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self.cursor = cursor
        self.postgres = postgres
        self.namespaces: dict[str, int] = {}
        self.jobs: dict[int, _Job] = {}
        self.datasets: dict[int, _Dataset] = {}
        self.runs: dict[int, _Run] = {}
        self.folded: dict[tuple[int, str, int], _Folded] = {}
        self.loaded_folded_jobs: set[int] = set()
        self.facet_history: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.column_edges: list[dict[str, Any]] = []
        self.warning_rows: list[dict[str, Any]] = []

    # -- statements ----------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return _pyformat(sql) if self.postgres else sql

    def _select_ids(self, sql: str, column: str, ids: set[int]) -> list[Any]:
        """The rows of ``sql``, whose ``{ids}`` stands for "``column`` is one of ``ids``"."""
        return self._select_all([(sql, column, ids)])[0]

    def _select_all(self, queries: Sequence[tuple[str, str, set[int]]]) -> list[list[Any]]:
        """The rows of each :meth:`_select_ids` query; on PostgreSQL in one round trip."""
        results: list[list[Any]] = [[] for _ in queries]
        todo: list[tuple[int, str, dict[str, Any]]] = []
        for position, (sql, column, ids) in enumerate(queries):
            if ids:
                where, value = id_filter(self.postgres, column, ids)
                todo.append((position, self._sql(sql.format(ids=where)), {"ids": value}))
        if not self.postgres:
            for position, sql, params in todo:
                self.cursor.execute(sql, params)
                results[position] = list(self.cursor.fetchall())
            return results
        connection = self.cursor.connection
        with contextlib.ExitStack() as stack:
            cursors = [stack.enter_context(connection.cursor()) for _ in todo]
            with connection.pipeline():
                for cursor, (_, sql, params) in zip(cursors, todo, strict=True):
                    cursor.execute(sql, params)
                for cursor, (position, _, _) in zip(cursors, todo, strict=True):
                    results[position] = list(cursor.fetchall())
        return results

    def _many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def execute(self, sql: str, **params: Any) -> list[Any]:
        """Run one statement with ``:name`` parameters; its rows, if it returns any."""
        self.cursor.execute(self._sql(sql), params)
        return list(self.cursor.fetchall()) if self.cursor.description else []

    # -- reading -------------------------------------------------------------------------------

    def load(self, entries: Sequence[tuple[int, str, Any]]) -> None:
        """Read the rows ``entries`` (index, kind, event or classification payload) touch."""
        jobs: set[int] = set()
        datasets: set[int] = set()
        runs: set[int] = set()
        for _index, kind, value in entries:
            if kind == CLASSIFICATION_KIND:
                datasets.add(dataset_id(value["namespace"], value["name"]))
                continue
            event: LineageEvent = value
            if event.job is not None:
                jobs.add(job_id(*event.job))
            if event.run_id is not None:
                runs.add(run_pk(event.run_id))
            for ref in (
                *event.inputs,
                *event.outputs,
                *((event.dataset,) if event.dataset else ()),
            ):
                datasets.add(dataset_id(ref.namespace, ref.name))
        folded_jobs = jobs - self.loaded_folded_jobs
        job_rows, dataset_rows, run_rows, folded_rows = self._select_all(
            [
                (
                    "SELECT id, namespace, name, facets, facets_time, first_index, last_index "
                    "FROM lineage_jobs WHERE {ids}",
                    "id",
                    jobs,
                ),
                (
                    "SELECT id, namespace, name, facets, facets_time, classification, "
                    "classification_index, classification_source, tags, is_model, is_personal, "
                    "first_index, last_index FROM lineage_datasets WHERE {ids}",
                    "id",
                    datasets,
                ),
                (
                    "SELECT id, run_id, job_id, state, state_time, started_at, ended_at, "
                    "first_event_time, last_event_time, parent_run_id, root_run_id, facets, "
                    "first_index, last_index FROM lineage_runs WHERE {ids}",
                    "id",
                    runs,
                ),
                (_FOLDED_SELECT, "job_id", folded_jobs),
            ]
        )
        for pk, ns, name, facets, ftime, first, last in job_rows:
            self.jobs[int(pk)] = _Job(ns, name, json.loads(facets), ftime, first, last, text=facets)
        for (
            pk,
            ns,
            name,
            facets_text,
            ftime,
            classification,
            classification_index,
            source,
            tags,
            is_model,
            is_personal,
            first,
            last,
        ) in dataset_rows:
            self.datasets[int(pk)] = _Dataset(
                ns, name, json.loads(facets_text), ftime, classification, classification_index,
                source, tags, is_model, is_personal, first, last, text=facets_text,
            )  # fmt: skip
        for (
            pk,
            rid,
            job,
            state,
            state_time,
            started,
            ended,
            first_time,
            last_time,
            parent,
            root,
            facets_text,
            first,
            last,
        ) in run_rows:
            facets = json.loads(facets_text) if facets_text else {}
            self.runs[int(pk)] = _Run(
                rid, job, state, state_time, started, ended, first_time, last_time, parent, root,
                facets, first, last, text=facets_text,
            )  # fmt: skip
        self._add_folded(folded_jobs, folded_rows)

    def _load_folded(self, jobs: set[int]) -> None:
        jobs = jobs - self.loaded_folded_jobs
        self._add_folded(jobs, self._select_ids(_FOLDED_SELECT, "job_id", jobs))

    def _add_folded(self, jobs: set[int], rows: list[Any]) -> None:
        for job, direction, dataset, count, indexes, times in rows:
            self.folded[(int(job), direction, int(dataset))] = _Folded(int(count), indexes, times)
        self.loaded_folded_jobs |= jobs

    # -- applying, in memory ---------------------------------------------------------------------

    def namespace(self, name: str, index: int) -> None:
        self.namespaces.setdefault(name, index)

    def job(self, namespace: str, name: str, facets: dict[str, Any], time: str, index: int) -> int:
        self.namespace(namespace, index)
        pk = job_id(namespace, name)
        row = self.jobs.get(pk)
        if row is None:
            self.jobs[pk] = _Job(namespace, name, dict(facets), time, index, index, new=True)
            return pk
        row.facets_time, changed = _merge(row.facets, row.facets_time, facets, time)
        if changed:
            row.text = None
        row.last_index = index
        row.dirty = True
        return pk

    def run(self, event: LineageEvent, job_pk: int, index: int) -> int:
        assert event.run_id is not None
        pk = run_pk(event.run_id)
        time = event.event_time_text
        state = event.event_type if event.event_type in _STATE_RANK else "OTHER"
        parent = event.parent[2] if event.parent else None
        root = event.root[2] if event.root else None
        row = self.runs.get(pk)
        if row is None:
            self.runs[pk] = _Run(
                run_id=event.run_id,
                job_id=job_pk,
                state=state,
                state_time=time,
                started_at=time if state == "START" else None,
                ended_at=time if state in _TERMINAL else None,
                first_event_time=time,
                last_event_time=time,
                parent_run_id=parent,
                root_run_id=root,
                facets=dict(event.run_facets),
                first_index=index,
                last_index=index,
                new=True,
            )
            return pk
        rank, old_rank = _STATE_RANK.get(state, 0), _STATE_RANK.get(row.state, 0)
        if rank > old_rank or (rank == old_rank and time >= row.state_time):
            row.state, row.state_time = state, time
        if state == "START" and (row.started_at is None or time < row.started_at):
            row.started_at = time
        if state in _TERMINAL and (row.ended_at is None or time > row.ended_at):
            row.ended_at = time
        if _merge(row.facets, row.last_event_time, event.run_facets, time)[1]:
            row.text = None
        row.job_id = job_pk
        row.first_event_time = min(row.first_event_time, time)
        row.last_event_time = max(row.last_event_time, time)
        row.parent_run_id = parent or row.parent_run_id
        row.root_run_id = root or row.root_run_id
        row.last_index = index
        row.dirty = True
        return pk

    def dataset(self, ref: DatasetRef, time: str, index: int) -> _Dataset:
        self.namespace(ref.namespace, index)
        pk = dataset_id(ref.namespace, ref.name)
        row = self.datasets.get(pk)
        # History keeps the facets of events that assert something the dataset's current facets
        # do not say (a new facet, or another value of one); repeats of what is known are not
        # history. Decided before the merge, against the facets as they were.
        novel = row is None or any(row.facets.get(k) != v for k, v in ref.facets.items())
        if row is None:
            merged, merged_time = dict(ref.facets), time
        else:
            merged = row.facets
            merged_time, changed = _merge(merged, row.facets_time, ref.facets, time)
            if changed:
                row.text = None
        # Only a facet this event carries classifies; the merged facets would re-apply old ones.
        governance = ref.facets.get("governance")
        classification = _dumps(governance) if isinstance(governance, dict) else None
        tags = _tags(merged)
        # A steward's explicit classification (an entry of its own) outranks facets: a facet
        # classification replaces only an earlier facet classification or none.
        update_classification = classification is not None and (
            row is None or row.classification_source != "steward"
        )
        effective = classification if row is None or update_classification else row.classification
        personal = 1 if personal_data(effective, tags) else 0
        tags_text = _dumps(tags) if tags else None
        model = 1 if _is_model(merged) else 0
        if row is None:
            row = _Dataset(
                ref.namespace,
                ref.name,
                merged,
                merged_time,
                classification,
                index if classification else None,
                "facet" if classification else None,
                tags_text,
                model,
                personal,
                index,
                index,
                new=True,
            )
            self.datasets[pk] = row
        else:
            row.facets_time = merged_time
            row.tags, row.is_model, row.is_personal, row.last_index = (
                tags_text,
                model,
                personal,
                index,
            )
            if update_classification:
                row.classification = classification
                row.classification_index = index
                row.classification_source = "facet"
            row.dirty = True
        if ref.facets and novel:
            self.facet_history.append({"d": pk, "i": index, "t": time, "f": _dumps(ref.facets)})
        return row

    def version(
        self, dataset_pk: int, version: str, run_id: str | None, time: str, index: int
    ) -> int:
        pk = stable_id("version", str(dataset_pk), version)
        self.versions.append(
            {"id": pk, "d": dataset_pk, "v": version, "r": run_id, "t": time, "i": index}
        )
        return pk

    def edge(
        self,
        run: int,
        dataset: int,
        direction: str,
        job: int,
        version: int | None,
        time: str,
        index: int,
        seen: set[tuple[int, int, str]],
    ) -> None:
        if (run, dataset, direction) in seen:
            return  # already asserted by this entry (a dataset listed twice)
        seen.add((run, dataset, direction))
        self.edges.append(
            {
                "r": run,
                "d": dataset,
                "dir": direction,
                "i": index,
                "j": job,
                "v": version,
                "t": time,
            }
        )
        self.job_dataset_edge(job, direction, dataset, time, index)

    def job_dataset_edge(
        self, job: int, direction: str, dataset: int, time: str, index: int
    ) -> None:
        """Fold one more asserting edge into the job-dataset edge that graph traversal walks.

        The row keeps the first :data:`EVIDENCE_PER_EDGE` asserting edges in (event time, ledger
        index) order, so "as of T" is always a prefix of them, whatever order events arrive in.
        """
        if job not in self.loaded_folded_jobs:
            self._load_folded({job})
        key = (job, direction, dataset)
        row = self.folded.get(key)
        if row is None:
            self.folded[key] = _Folded(1, str(index), time, new=True)
        else:
            row.add(time, index)

    def column_lineage(self, output: DatasetRef, out_pk: int, index: int) -> None:
        facet = output.facets.get("columnLineage")
        fields = facet.get("fields") if isinstance(facet, dict) else None
        if not isinstance(fields, dict):
            return
        for field_name, spec in fields.items():
            inputs = spec.get("inputFields") if isinstance(spec, dict) else None
            if not isinstance(inputs, list):
                continue
            for source in inputs:
                if not isinstance(source, dict):
                    continue
                ns, name, in_field = (
                    source.get("namespace"),
                    source.get("name"),
                    source.get("field"),
                )
                if not (
                    isinstance(ns, str) and isinstance(name, str) and isinstance(in_field, str)
                ):
                    continue
                transformations = source.get("transformations")
                self.column_edges.append(
                    {
                        "d": out_pk,
                        "f": field_name,
                        "idd": dataset_id(ns, name),
                        "if": in_field,
                        "i": index,
                        "tr": _dumps(transformations) if transformations else None,
                    }
                )

    def warnings(self, event: LineageEvent, index: int) -> None:
        for position, problem in enumerate(event.warnings):
            self.warning_rows.append(
                {"i": index, "p": position, "path": problem.path, "m": problem.message}
            )

    def projection_failure(self, index: int, exc: Exception) -> None:
        """Record that entry ``index`` could not be projected (written at once)."""
        self.execute(
            "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
            "VALUES (:i, -1, '$', :m) ON CONFLICT (ledger_index, position) DO NOTHING",
            i=index,
            m=f"not projected: {type(exc).__name__}"[:300],
        )

    # -- entry kinds ------------------------------------------------------------------------

    def lineage_event(self, event: LineageEvent, index: int) -> None:
        """Apply one OpenLineage event."""
        time = event.event_time_text
        if event.kind == "dataset":
            assert event.dataset is not None
            pk = dataset_id(event.dataset.namespace, event.dataset.name)
            self.dataset(event.dataset, time, index)
            version = event.dataset.facets.get("version") or event.dataset.facets.get(
                "datasetVersion"
            )
            label = version.get("datasetVersion") if isinstance(version, dict) else None
            self.version(pk, str(label) if label else f"event:{index}", None, time, index)
            self.warnings(event, index)
            return
        if event.job is None:
            return
        job_pk = self.job(event.job[0], event.job[1], event.job_facets, time, index)
        for ref in (*event.inputs, *event.outputs):
            self.dataset(ref, time, index)
        if event.kind == "run" and event.run_id is not None:
            run = self.run(event, job_pk, index)
            seen: set[tuple[int, int, str]] = set()
            for ref in event.inputs:
                pk = dataset_id(ref.namespace, ref.name)
                label = _version_label(ref)
                version = stable_id("version", str(pk), label) if label else None
                self.edge(run, pk, "read", job_pk, version, time, index, seen)
            for ref in event.outputs:
                pk = dataset_id(ref.namespace, ref.name)
                version = self.version(
                    pk, _version_label(ref) or event.run_id, event.run_id, time, index
                )
                self.edge(run, pk, "wrote", job_pk, version, time, index, seen)
                self.column_lineage(ref, pk, index)
        self.warnings(event, index)

    def classification(self, payload: dict[str, Any], index: int) -> None:
        """Apply a data owner's classification of a dataset (it outranks facet values)."""
        ref = DatasetRef(
            namespace=payload["namespace"],
            name=payload["name"],
            facets={},
            input_facets={},
            output_facets={},
        )
        row = self.dataset(ref, payload.get("event_time", ""), index)
        classification = _dumps(payload["classification"])
        tags = json.loads(row.tags) if row.tags else []
        row.classification = classification
        row.classification_index = index
        row.classification_source = "steward"
        row.is_personal = 1 if personal_data(classification, tags) else 0
        row.last_index = index

    # -- writing ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every change of the batch, one ``executemany`` per table and statement.

        On PostgreSQL they go out in one pipeline: one round trip for the whole batch.
        """
        with self.cursor.connection.pipeline() if self.postgres else contextlib.nullcontext():
            self._flush()

    def _flush(self) -> None:
        self._many(
            "INSERT INTO lineage_namespaces (name, first_index) VALUES (:n, :i) "
            "ON CONFLICT (name) DO NOTHING",
            [{"n": name, "i": index} for name, index in self.namespaces.items()],
        )
        self._flush_jobs()
        self._flush_runs()
        self._flush_datasets()
        self._many(
            "INSERT INTO lineage_dataset_facets (dataset_id, ledger_index, event_time, facets) "
            "VALUES (:d, :i, :t, :f) ON CONFLICT (dataset_id, ledger_index) DO NOTHING",
            self.facet_history,
        )
        self._many(
            "INSERT INTO lineage_dataset_versions (id, dataset_id, version, run_id, event_time, "
            "ledger_index) VALUES (:id, :d, :v, :r, :t, :i) ON CONFLICT (id) DO UPDATE SET "
            "event_time = CASE WHEN excluded.event_time < lineage_dataset_versions.event_time "
            "THEN excluded.event_time ELSE lineage_dataset_versions.event_time END",
            self.versions,
        )
        self._many(
            "INSERT INTO lineage_edges (run_pk, dataset_id, direction, ledger_index, job_id, "
            "version_id, event_time) VALUES (:r, :d, :dir, :i, :j, :v, :t) "
            "ON CONFLICT (run_pk, dataset_id, direction, ledger_index) DO NOTHING",
            self.edges,
        )
        self._flush_folded()
        self._many(
            "INSERT INTO lineage_column_edges (dataset_id, field, input_dataset_id, "
            "input_field, ledger_index, transformation) VALUES (:d, :f, :idd, :if, :i, :tr) "
            "ON CONFLICT (dataset_id, field, input_dataset_id, input_field, ledger_index) "
            "DO NOTHING",
            self.column_edges,
        )
        self._many(
            "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
            "VALUES (:i, :p, :path, :m) ON CONFLICT (ledger_index, position) DO NOTHING",
            self.warning_rows,
        )

    def _flush_jobs(self) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in self.jobs.items():
            if not (row.new or row.dirty):
                continue
            merged = row.facets
            job_type = merged.get("jobType", {})
            location = merged.get("sourceCodeLocation", {})
            ownership = merged.get("ownership", {})
            owners = (
                [
                    o["name"]
                    for o in ownership.get("owners", [])
                    if isinstance(o, dict) and "name" in o
                ]
                if isinstance(ownership, dict) and isinstance(ownership.get("owners"), list)
                else []
            )
            values = {
                "id": pk,
                "ns": row.namespace,
                "name": row.name,
                "jt": _dumps(job_type) if isinstance(job_type, dict) and job_type else None,
                "loc": location.get("url") if isinstance(location, dict) else None,
                "owners": _dumps(owners) if owners else None,
                "facets": row.text if row.text is not None else _dumps(merged),
                "ft": row.facets_time,
                "fi": row.first_index,
                "li": row.last_index,
            }
            (inserts if row.new else updates).append(values)
        self._many(
            "INSERT INTO lineage_jobs (id, namespace, name, job_type, source_code_location, "
            "owners, facets, facets_time, first_index, last_index) "
            "VALUES (:id, :ns, :name, :jt, :loc, :owners, :facets, :ft, :fi, :li)",
            inserts,
        )
        self._many(
            "UPDATE lineage_jobs SET job_type = :jt, source_code_location = :loc, "
            "owners = :owners, facets = :facets, facets_time = :ft, last_index = :li "
            "WHERE id = :id",
            [{k: v for k, v in u.items() if k not in ("ns", "name", "fi")} for u in updates],
        )

    def _flush_runs(self) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in self.runs.items():
            if not (row.new or row.dirty):
                continue
            values = {
                "id": pk,
                "rid": row.run_id,
                "job": row.job_id,
                "st": row.state,
                "stt": row.state_time,
                "start": row.started_at,
                "end": row.ended_at,
                "ft": row.first_event_time,
                "lt": row.last_event_time,
                "parent": row.parent_run_id,
                "root": row.root_run_id,
                "facets": row.text if row.text is not None else _dumps(row.facets),
                "fi": row.first_index,
                "li": row.last_index,
            }
            (inserts if row.new else updates).append(values)
        self._many(
            "INSERT INTO lineage_runs (id, run_id, job_id, state, state_time, started_at, "
            "ended_at, first_event_time, last_event_time, parent_run_id, root_run_id, facets, "
            "first_index, last_index) VALUES (:id, :rid, :job, :st, :stt, :start, :end, :ft, "
            ":lt, :parent, :root, :facets, :fi, :li)",
            inserts,
        )
        self._many(
            "UPDATE lineage_runs SET job_id = :job, state = :st, state_time = :stt, "
            "started_at = :start, ended_at = :end, first_event_time = :ft, "
            "last_event_time = :lt, parent_run_id = :parent, root_run_id = :root, "
            "facets = :facets, last_index = :li WHERE id = :id",
            [{k: v for k, v in u.items() if k not in ("rid", "fi")} for u in updates],
        )

    def _flush_datasets(self) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in self.datasets.items():
            if not (row.new or row.dirty):
                continue
            values = {
                "id": pk,
                "ns": row.namespace,
                "name": row.name,
                "facets": row.text if row.text is not None else _dumps(row.facets),
                "ft": row.facets_time,
                "cls": row.classification,
                "ci": row.classification_index,
                "src": row.classification_source,
                "tags": row.tags,
                "model": row.is_model,
                "personal": row.is_personal,
                "fi": row.first_index,
                "li": row.last_index,
            }
            (inserts if row.new else updates).append(values)
        self._many(
            "INSERT INTO lineage_datasets (id, namespace, name, facets, facets_time, "
            "classification, classification_index, classification_source, tags, is_model, "
            "is_personal, first_index, last_index) VALUES (:id, :ns, :name, :facets, :ft, "
            ":cls, :ci, :src, :tags, :model, :personal, :fi, :li)",
            inserts,
        )
        self._many(
            "UPDATE lineage_datasets SET facets = :facets, facets_time = :ft, "
            "classification = :cls, classification_index = :ci, classification_source = :src, "
            "tags = :tags, is_model = :model, is_personal = :personal, last_index = :li "
            "WHERE id = :id",
            [{k: v for k, v in u.items() if k not in ("ns", "name", "fi")} for u in updates],
        )

    def _flush_folded(self) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        counts: list[dict[str, Any]] = []
        for (job, direction, dataset), row in self.folded.items():
            key = {"j": job, "dir": direction, "d": dataset, "n": row.count}
            if row.new or row.changed:
                first = row.times.partition(" ")[0]
                values = key | {"t": first, "i": row.indexes, "ts": row.times}
                (inserts if row.new else updates).append(values)
            elif row.dirty:
                counts.append(key)
        self._many(
            "INSERT INTO lineage_job_dataset_edges (job_id, direction, dataset_id, first_time, "
            "evidence_count, evidence_indexes, evidence_times) "
            "VALUES (:j, :dir, :d, :t, :n, :i, :ts)",
            inserts,
        )
        self._many(
            "UPDATE lineage_job_dataset_edges SET first_time = :t, evidence_count = :n, "
            "evidence_indexes = :i, evidence_times = :ts "
            "WHERE job_id = :j AND direction = :dir AND dataset_id = :d",
            updates,
        )
        self._many(
            "UPDATE lineage_job_dataset_edges SET evidence_count = :n "
            "WHERE job_id = :j AND direction = :dir AND dataset_id = :d",
            counts,
        )


def _version_label(ref: DatasetRef) -> str | None:
    facet = ref.facets.get("version") or ref.facets.get("datasetVersion")
    if isinstance(facet, dict) and facet.get("datasetVersion"):
        return str(facet["datasetVersion"])
    return None


def _decode(index: int, kind: str, data: bytes | None, parsed: Any) -> tuple[int, str, Any] | None:
    """What an entry asks of the projection: ``(index, kind, event or payload)``, or None.

    ``parsed`` is the event as parsed at ingest, when the caller has it. An erased entry asks
    for nothing: its lineage is gone with it.
    """
    if kind == LINEAGE_KIND:
        if isinstance(parsed, LineageEvent):
            return index, kind, parsed
        if data is None:
            return None
        return index, kind, validate_event(json.loads(data))
    if kind == CLASSIFICATION_KIND and data is not None:
        return index, kind, json.loads(data)
    return None


def _apply(batch: _Batch, items: Sequence[tuple[int, str, Any]]) -> None:
    """Apply decoded entries in ledger order and write the result."""
    batch.load(items)
    for index, kind, value in items:
        if kind == LINEAGE_KIND:
            batch.lineage_event(value, index)
        else:
            batch.classification(value, index)
    batch.flush()


class Projector:
    """Keeps the lineage tables up to date with the ledger.

    Two paths apply entries, both in ledger order and both advancing the watermark in the same
    transaction as their writes:

    * :meth:`on_append`, a ledger append hook: the writer projects each batch inside the batch's
      own transaction when the projection is current, so an acknowledged event is already
      queryable and no second transaction, read-back or parse is needed;
    * :meth:`catch_up` (and the follower thread started by :meth:`start`): everything else —
      entries appended by a process without the hook, a batch whose projection failed, or a
      rebuild by ``ledger reindex``.

    ``write_lock`` (the ledger's, on SQLite) makes the follower queue behind the ledger writer in
    this process rather than in SQLite's busy handler.
    """

    def __init__(self, engine: Engine, write_lock: threading.Lock | None = None) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._write_lock = write_lock if write_lock is not None and not self._postgres else None
        self._lock = threading.Lock()
        self._applied = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow the ledger in a background thread for what the append hook did not apply."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._follow, name="projector", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following (what is committed stays committed; a restart catches up)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def notify(self) -> None:
        """Something was appended that the hook did not project: catch up soon."""
        self._wake.set()

    def _follow(self) -> None:
        while not self._stopping:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stopping:
                return
            try:
                if self.behind():
                    self.catch_up()
            except Exception:
                log.exception("the lineage projection could not catch up; retrying")

    def behind(self) -> bool:
        """Whether the ledger holds entries the projection has not applied (a plain read)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT h.size, s.next_index FROM ledger_head h "
                    "LEFT JOIN lineage_projection_state s ON s.id = 1 WHERE h.id = 1"
                )
            ).one()
        return row[1] is None or int(row[1]) < int(row[0])

    # -- the append hook ---------------------------------------------------------------------

    def on_append(self, cursor: Any, postgres: bool, entries: Sequence[AppendedEntry]) -> None:
        """Project a ledger batch inside its transaction, if the projection is current.

        When the watermark is not exactly the batch's first index (the projection is behind, or
        on PostgreSQL another transaction holds the watermark) nothing is done here and the
        follower is woken to catch up instead. An exception rolls back this hook's writes only
        (the ledger runs it in a savepoint); the follower then applies the batch entry by entry.
        """
        if not entries:
            return
        state = "SELECT next_index FROM lineage_projection_state WHERE id = 1"
        cursor.execute(state + (" FOR UPDATE SKIP LOCKED" if postgres else ""))
        row = cursor.fetchone()
        if row is None or int(row[0]) != entries[0].index:
            self.notify()
            return
        batch = _Batch(cursor, postgres)
        items = [
            item
            for entry in entries
            if (item := _decode(entry.index, entry.kind, entry.payload, entry.context))
        ]
        _apply(batch, items)
        end = entries[-1].index + 1
        batch.execute("UPDATE lineage_projection_state SET next_index = :n WHERE id = 1", n=end)

    # -- catching up ---------------------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything committed; returns the new watermark."""
        with self._lock:
            while True:
                before = self._applied
                done = self._catch_up_once(progress)
                if done or self._applied == before:
                    return self._applied

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A write transaction on a DBAPI cursor (behind the ledger writer, on SQLite)."""
        guard = self._write_lock if self._write_lock is not None else contextlib.nullcontext()
        with guard:
            conn = self._engine.raw_connection()
            try:
                cursor = conn.cursor()
                if not self._postgres:
                    cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                conn.close()

    def _catch_up_once(self, progress: Callable[[int], None] | None = None) -> bool:
        """Apply one chunk in one transaction; True when nothing committed is left.

        The chunk is applied in one go; if any entry fails, the transaction is rolled back and
        the chunk applied again entry by entry, each in a savepoint, recording why a failing
        entry is missing from the projection (it stays in the ledger).
        """
        try:
            return self._apply_chunk(progress, isolate=False)
        except Exception:
            log.warning("projecting a chunk failed; applying it entry by entry", exc_info=True)
            return self._apply_chunk(progress, isolate=True)

    def _apply_chunk(self, progress: Callable[[int], None] | None, *, isolate: bool) -> bool:
        postgres = self._postgres
        with self._transaction() as cursor:
            batch = _Batch(cursor, postgres)
            state_sql = "SELECT next_index FROM lineage_projection_state WHERE id = 1"
            cursor.execute(state_sql + (" FOR UPDATE" if postgres else ""))
            found = cursor.fetchone()
            if found is None:
                # The watermark row is gone (deleted by hand): start over from entry 0.
                cursor.execute(
                    "INSERT INTO lineage_projection_state (id, next_index) VALUES (1, 0)"
                )
            start = int(found[0]) if found is not None else 0
            cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
            head = int(cursor.fetchone()[0])
            rows = batch.execute(
                "SELECT e.idx, e.kind, p.data FROM ledger_entries e "
                "LEFT JOIN ledger_payloads p ON p.idx = e.idx "
                "WHERE e.idx >= :start AND e.idx < :head AND e.kind IN ('openlineage', "
                "'dataset-classification') ORDER BY e.idx LIMIT :n",
                start=start,
                head=head,
                n=_CHUNK,
            )
            entries = [(int(i), str(k), None if d is None else bytes(d)) for i, k, d in rows]
            if not isolate:
                _apply(batch, [x for e in entries if (x := _decode(*e, None))])
            for index, kind, data in entries if isolate else ():
                cursor.execute("SAVEPOINT projection_entry")
                try:
                    item = _decode(index, kind, data, None)
                    _apply(_Batch(cursor, postgres), [item] if item else [])
                except Exception as exc:
                    # The entry stays in the ledger; the projection records why it is missing.
                    log.exception("could not project ledger entry %d", index)
                    cursor.execute("ROLLBACK TO SAVEPOINT projection_entry")
                    batch.projection_failure(index, exc)
                cursor.execute("RELEASE SAVEPOINT projection_entry")
            complete = len(rows) < _CHUNK
            new_start = head if complete else int(rows[-1][0]) + 1
            batch.execute(
                "UPDATE lineage_projection_state SET next_index = :n WHERE id = 1", n=new_start
            )
        self._applied = new_start
        if progress is not None:
            progress(new_start - start)
        return complete

    def reset(self) -> None:
        """Empty the projection and rewind the watermark (``ledger reindex`` then catches up)."""
        with self._lock, self._transaction() as cursor:
            for table in PROJECTION_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            cursor.execute("DELETE FROM lineage_projection_state")
            cursor.execute("INSERT INTO lineage_projection_state (id, next_index) VALUES (1, 0)")
            self._applied = 0
