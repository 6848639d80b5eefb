"""Text in the report's fonts: what can be drawn, Arabic shaped and ordered, long words wrapped.

The text is set in the Bitstream Vera TrueType fonts that ship inside reportlab; runs of Arabic
(which Vera lacks) in DejaVu Sans, Vera's derivative, vendored in ``reports/fonts`` (see its
README). reportlab neither joins Arabic letters nor orders right-to-left text, so a run of Arabic
is shaped (contextual forms, lam-alef ligatures: ``arabic-reshaper``) and put in visual order
(``python-bidi``) before it is laid out; see :func:`text`. Every other character the fonts cannot
draw is written ``[U+XXXX]``, so nothing is silently lost (:func:`printable`). :class:`Wrapped`
paragraphs break words too long for their line after a separator.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
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
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Paragraph,
)

__all__ = [
    "FONT",
    "FONT_ARABIC",
    "FONT_ARABIC_BOLD",
    "FONT_BOLD",
    "FONT_BOLD_ITALIC",
    "FONT_ITALIC",
    "Wrapped",
    "markup_in",
    "printable",
    "register_fonts",
    "text",
    "text_width",
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


@cache
def register_fonts() -> None:
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


@cache
def _glyphs() -> frozenset[int]:
    """The code points every face of the report's font can draw."""
    register_fonts()
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
    return markup_in(str(value), FONT_BOLD if bold else FONT)


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
    register_fonts()
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


def markup_in(value: str, font: str) -> str:
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


def text_width(value: str, font: str, size: float) -> float:
    """The width of ``value`` as drawn: a run of Arabic shaped, in the Arabic face."""
    face = _arabic_face(font)
    return sum(
        float(pdfmetrics.stringWidth(_shaped(part) if rtl else part, face if rtl else font, size))
        for rtl, part in _segments(_drawable(value))
    )


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
    markup_value = markup_in(value, _wrapped_font(style, markup))
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
