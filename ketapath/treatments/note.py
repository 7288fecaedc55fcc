"""The session note: the whole session as one document a prescriber reads in a minute, built
once and shown as a page and as a PDF (DESIGN §5b: ReportLab with a Unicode TTF, the font
the pharmacy reports bundle, so "≥" and "µ" print).

The note is a list of sections of labelled facts and tables, in the order of the session:
the course and session, the pre-check, overrides, the dose order, the second check, the
administration, vitals, in-session alerts and how they were cleared, adverse events, pain and
dissociation ratings, the discharge, completion and signature, then the addenda. Numbers are
shown as recorded; the clinical thresholds shown are those stored with the record (the
Aldrete threshold with the discharge, clinical.md §1.5) or the protocol template's cap and
range. Dissociation is shown as the scale and total only (no item text: the CADSS is
copyright, clinical.md §1.5).
"""

import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from ketapath.accounts.models import User
from ketapath.pharmacy.reports import FONT, FONT_BOLD, _fonts, _grid, _printable
from ketapath.treatments import charting, rules, services
from ketapath.treatments.models import (
    AdverseEvent,
    SessionAddendum,
    SessionAlert,
    SessionOverride,
    TreatmentSession,
)
from ketapath.treatments.selectors import Reading, session_readings

Status = TreatmentSession.Status

RULE_LABELS = {
    services.RULE_BP: "Blood pressure at the hold level",
    services.RULE_PREGNANCY: "Pregnancy",
    rules.STOP_CAP: "Dose above the template's cap",
    rules.STOP_RANGE: "Dose outside the template's mg/kg range",
    rules.STOP_CEILING: "Dose above the site's mg/kg ceiling",
    services.RULE_DISCHARGE: "Discharge criteria not all met",
}
ALERT_LABELS = {
    rules.ALERT_BP_HIGH: "Blood pressure high",
    rules.ALERT_HR_HIGH: "Heart rate high",
    rules.ALERT_HR_LOW: "Heart rate low",
    rules.ALERT_SPO2_LOW: "SpO₂ low, sustained",
    rules.ALERT_SPO2_CRITICAL: "SpO₂ critically low",
    rules.ALERT_RR_LOW: "Respiratory rate low",
}
PREGNANCY_LABELS = {
    "not_applicable": "Not applicable",
    "not_pregnant": "Not pregnant",
    "pregnant": "Pregnant",
    "unknown": "Unknown",
}
HISTORY_LABELS = {"unchanged": "Unchanged since the evaluation", "re_reviewed": "Re-reviewed"}
BP_BAND_LABELS = {
    rules.PreDoseBp.OK: "below the acknowledgement level",
    rules.PreDoseBp.ACKNOWLEDGE: "above the acknowledgement level, acknowledged",
    rules.PreDoseBp.HARD_STOP: "at or above the hold level",
}
SCALE_LABELS = {
    "clinician_0_4": "Clinician rating 0–4",
    "cadss_6": "CADSS-6 total 0–24",
}
ALDRETE_LABELS = {
    "activity": "Activity",
    "respiration": "Respiration",
    "circulation": "Circulation",
    "consciousness": "Consciousness",
    "spo2": "SpO₂",
}
DISCHARGE_KIND_LABELS = {
    "criteria_met": "Discharge criteria met",
    "override": "Prescriber override of unmet criteria",
    "against_advice": "Left against medical advice",
}
FIELD_LABELS = {
    "pain_before": "Pain before the dose",
    "pain_after": "Pain before discharge",
    "dissociation_score": "Dissociation rating",
}
STATUS_WORDS = {
    Status.PRE_CHECK: "Pre-check",
    Status.DOSED: "Dosed",
    Status.MONITORING: "Monitoring",
    Status.READY: "Ready",
    Status.DISCHARGED: "Discharged",
    Status.SIGNED: "Signed",
    Status.ABORTED: "Aborted",
}
NOT_RECORDED = "Not recorded"
VITAL_COLUMNS = ("Time", "After dose", "BP mmHg", "HR /min", "SpO₂ %", "RR /min", "By")


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    flag: bool = False  # a value the reader must notice (shown bold, with a mark)


@dataclass
class Section:
    key: str
    title: str
    facts: list[Fact] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    empty: str = ""  # said when there are no facts and no rows


@dataclass(frozen=True)
class AddendumView:
    author: str
    at: str
    text: str


@dataclass
class Note:
    session: TreatmentSession
    title: str
    subtitle: str
    status_word: str
    zone: str
    sections: list[Section]
    addenda: list[AddendumView]
    sign_blockers: list[str]
    missing: list[str]


def note_session(session: TreatmentSession) -> TreatmentSession:
    """The session again with every person and object the note names, in one query (the
    caller has already checked the user may read it)."""
    return TreatmentSession.objects.select_related(
        "clinic",
        "patient",
        "course__protocol",
        "course__ordered_by",
        "appointment__room",
        "appointment__nurse",
        "appointment__prescriber",
        "opened_by",
        "pre_check_by",
        "ordered_by",
        "vial",
        "verified_by",
        "given_by",
        "discharged_by",
        "completed_by",
        "signed_by",
        "aborted_by",
    ).get(id=session.id)


def _local(moment: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone).strftime(fmt) if moment else ""


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def _who(user: User | None, at: datetime | None, zone: ZoneInfo) -> str:
    if user is None:
        return NOT_RECORDED
    return f"{user.display_name}, {_local(at, zone)}" if at else user.display_name


def _yes(value: object) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    return NOT_RECORDED


def _dose_words(mg: Decimal | None, ml: Decimal | None, conc: Decimal | None) -> str:
    """mg, mL and mg/mL always together."""
    if mg is None:
        return NOT_RECORDED
    return f"{_num(mg)} mg = {_num(ml)} mL at {_num(conc)} mg/mL"


def _session_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    template = s.course.protocol
    appt = s.appointment
    facts = [
        Fact("Course", f"{template.name} v{template.version}, {template.get_route_display()}"),
        Fact("Session", f"{appt.sequence or '?'} of {template.sessions}"),
        Fact(
            "Appointment",
            f"{_local(appt.starts_at, zone)}–{_local(appt.ends_at, zone, '%H:%M')}, "
            f"{appt.room.name}",
        ),
        Fact(
            "Course order",
            f"{_num(s.course.ordered_mg_per_kg)} mg/kg by "
            f"{s.course.ordered_by.display_name if s.course.ordered_by else NOT_RECORDED}",
        ),
        Fact("Opened", _who(s.opened_by, s.opened_at, zone)),
    ]
    if s.status == Status.ABORTED:
        facts.append(
            Fact("Aborted", f"{_who(s.aborted_by, s.aborted_at, zone)}: {s.abort_reason}", True)
        )
    return Section("session", "Course and session", facts)


def _pre_check_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    p = s.pre_check or {}
    if not p:
        return Section("pre_check", "Pre-check", empty="No pre-check answers recorded.")
    history = HISTORY_LABELS.get(p.get("history_review", ""), NOT_RECORDED)
    if p.get("history_note"):
        history += f": {p['history_note']}"
    urinary = _yes(p.get("urinary_symptoms_asked"))
    if p.get("urinary_note"):
        urinary += f": {p['urinary_note']}"
    missing_q = p.get("questionnaires_missing") or []
    reason = p.get("questionnaires_note") or "no reason given"
    questionnaires = f"Not all done ({', '.join(missing_q)}): {reason}" if missing_q else "All done"
    bp = NOT_RECORDED
    if p.get("systolic") is not None:
        bp = f"{p['systolic']}/{p.get('diastolic')} mmHg"
        band = p.get("bp_band")
        if band:
            bp += f", {BP_BAND_LABELS.get(band, band)}"
    vitals = ", ".join(
        text
        for text in (
            f"HR {p['heart_rate']}/min" if p.get("heart_rate") is not None else "",
            f"SpO₂ {p['spo2']} %" if p.get("spo2") is not None else "",
            f"RR {p['respiratory_rate']}/min" if p.get("respiratory_rate") is not None else "",
        )
        if text
    )
    facts = [
        Fact("Recorded", _who(s.pre_check_by, s.pre_check_at, zone)),
        Fact("Identity confirmed", _yes(p.get("identity_confirmed"))),
        Fact(
            "Escort",
            f"{p.get('escort_name') or NOT_RECORDED}"
            + (f", {p['escort_phone']}" if p.get("escort_phone") else ""),
        ),
        Fact("Fasting confirmed", _yes(p.get("fasting_confirmed"))),
        Fact(
            "Pregnancy",
            PREGNANCY_LABELS.get(p.get("pregnancy_status", ""), NOT_RECORDED),
            p.get("pregnancy_status") == "pregnant",
        ),
        Fact("History", history),
        Fact("Urinary symptoms asked", urinary),
        Fact("Questionnaires", questionnaires, bool(missing_q)),
        Fact("Baseline BP", bp, p.get("bp_band") == rules.PreDoseBp.HARD_STOP),
    ]
    if vitals:
        facts.append(Fact("Baseline vitals", vitals))
    return Section("pre_check", "Pre-check", facts)


def _overrides_section(overrides: list[SessionOverride], zone: ZoneInfo) -> Section:
    return Section(
        "overrides",
        "Overrides of hard stops",
        columns=("Hard stop", "Reason", "By", "At"),
        rows=[
            (RULE_LABELS.get(o.rule, o.rule), o.reason, o.by.display_name, _local(o.at, zone))
            for o in overrides
        ],
        empty="No hard stop was overridden.",
    )


def _dose_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    if s.dose_mg is None:
        return Section("dose", "Dose order", empty="No dose was ordered.")
    template = s.course.protocol
    per_kg = f"{_num(s.mg_per_kg)} mg/kg"
    if s.mg_per_kg_reason:
        per_kg += f" (changed from the course order: {s.mg_per_kg_reason})"
    limits = []
    if template.mg_per_kg_min is not None and template.mg_per_kg_max is not None:
        limits.append(f"range {_num(template.mg_per_kg_min)}–{_num(template.mg_per_kg_max)} mg/kg")
    if template.cap_mg is not None:
        limits.append(f"cap {_num(template.cap_mg)} mg")
    facts = [
        Fact("Dose", _dose_words(s.dose_mg, s.volume_ml, s.concentration_mg_per_ml)),
        Fact("mg/kg", per_kg, bool(s.mg_per_kg_reason)),
        Fact("Weight", f"{_num(s.weight_kg)} kg"),
        Fact("Template limits", "; ".join(limits) or "None set"),
        Fact("Vial", f"{s.vial.label} (lot {s.vial.lot})" if s.vial else NOT_RECORDED),
        Fact("Ordered", _who(s.ordered_by, s.ordered_at, zone)),
    ]
    return Section("dose", "Dose order", facts)


def _check_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    if s.verified_by is None:
        return Section("second_check", "Second check", empty="No second check recorded.")
    return Section(
        "second_check",
        "Second check",
        [
            Fact("Checked by", _who(s.verified_by, s.verified_at, zone)),
            Fact(
                "Their figures",
                f"{_num(s.verified_dose_mg)} mg = {_num(s.verified_volume_ml)} mL "
                f"at {_num(s.concentration_mg_per_ml)} mg/mL",
            ),
        ],
    )


def _administration_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    if s.given_at is None:
        return Section("administration", "Administration", empty="The dose was not given.")
    facts = [
        Fact("Given", _who(s.given_by, s.given_at, zone)),
        Fact(
            "Route and site",
            ", ".join(x for x in (s.route.upper(), s.injection_site) if x) or NOT_RECORDED,
        ),
        Fact("Vial", f"{s.vial.label} (lot {s.vial.lot})" if s.vial else NOT_RECORDED),
        Fact(
            "Amount given",
            _dose_words(s.amount_mg, s.amount_ml, s.concentration_mg_per_ml),
            s.amount_mg is not None and s.dose_mg is not None and s.amount_mg < s.dose_mg,
        ),
    ]
    if s.amount_mg is not None and s.dose_mg is not None and s.amount_mg < s.dose_mg:
        facts.append(
            Fact("Partial dose", f"{_num(s.amount_mg)} of {_num(s.dose_mg)} mg; rest wasted", True)
        )
    if s.route == rules.ROUTE_IV:
        facts.append(
            Fact(
                "Infusion",
                f"{s.infusion_minutes} min at {_num(s.infusion_rate_mg_per_hr)} mg/hr",
            )
        )
    return Section("administration", "Administration", facts)


def _vitals_section(s: TreatmentSession, readings: list[Reading], zone: ZoneInfo) -> Section:
    rows: list[tuple[str, ...]] = []
    for r in readings:
        v = r.values
        after = ""
        if s.given_at is not None:
            minutes = int((r.taken_at - s.given_at).total_seconds() // 60)
            after = "baseline" if minutes < 0 else f"+{minutes} min"
        bp = f"{v['systolic']}/{v.get('diastolic', '')}" if "systolic" in v else ""
        rows.append(
            (
                _local(r.taken_at, zone, "%H:%M"),
                after or "before dose",
                bp,
                str(v.get("heart_rate", "")),
                str(v.get("spo2", "")),
                str(v.get("respiratory_rate", "")),
                r.taken_by,
            )
        )
    return Section(
        "vitals", "Vitals", columns=VITAL_COLUMNS, rows=rows, empty="No vitals recorded."
    )


def _alerts_section(alerts: list[SessionAlert], zone: ZoneInfo) -> Section:
    rows: list[tuple[str, ...]] = []
    for a in alerts:
        cleared = (
            f"Cleared by {a.cleared_by.display_name if a.cleared_by else ''} at "
            f"{_local(a.cleared_at, zone, '%H:%M')}: {a.note}"
            if a.cleared_at
            else "OPEN: not yet cleared"
        )
        rows.append(
            (
                ALERT_LABELS.get(a.rule, a.rule),
                a.summary,
                _local(a.reading_at, zone, "%H:%M"),
                cleared,
            )
        )
    return Section(
        "alerts",
        "In-session alerts",
        columns=("Alert", "Reading", "At", "How cleared"),
        rows=rows,
        empty="No in-session alert was raised.",
    )


def _events_section(events: list[AdverseEvent], zone: ZoneInfo) -> Section:
    rows: list[tuple[str, ...]] = [
        (
            f"{e.get_kind_display()} ({e.get_severity_display().lower()})",
            _local(e.onset, zone, "%H:%M"),
            " ".join(x for x in (e.description, f"Done: {e.action}" if e.action else "") if x),
            e.medication or "None",
            e.recorded_by.display_name,
        )
        for e in events
    ]
    return Section(
        "adverse_events",
        "Adverse events",
        columns=("Event", "Onset", "What happened and what was done", "Medication", "Recorded by"),
        rows=rows,
        empty="No adverse event recorded.",
    )


def _ratings_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    def pain(value: int | None) -> str:
        return NOT_RECORDED if value is None else f"{value} / {charting.PAIN_MAX}"

    dissociation = NOT_RECORDED
    if s.dissociation_score is not None:
        high = charting.DISSOCIATION_SCALES.get(s.dissociation_scale, 0)
        label = SCALE_LABELS.get(s.dissociation_scale, s.dissociation_scale)
        dissociation = f"{s.dissociation_score} / {high} ({label})"
        if s.dissociation_at:
            dissociation += f", at {_local(s.dissociation_at, zone, '%H:%M')}"
    return Section(
        "ratings",
        "Pain and dissociation",
        [
            Fact("Pain before the dose", pain(s.pain_before), s.pain_before is None),
            Fact("Pain before discharge", pain(s.pain_after)),
            Fact("Dissociation", dissociation),
        ],
    )


def _discharge_section(
    s: TreatmentSession, overrides: list[SessionOverride], zone: ZoneInfo
) -> Section:
    d = s.discharge or {}
    if not d:
        return Section("discharge", "Discharge", empty="No discharge assessment recorded.")
    facts: list[Fact] = []
    if s.discharge_kind:
        facts.append(
            Fact(
                "How the patient left",
                DISCHARGE_KIND_LABELS.get(s.discharge_kind, s.discharge_kind),
                s.discharge_kind != "criteria_met",
            )
        )
    else:
        facts.append(Fact("How the patient left", "Assessed; not yet discharged"))
    if d.get("against_medical_advice"):
        facts.append(Fact("Note", d.get("ama_note", ""), True))
    else:
        items = d.get("aldrete") or {}
        if items:
            facts.append(
                Fact(
                    "Aldrete items",
                    ", ".join(
                        f"{ALDRETE_LABELS[name]} {items[name]}"
                        for name in rules.ITEMS
                        if name in items
                    )
                    + " (each 0–2)",
                )
            )
        total, threshold = d.get("aldrete_total"), d.get("aldrete_threshold")
        if total is not None:
            met = threshold is not None and total >= threshold
            facts.append(
                Fact(
                    "Aldrete total",
                    f"{total} / 10, threshold ≥ {threshold}: {'met' if met else 'NOT met'}",
                    not met,
                )
            )
        if d.get("systolic") is not None:
            facts.append(Fact("Systolic at discharge", f"{d['systolic']} mmHg"))
        checks = [name for name in charting.DISCHARGE_CHECKS if name in d]
        if checks and all(d[name] is True for name in checks):
            facts.append(
                Fact(
                    "Clinical checks",
                    "All yes: " + "; ".join(charting.DISCHARGE_LABELS[n] for n in checks),
                )
            )
        else:
            for name in checks:
                facts.append(
                    Fact(charting.DISCHARGE_LABELS[name], _yes(d[name]), d[name] is not True)
                )
        if d.get("escort_name"):
            facts.append(Fact("Left with", d["escort_name"]))
        unmet = d.get("unmet") or []
        if unmet:
            facts.append(
                Fact(
                    "Criteria not met",
                    "; ".join(charting.DISCHARGE_LABELS.get(u, u) for u in unmet),
                    True,
                )
            )
            reasons = [o for o in overrides if o.rule == services.RULE_DISCHARGE]
            for o in reasons:
                facts.append(
                    Fact(
                        "Override", f"{o.reason} ({o.by.display_name}, {_local(o.at, zone)})", True
                    )
                )
    if s.discharged_at:
        facts.append(Fact("Discharged", _who(s.discharged_by, s.discharged_at, zone)))
    return Section("discharge", "Discharge", facts)


def _signature_section(s: TreatmentSession, zone: ZoneInfo) -> Section:
    return Section(
        "signature",
        "Completion and signature",
        [
            Fact(
                "Completed by the nurse",
                _who(s.completed_by, s.completed_at, zone) if s.completed_at else "Not completed",
                s.completed_at is None,
            ),
            Fact(
                "Signed by the prescriber",
                _who(s.signed_by, s.signed_at, zone) if s.signed_at else "Not signed",
                s.signed_at is None,
            ),
        ],
    )


def sign_blockers(s: TreatmentSession, alerts: list[SessionAlert]) -> list[str]:
    """What stops the prescriber's signature now, in the service's own words (empty when
    nothing does, or when the note is already signed or aborted)."""
    if s.is_closed:
        return []
    blockers: list[str] = []
    if s.status != Status.DISCHARGED:
        blockers.append(charting.MESSAGE_COMPLETE_STATUS)
    elif s.completed_at is None:
        blockers.append(charting.MESSAGE_SIGN_NOT_COMPLETE)
    if any(a.is_open for a in alerts):
        blockers.append(charting.MESSAGE_STOP_OPEN_SESSION_ALERT)
    account = charting.ledger_imbalance(s)
    if account is not None:
        blockers.append(
            charting.MESSAGE_STOP_LEDGER.format(
                drawn=account.drawn_mg, given=account.administered_mg, wasted=account.wasted_mg
            )
        )
    return blockers


def note_build(session: TreatmentSession) -> Note:
    """Everything the note shows, in a fixed number of queries."""
    s = note_session(session)
    zone = ZoneInfo(s.clinic.time_zone)
    overrides = list(s.overrides.select_related("by"))
    alerts = list(s.alerts.select_related("cleared_by"))
    events = list(s.adverse_events.select_related("recorded_by"))
    addenda: list[SessionAddendum] = list(s.addenda.select_related("author"))
    readings = session_readings(s)
    template = s.course.protocol
    patient = s.patient
    sections = [
        _session_section(s, zone),
        _pre_check_section(s, zone),
        _overrides_section(overrides, zone),
        _dose_section(s, zone),
        _check_section(s, zone),
        _administration_section(s, zone),
        _vitals_section(s, readings, zone),
        _alerts_section(alerts, zone),
        _events_section(events, zone),
        _discharge_section(s, overrides, zone),
        _ratings_section(s, zone),
        _signature_section(s, zone),
    ]
    missing = (
        [FIELD_LABELS.get(m, m) for m in charting.completion_missing(s)]
        if not s.is_closed and s.completed_at is None
        else []
    )
    return Note(
        session=s,
        title=f"Ketamine session note: {patient.display_name}",
        subtitle=(
            f"MRN {patient.mrn} · born {patient.birth_date:%Y-%m-%d} · {s.clinic.name} · "
            f"{template.name}, session {s.appointment.sequence or '?'} of {template.sessions} · "
            f"{_local(s.appointment.starts_at, zone, '%Y-%m-%d')}"
        ),
        status_word=STATUS_WORDS.get(Status(s.status), s.status),
        zone=s.clinic.time_zone,
        sections=sections,
        addenda=[
            AddendumView(a.author.display_name, _local(a.created_at, zone), a.text) for a in addenda
        ],
        sign_blockers=sign_blockers(s, alerts),
        missing=missing,
    )


def note_filename(note: Note) -> str:
    s = note.session
    day = s.appointment.starts_at.astimezone(ZoneInfo(note.zone)).date()
    return f"session-note-{s.patient.mrn}-{day.isoformat()}-{str(s.id)[:8]}.pdf"


# --- PDF ---------------------------------------------------------------------------------------


def note_pdf(note: Note, *, generated_by: User, generated_at: datetime) -> bytes:
    """The note as a PDF: the same sections as the page, then the addenda, then who made the
    document and when. Characters the font lacks (the subscript in SpO₂) are written plainly."""
    font = _fonts()
    body = ParagraphStyle("note_body", fontName=FONT, fontSize=7.8, leading=9.2)
    strong = ParagraphStyle("note_strong", parent=body, fontName=FONT_BOLD)
    label = ParagraphStyle("note_label", parent=body, fontSize=7.2, textColor="#4f5d66")
    title = ParagraphStyle("note_title", fontName=FONT_BOLD, fontSize=13, leading=16)
    heading = ParagraphStyle(
        "note_heading", fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceBefore=5, spaceAfter=1
    )
    cell = ParagraphStyle("note_cell", fontName=FONT, fontSize=7.5, leading=9)
    head_cell = ParagraphStyle("note_head_cell", parent=cell, fontName=FONT_BOLD)
    small = ParagraphStyle("note_small", fontName=FONT, fontSize=7, leading=9)

    def p(text: str, style: ParagraphStyle) -> Paragraph:
        plain = text.replace("₂", "2")
        return Paragraph(escape(_printable(plain, font)), style)

    buffer = io.BytesIO()
    width = 7.5 * inch
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.45 * inch,
        bottomMargin=0.45 * inch,
        title=_printable(note.title, font),
        author=_printable(generated_by.display_name, font),
        creator="Ketapath",
        invariant=True,
    )
    story: list[Flowable] = [
        p(note.title, title),
        p(f"{note.subtitle} · status: {note.status_word}", body),
        Spacer(1, 3),
    ]
    if note.sign_blockers:
        story.append(p("Not ready to sign: " + " ".join(note.sign_blockers), strong))
    half = (width - 0.2 * inch) / 2
    pending: list[list[Flowable]] = []

    def flush() -> None:
        # Sections of facts go two abreast, so that the note fits on about one page.
        while pending:
            left = pending.pop(0)
            # Three left: the last two share the right column.
            right: list[Flowable] = []
            for _ in range(2 if len(pending) == 2 else 1):
                if pending:
                    right += pending.pop(0)
            pair = [left, right]
            table = Table([pair], colWidths=[half + 0.2 * inch, half])
            table.setStyle(
                TableStyle(
                    [
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("RIGHTPADDING", (0, 0), (0, 0), 0.2 * inch),
                        ("RIGHTPADDING", (1, 0), (1, 0), 0),
                        ("TOPPADDING", (0, 0), (-1, -1), 0),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                    ]
                )
            )
            story.append(table)

    for section in note.sections:
        block: list[Flowable] = [p(section.title, heading)]
        if section.facts:
            rows = [
                [
                    p(f.label, label),
                    p(("! " if f.flag else "") + f.value, strong if f.flag else body),
                ]
                for f in section.facts
            ]
            block.append(_grid(rows, [1.2 * inch, half - 1.2 * inch], header=False))
            pending.append(block)
            continue
        if not section.rows:
            block.append(p(section.empty, body))
            pending.append(block)
            continue
        flush()
        if section.rows:
            share = width / len(section.columns)
            head = [p(c, head_cell) for c in section.columns]
            body_rows = [[p(v, cell) for v in row] for row in section.rows]
            block.append(_grid([head, *body_rows], [share] * len(section.columns), header=True))
        story.append(KeepTogether(block))
    flush()
    story.append(p("Addenda", heading))
    if note.addenda:
        for a in note.addenda:
            story.append(p(f"{a.author}, {a.at}", strong))
            story.append(p(a.text, body))
    else:
        story.append(p("None.", body))
    story += [
        Spacer(1, 6),
        p(
            f"Generated by {generated_by.display_name} ({generated_by.username}) at "
            f"{_local(generated_at, ZoneInfo(note.zone), '%Y-%m-%d %H:%M %Z')}. Times in "
            f"{note.zone}. A signed note does not change; corrections are addenda.",
            small,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
