"""The report's registers, sections 6 to 13 of the PDF.

Control results (with the ISO 27001 Statement of Applicability), decisions, exceptions,
break-glass decisions, supply chain, corrective actions, sign-off, and the appendix of cited
ledger entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Paragraph,
    Spacer,
    Table,
)

from reports.model import ControlResults, Decision, ReportData
from reports.pdf_layout import (
    MUTED,
    code,
    data_table,
    hex_colour,
    plain_table,
    styles,
)
from reports.pdf_text import (
    text,
    wrapped,
)
from reports.pdf_words import (
    DECISION_ROWS,
    EVIDENCE_ROWS,
    FRAMEWORK_NAMES,
    LIST_ROWS,
    Numbering,
    body_text,
    capped_ids,
    catalog_titles,
    count_text,
    empty_note,
    first_rows,
    index_ranges,
    plural,
    section_start,
    table_note,
    when_cell,
)


def _results_table(controls: Sequence[ControlResults]) -> Table:
    s = styles()
    rows = []
    for c in controls:
        failed = Paragraph(
            f"<font color='{hex_colour('failed')}'><b>{count_text(c.failed)}</b></font>"
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
                count_text(c.passed),
                failed,
                count_text(c.not_applicable),
                count_text(c.not_evaluated),
                count_text(c.waived),
                count_text(c.verified),
                count_text(c.declared),
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
            capped_ids(c.failed_in, "decisions.csv", " decisions"),
            capped_ids(index_ranges(c.evidence), "controls.csv and evidence.csv"),
        ]
        for c in controls
    ]
    return data_table(
        ["Control", "Failed in decisions (ids, by ledger index)", "Evidence (ledger indexes)"],
        rows,
        [0.145, 0.5, 0.355],
    )


def controls_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: per-control results, failures and evidence, and the ISO SoA."""
    yield from section_start(num.section("Control results"))
    yield body_text(
        "Every control of the catalog, per framework: how often it passed, failed (and how many "
        "of those failures a waiver covered), did not apply or was not evaluated, and how many "
        "passes were verified or declared (section 4). A second table gives, per control, the "
        "decisions in which it failed and the ledger entries its results cite."
    )
    for fw in data.report.frameworks:
        controls = [c for c in data.controls if c.framework == fw]
        yield CondPageBreak(50 * mm)
        yield num.sub(f"{FRAMEWORK_NAMES[fw]}: results")
        yield _results_table(controls)
        yield table_note(
            "Enf.: enforcement (deny blocks, warn reports). Verif. and Decl.: passes that were "
            "verified, or declared by the requester."
        )
        yield CondPageBreak(40 * mm)
        yield num.sub(f"{FRAMEWORK_NAMES[fw]}: failures and evidence")
        yield _failures_table(controls)
        if fw == "iso27001":
            yield from _statement_of_applicability(data, num)


def _statement_of_applicability(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    applicable = sum(1 for e in data.soa if e.applicable)
    yield CondPageBreak(50 * mm)
    yield num.sub("ISO/IEC 27001:2022: Statement of Applicability")
    yield body_text(
        f"The Annex A controls the promotion gate evaluates: <b>{count_text(applicable)}</b> of "
        f"{count_text(len(data.soa))} applicable. Applicability and justification come from "
        "the policy "
        "configuration; the result is the control's in this period (table above). Annex A "
        "controls the service does not evaluate belong in the organisation's own Statement of "
        "Applicability. The same rows are in <b>soa.csv</b>."
    )
    if not data.soa:
        yield empty_note("The policy bundle evaluates no Annex A control.")
        return
    s = styles()
    results = {c.control: c for c in data.controls}
    rows = []
    for e in data.soa:
        c = results.get(e.control)
        result = (
            f"{count_text(c.passed)} pass, {count_text(c.failed)} fail"
            if c
            else "not in the catalog"
        )
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


def decisions_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the decisions table."""
    shown, capped = first_rows(
        data.decisions, DECISION_ROWS, "decisions", "<b>decisions.csv</b> and report-data.json"
    )
    yield from section_start(num.section("Decisions"))
    yield body_text(
        f"The period's {plural(len(data.decisions), 'decision')}, by ledger index.{capped} "
        "Failed controls: bold with deny enforcement, “(warn)” with warn enforcement, italic "
        "when waived."
    )
    if not shown:
        yield empty_note("No decisions in the period.")
        return
    s = styles()
    rows = [
        [
            str(d.index),
            code(d.decision_id),
            when_cell(d.evaluated_at),
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


def exceptions_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the exceptions register (waivers)."""
    shown, capped = first_rows(data.exceptions, LIST_ROWS, "waivers", "<b>exceptions.csv</b>")
    yield from section_start(num.section("Exceptions register"))
    yield body_text(
        f"{plural(len(data.exceptions), 'waiver was', 'waivers were')} in force at some time "
        "in the period: an exception for one control on one model digest and target, granted by "
        "an approver with a reason and an expiry. The decisions covered are those that listed "
        f"the control as waived under the waiver's digest and target.{capped}"
    )
    if not shown:
        yield empty_note("No waivers in the period.")
        return
    s = styles()
    rows = [
        [
            str(w.index),
            Paragraph(f"<b>{text(w.control)}</b>", s.cell),
            [code(w.digest), wrapped(f"target {w.target}", s.cell)],
            w.approver,
            [when_cell(w.granted_at), when_cell(w.expires_at, "to ")],
            [
                wrapped(w.reason, s.cell),
                Spacer(1, 3),
                Paragraph(
                    f"<i>Decisions covered: {count_text(len(w.decisions_covered))}</i>", s.cell
                ),
                capped_ids(w.decisions_covered, "exceptions.csv"),
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
    yield table_note("Waiver: the ledger index of the waiver entry.")


def break_glass_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: break-glass decisions."""
    shown, capped = first_rows(
        data.break_glass,
        LIST_ROWS,
        "break-glass decisions",
        "<b>decisions.csv</b> (mode break_glass) and report-data.json",
    )
    yield from section_start(num.section("Break-glass decisions"))
    yield body_text(
        f"{plural(len(data.break_glass), 'decision was', 'decisions were')} made in break-glass "
        "mode: an administrator allowed the promotion whatever the policies' outcome (shown), "
        f"giving a reason. Each is flagged for review.{capped}"
    )
    if not shown:
        yield empty_note("No break-glass decisions in the period.")
        return
    rows = [
        [
            str(b.index),
            code(b.decision_id),
            when_cell(b.evaluated_at),
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


def supply_chain_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: supply chain (attestation verdicts)."""
    sc = data.supply_chain
    yield from section_start(num.section("Supply chain"))
    shown, capped = first_rows(sc.verdicts, LIST_ROWS, "verdicts", "report-data.json")
    yield body_text(
        "Signing attestations verified at ingest in the period: "
        f"<b>{count_text(sc.passed)}</b> passed "
        f"and <b>{count_text(sc.failed)}</b> failed verification.{capped}"
    )
    if not shown:
        yield empty_note("No attestations in the period.")
        return
    s = styles()
    rows = [
        [
            str(v.index),
            when_cell(v.received_at),
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


def corrective_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: corrective actions (controls failing repeatedly)."""
    titles = catalog_titles(data)
    yield from section_start(num.section("Corrective actions"))
    yield body_text(
        f"{plural(len(data.corrective_actions), 'control')} failed in two decisions or more "
        "during the period. Each calls for a corrective action by the control's owner, and for "
        "follow-up in the next report."
    )
    if not data.corrective_actions:
        yield empty_note("No control failed repeatedly.")
        return
    rows = [
        [
            Paragraph(f"<b>{text(a.control)}</b>", styles().cell),
            titles.get(a.control, ""),
            count_text(a.failures),
            when_cell(a.first),
            when_cell(a.last),
        ]
        for a in data.corrective_actions
    ]
    yield data_table(
        ["Control", "Title", "Failures", "First failure (UTC)", "Last failure (UTC)"],
        rows,
        [0.14, 0.42, 0.1, 0.17, 0.17],
        numeric=(2,),
    )


def sign_off_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the sign-off block."""
    s = styles()
    yield CondPageBreak(110 * mm)
    yield num.section("Sign-off")
    yield body_text(
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


def appendix_section(data: ReportData, num: Numbering) -> Iterator[Flowable]:
    """Section: the appendix of cited ledger entries."""
    shown, capped = first_rows(data.evidence, EVIDENCE_ROWS, "entries", "<b>evidence.csv</b>")
    yield from section_start(num.section("Appendix: cited ledger entries"))
    yield body_text(
        f"The {plural(len(data.evidence), 'ledger entry', 'ledger entries')} this report cites, "
        "with the leaf hash an inclusion proof in the bundle proves against the checkpoint's "
        f"root.{capped}"
    )
    if not shown:
        return
    rows = [
        [str(e.index), e.kind, code(e.leaf_hash), capped_ids(e.cited_by, "evidence.csv")]
        for e in shown
    ]
    yield data_table(
        ["Index", "Kind", "Leaf hash", "Cited by"], rows, [0.08, 0.14, 0.4, 0.38], numeric=(0,)
    )
