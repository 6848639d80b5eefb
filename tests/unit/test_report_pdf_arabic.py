"""Arabic in report.pdf: shaped, right to left, in the vendored DejaVu Sans; all else unchanged.

The markup is checked here directly; the rendered PDF is read back with poppler (``pdftotext``,
``pdffonts``), as a reader gets it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

from reports.model import ReportData
from reports.pdf import render_pdf
from reports.pdf_layout import (
    AuditDocTemplate,
    Heading,
    PageFurniture,
    PageTotal,
    data_table,
    styles,
)
from reports.pdf_text import (
    FONT,
    FONT_ARABIC,
    FONT_ARABIC_BOLD,
    FONT_BOLD,
    printable,
    text,
    wrapped,
)
from reports.pdf_text import _broken as broken
from reports.pdf_text import _segments as segments
from reports.pdf_text import text_width as width
from tests.conftest import prerequisite_missing
from tests.reports_sample import sample_report_data

ROOT = Path(__file__).resolve().parents[2]
NAME = "أحمد المنصوري"
ROLE = "موافقة مدير حماية البيانات"
#: A waiver's reason: long enough to take several lines of its table cell.
REASON = (
    "موافقة مدير حماية البيانات على الاستثناء لمدة ثلاثين يوما بسبب متطلبات التدقيق الداخلي "
    "وإعادة تدريب النموذج"
)
MODEL = "نموذج كشف الاحتيال"
CJK = "审批人"
#: ``Paragraph`` markup of a run in the Arabic face (in drawing order), and of any tag.
RUN = re.compile(r'<font name="(DejaVuSans(?:-Bold)?)">([^<]*)</font>')
TAG = re.compile(r"<[^>]+>")
#: The marks pdftotext puts around a right-to-left line it turns back into reading order.
BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def letters(value: str) -> str:
    """``value`` compared letter by letter: contextual forms and ligatures as plain letters."""
    return " ".join(unicodedata.normalize("NFKC", value).translate(BIDI_MARKS).split())


def reading_order(visual: str) -> str:
    """A run of Arabic letters (no digits) in drawing order, back in reading order."""
    return letters(visual.replace("\u00a0", " ")[::-1])


def test_text_without_arabic_is_unchanged() -> None:
    assert text("Approved <b> — naïve “quotes” ≤ 5 …") == (
        "Approved &lt;b&gt; — naïve “quotes” ≤ 5 …"
    )
    assert text("<b>✓</b>") == "&lt;b&gt;[U+2713]&lt;/b&gt;"
    assert text(42) == "42"


def test_an_arabic_run_is_shaped_reversed_and_set_in_the_arabic_face() -> None:
    markup = text(f"Approved by {NAME} (DPO)")
    before, run, after = re.split(r'<font name="DejaVuSans">([^<]*)</font>', markup)
    assert (before, after) == ("Approved by ", " (DPO)")
    # Contextual forms (alef with hamza isolated; hah initial, meem medial, dal final), right
    # to left, and a space that does not break the name over two lines.
    assert run.startswith("\ufef1\ufead\ufeee\ufebc\ufee8\ufee4\ufedf\ufe8d\u00a0")
    assert run.endswith("\u00a0\ufeaa\ufee4\ufea3\ufe83")
    assert reading_order(run) == NAME
    # Lam-alef is one ligature.
    assert "\ufefb" in text("لا")
    assert reading_order(RUN.findall(text(ROLE))[0][1]) == ROLE


def test_digits_and_brackets_follow_the_bidirectional_algorithm() -> None:
    runs = [(rtl, part) for rtl, part in segments("Model نموذج 3 (الإصدار ٢) for ok (أحمد)")]
    assert runs == [
        (False, "Model "),
        (True, "نموذج 3 (الإصدار ٢)"),
        (False, " for ok ("),
        (True, "أحمد"),
        (False, ")"),
    ]
    (_, run), *_ = RUN.findall(text("نموذج 3 (الإصدار ٢)"))
    # Drawn left to right: the bracket pair first (mirrored), the number as it reads.
    assert run.startswith("(\u0662\u00a0")
    assert run.endswith(")\u00a03\u00a0\ufe9d\ufeab\ufeee\ufee4\ufee7")


def test_vowel_marks_are_kept() -> None:
    (_, run), *_ = RUN.findall(text("مُحَمَّد"))
    assert {"\u064f", "\u064e", "\u0651"} <= set(run)


def test_what_no_font_draws_is_still_a_code_point() -> None:
    markup = text(f"{NAME} {CJK} ✓")
    assert "[U+5BA1][U+6279][U+4EBA] [U+2713]" in markup
    assert len(RUN.findall(markup)) == 1
    # An Arabic letter DejaVu Sans lacks in one of its forms (heh goal, Urdu).
    assert "[U+06C1]" in text("ہ")
    # Text drawn in Vera alone (a chart's labels) keeps every Arabic letter as a code point.
    assert printable("مدير") == "[U+0645][U+062F][U+064A][U+0631]"


def test_bold_text_gets_the_bold_arabic_face() -> None:
    assert RUN.findall(text(NAME, bold=True))[0][0] == FONT_ARABIC_BOLD
    assert RUN.findall(text(NAME))[0][0] == FONT_ARABIC
    heading = Heading(f"Approvals by {NAME}", 0, "approvals")
    assert {f.fontName for f in heading.frags} == {FONT_BOLD, FONT_ARABIC_BOLD}
    cell = wrapped(MODEL, styles().cell, "<b>{}</b>")
    cell.wrap(200, 1000)
    assert {f.fontName for f in cell.frags} == {FONT_ARABIC_BOLD}


def test_widths_are_measured_shaped_in_the_arabic_face() -> None:
    (_, run), *_ = RUN.findall(text(NAME))
    assert width(f"by {NAME}", FONT, 10) == pytest.approx(
        stringWidth("by ", FONT, 10) + stringWidth(run, FONT_ARABIC, 10)
    )
    # A header word is refused only when it does not fit as drawn.
    data_table(["المعتمد"], [["x"]], [0.1])
    with pytest.raises(ValueError, match="does not fit"):
        data_table(["المعتمدالمعتمد"], [["x"]], [0.05])


@pytest.mark.parametrize("room", [40.0, 80.0, 150.0])
def test_a_long_run_is_cut_into_lines_in_reading_order(room: float) -> None:
    markup = broken(f"Reason: {REASON}", FONT, 7.5, room)
    lines = markup.split("<br/>")
    assert len(lines) > 1
    runs = [RUN.findall(line) for line in lines]
    assert all(len(r) <= 1 for r in runs)
    # Each line of the run fits, and read right to left line after line, it is the reason.
    assert all(stringWidth(r[0][1], FONT_ARABIC, 7.5) <= room for r in runs if r)
    assert " ".join(reading_order(r[0][1]) for r in runs if r) == letters(REASON)
    assert TAG.sub("", lines[0]).startswith("Reason: ")


def test_a_run_keeps_the_spacing_around_it() -> None:
    markup = broken("id:أحمد x(علي) y\nسطر", FONT, 7.5, 200)
    first, second = markup.split("<br/>")
    assert TAG.sub("|", first) == "id:|\ufeaa\ufee4\ufea3\ufe83| x(|\ufef2\ufee0\ufecb|) y"
    assert RUN.fullmatch(second)
    # Between two Arabic words, punctuation and brackets are part of the right-to-left run.
    assert (
        TAG.sub("|", text("أحمد, (علي)")) == "|(\ufef2\ufee0\ufecb)\u00a0,\ufeaa\ufee4\ufea3\ufe83|"
    )
    assert broken("plain words, no Arabic", FONT, 7.5, 200) == "plain words, no Arabic"


def test_a_word_wider_than_the_line_is_cut_between_letters() -> None:
    word = "الاستثناءاتالمعتمدة"
    lines = [RUN.findall(line)[0][1] for line in broken(word, FONT, 7.5, 25).split("<br/>")]
    assert len(lines) > 2
    assert all(stringWidth(line, FONT_ARABIC, 7.5) <= 25 for line in lines)
    assert "".join(reading_order(line) for line in lines) == letters(word)


# The rendered PDF, read back with poppler.


def poppler(tool: str, *args: str) -> str:
    found = shutil.which(tool)
    if found is None:
        prerequisite_missing(f"{tool} is not installed (poppler-utils; .ci/run installs it)")
    done = subprocess.run([found, *args], capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def small_pdf() -> bytes:
    """A page with Arabic in a heading, prose, a table's cells and a wrapped bold value."""
    s = styles()
    out = io.BytesIO()
    total = PageTotal()
    furniture = PageFurniture("Arabic test", "footer", "D:20260401060000+00'00'", "arabic")
    doc = AuditDocTemplate(out, furniture, total, title="Arabic")
    story = [
        total,
        Heading(f"Approvals by {NAME}", 0, "approvals"),
        Paragraph(f"Approved by {text(NAME)} (DPO), {text(ROLE)}, on 2026-03-01.", s.body),
        Paragraph(f"Reviewer: {text(CJK)}.", s.body),
        data_table(
            ["Approver", "Reason"],
            [[NAME, REASON], ["Jane Doe", f"Renewal approved by {NAME} on 2026-03-02."]],
            [0.3, 0.3],
        ),
        wrapped(MODEL, s.cell, "<b>{}</b>"),
    ]
    doc.multiBuild(story, maxPasses=12)
    return out.getvalue()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pdf = tmp_path_factory.mktemp("arabic") / "arabic.pdf"
    pdf.write_bytes(small_pdf())
    return pdf


def test_the_arabic_reads_back_as_text(small: Path) -> None:
    read = letters(poppler("pdftotext", str(small), "-"))
    assert "[U+06" not in read
    for phrase in (NAME, ROLE, MODEL, "Approved by", "(DPO)", "Jane Doe"):
        assert phrase in read
    assert "[U+5BA1][U+6279][U+4EBA]" in read


def test_the_arabic_faces_are_embedded_as_subsets(small: Path) -> None:
    fonts = poppler("pdffonts", str(small)).splitlines()[2:]
    faces = {line.split()[0].split("+", 1)[1]: line.split() for line in fonts}
    assert set(faces) == {
        "BitstreamVeraSans-Roman",
        "BitstreamVeraSans-Bold",
        "DejaVuSans",
        "DejaVuSans-Bold",
    }
    # Columns: name, type, encoding, embedded, subset, unicode map, object id.
    assert all(row[3:6] == ["yes", "yes", "yes"] for row in faces.values())
    # A subset: the file holds a few glyphs, not the 700 kB fonts.
    assert small.stat().st_size < 300_000


def test_the_same_arabic_gives_the_same_bytes() -> None:
    assert small_pdf() == small_pdf()


RENDER_IN_A_CHILD = """
import sys
from tests.unit.test_report_pdf_arabic import small_pdf
sys.stdout.buffer.write(small_pdf())
"""


def test_the_shaper_configuration_of_the_environment_changes_nothing(tmp_path: Path) -> None:
    """arabic-reshaper reads a configuration file named in the environment: it is overridden."""
    config = tmp_path / "reshaper.ini"
    config.write_text(
        "[ArabicReshaper]\ndelete_harakat = yes\nsupport_ligatures = no\nlanguage = Kurdish\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHON_ARABIC_RESHAPER_CONFIGURATION_FILE": str(config),
    }
    child = subprocess.run(
        [sys.executable, "-c", RENDER_IN_A_CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    assert child.stdout == small_pdf()


def arabic_report() -> ReportData:
    """The sample report, its first waiver approved in Arabic and its first model named so."""
    sample = sample_report_data()
    waiver = sample.exceptions[0].model_copy(update={"approver": NAME, "reason": REASON})
    model = sample.system[0].model_copy(update={"name": MODEL})
    return sample.model_copy(
        update={
            "exceptions": [waiver, *sample.exceptions[1:]],
            "system": [model, *sample.system[1:]],
        }
    )


def test_the_report_prints_arabic_names_and_reasons(tmp_path: Path) -> None:
    data = arabic_report()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_pdf(data))
    read = letters(poppler("pdftotext", str(pdf), "-"))
    assert "[U+06" not in read
    assert NAME in read
    assert MODEL in read
    # The reason, wrapped over lines of its cell, reads in order.
    assert letters(REASON) in read
    assert "DejaVuSans" in poppler("pdffonts", str(pdf))
    assert render_pdf(data) == pdf.read_bytes()
