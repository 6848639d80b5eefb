"""The report's opening sections, 1 to 5 of the PDF.

Integrity statement, executive summary (with the charts), scope and criteria, methodology and
limitations, and the system description.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
)

from reports.model import ControlCount, ReportData
from reports.pdf_charts import (
    charted_families,
    decisions_chart,
    families_chart,
    timeline,
)
from reports.pdf_layout import (
    MUTED,
    PALETTE,
    TEXT_WIDTH,
    code,
    data_table,
    plain_table,
    styles,
)
from reports.pdf_text import (
    FONT_BOLD,
    text,
    wrapped,
)
from reports.pdf_words import (
    FRAMEWORK_NAMES,
    FRAMEWORK_TITLES,
    LIST_ROWS,
    VERIFY_COMMAND,
    Numbering,
    body_text,
    bullets,
    capped_ids,
    catalog_titles,
    count_text,
    empty_note,
    first_rows,
    key_values,
    period_words,
    plural,
    section_start,
    table_note,
    when_text,
)


def integrity_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the integrity statement (how to verify, the checkpoint)."""
    s = styles()
    cp = data.checkpoint
    digest = num.digest
    yield num.section("Integrity statement")
    yield body_text(
        "This report was computed from the evidence ledger as of one signed checkpoint, "
        f"tree size <b>{count_text(cp.size)}</b>: it covers the ledger's first "
        f"{count_text(cp.size)} entries and "
        "nothing appended after them. The report data (<b>report-data.json</b>, RFC 8785 "
        "canonical JSON) holds every figure printed here; this PDF is rendered from that file "
        "alone and deterministically: the same file, rendered by the same version of the "
        f"software ({text(data.report.generated_by)}), always gives the same PDF bytes. Its "
        "SHA-256, the report data digest, is:"
    )
    yield Paragraph(text(digest), s.code)
    yield num.sub("How to verify this report")
    yield body_text(
        "With the report bundle in a directory <b>DIR</b> and the ledger's public key "
        "<b>KEY</b> (obtained from the operator independently of this report), run:"
    )
    yield Paragraph(text(VERIFY_COMMAND), s.code)
    yield body_text("It needs no network and no access to the service. It:")
    yield from bullets(
        [
            "checks the signature of the bundle's SHA256SUMS with the ledger key, and every "
            "file's hash against it;",
            "checks the checkpoint's signature, and the inclusion proof of every ledger entry the "
            "report cites against the checkpoint's root;",
            "regenerates this PDF, the CSV files and the OSCAL document from report-data.json "
            "and compares the bytes;",
            "validates the OSCAL document against the published OSCAL schema;",
            "exits 0 when all of these hold, or 1 naming the first problem found.",
        ]
    )
    yield body_text(
        "The digest above, the QR code on the cover and <b>sha256sum report-data.json</b> must "
        "agree."
    )
    yield num.sub("Ledger checkpoint")
    yield key_values(
        [
            ("Tree size", count_text(cp.size)),
            ("Root hash", code(cp.root)),
            ("Signed at", when_text(cp.created_at)),
            ("Ledger public key", code(cp.public_key)),
        ]
    )
    yield Spacer(1, 4 * mm)
    yield table_note("The signed note, exactly as the ledger signed it:")
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
        [_figure(count_text(value), room), Paragraph(label, s.figure_label)]
        for value, label, _ in tiles
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


def summary_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the executive summary (figures, per framework, the two charts)."""
    sm = data.summary
    titles = catalog_titles(data)
    yield PageBreak()
    yield num.section("Executive summary")
    yield body_text(
        f"From {period_words(data)} the promotion gate made {plural(sm.decisions, 'decision')} "
        f"on {plural(sm.models, 'model')}: {count_text(sm.outcomes.allow)} allowed, "
        f"{count_text(sm.outcomes.deny)} denied and {count_text(sm.outcomes.error)} ended in "
        "an engine error. "
        f"{plural(sm.break_glass, 'decision was', 'decisions were')} forced through by "
        f"break-glass, and {count_text(sm.dry_run)} ran in dry-run mode (recorded, not enforced)."
    )
    yield _figure_tiles(data)
    yield Spacer(1, 5 * mm)
    yield num.sub("Per framework")
    rows = []
    for fw in sm.frameworks:
        failing = "<br/>".join(
            f"<b>{text(c.control)}</b> {text(titles.get(c.control, ''))}: "
            f"{plural(c.count, 'failure')}"
            for c in fw.top_failing
        )
        rows.append(
            [
                Paragraph(f"<b>{text(FRAMEWORK_NAMES[fw.framework])}</b>", styles().cell),
                count_text(fw.decisions.allow),
                count_text(fw.decisions.deny),
                count_text(fw.decisions.error),
                Paragraph(failing or "none", styles().cell),
            ]
        )
    yield data_table(
        ["Framework", "Allow", "Deny", "Error", "Top failing controls"],
        rows,
        [0.2, 0.08, 0.08, 0.08, 0.56],
        numeric=(1, 2, 3),
    )
    yield table_note(
        "A decision counts as a deny for a framework when one of that framework's controls "
        "failed with deny enforcement; the same decision can be allowed under one framework and "
        "denied under another."
    )
    yield KeepTogether(
        [
            num.sub("Decisions over time"),
            decisions_chart(timeline(data.decisions_per_day, data.report.period))
            if data.summary.decisions
            else empty_note("No decisions in the period."),
        ]
    )
    if data.results_per_family:
        families = data.results_per_family
        results = sum(f.passed + f.failed + f.other for f in families)
        yield KeepTogether(
            [
                num.sub("Results per control family"),
                families_chart(families) if results else empty_note("No control results."),
            ]
        )
        yield Spacer(1, 3 * mm)
        yield data_table(
            ["Control family", "Passed", "Failed", "Other"],
            [
                [f.family, count_text(f.passed), count_text(f.failed), count_text(f.other)]
                for f in data.results_per_family
            ],
            [0.55, 0.15, 0.15, 0.15],
            numeric=(1, 2, 3),
        )
        charted = len(charted_families(families))
        yield table_note(
            "Other: not applicable or not evaluated. Failed includes failures a waiver covered."
            + (
                f" The chart shows the {charted} families with the most results; the table lists "
                f"all {len(families)}."
                if charted < len(families)
                else ""
            )
        )


def scope_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: scope and criteria (frameworks, period, targets, bundle digests)."""
    cr = data.criteria
    per_framework = ", ".join(
        f"{FRAMEWORK_NAMES[f]} {sum(c.framework == f for c in cr.catalog)}"
        for f in data.report.frameworks
    )
    yield from section_start(num.section("Scope and criteria"))
    yield body_text(
        "The report covers the gate decisions evaluated in the period and recorded in the ledger "
        "up to the checkpoint, for the frameworks and targets below. The criteria are the "
        "controls of the catalog, as encoded in the policy bundles that made the decisions."
    )
    s = styles()
    yield key_values(
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
            ("Ledger checkpoint", f"tree size {count_text(data.checkpoint.size)}"),
        ]
    )


def _count_grid(counts: Sequence[ControlCount]) -> Table:
    """Controls and counts, three pairs to a row."""
    columns = 3
    cells: list[list[Any]] = []
    row: list[Any] = []
    for c in counts:
        row.extend([c.control, count_text(c.count)])
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


def limitations_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: methodology and limitations."""
    lim = data.limitations
    yield from section_start(num.section("Methodology and limitations"))
    yield num.sub("Methodology")
    yield body_text(
        "Each decision is a gate-decision entry of the ledger: the policy engine evaluated the "
        "bundle's rules on the input document recorded with the decision, and every control of "
        "the catalog came out passed, failed, not applicable or not evaluated. A failure that a "
        "waiver in force covered is counted as failed and as waived. The figures count one "
        "result per control per decision. A passed result is <b>verified</b> "
        "when it rests on evidence the service checked itself (verified attestations, lineage "
        "and evidence entries in the ledger) and <b>declared</b> when it rests on what the "
        "requester stated. Evidence references are ledger indexes; the bundle holds an inclusion "
        "proof for each. Times are UTC. A character the report's font cannot draw is written as "
        "its code point, [U+XXXX]; report-data.json holds the text itself."
    )
    yield num.sub("Limitations")
    yield from bullets(
        [
            f"<b>Engine errors.</b> {plural(lim.engine_errors, 'decision')} ended in an engine "
            "error; no control was evaluated in them, so they add no control results: the "
            "control figures count the other decisions' results.",
            "<b>Not evaluated.</b> A control is not evaluated when the input lacked what its "
            "rule reads; "
            f"{plural(len(lim.not_evaluated), 'control')} had such results.",
            "<b>Declared, not verified.</b> "
            f"{plural(len(lim.declared), 'control')} passed on the requester's declaration in "
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


def system_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the system description (promoted models, upstream personal data)."""
    shown, capped = first_rows(data.system, LIST_ROWS, "models", "report-data.json")
    yield from section_start(num.section("System description"))
    yield body_text(
        f"{plural(len(data.system), 'model was', 'models were')} allowed for promotion in the "
        "period. The personal data upstream of each is taken from the lineage recorded with the "
        "decision's input: the datasets classified as personal data from which it was trained "
        f"or derived.{capped}"
    )
    if not shown:
        yield empty_note("No model was promoted in the period.")
        return
    s = styles()
    rows = [
        [
            [wrapped(m.name, styles().cell, "<b>{}</b>"), wrapped(f"version {m.version}", s.cell)],
            code(m.digest),
            ", ".join(m.targets),
            capped_ids(m.decisions, "decisions.csv", " decisions", cap=4),
            wrapped("\n".join(m.personal_data_upstream) or "none recorded", s.mono),
        ]
        for m in shown
    ]
    yield data_table(
        ["Model", "Digest", "Targets", "Allowing decisions", "Personal data upstream"],
        rows,
        [0.22, 0.16, 0.16, 0.2, 0.26],
    )
