"""The identity tier: the fields the lineage graph is keyed on, read out of a decoded event.

A missing or malformed identity field is an error that rejects the event; the reader collects
every one, by JSON path, before giving up. What can be read but deviates (a naive time, an empty
dataset name, a run id that is not a UUID) is a warning and the event is kept.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from governance.jsondoc import json_type
from governance.lineage.events import DatasetRef, EventKind, LineageEvent, Problem
from governance.lineage.facet_schemas import _EVENT_DEFS
from governance.lineage.timestamps import (
    _NOTE_LEAP,
    _NOTE_NAIVE,
    _NOTE_NO_SECONDS,
    _NOTE_TRUNCATED,
    parse_time,
)
from governance.text import identifier_problem
from governance.timefmt import format_time

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")


def _kind_of(value: dict[str, Any]) -> EventKind | None:
    if "run" in value:
        return "run"
    if "dataset" in value:
        return "dataset"
    if "job" in value:
        return "job"
    return None


def _facet_map(container: dict[str, Any], key: str) -> dict[str, Any]:
    facets = container.get(key)
    return facets if isinstance(facets, dict) else {}


def _run_triple(job: Any, run: Any) -> tuple[str, str, str] | None:
    if not isinstance(job, dict) or not isinstance(run, dict):
        return None
    parts = (job.get("namespace"), job.get("name"), run.get("runId"))
    if all(isinstance(part, str) and part.strip() for part in parts):
        return parts  # type: ignore[return-value]  # checked just above
    return None


class _IdentityReader:
    """Reads the identity fields, collecting errors (reject) and warnings (keep) as it goes."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def _object(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        if key not in parent:
            self.errors.append(Problem(path, f"{key} is required"))
            return None
        found = parent[key]
        if not isinstance(found, dict):
            self.errors.append(Problem(path, f"{key} must be an object, not {json_type(found)}"))
            return None
        return found

    def _string(
        self, parent: dict[str, Any], key: str, path: str, *, empty_is_error: bool = True
    ) -> str | None:
        if key not in parent:
            self.errors.append(Problem(path, f"{key} is required"))
            return None
        found = parent[key]
        if not isinstance(found, str):
            self.errors.append(Problem(path, f"{key} must be a string, not {json_type(found)}"))
            return None
        problem = identifier_problem(found)
        if problem is not None:
            self.errors.append(Problem(path, f"{key} {problem}"))
            return None
        if not found.strip():
            if empty_is_error:
                self.errors.append(Problem(path, f"{key} must not be empty"))
                return None
            self.warnings.append(Problem(path, f"{key} is empty"))
        return found

    def _named(self, parent: dict[str, Any], key: str, path: str) -> tuple[str, str] | None:
        node = self._object(parent, key, path)
        if node is None:
            return None
        namespace = self._string(node, "namespace", f"{path}.namespace")
        name = self._string(node, "name", f"{path}.name")
        return (namespace, name) if namespace is not None and name is not None else None

    def _time(self) -> tuple[datetime, str] | None:
        if "eventTime" not in self.value:
            self.errors.append(Problem("$.eventTime", "eventTime is required"))
            return None
        text = self.value["eventTime"]
        if not isinstance(text, str):
            self.errors.append(
                Problem("$.eventTime", f"eventTime must be a string, not {json_type(text)}")
            )
            return None
        try:
            moment, notes = parse_time(text)
        except ValueError as exc:
            self.errors.append(Problem("$.eventTime", f"eventTime is unreadable: {exc}"))
            return None
        for note in notes:
            self.warnings.append(Problem("$.eventTime", _TIME_WARNINGS[note]))
        return moment, format_time(moment)

    def _datasets(self, side: str) -> tuple[DatasetRef, ...]:
        listed = self.value.get(side)
        if listed is None:
            return ()  # absent, or null (the schema tier warns about null)
        if not isinstance(listed, list):
            self.errors.append(
                Problem(f"$.{side}", f"{side} must be an array, not {json_type(listed)}")
            )
            return ()
        refs: list[DatasetRef] = []
        for index, item in enumerate(listed):
            path = f"$.{side}[{index}]"
            if not isinstance(item, dict):
                self.errors.append(
                    Problem(path, f"a dataset must be an object, not {json_type(item)}")
                )
                continue
            # Empty names are kept (with a warning): rejecting would lose the whole run.
            namespace = self._string(item, "namespace", f"{path}.namespace", empty_is_error=False)
            name = self._string(item, "name", f"{path}.name", empty_is_error=False)
            if namespace is not None and name is not None:
                refs.append(_dataset_ref(item, namespace, name))
        return tuple(refs)

    def _event_type(self) -> str | None:
        if "eventType" not in self.value:
            self.warnings.append(
                Problem("$.eventType", "eventType is missing; the run's state is unknown")
            )
            return None
        found = self.value["eventType"]
        if not isinstance(found, str):
            return None  # the schema tier reports the wrong type
        return found.upper()

    def _schema_url_mismatch(self, kind: EventKind) -> None:
        url = self.value.get("schemaURL")
        if not isinstance(url, str):
            return
        declared = url.rsplit("/", 1)[-1]
        if declared in _EVENT_DEFS.values() and declared != _EVENT_DEFS[kind]:
            self.warnings.append(
                Problem(
                    "$.schemaURL",
                    f"schemaURL names a {declared} but the event is shaped like a "
                    f"{_EVENT_DEFS[kind]}; read as a {_EVENT_DEFS[kind]}",
                )
            )

    def read(self) -> LineageEvent | None:
        value = self.value
        kind = _kind_of(value)
        if kind is None:
            self.errors.append(
                Problem("$", "the event has no run, job or dataset, so its kind is unknown")
            )
        time = self._time()
        run_id: str | None = None
        run_facets: dict[str, Any] = {}
        job: tuple[str, str] | None = None
        job_facets: dict[str, Any] = {}
        dataset: DatasetRef | None = None
        event_type: str | None = None
        inputs: tuple[DatasetRef, ...] = ()
        outputs: tuple[DatasetRef, ...] = ()
        if kind == "run":
            run = self._object(value, "run", "$.run")
            if run is not None:
                run_id = self._string(run, "runId", "$.run.runId")
                if run_id is not None and not _UUID_RE.match(run_id):
                    self.warnings.append(
                        Problem("$.run.runId", "runId is not a UUID; kept as an opaque id")
                    )
                run_facets = _facet_map(run, "facets")
            event_type = self._event_type()
        if kind in ("run", "job"):
            job = self._named(value, "job", "$.job")
            if isinstance(value.get("job"), dict):
                job_facets = _facet_map(value["job"], "facets")
            inputs = self._datasets("inputs")
            outputs = self._datasets("outputs")
        if kind == "dataset":
            named = self._named(value, "dataset", "$.dataset")
            if named is not None:
                dataset = _dataset_ref(value["dataset"], *named)
        if kind is not None:
            self._schema_url_mismatch(kind)
        if self.errors or kind is None or time is None:
            return None
        parent = run_facets.get("parent")
        parent_triple = root_triple = None
        if isinstance(parent, dict):
            parent_triple = _run_triple(parent.get("job"), parent.get("run"))
            root = parent.get("root")
            if isinstance(root, dict):
                root_triple = _run_triple(root.get("job"), root.get("run"))
        for triple, path in ((parent_triple, "parent"), (root_triple, "parent.root")):
            for part in triple or ():
                problem = identifier_problem(part)
                if problem is not None:
                    self.errors.append(Problem(f"$.run.facets.{path}", f"a run id {problem}"))
        if self.errors:
            return None
        producer = value.get("producer")
        return LineageEvent(
            kind=kind,
            event_type=event_type,
            event_time=time[0],
            event_time_text=time[1],
            run_id=run_id,
            job=job,
            job_facets=job_facets,
            run_facets=run_facets,
            parent=parent_triple,
            root=root_triple,
            inputs=inputs,
            outputs=outputs,
            dataset=dataset,
            producer=producer if isinstance(producer, str) else None,
            warnings=(),
            raw=value,
        )


_TIME_WARNINGS = {
    _NOTE_NAIVE: "eventTime has no timezone; read as UTC",
    _NOTE_TRUNCATED: "eventTime has fractional seconds beyond microseconds; truncated",
    _NOTE_NO_SECONDS: "eventTime has no seconds; read as :00",
    _NOTE_LEAP: "eventTime is a leap second; read as :59",
}


def _dataset_ref(item: dict[str, Any], namespace: str, name: str) -> DatasetRef:
    return DatasetRef(
        namespace=namespace,
        name=name,
        facets=_facet_map(item, "facets"),
        input_facets=_facet_map(item, "inputFacets"),
        output_facets=_facet_map(item, "outputFacets"),
    )
