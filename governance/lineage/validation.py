"""Read one OpenLineage event (or a batch) into a :class:`LineageEvent`, in two tiers.

1. **Identity** — what the lineage graph is keyed on: a parseable ``eventTime``; for run events
   ``run.runId`` and ``job.namespace``/``job.name``; for job events the job; for dataset events
   ``dataset.namespace``/``dataset.name``; a namespace and name on every input and output. Any
   problem here rejects the event with :class:`~governance.errors.InputError` (HTTP 400) listing
   *every* problem by JSON path, because the stock Python client gives up on 4xx and the
   producer's operator needs the whole list at once.
2. **Everything else** is checked against the official OpenLineage JSON Schemas shipped in
   ``schemas/`` (the event against ``OpenLineage.json``, each facet against its facet schema,
   the project's ``governance`` facet against ``GovernanceDatasetFacet.json``) and recorded as
   warnings on the event, never as errors: real producers deviate from the spec (Spark sends
   ``"file"`` where a URI is required, Airflow custom facets, naive timestamps …) and a
   compliance ledger must not lose their events over it.

The kind of an event is told by its *shape* (``run`` → run event, else ``dataset`` → dataset
event, else ``job`` → job event), never by ``schemaURL``, which producers get wrong.

Validation is offline: every shipped schema is preloaded in a :class:`referencing.Registry` under
its ``$id`` and the registry has no retriever, so a ``$ref`` can never cause network I/O. Formats
(``uri``, ``uuid``, ``date-time``) are deliberately not asserted.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from governance.errors import InputError, PayloadTooLarge
from governance.timefmt import format_time

__all__ = [
    "GOVERNANCE_FACET_SCHEMA_URL",
    "MAX_WARNINGS",
    "DatasetRef",
    "Limits",
    "LineageEvent",
    "Problem",
    "governance_facet_schema",
    "parse_batch",
    "parse_event",
    "parse_time",
    "validate_event",
]

EventKind = Literal["run", "dataset", "job"]

#: The ``_schemaURL`` producers should put on the project's ``governance`` dataset facet.
GOVERNANCE_FACET_SCHEMA_URL = (
    "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json"
    "#/$defs/GovernanceDatasetFacet"
)

#: Warnings kept per event; the rest are summarised in one final "... N more" warning, so a
#: 23 MB Spark event with a systematic deviation cannot flood the warnings table.
MAX_WARNINGS = 100

# Longest warning message; jsonschema messages embed the offending value, which can be huge.
_MAX_MESSAGE = 300

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_EVENT_DEFS: dict[EventKind, str] = {
    "run": "RunEvent",
    "dataset": "DatasetEvent",
    "job": "JobEvent",
}
_OPENLINEAGE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_GOVERNANCE_ID = "https://governance-audit.dev/spec/facets/1-0-0/GovernanceDatasetFacet.json"

# Where a facet sits in an event ↔ the OpenLineage base definition its schema extends.
FacetLocation = Literal["run", "job", "dataset", "input", "output"]
_BASE_LOCATIONS: dict[str, FacetLocation] = {
    "RunFacet": "run",
    "JobFacet": "job",
    "DatasetFacet": "dataset",
    "InputDatasetFacet": "input",
    "OutputDatasetFacet": "output",
}
_LOCATION_FIELDS: dict[FacetLocation, str] = {
    "run": "run.facets",
    "job": "job.facets",
    "dataset": "facets",
    "input": "inputFacets",
    "output": "outputFacets",
}


# --- public data types -----------------------------------------------------------------------


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


@dataclass(frozen=True)
class Limits:
    """Structural limits on a decoded body, enforced before any validation.

    The HTTP layer already caps bodies at 32 MiB, so these only stop shapes that are cheap to
    send but expensive to process (deep nesting, one enormous array or string).
    """

    max_depth: int = 64
    max_array: int = 100_000
    # Generous on purpose: SQL text and Spark plans in facets are legitimately megabytes long.
    max_string: int = 16 * 1024 * 1024


# --- time ------------------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_NOTE_NAIVE = "no timezone; read as UTC"
_NOTE_TRUNCATED = "fractional seconds beyond microseconds truncated"
_NOTE_NO_SECONDS = "no seconds; read as :00"
_NOTE_LEAP = "leap second read as :59"


def parse_time(text: str) -> tuple[datetime, list[str]]:
    """Parse an RFC 3339 timestamp leniently into a UTC-aware datetime and notes on leniency.

    Accepted beyond strict RFC 3339, each with a note: no zone (read as UTC, as the Python
    client's old serde fixtures and some Java producers send), more than six fractional digits
    (truncated: Python has microseconds), no seconds (Java's ``ZonedDateTime.toString``) and a
    leap second. Raises ``ValueError`` for anything else.
    """
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {_shorten(repr(text), 80)}")
    notes: list[str] = []
    second_text, fraction = match["second"], match["fraction"] or ""
    if second_text is None:
        notes.append(_NOTE_NO_SECONDS)
    second = int(second_text or 0)
    if second == 60:
        notes.append(_NOTE_LEAP)
        second = 59
    if len(fraction) > 6 and fraction[6:].strip("0"):
        notes.append(_NOTE_TRUNCATED)
    microsecond = int(fraction[:6].ljust(6, "0")) if fraction else 0
    zone = match["zone"]
    if zone is None:
        notes.append(_NOTE_NAIVE)
        tz: timezone = UTC
    elif zone in ("Z", "z"):
        tz = UTC
    else:
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"UTC offset out of range: {zone}")
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            second,
            microsecond,
            tzinfo=tz,
        )
        return local.astimezone(UTC), notes
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
        raise ValueError(f"date-time out of range: {text}") from exc


# --- schemas ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FacetSchema:
    key: str  # the standard key in a facets map, e.g. "schema"
    location: FacetLocation
    definition: str  # e.g. "SchemaDatasetFacet"
    uri: str  # e.g. "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/..."


@dataclass(frozen=True)
class _Schemas:
    registry: Registry[Any]
    documents: dict[str, dict[str, Any]]  # by $id
    by_location: dict[tuple[FacetLocation, str], _FacetSchema]
    by_definition: dict[str, _FacetSchema]
    by_file: dict[str, _FacetSchema]  # file stem → its only facet (files with one facet)
    governance_fields: frozenset[str]


def _schema_documents() -> Iterator[dict[str, Any]]:
    root = resources.files("governance.lineage").joinpath("schemas")
    folders = [root, root.joinpath("facets")]
    for folder in folders:
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if entry.name.endswith(".json"):
                document = json.loads(entry.read_text(encoding="utf-8"))
                if isinstance(document, dict) and isinstance(document.get("$id"), str):
                    yield document


def _facet_definitions(
    document: dict[str, Any], reference: Any, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[FacetLocation, str]]:
    """(location, definition name) for each facet definition a property schema points at.

    Follows local ``$ref``/``anyOf``/``oneOf`` (``lineage`` is anyOf a dataset and a job facet;
    ``subset`` is oneOf an input and an output facet) down to definitions whose ``allOf``
    extends one of the OpenLineage facet bases, which says where in an event the facet goes.
    """
    if not isinstance(reference, dict):
        return
    target = reference.get("$ref")
    if isinstance(target, str) and target.startswith("#/$defs/"):
        name = target.removeprefix("#/$defs/")
        if name in seen:
            return
        definition = document.get("$defs", {}).get(name)
        if not isinstance(definition, dict):
            return
        for part in definition.get("allOf", []):
            base = part.get("$ref", "") if isinstance(part, dict) else ""
            if base.startswith(_OPENLINEAGE_ID + "#/$defs/"):
                location = _BASE_LOCATIONS.get(base.rsplit("/", 1)[1])
                if location is not None:
                    yield location, name
                    return
        yield from _facet_definitions(document, definition, seen | {name})
        return
    for combinator in ("anyOf", "oneOf"):
        for option in reference.get(combinator, []):
            yield from _facet_definitions(document, option, seen)


@functools.cache
def _schemas() -> _Schemas:
    documents = {document["$id"]: document for document in _schema_documents()}
    # No `retrieve` callable: an unknown $ref raises Unresolvable instead of fetching anything.
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(document)) for uri, document in documents.items()
    )
    registry = registry.crawl()
    by_location: dict[tuple[FacetLocation, str], _FacetSchema] = {}
    by_definition: dict[str, _FacetSchema] = {}
    per_file: dict[str, list[_FacetSchema]] = {}
    for uri, document in documents.items():
        if uri == _OPENLINEAGE_ID:
            continue
        stem = uri.rsplit("/", 1)[1].removesuffix(".json")
        for key, reference in document.get("properties", {}).items():
            for location, name in _facet_definitions(document, reference):
                facet = _FacetSchema(key, location, name, f"{uri}#/$defs/{name}")
                by_location.setdefault((location, key), facet)
                by_definition.setdefault(name, facet)
                per_file.setdefault(stem, []).append(facet)
    by_file = {stem: facets[0] for stem, facets in per_file.items() if len(facets) == 1}
    governance = documents[_GOVERNANCE_ID]["$defs"]["GovernanceDatasetFacet"]["allOf"][1]
    return _Schemas(
        registry=registry,
        documents=documents,
        by_location=by_location,
        by_definition=by_definition,
        by_file=by_file,
        governance_fields=frozenset(governance["properties"]),
    )


@functools.cache
def _validator(uri: str) -> Any:
    # Built once per definition; Draft202012Validator without a format_checker does not assert
    # `format`, which is what we want (Spark sends "file" for uri fields, Airflow naive times).
    return Draft202012Validator({"$ref": uri}, registry=_schemas().registry)


def governance_facet_schema() -> dict[str, Any]:
    """The JSON Schema of the project's ``governance`` dataset facet (a copy; safe to mutate)."""
    return copy.deepcopy(_schemas().documents[_GOVERNANCE_ID])


# --- decoding and limits ---------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON (and the canonical form the ledger hashes) does not.
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> Any:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # RFC 8259 §8.1: a parser may ignore a UTF-8 byte order mark
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"invalid UTF-8 at byte {exc.start}"
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        # The C decoder recurses per nesting level; ~1000 levels exhaust the interpreter's
        # recursion limit long before memory. Far beyond any Limits.max_depth anyway.
        detail = "JSON nesting is too deep"
        raise InputError(detail, errors=[Problem("$", detail).to_json()]) from exc
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc
    except ValueError as exc:  # NaN/Infinity, or an integer over the 4300-digit conversion limit
        detail = _shorten(str(exc))
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc


def _bad_unicode(text: str) -> bool:
    # JSON escapes can smuggle lone surrogates ("\ud800") into a str; they cannot be encoded as
    # UTF-8, so storing or hashing the event later would fail with a 500 instead of a 400 now.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class _Violation:
    too_large: bool  # a size limit (413) rather than a shape problem (400)
    path: str
    message: str


def _scalar_violation(value: Any, limits: Limits) -> tuple[bool, str] | None:
    if type(value) is str:
        if len(value) > limits.max_string:
            return True, f"string longer than {limits.max_string} characters"
        if not value.isascii() and _bad_unicode(value):
            return False, "string contains a lone surrogate (not valid Unicode)"
    elif type(value) is float and not math.isfinite(value):
        return False, "number out of range (not finite)"
    return None


def _segment(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f".{key}"
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def _json_path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(_segment(part) for part in parts)


def _first_violation(value: Any, limits: Limits, track: bool) -> _Violation | None:
    """The first limit violation in a depth-first walk (iterative: no recursion limit).

    Paths are only built when ``track`` is set: the fast pass runs on every body, the tracking
    pass only on a body already known to be bad, to say where.
    """
    top = _scalar_violation(value, limits)
    if top is not None:
        return _Violation(top[0], "$", top[1])
    stack: list[tuple[Any, int, str]] = [(value, 1, "$")]
    while stack:
        node, depth, path = stack.pop()
        if depth > limits.max_depth:
            return _Violation(False, path, f"nesting deeper than {limits.max_depth} levels")
        children: Iterable[tuple[str | int, Any]]
        if type(node) is dict:
            children = node.items()
        elif type(node) is list:
            if len(node) > limits.max_array:
                return _Violation(True, path, f"array longer than {limits.max_array} items")
            children = enumerate(node)
        else:
            continue
        for key, child in children:
            child_path = path + _segment(key) if track else path
            if type(key) is str:
                found = _scalar_violation(key, limits)
                if found is not None:
                    return _Violation(found[0], child_path, "object key: " + found[1])
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1, child_path))
            else:
                found = _scalar_violation(child, limits)
                if found is not None:
                    return _Violation(found[0], child_path, found[1])
    return None


def _enforce(value: Any, limits: Limits) -> None:
    if _first_violation(value, limits, track=False) is None:
        return
    violation = _first_violation(value, limits, track=True)
    assert violation is not None  # the walk is deterministic
    errors = [Problem(violation.path, violation.message).to_json()]
    if violation.too_large:
        raise PayloadTooLarge(f"body over a limit: {violation.message}", errors=errors)
    raise InputError(f"body not accepted: {violation.message}", errors=errors)


# --- public entry points ---------------------------------------------------------------------


def parse_event(raw: bytes, limits: Limits = Limits()) -> LineageEvent:
    """Decode and validate one event body.

    Raises :class:`InputError` (400; :class:`PayloadTooLarge`, 413, for a size limit) for a body
    that is not UTF-8 JSON, breaks ``limits``, is not an object, or lacks identity fields; the
    error's ``errors`` lists every identity problem by JSON path. Nothing else is raised for bad
    input: schema deviations become ``LineageEvent.warnings``.
    """
    value = _decode(raw)
    if not isinstance(value, dict):
        detail = f"an event must be a JSON object, not {_json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    _enforce(value, limits)
    return validate_event(value)


def parse_batch(raw: bytes, limits: Limits = Limits()) -> list[Any]:
    """Decode a batch body (a JSON array of events) within ``limits``; events not yet validated.

    Each element is meant for :func:`validate_event`, so that one bad event can be reported by
    its index without rejecting the others.
    """
    value = _decode(raw)
    if not isinstance(value, list):
        detail = f"a batch must be a JSON array of events, not {_json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    _enforce(value, limits)
    return value


def validate_event(value: Any) -> LineageEvent:
    """Validate an already-decoded event; as :func:`parse_event` after decoding.

    The caller is responsible for structural limits (``parse_event``/``parse_batch`` enforce
    them); values read back from the ledger were within them when they were accepted.
    """
    if not isinstance(value, dict):
        detail = f"an event must be a JSON object, not {_json_type(value)}"
        raise InputError(detail, errors=[Problem("$", detail).to_json()])
    reader = _IdentityReader(value)
    event = reader.read()
    if reader.errors:
        raise InputError(
            "the event is missing identity fields or they are invalid",
            errors=[problem.to_json() for problem in reader.errors],
        )
    assert event is not None
    warnings = _cap([*reader.warnings, *_schema_warnings(value, event.kind)])
    return dataclasses.replace(event, warnings=warnings)


# --- identity tier ---------------------------------------------------------------------------


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
            self.errors.append(Problem(path, f"{key} must be an object, not {_json_type(found)}"))
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
            self.errors.append(Problem(path, f"{key} must be a string, not {_json_type(found)}"))
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
                Problem("$.eventTime", f"eventTime must be a string, not {_json_type(text)}")
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
                Problem(f"$.{side}", f"{side} must be an array, not {_json_type(listed)}")
            )
            return ()
        refs: list[DatasetRef] = []
        for index, item in enumerate(listed):
            path = f"$.{side}[{index}]"
            if not isinstance(item, dict):
                self.errors.append(
                    Problem(path, f"a dataset must be an object, not {_json_type(item)}")
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


# --- schema tier -----------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _shorten(message: str, limit: int = _MAX_MESSAGE) -> str:
    if len(message) <= limit:
        return message
    # Keep both ends: jsonschema puts the offending value first and the rule last
    # ("{...} is not of type 'string'"), and the rule is the useful part.
    head = (limit - 5) * 2 // 3
    tail = limit - 5 - head
    return f"{message[:head]} ... {message[-tail:]}"


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The specific errors behind an ``anyOf``/``oneOf`` failure, instead of the summary.

    The OpenLineage schema wraps every facets map in a one-branch ``anyOf``, whose own message
    ("... is not valid under any of the given schemas") names neither the facet nor the field.
    When several alternatives fail (a lineage entry is a dataset *or* a job entry), the one with
    the fewest problems is reported: it is most likely the one the producer meant.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    # Branches in schema order, so ties go to the first alternative: deterministic warnings.
    candidates = [[leaf for sub in subs for leaf in _leaves(sub)] for subs in branches.values()]
    return min(candidates, key=len)


def _missing_property(error: ValidationError) -> tuple[str, ...]:
    # Point a "required" failure at the missing field itself ("$.run.facets.parent.run.runId"),
    # like the identity errors do, rather than at the object that lacks it.
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance and error.message == f"{name!r} is a required property":
                return (name,)
    return ()


def _schema_problems(uri: str, instance: Any, prefix: Path) -> Iterator[Problem]:
    # Producers repeat the same facets in event after event (a job's START and COMPLETE, a
    # dataset's schema in every run): validate each distinct facet value once.
    try:
        key = json.dumps(instance, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        relative = _relative_problems(uri, instance)
    else:
        relative = _cached_problems(uri, key)
    for parts, message in relative:
        yield Problem(_json_path((*prefix, *parts)), message)


@functools.lru_cache(maxsize=8192)
def _cached_problems(uri: str, key: str) -> tuple[tuple[Path, str], ...]:
    return _relative_problems(uri, json.loads(key))


def _relative_problems(uri: str, instance: Any) -> tuple[tuple[Path, str], ...]:
    found: list[tuple[Path, str]] = []
    try:
        for error in _validator(uri).iter_errors(instance):
            for leaf in _leaves(error):
                parts: Path = (*leaf.absolute_path, *_missing_property(leaf))
                found.append((parts, _shorten(leaf.message)))
    except Unresolvable as exc:  # a shipped schema is broken; never the caller's fault
        found.append(((), _shorten(f"schema {uri} could not be resolved: {exc}")))
    except RecursionError:
        # jsonschema recurses ~10 frames per nesting level: fine within the default
        # Limits.max_depth, not for a caller that raised it a lot. Not the producer's fault either.
        found.append(((), "too deeply nested to check against the schema"))
    return tuple(found)


@dataclass(frozen=True)
class _FacetSite:
    path: Path  # of the facets map, e.g. ("inputs", 0, "inputFacets")
    location: FacetLocation
    facets: dict[str, Any]


def _facet_sites(value: dict[str, Any], kind: EventKind) -> Iterator[_FacetSite]:
    def site(
        container: Any, path: Path, field: str, location: FacetLocation
    ) -> Iterator[_FacetSite]:
        if isinstance(container, dict) and isinstance(container.get(field), dict):
            yield _FacetSite((*path, field), location, container[field])

    yield from site(value.get("run"), ("run",), "facets", "run")
    if kind != "dataset":
        yield from site(value.get("job"), ("job",), "facets", "job")
    for side in ("inputs", "outputs") if kind != "dataset" else ():
        listed = value.get(side)
        for index, item in enumerate(listed if isinstance(listed, list) else []):
            yield from site(item, (side, index), "facets", "dataset")
            yield from site(item, (side, index), "inputFacets", "input")
            yield from site(item, (side, index), "outputFacets", "output")
    if kind == "dataset":
        yield from site(value.get("dataset"), ("dataset",), "facets", "dataset")


def _declared_facet(facet: Any, schemas: _Schemas) -> _FacetSchema | None:
    """The known facet schema a facet's ``_schemaURL`` names, by definition or file name.

    Matches across versions and spec layouts: ``.../facets/1-0-1/SQLJobFacet.json#/$defs/
    SQLJobFacet`` and the pre-2.0 ``.../OpenLineage.json#/definitions/SQLJobFacet`` alike.
    """
    url = facet.get("_schemaURL") if isinstance(facet, dict) else None
    if not isinstance(url, str):
        return None
    address, _, fragment = url.partition("#")
    if fragment.startswith("/"):
        return schemas.by_definition.get(fragment.rsplit("/", 1)[1])
    stem = address.rsplit("/", 1)[-1]
    return schemas.by_file.get(stem.removesuffix(".json")) if stem.endswith(".json") else None


def _governance_extras(facet: Any, path: Path, schemas: _Schemas) -> Iterator[Problem]:
    if not isinstance(facet, dict):
        return
    for field in facet:
        if field.startswith("_") or field in schemas.governance_fields:
            continue  # "_producer", "_schemaURL", "_deleted" come from the facet base
        yield Problem(
            _json_path((*path, field)), f"unknown field {field} in the governance facet (kept)"
        )
    collected = facet.get("collectedAt")
    if isinstance(collected, str):
        # `format` is not asserted schema-wide; this one is ours and feeds storage limitation.
        try:
            parse_time(collected)
        except ValueError:
            yield Problem(
                _json_path((*path, "collectedAt")), "collectedAt is not an RFC 3339 date-time"
            )


def _schema_warnings(value: dict[str, Any], kind: EventKind) -> Iterator[Problem]:
    schemas = _schemas()
    plan: list[tuple[Path, _FacetSchema, Any]] = []
    planned: dict[Path, set[str]] = {}
    notes: list[Problem] = []
    for site in _facet_sites(value, kind):
        for key, facet in site.facets.items():
            if isinstance(facet, dict) and facet.get("_deleted") is True:
                continue  # a deletion marker carries no content to check
            path: Path = (*site.path, key)
            target = schemas.by_location.get((site.location, key))
            if target is None:
                # Unknown keys are custom facets and fine, unless they claim a known schema.
                declared = _declared_facet(facet, schemas)
                if declared is None:
                    continue
                notes.append(
                    Problem(
                        _json_path(path),
                        f"facet {key} declares the {declared.definition} schema, which is the "
                        f"'{declared.key}' facet in {_LOCATION_FIELDS[declared.location]}; "
                        "validated against it",
                    )
                )
                target = declared
            plan.append((path, target, facet))
            planned.setdefault(site.path, set()).add(key)
    event_schema = f"{_OPENLINEAGE_ID}#/$defs/{_EVENT_DEFS[kind]}"
    yield from _schema_problems(event_schema, _without_identity(_pruned(value, planned)), ())
    yield from notes
    for path, target, facet in plan:
        yield from _schema_problems(target.uri, facet, path)
        if target.uri.startswith(_GOVERNANCE_ID):
            yield from _governance_extras(facet, path, schemas)


# Stand-ins for per-event identity values (already checked to be strings, and formats are not
# enforced): with them the rest of an event's envelope repeats and its validation is cached.
_RUN_ID_STANDIN = "00000000-0000-0000-0000-000000000000"
_TIME_STANDIN = "1970-01-01T00:00:00Z"


def _without_identity(event: dict[str, Any]) -> dict[str, Any]:
    result = dict(event)
    if isinstance(result.get("eventTime"), str):
        result["eventTime"] = _TIME_STANDIN
    run = result.get("run")
    if isinstance(run, dict) and isinstance(run.get("runId"), str):
        result["run"] = {**run, "runId": _RUN_ID_STANDIN}
    return result


def _pruned(value: dict[str, Any], planned: dict[Path, set[str]]) -> dict[str, Any]:
    """A copy of the event without the facets that get their own, more specific validation.

    Saves the event schema's generic facet check (``_producer``/``_schemaURL``) on facets whose
    own schema repeats it, and so reports each problem once. Only the containers on the way to
    a pruned facets map are copied; everything else is shared with the original.
    """
    root = dict(value)
    copies: dict[int, Any] = {id(value): root}  # original container → its copy
    for site, keys in planned.items():
        original: Any = value
        duplicate: Any = root
        for part in site[:-1]:
            original = original[part]
            made = copies.get(id(original))
            if made is None:
                made = dict(original) if isinstance(original, dict) else list(original)
                copies[id(original)] = made
                duplicate[part] = made
            duplicate = made
        facets = original[site[-1]]
        duplicate[site[-1]] = {k: v for k, v in facets.items() if k not in keys}
    return root


def _cap(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    kept: list[Problem] = []
    seen: set[Problem] = set()
    more = 0
    for problem in problems:
        if problem in seen:
            continue
        seen.add(problem)
        if len(kept) < MAX_WARNINGS:
            kept.append(problem)
        else:
            more += 1
    if more:
        kept.append(Problem("$", f"... {more} more warnings"))
    return tuple(kept)
