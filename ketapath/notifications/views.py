"""Outbox pages: the site's messages by status, one patient's messages with how the patient
can be reached and the prescriber's pre-session instructions, and sending a link message
again.

Seeing messages needs PATIENT_READ at the site, resending LINK_SEND, writing and withdrawing
instructions EVALUATION_SIGN (DESIGN §10). Every list of messages is audited as a read of
"message_list" with the patients shown. Times are the site's local times with the zone.
The "Send a link" form on the patient page is the portal's (it makes the link); it posts to
the portal's staff view, which renders this page again when the input needs correcting.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import ConfirmForm, apply_errors, safe_next
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.validators import format_phone
from ketapath.notifications import selectors, services
from ketapath.notifications.forms import InstructionForm
from ketapath.notifications.models import Message, PatientInstruction
from ketapath.notifications.rendering import KINDS
from ketapath.patients.models import Patient
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_OUTBOX_FORBIDDEN = "Your role at this site does not include seeing its messages."
MESSAGE_RESENT = (
    "A new link for {name} is queued and goes out within a minute; the earlier link stops "
    "working when it does."
)
MESSAGE_INSTRUCTION_ADDED = (
    "The instruction is saved; session reminders queued from now on carry it."
)
MESSAGE_INSTRUCTION_WITHDRAWN = (
    "The instruction is withdrawn; session reminders queued from now on leave it out."
)

# The status tabs of the outbox: (query value, label). What waits to go out comes first
# and is the default, soonest first; the other tabs show the latest due first.
STATUS_TABS: tuple[tuple[str, str], ...] = (
    ("queued", "Waiting to send"),
    ("sent", "Sent"),
    ("failed", "Failed or not sent"),
    ("cancelled", "Cancelled"),
    ("all", "All"),
)
DEFAULT_TAB = "queued"
# Status by word and shape as well as colour (DESIGN §11): the shape comes from the class.
STATUS_BADGES: dict[str, tuple[str, str]] = {
    Message.Status.QUEUED: ("badge-info st-booked", "Waiting to send"),
    Message.Status.SENDING: ("badge-info", "Sending"),
    Message.Status.SENT: ("badge-ok", "Sent"),
    Message.Status.FAILED: ("badge-danger", "Failed"),
    Message.Status.NOT_SENT: ("badge-warn", "Not sent"),
    Message.Status.CANCELLED: ("badge-neutral st-cancelled", "Cancelled"),
}
RESENDABLE = (Message.Status.FAILED, Message.Status.NOT_SENT, Message.Status.SENT)
TIME_FORMAT = "%a %-d %b %Y, %H:%M %Z"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@dataclass(frozen=True)
class MessageRow:
    """A message as the tables show it: site-local times, what it is, its status."""

    message: Message
    kind_label: str
    status_label: str
    status_class: str
    due: str
    sent: str
    next_attempt: str
    can_resend: bool

    @property
    def needs_fixing(self) -> bool:
        return self.message.status in (Message.Status.FAILED, Message.Status.NOT_SENT)


def _local(moment: datetime | None, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime(TIME_FORMAT) if moment else ""


def message_rows(user: User, items: list[Message]) -> list[MessageRow]:
    """Rows for the message tables; no query per row (the selector loaded the relations and
    the permission helper caches the user's memberships)."""
    rows = []
    for m in items:
        tz = m.clinic.time_zone
        status_class, status_label = STATUS_BADGES.get(m.status, ("badge-neutral", m.status))
        if m.status == Message.Status.QUEUED and m.attempts:
            status_label = "Retrying"
        rows.append(
            MessageRow(
                message=m,
                kind_label=KINDS.get(m.kind, m.kind),
                status_label=status_label,
                status_class=status_class,
                due=_local(m.due_at, tz),
                sent=_local(m.sent_at, tz),
                next_attempt=_local(m.next_attempt_at, tz)
                if m.status == Message.Status.QUEUED
                else "",
                can_resend=m.kind in services.LINK_KINDS
                and m.patient_id is not None
                and m.status in RESENDABLE
                and not getattr(m, "superseded", False)
                and user.can(Capability.LINK_SEND, m.clinic_id),
            )
        )
    return rows


def _audit_list(
    user: User,
    *,
    page: str,
    items: list[Message],
    clinic_id: UUID | None = None,
    patient_id: UUID | None = None,
    status: str = "",
) -> None:
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic_id,
        patient_id=patient_id,
        object_type="message_list",
        detail={
            "page": page,
            "status": status or "all",
            "patients": sorted({str(m.patient_id) for m in items if m.patient_id}),
        },
    )


def _outbox_site(request: HttpRequest) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    if not _user(request).can(Capability.PATIENT_READ, clinic.id):
        raise PermissionDenied(MESSAGE_OUTBOX_FORBIDDEN)
    return clinic


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """The current site's messages to patients and staff, by status tab."""
    clinic = _outbox_site(request)
    user = _user(request)
    tab = request.GET.get("status", DEFAULT_TAB)
    if tab not in dict(STATUS_TABS):
        tab = DEFAULT_TAB
    rows = selectors.outbox(clinic_ids=[clinic.id], status=None if tab == "all" else tab)
    if tab == "queued":
        rows = rows.order_by("due_at", "created_at")
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(rows, number, size)
    _audit_list(user, page="outbox", items=page.items, clinic_id=clinic.id, status=tab)
    base = reverse("notifications:outbox")
    tabs = [
        {
            "value": value,
            "label": label,
            "url": base if value == DEFAULT_TAB else f"{base}?{urlencode({'status': value})}",
            "current": value == tab,
        }
        for value, label in STATUS_TABS
    ]
    return render(
        request,
        "notifications/outbox.html",
        {
            "clinic": clinic,
            "rows": message_rows(user, page.items),
            "page": page,
            "tab": tab,
            "tab_label": dict(STATUS_TABS)[tab],
            "tabs": tabs,
            "failed_count": selectors.failed_count(clinic_id=clinic.id),
            "querystring": urlencode({"status": tab}) if tab != DEFAULT_TAB else "",
            "here": request.get_full_path(),
            "show_patient": True,
            "can_set_on_call": user.can(Capability.POLICY_WRITE, clinic.id),
            "can_send": user.can(Capability.LINK_SEND, clinic.id),
        },
    )


@login_required
@require_POST
def message_resend(request: HttpRequest, message_id: UUID) -> HttpResponse:
    """Send a questionnaire or check-in link message again now, with a fresh link."""
    user = _user(request)
    message = selectors.outbox(clinic_ids=list(clinic_ids_for(user))).filter(id=message_id).first()
    if message is None:
        raise Http404("No such message at your sites.")
    try:
        services.message_resend(user=user, message=message)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        assert message.patient is not None
        messages.success(request, MESSAGE_RESENT.format(name=message.patient.display_name))
    return redirect(safe_next(request) or reverse("notifications:outbox"))


def render_patient_messages(
    request: HttpRequest,
    patient: Patient,
    site: Clinic,
    *,
    instruction_form: Form | None = None,
    link_form: Form | None = None,
) -> HttpResponse:
    """One patient's messages page; the forms are passed in bound when they need
    correcting."""
    user = _user(request)
    number, size = clamp_page(request.GET.get("page"))
    access = sorted(getattr(patient, "access_clinic_ids", {site.id}))
    page = paginate(selectors.outbox(clinic_ids=access, patient_id=patient.id), number, size)
    _audit_list(
        user,
        page="patient_messages",
        items=page.items,
        clinic_id=site.id,
        patient_id=patient.id,
    )
    channel, reach = services.patient_channel(patient, timezone.now())
    can_instruct = user.can(Capability.EVALUATION_SIGN, site.id)
    if can_instruct and instruction_form is None:
        instruction_form = InstructionForm()
    return render(
        request,
        "notifications/patient_messages.html",
        {
            "patient": patient,
            "site": site,
            "rows": message_rows(user, page.items),
            "page": page,
            "querystring": "",
            "here": reverse("notifications:patient_messages", args=[patient.id]),
            "show_patient": False,
            "channel": channel,
            "channel_label": dict(Message.Channel.choices).get(channel or "", ""),
            "reach": format_phone(reach) if channel == Message.Channel.SMS else reach,
            "instructions": selectors.instructions_current(patient_id=patient.id),
            "instruction_form": instruction_form if can_instruct else None,
            "link_form": link_form,
            "can_send": user.can(Capability.LINK_SEND, site.id),
            "can_instruct": can_instruct,
            "can_edit_patient": user.can(Capability.PATIENT_WRITE, site.id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_messages(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """One patient's messages; a prescriber adds a pre-session instruction here (POST)."""
    patient = patient_for_request(request, patient_id)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    form = None
    if request.method == "POST":
        user = _user(request)
        if not user.can(Capability.EVALUATION_SIGN, site.id):
            raise PermissionDenied(services.MESSAGE_INSTRUCTION_FORBIDDEN)
        form = InstructionForm(request.POST)
        if form.is_valid():
            try:
                services.instruction_add(
                    user=user, patient=patient, clinic=site, text=form.cleaned_data["text"]
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, MESSAGE_INSTRUCTION_ADDED)
                return redirect(
                    reverse("notifications:patient_messages", args=[patient.id]) + "#instructions"
                )
    return render_patient_messages(request, patient, site, instruction_form=form)


def _instruction(
    request: HttpRequest, patient: Patient, instruction_id: UUID
) -> PatientInstruction:
    instruction = (
        PatientInstruction.objects.select_related("written_by", "clinic")
        .filter(id=instruction_id, patient=patient)
        .first()
    )
    if instruction is None:
        raise Http404("No such instruction for this patient.")
    return instruction


@login_required
@require_http_methods(["GET", "POST"])
def instruction_withdraw(
    request: HttpRequest, patient_id: UUID, instruction_id: UUID
) -> HttpResponse:
    """Withdraw a pre-session instruction after a confirmation step."""
    patient = patient_for_request(request, patient_id)
    instruction = _instruction(request, patient, instruction_id)
    user = _user(request)
    if not user.can(Capability.EVALUATION_SIGN, instruction.clinic_id):
        raise PermissionDenied(services.MESSAGE_INSTRUCTION_FORBIDDEN)
    back = reverse("notifications:patient_messages", args=[patient.id]) + "#instructions"
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.instruction_withdraw(user=user, instruction=instruction)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, MESSAGE_INSTRUCTION_WITHDRAWN)
        return redirect(back)
    return render(
        request,
        "notifications/instruction_withdraw.html",
        {"patient": patient, "instruction": instruction, "form": form, "back": back},
    )
