"""``assessment-results.json``: the report as an OSCAL Assessment Results document.

:func:`assessment_results` computes it from the report-data document alone, for OSCAL
:data:`OSCAL_VERSION`; :func:`validate` checks a document against NIST's published JSON Schema
for that version, vendored in ``reports/schemas/oscal/`` (its README says where it came from).

How the report maps onto the model:

* one **result** for the report: its ``start``/``end`` are the period (the end is exclusive),
  its reviewed controls are the report's controls, its props the decision counts and the
  checkpoint the report is computed as of;
* per control, one **observation** (method ``TEST``: the gate evaluated it on each decision)
  that counts its results and references its evidence: the ledger indexes its results cite
  (``evidence-index``), the decisions in which it failed (``failed-in``, by decision id: the
  report data and ``decisions.csv`` give each one's ledger index) and the waivers of it in force
  (``waiver-index``); their inclusion proofs are in the bundle (``proofs.json``, a back-matter
  resource);
* per control, one **finding** on that observation: ``not-satisfied`` (reason ``fail``) when it
  failed in any decision, waived or not; ``satisfied`` (``pass``) when it passed and never
  failed; ``not-satisfied`` (``other``) when no decision gave it a pass or a fail, since nothing
  demonstrates it;
* ``import-ap`` points into the back matter: the service publishes no OSCAL assessment plan;
  the plan is the policy bundle and catalog named there.

Every uuid is a version-5 uuid of the report id and the item's name, and every time comes from
the document, so the same report data always gives the same document.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators

from reports.model import ControlResults, ReportData

__all__ = [
    "OSCAL_VERSION",
    "PROPS_NS",
    "SCHEMA_PATH",
    "SCHEMA_SHA256",
    "InvalidAssessmentResults",
    "UnsupportedPattern",
    "assessment_results",
    "python_pattern",
    "validate",
]

#: The OSCAL release the document is written for and validated against.
OSCAL_VERSION = "1.2.3"
#: NIST's JSON Schema of the Assessment Results model for that release, unmodified.
SCHEMA_PATH = (
    Path(__file__).parent
    / "schemas"
    / "oscal"
    / OSCAL_VERSION
    / "oscal_assessment-results_schema.json"
)
#: SHA-256 of the published schema file (the README of its directory tells how to re-check it).
SCHEMA_SHA256 = "4034e2032332dbf597e59e0646ec16c2c31df992962490371e91f47b219ff42c"
#: The namespace of this service's props: OSCAL wants a URI for names outside its vocabulary.
PROPS_NS = "urn:governance-audit:oscal"

#: Parent of every document's uuid namespace.
_UUID_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, PROPS_NS)
_FRAMEWORK_LABEL = {"gdpr": "GDPR", "uae_pdpl": "UAE PDPL", "iso27001": "ISO/IEC 27001:2022"}


class InvalidAssessmentResults(ValueError):
    """A document does not validate against the OSCAL schema; names the first problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(
            f"assessment results are not valid OSCAL {OSCAL_VERSION} at {path}: {message}"
        )
        #: JSON path of the offending value (``$`` for the document).
        self.path = path
        self.message = message


class UnsupportedPattern(ValueError):
    """A schema pattern uses a construct :func:`python_pattern` cannot translate exactly."""


# -- the document -------------------------------------------------------------------------------


class _Ids:
    """Version-5 uuids of the report id and an item's name."""

    def __init__(self, report_id: str) -> None:
        self._namespace = uuid.uuid5(_UUID_ROOT, report_id)

    def __call__(self, name: str) -> str:
        return str(uuid.uuid5(self._namespace, name))


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": PROPS_NS, "value": str(value)}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _period_text(data: ReportData) -> str:
    return f"{data.report.period.start} to {data.report.period.end} (end exclusive)"


def assessment_results(data: ReportData) -> dict[str, Any]:
    """The OSCAL Assessment Results document of ``data`` (see the module docstring)."""
    ids = _Ids(data.report.report_id)
    resources = _resources(data, ids)
    observations, findings = [], []
    waivers: dict[str, list[int]] = {}
    for waiver in data.exceptions:
        waivers.setdefault(waiver.control, []).append(waiver.index)
    for control in data.controls:
        observation = _observation(data, ids, control, waivers.get(control.control, []))
        observations.append(observation)
        findings.append(_finding(ids, control, observation["uuid"]))
    result: dict[str, Any] = {
        "uuid": ids("result"),
        "title": f"Promotion gate decisions, {_period_text(data)}",
        "description": _result_description(data),
        "start": data.report.period.start,
        "end": data.report.period.end,
        "props": _result_props(data),
        "reviewed-controls": {"control-selections": [_selection(data)]},
    }
    if observations:
        result["observations"] = observations
        result["findings"] = findings
    result["remarks"] = (
        "The period's end is exclusive: the decisions evaluated at or after `start` and before "
        "`end`. Every figure here is computed from the bundle's report-data.json, which is "
        "computed from the ledger as of the checkpoint named in the metadata."
    )
    frameworks = ", ".join(_FRAMEWORK_LABEL[f] for f in data.report.frameworks) or "no framework"
    return {
        "assessment-results": {
            "uuid": ids("assessment-results"),
            "metadata": {
                "title": f"Assessment results: {frameworks}, {_period_text(data)}",
                "last-modified": data.report.generated_at,
                "version": data.report.report_id,
                "oscal-version": OSCAL_VERSION,
                "props": [
                    _prop("report-id", data.report.report_id),
                    _prop("framework", data.report.framework),
                    _prop("checkpoint-size", data.checkpoint.size),
                    _prop("checkpoint-root", data.checkpoint.root),
                    _prop("catalog-version", data.criteria.catalog_version),
                    _prop("generated-by", data.report.generated_by),
                ],
                "remarks": (
                    f"Generated by {data.report.generated_by} as of the ledger's signed "
                    f"checkpoint of {data.checkpoint.size} entries "
                    f"(created {data.checkpoint.created_at})."
                ),
            },
            "import-ap": {
                "href": f"#{resources['plan']['uuid']}",
                "remarks": "No OSCAL assessment plan is published: see the referenced resource.",
            },
            "results": [result],
            "back-matter": {"resources": list(resources.values())},
        }
    }


def _resources(data: ReportData, ids: _Ids) -> dict[str, dict[str, Any]]:
    """The back matter: the assessment plan in words, and the bundle's files it cites."""
    criteria = data.criteria
    bundles = ", ".join(criteria.bundle_digests) or "none (no decision in the period)"
    engines = ", ".join(criteria.engines) or "none"
    plan: dict[str, Any] = {
        "uuid": ids("resource:assessment-plan"),
        "title": "Assessment plan: the promotion gate's policies",
        "description": (
            "Every promotion request is evaluated by the promotion gate against the policy "
            f"bundle in force (catalog version {criteria.catalog_version}; policy bundles of "
            f"the period's decisions: {bundles}; engines: {engines}), and every decision is "
            "recorded in the evidence ledger. The controls assessed are the reviewed controls "
            "of the result."
        ),
    }
    plan_props = [_prop("catalog-version", criteria.catalog_version)]
    plan_props += [_prop("bundle-digest", digest) for digest in criteria.bundle_digests]
    plan_props += [_prop("target", target) for target in criteria.targets]
    plan["props"] = plan_props

    def file(name: str, title: str, description: str, media_type: str) -> dict[str, Any]:
        return {
            "uuid": ids(f"resource:{name}"),
            "title": title,
            "description": description,
            "rlinks": [{"href": name, "media-type": media_type}],
        }

    return {
        "plan": plan,
        "report-data": file(
            "report-data.json",
            "Report data",
            "The report's data document (RFC 8785 JSON): every decision, control result and "
            "figure this document states.",
            "application/json",
        ),
        "proofs": file(
            "proofs.json",
            "Inclusion proofs",
            "An inclusion proof of every ledger entry the report cites, against the checkpoint.",
            "application/json",
        ),
        "checkpoint": file(
            "checkpoint.txt",
            "Signed checkpoint",
            f"The ledger's signed checkpoint of {data.checkpoint.size} entries "
            f"(root {data.checkpoint.root}), with the public key that verifies it.",
            "text/plain",
        ),
    }


def _result_description(data: ReportData) -> str:
    summary = data.summary
    outcomes = summary.outcomes
    return (
        f"{_n(summary.decisions, 'promotion gate decision')} in the period (allow "
        f"{outcomes.allow}, deny {outcomes.deny}, engine error {outcomes.error}; break-glass "
        f"{summary.break_glass}, dry run {summary.dry_run}) for {_n(summary.models, 'model')}; "
        f"{_n(len(data.controls), 'control')} assessed."
    )


def _result_props(data: ReportData) -> list[dict[str, str]]:
    summary = data.summary
    return [
        _prop("decisions", summary.decisions),
        _prop("decisions-allow", summary.outcomes.allow),
        _prop("decisions-deny", summary.outcomes.deny),
        _prop("decisions-error", summary.outcomes.error),
        _prop("break-glass", summary.break_glass),
        _prop("dry-run", summary.dry_run),
        _prop("models", summary.models),
        _prop("checkpoint-size", data.checkpoint.size),
    ]


def _selection(data: ReportData) -> dict[str, Any]:
    if not data.controls:
        return {"include-all": {}, "remarks": "The report covers no control."}
    return {"include-controls": [{"control-id": c.control} for c in data.controls]}


def _observation(
    data: ReportData,
    ids: _Ids,
    control: ControlResults,
    waivers: list[int],
) -> dict[str, Any]:
    c = control
    results = c.passed + c.failed + c.not_applicable + c.not_evaluated
    observation: dict[str, Any] = {
        "uuid": ids(f"observation:{c.control}"),
        "title": f"{c.control} over the period's decisions",
        "description": (
            f"{c.control} ({_FRAMEWORK_LABEL[c.framework]} {c.article}, {c.title}; enforcement "
            f"{c.enforcement}) in {_n(results, 'decision result')}: {c.passed} passed, {c.failed} "
            f"failed ({c.waived} waived), {c.not_applicable} not applicable, {c.not_evaluated} "
            f"not evaluated; {c.verified} verified, {c.declared} declared."
        ),
        "methods": ["TEST"],
        "types": ["control-objective"],
    }
    props = [_prop("evidence-index", i) for i in c.evidence]
    props += [_prop("failed-in", d) for d in c.failed_in]
    props += [_prop("waiver-index", i) for i in waivers]
    if props:
        observation["props"] = props
    evidence = []
    cited = len(c.evidence) + len(c.failed_in) + len(waivers)
    if cited:
        evidence.append(
            {
                "href": f"#{ids('resource:proofs.json')}",
                "description": (
                    f"Inclusion proofs, against the checkpoint of {data.checkpoint.size} entries, "
                    f"of the {cited} ledger {'entry' if cited == 1 else 'entries'} "
                    "this observation's props name: the entries "
                    "its results cite (evidence-index), the decisions in which it failed "
                    "(failed-in) and its waivers in force (waiver-index)."
                ),
            }
        )
    if c.failed_in:
        evidence.append(
            {
                "href": f"#{ids('resource:report-data.json')}",
                "description": (
                    f"The {_n(len(c.failed_in), 'decision')} in which it failed, by decision id, "
                    "in the report data's decisions."
                ),
            }
        )
    if evidence:
        observation["relevant-evidence"] = evidence
    observation["collected"] = data.report.generated_at
    return observation


def _finding(ids: _Ids, control: ControlResults, observation: str) -> dict[str, Any]:
    c = control
    if c.failed:
        state, reason = "not-satisfied", "fail"
        said = f"Failed in {_n(c.failed, 'decision')}"
        said += f", {c.waived} of them under a waiver." if c.waived else "."
    elif c.passed:
        state, reason = "satisfied", "pass"
        said = f"Passed in every decision that evaluated it to a pass or a fail ({c.passed})."
    else:
        state, reason = "not-satisfied", "other"
        said = "No decision of the period evaluated it to a pass or a fail: not demonstrated."
    return {
        "uuid": ids(f"finding:{c.control}"),
        "title": f"{c.control}: {c.title}",
        "description": f"{_FRAMEWORK_LABEL[c.framework]} {c.article}, {c.title}. {said}",
        "props": [_prop("framework", c.framework), _prop("enforcement", c.enforcement)],
        "target": {
            "type": "objective-id",
            "target-id": c.control,
            "status": {"state": state, "reason": reason},
        },
        "related-observations": [{"observation-uuid": observation}],
    }


# -- validation ---------------------------------------------------------------------------------


def validate(document: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidAssessmentResults` naming the first problem of ``document``.

    1. load the vendored schema and check it is the published file (its SHA-256);
    2. validate with JSON Schema draft-07, the schema's patterns translated by
       :func:`python_pattern` (``format`` is an annotation, as draft-07 has it);
    3. report the first error in document order (by path), so the message is stable.
    """
    errors = _validator().iter_errors(document)
    first = min(errors, key=_error_key, default=None)
    if first is not None:
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
        )
        raise InvalidAssessmentResults(path, first.message)


def _error_key(error: ValidationError) -> tuple[tuple[str, ...], str]:
    path = tuple(f"{p:09d}" if isinstance(p, int) else str(p) for p in error.absolute_path)
    return path, error.message


@cache
def _schema() -> dict[str, Any]:
    raw = SCHEMA_PATH.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SCHEMA_SHA256:
        raise RuntimeError(f"{SCHEMA_PATH} is not the published schema (SHA-256 {digest})")
    schema: dict[str, Any] = json.loads(raw)
    return schema


def _pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """The ``pattern`` keyword with the pattern in ECMA-262's dialect (:func:`python_pattern`)."""
    if isinstance(instance, str) and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(python_pattern(pattern))


@cache
def _validator() -> Any:
    schema = _schema()
    cls = validators.extend(Draft7Validator, {"pattern": _pattern})
    # The metaschema checks that every pattern is a regex: in the same dialect as above.
    checker = FormatChecker(formats=list(Draft7Validator.FORMAT_CHECKER.checkers))
    checker.checks("regex", raises=(re.error, UnsupportedPattern))(_compiled)
    cls.check_schema(schema, format_checker=checker)
    return cls(schema)


# -- ECMA-262 patterns in Python ----------------------------------------------------------------

#: ECMA-262 ``\s``: WhiteSpace and LineTerminator.
_ECMA_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: What ECMA-262's ``.`` does not match (no ``s`` flag).
_LINE_TERMINATORS = r"\n\r\u2028\u2029"
_CLASS_ESCAPES = {"d": "0-9", "s": _ECMA_SPACE, "w": "A-Za-z0-9_"}
_PROPERTY = re.compile(r"\{([A-Za-z_]+)\}")


@cache
def _category_ranges(prefix: str) -> str:
    """Every code point whose Unicode general category starts with ``prefix``, as class ranges."""
    ranges: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            end = cp - 1
            ranges.append(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}")
            start = -1
    return "".join(ranges)


#: The Unicode properties :func:`python_pattern` knows: general categories L and N.
_PROPERTIES = {"L": "L", "N": "N"}


def python_pattern(pattern: str) -> str:
    r"""``pattern``, in JSON Schema's ECMA-262 dialect, as a Python ``re`` pattern.

    The result matches the same strings, for the constructs the OSCAL schemas use: ``\p{L}`` and
    ``\p{N}`` become explicit classes of their Unicode general categories; ``$`` is the end of
    the text (Python's also matches before a final newline); ``.`` excludes every line
    terminator; ``\d``, ``\s``, ``\w`` and their negations take their ECMA-262 (ASCII, or
    ECMA whitespace) meaning. :class:`UnsupportedPattern` for any other property class,
    ``\P{…}``, a negated class escape inside brackets, or an empty class ``[]``; everything else
    is passed as written.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 == len(pattern):
                raise UnsupportedPattern(f"trailing backslash in {pattern!r}")
            escape = pattern[i + 1]
            if escape in "pP":
                found = _PROPERTY.match(pattern, i + 2)
                name = found.group(1) if found else ""
                if escape == "P" or name not in _PROPERTIES or found is None:
                    raise UnsupportedPattern(f"\\{escape}{{{name}}} in {pattern!r}")
                ranges = _category_ranges(_PROPERTIES[name])
                out.append(ranges if in_class else f"[{ranges}]")
                i = found.end()
                continue
            if escape in _CLASS_ESCAPES:
                ranges = _CLASS_ESCAPES[escape]
                out.append(ranges if in_class else f"[{ranges}]")
            elif escape.lower() in _CLASS_ESCAPES:
                if in_class:
                    raise UnsupportedPattern(f"\\{escape} inside a class in {pattern!r}")
                out.append(f"[^{_CLASS_ESCAPES[escape.lower()]}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
            out.append(ch)
        elif ch == "[":
            after = pattern[i + 1 : i + 3]
            if after.startswith("]") or after == "^]":
                raise UnsupportedPattern(f"empty class in {pattern!r}")
            in_class = True
            out.append(ch)
            if after.startswith("^"):
                out.append("^")
                i += 1
        elif ch == "$":
            out.append(r"\Z")
        elif ch == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)
