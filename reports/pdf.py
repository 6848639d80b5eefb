"""``report.pdf``: the audit report an auditor reads, rendered from ``report-data.json`` alone.

:func:`render_pdf` is a pure function of :class:`~reports.model.ReportData`: the same document
gives the same bytes (no clock, no randomness, the report's time as the PDF's dates, fonts shipped
with reportlab), so ``governance report verify`` regenerates the PDF from the data file and
compares bytes. Every number printed here is a field of the document, or a count or sum of its
lists.

The sections, in order: cover (with a QR code of the data digest), contents, integrity statement,
executive summary (with the two charts), scope and criteria, methodology and limitations, system
description, control results, decisions, exceptions register, break-glass decisions, supply
chain, corrective actions, sign-off, and an appendix of the cited ledger entries.

Tables that grow with the ledger are capped (:data:`DECISION_ROWS`, :data:`EVIDENCE_ROWS`,
:data:`LIST_ROWS`, and :data:`IDS_PER_CELL` ids in a cell), each time with a sentence giving the
cap, the full count and the file holding the complete list, so 50,000 decisions make a report of
tens of pages, not thousands. Every control is listed.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
)

from governance.ledger.canonical import canonical_json
from reports.model import ControlCount, ControlResults, Decision, ReportData
from reports.pdf_charts import (
    charted_families,
    decisions_chart,
    families_chart,
    last_day,
    timeline,
)
from reports.pdf_layout import (
    FONT,
    FONT_BOLD,
    MUTED,
    PALETTE,
    TEXT_WIDTH,
    AuditDocTemplate,
    Heading,
    PageFurniture,
    PageTotal,
    code,
    data_table,
    hex_colour,
    plain_table,
    styles,
    table_of_contents,
    text,
    wrapped,
)

__all__ = [
    "DECISION_ROWS",
    "EVIDENCE_ROWS",
    "IDS_PER_CELL",
    "LIST_ROWS",
    "data_digest",
    "render_pdf",
]

#: The most decisions the decisions table lists (the rest are in ``decisions.csv``).
DECISION_ROWS = 500
#: The most cited ledger entries the appendix lists (the rest are in ``evidence.csv``).
EVIDENCE_ROWS = 500
#: The most rows the other lists (models, waivers, break-glass decisions, attestation verdicts)
#: show.
LIST_ROWS = 200
#: The most decision ids, or ledger index ranges, one table cell lists.
IDS_PER_CELL = 12

FRAMEWORK_NAMES: dict[str, str] = {
    "gdpr": "GDPR",
    "uae_pdpl": "UAE PDPL",
    "iso27001": "ISO/IEC 27001:2022",
}
FRAMEWORK_TITLES: dict[str, str] = {
    "gdpr": "Regulation (EU) 2016/679 (General Data Protection Regulation)",
    "uae_pdpl": "UAE Federal Decree-Law No. 45 of 2021 (Personal Data Protection Law)",
    "iso27001": "ISO/IEC 27001:2022, Annex A",
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_VERIFY = "governance report verify DIR --public-key KEY"
_T = TypeVar("_T")


def data_digest(data: ReportData, canonical: bytes | None = None) -> str:
    """``sha256:`` of the canonical ``report-data.json``: the digest the report is known by.

    ``canonical`` is that file's bytes when the caller already has them (the bundle writes them
    anyway; canonicalising 50,000 decisions takes seconds), else they are computed here.
    """
    raw = canonical_json(data.model_dump(mode="json")) if canonical is None else canonical
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def render_pdf(data: ReportData, canonical: bytes | None = None) -> bytes:
    """The report as PDF bytes; the same ``data`` always gives the same bytes.

    ``canonical``: ``report-data.json``'s bytes, if the caller has them (:func:`data_digest`).
    """
    digest = data_digest(data, canonical)
    info = data.report
    names = ", ".join(FRAMEWORK_NAMES[f] for f in info.frameworks)
    furniture = PageFurniture(
        header=f"Compliance audit report  ·  {names}  ·  {_period_words(data)}",
        footer=f"Report {info.report_id[:23]}…  ·  data {digest[:23]}…",
        pdf_date=_pdf_date(info.generated_at),
        identity=digest,
    )
    out = io.BytesIO()
    total = PageTotal()
    doc = AuditDocTemplate(
        out,
        furniture,
        total,
        title=f"Compliance audit report: {names}, {_period_words(data)}",
        author=info.generated_by,
        subject=f"Report {info.report_id}; report-data.json {digest}",
        creator=info.generated_by,
        keywords=["audit", *info.frameworks],
    )
    story: list[Flowable] = [total, *_cover(data, digest)]
    for number, section in enumerate(_SECTIONS, start=1):
        story.extend(section(data, _Numbering(number, digest)))
    doc.multiBuild(story, maxPasses=12)
    return out.getvalue()


class _Numbering:
    """Section ``n``'s heading and its subsections' (``n.1``, ``n.2``...), and the data digest.

    The digest rides along so it is computed once: canonical JSON of 50,000 decisions takes
    seconds.
    """

    def __init__(self, number: int, digest: str) -> None:
        self.number = number
        self.digest = digest
        self._sub = 0

    def section(self, title: str) -> Heading:
        return Heading(f"{self.number}  {title}", 0, f"s{self.number}")

    def sub(self, title: str) -> Heading:
        self._sub += 1
        return Heading(f"{self.number}.{self._sub}  {title}", 1, f"s{self.number}-{self._sub}")


# --- words and numbers -------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _when(moment: str) -> str:
    """A service time, shorter: ``2026-01-04 12:55:03Z`` (the fraction only when not zero)."""
    day, _, clock = moment.partition("T")
    clock = clock.removesuffix("Z").removesuffix(".000000")
    return f"{day} {clock}Z"


def _when_cell(moment: str, prefix: str = "") -> Paragraph:
    """:func:`_when` in a table cell: the date, then the time on its own line."""
    day, _, clock = _when(moment).partition(" ")
    return Paragraph(f"{prefix}{day}<br/>{clock}", styles().cell)


def _long_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _period_words(data: ReportData) -> str:
    """The period in words: its first and last day (its end is exclusive)."""
    period = data.report.period
    return f"{_long_date(date.fromisoformat(period.start[:10]))} to {_long_date(last_day(period))}"


def _pdf_date(moment: str) -> str:
    digits = moment[:19].replace("-", "").replace("T", "").replace(":", "")
    return f"D:{digits}+00'00'"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{_n(count)} {one if count == 1 else (many or one + 's')}"


def _ranges(indexes: Sequence[int]) -> list[str]:
    """Ledger indexes as runs: ``[3, 4, 5, 9]`` → ``["3–5", "9"]``."""
    runs: list[list[int]] = []
    for i in sorted(set(indexes)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [str(first) if first == last else f"{first}–{last}" for first, last in runs]


def _capped(items: Sequence[str], where: str, noun: str = "", cap: int = IDS_PER_CELL) -> Flowable:
    """Up to ``cap`` items in a cell, then how many more there are and where they are."""
    if not items:
        return Paragraph("—", styles().cell)
    more = len(items) - cap
    tail = f" … <i>and {_n(more)} more{noun} (all in {text(where)})</i>" if more > 0 else ""
    return wrapped(", ".join(items[:cap]), styles().mono, "{}" + tail)


def _first(items: Sequence[_T], cap: int, noun: str, where: str) -> tuple[Sequence[_T], str]:
    """The first ``cap`` items, and a sentence saying the table stops there (or ``""``)."""
    if len(items) <= cap:
        return items, ""
    return items[:cap], (
        f" The table lists the first {_n(cap)} of the {_n(len(items))} {noun} (it is capped at "
        f"{_n(cap)} rows); the complete list is in {where}."
    )


def _body(markup: str) -> Paragraph:
    return Paragraph(markup, styles().body)


def _note(markup: str) -> Paragraph:
    return Paragraph(markup, styles().note)


def _bullets(items: Sequence[str]) -> list[Paragraph]:
    return [Paragraph(item, styles().bullet, bulletText="•") for item in items]


def _key_values(rows: Sequence[tuple[str, Flowable | str]], key_width: float = 0.26) -> Table:
    """A two-column table of labels and values (values may be flowables)."""
    s = styles()
    body = [
        [Paragraph(text(k), s.cell_bold), wrapped(v, s.cell) if isinstance(v, str) else v]
        for k, v in rows
    ]
    return plain_table(
        body,
        [key_width, 1 - key_width],
        [
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, MUTED),
            ("TOPPADDING", (0, 0), (-1, -1), 3.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ],
    )


def _section_start(heading: Heading) -> list[Flowable]:
    """A new section: on this page only if a good part of the page is left."""
    return [CondPageBreak(70 * mm), heading]


def _empty(what: str) -> Paragraph:
    return _note(f"{text(what)}")


def _catalog_titles(data: ReportData) -> dict[str, str]:
    return {c.control: c.title for c in data.criteria.catalog}


# --- cover -------------------------------------------------------------------------------------


def _qr(value: str, size: float) -> Drawing:
    widget = QrCodeWidget(value, barWidth=size, barHeight=size, barLevel="M", barBorder=2)
    drawing = Drawing(size, size, initialFontName=FONT)
    drawing.add(widget)
    return drawing


def _cover(data: ReportData, digest: str) -> list[Flowable]:
    s = styles()
    info = data.report
    names = " · ".join(FRAMEWORK_NAMES[f] for f in info.frameworks)
    frameworks = "<br/>".join(text(FRAMEWORK_TITLES[f]) for f in info.frameworks)
    rows: list[tuple[str, Flowable | str]] = [
        ("Frameworks", Paragraph(frameworks, s.cell)),
        (
            "Period",
            Paragraph(
                f"{_period_words(data)}<br/>"
                f"<font size='6.5' color='#{MUTED.hexval()[2:]}'>decisions evaluated from "
                f"{text(info.period.start)} (inclusive) to {text(info.period.end)} "
                f"(exclusive)</font>",
                s.cell,
            ),
        ),
        (
            "Ledger checkpoint",
            Paragraph(
                f"tree size {_n(data.checkpoint.size)}, "
                f"signed {text(_when(data.checkpoint.created_at))}"
                f"<br/><font size='6.5'>root {text(data.checkpoint.root)}</font>",
                s.cell,
            ),
        ),
        ("Generated", f"{_when(info.generated_at)} (the checkpoint's time) by {info.generated_by}"),
        ("Report id", code(info.report_id)),
        ("Report data digest", code(f"{digest}  (SHA-256 of report-data.json)")),
    ]
    qr = _qr(digest, 34 * mm)
    caption = Paragraph(
        "Scan for the report data digest. It must equal the SHA-256 of "
        "<b>report-data.json</b>, from which every figure in this report is computed. "
        f"Verify the whole bundle offline with <b>{text(_VERIFY)}</b> (section 1).",
        s.note,
    )
    qr_block = plain_table(
        [[qr, caption]],
        [0.24, 0.76],
        [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)],
    )
    return [
        Spacer(1, 28 * mm),
        Paragraph("PROMOTION GATE AND EVIDENCE LEDGER", s.kicker),
        Paragraph("Compliance audit report", s.title),
        Paragraph(text(names), s.subtitle),
        Paragraph(_period_words(data), s.subtitle),
        Spacer(1, 8 * mm),
        _key_values(rows),
        Spacer(1, 14 * mm),
        qr_block,
        NextPageTemplate("body"),
        PageBreak(),
        Paragraph("Contents", s.h1),
        table_of_contents(),
        PageBreak(),
    ]


# --- sections ----------------------------------------------------------------------------------


def _integrity(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    s = styles()
    cp = data.checkpoint
    digest = num.digest
    yield num.section("Integrity statement")
    yield _body(
        "This report was computed from the evidence ledger as of one signed checkpoint, "
        f"tree size <b>{_n(cp.size)}</b>: it covers the ledger's first {_n(cp.size)} entries and "
        "nothing appended after them. The report data (<b>report-data.json</b>, RFC 8785 "
        "canonical JSON) holds every figure printed here; this PDF is rendered from that file "
        "alone and deterministically: the same file, rendered by the same version of the "
        f"software ({text(data.report.generated_by)}), always gives the same PDF bytes. Its "
        "SHA-256, the report data digest, is:"
    )
    yield Paragraph(text(digest), s.code)
    yield num.sub("How to verify this report")
    yield _body(
        "With the report bundle in a directory <b>DIR</b> and the ledger's public key "
        "<b>KEY</b> (obtained from the operator independently of this report), run:"
    )
    yield Paragraph(text(_VERIFY), s.code)
    yield _body("It needs no network and no access to the service. It:")
    yield from _bullets(
        [
            "checks the signature of the bundle's SHA256SUMS with the ledger key, and every "
            "file's hash against it;",
            "checks the checkpoint's signature, and the inclusion proof of every ledger entry the "
            "report cites against the checkpoint's root;",
            "regenerates this PDF from report-data.json and compares the bytes;",
            "exits 0 when all of these hold, or 1 naming the first problem found.",
        ]
    )
    yield _body(
        "The digest above, the QR code on the cover and <b>sha256sum report-data.json</b> must "
        "agree."
    )
    yield num.sub("Ledger checkpoint")
    yield _key_values(
        [
            ("Tree size", _n(cp.size)),
            ("Root hash", code(cp.root)),
            ("Signed at", _when(cp.created_at)),
            ("Ledger public key", code(cp.public_key)),
        ]
    )
    yield Spacer(1, 4 * mm)
    yield _note("The signed note, exactly as the ledger signed it:")
    note = "<br/>".join(text(line) for line in cp.note.rstrip("\n").split("\n"))
    yield Paragraph(note, s.code)


def _figure_tiles(data: ReportData) -> Table:
    s = styles()
    sm = data.summary
    tiles = [
        (sm.decisions, "decisions", None),
        (sm.outcomes.allow, "allowed", PALETTE["allow"]),
        (sm.outcomes.deny, "denied", PALETTE["deny"]),
        (sm.outcomes.error, "errors", PALETTE["error"]),
        (sm.break_glass, "break-glass", None),
        (sm.dry_run, "dry-run", None),
        (sm.models, "models", None),
    ]
    room = TEXT_WIDTH / len(tiles) - 12
    cells = [
        [_figure(_n(value), room), Paragraph(label, s.figure_label)] for value, label, _ in tiles
    ]
    commands: list[tuple[Any, ...]] = [
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("BOX", (0, 0), (-1, -1), 0.4, MUTED),
        ("INNERGRID", (0, 0), (-1, -1), 0.4, MUTED),
    ]
    for i, (_, _, color) in enumerate(tiles):
        if color is not None:
            commands.append(("LINEABOVE", (i, 0), (i, 0), 3, color))
    return plain_table([cells], [1 / len(tiles)] * len(tiles), commands)


def _figure(value: str, room: float) -> Paragraph:
    """A headline number, in a smaller size if it would not fit ``room`` (no number breaks)."""
    style = styles().figure
    size = min(
        style.fontSize, style.fontSize * room / stringWidth(value, FONT_BOLD, style.fontSize)
    )
    return Paragraph(f"<font size='{size:.1f}'>{text(value)}</font>", style)


def _summary(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    sm = data.summary
    titles = _catalog_titles(data)
    yield PageBreak()
    yield num.section("Executive summary")
    yield _body(
        f"From {_period_words(data)} the promotion gate made {_plural(sm.decisions, 'decision')} "
        f"on {_plural(sm.models, 'model')}: {_n(sm.outcomes.allow)} allowed, "
        f"{_n(sm.outcomes.deny)} denied and {_n(sm.outcomes.error)} ended in an engine error. "
        f"{_plural(sm.break_glass, 'decision was', 'decisions were')} forced through by "
        f"break-glass, and {_n(sm.dry_run)} ran in dry-run mode (recorded, not enforced)."
    )
    yield _figure_tiles(data)
    yield Spacer(1, 5 * mm)
    yield num.sub("Per framework")
    rows = []
    for fw in sm.frameworks:
        failing = "<br/>".join(
            f"<b>{text(c.control)}</b> {text(titles.get(c.control, ''))}: "
            f"{_plural(c.count, 'failure')}"
            for c in fw.top_failing
        )
        rows.append(
            [
                Paragraph(f"<b>{text(FRAMEWORK_NAMES[fw.framework])}</b>", styles().cell),
                _n(fw.decisions.allow),
                _n(fw.decisions.deny),
                _n(fw.decisions.error),
                Paragraph(failing or "none", styles().cell),
            ]
        )
    yield data_table(
        ["Framework", "Allow", "Deny", "Error", "Top failing controls"],
        rows,
        [0.2, 0.08, 0.08, 0.08, 0.56],
        numeric=(1, 2, 3),
    )
    yield _note(
        "A decision counts as a deny for a framework when one of that framework's controls "
        "failed with deny enforcement; the same decision can be allowed under one framework and "
        "denied under another."
    )
    yield KeepTogether(
        [
            num.sub("Decisions over time"),
            decisions_chart(timeline(data.decisions_per_day, data.report.period))
            if data.summary.decisions
            else _empty("No decisions in the period."),
        ]
    )
    if data.results_per_family:
        families = data.results_per_family
        results = sum(f.passed + f.failed + f.other for f in families)
        yield KeepTogether(
            [
                num.sub("Results per control family"),
                families_chart(families) if results else _empty("No control results."),
            ]
        )
        yield Spacer(1, 3 * mm)
        yield data_table(
            ["Control family", "Passed", "Failed", "Other"],
            [[f.family, _n(f.passed), _n(f.failed), _n(f.other)] for f in data.results_per_family],
            [0.55, 0.15, 0.15, 0.15],
            numeric=(1, 2, 3),
        )
        charted = len(charted_families(families))
        yield _note(
            "Other: not applicable, not evaluated or waived."
            + (
                f" The chart shows the {charted} families with the most results; the table lists "
                f"all {len(families)}."
                if charted < len(families)
                else ""
            )
        )


def _scope(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    cr = data.criteria
    per_framework = ", ".join(
        f"{FRAMEWORK_NAMES[f]} {sum(c.framework == f for c in cr.catalog)}"
        for f in data.report.frameworks
    )
    yield from _section_start(num.section("Scope and criteria"))
    yield _body(
        "The report covers the gate decisions evaluated in the period and recorded in the ledger "
        "up to the checkpoint, for the frameworks and targets below. The criteria are the "
        "controls of the catalog, as encoded in the policy bundles that made the decisions."
    )
    s = styles()
    yield _key_values(
        [
            (
                "Frameworks",
                Paragraph(
                    "<br/>".join(text(FRAMEWORK_TITLES[f]) for f in data.report.frameworks), s.cell
                ),
            ),
            (
                "Period",
                f"{data.report.period.start} (inclusive) to {data.report.period.end} (exclusive)",
            ),
            ("Deployment targets", ", ".join(cr.targets) or "none"),
            ("Controls in scope", f"{len(cr.catalog)} ({per_framework})"),
            ("Control catalog version", cr.catalog_version),
            (
                "Policy bundle digests",
                wrapped("\n".join(cr.bundle_digests) or "none", s.mono),
            ),
            ("Policy engines", ", ".join(cr.engines) or "none"),
            ("Ledger checkpoint", f"tree size {_n(data.checkpoint.size)}"),
        ]
    )


def _count_grid(counts: Sequence[ControlCount]) -> Table:
    """Controls and counts, three pairs to a row."""
    columns = 3
    cells: list[list[Any]] = []
    row: list[Any] = []
    for c in counts:
        row.extend([c.control, _n(c.count)])
        if len(row) == 2 * columns:
            cells.append(row)
            row = []
    if row:
        cells.append(row + [""] * (2 * columns - len(row)))
    width = 1 / columns
    return data_table(
        ["Control", "Count"] * columns,
        cells,
        [width * 0.72, width * 0.28] * columns,
        numeric=tuple(range(1, 2 * columns, 2)),
    )


def _limitations(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    lim = data.limitations
    yield from _section_start(num.section("Methodology and limitations"))
    yield num.sub("Methodology")
    yield _body(
        "Each decision is a gate-decision entry of the ledger: the policy engine evaluated the "
        "bundle's rules on the input document recorded with the decision, and every control of "
        "the catalog came out passed, failed, not applicable, not evaluated or waived. The "
        "figures count one result per control per decision. A passed result is <b>verified</b> "
        "when it rests on evidence the service checked itself (verified attestations, lineage "
        "and evidence entries in the ledger) and <b>declared</b> when it rests on what the "
        "requester stated. Evidence references are ledger indexes; the bundle holds an inclusion "
        "proof for each. Times are UTC. A character the report's font cannot draw is written as "
        "its code point, [U+XXXX]; report-data.json holds the text itself."
    )
    yield num.sub("Limitations")
    yield from _bullets(
        [
            f"<b>Engine errors.</b> {_plural(lim.engine_errors, 'decision')} ended in an engine "
            "error; no control was evaluated in them, and they appear as not evaluated below.",
            "<b>Not evaluated.</b> A control is not evaluated when the engine failed or the "
            "input lacked what the rule reads; "
            f"{_plural(len(lim.not_evaluated), 'control')} had such results.",
            "<b>Declared, not verified.</b> "
            f"{_plural(len(lim.declared), 'control')} passed on the requester's declaration in "
            "some decisions; the service did not verify those facts.",
            "<b>Dry-run and break-glass.</b> Dry-run decisions are counted but blocked nothing; "
            "break-glass decisions were allowed whatever the policies said (section 9).",
            "<b>Scope.</b> Only what the ledger held at the checkpoint is covered; a decision "
            "made outside the gate is not in the ledger, and so not in this report.",
        ]
    )
    if lim.not_evaluated:
        yield Paragraph("Not evaluated: results per control", styles().caption)
        yield _count_grid(lim.not_evaluated)
    if lim.declared:
        yield Paragraph(
            "Declared rather than verified: passed results per control", styles().caption
        )
        yield _count_grid(lim.declared)


def _system(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    shown, capped = _first(data.system, LIST_ROWS, "models", "report-data.json")
    yield from _section_start(num.section("System description"))
    yield _body(
        f"{_plural(len(data.system), 'model was', 'models were')} allowed for promotion in the "
        "period. The personal data upstream of each is taken from the lineage recorded with the "
        "decision's input: the datasets classified as personal data from which it was trained "
        f"or derived.{capped}"
    )
    if not shown:
        yield _empty("No model was promoted in the period.")
        return
    s = styles()
    rows = [
        [
            [wrapped(m.name, styles().cell, "<b>{}</b>"), wrapped(f"version {m.version}", s.cell)],
            code(m.digest),
            ", ".join(m.targets),
            _capped(m.decisions, "decisions.csv", " decisions", cap=4),
            wrapped("\n".join(m.personal_data_upstream) or "none recorded", s.mono),
        ]
        for m in shown
    ]
    yield data_table(
        ["Model", "Digest", "Targets", "Allowing decisions", "Personal data upstream"],
        rows,
        [0.22, 0.16, 0.16, 0.2, 0.26],
    )


def _results_table(controls: Sequence[ControlResults]) -> Table:
    s = styles()
    rows = []
    for c in controls:
        failed = Paragraph(
            f"<font color='{hex_colour('failed')}'><b>{_n(c.failed)}</b></font>"
            if c.failed
            else "0",
            s.cell_right,
        )
        rows.append(
            [
                Paragraph(f"<b>{text(c.control)}</b>", s.cell),
                c.article,
                c.title,
                c.enforcement,
                _n(c.passed),
                failed,
                _n(c.not_applicable),
                _n(c.not_evaluated),
                _n(c.waived),
                _n(c.verified),
                _n(c.declared),
            ]
        )
    return data_table(
        [
            "Control",
            "Article",
            "Title",
            "Enf.",
            "Pass",
            "Fail",
            "N/A",
            "Not eval.",
            "Waived",
            "Verif.",
            "Decl.",
        ],
        rows,
        [0.14, 0.11, 0.245, 0.055, 0.06, 0.055, 0.055, 0.065, 0.08, 0.07, 0.065],
        numeric=(4, 5, 6, 7, 8, 9, 10),
    )


def _failures_table(controls: Sequence[ControlResults]) -> Table:
    rows = [
        [
            Paragraph(f"<b>{text(c.control)}</b>", styles().cell),
            _capped(c.failed_in, "decisions.csv", " decisions"),
            _capped(_ranges(c.evidence), "controls.csv and evidence.csv"),
        ]
        for c in controls
    ]
    return data_table(
        ["Control", "Failed in decisions (ids, by ledger index)", "Evidence (ledger indexes)"],
        rows,
        [0.145, 0.5, 0.355],
    )


def _controls(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    yield from _section_start(num.section("Control results"))
    yield _body(
        "Every control of the catalog, per framework: how often it passed, failed, did not "
        "apply, was not evaluated or was waived, and how many passes were verified or declared "
        "(section 4). A second table gives, per control, the decisions in which it failed and "
        "the ledger entries its results cite."
    )
    for fw in data.report.frameworks:
        controls = [c for c in data.controls if c.framework == fw]
        yield CondPageBreak(50 * mm)
        yield num.sub(f"{FRAMEWORK_NAMES[fw]}: results")
        yield _results_table(controls)
        yield _note(
            "Enf.: enforcement (deny blocks, warn reports). Verif. and Decl.: passes that were "
            "verified, or declared by the requester."
        )
        yield CondPageBreak(40 * mm)
        yield num.sub(f"{FRAMEWORK_NAMES[fw]}: failures and evidence")
        yield _failures_table(controls)
        if fw == "iso27001":
            yield from _statement_of_applicability(data, num)


def _statement_of_applicability(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    applicable = sum(1 for e in data.soa if e.applicable)
    yield CondPageBreak(50 * mm)
    yield num.sub("ISO/IEC 27001:2022: Statement of Applicability")
    yield _body(
        f"The Annex A controls the promotion gate evaluates: <b>{_n(applicable)}</b> of "
        f"{_n(len(data.soa))} applicable. Applicability and justification come from the policy "
        "configuration; the result is the control's in this period (table above). Annex A "
        "controls the service does not evaluate belong in the organisation's own Statement of "
        "Applicability. The same rows are in <b>soa.csv</b>."
    )
    if not data.soa:
        yield _empty("The policy bundle evaluates no Annex A control.")
        return
    s = styles()
    results = {c.control: c for c in data.controls}
    rows = []
    for e in data.soa:
        c = results.get(e.control)
        result = f"{_n(c.passed)} pass, {_n(c.failed)} fail" if c else "not in the catalog"
        rows.append(
            [
                Paragraph(f"<b>{text(e.annex_a)}</b>", s.cell),
                e.title,
                "Yes" if e.applicable else "No",
                e.justification,
                [Paragraph(f"<b>{text(e.control)}</b>", s.cell), wrapped(result, s.cell)],
            ]
        )
    yield data_table(
        ["Annex A", "Control", "Applies", "Justification", "Evaluated as; result"],
        rows,
        [0.09, 0.25, 0.1, 0.37, 0.19],
    )


def _decision_failures(d: Decision) -> Paragraph:
    parts = [f"<b>{text(c)}</b>" for c in d.violations]
    parts += [f"{text(c)} (warn)" for c in d.warnings]
    parts += [f"<i>{text(c)} (waived)</i>" for c in d.waived]
    return Paragraph(", ".join(parts) or "—", styles().cell)


def _decisions(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    shown, capped = _first(
        data.decisions, DECISION_ROWS, "decisions", "<b>decisions.csv</b> and report-data.json"
    )
    yield from _section_start(num.section("Decisions"))
    yield _body(
        f"The period's {_plural(len(data.decisions), 'decision')}, by ledger index.{capped} "
        "Failed controls: bold with deny enforcement, “(warn)” with warn enforcement, italic "
        "when waived."
    )
    if not shown:
        yield _empty("No decisions in the period.")
        return
    s = styles()
    rows = [
        [
            str(d.index),
            code(d.decision_id),
            _when_cell(d.evaluated_at),
            [wrapped(d.model_name, s.cell), wrapped(d.model_version, s.cell_muted)],
            d.target,
            Paragraph(
                f"<font color='{hex_colour(d.outcome)}'><b>{d.outcome}</b></font><br/>"
                f"{d.mode.replace('_', '-')}",
                s.cell,
            ),
            _decision_failures(d),
        ]
        for d in shown
    ]
    yield data_table(
        [
            "Index",
            "Decision id",
            "Evaluated (UTC)",
            "Model, version",
            "Target",
            "Outcome, mode",
            "Failed controls",
        ],
        rows,
        [0.065, 0.17, 0.115, 0.2, 0.14, 0.11, 0.2],
        numeric=(0,),
    )


def _exceptions(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    shown, capped = _first(data.exceptions, LIST_ROWS, "waivers", "<b>exceptions.csv</b>")
    yield from _section_start(num.section("Exceptions register"))
    yield _body(
        f"{_plural(len(data.exceptions), 'waiver was', 'waivers were')} in force at some time "
        "in the period: an exception for one control on one model digest and target, granted by "
        "an approver with a reason and an expiry. The decisions covered are those that listed "
        f"the control as waived under the waiver's digest and target.{capped}"
    )
    if not shown:
        yield _empty("No waivers in the period.")
        return
    s = styles()
    rows = [
        [
            str(w.index),
            Paragraph(f"<b>{text(w.control)}</b>", s.cell),
            [code(w.digest), wrapped(f"target {w.target}", s.cell)],
            w.approver,
            [_when_cell(w.granted_at), _when_cell(w.expires_at, "to ")],
            [
                wrapped(w.reason, s.cell),
                Spacer(1, 3),
                Paragraph(f"<i>Decisions covered: {_n(len(w.decisions_covered))}</i>", s.cell),
                _capped(w.decisions_covered, "exceptions.csv"),
            ],
        ]
        for w in shown
    ]
    yield data_table(
        [
            "Waiver",
            "Control",
            "Model digest, target",
            "Approver",
            "In force (UTC)",
            "Reason; decisions covered",
        ],
        rows,
        [0.075, 0.13, 0.16, 0.2, 0.125, 0.31],
        numeric=(0,),
    )
    yield _note("Waiver: the ledger index of the waiver entry.")


def _break_glass(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    shown, capped = _first(
        data.break_glass,
        LIST_ROWS,
        "break-glass decisions",
        "<b>decisions.csv</b> (mode break_glass) and report-data.json",
    )
    yield from _section_start(num.section("Break-glass decisions"))
    yield _body(
        f"{_plural(len(data.break_glass), 'decision was', 'decisions were')} made in break-glass "
        "mode: an administrator allowed the promotion whatever the policies' outcome (shown), "
        f"giving a reason. Each is flagged for review.{capped}"
    )
    if not shown:
        yield _empty("No break-glass decisions in the period.")
        return
    rows = [
        [
            str(b.index),
            code(b.decision_id),
            _when_cell(b.evaluated_at),
            b.requested_by,
            b.outcome,
            b.reason,
        ]
        for b in shown
    ]
    yield data_table(
        ["Index", "Decision id", "Evaluated (UTC)", "Requested by", "Policy outcome", "Reason"],
        rows,
        [0.065, 0.17, 0.115, 0.18, 0.1, 0.37],
        numeric=(0,),
    )


def _supply_chain(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    sc = data.supply_chain
    yield from _section_start(num.section("Supply chain"))
    shown, capped = _first(sc.verdicts, LIST_ROWS, "verdicts", "report-data.json")
    yield _body(
        f"Signing attestations verified at ingest in the period: <b>{_n(sc.passed)}</b> passed "
        f"and <b>{_n(sc.failed)}</b> failed verification.{capped}"
    )
    if not shown:
        yield _empty("No attestations in the period.")
        return
    s = styles()
    rows = [
        [
            str(v.index),
            _when_cell(v.received_at),
            [
                Paragraph(
                    f"<font color='{hex_colour('passed' if v.verdict == 'pass' else 'failed')}'>"
                    f"<b>{v.verdict}</b></font>",
                    s.cell,
                ),
                wrapped(v.purpose, s.cell),
            ],
            wrapped("\n".join(v.subject_digests), s.mono),
            [
                wrapped(f"signer: {v.signer or 'none'}", s.mono),
                *([wrapped(v.reason, s.cell)] if v.reason else []),
            ],
        ]
        for v in shown
    ]
    yield data_table(
        ["Index", "Received (UTC)", "Verdict, purpose", "Subject digests", "Signer; reason"],
        rows,
        # A digest fills two lines of the digests' column exactly.
        [0.065, 0.115, 0.16, 0.32, 0.34],
        numeric=(0,),
    )


def _corrective(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    titles = _catalog_titles(data)
    yield from _section_start(num.section("Corrective actions"))
    yield _body(
        f"{_plural(len(data.corrective_actions), 'control')} failed in two decisions or more "
        "during the period. Each calls for a corrective action by the control's owner, and for "
        "follow-up in the next report."
    )
    if not data.corrective_actions:
        yield _empty("No control failed repeatedly.")
        return
    rows = [
        [
            Paragraph(f"<b>{text(a.control)}</b>", styles().cell),
            titles.get(a.control, ""),
            _n(a.failures),
            _when_cell(a.first),
            _when_cell(a.last),
        ]
        for a in data.corrective_actions
    ]
    yield data_table(
        ["Control", "Title", "Failures", "First failure (UTC)", "Last failure (UTC)"],
        rows,
        [0.14, 0.42, 0.1, 0.17, 0.17],
        numeric=(2,),
    )


def _sign_off(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    s = styles()
    yield CondPageBreak(110 * mm)
    yield num.section("Sign-off")
    yield _body(
        "The undersigned have reviewed this report, report id "
        f"<font size='8'>{text(data.report.report_id)}</font>, whose data digest is "
        f"<font size='8'>{text(num.digest)}</font>."
    )
    roles = (
        "Prepared by (compliance)",
        "Reviewed by (auditor)",
        "Approved by (data protection officer)",
    )
    rows = [[Paragraph(f"<b>{role}</b>", s.cell), "", "", ""] for role in roles]
    table = plain_table(
        [[Paragraph(h, s.cell_bold) for h in ("Role", "Name", "Date", "Signature")], *rows],
        [0.28, 0.28, 0.16, 0.28],
        [
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, MUTED),
            ("LINEBELOW", (1, 1), (-1, -1), 0.4, MUTED),
            ("RIGHTPADDING", (0, 0), (-1, -1), 10),
        ],
        rowHeights=[None, 16 * mm, 16 * mm, 16 * mm],
    )
    yield Spacer(1, 3 * mm)
    yield table


def _appendix(data: ReportData, num: _Numbering) -> Iterator[Flowable]:
    shown, capped = _first(data.evidence, EVIDENCE_ROWS, "entries", "<b>evidence.csv</b>")
    yield from _section_start(num.section("Appendix: cited ledger entries"))
    yield _body(
        f"The {_plural(len(data.evidence), 'ledger entry', 'ledger entries')} this report cites, "
        "with the leaf hash an inclusion proof in the bundle proves against the checkpoint's "
        f"root.{capped}"
    )
    if not shown:
        return
    rows = [
        [str(e.index), e.kind, code(e.leaf_hash), _capped(e.cited_by, "evidence.csv")]
        for e in shown
    ]
    yield data_table(
        ["Index", "Kind", "Leaf hash", "Cited by"], rows, [0.08, 0.14, 0.4, 0.38], numeric=(0,)
    )


_SECTIONS: tuple[Callable[[ReportData, _Numbering], Iterator[Flowable]], ...] = (
    _integrity,
    _summary,
    _scope,
    _limitations,
    _system,
    _controls,
    _decisions,
    _exceptions,
    _break_glass,
    _supply_chain,
    _corrective,
    _sign_off,
    _appendix,
)
