"""The current site's counts for the navigation badges: open safety alerts, and patient
messages that failed or could not be sent (with the Messages item's address); and the
Pharmacy item for those who keep or reconcile the site's controlled-substance ledger."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from ketapath.accounts.permissions import user_can
from ketapath.core.capabilities import Capability
from ketapath.notifications.selectors import failed_count
from ketapath.observations.selectors import open_alert_count


def alerts(request: HttpRequest) -> dict[str, Any]:
    clinic = getattr(request, "clinic", None)
    if clinic is None:
        return {}
    context: dict[str, Any] = {}
    if user_can(request.user, Capability.QUESTIONNAIRE_ENTER, clinic.id):
        context["open_alert_count"] = open_alert_count(clinic)
    if user_can(request.user, Capability.PATIENT_READ, clinic.id):
        url = reverse("notifications:outbox")
        context["outbox_nav"] = {
            "url": url,
            "current": request.path.startswith(url),
            "failed_count": failed_count(clinic_id=clinic.id),
        }
    if user_can(request.user, Capability.LEDGER_HANDLE, clinic.id) or user_can(
        request.user, Capability.LEDGER_RECONCILE, clinic.id
    ):
        url = reverse("pharmacy:stock")
        context["pharmacy_nav"] = {"url": url, "current": request.path.startswith(url)}
    return context
