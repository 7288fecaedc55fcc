"""``{% link_send_form patient form %}``: the "Send a link" form of a patient's messages
page, which the notifications app shows without importing the portal."""

from typing import Any

from django import template

from ketapath.patients.models import Patient
from ketapath.portal.staff_views import LinkSendForm

register = template.Library()


@register.inclusion_tag("portal/staff/link_send_form.html", takes_context=True)
def link_send_form(
    context: template.Context, patient: Patient, form: LinkSendForm | None = None
) -> dict[str, Any]:
    """The two sending forms (questionnaires, daily check-in); a bound ``form`` shows its
    errors beside the form it came from."""
    bound = form if form is not None and form.is_bound else None
    purpose = bound.data.get("purpose") if bound is not None else None
    questionnaires = (
        bound
        if bound is not None and purpose != "diary"
        else LinkSendForm(initial={"purpose": "questionnaires"})
    )
    diary = bound if purpose == "diary" else LinkSendForm(initial={"purpose": "diary"})
    return {
        "patient": patient,
        "questionnaires_form": questionnaires,
        "diary_form": diary,
        "csrf_token": context.get("csrf_token"),
    }
