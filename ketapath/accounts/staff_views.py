"""Staff management for a clinic admin: the staff of the current site, their roles there,
credentials, and their accounts (create, edit, deactivate, reactivate).

An admin manages only people who hold (or held) a membership at the admin's current site;
anyone else is 404. Accounts with Django-admin access are not managed here.
"""

from dataclasses import dataclass
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import membership_set_roles, user_save
from ketapath.accounts.staff_forms import StaffCreateForm, StaffEditForm
from ketapath.accounts.staff_selectors import (
    CredentialStatus,
    credential_statuses,
    staff_for_clinic,
    staff_member_for_clinic,
)
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_get
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, FieldError, InvalidInput
from ketapath.core.forms import ConfirmForm, apply_errors
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today

MESSAGE_NO_SITE = "You do not work at any active clinic site."
MESSAGE_STAFF_FORBIDDEN = "Only a clinic admin of this site may manage its staff."
MESSAGE_SUPERUSER = "This account has full Django-admin access; manage it in the Django admin."
MESSAGE_SELF_DEACTIVATE = "You cannot deactivate your own account."
MESSAGE_SELF_ADMIN_ROLE = (
    "You cannot remove your own clinic admin role; ask another clinic admin to do it."
)
MESSAGE_STAFF_CREATED = "{name} can now sign in."
MESSAGE_STAFF_SAVED = "{name} is saved."
MESSAGE_STAFF_DEACTIVATED = "{name} is deactivated and can no longer sign in."
MESSAGE_STAFF_REACTIVATED = "{name} can sign in again; give them their roles at this site."

ROLE_LABELS = dict(Role.choices)


def _staff_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _admin_clinic(request: HttpRequest) -> Clinic:
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    if not _staff_user(request).can(Capability.STAFF_MANAGE, clinic.id):
        raise PermissionDenied(MESSAGE_STAFF_FORBIDDEN)
    return clinic


def _member(request: HttpRequest, user_id: UUID) -> tuple[Clinic, User]:
    """The site and the staff member: 404 unless they are staff of the current site, then
    403 unless the requester manages staff there."""
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    member = staff_member_for_clinic(clinic_id=clinic.id if clinic else None, user_id=user_id)
    if clinic is None or member is None:
        raise Http404
    if not _staff_user(request).can(Capability.STAFF_MANAGE, clinic.id):
        raise PermissionDenied(MESSAGE_STAFF_FORBIDDEN)
    if member.is_superuser:
        raise PermissionDenied(MESSAGE_SUPERUSER)
    return clinic, member


def _site_roles(member: User) -> list[str]:
    return [m.role for m in getattr(member, "site_memberships", [])]


@dataclass(frozen=True)
class StaffRow:
    user: User
    roles: list[str]
    credentials: list[CredentialStatus]


@login_required
@require_GET
def staff_list(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    search = request.GET.get("q", "")[:100]
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    page = paginate(staff_for_clinic(clinic_id=clinic.id, search=search), number, size)
    today = local_today(clinic.time_zone)
    rows = [
        StaffRow(
            user=member,
            roles=[ROLE_LABELS.get(role, role) for role in _site_roles(member)],
            credentials=credential_statuses(member, today),
        )
        for member in page.items
    ]
    return render(
        request,
        "accounts/staff_list.html",
        {
            "clinic": clinic,
            "page": page,
            "rows": rows,
            "search": search,
            "today": today,
            "querystring": urlencode({"q": search}) if search else "",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_new(request: HttpRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    actor = _staff_user(request)
    form = StaffCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        member = User(**form.user_values())
        try:
            # One account and its roles: both or neither.
            with transaction.atomic():
                user_save(
                    user=member, actor=actor, clinic=clinic, password=form.cleaned_data["password1"]
                )
                membership_set_roles(user=member, clinic=clinic, roles=form.role_set(), actor=actor)
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_STAFF_CREATED.format(name=member.display_name))
            return redirect("accounts:staff_list")
    return render(request, "accounts/staff_form.html", {"clinic": clinic, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, user_id: UUID) -> HttpResponse:
    clinic, member = _member(request, user_id)
    actor = _staff_user(request)
    roles = _site_roles(member)
    if request.method == "POST":
        form = StaffEditForm(request.POST, user=member)
        if form.is_valid():
            try:
                _staff_update(form, member=member, actor=actor, clinic=clinic)
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_STAFF_SAVED.format(name=member.display_name))
                return redirect("accounts:staff_list")
    else:
        form = StaffEditForm(initial=StaffEditForm.initial_for(member, roles), user=member)
    return render(
        request,
        "accounts/staff_form.html",
        {
            "clinic": clinic,
            "form": form,
            "member": member,
            "credentials": credential_statuses(member, local_today(clinic.time_zone)),
            "is_self": member.pk == actor.pk,
        },
    )


def _staff_update(form: StaffEditForm, *, member: User, actor: User, clinic: Clinic) -> None:
    """Save the account and its roles at the site together, or neither."""
    roles = form.role_set()
    if member.pk == actor.pk and Role.CLINIC_ADMIN not in roles:
        raise InvalidInput(
            MESSAGE_SELF_ADMIN_ROLE, errors=[FieldError("roles", MESSAGE_SELF_ADMIN_ROLE)]
        )
    original = {name: getattr(member, name) for name in form.user_values()}
    for name, value in form.user_values().items():
        setattr(member, name, value)
    try:
        with transaction.atomic():
            user_save(user=member, actor=actor, clinic=clinic, password=form.new_password())
            membership_set_roles(user=member, clinic=clinic, roles=roles, actor=actor)
    except ApplicationError:
        for name, value in original.items():
            setattr(member, name, value)
        raise


@login_required
@require_http_methods(["GET", "POST"])
def staff_deactivate(request: HttpRequest, user_id: UUID) -> HttpResponse:
    """Confirm, then stop the account signing in (its API tokens are revoked) and remove its
    roles at this site; both are audited, the role removal as a privilege change."""
    clinic, member = _member(request, user_id)
    actor = _staff_user(request)
    if member.pk == actor.pk:
        # Refused with the reason on the page rather than a bare 403: the way out is clear.
        return render(
            request,
            "accounts/staff_deactivate.html",
            {"clinic": clinic, "member": member, "form": None, "refusal": MESSAGE_SELF_DEACTIVATE},
            status=403 if request.method == "POST" else 200,
        )
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        member.is_active = False
        try:
            with transaction.atomic():
                user_save(user=member, actor=actor, clinic=clinic)
                membership_set_roles(user=member, clinic=clinic, roles=set(), actor=actor)
        except ApplicationError as exc:
            member.is_active = True
            apply_errors(form, exc)
        else:
            messages.success(request, MESSAGE_STAFF_DEACTIVATED.format(name=member.display_name))
            return redirect("accounts:staff_list")
    return render(
        request,
        "accounts/staff_deactivate.html",
        {
            "clinic": clinic,
            "member": member,
            "form": form,
            "roles": [ROLE_LABELS.get(role, role) for role in _site_roles(member)],
        },
    )


@login_required
@require_POST
def staff_reactivate(request: HttpRequest, user_id: UUID) -> HttpResponse:
    """Let a deactivated account sign in again; roles are given back on the edit page."""
    clinic, member = _member(request, user_id)
    if not member.is_active:
        member.is_active = True
        user_save(user=member, actor=_staff_user(request), clinic=clinic)
        messages.success(request, MESSAGE_STAFF_REACTIVATED.format(name=member.display_name))
    return redirect("accounts:staff_edit", user_id=member.pk)
