"""What validation reads out of an OpenLineage event: the event, its datasets, and problems.

A :class:`LineageEvent` is an accepted event with its identity fields read out and its
deviations from the spec as warnings. A :class:`Problem` is one such warning, or an error, located
by a JSONPath-like path built by ``_json_path``; ``_shorten`` bounds its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["DatasetRef", "EventKind", "LineageEvent", "Problem"]

EventKind = Literal["run", "dataset", "job"]

# Longest warning message; jsonschema messages embed the offending value, which can be huge.
_MAX_MESSAGE = 300


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


def _segment(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f".{key}"
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def _json_path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(_segment(part) for part in parts)


def _shorten(message: str, limit: int = _MAX_MESSAGE) -> str:
    if len(message) <= limit:
        return message
    # Keep both ends: jsonschema puts the offending value first and the rule last
    # ("{...} is not of type 'string'"), and the rule is the useful part.
    head = (limit - 5) * 2 // 3
    tail = limit - 5 - head
    return f"{message[:head]} ... {message[-tail:]}"
