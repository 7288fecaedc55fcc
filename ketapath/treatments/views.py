"""Session workflow pages (issue 8): the day's readiness check at the current site,
opening a session from a checked-in appointment, and ONE page per session with a small
POST URL for each step (pre-check, override, dose order, second check and
administration, vitals, alert clearing, adverse events, ratings, discharge, leaving
against medical advice, completion, abort).

The views are thin: services.py and charting.py hold every rule (hard stops, the second
check, discharge criteria) and their field errors are shown beside the fields, with 422
for bad input and 409 for a hard stop or a conflict of state; nothing is saved then.
Reading and documenting needs SESSION_DOCUMENT (medical director, prescriber, nurse) at the
session's site, ordering the dose and overriding SESSION_SIGN; front desk and billers get
403, another site's session 404. Every read of the page is audited. Times are the site's,
with the zone shown (DESIGN §5 item 9, §11).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import wraps
from typing import Any
from uuid import UUID

from django import forms as dj_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit, co_signer_verify
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from ketapath.core.forms import apply_errors, safe_next
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today
from ketapath.patients.views import patient_for_request
from ketapath.pharmacy.models import Substance, Vial
from ketapath.scheduling.models import Appointment
from ketapath.scheduling.selectors import appointment_get_for_user
from ketapath.treatments import charting, rules, selectors, services
from ketapath.treatments.forms import (
    ALDRETE_LABELS,
    PREGNANCY_CHOICES,
    RULE_LABELS,
    AbortForm,
    AdministrationForm,
    AdverseEventForm,
    AlertClearForm,
    AmaForm,
    DischargeForm,
    DoseOrderForm,
    OverrideForm,
    PreCheckForm,
    RatingsForm,
    ReadinessForm,
    VitalsForm,
)
from ketapath.treatments.models import READINESS_ITEMS, SessionAlert, TreatmentSession

Status = TreatmentSession.Status

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_SESSIONS_FORBIDDEN = "Your role does not allow reading session notes here."
MESSAGE_READINESS_SAVED = "Today's readiness check is recorded. Sessions can be opened."
MESSAGE_OPENED = "Session opened. Start with the pre-check."
MESSAGE_PRE_CHECK_SAVED = "Pre-check saved."
MESSAGE_OVERRIDE_SAVED = "Override recorded ({rule}). Now repeat the step that was stopped."
MESSAGE_ORDERED = "Dose ordered: {dose}."
MESSAGE_GIVEN = "Second check matched; the dose is recorded as given and drawn from the ledger."
MESSAGE_VITALS_SAVED = "Vitals recorded."
MESSAGE_VITALS_ALERT = (
    "Vitals recorded. Alert raised: {summary}. Clear it with a note once handled."
)
MESSAGE_ALERT_CLEARED = "Alert cleared."
MESSAGE_AE_SAVED = "Adverse event recorded."
MESSAGE_RATINGS_SAVED = "Ratings recorded."
MESSAGE_DISCHARGED = "Discharged: the patient leaves."
MESSAGE_READY = "All discharge criteria are met; the patient is ready and waiting."
MESSAGE_AMA_SAVED = "Recorded: the patient left against medical advice."
MESSAGE_COMPLETED = "The note is completed; the prescriber signs it next."
MESSAGE_ABORTED = "The session is aborted."
MESSAGE_NOTHING_CHANGED = "Nothing changed in the pre-check."

# The state strip (status by word, with a shape from the badge class; DESIGN §11).
STEPS: tuple[tuple[str, str], ...] = (
    (Status.PRE_CHECK, "Pre-check"),
    (Status.DOSED, "Dosed"),
    (Status.MONITORING, "Monitoring"),
    (Status.READY, "Ready"),
    (Status.DISCHARGED, "Discharged"),
    (Status.SIGNED, "Signed"),
)
STEP_INDEX = {key: i for i, (key, _) in enumerate(STEPS)}
PLAN_BADGES = {
    rules.VitalsStatus.DONE: ("badge-ok", "Done"),
    rules.VitalsStatus.DUE: ("badge-warn", "Due now"),
    rules.VitalsStatus.OVERDUE: ("badge-danger", "Overdue"),
    rules.VitalsStatus.UPCOMING: ("badge-neutral", "Upcoming"),
}
PRE_CHECK_LABELS = {name: str(field.label) for name, field in PreCheckForm.base_fields.items()} | {
    "questionnaires_note": "Why the pre-session questionnaires are not done"
}
COMPLETION_LABELS = {
    "pain_before": "Pain before the dose (pre-check)",
    "pain_after": "Pain before discharge (ratings)",
    "dissociation_score": "Dissociation rating (ratings)",
}
# Steps whose hard stop shows inside their own section (where the browser lands).
IN_SECTION_STOPS = ("pre-check", "dose", "administration", "discharge")
ITEM_LABELS = {**ALDRETE_LABELS, "spo2": ALDRETE_LABELS["spo2_points"]}
ROUTE_LABELS = {rules.ROUTE_IM: "IM", rules.ROUTE_IV: "IV"}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _session(request: HttpRequest, session_id: UUID) -> TreatmentSession:
    try:
        return selectors.session_get_for_user(user=_user(request), session_id=session_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def _back(session: TreatmentSession, anchor: str = "") -> HttpResponse:
    url = reverse("treatments:session", kwargs={"session_id": session.id})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _errors_to(form: dj_forms.BaseForm, exc: ApplicationError, names: dict[str, str]) -> None:
    renamed = [FieldError(names.get(e.field, e.field), e.rule) for e in exc.errors]
    apply_errors(form, ApplicationError(exc.message, errors=renamed))


# --- readiness ---------------------------------------------------------------------------


def _readiness_site(request: HttpRequest) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    try:
        return selectors.session_clinic_for_user(user=_user(request), clinic_id=clinic.id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


@login_required
@require_http_methods(["GET", "POST"])
def readiness(request: HttpRequest) -> HttpResponse:
    """Today's check of emergency equipment and rescue drugs at the current site."""
    clinic = _readiness_site(request)
    today_check = services.readiness_today(clinic=clinic)
    status = 200
    form = ReadinessForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.readiness_record(user=_user(request), clinic=clinic, items=form.items())
            except ApplicationError as exc:
                apply_errors(form, exc, prefix="items.")
                status = exc.status
            else:
                messages.success(request, MESSAGE_READINESS_SAVED)
                return redirect(safe_next(request) or reverse("treatments:readiness"))
        else:
            status = 422
    return render(
        request,
        "treatments/readiness.html",
        {
            "clinic": clinic,
            "check": today_check,
            "items": READINESS_ITEMS,
            "form": form,
            "today": local_today(clinic.time_zone),
        },
        status=status,
    )


# --- opening ------------------------------------------------------------------------------


def _appointment(request: HttpRequest, appointment_id: UUID) -> Appointment:
    user = _user(request)
    try:
        appointment = appointment_get_for_user(user=user, appointment_id=appointment_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    if appointment.clinic_id not in clinic_ids_for(user):
        raise Http404(selectors.MESSAGE_SESSION_NOT_FOUND)
    if not user.can(Capability.SESSION_DOCUMENT, appointment.clinic_id):
        raise PermissionDenied(services.MESSAGE_DOCUMENT_FORBIDDEN)
    return appointment


@login_required
@require_http_methods(["GET", "POST"])
def session_open(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    """Open the session of a checked-in appointment (GET: a confirmation page)."""
    appointment = _appointment(request, appointment_id)
    existing = TreatmentSession.objects.filter(appointment=appointment).first()
    if existing is not None:
        return _back(existing)
    if request.method == "POST":
        try:
            session = services.session_open(user=_user(request), appointment=appointment)
        except services.HardStop as exc:
            messages.error(request, exc.message)
            if exc.rule == services.RULE_READINESS:
                url = reverse("treatments:readiness")
                return redirect(f"{url}?next={request.path}")
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, MESSAGE_OPENED)
            return _back(session)
    audit(
        user=_user(request),
        action=Action.READ,
        clinic_id=appointment.clinic_id,
        patient_id=appointment.patient_id,
        object_type="appointment",
        object_id=appointment.id,
        detail={"via": "session_open"},
    )
    with timezone.override(appointment.clinic.time_zone):
        return render(
            request,
            "treatments/session_open.html",
            {
                "appointment": appointment,
                "patient": appointment.patient,
                "zone": appointment.clinic.time_zone,
                "ready": services.readiness_today(clinic=appointment.clinic) is not None,
            },
        )


# --- the session page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """A hard stop that came back from the last step, for the stop box."""

    rule: str
    message: str
    overridable: bool
    unmet: list[tuple[str, str]]
    observation_ends_at: Any = None

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)


def _stop(exc: services.HardStop, session: TreatmentSession) -> Stop:
    unmet = [(u, charting.DISCHARGE_LABELS.get(u, u)) for u in exc.extra.get("unmet", [])]
    ends = None
    if "observation_time" in exc.extra.get("unmet", []) and session.given_at is not None:
        from ketapath.clinics.selectors import clinic_policy_current

        minutes = clinic_policy_current(clinic=session.clinic).min_observation_minutes
        ends = session.given_at + timedelta(minutes=minutes)
    return Stop(exc.rule, exc.message, bool(exc.extra.get("overridable")), unmet, ends)


def usable_vials(session: TreatmentSession) -> list[Vial]:
    """Ketamine vials at the session's site a dose may be drawn from: in stock or opened,
    in date and not past their beyond-use time (as services._usable_vial checks)."""
    now = timezone.now()
    return list(
        Vial.objects.filter(
            clinic_id=session.clinic_id,
            substance=Substance.KETAMINE,
            status__in=[Vial.Status.IN_STOCK, Vial.Status.OPEN],
            expiry__gte=local_today(session.clinic.time_zone),
        )
        .filter(Q(beyond_use_at__isnull=True) | Q(beyond_use_at__gt=now))
        .order_by("-status", "expiry", "label")
    )


def dose_words(mg: Decimal | None, ml: Decimal | None, conc: Decimal | None) -> str:
    """mg, mL and mg/mL always together, e.g. "35.0 mg = 0.70 mL of 50 mg/mL"."""
    if mg is None or ml is None or conc is None:
        return ""
    return f"{mg.quantize(Decimal('0.1'))} mg = {ml:.2f} mL of {conc.normalize():f} mg/mL"


def _note_url(session: TreatmentSession) -> str:
    try:
        return reverse("treatments:note", kwargs={"session_id": session.id})
    except NoReverseMatch:
        return f"/sessions/{session.id}/note/"


def _default_forms(request: HttpRequest, session: TreatmentSession) -> dict[str, Any]:
    now = timezone.localtime()
    iv = session.course.protocol.route == rules.ROUTE_IV
    pre = session.pre_check or {}
    discharge = session.discharge or {}
    return {
        "pre_check_form": PreCheckForm(
            initial={
                **_escort_on_file(session),
                **{k: v for k, v in pre.items() if k in PreCheckForm.base_fields},
            }
        ),
        "override_form": OverrideForm(),
        "dose_form": DoseOrderForm(
            initial={"mg_per_kg": session.course.ordered_mg_per_kg, "weight_kg": session.weight_kg},
            vials=_vials_if_needed(request, session),
        ),
        "admin_form": AdministrationForm(
            initial={
                "given_at": now.replace(second=0, microsecond=0),
                "amount_mg": session.dose_mg,
            },
            iv=iv,
        ),
        "vitals_form": VitalsForm(),
        "ae_form": AdverseEventForm(initial={"onset": now.replace(second=0, microsecond=0)}),
        "ratings_form": RatingsForm(
            initial={
                "pain_after": session.pain_after,
                "dissociation_scale": session.dissociation_scale,
                "dissociation_score": session.dissociation_score,
            }
        ),
        "discharge_form": DischargeForm(
            initial={"escort_name": discharge.get("escort_name") or pre.get("escort_name")}
        ),
        "ama_form": AmaForm(),
        "abort_form": AbortForm(),
        "alert_forms": {},
    }


def _escort_on_file(session: TreatmentSession) -> dict[str, str]:
    """The patient's active escort on file, offered in the pre-check until one is saved."""
    if (session.pre_check or {}).get("escort_name"):
        return {}
    escort = session.patient.escorts.filter(active=True).order_by("name").first()
    return {"escort_name": escort.name, "escort_phone": escort.phone} if escort else {}


def _vials_if_needed(request: HttpRequest, session: TreatmentSession) -> list[Vial]:
    if (
        session.status == Status.PRE_CHECK
        and session.dose_mg is None
        and _can_order(request, session)
    ):
        return usable_vials(session)
    return []


def _can_order(request: HttpRequest, session: TreatmentSession) -> bool:
    return _user(request).can(Capability.SESSION_SIGN, session.clinic_id)


def _can_override(request: HttpRequest, session: TreatmentSession) -> bool:
    user = _user(request)
    return user.can(Capability.SESSION_SIGN, session.clinic_id) or user.can(
        Capability.EVALUATION_SIGN, session.clinic_id
    )


def _steps(session: TreatmentSession) -> list[dict[str, str]]:
    if session.status == Status.ABORTED:
        return [{"label": label, "state": "stopped", "word": "Not reached"} for _, label in STEPS]
    here = STEP_INDEX[session.status]
    out = []
    for i, (_, label) in enumerate(STEPS):
        if i < here or (i == here and session.status == Status.SIGNED):
            out.append({"label": label, "state": "done", "word": "Done"})
        elif i == here:
            out.append({"label": label, "state": "current", "word": "Now"})
        else:
            out.append({"label": label, "state": "todo", "word": "To come"})
    return out


def _page(
    request: HttpRequest,
    session: TreatmentSession,
    *,
    status: int = 200,
    stop: Stop | None = None,
    focus: str = "",
    **bound: Any,
) -> HttpResponse:
    """The session page, with any bound form (its errors beside the fields)."""
    user = _user(request)
    audit(
        user=user,
        action=Action.READ,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="treatment_session",
        object_id=session.id,
        detail={"via": "page"},
    )
    now = timezone.now()
    readings = selectors.session_readings(session)
    plan = selectors.vitals_plan(session, now, readings)
    alerts = list(session.alerts.select_related("raised_by", "cleared_by"))
    context = _default_forms(request, session)
    context.update(bound)
    alert_forms = context["alert_forms"]
    open_alerts = [
        (a, alert_forms.get(a.id) or AlertClearForm(prefix=f"alert-{a.id}"))
        for a in alerts
        if a.is_open
    ]
    pre = session.pre_check or {}
    missing = services.pre_check_missing(session) if session.status == Status.PRE_CHECK else []
    ordered = session.dose_mg is not None
    given = session.given_at is not None
    open_session = not session.is_closed
    discharge = session.discharge or {}
    context.update(
        {
            "session": session,
            "patient": session.patient,
            "course": session.course,
            "protocol": session.course.protocol,
            "route_label": ROUTE_LABELS.get(session.course.protocol.route, ""),
            "zone": session.clinic.time_zone,
            "steps": _steps(session),
            "stop": stop,
            "focus": focus,
            "failed": status >= 400,
            "in_section_stops": IN_SECTION_STOPS,
            "pre": pre,
            "pre_check_missing": [(m, PRE_CHECK_LABELS.get(m, m)) for m in missing],
            # Live during the pre-check (answers may arrive while the patient waits).
            "questionnaires_missing": services.pre_session_questionnaires_missing(session)
            if session.status == Status.PRE_CHECK
            else pre.get("questionnaires_missing") or [],
            "overrides": list(session.overrides.select_related("by")),
            "can_order": _can_order(request, session),
            "can_override": _can_override(request, session),
            "ordered": ordered,
            "given": given,
            "is_open": open_session,
            "show_pre_check_form": open_session and session.status == Status.PRE_CHECK,
            "show_dose_form": open_session
            and session.status == Status.PRE_CHECK
            and not ordered
            and not missing,
            "show_admin_form": open_session and session.status == Status.PRE_CHECK and ordered,
            "monitoring": open_session and given and session.status in charting.VITALS_OPEN,
            "show_discharge_form": open_session
            and given
            and session.status in (Status.DOSED, Status.MONITORING, Status.READY),
            "show_ratings_form": open_session
            and given
            and (
                session.status != Status.DISCHARGED
                or session.pain_after is None
                or session.dissociation_score is None
            ),
            "show_complete": open_session
            and session.status == Status.DISCHARGED
            and session.completed_at is None,
            "dose_words": dose_words(
                session.dose_mg, session.volume_ml, session.concentration_mg_per_ml
            ),
            "given_words": dose_words(
                session.amount_mg, session.amount_ml, session.concentration_mg_per_ml
            ),
            "readings": readings,
            "plan": [
                {
                    "due": p,
                    "badge": PLAN_BADGES[p.status][0],
                    # After discharge an overdue reading can no longer be taken.
                    "word": "Missed"
                    if session.discharged_at and p.status == rules.VitalsStatus.OVERDUE
                    else PLAN_BADGES[p.status][1],
                }
                for p in plan
            ],
            "summary": selectors.vitals_summary(plan),
            "alerts": alerts,
            "open_alerts": open_alerts,
            "cleared_alerts": [a for a in alerts if not a.is_open],
            "adverse_events": list(session.adverse_events.select_related("recorded_by")),
            "discharge": discharge,
            "discharge_checks": [
                (name, charting.DISCHARGE_LABELS[name], discharge.get(name))
                for name in charting.DISCHARGE_CHECKS
            ],
            "aldrete_items": [
                (ITEM_LABELS.get(k, k.title()), v)
                for k, v in (discharge.get("aldrete") or {}).items()
            ],
            "completion_missing": [
                COMPLETION_LABELS.get(m, m) for m in charting.completion_missing(session)
            ]
            if session.status == Status.DISCHARGED
            else [],
            "note_url": _note_url(session),
            "pre_systolic": pre.get("systolic"),
            "pregnancy_label": dict(PREGNANCY_CHOICES).get(pre.get("pregnancy_status") or ""),
        }
    )
    return render(request, "treatments/session.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def session_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _session(request, session_id)
    with timezone.override(session.clinic.time_zone):
        return _page(request, session)


def _step(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST step: loads the session (404 outside the user's sites, 403 for a role that
    may not), parses and shows times in the site's zone, then runs the step; a service's
    refusal re-renders the page with the bound form, its errors beside the fields, and
    422/409."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, session_id: UUID, **kwargs: Any) -> HttpResponse:
        session = _session(request, session_id)
        with timezone.override(session.clinic.time_zone):
            return view(request, session, **kwargs)

    return wrapper


def _refused(
    request: HttpRequest,
    session: TreatmentSession,
    form_name: str,
    form: dj_forms.BaseForm,
    exc: ApplicationError,
    names: dict[str, str] | None = None,
    anchor: str = "",
) -> HttpResponse:
    """Re-render after a service refused: a hard stop in the stop box, field errors beside
    the fields, any other conflict above the form."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message)
    session.refresh_from_db()
    stop = None
    if isinstance(exc, services.HardStop):
        stop = _stop(exc, session)
    else:
        _errors_to(form, exc, names or {})
    return _page(request, session, status=exc.status, stop=stop, focus=anchor, **{form_name: form})


def _invalid(
    request: HttpRequest, session: TreatmentSession, form_name: str, form: Any, anchor: str
) -> HttpResponse:
    return _page(request, session, status=422, focus=anchor, **{form_name: form})


@_step
def pre_check(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = PreCheckForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "pre_check_form", form, "pre-check")
    data = form.changed(session.pre_check or {})
    if not data:
        messages.info(request, MESSAGE_NOTHING_CHANGED)
        return _back(session, "pre-check")
    try:
        services.precheck_update(user=_user(request), session=session, data=data)
    except ApplicationError as exc:
        return _refused(request, session, "pre_check_form", form, exc, anchor="pre-check")
    messages.success(request, MESSAGE_PRE_CHECK_SAVED)
    return _back(session, "pre-check")


@_step
def override(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    if not _can_override(request, session):
        raise PermissionDenied(services.MESSAGE_OVERRIDE_FORBIDDEN)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "override_form", form, "overrides")
    try:
        done = services.override_add(
            user=_user(request),
            session=session,
            rule=form.cleaned_data["rule"],
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as exc:
        return _refused(request, session, "override_form", form, exc, anchor="overrides")
    messages.success(request, MESSAGE_OVERRIDE_SAVED.format(rule=RULE_LABELS.get(done.rule)))
    return _back(session)


@_step
def dose_order(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    if not _can_order(request, session):
        raise PermissionDenied(services.MESSAGE_ORDER_FORBIDDEN)
    form = DoseOrderForm(request.POST, vials=usable_vials(session))
    if not form.is_valid():
        return _invalid(request, session, "dose_form", form, "dose")
    data = form.cleaned_data
    try:
        result = services.dose_order(
            user=_user(request),
            session=session,
            weight_kg=data["weight_kg"],
            vial_id=data["vial"],
            mg_per_kg=data["mg_per_kg"],
            mg_per_kg_reason=data.get("mg_per_kg_reason") or "",
            weight_change_confirmed=bool(data.get("weight_change_confirmed")),
        )
    except ApplicationError as exc:
        return _refused(request, session, "dose_form", form, exc, anchor="dose")
    words = dose_words(result.dose_mg, result.volume_ml, result.concentration_mg_per_ml)
    messages.success(request, MESSAGE_ORDERED.format(dose=words))
    return _back(session, "administration")


ADMIN_FIELDS = {
    "second_check.dose_mg": "check_dose_mg",
    "second_check.volume_ml": "check_volume_ml",
    "second_check": "check_dose_mg",
    "co_sign": "co_sign_username",
    "co_sign.username": "co_sign_username",
    "co_sign.password": "co_sign_password",
}


@_step
def administration(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    iv = session.course.protocol.route == rules.ROUTE_IV
    form = AdministrationForm(request.POST, iv=iv)
    if not form.is_valid():
        return _invalid(request, session, "admin_form", form, "administration")
    data = form.cleaned_data
    user = _user(request)
    try:
        second = co_signer_verify(
            request=request,
            username=data["co_sign_username"],
            password=data["co_sign_password"],
            acting_user=user,
            clinic=session.clinic,
            allowed_roles=charting.CO_SIGN_ROLES,
            who="a licensed nurse or prescriber",
            purpose="ketamine_second_check",
            patient_id=session.patient_id,
        )
        charting.administration_record(
            user=user,
            second=second,
            session=session,
            check=charting.SecondCheck(data["check_dose_mg"], data["check_volume_ml"]),
            injection_site=data["injection_site"],
            given_at=data.get("given_at"),
            amount_mg=data.get("amount_mg"),
            partial_reason=data.get("partial_reason") or "",
            infusion_minutes=data.get("infusion_minutes"),
            infusion_rate_mg_per_hr=data.get("infusion_rate_mg_per_hr"),
        )
    except ApplicationError as exc:
        return _refused(
            request, session, "admin_form", form, exc, ADMIN_FIELDS, anchor="administration"
        )
    messages.success(request, MESSAGE_GIVEN)
    return _back(session, "vitals")


@_step
def vitals(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = VitalsForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "vitals_form", form, "vitals")
    try:
        result = charting.vitals_record(
            user=_user(request),
            session=session,
            values=form.values(),
            spo2_low_seconds=form.cleaned_data.get("spo2_low_seconds"),
        )
    except ApplicationError as exc:
        return _refused(request, session, "vitals_form", form, exc, anchor="vitals")
    if result.alerts:
        summary = "; ".join(a.summary for a in result.alerts)
        messages.warning(request, MESSAGE_VITALS_ALERT.format(summary=summary))
        return _back(session, "alerts")
    messages.success(request, MESSAGE_VITALS_SAVED)
    return _back(session, "vitals")


@_step
def alert_clear(request: HttpRequest, session: TreatmentSession, alert_id: UUID) -> HttpResponse:
    alert = SessionAlert.objects.filter(id=alert_id, session=session).first()
    if alert is None:
        raise Http404("No such alert in this session.")
    alert.session = session
    form = AlertClearForm(request.POST, prefix=f"alert-{alert.id}")
    if not form.is_valid():
        return _invalid(request, session, "alert_forms", {alert.id: form}, "alerts")
    try:
        charting.session_alert_clear(
            user=_user(request), alert=alert, note=form.cleaned_data["note"]
        )
    except ApplicationError as exc:
        if isinstance(exc, Forbidden):
            raise PermissionDenied(exc.message) from exc
        _errors_to(form, exc, {})
        return _page(request, session, status=exc.status, alert_forms={alert.id: form})
    messages.success(request, MESSAGE_ALERT_CLEARED)
    return _back(session, "alerts")


@_step
def adverse_event(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = AdverseEventForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "ae_form", form, "adverse-events")
    data = form.cleaned_data
    try:
        charting.adverse_event_record(
            user=_user(request),
            session=session,
            kind=data["kind"],
            severity=data["severity"],
            onset=data["onset"],
            action=data["action"],
            description=data.get("description") or "",
            medication=data.get("medication") or "",
        )
    except ApplicationError as exc:
        return _refused(request, session, "ae_form", form, exc, anchor="adverse-events")
    messages.success(request, MESSAGE_AE_SAVED)
    return _back(session, "adverse-events")


@_step
def ratings(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = RatingsForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "ratings_form", form, "ratings")
    data = form.cleaned_data
    scale = data.get("dissociation_scale") or None
    score = data.get("dissociation_score")
    try:
        charting.ratings_record(
            user=_user(request),
            session=session,
            pain_after=data.get("pain_after"),
            dissociation_scale=scale,
            dissociation_score=score,
        )
    except ApplicationError as exc:
        return _refused(request, session, "ratings_form", form, exc, anchor="ratings")
    messages.success(request, MESSAGE_RATINGS_SAVED)
    return _back(session, "ratings")


@_step
def discharge(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = DischargeForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "discharge_form", form, "discharge")
    leave_now = form.cleaned_data["leave_now"] == "leave"
    try:
        charting.discharge_record(
            user=_user(request), session=session, data=form.data_for_service(), leave_now=leave_now
        )
    except ApplicationError as exc:
        return _refused(request, session, "discharge_form", form, exc, anchor="discharge")
    session.refresh_from_db(fields=["status"])
    messages.success(
        request, MESSAGE_DISCHARGED if session.status == Status.DISCHARGED else MESSAGE_READY
    )
    return _back(session, "discharge")


@_step
def against_advice(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = AmaForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "ama_form", form, "ama")
    try:
        charting.discharge_record(
            user=_user(request),
            session=session,
            data={},
            against_medical_advice=True,
            ama_note=form.cleaned_data["ama_note"],
        )
    except ApplicationError as exc:
        return _refused(request, session, "ama_form", form, exc, anchor="ama")
    messages.success(request, MESSAGE_AMA_SAVED)
    return _back(session, "complete")


@_step
def complete(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    try:
        charting.session_complete(user=_user(request), session=session)
    except ApplicationError as exc:
        if isinstance(exc, Forbidden):
            raise PermissionDenied(exc.message) from exc
        missing = ", ".join(COMPLETION_LABELS.get(e.field, e.field) for e in exc.errors)
        messages.error(request, f"{exc.message} {missing}".strip())
        session.refresh_from_db()
        return _page(request, session, status=exc.status, focus="complete")
    messages.success(request, MESSAGE_COMPLETED)
    return _back(session, "complete")


@_step
def abort(request: HttpRequest, session: TreatmentSession) -> HttpResponse:
    form = AbortForm(request.POST)
    if not form.is_valid():
        return _invalid(request, session, "abort_form", form, "abort")
    try:
        services.session_abort(
            user=_user(request), session=session, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        return _refused(request, session, "abort_form", form, exc, anchor="abort")
    messages.success(request, MESSAGE_ABORTED)
    return _back(session)


# --- a patient's sessions -------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def patient_sessions(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """Every ketamine session of the patient at the user's documenting sites, latest first,
    paginated, with links to the session and its note."""
    patient = patient_for_request(request, patient_id, audit_read=True)
    user = _user(request)
    sites: set[UUID] = getattr(patient, "access_clinic_ids", set())
    if not any(user.can(Capability.SESSION_DOCUMENT, site) for site in sites):
        raise PermissionDenied(MESSAGE_SESSIONS_FORBIDDEN)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(selectors.sessions_for_patient(user=user, patient_id=patient.id), number, size)
    audit(
        user=user,
        action=Action.SEARCH,
        patient_id=patient.id,
        object_type="treatment_session",
        detail={"count": page.count, "ids": [str(s.id) for s in page.items]},
    )
    rows = [
        {
            "session": s,
            "dose": dose_words(
                s.amount_mg or s.dose_mg, s.amount_ml or s.volume_ml, s.concentration_mg_per_ml
            ),
            "given": s.amount_mg is not None,
        }
        for s in page.items
    ]
    return render(
        request,
        "treatments/patient_sessions.html",
        {"patient": patient, "rows": rows, "page": page, "querystring": ""},
    )


urlpatterns: list[URLPattern] = [
    path("sessions/readiness/", readiness, name="readiness"),
    path("patients/<uuid:patient_id>/sessions/", patient_sessions, name="patient_sessions"),
    path("appointments/<uuid:appointment_id>/session/open/", session_open, name="session_open"),
    path("sessions/<uuid:session_id>/", session_page, name="session"),
    path("sessions/<uuid:session_id>/pre-check/", pre_check, name="session_pre_check"),
    path("sessions/<uuid:session_id>/overrides/", override, name="session_override"),
    path("sessions/<uuid:session_id>/dose-order/", dose_order, name="session_dose_order"),
    path(
        "sessions/<uuid:session_id>/administration/",
        administration,
        name="session_administration",
    ),
    path("sessions/<uuid:session_id>/vitals/", vitals, name="session_vitals"),
    path(
        "sessions/<uuid:session_id>/alerts/<uuid:alert_id>/clear/",
        alert_clear,
        name="session_alert_clear",
    ),
    path("sessions/<uuid:session_id>/adverse-events/", adverse_event, name="session_adverse_event"),
    path("sessions/<uuid:session_id>/ratings/", ratings, name="session_ratings"),
    path("sessions/<uuid:session_id>/discharge/", discharge, name="session_discharge"),
    path("sessions/<uuid:session_id>/against-advice/", against_advice, name="session_ama"),
    path("sessions/<uuid:session_id>/complete/", complete, name="session_complete"),
    path("sessions/<uuid:session_id>/abort/", abort, name="session_abort"),
]
