"""Forms of the scheduling pages. They parse and label input; the booking and course
services validate the rules, and their field errors are put back beside these fields."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms

from ketapath.clinics.models import OpeningHours
from ketapath.core.forms import MESSAGE_CONFIRM_REQUIRED
from ketapath.scheduling.booking import SINGLE_KINDS
from ketapath.scheduling.models import Appointment

MESSAGE_TIME_ORDER = "The latest time must be after the earliest time."
MESSAGE_SLOT_INVALID = "This replacement is no longer valid; open the page again."
MESSAGE_EVALUATION_REQUIRED = "Choose the signed evaluation the course starts from."
MESSAGE_DOSE_REQUIRED = "Give the dose in mg/kg."
MESSAGE_REASON_REQUIRED = "Give the reason."

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
WEEKDAY_CHOICES = [(str(value), label) for value, label in OpeningHours.Weekday.choices]
KIND_LABELS = dict(Appointment.Kind.choices)
# A visit's usual length, offered as the form's starting value.
DEFAULT_VISIT_MINUTES = 60


def _time(label: str, *, required: bool, help_text: str = "") -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class SlotSearchForm(forms.Form):
    """The patient's preferences for a series: all optional."""

    earliest = forms.DateField(
        label="Earliest first session",
        required=False,
        widget=DATE_INPUT,
        help_text="Leave empty for the first possible day.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="Days the patient can come",
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for any day the site is open.",
    )
    time_from = _time("Not before", required=False, help_text="Local time of the session start.")
    time_to = _time("Done by", required=False, help_text="Local time the chair time must end by.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("time_from"), data.get("time_to")
        if start and end and end <= start:
            self.add_error("time_to", MESSAGE_TIME_ORDER)
        return data


class ProposalForm(forms.Form):
    proposal = forms.IntegerField(min_value=0, max_value=20, widget=forms.HiddenInput)


class StatusReasonForm(forms.Form):
    """Cancel or mark a no-show: the reason is kept on the appointment."""

    reason = forms.CharField(
        label="Reason",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": MESSAGE_REASON_REQUIRED},
    )
    confirm = forms.BooleanField(
        label="Yes, I am sure", error_messages={"required": MESSAGE_CONFIRM_REQUIRED}
    )

    def __init__(self, *args: Any, confirm_label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if confirm_label:
            self.fields["confirm"].label = confirm_label


class SingleVisitForm(forms.Form):
    """One evaluation, follow-up or behavioral-health visit, in the site's local time."""

    kind = forms.ChoiceField(
        label="Visit",
        choices=[(str(kind), KIND_LABELS[kind]) for kind in SINGLE_KINDS],
        help_text="Ketamine sessions are booked from the course page.",
    )
    day = forms.DateField(label="Date", widget=DATE_INPUT)
    start = _time("Starts at", required=True)
    minutes = forms.IntegerField(
        label="Length (minutes)", min_value=5, max_value=480, initial=DEFAULT_VISIT_MINUTES
    )
    room = forms.ChoiceField(label="Room")
    clinician = forms.ChoiceField(
        label="Clinician",
        help_text="Evaluations: a prescriber or the medical director. Follow-ups: also a "
        "nurse. Behavioral-health visits: a therapist.",
    )

    def __init__(
        self,
        *args: Any,
        rooms: list[tuple[str, str]],
        clinicians: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        room = self.fields["room"]
        clinician = self.fields["clinician"]
        assert isinstance(room, forms.ChoiceField) and isinstance(clinician, forms.ChoiceField)
        room.choices = [("", "Choose a room"), *rooms]
        clinician.choices = [("", "Choose a clinician"), *clinicians]


class CourseOrderForm(forms.Form):
    evaluation = forms.ChoiceField(
        label="Signed evaluation",
        widget=forms.RadioSelect,
        error_messages={"required": MESSAGE_EVALUATION_REQUIRED},
    )
    ordered_mg_per_kg = forms.DecimalField(
        label="Dose ordered (mg/kg)",
        max_digits=5,
        decimal_places=3,
        min_value=Decimal("0.001"),
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={"required": MESSAGE_DOSE_REQUIRED},
    )

    def __init__(self, *args: Any, evaluations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["evaluation"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = evaluations


class ReplacementForm(forms.Form):
    """The replacement slot offered on the page, posted back as it was shown; the booking
    service checks it again."""

    start = forms.CharField(widget=forms.HiddenInput)
    room = forms.UUIDField(widget=forms.HiddenInput)
    nurse = forms.UUIDField(widget=forms.HiddenInput)
    prescriber = forms.UUIDField(widget=forms.HiddenInput)

    def clean_start(self) -> datetime:
        try:
            moment = datetime.fromisoformat(self.cleaned_data["start"])
        except ValueError as exc:
            raise forms.ValidationError(MESSAGE_SLOT_INVALID) from exc
        if moment.tzinfo is None:
            raise forms.ValidationError(MESSAGE_SLOT_INVALID)
        return moment
