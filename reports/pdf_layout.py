"""The PDF's typography and page furniture: fonts, styles, tables, headings and the page template.

The fonts (:mod:`reports.pdf_text`: Vera, and DejaVu Sans for Arabic) are embedded as subsets:
the same fonts and the same reportlab version (``uv.lock``) give the same glyphs and bytes on
every machine, and no base-14 font (which a viewer substitutes) appears in the file.

The document template makes the build reproducible: the PDF's creation and modification dates
are the report's own time and its file identifier is derived from the data digest, whatever the
clock, the time zone or ``SOURCE_DATE_EPOCH`` say, and nothing is compressed (deflate's bytes
depend on the zlib build). It registers every :class:`Heading` in the table
of contents and the outline (bookmarks), and draws the running header and the "Page X of Y" footer,
the total coming from the previous layout pass (:class:`PageTotal`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfdoc import DummyDoc, PDFText
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

from reports.pdf_text import (
    FONT,
    FONT_BOLD,
    FONT_ITALIC,
    Wrapped,
    markup_in,
    register_fonts,
    text,
    text_width,
    wrapped,
)

__all__ = [
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
    "code",
    "data_table",
    "hex_colour",
    "plain_table",
    "styles",
]

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
    register_fonts()
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


def code(value: str, style: ParagraphStyle | None = None) -> Wrapped:
    """A digest, id or key in a table cell: small, and wrapped where it has to be."""
    return wrapped(value, style or styles().mono)


class Heading(Paragraph):  # type: ignore[misc]  # reportlab is untyped
    """A section heading: an entry of the table of contents and of the outline."""

    def __init__(self, title: str, level: int, key: str) -> None:
        s = styles()
        style = s.h1 if level == 0 else s.h2
        super().__init__(markup_in(title, style.fontName), style)
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
        register_fonts()
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
                title = f"<b>{markup_in(flowable.toc_title, FONT_BOLD)}</b>"
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
            markup_in(h, s.cell_head.fontName), s.cell_head_right if i in numeric else s.cell_head
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
        need = max(text_width(t, FONT_BOLD, size) for t in [*texts, *header[i].split()])
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
            if text_width(word, FONT_BOLD, styles().cell_head.fontSize) > room:
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
