"""Template context for the base layout: the site switcher and the task navigation."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from ketapath.accounts.permissions import user_can_anywhere
from ketapath.core.capabilities import Capability


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # CurrentClinicMiddleware already loaded the user's sites for this request.
    clinics = getattr(request, "user_clinics", [])
    current = getattr(request, "clinic", None)
    items: list[tuple[str, str]] = [("Today", reverse("chart:today"))]
    if user_can_anywhere(user, Capability.PATIENT_READ):
        items.append(("Patients", reverse("patients:list")))
    if current is not None and (
        user.can(Capability.SCHEDULE_WRITE, current.id)
        or user.can(Capability.PATIENT_READ, current.id)
    ):
        items.append(("Calendar", reverse("scheduling:day")))
    if user_can_anywhere(user, Capability.QUESTIONNAIRE_ENTER):
        items.append(("Alerts", reverse("observations:alerts")))
    if user_can_anywhere(user, Capability.OUTCOMES_READ):
        items.append(("Outcomes", reverse("outcomes:dashboard")))
    if user_can_anywhere(user, Capability.PROTOCOL_READ):
        items.append(("Protocols", reverse("protocols:list")))
    if user_can_anywhere(user, Capability.STAFF_MANAGE):
        items.append(("Admin", reverse("clinics:admin")))
    if current is not None and user.can(Capability.PATIENT_READ, current.id):
        # Everyone working at the site sees who is rostered; the clinic admin changes it.
        items.append(("Shifts", reverse("accounts:shifts")))
    if current is not None:
        # Everyone at a site may read its policy; only the medical director changes it.
        items.append(("Clinic policy", reverse("clinics:policy")))
    if user_can_anywhere(user, Capability.AUDIT_READ):
        items.append(("Audit trail", reverse("audit:events")))
    path = request.path
    nav = [
        {
            "label": label,
            "url": url,
            "current": path == url or (url != "/" and path.startswith(url)),
        }
        for label, url in items
    ]
    return {"nav_items": nav, "user_clinics": clinics, "current_clinic": current}
