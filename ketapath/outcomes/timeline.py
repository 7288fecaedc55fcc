"""A patient's measures over time, with the ketamine sessions marked on the same axis.

``patient_timeline`` reads everything in a fixed number of queries (one per source: the
questionnaire totals, the MME snapshots, the diary, the courses and the sessions), whatever
the amount of data. ``timeline_svg`` and ``timeline_png`` draw it server-side with
matplotlib's object API (DESIGN §5b: ``Figure``, never ``pyplot``): one shared time axis,
stacked panels each on its own scale, the sessions as vertical markers (an aborted session
dashed and marked ✕), series told apart by marker shape and line style as well as colour.

The SVG is inlined in pages under a content security policy without inline styles, so
matplotlib's ``style`` attributes are rewritten as SVG presentation attributes, the
embedded ``<style>`` element is dropped, and every id is prefixed so two charts can share
a page. Its text comes from numbers and our own labels; matplotlib escapes it, and the
title and description added here are escaped too.
"""

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import matplotlib
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ketapath.medications.models import MmeSnapshot
from ketapath.observations.models import DiaryEntry
from ketapath.patients.models import Patient
from ketapath.questionnaires.models import Response
from ketapath.scheduling.models import Course
from ketapath.treatments.models import TreatmentSession

# --- Measures ------------------------------------------------------------------------------

PAIN_NRS = "pain-nrs"
PEG = "peg"
PHQ9 = "phq-9"
PCL5 = "pcl-5"
GAD7 = "gad-7"
MME = "mme"
PAIN_DIARY = "pain-diary"

# UCUM: a score is the annotation "{score}"; MME is milligrams of morphine-equivalent a day.
UNIT_SCORE = "{score}"
UNIT_MME = "mg/d"


@dataclass(frozen=True)
class Measure:
    code: str
    label: str
    unit: str
    low: int
    high: int | None  # None: open-ended (MME)
    colour: str  # Okabe–Ito palette: distinguishable with the common colour-vision deficits
    marker: str
    linestyle: str


MEASURES: tuple[Measure, ...] = (
    Measure(PAIN_NRS, "Pain rating, past week (0–10)", UNIT_SCORE, 0, 10, "#0072B2", "o", "-"),
    Measure(PEG, "PEG (0–10)", UNIT_SCORE, 0, 10, "#D55E00", "s", "--"),
    Measure(PAIN_DIARY, "Pain diary, daily (0–10)", UNIT_SCORE, 0, 10, "#6E6E6E", ".", ":"),
    Measure(PHQ9, "PHQ-9 (0–27)", UNIT_SCORE, 0, 27, "#CC79A7", "D", "-"),
    Measure(GAD7, "GAD-7 (0–21)", UNIT_SCORE, 0, 21, "#009E73", "^", "--"),
    Measure(PCL5, "PCL-5 (0–80)", UNIT_SCORE, 0, 80, "#8C510A", "h", "-"),
    Measure(MME, "Opioids, MME per day (reported)", UNIT_MME, 0, None, "#000000", "s", "-"),
)
MEASURE_BY_CODE: dict[str, Measure] = {m.code: m for m in MEASURES}
QUESTIONNAIRE_MEASURES = (PAIN_NRS, PEG, PHQ9, PCL5, GAD7)

# Panels of the chart, top to bottom: the measures sharing a scale, and that scale.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pain 0–10", (PAIN_NRS, PEG, PAIN_DIARY)),
    ("Depression and anxiety", (PHQ9, GAD7)),
    ("PCL-5 0–80", (PCL5,)),
    ("MME mg/day", (MME,)),
)

# A diary entry describes a local day; it is placed at local noon of that day.
DIARY_HOUR = time(12)


@dataclass(frozen=True)
class Point:
    time: datetime
    value: Decimal


@dataclass(frozen=True)
class Series:
    measure: str
    label: str
    unit: str
    points: tuple[Point, ...]
    # A step series holds each value until the next one (MME from its snapshots).
    step: bool = False


@dataclass(frozen=True)
class SessionMarker:
    id: UUID
    time: datetime  # given_at, else opened_at
    course: UUID
    course_label: str
    status: str
    status_label: str
    sequence: int | None
    given: bool
    amount_mg: Decimal | None
    pain_before: int | None
    pain_after: int | None


@dataclass(frozen=True)
class CourseRow:
    id: UUID
    label: str
    phase: str
    status: str
    status_label: str
    ordered_at: datetime
    planned_sessions: int
    sessions: tuple[SessionMarker, ...]


@dataclass(frozen=True)
class Timeline:
    patient_id: UUID
    time_zone: str
    series: tuple[Series, ...]  # only measures with data, in MEASURES order
    sessions: tuple[SessionMarker, ...]  # by time
    courses: tuple[CourseRow, ...]  # by order time
    generated_at: datetime

    @property
    def is_empty(self) -> bool:
        return not self.series and not self.sessions

    def get(self, measure: str) -> Series | None:
        return next((s for s in self.series if s.measure == measure), None)

    @property
    def first_dose_at(self) -> datetime | None:
        given = [s.time for s in self.sessions if s.given]
        return min(given) if given else None

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        moments = [p.time for s in self.series for p in s.points] + [m.time for m in self.sessions]
        return (min(moments), max(moments)) if moments else None


def course_numbers(timeline: Timeline) -> dict[UUID, int]:
    """Course 1, 2, … in the order they were ordered (else in the order of their sessions)."""
    numbers: dict[UUID, int] = {}
    for course_id in [c.id for c in timeline.courses] + [m.course for m in timeline.sessions]:
        numbers.setdefault(course_id, len(numbers) + 1)
    return numbers


def course_key(timeline: Timeline) -> list[str]:
    """ "Course 1: <protocol> · <phase> (<status>)", one per course, for captions."""
    numbers = course_numbers(timeline)
    return [
        f"Course {numbers[c.id]}: {c.label} ({c.status_label.lower()})" for c in timeline.courses
    ]


def course_label(course: Course) -> str:
    return f"{course.protocol.name} · {course.get_phase_display()}"


def _marker(s: TreatmentSession, label: str) -> SessionMarker:
    return SessionMarker(
        id=s.id,
        time=s.given_at or s.opened_at,
        course=s.course_id,
        course_label=label,
        status=s.status,
        status_label=s.get_status_display(),
        sequence=s.appointment.sequence,
        given=s.given_at is not None,
        amount_mg=s.amount_mg,
        pain_before=s.pain_before,
        pain_after=s.pain_after,
    )


def patient_timeline(*, patient: Patient, time_zone: str | None = None) -> Timeline:
    """Every scored questionnaire of the timeline measures, the MME snapshots, the diary's
    pain ratings, the courses and their sessions, in five queries whatever their number."""
    tz = time_zone or patient.preferred_clinic.time_zone
    zone = ZoneInfo(tz)
    by_measure: dict[str, list[Point]] = {code: [] for code in MEASURE_BY_CODE}
    responses = (
        Response.objects.filter(
            patient=patient,
            instrument__in=QUESTIONNAIRE_MEASURES,
            complete=True,
            total__isnull=False,
        )
        .order_by("collected_at", "created_at")
        .values_list("instrument", "collected_at", "total")
    )
    for instrument, collected_at, total in responses:
        if total is not None:  # filtered above; the type allows None
            by_measure[instrument].append(Point(collected_at, total))
    diary = DiaryEntry.objects.filter(patient=patient).order_by("day").values_list("day", "pain")
    for day, pain in diary:
        moment = datetime.combine(day, DIARY_HOUR, tzinfo=zone)
        by_measure[PAIN_DIARY].append(Point(moment, Decimal(pain)))
    snapshots = (
        MmeSnapshot.objects.filter(patient=patient)
        .order_by("computed_at", "created_at")
        .values_list("computed_at", "total_mme")
    )
    for computed_at, total_mme in snapshots:
        by_measure[MME].append(Point(computed_at, total_mme))

    courses = list(
        Course.objects.filter(patient=patient).select_related("protocol").order_by("ordered_at")
    )
    labels = {c.id: course_label(c) for c in courses}
    sessions = [
        _marker(s, labels.get(s.course_id, ""))
        for s in TreatmentSession.objects.filter(patient=patient)
        .select_related("appointment")
        .order_by("opened_at")
    ]
    sessions.sort(key=lambda m: m.time)
    series = tuple(
        Series(
            measure=m.code,
            label=m.label,
            unit=m.unit,
            points=tuple(by_measure[m.code]),
            step=m.code == MME,
        )
        for m in MEASURES
        if by_measure[m.code]
    )
    return Timeline(
        patient_id=patient.id,
        time_zone=tz,
        series=series,
        sessions=tuple(sessions),
        courses=tuple(
            CourseRow(
                id=c.id,
                label=labels[c.id],
                phase=c.phase,
                status=c.status,
                status_label=c.get_status_display(),
                ordered_at=c.ordered_at,
                # A continuation books one session at a time (scheduling.booking.series_spec).
                planned_sessions=1 if c.phase == Course.Phase.CONTINUATION else c.protocol.sessions,
                sessions=tuple(m for m in sessions if m.course == c.id),
            )
            for c in courses
        ),
        generated_at=timezone.now(),
    )


# --- Numbers in words ------------------------------------------------------------------------


def number_text(value: Decimal | int | None) -> str:
    """A measured value as recorded, without trailing zeros ("7", "6.5", "120")."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


# --- Drawing ---------------------------------------------------------------------------------

EMPTY_TEXT = "No measurements yet"
CHART_TITLE = "Measures over time, with ketamine sessions"
WIDTH_IN = 9.0  # 900 px at 100 dpi: readable across a desktop page
PANEL_HEIGHT_IN = 1.55
SESSION_STRIP_IN = 0.6
SESSION_COLOUR = "#4D5A62"
ABORTED_COLOUR = "#A8261B"
TEXT_COLOUR = "#1F2A30"
GRID_COLOUR = "#D5DCE0"
# Typed loosely: matplotlib's stubs key rc_context by a Literal of every rc name.
RC: dict[Any, Any] = {
    # Text stays text (searchable, sharp, small) instead of glyph outlines.
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": "#7A868C",
    "axes.labelcolor": TEXT_COLOUR,
    "text.color": TEXT_COLOUR,
    "xtick.color": TEXT_COLOUR,
    "ytick.color": TEXT_COLOUR,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _x(moment: datetime) -> float:
    """A moment as matplotlib's date number (days since its epoch, from UTC); the axis's
    locator and formatter show it in the site's zone."""
    return float(mdates.date2num(moment))


def _panels(timeline: Timeline) -> list[tuple[str, list[Series]]]:
    panels: list[tuple[str, list[Series]]] = []
    for title, codes in PANELS:
        members = [s for s in timeline.series if s.measure in codes]
        if members:
            panels.append((title, members))
    return panels


def _span(timeline: Timeline) -> tuple[datetime, datetime]:
    span = timeline.span
    assert span is not None
    start, end = span
    # A margin so markers at either end are not cut; a single day still shows a week.
    pad = max((end - start) * 0.04, timedelta(days=2))
    return start - pad, end + pad


def _draw_sessions(axes: list[Axes], strip: Axes | None, timeline: Timeline) -> None:
    for marker in timeline.sessions:
        was_aborted = marker.status == TreatmentSession.Status.ABORTED
        for ax in axes:
            ax.axvline(
                _x(marker.time),
                color=ABORTED_COLOUR if was_aborted else SESSION_COLOUR,
                linestyle=(0, (3, 2)) if was_aborted else "-",
                linewidth=0.9,
                alpha=0.55,
                zorder=1,
            )
    if strip is None:
        return
    given = [_x(m.time) for m in timeline.sessions if m.given and m.status != "aborted"]
    aborted = [_x(m.time) for m in timeline.sessions if m.status == "aborted"]
    waiting = [_x(m.time) for m in timeline.sessions if not m.given and m.status != "aborted"]
    handles: list[Line2D] = []
    if given:
        (h,) = strip.plot(
            given, [0.5] * len(given), linestyle="none", marker="v", markersize=8,
            color=SESSION_COLOUR, label="Session, dose given",
        )  # fmt: skip
        handles.append(h)
    if waiting:
        (h,) = strip.plot(
            waiting, [0.5] * len(waiting), linestyle="none", marker="o", markersize=7,
            markerfacecolor="white", color=SESSION_COLOUR, label="Session, no dose yet",
        )  # fmt: skip
        handles.append(h)
    if aborted:
        (h,) = strip.plot(
            aborted, [0.5] * len(aborted), linestyle="none", marker="X", markersize=9,
            color=ABORTED_COLOUR, label="Session aborted",
        )  # fmt: skip
        handles.append(h)
    # The course each series of sessions belongs to, named at its first session.
    # Each course is named by its number at its first session (the key is in the caption
    # and the description); late in the chart the name runs leftwards to stay inside.
    start, end = _span(timeline)
    numbers = course_numbers(timeline)
    seen: set[UUID] = set()
    for m in timeline.sessions:
        if m.course in seen:
            continue
        seen.add(m.course)
        late = (m.time - start) / (end - start) > 0.8
        strip.annotate(
            f"Course {numbers[m.course]}",
            (_x(m.time), 0.5),
            xytext=(-8 if late else 8, 8),
            textcoords="offset points",
            ha="right" if late else "left",
            fontsize=8,
            color=TEXT_COLOUR,
        )
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_title("Ketamine sessions", loc="left", fontsize=9, fontweight="bold", pad=4)
    strip.spines["left"].set_visible(False)
    if handles:
        strip.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.3), frameon=False,
            fontsize=8, borderaxespad=0,
        )  # fmt: skip


def _draw_series(ax: Axes, title: str, members: list[Series], end: datetime) -> None:
    highs: list[float] = []
    for series in members:
        measure = MEASURE_BY_CODE[series.measure]
        xs = [_x(p.time) for p in series.points]
        ys = [float(p.value) for p in series.points]
        if series.step:
            # The figure holds from each snapshot until the next, and to the chart's end.
            ax.step(
                [*xs, _x(end)],
                [*ys, ys[-1]],
                where="post",
                color=measure.colour,
                linewidth=1.6,
                label=measure.label,
            )
            ax.plot(xs, ys, linestyle="none", marker=measure.marker, markersize=4,
                    color=measure.colour)  # fmt: skip
        else:
            diary = series.measure == PAIN_DIARY
            ax.plot(
                xs, ys, color=measure.colour, marker=measure.marker,
                linestyle=measure.linestyle, linewidth=0.9 if diary else 1.5,
                markersize=4 if diary else 5.5, label=measure.label, zorder=3,
                alpha=0.8 if diary else 1.0,
            )  # fmt: skip
        highs.append(float(measure.high) if measure.high is not None else max(ys))
    top = max(highs)
    if any(MEASURE_BY_CODE[s.measure].high is None for s in members):
        top = max(10.0, top * 1.15)
    ax.set_ylim(0, top * 1.04 if top else 1)
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold", pad=4)
    ax.grid(axis="y", color=GRID_COLOUR, linewidth=0.6)
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8, borderaxespad=0
    )


def timeline_figure(timeline: Timeline, *, time_zone: str) -> Figure:
    """The chart as a matplotlib Figure (no global state): panels with data only, a
    session strip on top when there are sessions, or a sentence when there is nothing."""
    zone = ZoneInfo(time_zone)
    if timeline.is_empty:
        fig = Figure(figsize=(WIDTH_IN, 1.2))
        fig.text(0.5, 0.5, EMPTY_TEXT, ha="center", va="center", fontsize=12)
        return fig
    panels = _panels(timeline)
    strip_needed = bool(timeline.sessions)
    heights = ([SESSION_STRIP_IN] if strip_needed else []) + [PANEL_HEIGHT_IN] * len(panels)
    fig = Figure(figsize=(WIDTH_IN, sum(heights) + 0.7))
    axes = fig.subplots(
        len(heights), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights}
    )[:, 0]
    total = sum(heights) + 0.7
    fig.subplots_adjust(left=0.07, right=0.7, top=1 - 0.3 / total, bottom=0.55 / total, hspace=0.45)
    strip = axes[0] if strip_needed else None
    measure_axes = list(axes[1:] if strip_needed else axes)
    start, end = _span(timeline)
    for ax, (title, members) in zip(measure_axes, panels, strict=True):
        _draw_series(ax, title, members, end)
    _draw_sessions(measure_axes, strip, timeline)
    if not measure_axes and strip is not None:
        strip.text(
            0.5, -0.6, "No measurements yet", transform=strip.transAxes, ha="center", fontsize=10
        )
    bottom = axes[-1]
    bottom.set_xlim(_x(start), _x(end))
    locator = mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=9)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    bottom.set_xlabel(f"Date ({time_zone})")
    return fig


def describe(timeline: Timeline, *, time_zone: str) -> str:
    """The chart in words, for the SVG's description (screen readers) and the data table's
    summary."""
    if timeline.is_empty:
        return "No measurements or sessions recorded yet."
    parts: list[str] = []
    for s in timeline.series:
        first, last = s.points[0], s.points[-1]
        unit = " MME per day" if s.measure == MME else ""
        parts.append(
            f"{s.label}: {len(s.points)} value{'s' if len(s.points) != 1 else ''} from "
            f"{local_date(first.time, time_zone)} to {local_date(last.time, time_zone)}, "
            f"first {number_text(first.value)}{unit}, latest {number_text(last.value)}{unit}."
        )
    if timeline.sessions:
        aborted = sum(1 for m in timeline.sessions if m.status == "aborted")
        parts.append(
            f"{len(timeline.sessions)} ketamine session"
            f"{'s' if len(timeline.sessions) != 1 else ''} from "
            f"{local_date(timeline.sessions[0].time, time_zone)} to "
            f"{local_date(timeline.sessions[-1].time, time_zone)}"
            + (f", {aborted} aborted." if aborted else ".")
        )
        parts += [f"{line}." for line in course_key(timeline)]
    return " ".join(parts)


_STYLE = re.compile(r' style="([^"]*)"')
_ID = re.compile(r' id="([^"]+)"')
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


def _attributes(match: re.Match[str]) -> str:
    """``style="a: b; c: d"`` as presentation attributes ``a="b" c="d"`` (a CSP without
    'unsafe-inline' ignores style attributes, but not these)."""
    out = []
    for declaration in match.group(1).split(";"):
        name, _, value = declaration.partition(":")
        if name.strip() and value.strip():
            out.append(f' {name.strip()}="{value.strip()}"')
    return "".join(out)


def inline_svg(svg: str, *, prefix: str, title: str, description: str) -> str:
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'<style type="text/css">.*?</style>\s*', "", svg, flags=re.S)
    svg = _STYLE.sub(_attributes, svg)
    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"', svg)
    for old in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f"url(#{old})", f"url(#{prefix}-{old})")
        svg = svg.replace(f'href="#{old}"', f'href="#{prefix}-{old}"')
    # Scales with its container; the viewBox keeps the proportions.
    svg = _SIZE.sub(r'<svg\1 width="100%"', svg, count=1)
    head = (
        f' role="img" aria-labelledby="{prefix}-title {prefix}-desc"'
        ' stroke-linejoin="round" stroke-linecap="butt" class="timeline-chart"'
    )
    svg = svg.replace("<svg", "<svg" + head, 1)
    opening_end = svg.index(">") + 1
    accessible = (
        f'\n <title id="{prefix}-title">{escape(title)}</title>'
        f'\n <desc id="{prefix}-desc">{escape(description)}</desc>'
    )
    return svg[:opening_end] + accessible + svg[opening_end:]


def timeline_svg(timeline: Timeline, *, time_zone: str, id_prefix: str = "tl") -> str:
    """The chart as an SVG document ready to inline in a page: no XML prologue, presentation
    attributes instead of styles, ids prefixed with ``id_prefix`` and the patient so two
    charts never clash, a title and a description in words."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "", f"{id_prefix}-{str(timeline.patient_id)[:8]}")
    with matplotlib.rc_context({**RC, "svg.hashsalt": prefix}):
        fig = timeline_figure(timeline, time_zone=time_zone)
        FigureCanvasSVG(fig)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return inline_svg(
        buffer.getvalue(),
        prefix=prefix,
        title=CHART_TITLE,
        description=describe(timeline, time_zone=time_zone),
    )


def timeline_png(timeline: Timeline, *, time_zone: str, dpi: int = 150) -> bytes:
    """The same chart as a PNG, for documents (DESIGN §5b: SVG in pages, PNG in PDFs)."""
    with matplotlib.rc_context(RC):
        fig = timeline_figure(timeline, time_zone=time_zone)
        FigureCanvasAgg(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


# --- The chart card and the data table ---------------------------------------------------------

CARD_ROWS_PER_MEASURE = 3


@dataclass(frozen=True)
class DataRow:
    measure: str
    label: str
    time: datetime
    day: date
    value: str
    unit: str


def data_rows(timeline: Timeline) -> list[DataRow]:
    """Every value of the chart, newest first (what a screen reader or a printout needs)."""
    rows = [r for s in timeline.series for r in data_rows_for(s, timeline.time_zone)]
    rows.sort(key=lambda r: (r.time, r.measure), reverse=True)
    return rows


def latest_rows(timeline: Timeline, per_measure: int = CARD_ROWS_PER_MEASURE) -> list[DataRow]:
    """The newest ``per_measure`` values of each measure, measure by measure."""
    rows: list[DataRow] = []
    for s in timeline.series:
        rows += data_rows_for(s, timeline.time_zone)[:per_measure]
    return rows


def data_rows_for(series: Series, time_zone: str) -> list[DataRow]:
    return [
        DataRow(
            measure=series.measure,
            label=series.label,
            time=p.time,
            day=local_date(p.time, time_zone),
            value=number_text(p.value),
            unit="MME/day" if series.measure == MME else "",
        )
        for p in reversed(series.points)
    ]


def timeline_card_context(*, patient: Patient, id_prefix: str = "chart-tl") -> dict[str, Any]:
    """What ``outcomes/timeline_card.html`` needs: the inline SVG (safe: built from numbers
    and our labels, escaped), the latest values of each measure, and the time zone."""
    timeline = patient_timeline(patient=patient)
    svg: SafeString = mark_safe(  # noqa: S308 — generated here, every text escaped
        timeline_svg(timeline, time_zone=timeline.time_zone, id_prefix=id_prefix)
    )
    return {
        "timeline": timeline,
        "timeline_svg": svg,
        "timeline_rows": latest_rows(timeline),
        "timeline_course_key": course_key(timeline),
        "timeline_rows_per_measure": CARD_ROWS_PER_MEASURE,
        "timeline_time_zone": timeline.time_zone,
        "timeline_summary": describe(timeline, time_zone=timeline.time_zone),
    }
