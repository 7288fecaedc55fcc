"""The open safety-alert count of the current site, for the navigation badge."""

from typing import Any

from django.http import HttpRequest

from ketapath.accounts.permissions import user_can
from ketapath.core.capabilities import Capability
from ketapath.observations.selectors import open_alert_count


def alerts(request: HttpRequest) -> dict[str, Any]:
    clinic = getattr(request, "clinic", None)
    if clinic is None or not user_can(request.user, Capability.QUESTIONNAIRE_ENTER, clinic.id):
        return {}
    return {"open_alert_count": open_alert_count(clinic)}
