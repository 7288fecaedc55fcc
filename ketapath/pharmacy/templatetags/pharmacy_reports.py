"""Template helpers of the ledger's reports for pages of other apps (the patient chart)."""

from django import template

from ketapath.accounts.models import User
from ketapath.patients.models import Patient
from ketapath.pharmacy.selectors import can_see_dispensing_log

register = template.Library()


@register.filter
def sees_dispensing_log(user: object, patient: Patient) -> bool:
    """Whether the user handles or reconciles the ledger at one of the patient's sites (the
    chart shows the link; the page checks again)."""
    return isinstance(user, User) and can_see_dispensing_log(user, patient)
