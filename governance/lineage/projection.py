"""Projects ledger entries into the lineage tables, in ledger order, exactly once.

A watermark row (``lineage_projection_state.next_index``) says how far the projection has applied
the ledger. :meth:`Projector.catch_up` applies every lineage entry between the watermark and the
committed head in one transaction that also advances the watermark, so a crash, a restart or a
second process can neither skip nor repeat an entry. ``ledger reindex`` empties the tables, resets
the watermark and catches up from entry 0; ids are deterministic, so the rebuild is identical.
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
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from governance.ledger.store import AppendedEntry
from governance.lineage.models import EVIDENCE_PER_EDGE, PROJECTION_TABLES, stable_id
from governance.lineage.validation import DatasetRef, LineageEvent, validate_event

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


def _merge_facets(
    stored: str | None, stored_time: str | None, new: dict[str, Any], time: str
) -> tuple[dict[str, Any], str]:
    """Newer events override facets of the same name; older ones only fill in what is missing."""
    current: dict[str, Any] = json.loads(stored) if stored else {}
    if stored_time is None or time >= stored_time:
        current.update(new)
        return current, time
    for key, value in new.items():
        current.setdefault(key, value)
    return current, stored_time


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


class _Writer:
    """Applies one entry's effects through a DBAPI cursor inside the projection transaction.

    Statements go to the driver directly: the projection runs a dozen per event, and compiling
    each through SQLAlchemy costs more than executing it.
    """

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self.cursor = cursor
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return _pyformat(sql) if self._postgres else sql

    def _one(self, sql: str, **params: Any) -> Any:
        self.cursor.execute(self._sql(sql), params)
        return self.cursor.fetchone()

    def _exec(self, sql: str, **params: Any) -> None:
        self.cursor.execute(self._sql(sql), params)

    def execute(self, sql: str, **params: Any) -> list[Any]:
        """Run one statement with ``:name`` parameters; its rows, if it returns any."""
        self.cursor.execute(self._sql(sql), params)
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def namespace(self, name: str, index: int) -> None:
        self._exec(
            "INSERT INTO lineage_namespaces (name, first_index) VALUES (:n, :i) "
            "ON CONFLICT (name) DO NOTHING",
            n=name,
            i=index,
        )

    def job(self, namespace: str, name: str, facets: dict[str, Any], time: str, index: int) -> int:
        self.namespace(namespace, index)
        pk = job_id(namespace, name)
        row = self._one("SELECT facets, facets_time FROM lineage_jobs WHERE id = :id", id=pk)
        merged, merged_time = _merge_facets(
            row[0] if row else None, row[1] if row else None, facets, time
        )
        job_type = merged.get("jobType", {})
        location = merged.get("sourceCodeLocation", {})
        ownership = merged.get("ownership", {})
        owners = (
            [o["name"] for o in ownership.get("owners", []) if isinstance(o, dict) and "name" in o]
            if isinstance(ownership, dict) and isinstance(ownership.get("owners"), list)
            else []
        )
        values = {
            "id": pk,
            "ns": namespace,
            "name": name,
            "jt": _dumps(job_type) if isinstance(job_type, dict) and job_type else None,
            "loc": location.get("url") if isinstance(location, dict) else None,
            "owners": _dumps(owners) if owners else None,
            "facets": _dumps(merged),
            "ft": merged_time,
            "i": index,
        }
        if row is None:
            self._exec(
                "INSERT INTO lineage_jobs (id, namespace, name, job_type, source_code_location, "
                "owners, facets, facets_time, first_index, last_index) "
                "VALUES (:id, :ns, :name, :jt, :loc, :owners, :facets, :ft, :i, :i)",
                **values,
            )
        else:
            self._exec(
                "UPDATE lineage_jobs SET job_type = :jt, source_code_location = :loc, "
                "owners = :owners, facets = :facets, facets_time = :ft, last_index = :i "
                "WHERE id = :id",
                **values,
            )
        return pk

    def run(self, event: LineageEvent, job_pk: int, index: int) -> int:
        assert event.run_id is not None
        pk = run_pk(event.run_id)
        time = event.event_time_text
        state = event.event_type if event.event_type in _STATE_RANK else "OTHER"
        row = self._one(
            "SELECT state, state_time, started_at, ended_at, first_event_time, last_event_time, "
            "facets, parent_run_id, root_run_id FROM lineage_runs WHERE id = :id",
            id=pk,
        )
        parent = event.parent[2] if event.parent else None
        root = event.root[2] if event.root else None
        if row is None:
            self._exec(
                "INSERT INTO lineage_runs (id, run_id, job_id, state, state_time, started_at, "
                "ended_at, first_event_time, last_event_time, parent_run_id, root_run_id, facets, "
                "first_index, last_index) VALUES (:id, :rid, :job, :st, :t, :start, :end, :t, :t, "
                ":parent, :root, :facets, :i, :i)",
                id=pk,
                rid=event.run_id,
                job=job_pk,
                st=state,
                t=time,
                start=time if state == "START" else None,
                end=time if state in _TERMINAL else None,
                parent=parent,
                root=root,
                facets=_dumps(event.run_facets),
                i=index,
            )
            return pk
        old_state, state_time, started, ended, first_time, last_time = row[:6]
        rank, old_rank = _STATE_RANK.get(state, 0), _STATE_RANK.get(old_state, 0)
        if rank > old_rank or (rank == old_rank and time >= state_time):
            old_state, state_time = state, time
        if state == "START" and (started is None or time < started):
            started = time
        if state in _TERMINAL and (ended is None or time > ended):
            ended = time
        facets, _ = _merge_facets(row[6], last_time, event.run_facets, time)
        self._exec(
            "UPDATE lineage_runs SET job_id = :job, state = :st, state_time = :stt, "
            "started_at = :start, ended_at = :end, first_event_time = :ft, "
            "last_event_time = :lt, parent_run_id = :parent, root_run_id = :root, "
            "facets = :facets, last_index = :i WHERE id = :id",
            id=pk,
            job=job_pk,
            st=old_state,
            stt=state_time,
            start=started,
            end=ended,
            ft=min(first_time, time),
            lt=max(last_time, time),
            parent=parent or row[7],
            root=root or row[8],
            facets=_dumps(facets),
            i=index,
        )
        return pk

    def dataset(self, ref: DatasetRef, time: str, index: int) -> int:
        self.namespace(ref.namespace, index)
        pk = dataset_id(ref.namespace, ref.name)
        row = self._one(
            "SELECT facets, facets_time, classification_index, classification_source, "
            "classification FROM lineage_datasets WHERE id = :id",
            id=pk,
        )
        merged, merged_time = _merge_facets(
            row[0] if row else None, row[1] if row else None, ref.facets, time
        )
        # Only a facet this event carries classifies; the merged facets would re-apply old ones.
        governance = ref.facets.get("governance")
        classification = _dumps(governance) if isinstance(governance, dict) else None
        tags = _tags(merged)
        # A steward's explicit classification (an entry of its own) outranks facets: a facet
        # classification replaces only an earlier facet classification or none.
        update_classification = classification is not None and (row is None or row[3] != "steward")
        effective = classification if row is None or update_classification else row[4]
        values = {
            "id": pk,
            "ns": ref.namespace,
            "name": ref.name,
            "personal": 1 if personal_data(effective, tags) else 0,
            "facets": _dumps(merged),
            "ft": merged_time,
            "tags": _dumps(tags) if tags else None,
            "model": 1 if _is_model(merged) else 0,
            "i": index,
        }
        if row is None:
            self._exec(
                "INSERT INTO lineage_datasets (id, namespace, name, facets, facets_time, "
                "classification, classification_index, classification_source, tags, is_model, "
                "is_personal, first_index, last_index) VALUES (:id, :ns, :name, :facets, :ft, "
                ":cls, :ci, :src, :tags, :model, :personal, :i, :i)",
                cls=classification,
                ci=index if classification else None,
                src="facet" if classification else None,
                **values,
            )
        else:
            # A steward's explicit classification (an entry of its own) outranks facets.
            self._exec(
                "UPDATE lineage_datasets SET facets = :facets, facets_time = :ft, tags = :tags, "
                "is_model = :model, is_personal = :personal, last_index = :i, "
                "classification = CASE WHEN :upd THEN :cls ELSE classification END, "
                "classification_index = CASE WHEN :upd THEN :i ELSE classification_index END, "
                "classification_source = CASE WHEN :upd THEN 'facet' "
                "ELSE classification_source END "
                "WHERE id = :id",
                cls=classification,
                upd=update_classification,
                **values,
            )
        if ref.facets:
            self._exec(
                "INSERT INTO lineage_dataset_facets (dataset_id, ledger_index, event_time, facets) "
                "VALUES (:d, :i, :t, :f) ON CONFLICT (dataset_id, ledger_index) DO NOTHING",
                d=pk,
                i=index,
                t=time,
                f=_dumps(ref.facets),
            )
        return pk

    def version(
        self, dataset_pk: int, version: str, run_id: str | None, time: str, index: int
    ) -> int:
        pk = stable_id("version", str(dataset_pk), version)
        self._exec(
            "INSERT INTO lineage_dataset_versions (id, dataset_id, version, run_id, event_time, "
            "ledger_index) VALUES (:id, :d, :v, :r, :t, :i) ON CONFLICT (id) DO UPDATE SET "
            "event_time = CASE WHEN excluded.event_time < lineage_dataset_versions.event_time "
            "THEN excluded.event_time ELSE lineage_dataset_versions.event_time END",
            id=pk,
            d=dataset_pk,
            v=version,
            r=run_id,
            t=time,
            i=index,
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
    ) -> None:
        self._exec(
            "INSERT INTO lineage_edges (run_pk, dataset_id, direction, ledger_index, job_id, "
            "version_id, event_time) VALUES (:r, :d, :dir, :i, :j, :v, :t) "
            "ON CONFLICT (run_pk, dataset_id, direction, ledger_index) DO NOTHING",
            r=run,
            d=dataset,
            dir=direction,
            i=index,
            j=job,
            v=version,
            t=time,
        )
        if self.cursor.rowcount != 1:
            return  # already asserted by this entry (a dataset listed twice)
        self.job_dataset_edge(job, direction, dataset, time, index)

    def job_dataset_edge(
        self, job: int, direction: str, dataset: int, time: str, index: int
    ) -> None:
        """Fold one more asserting edge into the job-dataset edge that graph traversal walks.

        The row keeps the first :data:`EVIDENCE_PER_EDGE` asserting edges in (event time, ledger
        index) order, so "as of T" is always a prefix of them, whatever order events arrive in.
        """
        row = self._one(
            "SELECT evidence_count, evidence_indexes, evidence_times "
            "FROM lineage_job_dataset_edges "
            "WHERE job_id = :j AND direction = :dir AND dataset_id = :d",
            j=job,
            dir=direction,
            d=dataset,
        )
        if row is None:
            self._exec(
                "INSERT INTO lineage_job_dataset_edges (job_id, direction, dataset_id, "
                "first_time, evidence_count, evidence_indexes, evidence_times) "
                "VALUES (:j, :dir, :d, :t, 1, :i, :ts)",
                j=job,
                dir=direction,
                d=dataset,
                t=time,
                i=str(index),
                ts=time,
            )
            return
        items = list(zip(row[2].split(" "), map(int, row[1].split(" ")), strict=True))
        if len(items) >= EVIDENCE_PER_EDGE and (time, index) > items[-1]:
            self._exec(
                "UPDATE lineage_job_dataset_edges SET evidence_count = evidence_count + 1 "
                "WHERE job_id = :j AND direction = :dir AND dataset_id = :d",
                j=job,
                dir=direction,
                d=dataset,
            )
            return
        items = sorted([*items, (time, index)])[:EVIDENCE_PER_EDGE]
        self._exec(
            "UPDATE lineage_job_dataset_edges SET first_time = :t, evidence_count = :n, "
            "evidence_indexes = :i, evidence_times = :ts "
            "WHERE job_id = :j AND direction = :dir AND dataset_id = :d",
            t=items[0][0],
            n=int(row[0]) + 1,
            i=" ".join(str(i) for _, i in items),
            ts=" ".join(t for t, _ in items),
            j=job,
            dir=direction,
            d=dataset,
        )

    def column_lineage(self, output: DatasetRef, out_pk: int, index: int) -> None:
        facet = output.facets.get("columnLineage")
        fields = facet.get("fields") if isinstance(facet, dict) else None
        if not isinstance(fields, dict):
            return
        for field, spec in fields.items():
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
                self._exec(
                    "INSERT INTO lineage_column_edges (dataset_id, field, input_dataset_id, "
                    "input_field, ledger_index, transformation) "
                    "VALUES (:d, :f, :idd, :if, :i, :tr) "
                    "ON CONFLICT (dataset_id, field, input_dataset_id, input_field, ledger_index) "
                    "DO NOTHING",
                    d=out_pk,
                    f=field,
                    idd=dataset_id(ns, name),
                    **{"if": in_field},
                    i=index,
                    tr=_dumps(transformations) if transformations else None,
                )

    def projection_failure(self, index: int, exc: Exception) -> None:
        self._exec(
            "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
            "VALUES (:i, -1, '$', :m) ON CONFLICT (ledger_index, position) DO NOTHING",
            i=index,
            m=f"not projected: {type(exc).__name__}"[:300],
        )

    def warnings(self, event: LineageEvent, index: int) -> None:
        for position, problem in enumerate(event.warnings):
            self._exec(
                "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
                "VALUES (:i, :p, :path, :m) ON CONFLICT (ledger_index, position) DO NOTHING",
                i=index,
                p=position,
                path=problem.path,
                m=problem.message,
            )

    # -- entry kinds ------------------------------------------------------------------------

    def lineage_event(self, event: LineageEvent, index: int) -> None:
        time = event.event_time_text
        if event.kind == "dataset":
            assert event.dataset is not None
            pk = self.dataset(event.dataset, time, index)
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
            for ref in event.inputs:
                pk = dataset_id(ref.namespace, ref.name)
                label = _version_label(ref)
                version = stable_id("version", str(pk), label) if label else None
                self.edge(run, pk, "read", job_pk, version, time, index)
            for ref in event.outputs:
                pk = dataset_id(ref.namespace, ref.name)
                version = self.version(
                    pk, _version_label(ref) or event.run_id, event.run_id, time, index
                )
                self.edge(run, pk, "wrote", job_pk, version, time, index)
                self.column_lineage(ref, pk, index)
        self.warnings(event, index)

    def classification(self, payload: dict[str, Any], index: int) -> None:
        ref = DatasetRef(
            namespace=payload["namespace"],
            name=payload["name"],
            facets={},
            input_facets={},
            output_facets={},
        )
        pk = self.dataset(ref, payload.get("event_time", ""), index)
        tags = self._one("SELECT tags FROM lineage_datasets WHERE id = :id", id=pk)[0]
        classification = _dumps(payload["classification"])
        personal = personal_data(classification, json.loads(tags) if tags else [])
        self._exec(
            "UPDATE lineage_datasets SET classification = :c, classification_index = :i, "
            "classification_source = 'steward', is_personal = :p, last_index = :i "
            "WHERE id = :id",
            c=classification,
            p=1 if personal else 0,
            i=index,
            id=pk,
        )


def _version_label(ref: DatasetRef) -> str | None:
    facet = ref.facets.get("version") or ref.facets.get("datasetVersion")
    if isinstance(facet, dict) and facet.get("datasetVersion"):
        return str(facet["datasetVersion"])
    return None


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

    def applied(self) -> int:
        """Entries below this index are reflected in the projection (as last seen here)."""
        return self._applied

    def behind(self) -> bool:
        """Whether the ledger holds entries the projection has not applied (a plain read)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT h.size, s.next_index FROM ledger_head h "
                    "LEFT JOIN lineage_projection_state s ON s.id = 1 WHERE h.id = 1"
                )
            ).one()
        if row[1] is not None:
            self._applied = max(self._applied, int(row[1]))
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
        writer = _Writer(cursor, postgres)
        for entry in entries:
            if entry.kind in PROJECTED_KINDS:
                self._apply(writer, entry.index, entry.kind, entry.payload, entry.context)
        end = entries[-1].index + 1
        writer.execute("UPDATE lineage_projection_state SET next_index = :n WHERE id = 1", n=end)

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
            writer = _Writer(cursor, postgres)
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
            rows = writer.execute(
                "SELECT e.idx, e.kind, p.data FROM ledger_entries e "
                "LEFT JOIN ledger_payloads p ON p.idx = e.idx "
                "WHERE e.idx >= :start AND e.idx < :head AND e.kind IN ('openlineage', "
                "'dataset-classification') ORDER BY e.idx LIMIT :n",
                start=start,
                head=head,
                n=_CHUNK,
            )
            for idx, kind, data in rows:
                payload = None if data is None else bytes(data)
                if not isolate:
                    self._apply(writer, int(idx), str(kind), payload, None)
                    continue
                cursor.execute("SAVEPOINT projection_entry")
                try:
                    self._apply(writer, int(idx), str(kind), payload, None)
                except Exception as exc:
                    # The entry stays in the ledger; the projection records why it is missing.
                    log.exception("could not project ledger entry %d", idx)
                    cursor.execute("ROLLBACK TO SAVEPOINT projection_entry")
                    writer.projection_failure(int(idx), exc)
                cursor.execute("RELEASE SAVEPOINT projection_entry")
            complete = len(rows) < _CHUNK
            new_start = head if complete else int(rows[-1][0]) + 1
            writer.execute(
                "UPDATE lineage_projection_state SET next_index = :n WHERE id = 1", n=new_start
            )
        self._applied = new_start
        if progress is not None:
            progress(new_start - start)
        return complete

    @staticmethod
    def _apply(writer: _Writer, index: int, kind: str, data: bytes | None, parsed: Any) -> None:
        if kind == LINEAGE_KIND:
            event = parsed if isinstance(parsed, LineageEvent) else None
            if event is None:
                if data is None:
                    return  # erased: its lineage is gone with it
                event = validate_event(json.loads(data))
            writer.lineage_event(event, index)
        elif kind == CLASSIFICATION_KIND and data is not None:
            writer.classification(json.loads(data), index)

    def reset(self) -> None:
        """Empty the projection and rewind the watermark (``ledger reindex`` then catches up)."""
        with self._lock, self._transaction() as cursor:
            for table in PROJECTION_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            cursor.execute("DELETE FROM lineage_projection_state")
            cursor.execute("INSERT INTO lineage_projection_state (id, next_index) VALUES (1, 0)")
            self._applied = 0
