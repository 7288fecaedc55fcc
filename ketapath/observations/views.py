"""Pages: record and list a patient's vitals; the site's safety alerts and clearing one."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from ketapath.core.forms import apply_errors, safe_next
from ketapath.core.pagination import clamp_page, paginate
from ketapath.observations import selectors, services
from ketapath.observations.forms import AlertClearForm, VitalsForm
from ketapath.observations.models import SafetyAlert
from ketapath.observations.schemas import alert_age_minutes
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_ALERTS_ROLE = "Your role at this site does not allow seeing safety alerts."


@login_required
@require_http_methods(["GET", "POST"])
def vitals_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    patient = patient_for_request(
        request, patient_id, Capability.PATIENT_WRITE, audit_read=request.method == "GET"
    )
    clinic = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    if not services.can_record(user, clinic.id):
        raise PermissionDenied(services.MESSAGE_WRITE_ROLE)
    timezone.activate(clinic.time_zone)
    form = VitalsForm(request.POST or None, zone_name=clinic.time_zone)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.observations_record(
                user=user,
                patient=patient,
                clinic=clinic,
                taken_at=form.cleaned_data["taken_at"],
                measurements=form.measurements(),
                context_kind=form.cleaned_data["context_kind"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Recorded {len(created)} measurement(s).")
            return redirect(safe_next(request) or "observations:vitals", patient_id=patient.id)
    return render(
        request,
        "observations/vitals_form.html",
        {"form": form, "patient": patient, "clinic": clinic},
    )


@login_required
def vitals_list(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    patient = patient_for_request(request, patient_id, Capability.PATIENT_READ, audit_read=True)
    clinic = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(
        selectors.observations_for_patient(patient=patient, time_zone=clinic.time_zone),
        number,
        size,
    )
    return render(
        request,
        "observations/vitals_list.html",
        {
            "patient": patient,
            "page": page,
            "querystring": "",
            "zone": clinic.time_zone,
            "can_record": services.can_record(user, clinic.id),
        },
    )


def age_text(minutes: int) -> str:
    """A wait as hours and minutes, e.g. "3 h 05 min"; days for long waits."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


def _alert_site(request: HttpRequest) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    user: User = request.user  # type: ignore[assignment]
    if not user.can(selectors.ALERT_VIEW_CAPABILITY, clinic.id):
        raise PermissionDenied(MESSAGE_ALERTS_ROLE)
    return clinic


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    clinic = _alert_site(request)
    cleared = request.GET.get("status") == SafetyAlert.Status.CLEARED
    status = SafetyAlert.Status.CLEARED if cleared else ""
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(
        selectors.alerts_for_user(user=user, clinic_id=clinic.id, status=status), number, size
    )
    now = timezone.now()
    rows = [
        {
            "alert": a,
            "age_text": age_text(alert_age_minutes(a, now)),
            "can_clear": a.status != SafetyAlert.Status.CLEARED and services.can_clear(user, a),
        }
        for a in page.items
    ]
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        object_type="safety_alert",
        detail={
            "status": status or "open",
            "patients": sorted({str(a.patient_id) for a in page.items}),
        },
    )
    return render(
        request,
        "observations/alert_list.html",
        {
            "clinic": clinic,
            "rows": rows,
            "page": page,
            "cleared": cleared,
            "querystring": urlencode({"status": status}) if status else "",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def alert_clear(request: HttpRequest, alert_id: UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not services.can_clear(user, alert):
        raise PermissionDenied(services.MESSAGE_CLEAR_ROLE)
    if request.method == "GET":
        audit(
            user=user,
            action=Action.READ,
            clinic_id=alert.clinic_id,
            patient_id=alert.patient_id,
            object_type="safety_alert",
            object_id=alert.id,
        )
    timezone.activate(alert.clinic.time_zone)
    form = AlertClearForm(request.POST or None, zone_name=alert.clinic.time_zone)
    if alert.status == SafetyAlert.Status.CLEARED:
        messages.info(request, services.MESSAGE_ALREADY_CLEARED)
        return redirect("observations:alerts")
    if request.method == "POST" and form.is_valid():
        try:
            services.safety_alert_clear(
                user=user,
                alert=alert,
                assessment=form.assessment(),
                plan=form.cleaned_data["plan"],
            )
        except Conflict as exc:
            messages.info(request, exc.message)
            return redirect("observations:alerts")
        except ApplicationError as exc:
            apply_errors(form, exc, prefix="assessment.")
        else:
            messages.success(request, f"Alert cleared for {alert.patient.display_name}.")
            return redirect("observations:alerts")
    return render(
        request,
        "observations/alert_clear.html",
        {
            "form": form,
            "alert": alert,
            "patient": alert.patient,
            "age_text": age_text(alert_age_minutes(alert)),
        },
    )
