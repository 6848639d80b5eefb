"""What validation reads out of an OpenLineage event: the event, its datasets, and problems.

A :class:`LineageEvent` is an accepted event with its identity fields read out and its
deviations from the spec as warnings. A :class:`Problem` is one such warning, or an error, located
by a JSONPath-like path (:func:`governance.jsondoc.json_path`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["DatasetRef", "EventKind", "LineageEvent", "Problem"]

EventKind = Literal["run", "dataset", "job"]


@dataclass(frozen=True)
class Problem:
    """A warning or an error, located by a JSONPath-like path such as ``$.inputs[0].name``."""

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The ``{"path", "message"}`` form used in ``InputError.errors`` and API responses."""
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class DatasetRef:
    """A dataset named in an event, with its three facet maps kept apart as sent."""

    namespace: str
    name: str
    facets: dict[str, Any]
    input_facets: dict[str, Any]
    output_facets: dict[str, Any]


@dataclass(frozen=True)
class LineageEvent:
    """One accepted OpenLineage event: identity fields read out, deviations as warnings."""

    kind: EventKind
    event_type: str | None
    event_time: datetime
    event_time_text: str
    run_id: str | None
    job: tuple[str, str] | None
    job_facets: dict[str, Any]
    run_facets: dict[str, Any]
    parent: tuple[str, str, str] | None
    root: tuple[str, str, str] | None
    inputs: tuple[DatasetRef, ...]
    outputs: tuple[DatasetRef, ...]
    dataset: DatasetRef | None
    producer: str | None
    warnings: tuple[Problem, ...]
    raw: dict[str, Any]
