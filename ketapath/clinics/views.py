"""Clinic admin pages (site details, hours, closures, rooms) and the clinic policy page.

All pages work on the site chosen in the switcher (``request.clinic_id``). The admin pages
need the staff-manage capability there; the policy page is open to everyone working at the
site, and only the medical director may change the policy.
"""

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketapath.clinics.forms import (
    COMMON_TIME_ZONES,
    ClinicDetailsForm,
    ClosureForm,
    HoursFormSet,
    PolicyForm,
    RoomForm,
    policy_setting_meta,
)
from ketapath.clinics.models import Clinic, ClinicPolicy, OpeningHours
from ketapath.clinics.selectors import (
    clinic_admin_overview,
    clinic_get,
    clinic_policy_current,
    clinic_policy_history,
    clinic_policy_version,
    closure_for_clinic,
    closures_for_clinic,
    opening_hours_for_clinic,
    room_for_clinic,
)
from ketapath.clinics.services import (
    MESSAGE_POLICY_FORBIDDEN,
    MESSAGE_STAFF_MANAGE_FORBIDDEN,
    Actor,
    clinic_policy_update,
    clinic_update,
    closure_create,
    closure_delete,
    opening_hours_set,
    room_create,
    room_update,
)
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import ConfirmForm, apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today, to_local
from ketapath.core.validators import format_phone

MESSAGE_NO_SITE = "You do not work at any active clinic site."
MESSAGE_DETAILS_SAVED = "The site's details are saved."
MESSAGE_HOURS_SAVED = "The opening hours are saved."
MESSAGE_CLOSURE_SAVED = "The closure is recorded."
MESSAGE_CLOSURE_DELETED = "The closure is deleted."
MESSAGE_ROOM_SAVED = "The room is saved."
MESSAGE_POLICY_SAVED = "Policy version {version} is now in force."

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"
EN_DASH = "\u2013"


def _actor(request: HttpRequest) -> Actor:
    return cast(Actor, request.user)


def _current_clinic(request: HttpRequest) -> Clinic:
    """The site chosen in the switcher; someone without any site may not use these pages."""
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    return clinic


def _require(request: HttpRequest, clinic: Clinic, capability: Capability, message: str) -> None:
    if not _actor(request).can(capability, clinic.id):
        raise PermissionDenied(message)


def _admin_clinic(request: HttpRequest) -> Clinic:
    clinic = _current_clinic(request)
    _require(request, clinic, Capability.STAFF_MANAGE, MESSAGE_STAFF_MANAGE_FORBIDDEN)
    return clinic


def _page_context(clinic: Clinic, **extra: Any) -> dict[str, Any]:
    return {"clinic": clinic, **extra}


def _week(hours: list[OpeningHours]) -> list[tuple[str, list[str]]]:
    """Every weekday, Monday first, with its opening intervals (none: closed)."""
    by_day: dict[int, list[str]] = {day: [] for day in OpeningHours.Weekday.values}
    for row in hours:
        by_day[row.weekday].append(f"{row.opens:%H:%M}{EN_DASH}{row.closes:%H:%M}")
    return [(OpeningHours.Weekday(day).label, by_day[day]) for day in sorted(by_day)]


@login_required
@require_GET
def admin_hub(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    overview = clinic_admin_overview(clinic_id=clinic.id, today=local_today(clinic.time_zone))
    if overview is None:
        raise Http404
    return render(
        request,
        "clinics/admin_hub.html",
        _page_context(
            clinic,
            overview=overview,
            week=_week(overview.hours),
            phone_display=format_phone(clinic.phone),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def details_edit(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    if request.method == "POST":
        form = ClinicDetailsForm(request.POST)
        if form.is_valid():
            try:
                clinic_update(user=_actor(request), clinic=clinic, data=form.cleaned_data)
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_DETAILS_SAVED)
                return redirect("clinics:admin")
    else:
        form = ClinicDetailsForm(initial=ClinicDetailsForm.initial_for(clinic))
    return render(
        request,
        "clinics/details_form.html",
        _page_context(clinic, form=form, time_zones=COMMON_TIME_ZONES),
    )


@login_required
@require_http_methods(["GET", "POST"])
def hours_edit(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    initial = [
        {"weekday": row.weekday, "opens": row.opens, "closes": row.closes}
        for row in opening_hours_for_clinic(clinic=clinic)
    ]
    if request.method == "POST":
        formset = HoursFormSet(request.POST, initial=initial, prefix="hours")
        if formset.is_valid():
            rows, positions = formset.rows()
            try:
                opening_hours_set(user=_actor(request), clinic=clinic, hours=rows)
            except ApplicationError as exc:
                formset.apply_errors(exc, positions)
            else:
                messages.success(request, MESSAGE_HOURS_SAVED)
                return redirect("clinics:admin")
    else:
        formset = HoursFormSet(initial=initial, prefix="hours")
    has_errors = request.method == "POST" and (
        any(form.errors for form in formset.forms) or bool(formset.non_form_errors())
    )
    return render(
        request,
        "clinics/hours_form.html",
        _page_context(clinic, formset=formset, has_errors=has_errors),
    )


@login_required
@require_GET
def closure_list(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    past = request.GET.get("show") == "past"
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    closures = closures_for_clinic(clinic=clinic, past=past, today=local_today(clinic.time_zone))
    page = paginate(closures, number, size)
    return render(
        request,
        "clinics/closure_list.html",
        _page_context(clinic, page=page, past=past, querystring="show=past" if past else ""),
    )


@login_required
@require_http_methods(["GET", "POST"])
def closure_new(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    if request.method == "POST":
        form = ClosureForm(request.POST)
        if form.is_valid():
            try:
                closure_create(user=_actor(request), clinic=clinic, **form.cleaned_data)
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_CLOSURE_SAVED)
                return redirect("clinics:closures")
    else:
        form = ClosureForm()
    return render(request, "clinics/closure_form.html", _page_context(clinic, form=form))


def _object_clinic(request: HttpRequest) -> Clinic:
    """For pages about one object: without a site, no object can be theirs (404)."""
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise Http404
    return clinic


@login_required
@require_http_methods(["GET", "POST"])
def closure_delete_view(request: HttpRequest, closure_id: UUID) -> HttpResponse:
    clinic = _object_clinic(request)
    closure = closure_for_clinic(clinic=clinic, closure_id=closure_id)
    if closure is None:
        raise Http404
    _require(request, clinic, Capability.STAFF_MANAGE, MESSAGE_STAFF_MANAGE_FORBIDDEN)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            closure_delete(user=_actor(request), closure=closure)
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_CLOSURE_DELETED)
            return redirect("clinics:closures")
    return render(
        request, "clinics/closure_delete.html", _page_context(clinic, closure=closure, form=form)
    )


@login_required
@require_http_methods(["GET", "POST"])
def room_new(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    if request.method == "POST":
        form = RoomForm(request.POST)
        if form.is_valid():
            try:
                room_create(user=_actor(request), clinic=clinic, **form.cleaned_data)
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_ROOM_SAVED)
                return redirect("clinics:admin")
    else:
        form = RoomForm()
    return render(request, "clinics/room_form.html", _page_context(clinic, form=form, room=None))


@login_required
@require_http_methods(["GET", "POST"])
def room_edit(request: HttpRequest, room_id: UUID) -> HttpResponse:
    clinic = _object_clinic(request)
    room = room_for_clinic(clinic=clinic, room_id=room_id)
    if room is None:
        raise Http404
    _require(request, clinic, Capability.STAFF_MANAGE, MESSAGE_STAFF_MANAGE_FORBIDDEN)
    if request.method == "POST":
        form = RoomForm(request.POST)
        if form.is_valid():
            try:
                room_update(user=_actor(request), room=room, **form.cleaned_data)
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_ROOM_SAVED)
                return redirect("clinics:admin")
    else:
        form = RoomForm(initial={"name": room.name, "kind": room.kind, "active": room.active})
    return render(request, "clinics/room_form.html", _page_context(clinic, form=form, room=room))


@dataclass(frozen=True)
class PolicySetting:
    name: str
    label: str
    value: Any
    help_text: str


@dataclass(frozen=True)
class PolicyVersionRow:
    version: int
    changed_by: str
    changed_at: str
    reason: str
    changes: list[str]


def _settings(policy: ClinicPolicy) -> list[PolicySetting]:
    out = []
    for name in ClinicPolicy.EDITABLE_FIELDS:
        label, help_text = policy_setting_meta(name)
        field = ClinicPolicy._meta.get_field(name)
        value = getattr(policy, name)
        if isinstance(field, models.Field) and field.choices:
            # A choice reads as its label ("±20 mm Hg of the pre-dose level"), not its code.
            value = dict(field.flatchoices).get(value, value)
        out.append(PolicySetting(name=name, label=label, value=value, help_text=help_text))
    return out


def _shown(value: Any) -> str:
    return "not set" if value is None or value == "" else str(value)


def _class_changes(before: ClinicPolicy, after: ClinicPolicy) -> list[str]:
    """Each contraindication whose class changed between two versions (keys as stored;
    a key absent from a version holds its shipped class, shown as "shipped class")."""
    old = before.contraindication_classes or {}
    new = after.contraindication_classes or {}
    return [
        f"Contraindication class of {key.replace('_', ' ')}: "
        f"{old.get(key, 'shipped class')} → {new.get(key, 'shipped class')}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def _history_rows(clinic: Clinic, versions: list[ClinicPolicy]) -> list[PolicyVersionRow]:
    """Each version with what it changed against the one before it (one extra read at most)."""
    older = {p.version: p for p in versions}
    lowest = min(older, default=0)
    if lowest > 1:
        previous = clinic_policy_version(clinic=clinic, version=lowest - 1)
        if previous is not None:
            older[previous.version] = previous
    rows = []
    for policy in versions:
        before = older.get(policy.version - 1)
        changes = (
            [
                f"{setting.label}: {_shown(getattr(before, setting.name))}"
                f" → {_shown(setting.value)}"
                for setting in _settings(policy)
                if getattr(before, setting.name) != setting.value
            ]
            if before is not None
            else []
        )
        if before is not None:
            changes.extend(_class_changes(before, policy))
        rows.append(
            PolicyVersionRow(
                version=policy.version,
                changed_by=policy.changed_by_name or "—",
                changed_at=to_local(policy.created_at, clinic.time_zone).strftime(TIME_FORMAT),
                reason=policy.change_reason,
                changes=changes,
            )
        )
    return rows


def _policy_post(request: HttpRequest, clinic: Clinic, policy: ClinicPolicy) -> Any:
    """Handle the edit form: a redirect when saved, else the bound form with its errors."""
    form = PolicyForm(request.POST, policy=policy)
    if form.is_valid():
        try:
            new = clinic_policy_update(
                user=_actor(request),
                clinic=clinic,
                changes=form.changes(),
                reason=form.cleaned_data["reason"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_POLICY_SAVED.format(version=new.version))
            return redirect("clinics:policy")
    return form


def _policy_page(
    request: HttpRequest, clinic: Clinic, policy: ClinicPolicy, form: PolicyForm | None
) -> HttpResponse:
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    page = paginate(clinic_policy_history(clinic=clinic), number, size)
    changed_at = (
        to_local(policy.created_at, clinic.time_zone).strftime(TIME_FORMAT)
        if policy.created_at
        else ""
    )
    can_edit = _actor(request).can(Capability.POLICY_WRITE, clinic.id)
    return render(
        request,
        "clinics/policy.html",
        _page_context(
            clinic,
            policy=policy,
            settings=_settings(policy),
            changed_at=changed_at,
            page=page,
            history=_history_rows(clinic, page.items),
            querystring="",
            can_edit=can_edit,
            form=form,
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_view(request: HttpRequest) -> HttpResponse:
    """The policy in force and its history; the director may also post a change here."""
    clinic = _current_clinic(request)
    policy = clinic_policy_current(clinic=clinic)
    form: PolicyForm | None = None
    if request.method == "POST":
        _require(request, clinic, Capability.POLICY_WRITE, MESSAGE_POLICY_FORBIDDEN)
        result = _policy_post(request, clinic, policy)
        if isinstance(result, HttpResponse):
            return result
        form = result
    return _policy_page(request, clinic, policy, form)


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest) -> HttpResponse:
    clinic = _current_clinic(request)
    _require(request, clinic, Capability.POLICY_WRITE, MESSAGE_POLICY_FORBIDDEN)
    policy = clinic_policy_current(clinic=clinic)
    if request.method == "POST":
        result = _policy_post(request, clinic, policy)
        if isinstance(result, HttpResponse):
            return result
        form = result
    else:
        form = PolicyForm(policy=policy)
    return render(
        request,
        "clinics/policy_form.html",
        _page_context(clinic, policy=policy, form=form),
    )
