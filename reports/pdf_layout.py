"""The PDF's typography and page furniture: fonts, styles, tables, headings and the page template.

The text is set in the Bitstream Vera TrueType fonts that ship inside reportlab; runs of Arabic
(which Vera lacks) in DejaVu Sans, Vera's derivative, vendored in ``reports/fonts`` (see its
README). Both are embedded as subsets: the same fonts and the same reportlab version (``uv.lock``)
give the same glyphs and bytes on every machine, and no base-14 font (which a viewer substitutes)
appears in the file. reportlab neither joins Arabic letters nor orders right-to-left text, so a
run of Arabic is shaped (contextual forms, lam-alef ligatures: ``arabic-reshaper``) and put in
visual order (``python-bidi``) before it is laid out; see :func:`text`.

The document template makes the build reproducible: the PDF's creation and modification dates
are the report's own time and its file identifier is derived from the data digest, whatever the
clock, the time zone or ``SOURCE_DATE_EPOCH`` say, and nothing is compressed (deflate's bytes
depend on the zlib build). It registers every :class:`Heading` in the table
of contents and the outline (bookmarks), and draws the running header and the "Page X of Y" footer,
the total coming from the previous layout pass (:class:`PageTotal`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from arabic_reshaper import ArabicReshaper
from arabic_reshaper.letters import LETTERS_ARABIC
from arabic_reshaper.ligatures import LIGATURES
from arabic_reshaper.reshaper_config import default_config as _reshaper_defaults
from bidi import get_display
from bidi.mirror import MIRRORED
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import DummyDoc, PDFText
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    IndexingFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

__all__ = [
    "FONT",
    "FONT_ARABIC",
    "FONT_ARABIC_BOLD",
    "FONT_BOLD",
    "INK",
    "MUTED",
    "PAGE_HEIGHT",
    "PAGE_WIDTH",
    "PALETTE",
    "TEXT_WIDTH",
    "AuditDocTemplate",
    "Heading",
    "PageTotal",
    "Styles",
    "Wrapped",
    "code",
    "data_table",
    "hex_colour",
    "plain_table",
    "printable",
    "styles",
    "text",
    "wrapped",
]

FONT = "Vera"
FONT_BOLD = "Vera-Bold"
FONT_ITALIC = "Vera-Italic"
FONT_BOLD_ITALIC = "Vera-BoldItalic"
_FONT_FILES = {
    FONT: "Vera.ttf",
    FONT_BOLD: "VeraBd.ttf",
    FONT_ITALIC: "VeraIt.ttf",
    FONT_BOLD_ITALIC: "VeraBI.ttf",
}
#: The faces runs of Arabic are set in (DejaVu Sans has no Arabic in its oblique faces: an
#: italic run is set upright, as Arabic usually is).
FONT_ARABIC = "DejaVuSans"
FONT_ARABIC_BOLD = "DejaVuSans-Bold"
_ARABIC_FONT_FILES = {FONT_ARABIC: "DejaVuSans.ttf", FONT_ARABIC_BOLD: "DejaVuSans-Bold.ttf"}
_ARABIC_FONT_DIR = Path(__file__).resolve().parent / "fonts"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BODY_HEIGHT = PAGE_HEIGHT - 2 * MARGIN
_NO_PADDING = {"leftPadding": 0, "rightPadding": 0, "topPadding": 0, "bottomPadding": 0}
_HEADER_Y = PAGE_HEIGHT - 11 * mm
_FOOTER_Y = 10 * mm

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#9aa5b1")
HEAD_FILL = colors.HexColor("#243b53")
ZEBRA = colors.HexColor("#f0f4f8")
#: Outcome and result colours, shared by tables and charts (colour-blind-safe hues).
PALETTE = {
    "allow": colors.HexColor("#2f8f5b"),
    "deny": colors.HexColor("#c0392b"),
    "error": colors.HexColor("#e0a526"),
    "passed": colors.HexColor("#2f8f5b"),
    "failed": colors.HexColor("#c0392b"),
    "other": colors.HexColor("#9aa5b1"),
}


def hex_colour(name: str) -> str:
    """A :data:`PALETTE` colour as ``#rrggbb``, for ``<font color=...>`` in paragraphs."""
    return "#" + str(PALETTE[name].hexval())[2:]


@cache
def _register_fonts() -> None:
    """Register the Vera and Arabic families once per process (reportlab's registry is global)."""
    folder = Path(reportlab.__file__).parent / "fonts"
    for name, file in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD_ITALIC
    )
    for name, file in _ARABIC_FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(_ARABIC_FONT_DIR / file)))
    pdfmetrics.registerFontFamily(
        FONT_ARABIC,
        normal=FONT_ARABIC,
        bold=FONT_ARABIC_BOLD,
        italic=FONT_ARABIC,
        boldItalic=FONT_ARABIC_BOLD,
    )


@dataclass(frozen=True)
class Styles:
    """The paragraph styles of the report."""

    kicker: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    bullet: ParagraphStyle
    note: ParagraphStyle
    caption: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    cell_muted: ParagraphStyle
    cell_right: ParagraphStyle
    cell_center: ParagraphStyle
    cell_head: ParagraphStyle
    cell_head_right: ParagraphStyle
    mono: ParagraphStyle
    code: ParagraphStyle
    toc: tuple[ParagraphStyle, ...]
    figure: ParagraphStyle
    figure_label: ParagraphStyle


@cache
def styles() -> Styles:
    """The report's styles (fonts registered on first use)."""
    _register_fonts()
    body = ParagraphStyle(
        "body",
        fontName=FONT,
        bulletFontName=FONT,
        fontSize=9.5,
        leading=13.5,
        textColor=INK,
        spaceAfter=5,
    )
    cell = ParagraphStyle(
        "cell",
        parent=body,
        fontSize=7.5,
        leading=9.5,
        spaceAfter=0,
        splitLongWords=1,
    )
    cell_head = ParagraphStyle("cell_head", parent=cell, fontName=FONT_BOLD, textColor=colors.white)
    heading = ParagraphStyle(
        "heading", parent=body, fontName=FONT_BOLD, keepWithNext=1, textColor=HEAD_FILL
    )
    return Styles(
        kicker=ParagraphStyle(
            "kicker", parent=body, fontName=FONT_BOLD, fontSize=9, leading=12, textColor=MUTED
        ),
        title=ParagraphStyle(
            "title", parent=heading, fontSize=24, leading=30, spaceAfter=6, textColor=INK
        ),
        subtitle=ParagraphStyle(
            "subtitle", parent=body, fontSize=13, leading=17, spaceAfter=18, textColor=MUTED
        ),
        h1=ParagraphStyle(
            "h1", parent=heading, fontSize=15, leading=19, spaceBefore=14, spaceAfter=8
        ),
        h2=ParagraphStyle(
            "h2", parent=heading, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=5
        ),
        body=body,
        bullet=ParagraphStyle("bullet", parent=body, leftIndent=13, bulletIndent=3, spaceAfter=3),
        note=ParagraphStyle(
            "note",
            parent=body,
            fontName=FONT_ITALIC,
            fontSize=8,
            leading=10.5,
            textColor=MUTED,
            spaceBefore=3,
        ),
        caption=ParagraphStyle(
            "caption",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=9,
            leading=12,
            spaceBefore=10,
            spaceAfter=4,
            keepWithNext=1,
        ),
        cell=cell,
        cell_bold=ParagraphStyle("cell_bold", parent=cell, fontName=FONT_BOLD),
        cell_muted=ParagraphStyle("cell_muted", parent=cell, textColor=MUTED),
        cell_right=ParagraphStyle("cell_right", parent=cell, alignment=TA_RIGHT),
        cell_center=ParagraphStyle("cell_center", parent=cell, alignment=TA_CENTER),
        cell_head=cell_head,
        cell_head_right=ParagraphStyle("cell_head_right", parent=cell_head, alignment=TA_RIGHT),
        # Digests, ids and keys: smaller, grey-blue, broken anywhere (they have no spaces).
        mono=ParagraphStyle(
            "mono", parent=cell, fontSize=6.5, leading=8.2, textColor=colors.HexColor("#334e68")
        ),
        code=ParagraphStyle(
            "code",
            parent=body,
            fontSize=7.5,
            leading=10,
            leftIndent=6,
            rightIndent=6,
            borderPadding=(5, 6, 5, 6),
            backColor=ZEBRA,
            borderColor=RULE,
            borderWidth=0.4,
            spaceBefore=4,
            spaceAfter=10,
            splitLongWords=1,
        ),
        toc=(
            ParagraphStyle("toc0", parent=body, fontSize=10, leading=15, spaceBefore=4),
            ParagraphStyle("toc1", parent=body, fontSize=9, leading=12, leftIndent=14),
        ),
        figure=ParagraphStyle(
            "figure", parent=body, fontName=FONT_BOLD, fontSize=17, leading=20, alignment=TA_LEFT
        ),
        figure_label=ParagraphStyle(
            "figure_label", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED, spaceAfter=0
        ),
    )


@cache
def _glyphs() -> frozenset[int]:
    """The code points every face of the report's font can draw."""
    _register_fonts()
    faces = [set(pdfmetrics.getFont(name).face.charToGlyph) for name in _FONT_FILES]
    return frozenset(set.intersection(*faces))


def printable(value: str) -> str:
    """``value`` with each character Vera cannot draw written ``[U+XXXX]``.

    A missing glyph would be drawn as nothing: a name or a reason would silently lose letters
    (Arabic, CJK, symbols). Written as code points, nothing is lost and the reader sees it. This
    is for text drawn in Vera alone (a chart's labels); paragraph markup (:func:`text`) draws
    Arabic too.
    """
    glyphs = _glyphs()
    if all(ord(c) in glyphs for c in value):
        return value
    return "".join(c if ord(c) in glyphs or c in "\n\t" else f"[U+{ord(c):04X}]" for c in value)


def text(value: object, *, bold: bool = False) -> str:
    """``value`` as paragraph markup: escaped, so data is never read as tags, and printable.

    Each run of Arabic is shaped, put in right-to-left order and set in the Arabic face
    (:func:`_arabic_run`); every other character Vera lacks is written ``[U+XXXX]``
    (:func:`printable`); text without Arabic is only escaped. A run is kept on one line (its
    spaces do not break): a paragraph laid out at a width that is not known here could not put
    the words of a run broken across lines in right-to-left order. :func:`wrapped` paragraphs,
    which know their width, break long runs in the right order.

    ``bold``: the markup goes inside ``<b>`` or a bold style. reportlab's ``<font>`` tag (which
    sets the Arabic face) drops the bold of the tags and style around it, so the face is chosen
    here: Arabic in bold text is set in the Arabic bold face only when this says so.
    """
    return _markup(str(value), FONT_BOLD if bold else FONT)


#: The Unicode blocks of the Arabic script: Arabic, Arabic Supplement, Arabic Extended-A and the
#: Arabic presentation forms A and B.
_ARABIC_BLOCKS = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)
#: The ligatures Arabic requires (lam-alef); the optional ones (a font's choice) stay off.
_LAM_ALEF = frozenset(
    {
        "ARABIC LIGATURE LAM WITH ALEF",
        "ARABIC LIGATURE LAM WITH ALEF WITH HAMZA ABOVE",
        "ARABIC LIGATURE LAM WITH ALEF WITH HAMZA BELOW",
        "ARABIC LIGATURE LAM WITH ALEF WITH MADDA ABOVE",
    }
)
#: Bidirectional classes that stay inside a right-to-left run between two Arabic letters:
#: spaces, punctuation, digits and marks (a Latin letter, class L, ends the run).
_IN_RUN = frozenset({"WS", "CS", "ES", "ET", "EN", "AN", "ON", "NSM", "BN"})
#: Opening brackets and their closing ones (rule N0 pairs them).
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
#: A space that reportlab does not break a line at: the words of a run stay on one line.
_NBSP = "\u00a0"


@cache
def _arabic_face_glyphs() -> frozenset[int]:
    """The code points both Arabic faces can draw."""
    _register_fonts()
    faces = [set(pdfmetrics.getFont(name).face.charToGlyph) for name in _ARABIC_FONT_FILES]
    return frozenset(set.intersection(*faces))


@cache
def _arabic() -> frozenset[int]:
    """The Arabic characters drawn in the Arabic face: those it has in every form they take."""
    glyphs = _arabic_face_glyphs()
    return frozenset(
        c
        for low, high in _ARABIC_BLOCKS
        for c in range(low, high + 1)
        if c in glyphs and all(ord(f) in glyphs for f in LETTERS_ARABIC.get(chr(c), ()) if f)
    )


@cache
def _reshaper() -> ArabicReshaper:
    """The Arabic shaper, every setting fixed here.

    All are given, so a ``PYTHON_ARABIC_RESHAPER_CONFIGURATION_FILE`` in the environment
    changes nothing: the same data gives the same PDF bytes.
    """
    config: dict[str, object] = dict(_reshaper_defaults)
    config.update({name: name in _LAM_ALEF for name, _ in LIGATURES})
    config.update(
        language="Arabic",
        support_ligatures=True,
        # Nothing is lost: vowel marks are kept, after their letter. Once the run is reversed
        # a mark comes just before its letter, and DejaVu draws a mark (it has no width) over
        # the glyph that follows it.
        delete_harakat=False,
        shift_harakat_position=False,
        delete_tatweel=False,
        support_zwj=True,
        use_unshaped_instead_of_isolated=False,
    )
    return ArabicReshaper(configuration=config)


def _arabic_face(font: str) -> str:
    """The Arabic face that goes with the Vera face ``font``."""
    return FONT_ARABIC_BOLD if font in (FONT_BOLD, FONT_BOLD_ITALIC) else FONT_ARABIC


def _drawable(value: str) -> str:
    """``value`` with each character neither Vera nor the Arabic face can draw ``[U+XXXX]``."""
    glyphs, arabic = _glyphs(), _arabic()
    if all(ord(c) in glyphs for c in value):
        return value
    return "".join(
        c if ord(c) in glyphs or ord(c) in arabic or c in "\n\t" else f"[U+{ord(c):04X}]"
        for c in value
    )


def _segments(value: str) -> Iterator[tuple[bool, str]]:
    """``value`` (:func:`_drawable`) cut into left-to-right text and right-to-left runs.

    Yields ``(True, run)`` for a run of Arabic and ``(False, text)`` for the text between, in
    order. A run starts at an Arabic letter and ends at the last Arabic letter or digit, or the
    last closing bracket of a pair around some, before the next Latin letter, line break or
    character the Arabic face lacks: spaces, punctuation and digits between take the direction
    of the Arabic around them (rules W2, N0 and N1 of the Unicode bidirectional algorithm, in a
    left-to-right paragraph).
    """
    arabic, glyphs = _arabic(), _arabic_face_glyphs()
    start = i = 0
    while i < len(value):
        if ord(value[i]) not in arabic:
            i += 1
            continue
        end = j = i + 1
        opened: list[tuple[str, int]] = []  # (closing bracket, where its opening one is)
        while j < len(value) and (
            ord(value[j]) in arabic
            or (unicodedata.bidirectional(value[j]) in _IN_RUN and ord(value[j]) in glyphs)
        ):
            c = value[j]
            j += 1
            if ord(c) in arabic or unicodedata.bidirectional(c) == "EN":
                end = j
            elif c in _BRACKETS:
                opened.append((_BRACKETS[c], j - 1))
            elif opened and c == opened[-1][0]:
                _, where = opened.pop()
                if where < end:  # the pair holds Arabic, or a digit
                    end = j
        if start < i:
            yield False, value[start:i]
        yield True, value[i:end]
        start = i = end
    if start < len(value):
        yield False, value[start:]


def _shaped(run: str) -> str:
    """A run of Arabic with each letter in its contextual form, still in reading order."""
    shaped: str = _reshaper().reshape(run)
    return shaped


def _visual(shaped: str) -> str:
    """A shaped run (or a line of one) in drawing order, left to right.

    The bidirectional algorithm orders it (digits stay left to right), and brackets are
    mirrored (its rule L4, which ``python-bidi`` leaves to the renderer): every bracket in a
    run is right-to-left.
    """
    ordered: str = get_display(shaped, base_dir="R")
    return "".join(MIRRORED.get(c, c) for c in ordered)


def _arabic_run(visual: str, face: str) -> str:
    """A run in drawing order as markup in the Arabic face, its spaces not breaking the line."""
    return f'<font name="{face}">{escape(visual.replace(" ", _NBSP))}</font>'


def _markup(value: str, font: str) -> str:
    """``value`` as markup (:func:`text`), a run of Arabic in the face that goes with ``font``."""
    glyphs = _glyphs()
    if all(ord(c) in glyphs for c in value):
        return escape(value)
    value = _drawable(value)
    face = _arabic_face(font)
    return "".join(
        _arabic_run(_visual(_shaped(part)), face) if rtl else escape(part)
        for rtl, part in _segments(value)
    )


def _width(value: str, font: str, size: float) -> float:
    """The width of ``value`` as drawn: a run of Arabic shaped, in the Arabic face."""
    face = _arabic_face(font)
    return sum(
        float(pdfmetrics.stringWidth(_shaped(part) if rtl else part, face if rtl else font, size))
        for rtl, part in _segments(_drawable(value))
    )


def code(value: str, style: ParagraphStyle | None = None) -> Wrapped:
    """A digest, id or key in a table cell: small, and wrapped where it has to be."""
    return wrapped(value, style or styles().mono)


#: Where a word too long for its line is best broken: after one of these.
_BREAK_AFTER = frozenset("-/._:@,;=+&?#")


def _pieces(word: str, font: str, size: float, width: float) -> list[str]:
    """``word`` cut into pieces no wider than ``width``, after a separator where one is near."""
    pieces = []
    start = 0
    while start < len(word):
        end = start + 1
        while (
            end < len(word) and pdfmetrics.stringWidth(word[start : end + 1], font, size) <= width
        ):
            end += 1
        if end == len(word):
            pieces.append(word[start:])
            break
        cut = max((k + 1 for k in range(start, end) if word[k] in _BREAK_AFTER), default=end)
        if pdfmetrics.stringWidth(word[start:cut], font, size) < width / 3:
            cut = end
        pieces.append(word[start:cut])
        start = cut
    return pieces


class Wrapped(Paragraph):  # type: ignore[misc]  # reportlab is untyped
    """A paragraph of plain text whose words too long for a line break after a separator.

    reportlab breaks lines at spaces only, and a longer word (an id, a digest, a URI, a
    hyphenated model name) anywhere, so ``customer-churn-gradien`` / ``t-boosted``. Laid out for
    a width, this breaks such a word after a hyphen, slash, dot or colon near the end of the line
    instead, and anywhere only when there is none. The text itself is never changed: line breaks
    are added, nothing else. Make one with :func:`wrapped`; reportlab makes the others (the
    parts of a split paragraph), which are laid out as they are.
    """

    def __init__(self, *args: Any, value: str | None = None, markup: str = "{}", **kw: Any):
        super().__init__(*args, **kw)
        self._value = value
        self._markup = markup
        self._broken_for: float | None = None
        self._size: tuple[float, float] | None = None

    width: float
    height: float

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Break the long words for ``avail_width``, then lay out as a paragraph.

        Laid out once per width: a table asks for its cells' sizes again at every page it is
        split across, and the layout does not depend on the height.
        """
        if self._value is None:
            plain: tuple[float, float] = super().wrap(avail_width, avail_height)
            return plain
        if avail_width != self._broken_for or self._size is None:
            value, markup = self._value, self._markup
            font = _wrapped_font(self.style, markup)
            Paragraph.__init__(
                self,
                markup.format(_broken(value, font, self.style.fontSize, avail_width)),
                self.style,
            )
            self._broken_for = avail_width
            self._size = super().wrap(avail_width, avail_height)
        self.width, self.height = self._size
        return self._size

    def minWidth(self) -> float:  # reportlab's hook
        """No minimum: any word can be broken."""
        return 0.0


def wrapped(value: str, style: ParagraphStyle, markup: str = "{}") -> Wrapped:
    """``value`` as a :class:`Wrapped` paragraph.

    ``markup`` (``{}`` stands for the escaped text) may add tags around it; a newline in
    ``value`` breaks the line.
    """
    markup_value = _markup(value, _wrapped_font(style, markup))
    return Wrapped(markup.format(markup_value), style, value=value, markup=markup)


def _wrapped_font(style: ParagraphStyle, markup: str) -> str:
    """The face a :class:`Wrapped` paragraph's value is set in."""
    return FONT_BOLD if "<b>" in markup else str(style.fontName)


def _broken(value: str, font: str, size: float, width: float) -> str:
    """``value`` as markup, with line breaks inside its words wider than ``width``.

    A run of Arabic wider than ``width`` is cut into lines here, in reading order, and each line
    is put in right-to-left order by itself (:func:`_arabic_lines`): reportlab would break the
    run already reversed, and the reader would read its lines' words in the wrong order.
    """
    face = _arabic_face(font)
    lines = []
    for line in _drawable(value).split("\n"):
        words: list[str] = []
        # Whether what comes next continues the last word (no space between them).
        glued = False
        for rtl, part in _segments(line):
            if rtl:
                run = _arabic_lines(part, face, size, width)
                if glued and words:
                    words[-1] += run
                else:
                    words.append(run)
                glued = True
                continue
            pieces = [
                " <br/>".join(escape(p) for p in _pieces(w, font, size, width))
                if pdfmetrics.stringWidth(w, font, size) > width
                else escape(w)
                for w in part.split()
            ]
            if pieces and glued and words and not part[0].isspace():
                words[-1] += pieces.pop(0)
            words.extend(pieces)
            glued = bool(part) and not part[-1].isspace()
        lines.append(" ".join(words))
    return "<br/>".join(lines)


def _arabic_lines(run: str, face: str, size: float, width: float) -> str:
    """A run of Arabic as markup, cut into lines no wider than ``width`` where it has to be.

    The run is shaped whole, then its words are put on lines (a word wider than a line is cut
    between letters, a mark kept with its letter), each line is ordered right to left by itself
    and the lines are separated by line breaks. The first may follow text on the line before it
    when there is room; each is kept whole (its spaces do not break).
    """
    shaped = _shaped(run)
    if pdfmetrics.stringWidth(shaped, face, size) <= width:
        return _arabic_run(_visual(shaped), face)
    space = pdfmetrics.stringWidth(" ", face, size)
    lines: list[list[str]] = []
    used = 0.0
    for word in shaped.split(" "):
        if not word:
            continue
        need = pdfmetrics.stringWidth(word, face, size)
        if need > width:
            for piece in _letter_pieces(word, face, size, width):
                lines.append([piece])
            used = pdfmetrics.stringWidth(lines[-1][0], face, size)
        elif lines and used + space + need <= width:
            lines[-1].append(word)
            used += space + need
        else:
            lines.append([word])
            used = need
    return " <br/>".join(_arabic_run(_visual(" ".join(line)), face) for line in lines)


def _letter_pieces(word: str, face: str, size: float, width: float) -> list[str]:
    """A shaped word cut into pieces no wider than ``width`` (one letter at least)."""
    letters: list[str] = []
    for c in word:
        if letters and unicodedata.category(c) == "Mn":  # a vowel mark, after its letter
            letters[-1] += c
        else:
            letters.append(c)
    pieces: list[str] = []
    for letter in letters:
        if pieces and pdfmetrics.stringWidth(pieces[-1] + letter, face, size) <= width:
            pieces[-1] += letter
        else:
            pieces.append(letter)
    return pieces


class Heading(Paragraph):  # type: ignore[misc]  # reportlab is untyped
    """A section heading: an entry of the table of contents and of the outline."""

    def __init__(self, title: str, level: int, key: str) -> None:
        s = styles()
        style = s.h1 if level == 0 else s.h2
        super().__init__(_markup(title, style.fontName), style)
        self.toc_title = title
        self.level = level
        self.key = key


class PageTotal(IndexingFlowable):  # type: ignore[misc]  # reportlab is untyped
    """The page count of the previous layout pass, for "Page X of Y".

    Placed anywhere in the story (it takes no room), it makes ``multiBuild`` lay the document out
    again until the count it printed is the count it got.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self._pages = 0
        self._settled = False

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Take no room."""
        return 0, 0

    def draw(self) -> None:
        """Draw nothing."""

    def count(self, page: int) -> None:
        """Note that page ``page`` was laid out."""
        self._pages = max(self._pages, page)

    def beforeBuild(self) -> None:  # reportlab's hook
        """Start counting again."""
        self._pages = 0

    def afterBuild(self) -> None:  # reportlab's hook
        """Keep this pass's count for the next one."""
        self._settled = self._pages == self.total
        self.total = self._pages

    def isSatisfied(self) -> bool:  # reportlab's hook
        """Whether the printed total was right."""
        return self._settled


#: Lines of a paragraph that must follow its heading on the same page.
_LINES_AFTER_HEADING = 3


class _KeepWithNext(KeepTogether):  # type: ignore[misc]  # reportlab is untyped
    """A heading (``keepWithNext``) and what follows it.

    reportlab's :class:`KeepTogether` moves both to the next page whenever what follows would fit
    there whole, which leaves half-empty pages before every long table. This one moves them only
    when the heading and the start of what follows (a table's header and first row, a
    paragraph's first lines) do not fit; otherwise what follows starts under its heading and is
    split.
    """

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        """The content, after a frame break if the heading and a start do not fit."""
        *lead, last = self._content
        need = _start_height(last, self.canv, avail_width, avail_height)
        for f in lead:
            height = f.wrapOn(self.canv, avail_width, avail_height)[1]
            need += height + f.getSpaceBefore() + f.getSpaceAfter()
        if need <= avail_height:
            return list(self._content)
        result: list[Flowable] = super().split(avail_width, avail_height)
        return result


def _start_height(flowable: Flowable, canvas: Any, width: float, height: float) -> float:
    """The height of the start of ``flowable``, which its heading must not be parted from."""
    if isinstance(flowable, _Table):
        return flowable.first_rows_height(width, height)
    whole: float = flowable.wrapOn(canvas, width, height)[1] + flowable.getSpaceBefore()
    if isinstance(flowable, Paragraph):
        return min(whole, _LINES_AFTER_HEADING * float(flowable.style.leading))
    return whole


@dataclass(frozen=True)
class PageFurniture:
    """The running header and footer texts, and the document's fixed identity."""

    header: str
    footer: str
    #: PDF date (``D:YYYYMMDDHHmmSS+00'00'``) written as creation and modification date.
    pdf_date: str
    #: Seeds the PDF file identifier.
    identity: str


class AuditDocTemplate(BaseDocTemplate):  # type: ignore[misc]  # reportlab is untyped
    """A4 pages: a cover without furniture, then pages with header and "Page X of Y" footer."""

    def __init__(self, out: Any, furniture: PageFurniture, total: PageTotal, **info: Any) -> None:
        _register_fonts()
        super().__init__(
            out,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            invariant=1,
            keepTogetherClass=_KeepWithNext,
            # Uncompressed: deflate's output depends on the zlib build (zlib-ng, which some
            # Pythons and distributions ship, compresses differently), and the verifier must get
            # the same bytes on the auditor's machine. About three times larger, still small.
            pageCompression=0,
            initialFontName=FONT,
            initialFontSize=9,
            initialLeading=12,
            displayDocTitle=1,
            lang="en",
            **info,
        )
        self.furniture = furniture
        self.total = total
        # No padding: the text width is the frame's, aligned with the header and footer rules.
        frame = Frame(MARGIN, MARGIN, TEXT_WIDTH, BODY_HEIGHT, id="body", **_NO_PADDING)
        self.addPageTemplates(
            [
                PageTemplate("cover", [frame], onPage=self._cover_page),
                PageTemplate("body", [frame], onPage=self._body_page),
            ]
        )

    def beforeDocument(self) -> None:  # reportlab's hook
        """Fix the dates and the file identifier of this pass's canvas."""
        pdf_date = self.furniture.pdf_date
        self.canv.setDateFormatter(lambda *_: pdf_date)
        seed = hashlib.sha256(self.furniture.identity.encode()).digest()[:16]
        file_id = PDFText(seed, enc="raw").format(DummyDoc())
        self.canv._doc._ID = b"\n[" + file_id + file_id + b"]\n"
        self.canv.showOutline()

    def afterPage(self) -> None:  # reportlab's hook
        """Count the page for the footer's total."""
        self.total.count(self.page)

    def afterFlowable(self, flowable: Flowable) -> None:  # reportlab's hook
        """Enter a heading in the table of contents and the outline."""
        if isinstance(flowable, Heading):
            # Sections' titles in bold; their dot leaders and page numbers (drawn in the
            # level's style) stay light.
            if flowable.level == 0:
                title = f"<b>{_markup(flowable.toc_title, FONT_BOLD)}</b>"
            else:
                title = text(flowable.toc_title)
            entry = (flowable.level, title, self.page, flowable.key)
            self.notify("TOCEntry", entry)
            top = self.frame._y + flowable.getSpaceAfter() + flowable.height
            self.canv.bookmarkPage(flowable.key, fit="XYZ", top=top)
            self.canv.addOutlineEntry(
                flowable.toc_title, flowable.key, level=flowable.level, closed=flowable.level > 0
            )

    def _cover_page(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFillColor(HEAD_FILL)
        canvas.rect(0, PAGE_HEIGHT - 9 * mm, PAGE_WIDTH, 9 * mm, stroke=0, fill=1)
        self._footer(canvas)
        canvas.restoreState()

    def _body_page(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, _HEADER_Y, self.furniture.header)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, _HEADER_Y - 2.5 * mm, PAGE_WIDTH - MARGIN, _HEADER_Y - 2.5 * mm)
        self._footer(canvas)
        canvas.restoreState()

    def _footer(self, canvas: Any) -> None:
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, _FOOTER_Y + 4 * mm, PAGE_WIDTH - MARGIN, _FOOTER_Y + 4 * mm)
        canvas.drawString(MARGIN, _FOOTER_Y, self.furniture.footer)
        total = self.total.total or self.page
        canvas.drawRightString(PAGE_WIDTH - MARGIN, _FOOTER_Y, f"Page {self.page} of {total}")


def table_of_contents() -> TableOfContents:
    """The table of contents, filled from the headings on the previous pass."""
    table_style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 9),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
    )
    toc = TableOfContents(dotsMinLevel=0, rightColumnWidth=30, tableStyle=table_style)
    toc.levelStyles = list(styles().toc)
    return toc


def data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    numeric: Sequence[int] = (),
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A table with a repeated header row, zebra rows and wrapped cells.

    ``widths`` are fractions of the text width; ``numeric`` columns are right-aligned, and widened
    (at the expense of the widest other column) when their numbers need it: a number is never
    broken. A cell is a string (wrapped as a paragraph) or a flowable (a paragraph, a list of
    them). A row taller than what is left of a page goes whole to the next one; only a row that
    would not fit a page either is split across pages (:class:`_Table`), so no cell can outgrow
    a page.
    """
    s = styles()
    widths = _fit_numbers(header, rows, widths, numeric)
    _check_header(header, widths)
    head = [
        Paragraph(
            _markup(h, s.cell_head.fontName), s.cell_head_right if i in numeric else s.cell_head
        )
        for i, h in enumerate(header)
    ]
    body = [
        [
            wrapped(c, s.cell_right if i in numeric else s.cell) if isinstance(c, str) else c
            for i, c in enumerate(row)
        ]
        for row in rows
    ]
    return plain_table(
        [head, *body],
        widths,
        [
            ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
            *extra,
        ],
        repeatRows=1,
        splitInRow=1,
    )


_CELL_PADDING = 3.5


def _fit_numbers(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    numeric: Sequence[int],
) -> list[float]:
    """``widths``, with each numeric column as wide as its widest number and header word.

    Numbers are measured in bold (a cell may be a paragraph that bolds its number).
    """
    fitted = list(widths)
    size = styles().cell.fontSize
    for i in numeric:
        texts = [
            row[i] if isinstance(row[i], str) else row[i].getPlainText()
            for row in rows
            if isinstance(row[i], str | Paragraph)
        ]
        need = max(_width(t, FONT_BOLD, size) for t in [*texts, *header[i].split()])
        need = (need + 2 * _CELL_PADDING + 1) / TEXT_WIDTH
        if need > fitted[i]:
            widest = max(
                (j for j in range(len(fitted)) if j not in numeric), key=fitted.__getitem__
            )
            fitted[widest] -= need - fitted[i]
            fitted[i] = need
    return fitted


def _check_header(header: Sequence[str], widths: Sequence[float]) -> None:
    """Refuse a header word wider than its column: it would be broken in the middle."""
    for title, width in zip(header, widths, strict=True):
        room = width * TEXT_WIDTH - 2 * _CELL_PADDING
        for word in title.split():
            if _width(word, FONT_BOLD, styles().cell_head.fontSize) > room:
                raise ValueError(f"the header word {word!r} does not fit its column ({width})")


class _Table(Table):  # type: ignore[misc]  # reportlab is untyped
    """A table that splits a row across pages only when the row would not fit a page either.

    reportlab's ``splitInRow`` splits the first row that does not fit what is left of the page,
    however short: a control's id would be left on one page and its list of decisions on the
    next. This one moves such a row to the next page, whole, and lets reportlab split only the
    rows taller than a page (so that nothing is ever too large to lay out).
    """

    def first_rows_height(self, avail_width: float, avail_height: float) -> float:
        """The height of the header rows and the first row under them."""
        self._calc(avail_width, avail_height)
        head = self.repeatRows if isinstance(self.repeatRows, int) else max(self.repeatRows) + 1
        return float(sum(self._rowHeights[: head + 1]))

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        """The parts for ``avail_height``, or none if the next row should go to the next page."""
        if avail_height < self.first_rows_height(avail_width, avail_height) <= BODY_HEIGHT:
            return []
        parts: list[Flowable] = super().split(avail_width, avail_height)
        return parts


def plain_table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    commands: Sequence[tuple[Any, ...]],
    **options: Any,
) -> Table:
    """A left-aligned table, cells aligned at the top, in the report's font.

    ``widths`` are fractions of the text width. The font is set even for tables of flowables:
    reportlab sets a cell's font (Helvetica by default) when it draws a string cell, even an
    empty one, and that would put a non-embedded base-14 font in the file.
    """
    table = _Table(rows, colWidths=[w * TEXT_WIDTH for w in widths], hAlign="LEFT", **options)
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 7.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        *commands,
    ]
    table.setStyle(TableStyle(style))
    return table
