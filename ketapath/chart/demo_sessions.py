"""Demo ketamine session notes: the past sessions charted and signed, and today's at one
site in several states.

Every write goes through the session services (``treatments.services`` and
``treatments.charting``), so the hard stops, the second check and the controlled-substance
ledger run as they do for a clinic: each given dose is drawn from a usable vial of the site
through ``administration_record`` (the ledger draw names the session), and a partial dose
wastes the rest in front of the second checker, so the ledger balances for every signed
note. The services stamp the real clock, so a past session is charted now and its times are
then set back with queryset updates (opening, pre-check, order, second check, ratings,
discharge, completion, alerts, overrides, adverse events, observations), all before it is
signed; the times the services accept in the past (dose given, vitals taken, adverse-event
onset, ledger entries) are passed to them directly. A signed note is immutable (a PostgreSQL
trigger refuses any update), so the signature is made with the charting module reading the
signing time as its clock (``_charting_clock``); the addendum, append-only, keeps the time
it is written. A past appointment is completed, and only a
checked-in one opens a session, so it is checked in again for the moment of opening.

Thresholds are the site's ClinicPolicy defaults (clinical.md §5 vital signs: alert at
systolic 180 or diastolic 110; §1.5 discharge: modified Aldrete of 9 or more, 60 minutes
of observation). The readings, ratings and doses are invented demo values, not clinical
advice: the dose is the course order (mg/kg, the demo dose of ``demo_scheduling``) times
the patient's weight, as the prescriber's order computes it.

The cases, by site: Denver's first past session is aborted at the pre-check (the baseline
blood pressure stayed at the hold level); the next has an emergence reaction managed with
reassurance. At Chicago the first session of the finished series has nausea treated with
ondansetron and the dose stopped part-way (the rest wasted, witnessed); the second a
transient rise of blood pressure to the alert level, an in-session alert cleared with a
note; the third a prescriber's override of one discharge criterion, and a later addendum.
Signing the last session of the finished series moves its course to awaiting reassessment
(``charting.course_progress``).

Today one site records its readiness check and the other does not, so the Today page shows
both. Today's session appointments at the site with the check are charted by how long ago
they started: discharged awaiting the prescriber's signature, ready for discharge, under
monitoring with a reading overdue and one due, in pre-check; the next one is checked in and
left without a session (its "Open session" button).
"""

import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Organization
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import age_on, local_day_bounds, local_today
from ketapath.observations.models import Observation
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Substance, Vial
from ketapath.scheduling.booking import appointment_set_status
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments import charting, rules, services
from ketapath.treatments.models import (
    READINESS_ITEMS,
    AdverseEvent,
    DailyReadiness,
    SessionAlert,
    SessionOverride,
    TreatmentSession,
)

DENVER = "Denver Ketamine Clinic"
CHICAGO = "Chicago Ketamine Clinic"
DEMO_SEED = 20261204


@dataclass(frozen=True)
class SiteStaff:
    nurse: str  # documents and gives the dose
    second: str  # the independent second check and the waste witness
    prescriber: str  # orders, overrides and signs
    desk: str  # checks patients in


# Chicago's other nurse has a lapsed ACLS card and cannot document sessions. The second
# checker also witnesses a partial dose's waste, which needs the ledger capability (a nurse
# or prescriber), so each site's prescriber checks: the only other licensed handler there.
STAFF = {
    DENVER: SiteStaff("nurse", "prescriber", "prescriber", "frontdesk"),
    CHICAGO: SiteStaff("nurse3", "prescriber2", "prescriber2", "frontdesk2"),
}
# The site whose readiness check is recorded today (unless only the other has sessions).
TODAY_SITE = DENVER

# What happens in each past session, by site, oldest first; later ones go plainly.
PLAIN = "plain"
ABORTED = "aborted"
EMERGENCE = "emergence"
NAUSEA = "nausea"
BP_ALERT = "bp_alert"
DISCHARGE_OVERRIDE = "discharge_override"
PAST_CASES = {
    DENVER: (ABORTED, EMERGENCE),
    CHICAGO: (NAUSEA, BP_ALERT, DISCHARGE_OVERRIDE),
}

# Today's states, by minutes since the appointment started.
# The dose is given 14 minutes after opening and the site's minimum observation is 60
# minutes (clinical.md §1.5), so a patient is ready from 75 minutes after the start.
DISCHARGED_AFTER = 90
READY_AFTER = 76
MONITORING_AFTER = 28
PRE_CHECK_AFTER = 0

DEFAULT_WEIGHT_KG = Decimal("78.0")
INJECTION_SITES = ("Left deltoid", "Right deltoid")
ESCORT_FALLBACK = ("Jamie Ortiz", "(303) 555-0188")

ABORT_REASON = (
    "Baseline blood pressure {first} and {second} mmHg after 15 minutes' rest, at the "
    "site's hold level; the prescriber reviewed and did not override. No dose drawn; "
    "patient to see the prescriber before rebooking."
)
OVERRIDE_REASON = (
    "Gait is at her baseline: she walks with a cane since a knee replacement and is steady "
    "with it; Aldrete 10, alert, escort present to drive her home."
)
ADDENDUM_TEXT = (
    "Follow-up call with the patient: slept well after the session, no nausea since, mild "
    "tiredness the next day only. Pain 4/10 on the call against 6/10 before the session."
)


# --- helpers ----------------------------------------------------------------------------


def _users(clinic: Clinic) -> dict[str, User]:
    staff = STAFF[clinic.name]
    names = (staff.nurse, staff.second, staff.prescriber, staff.desk)
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    return {
        "nurse": found[staff.nurse],
        "second": found[staff.second],
        "prescriber": found[staff.prescriber],
        "desk": found[staff.desk],
    }


def _rng(appointment: Appointment) -> random.Random:
    # Seeded by what stays the same between databases, not by random ids.
    key = f"{DEMO_SEED}:{appointment.patient.mrn}:{appointment.sequence}"
    return random.Random(key)  # noqa: S311 - demo data, not security


def _weight(patient: Patient, rng: random.Random) -> Decimal:
    value = (
        Observation.objects.filter(patient=patient, code=services.WEIGHT_CODE)
        .order_by("-taken_at")
        .values_list("value", flat=True)
        .first()
    )
    base = DEFAULT_WEIGHT_KG if value is None else Decimal(value)
    change = Decimal(rng.choice((-4, -2, 0, 1, 3))) / 10
    return (base + change).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _weight_in_range(session: TreatmentSession, weight: Decimal, mg_per_ml: Decimal) -> Decimal:
    """The nearest weight (within 0.4 kg) whose dose, rounded to the site's step, stays in
    the template's mg/kg range: rounding at the bottom of the range can fall just below it,
    a hard stop the demo's plain sessions should not meet."""
    template = session.course.protocol
    policy = clinic_policy_current(clinic=session.clinic)
    bounds = (
        (template.mg_per_kg_min, template.mg_per_kg_max)
        if template.mg_per_kg_min is not None and template.mg_per_kg_max is not None
        else None
    )
    for tenths in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        candidate = weight + Decimal(tenths) / 10
        result = rules.dose(
            candidate,
            session.course.ordered_mg_per_kg,
            mg_per_ml,
            step_mg=policy.dose_step_mg,
            cap_mg=template.cap_mg,
            range_mg_per_kg=bounds,
            ceiling_mg_per_kg=policy.dose_ceiling_mg_per_kg,
        )
        if not result.stops:
            return candidate
    return weight


def _usable_vial(clinic: Clinic, at: datetime, need_ml: Decimal) -> Vial | None:
    """A ketamine vial usable both now (the prescriber's order checks it) and at ``at`` (the
    ledger's draw checks it), with enough left; an opened one first."""
    now = timezone.now()
    today = local_today(clinic.time_zone)
    vials = Vial.objects.filter(
        clinic=clinic,
        substance=Substance.KETAMINE,
        status__in=ledger.USABLE,
        expiry__gte=today,
        balance_ml__gte=need_ml,
    ).select_related("clinic")
    for vial in sorted(vials, key=lambda v: (v.status != Vial.Status.OPEN, v.label)):
        if vial.beyond_use_at is not None and vial.beyond_use_at <= now:
            continue
        if ledger.unusable_reason(vial, at) is None:
            return vial
    return None


def _escort(patient: Patient) -> tuple[str, str]:
    escort = patient.escorts.filter(active=True).order_by("created_at").first()
    return (escort.name, escort.phone) if escort else ESCORT_FALLBACK


# Above this age the demo answers "not applicable" for a woman (a demo choice, no clinical
# rule: the nurse's pre-check records what the patient says).
PREGNANCY_ASKED_UNTIL_AGE = 55


def _pregnancy(patient: Patient) -> str:
    age = age_on(patient.birth_date, timezone.localdate())
    asked = patient.sex_at_birth == "female" and age < PREGNANCY_ASKED_UNTIL_AGE
    return "not_pregnant" if asked else "not_applicable"


def _session_observations(session: TreatmentSession, since: datetime) -> Any:
    return Observation.objects.filter(
        context_kind=Observation.ContextKind.SESSION, context_id=session.id, taken_at__gte=since
    )


def _reload(session: TreatmentSession) -> TreatmentSession:
    return TreatmentSession.objects.select_related(
        "clinic", "patient", "course__protocol", "appointment", "vial__clinic"
    ).get(pk=session.pk)


def _stamp(model: Any, pk: Any, **times: date | datetime) -> None:
    """Set a row's times (or a readiness check's day) back: the services stamp the real
    clock."""
    model.objects.filter(pk=pk).update(**times)


@dataclass
class Baseline:
    systolic: int
    diastolic: int
    heart_rate: int
    spo2: int
    respiratory_rate: int
    pain: int


def _baseline(rng: random.Random, case: str) -> Baseline:
    systolic, diastolic = rng.randint(116, 134), rng.randint(70, 84)
    if case == BP_ALERT:
        # Above the acknowledgement level (140/90), below the hold level (160/100).
        systolic, diastolic = 146, 92
    elif case == ABORTED:
        systolic, diastolic = 168, 103
    return Baseline(
        systolic, diastolic, rng.randint(64, 84), rng.randint(96, 99), rng.randint(12, 16),
        rng.randint(5, 8),
    )  # fmt: skip


def _reading(base: Baseline, offset: int, rng: random.Random) -> dict[str, int]:
    """A set of vitals ``offset`` minutes after an IM dose: pressure and pulse rise a little
    over the first half hour and settle (demo values)."""
    lift = {0: 0, 10: 12, 20: 14, 30: 9, 40: 5, 50: 2}.get(offset, 0)
    return {
        "systolic": base.systolic + lift + rng.randint(-4, 4),
        "diastolic": base.diastolic + lift // 2 + rng.randint(-3, 3),
        "heart_rate": base.heart_rate + lift // 2 + rng.randint(-3, 4),
        "spo2": min(100, max(95, base.spo2 + rng.randint(-1, 1))),
        "respiratory_rate": base.respiratory_rate + rng.randint(-1, 1),
    }


def _offsets(session: TreatmentSession) -> list[int]:
    template = session.course.protocol
    offsets = sorted({int(o) for o in (template.vitals_offsets or [])})
    return offsets or [0, 10, 20, 30, 40, 50, 60]


# --- readiness ----------------------------------------------------------------------------


def _open_with_readiness(
    clinic: Clinic, nurse: User, appointment: Appointment, day: date, checked_at: datetime
) -> TreatmentSession:
    """Open the session of a past appointment. Opening needs today's readiness check at the
    site, so the day's check (recorded through the service on its first session) stands
    as today's for the moment of opening and goes back to its own day afterwards."""
    today = local_today(clinic.time_zone)
    standing = DailyReadiness.objects.filter(clinic=clinic, date=today).first()
    row = DailyReadiness.objects.filter(clinic=clinic, date=day).first()
    if standing is None and row is None:
        row = services.readiness_record(
            user=nurse, clinic=clinic, items={key: True for key, _ in READINESS_ITEMS}
        )
    elif standing is None and row is not None:
        _stamp(DailyReadiness, row.pk, date=today)
    elif row is None:
        # Today's check is already recorded (someone charted today first); the past day's
        # is written as it was.
        DailyReadiness.objects.create(
            clinic=clinic,
            date=day,
            checked_by=nurse,
            checked_at=checked_at,
            items={key: True for key, _ in READINESS_ITEMS},
        )
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CHECKED_IN)
    appointment.status = Appointment.Status.CHECKED_IN
    try:
        session = services.session_open(user=nurse, appointment=appointment)
    finally:
        Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.COMPLETED)
        appointment.status = Appointment.Status.COMPLETED
        if row is not None and standing is None:
            _stamp(DailyReadiness, row.pk, date=day, checked_at=checked_at, created_at=checked_at)
    return session


# --- one session ----------------------------------------------------------------------------


@dataclass
class Chart:
    """One session being charted: who, when and the demo values."""

    session: TreatmentSession
    people: dict[str, User]
    rng: random.Random
    case: str
    base: Baseline
    opened: datetime
    clock: datetime  # when the seed started (rows stamped after it are this session's)
    times: dict[str, datetime] = field(default_factory=dict)

    def stamp(self, **times: datetime) -> None:
        """Set the session's times back now and again at the end (a service that saves the
        whole row later would otherwise write its own clock over them)."""
        self.times.update(times)
        _stamp(TreatmentSession, self.session.pk, **self.times)
        self.session = _reload(self.session)


def _pre_check(chart: Chart, at: datetime, *, complete: bool = True) -> None:
    session, nurse = chart.session, chart.people["nurse"]
    name, phone = _escort(session.patient)
    data: dict[str, Any] = {
        "identity_confirmed": True,
        "escort_name": name,
        "escort_phone": phone,
        "fasting_confirmed": True,
        "pregnancy_status": _pregnancy(session.patient),
        "history_review": "unchanged",
    }
    if complete:
        data |= {
            "urinary_symptoms_asked": True,
            "pain_before": chart.base.pain,
            "systolic": chart.base.systolic,
            "diastolic": chart.base.diastolic,
            "heart_rate": chart.base.heart_rate,
            "spo2": chart.base.spo2,
            "respiratory_rate": chart.base.respiratory_rate,
        }
        band = services.bp_band(session, chart.base.systolic, chart.base.diastolic)
        if band == rules.PreDoseBp.ACKNOWLEDGE:
            data["bp_acknowledged"] = True
        if services.pre_session_questionnaires_missing(session):
            data["questionnaires_note"] = (
                "Questionnaires not sent before this visit; the nurse went over pain, mood "
                "and sleep with the patient instead."
            )
    services.precheck_update(user=nurse, session=session, data=data)
    _session_observations(session, chart.clock).update(taken_at=at)
    chart.stamp(pre_check_at=at)


def _order(chart: Chart, at: datetime) -> None:
    """The prescriber's order at the course's mg/kg, from a vial usable then and now; a
    refusal propagates and the session is left out."""
    session = chart.session
    weight = _weight(session.patient, chart.rng)
    dose = weight * session.course.ordered_mg_per_kg
    vial = _usable_vial(session.clinic, at + timedelta(minutes=10), dose / 50 + 1)
    if vial is None:
        raise Conflict("No ketamine vial usable for the demo session.")
    weight = _weight_in_range(session, weight, vial.mg_per_ml)
    services.dose_order(
        user=chart.people["prescriber"],
        session=session,
        weight_kg=weight,
        vial_id=vial.id,
        weight_change_confirmed=True,
    )
    Observation.objects.filter(
        context_kind=Observation.ContextKind.SESSION,
        context_id=session.id,
        code=services.WEIGHT_CODE,
    ).update(taken_at=at)
    chart.stamp(ordered_at=at)


def _give(chart: Chart, at: datetime, *, partial: bool = False) -> None:
    session = chart.session
    assert session.dose_mg is not None and session.volume_ml is not None
    amount: Decimal | None = None
    reason = ""
    if partial:
        # The rest is wasted by volume at 0.01 mL, so it is kept to whole half-milligrams
        # (0.01 mL of 50 mg/mL) and the draw balances exactly.
        rest = (session.dose_mg * Decimal("0.8")).quantize(Decimal("1"), ROUND_HALF_UP) / 2
        amount = session.dose_mg - rest
        reason = "Patient became nauseated and asked to stop part-way through the injection"
    charting.administration_record(
        user=chart.people["nurse"],
        second=chart.people["second"],
        session=session,
        check=charting.SecondCheck(dose_mg=session.dose_mg, volume_ml=session.volume_ml),
        injection_site=chart.rng.choice(INJECTION_SITES),
        given_at=at,
        amount_mg=amount,
        partial_reason=reason,
    )
    chart.stamp(verified_at=at - timedelta(minutes=2))


def _vitals(chart: Chart, offsets: Iterable[int], given: datetime) -> None:
    """Readings at the template's times, an in-session alert cleared with a note when the
    case has one."""
    session, nurse = chart.session, chart.people["nurse"]
    for offset in offsets:
        at = given + timedelta(minutes=offset)
        values = _reading(chart.base, offset, chart.rng)
        if chart.case == BP_ALERT and offset == 20:
            values |= {"systolic": 184, "diastolic": 112, "heart_rate": 96}
        result = charting.vitals_record(user=nurse, session=session, values=values, taken_at=at)
        for alert in result.alerts:
            _stamp(SessionAlert, alert.pk, raised_at=at, created_at=at)
            recheck = at + timedelta(minutes=5)
            charting.vitals_record(
                user=nurse,
                session=session,
                values={"systolic": 166, "diastolic": 98, "heart_rate": 88},
                taken_at=recheck,
            )
            charting.adverse_event_record(
                user=nurse,
                session=session,
                kind=AdverseEvent.Kind.HYPERTENSION,
                severity=AdverseEvent.Severity.MILD,
                onset=at,
                description="Blood pressure 184/112 mmHg 20 minutes after the dose; no "
                "headache, chest pain or visual change.",
                action="Dimmed the lights, kept the patient resting and rechecked in 5 "
                "minutes (166/98); prescriber informed at the bedside.",
            )
            cleared = charting.session_alert_clear(
                user=nurse,
                alert=alert,
                note="Rechecked after 5 minutes at rest: 166/98 mmHg, no symptoms; "
                "prescriber informed, monitoring continued.",
            )
            _stamp(SessionAlert, cleared.pk, cleared_at=recheck + timedelta(minutes=1))
        chart.session = session = _reload(session)


def _stamp_events(chart: Chart) -> None:
    for event in AdverseEvent.objects.filter(session=chart.session, created_at__gte=chart.clock):
        when = event.onset + timedelta(minutes=8)
        _stamp(AdverseEvent, event.pk, created_at=when, updated_at=when)


def _events(chart: Chart, given: datetime) -> None:
    session, nurse = chart.session, chart.people["nurse"]
    if chart.case == NAUSEA:
        charting.adverse_event_record(
            user=nurse,
            session=session,
            kind=AdverseEvent.Kind.NAUSEA,
            severity=AdverseEvent.Severity.MILD,
            onset=given + timedelta(minutes=3),
            description="Nausea during the injection; retched once, no vomiting.",
            action="Injection stopped at the patient's request; ondansetron given, settled "
            "within 15 minutes.",
            medication="Ondansetron 4 mg ODT, by mouth",
        )
    elif chart.case == EMERGENCE:
        charting.adverse_event_record(
            user=nurse,
            session=session,
            kind=AdverseEvent.Kind.EMERGENCE,
            severity=AdverseEvent.Severity.MILD,
            onset=given + timedelta(minutes=25),
            description="Frightened and tearful while coming round; did not know where she "
            "was for a few minutes.",
            action="Calm voice, lights dimmed, music on, nurse at the bedside; reoriented "
            "within 10 minutes. No medication needed.",
        )


def _discharge_data(chart: Chart) -> dict[str, Any]:
    name, _ = _escort(chart.session.patient)
    last = Observation.objects.filter(
        context_kind=Observation.ContextKind.SESSION,
        context_id=chart.session.id,
        code="8480-6",
    ).order_by("-taken_at")
    systolic = last.values_list("value", flat=True).first()
    return {
        "activity": 2,
        "respiration": 2,
        "consciousness": 2,
        "spo2_points": 2,
        "systolic": int(systolic) if systolic is not None else chart.base.systolic,
        "spo2_room_air": True,
        "mental_status_baseline": True,
        "gait_steady": chart.case != DISCHARGE_OVERRIDE,
        "nausea_controlled": True,
        "escort_present": True,
        "aftercare_acknowledged": True,
        "escort_name": name,
    }


def _discharge(chart: Chart, at: datetime, *, leave_now: bool = True) -> None:
    session = chart.session
    if chart.case == DISCHARGE_OVERRIDE:
        override = services.override_add(
            user=chart.people["prescriber"],
            session=session,
            rule=services.RULE_DISCHARGE,
            reason=OVERRIDE_REASON,
        )
        _stamp(SessionOverride, override.pk, at=at - timedelta(minutes=2), created_at=at)
    charting.discharge_record(
        user=chart.people["nurse"],
        session=session,
        data=_discharge_data(chart),
        leave_now=leave_now,
    )
    session = _reload(session)
    record = dict(session.discharge)
    record["assessed_at"] = at.isoformat()
    TreatmentSession.objects.filter(pk=session.pk).update(discharge=record)
    if leave_now:
        chart.stamp(discharged_at=at)
    else:
        chart.session = _reload(session)


def _ratings(chart: Chart, at: datetime) -> None:
    cadss = chart.rng.random() < 0.5
    score = chart.rng.randint(3, 12) if cadss else chart.rng.randint(1, 3)
    pain_after = max(0, chart.base.pain - chart.rng.randint(1, 4))
    charting.ratings_record(
        user=chart.people["nurse"],
        session=chart.session,
        pain_after=pain_after,
        dissociation_scale="cadss_6" if cadss else "clinician_0_4",
        dissociation_score=score,
    )
    # Pain after the dose is also kept as an observation of the session.
    _session_observations(chart.session, chart.clock).update(taken_at=at)
    chart.stamp(dissociation_at=at)
    _stamp_events(chart)


def _start(
    appointment: Appointment, people: dict[str, User], case: str, clock: datetime
) -> Chart | None:
    clinic = appointment.clinic
    zone = ZoneInfo(clinic.time_zone)
    opened = appointment.starts_at
    if appointment.status == Appointment.Status.COMPLETED:
        day = opened.astimezone(zone).date()
        checked_at = datetime.combine(day, time(7, 45), tzinfo=zone)
        session = _open_with_readiness(clinic, people["nurse"], appointment, day, checked_at)
    else:
        session = services.session_open(user=people["nurse"], appointment=appointment)
    rng = _rng(appointment)
    chart = Chart(session, people, rng, case, _baseline(rng, case), opened, clock)
    chart.stamp(opened_at=opened)
    return chart


def _abort(chart: Chart) -> None:
    session, nurse = chart.session, chart.people["nurse"]
    first = f"{chart.base.systolic}/{chart.base.diastolic}"
    second = f"{chart.base.systolic - 3}/{chart.base.diastolic - 1}"
    _pre_check(chart, chart.opened + timedelta(minutes=5), complete=False)
    for minutes, (sbp, dbp) in (
        (6, (chart.base.systolic, chart.base.diastolic)),
        (21, (chart.base.systolic - 3, chart.base.diastolic - 1)),
    ):
        charting.vitals_record(
            user=nurse,
            session=session,
            values={"systolic": sbp, "diastolic": dbp, "heart_rate": chart.base.heart_rate},
            taken_at=chart.opened + timedelta(minutes=minutes),
        )
    services.session_abort(
        user=nurse, session=_reload(session), reason=ABORT_REASON.format(first=first, second=second)
    )
    chart.stamp(aborted_at=chart.opened + timedelta(minutes=28))


def _chart_past(appointment: Appointment, people: dict[str, User], case: str) -> str:
    """Chart a past session from opening to signature (or abort); returns its status."""
    clock = timezone.now()
    chart = _start(appointment, people, case, clock)
    assert chart is not None
    if case == ABORTED:
        _abort(chart)
        return TreatmentSession.Status.ABORTED
    opened = chart.opened
    _pre_check(chart, opened + timedelta(minutes=6))
    _order(chart, opened + timedelta(minutes=10))
    given = opened + timedelta(minutes=14)
    _give(chart, given, partial=case == NAUSEA)
    _events(chart, given)
    offsets = _offsets(chart.session)
    _vitals(chart, offsets, given)
    _ratings(chart, given + timedelta(minutes=40))
    discharged = given + timedelta(minutes=max(offsets[-1], 60) + 4)
    _discharge(chart, discharged)
    completed = discharged + timedelta(minutes=6)
    session = charting.session_complete(user=people["nurse"], session=chart.session)
    chart.stamp(completed_at=completed)
    _sign(chart, appointment, completed + timedelta(minutes=chart.rng.randint(20, 90)))
    if case == DISCHARGE_OVERRIDE:
        # Addenda are append-only: this one keeps the time it is written.
        charting.addendum_add(user=people["nurse"], session=_reload(session), text=ADDENDUM_TEXT)
    return TreatmentSession.Status.SIGNED


def _sign(chart: Chart, appointment: Appointment, at: datetime) -> None:
    """The prescriber signs. The demo's finished series was written straight to awaiting
    reassessment; it goes back under way for the last session's signature, so the course's
    move is the service's (``course_progress``)."""
    course = Course.objects.get(pk=chart.session.course_id)
    last = course.appointments.filter(kind=Appointment.Kind.SESSION).order_by("-sequence").first()
    if (
        course.status == Course.Status.AWAITING_REASSESSMENT
        and last is not None
        and last.pk == appointment.pk
        and not course.appointments.filter(
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN]
        ).exists()
    ):
        Course.objects.filter(pk=course.pk).update(status=Course.Status.IN_PROGRESS)
    session = _reload(chart.session)
    with _charting_clock(min(at, timezone.now())):
        charting.session_sign(user=chart.people["prescriber"], session=session)
    chart.session = _reload(session)


class _FixedClock:
    """Stands in for ``django.utils.timezone`` inside the charting module for one call."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@contextmanager
def _charting_clock(at: datetime) -> Iterator[None]:
    """Sign a past note at its own time. A signed note is immutable (a PostgreSQL trigger
    refuses any update), so its signing time cannot be set back after
    the service writes it; instead the charting service reads this clock while it signs,
    with every check it makes (completion, alerts cleared, ledger balanced) and the
    course's move unchanged."""
    real = charting.timezone
    charting.timezone = _FixedClock(at)  # type: ignore[assignment]
    try:
        yield
    finally:
        charting.timezone = real


# --- entry points ---------------------------------------------------------------------------


def seed_past_sessions(*, clinic: Clinic) -> int:
    """Chart every past completed session appointment of the site that has no session yet,
    oldest first (the pharmacy seed calls this once its stock is received, so the draws
    come before the day's count). Returns how many sessions were written."""
    if clinic.name not in STAFF:
        return 0
    people = _users(clinic)
    cases = PAST_CASES.get(clinic.name, ())
    appointments = list(
        Appointment.objects.filter(
            clinic=clinic,
            kind=Appointment.Kind.SESSION,
            status=Appointment.Status.COMPLETED,
            course__isnull=False,
            treatment_session__isnull=True,
            ends_at__lte=timezone.now(),
        )
        .select_related("clinic", "patient", "course__protocol")
        .order_by("starts_at")
    )
    written = 0
    for index, appointment in enumerate(appointments):
        case = cases[index] if index < len(cases) else PLAIN
        try:
            with transaction.atomic():
                _chart_past(appointment, people, case)
        except (Conflict, InvalidInput, Forbidden):
            # A patient whose record no longer fits (a lapsed consent, an open alert).
            continue
        written += 1
    return written


def today_sessions_present(organization: Organization) -> bool:
    """Whether a readiness check is recorded today at any of the organisation's sites."""
    return any(
        DailyReadiness.objects.filter(clinic=c, date=local_today(c.time_zone)).exists()
        for c in Clinic.objects.filter(organization=organization)
    )


def _today_appointments(clinic: Clinic) -> list[Appointment]:
    start, end = local_day_bounds(local_today(clinic.time_zone), clinic.time_zone)
    return list(
        Appointment.objects.filter(
            clinic=clinic,
            kind=Appointment.Kind.SESSION,
            course__isnull=False,
            starts_at__gte=start,
            starts_at__lt=end,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
            treatment_session__isnull=True,
        )
        .select_related("clinic", "patient", "course__protocol")
        .order_by("starts_at")
    )


def _chart_today(appointment: Appointment, people: dict[str, User], minutes: float) -> str:
    """Chart one of today's sessions as far as ``minutes`` since its start allows."""
    if appointment.status == Appointment.Status.BOOKED:
        appointment_set_status(
            user=people["desk"], appointment=appointment, status=Appointment.Status.CHECKED_IN
        )
        _stamp(
            Appointment, appointment.pk, checked_in_at=appointment.starts_at - timedelta(minutes=10)
        )
        appointment.refresh_from_db()
    chart = _start(appointment, people, PLAIN, timezone.now())
    assert chart is not None
    opened = chart.opened
    if minutes < MONITORING_AFTER:
        _pre_check(chart, opened + timedelta(minutes=min(4, max(minutes - 1, 0))), complete=False)
        return TreatmentSession.Status.PRE_CHECK
    _pre_check(chart, opened + timedelta(minutes=6))
    _order(chart, opened + timedelta(minutes=10))
    given = opened + timedelta(minutes=14)
    _give(chart, given)
    elapsed = int((timezone.now() - given).total_seconds() // 60)
    offsets = [o for o in _offsets(chart.session) if o <= elapsed]
    if minutes < READY_AFTER:
        # One reading missed (overdue) and the latest one not taken yet (due now).
        taken = offsets[:-2] if len(offsets) > 2 else offsets[:1]
        _vitals(chart, taken, given)
        return TreatmentSession.Status.MONITORING
    _vitals(chart, offsets, given)
    _ratings(chart, given + timedelta(minutes=40))
    discharged = given + timedelta(minutes=max(offsets[-1], 60) + 1)
    if minutes < DISCHARGED_AFTER:
        _discharge(chart, discharged, leave_now=False)
        return TreatmentSession.Status.READY
    _discharge(chart, discharged)
    charting.session_complete(user=people["nurse"], session=chart.session)
    chart.stamp(completed_at=discharged + timedelta(minutes=4))
    return TreatmentSession.Status.DISCHARGED


def seed_today_sessions(*, organization: Organization) -> int:
    """Record today's readiness check at one site (not the other) and chart its session
    appointments of today by how long ago they started; the next one to come is checked in
    and left without a session. Returns how many rows (check, sessions, check-ins) were
    written."""
    clinics = {c.name: c for c in Clinic.objects.filter(organization=organization)}
    if not clinics:
        return 0
    by_site = {name: _today_appointments(c) for name, c in clinics.items() if name in STAFF}
    site = TODAY_SITE if TODAY_SITE in clinics else sorted(clinics)[0]
    if not by_site.get(site):
        site = next((name for name, rows in by_site.items() if rows), site)
    clinic = clinics[site]
    if site not in STAFF:
        return 0
    people = _users(clinic)
    written = 0
    with transaction.atomic():
        if services.readiness_today(clinic=clinic) is None:
            services.readiness_record(
                user=people["nurse"], clinic=clinic, items={key: True for key, _ in READINESS_ITEMS}
            )
            written += 1
        written += chart_today(clinic=clinic, appointments=by_site.get(site, []))
    return written


def chart_today(*, clinic: Clinic, appointments: list[Appointment]) -> int:
    """Chart today's appointments of a site whose readiness check is recorded (see
    ``seed_today_sessions``); returns how many were charted or checked in."""
    people = _users(clinic)
    now = timezone.now()
    written = 0
    left_waiting = False
    for appointment in appointments:
        minutes = (now - appointment.starts_at).total_seconds() / 60
        try:
            with transaction.atomic():
                if minutes < PRE_CHECK_AFTER:
                    # The next patient is checked in, the session not opened yet.
                    if left_waiting or appointment.status != Appointment.Status.BOOKED:
                        continue
                    appointment_set_status(
                        user=people["desk"],
                        appointment=appointment,
                        status=Appointment.Status.CHECKED_IN,
                    )
                    left_waiting = True
                else:
                    _chart_today(appointment, people, minutes)
        except (Conflict, InvalidInput, Forbidden):
            continue
        written += 1
    return written
