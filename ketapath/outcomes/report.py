"""The progress report: one PDF of a patient's course of treatment and measures, for the
patient or the referring physician, and its release recorded as a disclosure.

The report holds the patient's identity and site, the courses with their sessions (date,
dose given, pain before and after), each measure's baseline before the first dose beside
its latest value and the change (interpreted with ``outcomes.rules``, clinical.md §2.3),
the timeline chart (the same figure as the page, as a PNG; DESIGN §5b), and the opioid MME
history as reported figures. Every page carries the footer that it is observational clinic
data and who prepared it when.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from django.utils import timezone
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import Flowable

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.errors import MESSAGE_INVALID, FieldError, InvalidInput
from ketapath.outcomes import rules
from ketapath.outcomes.timeline import (
    MME,
    PAIN_NRS,
    PCL5,
    PHQ9,
    Point,
    Series,
    Timeline,
    course_key,
    local_date,
    number_text,
    patient_timeline,
    timeline_png,
)
from ketapath.patients.models import Patient
from ketapath.pharmacy.reports import FONT, FONT_BOLD, _fonts, _grid, _printable

# --- Who the report is for, and why ------------------------------------------------------------

RECIPIENT_PATIENT = "patient"
RECIPIENT_PHYSICIAN = "referring_physician"
RECIPIENTS: dict[str, str] = {
    RECIPIENT_PATIENT: "The patient",
    RECIPIENT_PHYSICIAN: "The referring physician",
}
PURPOSE_MAX = 200
RECIPIENT_NAME_MAX = 150
DEFAULT_PURPOSE = "Treatment and continuity of care"

MESSAGE_RECIPIENT = "recipient: must be patient or referring_physician."
MESSAGE_PURPOSE_REQUIRED = "purpose: say why the report is released."
MESSAGE_PURPOSE_TOO_LONG = f"purpose: at most {PURPOSE_MAX} characters."
MESSAGE_RECIPIENT_NAME_TOO_LONG = f"recipient_name: at most {RECIPIENT_NAME_MAX} characters."
MESSAGE_RECIPIENT_NAME_FOR_PATIENT = (
    "recipient_name: only for the referring physician (the patient is named on the report)."
)

FOOTER = "Observational clinic data; not a substitute for clinical judgement."
MME_NOTE = (
    "Daily morphine milligram equivalents as reported on the medication list at each change; "
    "a reported figure, never a target."
)
INTERPRETATION_NOTE = (
    "Change is from the last value on or before the first dose to the latest value. Pain "
    "categories: IMMPACT (Dworkin RH, et al. J Pain 2008;9:105–121). PHQ-9: response is a "
    "fall of 50 % or more and remission a score below 5, both only from a baseline of 10 or "
    "more. PCL-5: a fall of 10 points or more is clinically meaningful."
)


@dataclass(frozen=True)
class Release:
    recipient: str
    recipient_name: str
    purpose: str


def release_validate(*, recipient: str, purpose: str, recipient_name: str = "") -> Release:
    """The recipient and purpose of a release, trimmed, or InvalidInput naming each field
    that breaks its rule (all of them at once)."""
    recipient = (recipient or "").strip()
    purpose = (purpose or "").strip()
    recipient_name = (recipient_name or "").strip()
    errors: list[FieldError] = []
    if recipient not in RECIPIENTS:
        errors.append(FieldError("recipient", MESSAGE_RECIPIENT))
    if not purpose:
        errors.append(FieldError("purpose", MESSAGE_PURPOSE_REQUIRED))
    elif len(purpose) > PURPOSE_MAX:
        errors.append(FieldError("purpose", MESSAGE_PURPOSE_TOO_LONG))
    if len(recipient_name) > RECIPIENT_NAME_MAX:
        errors.append(FieldError("recipient_name", MESSAGE_RECIPIENT_NAME_TOO_LONG))
    elif recipient_name and recipient == RECIPIENT_PATIENT:
        errors.append(FieldError("recipient_name", MESSAGE_RECIPIENT_NAME_FOR_PATIENT))
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    return Release(recipient, recipient_name, purpose)


def recipient_words(release: Release) -> str:
    words = RECIPIENTS[release.recipient]
    return f"{words}: {release.recipient_name}" if release.recipient_name else words


# --- The measures table ------------------------------------------------------------------------

PAIN_WORDS: dict[str, str] = {
    rules.PainCategory.SUBSTANTIAL: "Substantial improvement (fall of 50 % or more)",
    rules.PainCategory.MODERATE: "Moderate improvement (fall of 30 % to under 50 %)",
    rules.PainCategory.MINIMAL: "Minimal improvement (fall of 10 % to under 30 %)",
    rules.PainCategory.NONE: "No important change (fall under 10 %)",
    rules.PainCategory.WORSE: "Worse",
    rules.PainCategory.NOT_COMPUTABLE: "No percentage (baseline 0)",
}


@dataclass(frozen=True)
class MeasureSummary:
    measure: str
    label: str
    baseline: Point | None
    latest: Point | None  # None when the only value is the baseline
    points: Decimal | None
    percent: Decimal | None
    interpretation: str


def _interpret(measure: str, baseline: Decimal, latest: Decimal) -> str:
    if measure == PAIN_NRS:
        pain = rules.pain_change(baseline, latest)
        words = PAIN_WORDS[pain.category]
        return words + ("; baseline under 4" if pain.low_baseline else "")
    if measure == PHQ9:
        phq = rules.phq9_outcome(baseline, latest)
        if not phq.applicable:
            return "Response and remission not assessed (baseline under 10)"
        return ("Response" if phq.response else "No response") + (
            "; remission (below 5)" if phq.remission else "; not in remission"
        )
    if measure == PCL5:
        if rules.pcl5_meaningful(baseline, latest):
            return "Meaningful fall (10 points or more)"
        return "No meaningful fall (under 10 points)"
    return ""


def measure_summary(series: Series, first_dose_at: datetime | None) -> MeasureSummary:
    """Baseline (the last value on or before the first dose; without a dose, the first
    value), the latest value after it, and the change between them."""
    if first_dose_at is None:
        baseline: Point | None = series.points[0]
    else:
        before = [p for p in series.points if p.time <= first_dose_at]
        baseline = before[-1] if before else None
    last = series.points[-1]
    latest = last if baseline is None or last.time > baseline.time else None
    if baseline is None or latest is None:
        return MeasureSummary(series.measure, series.label, baseline, latest, None, None, "")
    change = rules.change(baseline.value, latest.value)
    return MeasureSummary(
        series.measure,
        series.label,
        baseline,
        latest,
        change.points,
        rules.display_percent(change.percent),
        _interpret(series.measure, baseline.value, latest.value),
    )


def measure_summaries(timeline: Timeline) -> list[MeasureSummary]:
    return [measure_summary(s, timeline.first_dose_at) for s in timeline.series if s.measure != MME]


def _signed(value: Decimal) -> str:
    text = number_text(value)
    return f"+{text}" if value > 0 else text.replace("-", "−")


# --- The PDF -----------------------------------------------------------------------------------


def report_filename(patient: Patient, prepared_at: datetime, time_zone: str) -> str:
    return f"progress-report-{patient.mrn}-{local_date(prepared_at, time_zone).isoformat()}.pdf"


def progress_report_pdf(
    *,
    patient: Patient,
    timeline: Timeline,
    release: Release,
    prepared_by: User,
    prepared_at: datetime,
) -> tuple[bytes, int]:
    """The report as PDF bytes and its number of pages."""
    font = _fonts()
    tz = timeline.time_zone
    zone = ZoneInfo(tz)
    body = ParagraphStyle("pr_body", fontName=FONT, fontSize=9, leading=11.5)
    strong = ParagraphStyle("pr_strong", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("pr_title", fontName=FONT_BOLD, fontSize=15, leading=19)
    heading = ParagraphStyle(
        "pr_heading", fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=2
    )
    cell = ParagraphStyle("pr_cell", fontName=FONT, fontSize=8, leading=10)
    head_cell = ParagraphStyle("pr_head_cell", parent=cell, fontName=FONT_BOLD)
    small = ParagraphStyle("pr_small", fontName=FONT, fontSize=7.5, leading=9.5)

    def p(text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(_printable(text, font)), style)

    def day(moment: datetime | None) -> str:
        return local_date(moment, tz).isoformat() if moment else "—"

    width = 7.5 * inch
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.75 * inch,
        title=_printable(f"Progress report: {patient.display_name}", font),
        author=_printable(prepared_by.display_name, font),
        creator="Ketapath",
        invariant=True,
    )
    prepared = prepared_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    span = timeline.span
    period = f"{day(span[0])} to {day(span[1])}" if span else "No data recorded yet"
    site = patient.preferred_clinic
    story: list[Flowable] = [
        p("Progress report", title),
        Spacer(1, 4),
        _grid(
            [
                [p("Patient", strong), p(patient.display_name, body)],
                [p("Date of birth", strong), p(patient.birth_date.isoformat(), body)],
                [p("MRN", strong), p(patient.mrn, body)],
                [p("Site", strong), p(site.name, body)],
                [p("Period", strong), p(f"{period} (dates in {tz})", body)],
                [p("Prepared for", strong), p(recipient_words(release), body)],
                [p("Purpose", strong), p(release.purpose, body)],
            ],
            [1.4 * inch, width - 1.4 * inch],
            header=False,
        ),
    ]

    story.append(p("Courses and sessions", heading))
    if not timeline.courses:
        story.append(p("No course of treatment yet.", body))
    for course in timeline.courses:
        block: list[Flowable] = [
            p(
                f"{course.label}: {course.status_label}; ordered {day(course.ordered_at)}; "
                f"{len(course.sessions)} of {course.planned_sessions} planned "
                f"session{'s' if course.planned_sessions != 1 else ''} opened.",
                strong,
            )
        ]
        if course.sessions:
            rows: list[list[object]] = [
                [
                    p(h, head_cell)
                    for h in ("Session", "Date", "Status", "Dose given", "Pain before / after")
                ]
            ]
            for m in course.sessions:
                rows.append(
                    [
                        p(str(m.sequence or "—"), cell),
                        p(day(m.time), cell),
                        p(m.status_label, cell),
                        p(f"{number_text(m.amount_mg)} mg" if m.amount_mg else "Not given", cell),
                        p(f"{number_text(m.pain_before)} / {number_text(m.pain_after)}", cell),
                    ]
                )
            block.append(_grid(rows, [w * inch for w in (0.8, 1.2, 1.6, 1.4, 2.5)], header=True))
        block.append(Spacer(1, 4))
        story.append(KeepTogether(block))

    story.append(p("Measures", heading))
    summaries = measure_summaries(timeline)
    if summaries:
        if timeline.first_dose_at is None:
            story.append(p("No dose given yet: the baseline is the first value.", body))
        rows = [
            [p(h, head_cell) for h in ("Measure", "Baseline", "Latest", "Change", "Interpretation")]
        ]
        for s in summaries:
            base = (
                f"{number_text(s.baseline.value)} ({day(s.baseline.time)})"
                if s.baseline
                else "None before the first dose"
            )
            latest = f"{number_text(s.latest.value)} ({day(s.latest.time)})" if s.latest else "—"
            if s.points is None:
                change = "—"
            else:
                change = _signed(s.points) + (
                    f" ({_signed(s.percent)} %)" if s.percent is not None else ""
                )
            rows.append(
                [
                    p(s.label, cell),
                    p(base, cell),
                    p(latest, cell),
                    p(change, cell),
                    p(s.interpretation or "—", cell),
                ]
            )
        story.append(_grid(rows, [w * inch for w in (1.7, 1.35, 1.35, 1.0, 2.1)], header=True))
        story.append(p(INTERPRETATION_NOTE, small))
    else:
        story.append(p("No questionnaire scores recorded yet.", body))

    if timeline.is_empty:
        story.append(p("Measures over time", heading))
        story.append(p("No measurements yet.", body))
    else:
        png = timeline_png(timeline, time_zone=tz)
        image = Image(io.BytesIO(png))
        scale = width / image.imageWidth
        image.drawWidth = width
        image.drawHeight = image.imageHeight * scale
        # The heading stays with its chart and the chart's key.
        story.append(
            KeepTogether(
                [
                    p("Measures over time", heading),
                    image,
                    p(
                        "Vertical lines mark the sessions (dashed: aborted). Each measure is "
                        "on its own scale. "
                        + " ".join(f"{line}." for line in course_key(timeline)),
                        small,
                    ),
                ]
            )
        )

    mme = timeline.get(MME)
    story.append(p("Opioid MME history (reported)", heading))
    story.append(p(MME_NOTE, small))
    if mme is None:
        story.append(p("No opioid medication recorded.", body))
    else:
        rows = [[p("Recorded", head_cell), p("MME per day", head_cell)]]
        for point in reversed(mme.points):
            rows.append(
                [
                    p(point.time.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"), cell),
                    p(number_text(point.value), cell),
                ]
            )
        table = _grid(rows, [2.2 * inch, 1.2 * inch], header=True)
        table.hAlign = "LEFT"
        story.append(table)

    footer_line = f"Prepared by {prepared_by.display_name} ({prepared_by.username}) at {prepared}."

    def footer(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(0.5 * inch, 0.45 * inch, _printable(FOOTER, font))
        canvas.drawString(0.5 * inch, 0.32 * inch, _printable(footer_line, font))
        canvas.drawRightString(
            letter[0] - 0.5 * inch, 0.32 * inch, f"{patient.mrn} · page {document.page}"
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue(), doc.page


# --- The release -------------------------------------------------------------------------------


def report_release(
    *, user: User, patient: Patient, recipient: str, purpose: str, recipient_name: str = ""
) -> bytes:
    """Build the progress report and record its release as a disclosure (to whom, why, the
    number of pages and the SHA-256 of the document). Invalid input records nothing."""
    release = release_validate(recipient=recipient, purpose=purpose, recipient_name=recipient_name)
    timeline = patient_timeline(patient=patient)
    pdf, pages = progress_report_pdf(
        patient=patient,
        timeline=timeline,
        release=release,
        prepared_by=user,
        prepared_at=timezone.now(),
    )
    audit(
        user=user,
        action=Action.DISCLOSE,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="progress_report",
        object_id=patient.id,
        detail={
            "recipient": release.recipient,
            "recipient_name": release.recipient_name,
            "purpose": release.purpose,
            "pages": pages,
            "sha256": hashlib.sha256(pdf).hexdigest(),
        },
    )
    return pdf
