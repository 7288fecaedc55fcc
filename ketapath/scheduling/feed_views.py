"""Calendar feed pages: the public iCalendar address (the token in it is the credential),
a staff member's own feed, and a patient's feed at a site.

The address is shown once, in the answer to the request that creates it; afterwards the
pages show only whether a feed exists, when it was made and last used, and offer to replace
or revoke it after a confirmation step.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import ConfirmForm
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request
from ketapath.scheduling import feeds
from ketapath.scheduling.models import CalendarFeed

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"
MESSAGE_FEED_NOT_FOUND = "No such calendar feed."
MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_REVOKED = "The calendar feed is revoked; its address no longer works."
MESSAGE_NO_FEED = "There is no calendar feed to revoke."
CONFIRM_ACTIONS = ("replace", "revoke")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@require_safe
def feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The calendar file; an unknown and a revoked token get the same 404."""
    body = feeds.feed_serve(token)
    if body is None:
        raise Http404(MESSAGE_FEED_NOT_FOUND)
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response


def _feed_page(
    request: HttpRequest,
    *,
    feed: CalendarFeed | None,
    create: Callable[[], tuple[CalendarFeed, str]],
    context: dict[str, Any],
) -> HttpResponse:
    """Shared GET/POST handling of a feed page. ``create`` makes a new feed and returns
    (feed, raw token); the raw address is put in this one answer and nowhere else."""
    user = _user(request)
    confirming = request.GET.get("confirm") if request.method == "GET" else None
    form = ConfirmForm()
    if confirming not in CONFIRM_ACTIONS or (confirming and feed is None):
        confirming = None
    address = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        needs_confirm = action == "revoke" or (action == "create" and feed is not None)
        form = ConfirmForm(request.POST)
        if action not in ("create", "revoke"):
            return redirect(request.path)
        if action == "revoke" and feed is None:
            messages.info(request, MESSAGE_NO_FEED)
            return redirect(request.path)
        if needs_confirm and not form.is_valid():
            confirming = "revoke" if action == "revoke" else "replace"
        else:
            try:
                if action == "revoke":
                    assert feed is not None
                    feeds.feed_revoke(user=user, feed=feed)
                    messages.success(request, MESSAGE_REVOKED)
                    return redirect(request.path)
                feed, raw = create()
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect(request.path)
            address = request.build_absolute_uri(reverse("scheduling:feed_ics", args=[raw]))
            form = ConfirmForm()
    return render(
        request,
        "scheduling/feeds/feed_page.html",
        {
            **context,
            "feed": feed,
            "address": address,
            "webcal": address.replace("https://", "webcal://", 1).replace(
                "http://", "webcal://", 1
            ),
            "confirming": confirming,
            "form": form,
            "days_before": feeds.DAYS_BEFORE,
            "days_ahead": feeds.DAYS_AHEAD,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_feed(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's own feed of their visits at every site they work at."""
    user = _user(request)
    if not clinic_ids_for(user):
        raise PermissionDenied(MESSAGE_NO_SITE)
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    feed = feeds.live_staff_feed(staff=user)
    return _feed_page(
        request,
        feed=feed,
        create=lambda: feeds.feed_create(user=user, clinic=clinic, staff=user),
        context={"patient": None, "site": clinic, "zone": clinic.time_zone},
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_feed(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """A patient's feed of their appointments at the site the user works at; for staff who
    book appointments there (404 outside the user's sites, 403 for the role)."""
    patient = patient_for_request(request, patient_id, Capability.SCHEDULE_WRITE)
    user = _user(request)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    feed = feeds.live_patient_feed(patient=patient, clinic=site)
    if request.method == "GET":
        audit(
            user=user,
            action=Action.READ,
            patient_id=patient.id,
            clinic_id=site.id,
            object_type=feeds.OBJECT_TYPE,
            object_id=feed.id if feed else None,
            detail={"page": "patient_feed"},
        )
    return _feed_page(
        request,
        feed=feed,
        create=lambda: feeds.feed_create(user=user, clinic=site, patient=patient),
        context={"patient": patient, "site": site, "zone": site.time_zone},
    )
