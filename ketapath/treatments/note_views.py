"""The session note page, its PDF, signing and addenda.

Readers are those who document sessions at the session's site (the medical director,
prescribers and nurses: SESSION_DOCUMENT, DESIGN §10); another role gets 403 and a session
at a site not the user's 404. Each read of the note is audited; the PDF is audited as an
export. Only a prescriber or the medical director signs (SESSION_SIGN), through
``charting.session_sign``, which refuses while the note is not completed, an in-session
alert is open or the ledger does not balance; those reasons are shown on the page before
the button. Once signed the note never changes; addenda follow it (``charting.addendum_add``).
"""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden, InvalidInput, NotFound
from ketapath.treatments import charting, note, selectors
from ketapath.treatments.models import TreatmentSession

MESSAGE_SIGNED = (
    "The session note is signed; it can no longer change. Add an addendum to correct it."
)
MESSAGE_ADDENDUM_ADDED = "Addendum added below the note."

# Status by word and shape as well as colour (DESIGN §11).
STATUS_BADGES = {
    "pre_check": "badge-info",
    "dosed": "badge-info",
    "monitoring": "badge-info",
    "ready": "badge-ok",
    "discharged": "badge-warn",
    "signed": "badge-ok",
    "aborted": "badge-neutral st-cancelled",
}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _session(
    request: HttpRequest,
    session_id: UUID,
    capability: Capability = Capability.SESSION_DOCUMENT,
) -> TreatmentSession:
    try:
        return selectors.session_get_for_user(
            user=_user(request), session_id=session_id, capability=capability
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def session_page_url(session_id: UUID) -> str:
    """The workflow page of the session (built by the session views)."""
    try:
        return reverse("treatments:session", args=[session_id])
    except NoReverseMatch:
        return f"/sessions/{session_id}/"


def _render(
    request: HttpRequest,
    session: TreatmentSession,
    *,
    addendum_text: str = "",
    addendum_error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    content = note.note_build(session)
    audit(
        user=user,
        action=Action.READ,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="treatment_session",
        object_id=session.id,
        detail={"view": "note"},
    )
    s = content.session
    return render(
        request,
        "treatments/note.html",
        {
            "note": content,
            "session": s,
            "patient": s.patient,
            "status_class": STATUS_BADGES.get(s.status, "badge-neutral"),
            "can_sign": user.can(Capability.SESSION_SIGN, s.clinic_id)
            and not s.is_closed
            and not content.sign_blockers,
            "may_sign": user.can(Capability.SESSION_SIGN, s.clinic_id),
            "can_add_addendum": s.status == TreatmentSession.Status.SIGNED,
            "session_url": session_page_url(s.id),
            "addendum_text": addendum_text,
            "addendum_error": addendum_error,
        },
        status=status,
    )


@login_required
@require_GET
def session_note(request: HttpRequest, session_id: UUID) -> HttpResponse:
    return _render(request, _session(request, session_id))


@login_required
@require_GET
def session_note_pdf(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _session(request, session_id)
    user = _user(request)
    content = note.note_build(session)
    response = HttpResponse(
        note.note_pdf(content, generated_by=user, generated_at=timezone.now()),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = f'attachment; filename="{note.note_filename(content)}"'
    audit(
        user=user,
        action=Action.EXPORT,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="treatment_session",
        object_id=session.id,
        detail={"format": "pdf", "document": "session_note", "status": session.status},
    )
    return response


@login_required
@require_POST
def session_note_sign(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _session(request, session_id, Capability.SESSION_SIGN)
    try:
        charting.session_sign(user=_user(request), session=session)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MESSAGE_SIGNED)
    return redirect("treatments:note", session_id=session.id)


@login_required
@require_POST
def session_addendum(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _session(request, session_id)
    text = request.POST.get("text", "")
    try:
        charting.addendum_add(user=_user(request), session=session, text=text)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except InvalidInput as exc:
        rule = next((e.rule for e in exc.errors if e.field == "text"), exc.message)
        return _render(request, session, addendum_text=text, addendum_error=rule, status=400)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MESSAGE_ADDENDUM_ADDED)
    return redirect("treatments:note", session_id=session.id)


urlpatterns: list[URLPattern] = [
    path("sessions/<uuid:session_id>/note/", session_note, name="note"),
    path("sessions/<uuid:session_id>/note.pdf", session_note_pdf, name="note_pdf"),
    path("sessions/<uuid:session_id>/sign/", session_note_sign, name="sign"),
    path("sessions/<uuid:session_id>/addenda/", session_addendum, name="addendum"),
]
