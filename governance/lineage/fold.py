"""The lineage fold: how OpenLineage events and classifications change the lineage rows.

Pure: no SQL. A :class:`LineageFold` holds the rows a run of entries touches (read beforehand by
:mod:`governance.lineage.tables`), applies each entry to them in ledger order exactly as one
statement per change would, and collects the rows to insert; :mod:`~governance.lineage.tables`
then writes what changed. The rules (which event wins a run's state, how facets merge, when a
facet repeats nothing new, how a steward's classification outranks facets, which asserting edges
a job-dataset edge keeps) live here, and ``tests/unit/test_lineage_fold.py`` states them as tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from governance.ledger import kinds
from governance.lineage.models import EVIDENCE_PER_EDGE, stable_id
from governance.lineage.validation import DatasetRef, LineageEvent

#: An entry as the fold takes it: (ledger index, kind name, parsed event or classification).
Item = tuple[int, str, Any]

# A run's state is the most advanced one reported, whatever order events arrive in.
STATE_RANK = {"OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3}
TERMINAL_STATES = {"COMPLETE", "FAIL", "ABORT"}


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
class JobRow:
    """A ``lineage_jobs`` row being folded."""

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
class DatasetRow:
    """A ``lineage_datasets`` row being folded."""

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
class RunRow:
    """A ``lineage_runs`` row being folded."""

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
class FoldedEdge:
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


def _version_label(ref: DatasetRef) -> str | None:
    facet = ref.facets.get("version") or ref.facets.get("datasetVersion")
    if isinstance(facet, dict) and facet.get("datasetVersion"):
        return str(facet["datasetVersion"])
    return None


class LineageFold:
    """The rows a run of entries touches, and the entries applied to them in memory.

    ``load_folded`` reads the job-dataset edge rows of jobs whose rows were not read beforehand
    (``loaded_folded_jobs``) into ``folded``; the fold calls it before folding an edge of such a
    job.
    """

    def __init__(self, load_folded: Callable[[set[int]], None] | None = None) -> None:
        self._load_folded_rows = load_folded
        self.namespaces: dict[str, int] = {}
        self.jobs: dict[int, JobRow] = {}
        self.datasets: dict[int, DatasetRow] = {}
        self.runs: dict[int, RunRow] = {}
        self.folded: dict[tuple[int, str, int], FoldedEdge] = {}
        self.loaded_folded_jobs: set[int] = set()
        self.facet_history: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.column_edges: list[dict[str, Any]] = []
        self.warning_rows: list[dict[str, Any]] = []

    @staticmethod
    def touched(entries: Sequence[Item]) -> tuple[set[int], set[int], set[int]]:
        """The ids of the jobs, datasets and runs ``entries`` touch (the rows to read first)."""
        jobs: set[int] = set()
        datasets: set[int] = set()
        runs: set[int] = set()
        """Read the rows ``entries`` (index, kind, event or classification payload) touch."""
        for _index, kind, value in entries:
            if kind == kinds.DATASET_CLASSIFICATION.name:
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
        return jobs, datasets, runs

    def _load_folded(self, jobs: set[int]) -> None:
        if self._load_folded_rows is not None:
            self._load_folded_rows(jobs)

    def apply(self, entries: Sequence[Item]) -> None:
        """Apply decoded entries in ledger order."""
        for index, kind, value in entries:
            if kind == kinds.OPENLINEAGE.name:
                self.lineage_event(value, index)
            else:
                self.classification(value, index)

    def namespace(self, name: str, index: int) -> None:
        """A namespace is known from its first entry on."""
        self.namespaces.setdefault(name, index)

    def job(self, namespace: str, name: str, facets: dict[str, Any], time: str, index: int) -> int:
        """Fold a job's facets; returns its id. Newer facets win, older ones fill gaps."""
        self.namespace(namespace, index)
        pk = job_id(namespace, name)
        row = self.jobs.get(pk)
        if row is None:
            self.jobs[pk] = JobRow(namespace, name, dict(facets), time, index, index, new=True)
            return pk
        row.facets_time, changed = _merge(row.facets, row.facets_time, facets, time)
        if changed:
            row.text = None
        row.last_index = index
        row.dirty = True
        return pk

    def run(self, event: LineageEvent, job_pk: int, index: int) -> int:
        """Fold one event of a run; returns its id. The most advanced state reported wins."""
        assert event.run_id is not None
        pk = run_pk(event.run_id)
        time = event.event_time_text
        state = event.event_type if event.event_type in STATE_RANK else "OTHER"
        parent = event.parent[2] if event.parent else None
        root = event.root[2] if event.root else None
        row = self.runs.get(pk)
        if row is None:
            self.runs[pk] = RunRow(
                run_id=event.run_id,
                job_id=job_pk,
                state=state,
                state_time=time,
                started_at=time if state == "START" else None,
                ended_at=time if state in TERMINAL_STATES else None,
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
        rank, old_rank = STATE_RANK.get(state, 0), STATE_RANK.get(row.state, 0)
        if rank > old_rank or (rank == old_rank and time >= row.state_time):
            row.state, row.state_time = state, time
        if state == "START" and (row.started_at is None or time < row.started_at):
            row.started_at = time
        if state in TERMINAL_STATES and (row.ended_at is None or time > row.ended_at):
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

    def dataset(self, ref: DatasetRef, time: str, index: int) -> DatasetRow:
        """Fold a dataset's facets and classification from an event; returns its row."""
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
            row = DatasetRow(
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
        """Record a version of a dataset (its ``datasetVersion``, or the run that wrote it)."""
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
        """Record that a run read or wrote a dataset (once per entry and direction)."""
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
            self.loaded_folded_jobs.add(job)
        key = (job, direction, dataset)
        row = self.folded.get(key)
        if row is None:
            self.folded[key] = FoldedEdge(1, str(index), time, new=True)
        else:
            row.add(time, index)

    def column_lineage(self, output: DatasetRef, out_pk: int, index: int) -> None:
        """Record the ``columnLineage`` facet of an output dataset as column edges."""
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
        """Record the schema warnings validation found in an event."""
        for position, problem in enumerate(event.warnings):
            self.warning_rows.append(
                {"i": index, "p": position, "path": problem.path, "m": problem.message}
            )

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
