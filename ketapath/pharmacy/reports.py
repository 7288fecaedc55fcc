"""The reconciliation as a document: its figures in words, a CSV and a one-page PDF for an
inspection. Records are kept at least two years and readily retrievable (21 CFR
1304.04(a)); every export names the site, its DEA registration, the period, who made it
and when.
"""

import csv
import io
import os
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from ketapath.accounts.models import User
from ketapath.pharmacy.models import SCHEDULES, Count, Substance, plain_number
from ketapath.pharmacy.selectors import Reconciliation, VialLine

RETENTION_NOTE = "Records are kept at least two years (21 CFR 1304.04(a))."

# The figures of the API contract, in the order of the report, with their labels.
FIGURES: list[tuple[str, str]] = [
    ("opening_mg", "Opening stock"),
    ("received_mg", "Received"),
    ("administered_mg", "Administered"),
    ("wasted_mg", "Wasted"),
    ("lost_mg", "Lost or stolen"),
    ("returned_mg", "Returned or destroyed"),
    ("expected_closing_mg", "Expected closing"),
    ("counted_closing_mg", "Counted closing"),
    ("discrepancy_mg", "Discrepancy"),
]
# The sign each figure takes in the expected closing (shown beside it).
SIGNS = {
    "received_mg": "+",
    "administered_mg": "−",
    "wasted_mg": "−",
    "lost_mg": "−",
    "returned_mg": "−",
}
VIAL_COLUMNS: list[tuple[str, str]] = [
    ("label", "Vial"),
    ("lot", "Lot"),
    ("mg_per_ml", "mg/mL"),
    ("opening_mg", "Opening"),
    ("received_mg", "Received"),
    ("drawn_mg", "Drawn"),
    ("wasted_mg", "Wasted from vial"),
    ("lost_mg", "Lost"),
    ("returned_mg", "Returned"),
    ("closing_mg", "Closing (ledger)"),
    ("counted_mg", "Counted"),
]


def mg(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def conc(value: Decimal) -> str:
    return plain_number(value)


def status_words(r: Reconciliation) -> str:
    """The discrepancy in words: what a reader needs without the colour or the sign."""
    if r.discrepancy_mg is None:
        return "Not counted: no count in the period covered every vial holding this substance."
    if r.discrepancy_mg == 0:
        return "Balanced: the count matches the expected closing."
    amount = mg(r.discrepancy_abs_mg)
    if r.discrepancy_mg > 0:
        return f"Short by {amount} mg: less was counted than expected."
    return f"Over by {amount} mg: more was counted than expected."


def drawn_note(r: Reconciliation) -> str:
    """Why the expected closing may be above what the vials hold."""
    if not r.drawn_not_accounted_mg:
        return ""
    return (
        f"{mg(r.drawn_not_accounted_mg)} mg drawn in this period is not yet recorded as "
        "administered or wasted; it explains that much of a shortfall until those sessions "
        "are signed."
    )


def count_words(r: Reconciliation) -> str:
    """Which count gives the counted closing, or why none does."""
    c = r.count
    tz = r.clinic.time_zone
    if c is None:
        last = r.last_count
        if last is None:
            return "No count was taken in the period."
        vials = f"{r.last_count_vials} vial{'s' if r.last_count_vials != 1 else ''}"
        return (
            f"The last count in the period, a {Count.Kind(last.kind).label.lower()} at "
            f"{local_time(last.counted_at, tz)}, listed {vials} of this substance; a closing "
            "figure needs a count of every vial holding it."
        )
    words = (
        f"{Count.Kind(c.kind).label} at {local_time(c.counted_at, tz)}, by "
        f"{c.counted_by.display_name} with {c.witness.display_name}."
    )
    if r.moved_after_count:
        words += (
            f" {r.moved_after_count} vial movement(s) after the count and before the end of "
            "the period are in the expected closing but not in the count."
        )
    return words


def local_time(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M %Z")


def period_words(r: Reconciliation) -> str:
    return f"{r.date_from:%Y-%m-%d} to {r.date_to:%Y-%m-%d} (local dates, {r.clinic.time_zone})"


def substance_words(r: Reconciliation) -> str:
    return f"{Substance(r.substance).label} (Schedule {SCHEDULES[Substance(r.substance)]})"


def filename(r: Reconciliation, extension: str) -> str:
    site = "".join(ch if ch.isalnum() else "-" for ch in r.clinic.name.lower()).strip("-")
    return f"reconciliation-{site}-{r.substance}-{r.date_from}-{r.date_to}.{extension}"


# --- CSV -------------------------------------------------------------------------------------

# Spreadsheets run a cell that starts with one of these as a formula: text cells are
# prefixed with a quote (OWASP CSV injection). Numbers are written as numbers.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def reconciliation_csv(r: Reconciliation, *, generated_by: User, generated_at: datetime) -> str:
    """One header row and one row of values (the site, its DEA registration, the period,
    the figures, who generated it and when), then the per-vial lines under their own
    header."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "site",
            "dea_registration",
            "substance",
            "date_from",
            "date_to",
            "time_zone",
            *(key for key, _ in FIGURES),
            "drawn_not_accounted_mg",
            "ledger_closing_mg",
            "count_at",
            "generated_at",
            "generated_by",
        ]
    )
    tz = r.clinic.time_zone
    writer.writerow(
        [
            _text(r.clinic.name),
            _text(r.clinic.dea_registration),
            r.substance,
            r.date_from.isoformat(),
            r.date_to.isoformat(),
            tz,
            *(mg(getattr(r, key)) for key, _ in FIGURES),
            mg(r.drawn_not_accounted_mg),
            mg(r.ledger_closing_mg),
            r.count.counted_at.astimezone(ZoneInfo(tz)).isoformat() if r.count else "",
            generated_at.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat(),
            _text(f"{generated_by.display_name} ({generated_by.username})"),
        ]
    )
    writer.writerow([])
    writer.writerow(
        [
            "vial",
            "lot",
            "ndc",
            "expiry",
            "mg_per_ml",
            "opening_mg",
            "received_mg",
            "drawn_mg",
            "wasted_from_vial_mg",
            "lost_mg",
            "returned_mg",
            "closing_mg",
            "counted_mg",
        ]
    )
    for line in r.vials:
        writer.writerow(
            [
                _text(line.label),
                _text(line.lot),
                _text(line.ndc),
                line.expiry.isoformat(),
                conc(line.mg_per_ml),
                *(mg(getattr(line, key)) for key, _ in VIAL_COLUMNS[3:]),
            ]
        )
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------

FONT = "KetapathVera"
FONT_BOLD = "KetapathVeraBold"
_FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")


def _fonts() -> TTFont:
    """Bitstream Vera, shipped with ReportLab; ASCII stays readable in the file so the DEA
    number can be found in it."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(
            TTFont(FONT, os.path.join(_FONT_DIR, "Vera.ttf"), asciiReadable=True)
        )
        pdfmetrics.registerFont(
            TTFont(FONT_BOLD, os.path.join(_FONT_DIR, "VeraBd.ttf"), asciiReadable=True)
        )
    font = pdfmetrics.getFont(FONT)
    assert isinstance(font, TTFont)
    return font


def _printable(text: str, font: TTFont) -> str:
    """The text with any character the font has no glyph for replaced by "?"."""
    glyphs = font.face.charToGlyph
    return "".join(ch if ord(ch) in glyphs or ch in "\n" else "?" for ch in text)


class _Styles:
    def __init__(self) -> None:
        self.title = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19)
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5)
        self.small = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=10)
        self.heading = ParagraphStyle(
            "heading", fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=6
        )
        self.strong = ParagraphStyle("strong", parent=self.body, fontName=FONT_BOLD)
        self.cell = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9)
        self.cell_right = ParagraphStyle("cell_right", parent=self.cell, alignment=TA_RIGHT)
        self.head_cell = ParagraphStyle("head_cell", parent=self.cell, fontName=FONT_BOLD)
        self.head_right = ParagraphStyle("head_right", parent=self.head_cell, alignment=TA_RIGHT)


def _grid(rows: Sequence[Sequence[object]], widths: list[float], header: bool) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2c8")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style += [
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef1")),
            ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.HexColor("#33424a")),
        ]
    table.setStyle(TableStyle(style))
    return table


def reconciliation_pdf(r: Reconciliation, *, generated_by: User, generated_at: datetime) -> bytes:
    """A one-page report: the site, its DEA registration, the substance and period, the
    figures from opening to discrepancy, the count used, the per-vial lines, and who
    generated it and when."""
    font = _fonts()
    s = _Styles()

    def p(text: str, style: ParagraphStyle) -> Paragraph:
        return _para(text, style, font)

    tz = r.clinic.time_zone
    title = f"Controlled-substance reconciliation: {r.clinic.name}"
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.55 * inch,
        bottomMargin=0.55 * inch,
        title=_printable(title, font),
        subject=f"DEA registration {r.clinic.dea_registration}; {period_words(r)}",
        author=_printable(generated_by.display_name, font),
        creator="Ketapath",
        invariant=True,
    )
    address = ", ".join(
        part
        for part in (
            r.clinic.address_line1,
            r.clinic.city,
            f"{r.clinic.state} {r.clinic.postal_code}".strip(),
        )
        if part
    )
    story: list[Flowable] = [
        p("Controlled-substance reconciliation", s.title),
        Spacer(1, 4),
        _grid(
            [
                [p("Site", s.strong), p(f"{r.clinic.name}, {address}", s.body)],
                [p("DEA registration", s.strong), p(r.clinic.dea_registration or "—", s.body)],
                [p("Substance", s.strong), p(substance_words(r), s.body)],
                [p("Period", s.strong), p(period_words(r), s.body)],
            ],
            [1.5 * inch, 5.8 * inch],
            header=False,
        ),
        p("Figures (mg)", s.heading),
    ]
    figure_rows: list[list[object]] = []
    for key, label in FIGURES:
        value = getattr(r, key)
        sign = SIGNS.get(key, "")
        text = "not counted" if value is None else f"{sign} {mg(value)}".strip()
        bold = key in ("expected_closing_mg", "counted_closing_mg", "discrepancy_mg")
        style = s.strong if bold else s.body
        right = ParagraphStyle(f"{key}_r", parent=style, alignment=TA_RIGHT)
        figure_rows.append([p(label, style), p(text, right)])
    figures = _grid(figure_rows, [2.6 * inch, 1.4 * inch], header=False)
    figures.hAlign = "LEFT"
    story += [
        figures,
        Spacer(1, 5),
        p(status_words(r), s.strong),
    ]
    note = drawn_note(r)
    if note:
        story.append(p(f"Note: {note}", s.body))
    story += [p("Count: " + count_words(r), s.body), p("Per vial (mg)", s.heading)]
    if r.vials:
        head = [
            p(label, s.head_cell if i < 2 else s.head_right)
            for i, (_, label) in enumerate(VIAL_COLUMNS)
        ]
        rows: list[list[object]] = [head]
        for line in r.vials:
            rows.append(_vial_row(line, s, font))
        widths = [0.6, 0.8, 0.55] + [0.66] * 8
        story.append(_grid(rows, [w * inch for w in widths], header=True))
    else:
        story.append(p("No vial held or moved this substance in the period.", s.body))
    story += [
        Spacer(1, 10),
        p(
            f"Generated by {generated_by.display_name} ({generated_by.username}) at "
            f"{local_time(generated_at, tz)}. Times in {tz}.",
            s.small,
        ),
        p(
            "Expected closing = opening + received − administered − wasted − lost − returned; "
            "discrepancy = expected closing − counted closing. Administration and waste of a "
            "draw count in the period of the draw; a reversal in the period of the entry it "
            "corrects.",
            s.small,
        ),
        p(RETENTION_NOTE, s.small),
    ]
    doc.build(story)
    return buffer.getvalue()


def _para(text: str, style: ParagraphStyle, font: TTFont) -> Paragraph:
    return Paragraph(escape(_printable(text, font)), style)


def _vial_row(line: VialLine, s: _Styles, font: TTFont) -> list[object]:
    cells: list[object] = [
        _para(line.label, s.cell, font),
        _para(line.lot, s.cell, font),
        _para(conc(line.mg_per_ml), s.cell_right, font),
    ]
    for key, _ in VIAL_COLUMNS[3:]:
        cells.append(_para(mg(getattr(line, key)) or "—", s.cell_right, font))
    return cells
