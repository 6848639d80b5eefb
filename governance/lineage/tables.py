"""Reading and writing the lineage tables for a :class:`~governance.lineage.fold.LineageFold`.

:meth:`LineageTables.load` reads every job, dataset, run and job-dataset edge row a run of entries
touches (one statement per table; on PostgreSQL all in one round trip), the fold changes them in
memory, and :meth:`LineageTables.flush` writes each table with one ``executemany`` (pipelined on
PostgreSQL). Statements go to the driver directly: compiling each through SQLAlchemy costs more
than executing it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from governance.lineage.fold import (
    DatasetRow,
    FoldedEdge,
    Item,
    JobRow,
    LineageFold,
    RunRow,
    _dumps,
)
from governance.sql import Dialect, select_by_ids

_FOLDED_SELECT = (
    "SELECT job_id, direction, dataset_id, evidence_count, evidence_indexes, evidence_times "
    "FROM lineage_job_dataset_edges WHERE {ids}"
)


class LineageTables:
    """The lineage tables, through one open transaction's DB-API cursor."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def _many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.cursor.executemany(self.dialect.sql(sql), rows)

    def load(self, fold: LineageFold, entries: Sequence[Item]) -> None:
        """Read into ``fold`` the rows ``entries`` touch."""
        jobs, datasets, runs = fold.touched(entries)
        folded_jobs = jobs - fold.loaded_folded_jobs
        job_rows, dataset_rows, run_rows, folded_rows = select_by_ids(
            self.cursor,
            self.dialect,
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
            ],
        )
        for pk, ns, name, facets, ftime, first, last in job_rows:
            fold.jobs[int(pk)] = JobRow(
                ns, name, json.loads(facets), ftime, first, last, text=facets
            )
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
            fold.datasets[int(pk)] = DatasetRow(
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
            fold.runs[int(pk)] = RunRow(
                rid, job, state, state_time, started, ended, first_time, last_time, parent, root,
                facets, first, last, text=facets_text,
            )  # fmt: skip
        self._add_folded(fold, folded_jobs, folded_rows)

    def load_folded(self, fold: LineageFold, jobs: set[int]) -> None:
        """Read into ``fold`` the job-dataset edge rows of ``jobs`` not read yet."""
        jobs = jobs - fold.loaded_folded_jobs
        (rows,) = select_by_ids(self.cursor, self.dialect, [(_FOLDED_SELECT, "job_id", jobs)])
        self._add_folded(fold, jobs, rows)

    @staticmethod
    def _add_folded(fold: LineageFold, jobs: set[int], rows: list[Any]) -> None:
        for job, direction, dataset, count, indexes, times in rows:
            fold.folded[(int(job), direction, int(dataset))] = FoldedEdge(
                int(count), indexes, times
            )
        fold.loaded_folded_jobs |= jobs

    def flush(self, fold: LineageFold) -> None:
        """Write every change of the batch, one ``executemany`` per table and statement.

        On PostgreSQL they go out in one pipeline: one round trip for the whole batch.
        """
        with (
            self.cursor.connection.pipeline() if self.dialect.postgres else contextlib.nullcontext()
        ):
            self._flush(fold)

    def _flush(self, fold: LineageFold) -> None:
        self._many(
            "INSERT INTO lineage_namespaces (name, first_index) VALUES (:n, :i) "
            "ON CONFLICT (name) DO NOTHING",
            [{"n": name, "i": index} for name, index in fold.namespaces.items()],
        )
        self._flush_jobs(fold)
        self._flush_runs(fold)
        self._flush_datasets(fold)
        self._many(
            "INSERT INTO lineage_dataset_facets (dataset_id, ledger_index, event_time, facets) "
            "VALUES (:d, :i, :t, :f) ON CONFLICT (dataset_id, ledger_index) DO NOTHING",
            fold.facet_history,
        )
        self._many(
            "INSERT INTO lineage_dataset_versions (id, dataset_id, version, run_id, event_time, "
            "ledger_index) VALUES (:id, :d, :v, :r, :t, :i) ON CONFLICT (id) DO UPDATE SET "
            "event_time = CASE WHEN excluded.event_time < lineage_dataset_versions.event_time "
            "THEN excluded.event_time ELSE lineage_dataset_versions.event_time END",
            fold.versions,
        )
        self._many(
            "INSERT INTO lineage_edges (run_pk, dataset_id, direction, ledger_index, job_id, "
            "version_id, event_time) VALUES (:r, :d, :dir, :i, :j, :v, :t) "
            "ON CONFLICT (run_pk, dataset_id, direction, ledger_index) DO NOTHING",
            fold.edges,
        )
        self._flush_folded(fold)
        self._many(
            "INSERT INTO lineage_column_edges (dataset_id, field, input_dataset_id, "
            "input_field, ledger_index, transformation) VALUES (:d, :f, :idd, :if, :i, :tr) "
            "ON CONFLICT (dataset_id, field, input_dataset_id, input_field, ledger_index) "
            "DO NOTHING",
            fold.column_edges,
        )
        self._many(
            "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
            "VALUES (:i, :p, :path, :m) ON CONFLICT (ledger_index, position) DO NOTHING",
            fold.warning_rows,
        )

    def _flush_jobs(self, fold: LineageFold) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in fold.jobs.items():
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

    def _flush_runs(self, fold: LineageFold) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in fold.runs.items():
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

    def _flush_datasets(self, fold: LineageFold) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for pk, row in fold.datasets.items():
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

    def _flush_folded(self, fold: LineageFold) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        counts: list[dict[str, Any]] = []
        for (job, direction, dataset), row in fold.folded.items():
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
