"""``report-data.json`` from the ledger as of one signed checkpoint (:func:`build_report_data`).

Everything comes from ledger entries below the checkpoint's size, read through their projections
(the gate's decisions, approvals and waivers, the attestation verdicts) and, where a projection
does not keep it, from the entries' payloads (a decision's recorded input, a break-glass reason).
The policy catalog is the bundle in force's. Nothing depends on the clock: the document's time
is the checkpoint's, and every list is in a stated order, so the same checkpoint and options
give the same bytes.

What the figures mean:

* a decision is in a report for a framework when it evaluated that framework, or when its
  engine failed (an ``error`` decision evaluated nothing, so it is in every framework's report);
  ``all`` takes every decision of the period (``evaluated_at`` in ``[start, end)``);
* per framework, a decision's outcome is ``error`` when its engine failed, ``deny`` when one of
  that framework's controls is among its violations, ``allow`` otherwise;
* control figures count the results of the report's decisions (one result per control each
  decision evaluated); a decision whose payload was erased has no results left and is counted
  in :attr:`~reports.model.Limitations.erased` instead;
* exceptions are the waivers of the report's controls in force at some time of the period
  (granted before its end, expiring after its start); approvals and attestation verdicts are
  those recorded in the period;
* promoted models are those of the decisions that allowed the promotion (``allow``: enforce
  allow, a dry run, break glass); their upstream personal data is read from those decisions'
  recorded inputs, with the policies' own test (a personal-data flag in the classification, or
  a ``pii``, ``personal``, ``personal_data`` or ``sensitive`` tag on the dataset or a field).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any, Literal, cast, get_args

from sqlalchemy.engine import Engine

from governance.errors import ConfigError, Conflict, InputError, IntegrityError, Unavailable
from governance.ledger import kinds, merkle
from governance.ledger.canonical import canonical_json
from governance.policy.bundle import Control, PolicyBundle
from governance.sql import Dialect, keyset, select_by_ids, snapshot
from governance.timefmt import format_time
from reports import model
from reports.model import Framework

__all__ = [
    "FRAMEWORK_CHOICES",
    "Progress",
    "ReportOptions",
    "build_report_data",
    "family",
    "parse_time",
    "report_id",
    "statement_of_applicability",
]

FrameworkChoice = Literal["gdpr", "uae_pdpl", "iso27001", "all"]
#: What ``--framework`` accepts.
FRAMEWORK_CHOICES: tuple[str, ...] = get_args(FrameworkChoice)

#: Reports progress as (stage, done, total): stages ``decisions``, ``inputs``, ``evidence``.
Progress = Callable[[str, int, int | None], None]

#: Decisions read per statement (each row carries every control result of its decision).
_DECISION_CHUNK = 500
#: Payloads (recorded inputs) read per statement.
_PAYLOAD_CHUNK = 200
#: Cited entries looked up per statement.
_EVIDENCE_CHUNK = 2000
#: Controls listed per framework in the executive summary.
_TOP_FAILING = 5
#: The projections a report reads, which must have applied every entry below its checkpoint.
_PROJECTIONS = (kinds.GATE_PROJECTION, kinds.VERDICTS_PROJECTION)
#: The policies' tags for personal data (``policies/lib``: ``pii_tags``).
_PII_TAGS = frozenset({"pii", "personal", "personal_data", "sensitive"})
_PERSONAL_FLAGS = ("personal_data", "special_category", "criminal_offence", "children")
_ERASED = "(erased)"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- options ------------------------------------------------------------------------------------


def parse_time(text: str, name: str) -> str:
    """A period bound in the service's time form.

    ``YYYY-MM-DD`` is midnight UTC; otherwise RFC 3339 with a zone. :class:`InputError` naming
    ``name`` for anything else.
    """
    try:
        if _DATE.match(text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(text)
        return format_time(moment)
    except (ValueError, OverflowError):
        raise InputError(
            f"{name} must be a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time with a zone",
            hint="e.g. 2026-01-01 or 2026-01-01T00:00:00Z",
        ) from None


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What a report is asked for: a framework, a period ``[start, end)``, maybe a checkpoint."""

    framework: FrameworkChoice
    #: The service's time form (:func:`governance.timefmt.format_time`).
    start: str
    end: str
    #: A checkpoint's tree size; ``None`` is the newest checkpoint.
    checkpoint: int | None = None

    @classmethod
    def of(
        cls, framework: str, start: str, end: str, checkpoint: int | None = None
    ) -> ReportOptions:
        """Options from what a person typed; :class:`InputError` naming what is wrong."""
        if framework not in FRAMEWORK_CHOICES:
            raise InputError(f"framework must be one of {', '.join(FRAMEWORK_CHOICES)}")
        first, last = parse_time(start, "from"), parse_time(end, "to")
        if first >= last:
            raise InputError("the period is empty: from must be before to")
        if checkpoint is not None and checkpoint < 1:
            raise InputError("checkpoint must be a tree size of at least 1")
        return cls(cast("FrameworkChoice", framework), first, last, checkpoint)

    def at(self, size: int) -> ReportOptions:
        """The same options pinned to the checkpoint of ``size``."""
        return ReportOptions(self.framework, self.start, self.end, size)


def report_id(options: ReportOptions, size: int) -> str:
    """``sha256:`` of the canonical options (framework, period, checkpoint size)."""
    canonical = canonical_json(
        {
            "framework": options.framework,
            "period": {"start": options.start, "end": options.end},
            "checkpoint": size,
        }
    )
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def generated_by() -> str:
    """``governance-audit <version>`` of the installed distribution."""
    try:
        version = metadata.version("governance-audit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"governance-audit {version}"


# -- the catalog --------------------------------------------------------------------------------

_ISO_THEMES = {
    "5": "A.5 Organizational controls",
    "6": "A.6 People controls",
    "7": "A.7 Physical controls",
    "8": "A.8 Technological controls",
}
_GDPR_CHAPTERS = (
    (1, 4, "Ch. I General provisions"),
    (5, 11, "Ch. II Principles"),
    (12, 23, "Ch. III Rights of the data subject"),
    (24, 43, "Ch. IV Controller and processor"),
    (44, 50, "Ch. V Transfers to third countries"),
)
# Groups of the Decree-Law's articles, named for what they govern.
_PDPL_GROUPS = (
    (1, 3, "Arts. 1–3 General provisions and scope"),
    (4, 6, "Arts. 4–6 Processing and consent"),
    (7, 12, "Arts. 7–12 Controller and processor obligations"),
    (13, 19, "Arts. 13–19 Rights of the data subject"),
    (20, 21, "Arts. 20–21 Security and impact assessment"),
    (22, 23, "Arts. 22–23 Cross-border transfer"),
)
_FRAMEWORK_LABEL = {"gdpr": "GDPR", "uae_pdpl": "PDPL", "iso27001": "ISO 27001"}


def family(framework: str, article: str) -> str:
    """The control family of an article, for the results-per-family chart.

    An ISO 27001 Annex A theme, a GDPR chapter, or a group of PDPL articles; the first article
    the control cites decides.
    """
    label = _FRAMEWORK_LABEL.get(framework, framework)
    if framework == "iso27001":
        found = re.search(r"A\.(\d+)", article)
        if found and found.group(1) in _ISO_THEMES:
            return f"{label} {_ISO_THEMES[found.group(1)]}"
    elif framework in ("gdpr", "uae_pdpl"):
        if framework == "gdpr" and article.startswith("Ch. V"):
            return f"{label} {_GDPR_CHAPTERS[-1][2]}"
        number = re.search(r"\d+", article)
        groups = _GDPR_CHAPTERS if framework == "gdpr" else _PDPL_GROUPS
        if number:
            for low, high, name in groups:
                if low <= int(number.group()) <= high:
                    return f"{label} {name}"
    return f"{label} other"


#: Every family :func:`family` names, in the order of the catalog's frameworks and articles.
_FAMILY_ORDER = {
    name: rank
    for rank, name in enumerate(
        [f"GDPR {n}" for _, _, n in _GDPR_CHAPTERS]
        + [f"PDPL {n}" for _, _, n in _PDPL_GROUPS]
        + [f"ISO 27001 {n}" for n in _ISO_THEMES.values()]
    )
}


def _catalog_control(control: Control) -> model.CatalogControl:
    return model.CatalogControl(
        control=control.id,
        framework=cast("Framework", control.framework),
        article=control.article,
        title=control.title,
        enforcement=cast("Literal['deny', 'warn']", control.enforcement),
        family=family(control.framework, control.article),
    )


def statement_of_applicability(
    controls: Sequence[model.CatalogControl], config: Mapping[str, Any]
) -> list[model.SoaEntry]:
    """The Statement of Applicability: one row per Annex A control an ISO control cites.

    Applicability and justification come from the configuration's ``soa`` (keyed by Annex A
    control, e.g. ``A.8.25``, or by the service's control id); without an entry a control is
    applicable, justified by the gate evaluating it on every promotion.
    """
    configured = config.get("soa") or {}
    if not isinstance(configured, Mapping):
        raise ConfigError("the policy configuration's soa must map Annex A controls to entries")
    rows = []
    for control in controls:
        if control.framework != "iso27001":
            continue
        refs = re.findall(r"A\.\d+\.\d+", control.article) or [control.article]
        titles = control.title.split("; ")
        if len(titles) != len(refs):
            titles = [control.title] * len(refs)
        for ref, title in zip(refs, titles, strict=True):
            entry = configured.get(ref) or configured.get(control.control) or {}
            if not isinstance(entry, Mapping):
                raise ConfigError(f"the policy configuration's soa entry for {ref} is no mapping")
            justification = entry.get("justification") or (
                f"Evaluated by the promotion gate on every model promotion as {control.control} "
                f"(enforcement {control.enforcement})."
            )
            rows.append(
                model.SoaEntry(
                    control=control.control,
                    annex_a=ref,
                    title=title[:1].upper() + title[1:],
                    applicable=bool(entry.get("applicable", True)),
                    justification=str(justification),
                    evaluated_by_service=True,
                )
            )
    return rows


# -- reading ------------------------------------------------------------------------------------


def _no_outcomes() -> dict[str, int]:
    return dict.fromkeys(("allow", "deny", "error"), 0)


@dataclass(slots=True)
class _Tally:
    """How one control fared over the report's decisions."""

    framework: str
    article: str
    title: str
    enforcement: str
    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    not_evaluated: int = 0
    waived: int = 0
    verified: int = 0
    declared: int = 0
    failed_in: list[str] = field(default_factory=list)
    evidence: set[int] = field(default_factory=set)
    first_failure: str = ""
    last_failure: str = ""


@dataclass
class _Decisions:
    """What one pass over the period's decisions gathers (:meth:`add`)."""

    frameworks: tuple[str, ...]
    every: bool
    size: int
    tallies: dict[str, _Tally]
    framework_of: dict[str, str]
    rows: list[model.Decision] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=_no_outcomes)
    per_framework: dict[str, dict[str, int]] = field(default_factory=dict)
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)
    bundles: set[str] = field(default_factory=set)
    engines: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    break_glass: list[model.Decision] = field(default_factory=list)
    dry_run: int = 0
    erased: int = 0
    #: Decisions that allowed a promotion: (index, decision).
    allowed: list[model.Decision] = field(default_factory=list)
    #: Waiver index → decision ids that waived a control under it.
    waiver_uses: dict[int, list[str]] = field(default_factory=dict)
    #: Cited entry → what cites it, in order.
    cited: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.frameworks:
            self.per_framework[name] = _no_outcomes()

    def cite(self, index: int, by: str) -> None:
        """Record that ``by`` cites entry ``index`` (once per citer)."""
        if not 0 <= index < self.size:
            return
        citers = self.cited.setdefault(index, [])
        if not citers or citers[-1] != by:
            citers.append(by)

    def includes(self, outcome: str, evaluated: Sequence[str]) -> bool:
        """Whether a decision is in the report (module docstring)."""
        return self.every or outcome == "error" or any(f in self.frameworks for f in evaluated)

    def add(self, row: Sequence[Any]) -> None:
        """Take one ``gate_decisions`` row (see :data:`_DECISIONS`) into every figure."""
        (index, decision_id, digest, name, version, target, outcome, allow, mode, requested_by,
         evaluated_at, summary_json, results_json) = row  # fmt: skip
        summary = json.loads(summary_json)
        if not self.includes(outcome, summary.get("evaluated") or ()):
            return
        index = int(index)
        policy = summary.get("policy") or {}
        engine = " ".join(str(policy[k]) for k in ("engine", "engine_version") if policy.get(k))
        waived = summary.get("waived") or []
        decision = model.Decision(
            decision_id=decision_id,
            index=index,
            evaluated_at=evaluated_at,
            model_name=name,
            model_version=version,
            digest=digest,
            target=target,
            mode=mode,
            outcome=outcome,
            allow=bool(allow),
            requested_by=requested_by,
            violations=list(summary.get("violations") or ()),
            warnings=list(summary.get("warnings") or ()),
            waived=[w["control"] for w in waived],
            bundle_digest=str(policy.get("bundle_digest", "")),
            engine=engine,
        )
        self.rows.append(decision)
        self.outcomes[outcome] += 1
        day = self.days.setdefault(evaluated_at[:10], _no_outcomes())
        day[outcome] += 1
        self.digests.add(digest)
        self.bundles.add(decision.bundle_digest)
        self.engines.add(engine)
        self.targets.add(target)
        if mode == "break_glass":
            self.break_glass.append(decision)
        elif mode == "dry_run":
            self.dry_run += 1
        if decision.allow:
            self.allowed.append(decision)
        self.cite(index, decision_id)
        for name_ in self.frameworks:
            if outcome == "error":
                self.per_framework[name_]["error"] += 1
            elif name_ in (summary.get("evaluated") or ()):
                denied = any(self.framework_of.get(c) == name_ for c in decision.violations)
                self.per_framework[name_]["deny" if denied else "allow"] += 1
        for w in waived:
            self.waiver_uses.setdefault(int(w["waiver"]), []).append(decision_id)
            self.cite(int(w["waiver"]), decision_id)
            tally = self.tallies.get(w["control"])
            if tally is not None:
                tally.waived += 1
        if results_json is None:
            if outcome != "error":
                self.erased += 1
            return
        self._results(json.loads(results_json), decision)

    def _results(self, results: Iterable[Mapping[str, Any]], decision: model.Decision) -> None:
        """Count one decision's control results (the hot loop: about 40 per decision)."""
        tallies, cited, size = self.tallies, self.cited, self.size
        decision_id, at = decision.decision_id, decision.evaluated_at
        for result in results:
            tally = tallies.get(result["control"]) or self._unknown(result)
            if tally is None:
                continue
            status = result["status"]
            if status == "pass":
                tally.passed += 1
            elif status == "fail":
                tally.failed += 1
                tally.failed_in.append(decision_id)
                if not tally.first_failure or at < tally.first_failure:
                    tally.first_failure = at
                if at > tally.last_failure:
                    tally.last_failure = at
            elif status == "not_applicable":
                tally.not_applicable += 1
            else:
                tally.not_evaluated += 1
            if result["basis"] == "declared":
                tally.declared += 1
            else:
                tally.verified += 1
            for index in result["evidence"]:
                if type(index) is int and 0 <= index < size:
                    tally.evidence.add(index)
                    citers = cited.get(index)
                    if citers is None:
                        cited[index] = [decision_id]
                    elif citers[-1] is not decision_id:
                        citers.append(decision_id)

    def _unknown(self, result: Mapping[str, Any]) -> _Tally | None:
        """A new tally for a control the catalog in force no longer has.

        The result describes it; ``None`` when it is not of the report's frameworks.
        """
        if not self.every and result.get("framework") not in self.frameworks:
            return None
        tally = self.tallies[result["control"]] = _Tally(
            framework=str(result.get("framework")),
            article=str(result.get("article", "")),
            title=str(result.get("title", "")),
            enforcement=str(result.get("enforcement", "deny")),
        )
        self.framework_of.setdefault(result["control"], tally.framework)
        return tally


_DECISIONS = (
    "SELECT ledger_index, decision_id, digest, model_name, model_version, target, outcome, "
    "allow, mode, requested_by, evaluated_at, summary, results FROM gate_decisions "
    "WHERE ledger_index > :after AND ledger_index < :size "
    "AND evaluated_at >= :start AND evaluated_at < :end ORDER BY ledger_index LIMIT :limit"
)
_COUNT_DECISIONS = (
    "SELECT count(*) FROM gate_decisions WHERE ledger_index < :size "
    "AND evaluated_at >= :start AND evaluated_at < :end"
)
_APPROVALS = (
    "SELECT ledger_index, digest, target, approver, decision_id, approved_at FROM gate_approvals "
    "WHERE ledger_index > :after AND ledger_index < :size "
    "AND approved_at >= :start AND approved_at < :end ORDER BY ledger_index LIMIT :limit"
)
_WAIVERS = (
    "SELECT ledger_index, control, digest, target, approver, granted_at, expires_at, reason "
    "FROM gate_waivers WHERE ledger_index > :after AND ledger_index < :size "
    "AND granted_at < :end AND expires_at > :start ORDER BY ledger_index LIMIT :limit"
)
_VERDICTS = (
    "SELECT ledger_index, purpose, verdict, reason, expected_digest, facts, verified_at "
    "FROM attestation_verdicts WHERE ledger_index > :after AND ledger_index < :size "
    "AND verified_at >= :start AND verified_at < :end ORDER BY ledger_index LIMIT :limit"
)


class _Reader:
    """Statements on one consistent snapshot of the database."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def one(self, statement: str, params: Mapping[str, Any]) -> Any:
        self.cursor.execute(self.dialect.sql(statement), dict(params))
        return self.cursor.fetchone()

    def all(self, statement: str, params: Mapping[str, Any]) -> list[Any]:
        self.cursor.execute(self.dialect.sql(statement), dict(params))
        return list(self.cursor.fetchall())

    def chunks(
        self, statement: str, params: Mapping[str, Any], chunk: int
    ) -> Iterator[Sequence[Any]]:
        return keyset(self.cursor, self.dialect, statement, params, chunk=chunk)

    def rows(self, statement: str, params: Mapping[str, Any]) -> Iterator[Any]:
        for chunk in self.chunks(statement, params, 5000):
            yield from chunk

    def by_ids(self, statement: str, column: str, ids: Iterable[int]) -> list[Any]:
        return select_by_ids(self.cursor, self.dialect, [(statement, column, ids)])[0]


def _checkpoint(reader: _Reader, size: int | None) -> tuple[int, bytes, str, str]:
    """Step 1: the checkpoint (size, root, note, created_at)."""
    if size is None:
        row = reader.one(
            "SELECT size, root, note, created_at FROM ledger_checkpoints "
            "ORDER BY size DESC LIMIT 1",
            {},
        )
        if row is None:
            raise InputError("the ledger is empty: no checkpoint has been signed yet")
    else:
        row = reader.one(
            "SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = :size",
            {"size": size},
        )
        if row is None:
            raise InputError(
                f"no checkpoint of size {size}",
                hint="one checkpoint is signed per committed batch; "
                "`governance ledger checkpoint` prints the newest",
            )
    return int(row[0]), bytes(row[1]), str(row[2]), str(row[3])


def _check_projections(reader: _Reader, size: int) -> None:
    """Step 1: every entry below the checkpoint is in the tables the report reads."""
    marks = ", ".join(f":p{i}" for i in range(len(_PROJECTIONS)))
    names = {f"p{i}": name for i, name in enumerate(_PROJECTIONS)}
    watermarks = dict(
        reader.all(f"SELECT name, next_index FROM projection_state WHERE name IN ({marks})", names)  # noqa: S608
    )
    for name in _PROJECTIONS:
        if int(watermarks.get(name, 0)) < size:
            raise Unavailable(
                f"the {name} projection has not yet applied every entry of the checkpoint "
                f"({size} entries)",
                hint="retry in a moment; `governance ledger status` shows its progress",
            )
    failed = reader.all(
        "SELECT projection, ledger_index FROM projection_failures "  # noqa: S608
        f"WHERE projection IN ({marks}) AND ledger_index < :size ORDER BY ledger_index LIMIT 5",
        {**names, "size": size},
    )
    if failed:
        shown = ", ".join(f"{i} ({p})" for p, i in failed)
        raise Conflict(
            f"entries the report would cite could not be projected: {shown}",
            hint="`governance ledger status` lists them; a report would silently omit them",
        )


def _payloads(reader: _Reader, indexes: Sequence[int]) -> Iterator[tuple[int, bytes | None]]:
    """Step 5: each entry's payload (``None`` once erased), a chunk at a time."""
    for start in range(0, len(indexes), _PAYLOAD_CHUNK):
        chunk = indexes[start : start + _PAYLOAD_CHUNK]
        found = {
            int(i): bytes(data)
            for i, data in reader.by_ids(
                "SELECT idx, data FROM ledger_payloads WHERE {ids}", "idx", chunk
            )
        }
        for index in chunk:
            yield index, found.get(index)


_DECODER = json.JSONDecoder()
_INPUT_KEY = '{"input":'
_REASON_KEY = ',"reason":'


def _input_and_reason(payload: bytes) -> tuple[Any, Any]:
    """A decision payload's input document and break-glass reason, leaving its results unread.

    The payload is the canonical JSON of ``{"input", "reason", "results"}``
    (:func:`governance.gate.record.decision_request`), so its keys come in that order and the
    results, most of its bytes, need not be parsed. Anything else is parsed whole.
    """
    text = payload.decode("utf-8")
    if text.startswith(_INPUT_KEY):
        try:
            document, end = _DECODER.raw_decode(text, len(_INPUT_KEY))
            if text.startswith(_REASON_KEY, end):
                reason, _ = _DECODER.raw_decode(text, end + len(_REASON_KEY))
                return document, reason
        except ValueError:
            pass
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        return None, None
    return parsed.get("input"), parsed.get("reason")


def _personal(dataset: Mapping[str, Any]) -> bool:
    classification = dataset.get("classification") or {}
    if any(classification.get(flag) is True for flag in _PERSONAL_FLAGS):
        return True
    tags = [
        *dataset.get("tags", ()),
        *(t for f in dataset.get("fields", ()) for t in f.get("tags", ())),
    ]
    return any(str(t).split("=", 1)[0].lower() in _PII_TAGS for t in tags)


def _personal_upstream(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return []
    datasets = document.get("datasets") or ()
    return [d["node"] for d in datasets if d.get("distance", 0) > 0 and _personal(d)]


def _subject_digests(expected: str | None, facts: Mapping[str, Any] | None) -> list[str]:
    found: list[str] = []
    if expected:
        found.append(expected)
    if facts:
        found.append(facts.get("artifact_digest") or "")
        found.append((facts.get("model") or {}).get("digest") or "")
        found.extend(
            s["digest"]["sha256"] for s in facts.get("subjects") or () if "sha256" in s["digest"]
        )
    spelled = ("sha256:" + d.removeprefix("sha256:").lower() for d in found if d)
    return list(dict.fromkeys(spelled))


def _leaves(reader: _Reader, indexes: Sequence[int]) -> dict[int, tuple[str, bytes]]:
    """Step 6: the kind and leaf hash of each of ``indexes``."""
    found: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(indexes), _EVIDENCE_CHUNK):
        chunk = indexes[start : start + _EVIDENCE_CHUNK]
        positions = {merkle.node_position(0, i): i for i in chunk}
        entries, nodes = select_by_ids(
            reader.cursor,
            reader.dialect,
            [
                ("SELECT idx, kind FROM ledger_entries WHERE {ids}", "idx", chunk),
                ("SELECT id, hash FROM ledger_nodes WHERE {ids}", "id", positions),
            ],
        )
        kinds_ = {int(i): str(k) for i, k in entries}
        for node, leaf in nodes:
            index = positions[int(node)]
            found[index] = (kinds_[index], bytes(leaf))
    missing = [i for i in indexes if i not in found]
    if missing:
        raise IntegrityError(
            f"cited ledger entries or their leaves are missing: {missing[:5]}",
            hint="run `governance ledger audit`",
        )
    return found


# -- building -----------------------------------------------------------------------------------


def build_report_data(
    engine: Engine,
    bundle: PolicyBundle,
    public_key: str,
    options: ReportOptions,
    *,
    progress: Progress | None = None,
) -> model.ReportData:
    """The report-data document for ``options``, as of one signed checkpoint.

    1. the checkpoint (the newest, or the one of ``options.checkpoint`` entries: an
       :class:`InputError` when there is none), and the projections the report reads must
       have applied every entry below it;
    2. the catalog of the report's frameworks, from ``bundle`` (the bundle in force);
    3. the period's decisions, read once in ledger order a chunk at a time: rows, counts,
       every control result, what each cites;
    4. approvals and attestation verdicts of the period, waivers in force during it;
    5. the promoted models, with the personal data upstream from their decisions' recorded
       inputs, and the break-glass reasons, read a chunk of payloads at a time;
    6. every cited entry's kind and leaf hash.

    Everything is read on one snapshot of the database (see the module docstring for what each
    figure counts). ``public_key`` is the ledger's verifier key, carried in the document.
    """
    with _without_collection():
        return _build(engine, bundle, public_key, options, _Progress(progress))


def _build(
    engine: Engine,
    bundle: PolicyBundle,
    public_key: str,
    options: ReportOptions,
    report: _Progress,
) -> model.ReportData:
    """The steps of :func:`build_report_data`."""
    with snapshot(engine) as cursor:
        reader = _Reader(cursor, Dialect.of(engine))
        # 1. The checkpoint.
        size, root, note, created_at = _checkpoint(reader, options.checkpoint)
        _check_projections(reader, size)
        window = {"size": size, "start": options.start, "end": options.end}
        # 2. The catalog.
        catalog_frameworks = list(bundle.governance["catalog"].get("frameworks") or ())
        chosen = (
            [f for f in catalog_frameworks if f in get_args(Framework)]
            if options.framework == "all"
            else [options.framework]
        )
        all_controls = list(bundle.controls())
        framework_of = {c.id: c.framework for c in all_controls}
        catalog = [_catalog_control(c) for c in all_controls if c.framework in chosen]
        tallies = {
            c.control: _Tally(c.framework, c.article, c.title, c.enforcement) for c in catalog
        }
        # 3. The decisions.
        decisions = _Decisions(
            frameworks=tuple(chosen),
            every=options.framework == "all",
            size=size,
            tallies=tallies,
            framework_of=framework_of,
        )
        total = int(reader.one(_COUNT_DECISIONS, window)[0])
        done = 0
        for chunk in reader.chunks(_DECISIONS, window, _DECISION_CHUNK):
            for row in chunk:
                decisions.add(row)
            done += len(chunk)
            report("decisions", done, total)
        # 4. Approvals, waivers, attestation verdicts.
        approvals = [_approval(r) for r in reader.rows(_APPROVALS, window)]
        for approval in approvals:
            decisions.cite(approval.index, f"approval:{approval.index}")
        exceptions = [
            _exception(r, decisions.waiver_uses)
            for r in reader.rows(_WAIVERS, window)
            if decisions.every or decisions.framework_of.get(r[1]) in chosen
        ]
        verdicts = [_verdict(r) for r in reader.rows(_VERDICTS, window)]
        for verdict in verdicts:
            decisions.cite(verdict.index, f"attestation:{verdict.index}")
        for waiver in exceptions:
            decisions.cite(waiver.index, f"waiver:{waiver.index}")
        # 5. Promoted models and break-glass reasons, from the recorded payloads.
        system, reasons = _system(reader, decisions, report)
        # 6. The cited entries.
        cited = sorted(decisions.cited)
        leaves = _leaves(reader, cited)
        report("evidence", len(cited), len(cited))
    evidence = [
        model.EvidenceRef(
            index=i, kind=leaves[i][0], leaf_hash=leaves[i][1].hex(), cited_by=decisions.cited[i]
        )
        for i in cited
    ]
    controls = _controls(catalog, tallies)
    return model.ReportData(
        report=model.ReportInfo(
            report_id=report_id(options, size),
            framework=options.framework,
            frameworks=cast("list[Framework]", chosen),
            period=model.Period(start=options.start, end=options.end),
            generated_at=created_at,
            generated_by=generated_by(),
        ),
        checkpoint=model.Checkpoint(
            size=size, root=root.hex(), note=note, public_key=public_key, created_at=created_at
        ),
        criteria=model.Criteria(
            bundle_digests=sorted(decisions.bundles),
            engines=sorted(decisions.engines),
            targets=sorted(decisions.targets),
            catalog_version=bundle.catalog_version,
            catalog=catalog,
        ),
        summary=_summary(decisions, tallies, len(approvals)),
        decisions=decisions.rows,
        controls=controls,
        evidence=evidence,
        exceptions=exceptions,
        break_glass=[
            model.BreakGlass(
                decision_id=d.decision_id,
                index=d.index,
                evaluated_at=d.evaluated_at,
                requested_by=d.requested_by,
                reason=reasons.get(d.index) or _ERASED,
                outcome=d.outcome,
            )
            for d in decisions.break_glass
        ],
        supply_chain=model.SupplyChain(
            passed=sum(v.verdict == "pass" for v in verdicts),
            failed=sum(v.verdict == "fail" for v in verdicts),
            verdicts=verdicts,
        ),
        system=system,
        limitations=model.Limitations(
            engine_errors=decisions.outcomes["error"],
            not_evaluated=[
                model.ControlCount(control=c.control, count=c.not_evaluated)
                for c in controls
                if c.not_evaluated
            ],
            declared=[
                model.ControlCount(control=c.control, count=c.declared)
                for c in controls
                if c.declared
            ],
            erased=decisions.erased,
        ),
        corrective_actions=[
            model.CorrectiveAction(
                control=control,
                failures=tally.failed,
                first=tally.first_failure,
                last=tally.last_failure,
            )
            for control, tally in sorted(tallies.items(), key=lambda t: (-t[1].failed, t[0]))
            if tally.failed >= 2
        ],
        decisions_per_day=[
            model.DayCount(day=day, **counts) for day, counts in sorted(decisions.days.items())
        ],
        results_per_family=_families(controls),
        soa=statement_of_applicability(catalog, bundle.config),
        approvals=approvals,
    )


@contextlib.contextmanager
def _without_collection() -> Iterator[None]:
    """No automatic garbage collection while a report is built.

    A large report holds millions of small objects that make no reference cycles; every
    collection of the oldest generation would walk them all again (a third of the build time
    at 50,000 decisions). The switch is process-wide, for as long as the build lasts.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Progress:
    """Calls the caller's progress function, if any."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)


def _approval(row: Sequence[Any]) -> model.Approval:
    index, digest, target, approver, decision_id, approved_at = row
    return model.Approval(
        index=int(index),
        digest=digest,
        target=target,
        approver=approver,
        approved_at=approved_at,
        decision_id=decision_id,
    )


def _exception(row: Sequence[Any], uses: Mapping[int, list[str]]) -> model.Exception_:
    index, control, digest, target, approver, granted_at, expires_at, reason = row
    return model.Exception_(
        index=int(index),
        control=control,
        digest=digest,
        target=target,
        approver=approver,
        granted_at=granted_at,
        expires_at=expires_at,
        reason=_ERASED if reason is None else reason,
        decisions_covered=list(uses.get(int(index), ())),
    )


def _verdict(row: Sequence[Any]) -> model.AttestationVerdict:
    index, purpose, verdict, reason, expected, facts_json, verified_at = row
    facts = json.loads(facts_json) if facts_json else None
    return model.AttestationVerdict(
        index=int(index),
        purpose=purpose,
        verdict=verdict,
        reason=reason,
        subject_digests=_subject_digests(expected, facts),
        signer=((facts or {}).get("signer") or {}).get("identity"),
        received_at=verified_at,
    )


def _system(
    reader: _Reader, decisions: _Decisions, report: _Progress
) -> tuple[list[model.PromotedModel], dict[int, str]]:
    """Step 5: the promoted models and the break-glass reasons."""
    groups: dict[tuple[str, str, str], list[model.Decision]] = {}
    for decision in decisions.allowed:
        key = (decision.model_name, decision.model_version, decision.digest)
        groups.setdefault(key, []).append(decision)
    wanted = sorted({d.index for d in decisions.allowed} | {d.index for d in decisions.break_glass})
    personal: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    for done, (index, payload) in enumerate(_payloads(reader, wanted), start=1):
        if payload is not None:
            document, reason = _input_and_reason(payload)
            personal[index] = _personal_upstream(document)
            if isinstance(reason, str):
                reasons[index] = reason
        if done % _PAYLOAD_CHUNK == 0 or done == len(wanted):
            report("inputs", done, len(wanted))
    system = [
        model.PromotedModel(
            name=name,
            version=version,
            digest=digest,
            targets=sorted({d.target for d in group}),
            decisions=[d.decision_id for d in group],
            personal_data_upstream=sorted({n for d in group for n in personal.get(d.index, ())}),
        )
        for (name, version, digest), group in sorted(groups.items())
    ]
    return system, reasons


def _controls(
    catalog: Sequence[model.CatalogControl], tallies: Mapping[str, _Tally]
) -> list[model.ControlResults]:
    """Catalog order, then controls only the recorded results name, by id."""
    order = [c.control for c in catalog]
    order += sorted(set(tallies) - set(order))
    return [
        model.ControlResults(
            control=control,
            framework=cast("Framework", t.framework),
            article=t.article,
            title=t.title,
            enforcement=cast("Literal['deny', 'warn']", t.enforcement),
            passed=t.passed,
            failed=t.failed,
            not_applicable=t.not_applicable,
            not_evaluated=t.not_evaluated,
            waived=t.waived,
            verified=t.verified,
            declared=t.declared,
            failed_in=t.failed_in,
            evidence=sorted(t.evidence),
        )
        for control in order
        for t in (tallies[control],)
    ]


def _summary(decisions: _Decisions, tallies: Mapping[str, _Tally], approvals: int) -> model.Summary:
    frameworks = []
    for name in decisions.frameworks:
        failing = sorted(
            ((c, t.failed) for c, t in tallies.items() if t.framework == name and t.failed),
            key=lambda item: (-item[1], item[0]),
        )
        frameworks.append(
            model.FrameworkSummary(
                framework=cast("Framework", name),
                decisions=model.OutcomeCounts(**decisions.per_framework[name]),
                top_failing=[
                    model.ControlCount(control=c, count=n) for c, n in failing[:_TOP_FAILING]
                ],
            )
        )
    return model.Summary(
        decisions=len(decisions.rows),
        outcomes=model.OutcomeCounts(**decisions.outcomes),
        break_glass=len(decisions.break_glass),
        dry_run=decisions.dry_run,
        models=len(decisions.digests),
        frameworks=frameworks,
        approvals=approvals,
    )


def _families(controls: Sequence[model.ControlResults]) -> list[model.FamilyCount]:
    """Per family (GDPR chapters, PDPL articles, Annex A themes, in order): results by status."""
    counts: dict[str, list[int]] = {}
    for c in controls:
        tally = counts.setdefault(family(c.framework, c.article), [0, 0, 0])
        tally[0] += c.passed
        tally[1] += c.failed
        tally[2] += c.not_applicable + c.not_evaluated
    return [
        model.FamilyCount(family=name, passed=p, failed=f, other=o)
        for name, (p, f, o) in sorted(
            counts.items(),
            key=lambda item: (_FAMILY_ORDER.get(item[0], len(_FAMILY_ORDER)), item[0]),
        )
    ]
