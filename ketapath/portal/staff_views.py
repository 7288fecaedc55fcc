"""The staff side of patient links on pages: the "Send a link" form shown on a patient's
messages page (notifications) and the view it posts to.

The form lives here, not in notifications, because it lists the questionnaires and makes
the link (both above notifications in the app graph). Sending needs LINK_SEND at the site;
a patient outside the user's sites is 404. The link's address is never shown to staff.
"""

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketapath.accounts.models import User
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import apply_errors
from ketapath.notifications.services import patient_channel
from ketapath.notifications.views import render_patient_messages
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request
from ketapath.portal.models import PatientLink
from ketapath.portal.services import link_send
from ketapath.questionnaires.instruments import INSTRUMENTS

MESSAGE_TICK_ONE = "Tick at least one questionnaire."
MESSAGE_LINK_QUEUED = "{what} for {name} is queued and goes out within a minute by {channel}."
MESSAGE_LINK_HELD = (
    "{what} for {name} is queued, but it cannot go out yet: {why}. Fix the contact details "
    "or consent, then press Resend in the table below."
)


def instrument_choices() -> list[tuple[str, str]]:
    return [(code, instrument.title) for code, instrument in INSTRUMENTS.items()]


class LinkSendForm(forms.Form):
    purpose = forms.ChoiceField(choices=PatientLink.Purpose.choices, widget=forms.HiddenInput)
    instruments = forms.MultipleChoiceField(
        label="Questionnaires to ask",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The patient answers them one after another from one link.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["instruments"].choices = instrument_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("purpose") == PatientLink.Purpose.QUESTIONNAIRES and not data.get(
            "instruments"
        ):
            self.add_error("instruments", MESSAGE_TICK_ONE)
        return data


@login_required
@require_POST
def link_send_page(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """Send the patient a questionnaire or daily check-in link now, then back to the
    patient's messages; input to correct shows beside its field on that page."""
    user: User = request.user  # type: ignore[assignment]
    patient = patient_for_request(request, patient_id, Capability.LINK_SEND)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    form = LinkSendForm(request.POST)
    if form.is_valid():
        purpose = form.cleaned_data["purpose"]
        try:
            link = link_send(
                user=user,
                patient=patient,
                clinic=site,
                purpose=purpose,
                instruments=form.cleaned_data["instruments"]
                if purpose == PatientLink.Purpose.QUESTIONNAIRES
                else [],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            if purpose == PatientLink.Purpose.QUESTIONNAIRES:
                codes = ", ".join(INSTRUMENTS[c].code.upper() for c in link.instruments)
                what = f"A questionnaire link ({codes})"
            else:
                what = "A daily check-in link"
            channel, why = patient_channel(patient, timezone.now())
            if channel is None:
                messages.warning(
                    request,
                    MESSAGE_LINK_HELD.format(what=what, name=patient.display_name, why=why),
                )
            else:
                messages.success(
                    request,
                    MESSAGE_LINK_QUEUED.format(
                        what=what,
                        name=patient.display_name,
                        channel="text message" if channel == "sms" else "e-mail",
                    ),
                )
            return redirect(reverse("notifications:patient_messages", args=[patient.id]))
    return render_patient_messages(request, patient, site, link_form=form)
