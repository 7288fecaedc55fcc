"""The on-call page of the site chosen in the switcher: who gets a safety alert raised
outside opening hours.

The medical director (POLICY_WRITE) picks one of the site's active clinical staff (a
medical director, prescriber or therapist membership) or nobody, with a reason; the choice
is the clinic policy's ``on_call_user_id`` and is saved as a new policy version through
the clinics policy service (versioned and audited). Everyone working at the site may see
who is on call. With nobody chosen, or when the chosen person no longer holds a clinical
role at the site, the alert goes to the site's medical directors (the same rule as the
observations app's ``on_call_recipients``).
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketapath.accounts.models import Role, User
from ketapath.accounts.staff_selectors import staff_with_roles
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_get, clinic_policy_current
from ketapath.clinics.services import MESSAGE_POLICY_FORBIDDEN, clinic_policy_update
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import apply_errors

MESSAGE_NO_SITE = "You do not work at any active clinic site."
MESSAGE_ON_CALL_READ_FORBIDDEN = "Your role at this site does not include seeing its staff."
MESSAGE_ON_CALL_SAVED = "{who} (policy version {version})."
MESSAGE_ON_CALL_CHOICE = "Choose someone from the list, or nobody."
NOBODY = ""
NOBODY_LABEL = "Nobody: the medical directors get the alerts"

# Who may be on call: the clinical roles that can act on a safety alert.
ON_CALL_ROLES = (Role.MEDICAL_DIRECTOR, Role.PRESCRIBER, Role.THERAPIST)
ROLE_LABELS = dict(Role.choices)


@dataclass(frozen=True)
class Candidate:
    user: User
    roles: list[str]

    @property
    def roles_label(self) -> str:
        return ", ".join(ROLE_LABELS[r] for r in self.roles)

    @property
    def label(self) -> str:
        note = "" if self.user.email else " (no e-mail address: alerts cannot reach them)"
        return f"{self.user.display_name} — {self.roles_label}{note}"

    @property
    def is_director(self) -> bool:
        return Role.MEDICAL_DIRECTOR in self.roles


def on_call_candidates(clinic: Clinic) -> list[Candidate]:
    """The site's active clinical staff, by name, with their clinical roles there."""
    return [
        Candidate(user=person, roles=sorted(roles, key=ON_CALL_ROLES.index))
        for person, roles in staff_with_roles(clinic_id=clinic.id, roles=ON_CALL_ROLES)
    ]


class OnCallForm(forms.Form):
    on_call = forms.ChoiceField(
        label="On call for out-of-hours alerts",
        required=False,
        help_text="Only this site's active medical directors, prescribers and therapists can "
        "be chosen.",
        error_messages={"invalid_choice": MESSAGE_ON_CALL_CHOICE},
    )
    reason = forms.CharField(
        label="Reason for the change",
        max_length=300,
        help_text="Kept with the policy version, for example “covering nights this week”.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, candidates: list[Candidate], current: UUID | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["on_call"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(NOBODY, NOBODY_LABEL)] + [(str(c.user.id), c.label) for c in candidates]
        known = {c.user.id for c in candidates}
        field.initial = str(current) if current in known else NOBODY

    def chosen(self) -> UUID | None:
        value = self.cleaned_data["on_call"]
        return UUID(value) if value else None


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _site(request: HttpRequest) -> Clinic:
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    if not _user(request).can(Capability.PATIENT_READ, clinic.id):
        raise PermissionDenied(MESSAGE_ON_CALL_READ_FORBIDDEN)
    return clinic


@login_required
@require_http_methods(["GET", "POST"])
def on_call(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    user = _user(request)
    can_edit = user.can(Capability.POLICY_WRITE, clinic.id)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied(MESSAGE_POLICY_FORBIDDEN)
    policy = clinic_policy_current(clinic=clinic)
    candidates = on_call_candidates(clinic)
    by_id = {c.user.id: c for c in candidates}
    form = None
    if can_edit:
        form = OnCallForm(
            request.POST if request.method == "POST" else None,
            candidates=candidates,
            current=policy.on_call_user_id,
        )
    if request.method == "POST" and form is not None and form.is_valid():
        chosen = form.chosen()
        try:
            new = clinic_policy_update(
                user=user,
                clinic=clinic,
                changes={"on_call_user_id": chosen},
                reason=form.cleaned_data["reason"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            who = (
                f"{by_id[chosen].user.display_name} is now on call for out-of-hours alerts"
                if chosen
                else "Nobody is on call: out-of-hours alerts go to the medical directors"
            )
            messages.success(request, MESSAGE_ON_CALL_SAVED.format(who=who, version=new.version))
            return redirect("accounts:on_call")
    named = policy.on_call_user_id
    on_call_now = by_id.get(named) if named else None
    lapsed = None
    if named and on_call_now is None:
        lapsed = User.objects.filter(id=named).first()
    directors = [c for c in candidates if c.is_director]
    return render(
        request,
        "accounts/on_call.html",
        {
            "clinic": clinic,
            "policy": policy,
            "form": form,
            "on_call_now": on_call_now,
            "lapsed": lapsed,
            "directors": directors,
            "recipients": [on_call_now] if on_call_now else directors,
            "can_edit": can_edit,
        },
    )
