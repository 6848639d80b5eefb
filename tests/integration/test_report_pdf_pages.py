"""report.pdf as a reader gets it, read back with poppler (``pdftotext``, ``pdftoppm``,
``pdffonts``): every section is there with the sample data's figures, every page renders, and
every font is embedded.

poppler-utils is a prerequisite (``.ci/run`` installs it): without it these tests are skipped, and
fail under ``CI=true`` (``tests/conftest.py``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from reports.model import ControlResults, FamilyCount, ReportData
from reports.pdf import DECISION_ROWS, EVIDENCE_ROWS, LIST_ROWS, data_digest, render_pdf
from tests.conftest import prerequisite_missing
from tests.reports_sample import sample_report_data

POPPLER = ("pdftotext", "pdftoppm", "pdffonts", "pdfinfo")
#: The section headings, in order (the numbers are the report's).
SECTIONS = (
    "1 Integrity statement",
    "1.1 How to verify this report",
    "1.2 Ledger checkpoint",
    "2 Executive summary",
    "2.1 Per framework",
    "2.2 Decisions over time",
    "2.3 Results per control family",
    "3 Scope and criteria",
    "4 Methodology and limitations",
    "4.1 Methodology",
    "4.2 Limitations",
    "5 System description",
    "6 Control results",
    "6.1 GDPR: results",
    "6.2 GDPR: failures and evidence",
    "6.3 UAE PDPL: results",
    "6.4 UAE PDPL: failures and evidence",
    "6.5 ISO/IEC 27001:2022: results",
    "6.6 ISO/IEC 27001:2022: failures and evidence",
    "7 Decisions",
    "8 Exceptions register",
    "9 Break-glass decisions",
    "10 Supply chain",
    "11 Corrective actions",
    "12 Sign-off",
    "13 Appendix: cited ledger entries",
)
FRAMEWORKS = {"gdpr": "GDPR", "uae_pdpl": "UAE PDPL", "iso27001": "ISO/IEC 27001:2022"}


def poppler(tool: str) -> str:
    """The path of a poppler tool; a missing one is a missing prerequisite."""
    found = shutil.which(tool)
    if found is None:
        prerequisite_missing(
            f"{tool} is not installed (poppler-utils: `apt-get install poppler-utils`; "
            ".ci/run installs it)"
        )
    return found


def run(tool: str, *args: str) -> str:
    done = subprocess.run(
        [poppler(tool), *args], capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout


@dataclass(frozen=True)
class Rendered:
    """A rendered report and what poppler reads in it."""

    data: ReportData
    pdf: Path
    pages: int
    #: ``pdftotext -raw``: content order, every cell's lines together, hyphens kept.
    raw: str
    #: ``pdftotext -layout``: a table row's cells on one line.
    layout: str

    @property
    def prose(self) -> str:
        """The raw text with every run of white space as one space."""
        return " ".join(self.raw.split())

    @property
    def squeezed(self) -> str:
        """The raw text without white space: ids and digests wrapped over lines are whole."""
        return "".join(self.raw.split())


@pytest.fixture(scope="module")
def tools() -> None:
    """poppler's tools are installed (or the test is skipped; failed under CI)."""
    for tool in POPPLER:
        poppler(tool)


def render(data: ReportData, folder: Path) -> Rendered:
    pdf = folder / "report.pdf"
    pdf.write_bytes(render_pdf(data))
    info = run("pdfinfo", str(pdf))
    pages = int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1))  # type: ignore[union-attr]
    raw = run("pdftotext", "-raw", str(pdf), "-")
    layout = run("pdftotext", "-layout", str(pdf), "-")
    return Rendered(data, pdf, pages, raw, layout)


@pytest.fixture(scope="module")
def sample(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(sample_report_data(), tmp_path_factory.mktemp("report"))


def row(layout: str, first: str, *cells: str) -> bool:
    """Whether a line of the layout text starts with ``first`` and ends with ``cells``."""
    tail = r"\s+".join(re.escape(c) for c in cells)
    return re.search(rf"^\s*{re.escape(first)}\s.*?{tail}\s*$", layout, re.M) is not None


def n(value: int) -> str:
    return f"{value:,}"


def figures(c: ControlResults) -> tuple[int, ...]:
    """A control's figures, in the order of the results table's columns."""
    return (c.passed, c.failed, c.not_applicable, c.not_evaluated, c.waived, c.verified, c.declared)


def test_every_section_is_there_in_order_and_in_the_outline(sample: Rendered) -> None:
    body = sample.prose[sample.prose.index("1 Integrity statement This report") :]
    positions = [body.find(f"{heading} ") for heading in SECTIONS]
    assert -1 not in positions, [h for h, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    # The table of contents (page 2) lists them with their pages; the outline holds them too.
    contents = run("pdftotext", "-f", "2", "-l", "2", "-layout", str(sample.pdf), "-")
    pdf = sample.pdf.read_bytes()
    for heading in SECTIONS:
        number, title = heading.split(" ", 1)
        assert re.search(rf"{re.escape(number)}\s+{re.escape(title)}[ .]+\d+$", contents, re.M)
        assert f"/Title ({number}  {title})".encode() in pdf


def test_cover_and_integrity_statement(sample: Rendered) -> None:
    d, text, squeezed = sample.data, sample.prose, sample.squeezed
    assert "Compliance audit report" in text
    assert "1 January 2026 to 31 March 2026" in text
    assert f"tree size {n(d.checkpoint.size)}" in text
    assert d.report.generated_by in text
    for value in (d.report.report_id, data_digest(d), d.checkpoint.root, d.checkpoint.public_key):
        assert value in squeezed
    assert "governance report verify DIR --public-key KEY" in text
    for line in d.checkpoint.note.splitlines():
        assert "".join(line.split()) in squeezed
    assert f"Page 1 of {sample.pages}" in text
    assert f"Page {sample.pages} of {sample.pages}" in text


def test_executive_summary_figures(sample: Rendered) -> None:
    sm = sample.data.summary
    assert (
        f"made {n(sm.decisions)} decisions on {n(sm.models)} models: {n(sm.outcomes.allow)} "
        f"allowed, {n(sm.outcomes.deny)} denied and {n(sm.outcomes.error)} ended in an engine "
        "error"
    ) in sample.prose
    assert f"{n(sm.break_glass)} decisions were forced through by break-glass" in sample.prose
    assert f"{n(sm.dry_run)} ran in dry-run mode" in sample.prose
    for fw in sm.frameworks:
        counts = fw.decisions
        counted = r"\s+".join(n(v) for v in (counts.allow, counts.deny, counts.error))
        name, first = re.escape(FRAMEWORKS[fw.framework]), re.escape(fw.top_failing[0].control)
        assert re.search(rf"^\s*{name}\s+{counted}\s+{first}\s", sample.layout, re.M)
        for top in fw.top_failing:
            failures = "failure" if top.count == 1 else "failures"
            assert re.search(rf"{re.escape(top.control)} .*?: {top.count} {failures}", sample.prose)
    # The charts' legends, and the families' figures in the table under the chart.
    assert "Decisions Allow Deny Error" in sample.prose
    assert "Passed Failed Other" in sample.prose
    for f in sample.data.results_per_family:
        assert row(sample.layout, f.family, n(f.passed), n(f.failed), n(f.other))


def test_scope_methodology_and_limitations(sample: Rendered) -> None:
    d = sample.data
    cr = d.criteria
    for value in (*cr.bundle_digests, *cr.targets):
        assert value in sample.squeezed
    for engine in cr.engines:
        assert engine in sample.prose
    assert f"Control catalog version {cr.catalog_version}" in sample.prose
    per_framework = Counter[str](c.framework for c in cr.catalog)
    in_scope = ", ".join(f"{FRAMEWORKS[fw]} {per_framework[fw]}" for fw in FRAMEWORKS)
    assert f"Controls in scope {len(cr.catalog)} ({in_scope})" in sample.prose
    lim = d.limitations
    assert f"{lim.engine_errors} decisions ended in an engine error" in sample.prose
    assert f"{len(lim.not_evaluated)} controls had such results" in sample.prose
    assert f"{len(lim.declared)} controls passed on the requester's declaration" in sample.prose
    for c in (*lim.not_evaluated, *lim.declared):
        assert re.search(rf"(^|\s){re.escape(c.control)}\s+{c.count}(\s|$)", sample.layout, re.M)


def test_system_description(sample: Rendered) -> None:
    for model in sample.data.system:
        assert model.name in sample.squeezed
        assert model.digest in sample.squeezed
        for upstream in model.personal_data_upstream:
            assert upstream in sample.squeezed
        for decision in model.decisions[:4]:
            assert decision in sample.squeezed


def test_every_control_with_its_results_failures_and_evidence(sample: Rendered) -> None:
    assert [c.control for c in sample.data.controls] == [
        c.control for c in sample.data.criteria.catalog
    ]
    for c in sample.data.controls:
        assert row(sample.layout, c.control, c.enforcement, *map(n, figures(c))), c.control
        for decision in c.failed_in:
            assert decision in sample.squeezed
        assert str(c.evidence[0]) in sample.prose


def test_the_statement_of_applicability(sample: Rendered) -> None:
    soa = sample.data.soa
    assert soa
    assert any(not e.applicable for e in soa)
    applicable = sum(1 for e in soa if e.applicable)
    heading = "ISO/IEC 27001:2022: Statement of Applicability"
    assert re.search(rf"^\d+\.\d+\s+{re.escape(heading)}$", sample.layout, re.M)
    assert f"evaluates: {n(applicable)} of {n(len(soa))} applicable" in sample.prose
    results = {c.control: c for c in sample.data.controls}
    for e in soa:
        # Each row: the Annex A control, its applicability and the service control's result.
        c = results[e.control]
        applies = "Yes" if e.applicable else "No"
        line = rf"^\s*{re.escape(e.annex_a)}\s.*?\s{applies}\s"
        assert re.search(line, sample.layout, re.M), e.annex_a
        assert f"{n(c.passed)} pass, {n(c.failed)} fail" in sample.prose
        assert " ".join(e.justification.split()[:4]) in sample.prose


def test_decisions_exceptions_break_glass_supply_chain(sample: Rendered) -> None:
    d = sample.data
    assert f"The period's {len(d.decisions)} decisions, by ledger index." in sample.prose
    assert "capped" not in sample.prose
    for decision in d.decisions:
        assert f"{decision.index}{decision.decision_id}" in sample.squeezed
    for w in d.exceptions:
        for value in (w.approver, w.reason, w.digest, *w.decisions_covered):
            assert "".join(value.split()) in sample.squeezed
        assert f"Decisions covered: {len(w.decisions_covered)}" in sample.prose
    assert f"{len(d.exceptions)} waivers were in force" in sample.prose
    for b in d.break_glass:
        assert f"{b.index}{b.decision_id}" in sample.squeezed
        assert "".join(b.reason.split()) in sample.squeezed
    sc = d.supply_chain
    assert f"{sc.passed} passed and {sc.failed} failed verification" in sample.prose
    for v in sc.verdicts:
        assert re.search(rf"(^|\s){v.index}\s", sample.raw)
        for digest in v.subject_digests:
            assert digest in sample.squeezed
        if v.reason:
            assert "".join(v.reason.split()) in sample.squeezed


def test_corrective_actions_sign_off_and_evidence(sample: Rendered) -> None:
    d = sample.data
    for a in d.corrective_actions:
        assert row(sample.layout, a.control, str(a.failures), a.first[:10], a.last[:10])
    for role in ("Prepared by (compliance)", "Reviewed by (auditor)", "Approved by"):
        assert role in sample.prose
    assert f"The {len(d.evidence)} ledger entries this report cites" in sample.prose
    for e in d.evidence:
        assert f"{e.index}{e.kind}{e.leaf_hash}" in sample.squeezed


def test_every_page_renders(sample: Rendered, tmp_path: Path) -> None:
    run("pdftoppm", "-png", "-r", "60", str(sample.pdf), str(tmp_path / "page"))
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == sample.pages
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
        assert png.stat().st_size > 2_000  # not blank


def test_every_font_is_embedded_and_none_is_a_base_14_font(sample: Rendered) -> None:
    listing = run("pdffonts", str(sample.pdf)).splitlines()
    fonts = [line.split() for line in listing[2:]]
    assert fonts
    names = {f[0].split("+")[-1] for f in fonts}
    assert names == {
        "BitstreamVeraSans-Roman",
        "BitstreamVeraSans-Bold",
        "BitstreamVeraSans-Oblique",
        "BitstreamVeraSans-BoldOblique",
    }
    for font in fonts:
        # name, type, [type], encoding, emb, sub, uni, object, id
        assert font[-5:-2] == ["yes", "yes", "yes"], font


@pytest.mark.slow
def test_fifty_thousand_decisions_make_tens_of_pages_not_thousands(
    tools: None, tmp_path: Path
) -> None:
    big = render(sample_report_data(decisions=50_000, attestations=300), tmp_path)
    d = big.data
    assert big.pages < 100
    assert (
        f"The table lists the first {n(DECISION_ROWS)} of the {n(len(d.decisions))} decisions "
        f"(it is capped at {n(DECISION_ROWS)} rows); the complete list is in decisions.csv"
    ) in big.prose
    assert f"first {n(LIST_ROWS)} of the {n(len(d.break_glass))} break-glass decisions" in big.prose
    assert f"first {n(LIST_ROWS)} of the {n(len(d.supply_chain.verdicts))} verdicts" in big.prose
    assert f"first {n(EVIDENCE_ROWS)} of the {n(len(d.evidence))} entries" in big.prose
    # Every control is still listed, with its figures; long lists in cells say what they omit.
    for c in d.controls:
        assert row(big.layout, c.control, c.enforcement, *map(n, figures(c)))
        if len(c.failed_in) > 12:
            assert f"and {n(len(c.failed_in) - 12)} more decisions" in big.prose
    assert f"Page {big.pages} of {big.pages}" in big.prose


def test_cells_taller_than_a_page_and_many_families_still_lay_out(
    tools: None, tmp_path: Path
) -> None:
    data = sample_report_data()
    long_reason = " ".join(f"word{i}" for i in range(2_500)) + " THE-END"
    waiver = data.exceptions[0].model_copy(update={"reason": long_reason, "approver": "x" * 400})
    forced = data.break_glass[0].model_copy(update={"reason": "y" * 5_000 + "Z"})
    families = [
        FamilyCount(
            family=f"Family {i} with a long, descriptive name " * 3, passed=i, failed=1, other=2
        )
        for i in range(70)
    ]
    data = data.model_copy(
        update={
            "exceptions": [waiver, *data.exceptions[1:]],
            "break_glass": [forced],
            "results_per_family": families,
        }
    )
    big = render(data, tmp_path)
    assert "word2499 THE-END" in big.prose
    assert "y" * 1_000 + "Z" in big.squeezed
    assert "x" * 400 in big.squeezed
    assert "The chart shows the 30 families with the most results; the table lists all 70." in (
        big.prose
    )
    for family in families:  # whole in the table under the chart
        assert "".join(family.family.split()) in big.squeezed
