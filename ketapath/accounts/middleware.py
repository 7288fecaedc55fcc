"""Session timeouts and the clinic site the user is working at."""

import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ketapath.accounts.permissions import clinic_ids_for

MESSAGE_IDLE = "You were signed out after {minutes} minutes without activity."
MESSAGE_ABSOLUTE = "Your session reached its {hours}-hour limit; please sign in again."
SESSION_LAST_SEEN = "ketapath_last_seen"
SESSION_STARTED = "ketapath_started"
SESSION_CLINIC = "ketapath_clinic"


class SessionTimeoutMiddleware:
    """Ends a session idle for SESSION_IDLE_MINUTES or older than SESSION_ABSOLUTE_HOURS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            # A session opened elsewhere than our login page (Django's admin login) carries no
            # start time; it starts counting now instead of never timing out.
            started = request.session.setdefault(SESSION_STARTED, now)
            idle = now - request.session.get(SESSION_LAST_SEEN, now)
            age = now - started
            message = None
            if idle > settings.SESSION_IDLE_MINUTES * 60:
                message = MESSAGE_IDLE.format(minutes=settings.SESSION_IDLE_MINUTES)
            elif age > settings.SESSION_ABSOLUTE_HOURS * 3600:
                message = MESSAGE_ABSOLUTE.format(hours=settings.SESSION_ABSOLUTE_HOURS)
            if message:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                # MessageMiddleware runs inside this middleware, so it has not attached its
                # storage yet: store the message for the login page here.
                storage = default_storage(request)
                storage.add(messages.INFO, message)
                response = redirect_to_login(request.get_full_path())
                storage.update(response)
                return response
            request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)


class CurrentClinicMiddleware:
    """Sets ``request.clinic`` and ``request.clinic_id`` (the site chosen in the switcher,
    else the user's first) and activates that site's time zone for forms and templates."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from ketapath.clinics.models import Clinic

        request.clinic = None  # type: ignore[attr-defined]
        request.clinic_id = None  # type: ignore[attr-defined]
        request.user_clinics = []  # type: ignore[attr-defined]
        if request.user.is_authenticated and hasattr(request, "session"):
            allowed = clinic_ids_for(request.user)
            chosen = request.session.get(SESSION_CLINIC)
            candidates = list(Clinic.objects.filter(id__in=allowed).order_by("name"))
            request.user_clinics = candidates  # type: ignore[attr-defined]
            clinic = next((c for c in candidates if str(c.id) == chosen), None)
            if clinic is None and candidates:
                clinic = candidates[0]
            if clinic is not None:
                request.clinic = clinic  # type: ignore[attr-defined]
                request.clinic_id = clinic.id  # type: ignore[attr-defined]
                timezone.activate(ZoneInfo(clinic.time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
