"""The audit report's filters, shared by the page, the CSV export and the API."""

from typing import Any

from django import forms

from ketapath.audit.models import AuditEvent
from ketapath.audit.selectors import SORTABLE, AuditFilters
from ketapath.core.errors import FieldError

MESSAGE_DATE = "Enter a date as YYYY-MM-DD."
MESSAGE_DATE_ORDER = "The 'to' date cannot be before the 'from' date."
MESSAGE_PATIENT_ID = "Enter the patient id as a UUID, e.g. 3f2b8c1e-9d4a-4e57-b6a1-2c8e5f7d9a10."
MESSAGE_ACTION = "Choose one of the audit actions: " + ", ".join(AuditEvent.Action.values) + "."
MESSAGE_OUTCOME = "Choose an outcome: " + " or ".join(AuditEvent.Outcome.values) + "."
MESSAGE_SORT = "Sort by one of " + ", ".join(SORTABLE) + "; put a minus sign first for descending."
MESSAGE_USER = "A username or user id is at most 150 characters."

DEFAULT_SORT = "-time"
SORT_CHOICES = [(key, key) for key in SORTABLE] + [(f"-{key}", f"-{key}") for key in SORTABLE]
FILTER_FIELDS = ("date_from", "date_to", "user", "patient", "action", "outcome")


def _date_field(label: str, help_text: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": MESSAGE_DATE},
        help_text=help_text,
    )


class AuditFilterForm(forms.Form):
    """Every filter is optional; an empty form selects the whole trail, newest first."""

    date_from = _date_field("From", "UTC date, inclusive.")
    date_to = _date_field("To", "UTC date, inclusive.")
    user = forms.CharField(
        label="User",
        required=False,
        max_length=150,
        help_text="Username or user id.",
        error_messages={"max_length": MESSAGE_USER},
    )
    patient = forms.UUIDField(
        label="Patient id",
        required=False,
        help_text="The patient's id (a UUID).",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
        error_messages={"invalid": MESSAGE_PATIENT_ID},
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *AuditEvent.Action.choices],
        error_messages={"invalid_choice": MESSAGE_ACTION},
    )
    outcome = forms.ChoiceField(
        label="Outcome",
        required=False,
        choices=[("", "Any outcome"), *AuditEvent.Outcome.choices],
        error_messages={"invalid_choice": MESSAGE_OUTCOME},
    )
    sort = forms.ChoiceField(
        required=False,
        choices=SORT_CHOICES,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": MESSAGE_SORT},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", MESSAGE_DATE_ORDER)
        return cleaned

    def to_filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            user=(data.get("user") or "").strip(),
            patient=data.get("patient"),
            action=data.get("action") or "",
            outcome=data.get("outcome") or "",
            sort=data.get("sort") or DEFAULT_SORT,
        )

    def applied(self) -> dict[str, str]:
        """The filters in use, as strings, for the audit event that records this report."""
        return {
            name: str(value)
            for name in (*FILTER_FIELDS, "sort")
            if (value := self.cleaned_data.get(name)) not in (None, "")
        }

    def field_errors(self) -> list[FieldError]:
        return [
            FieldError(field=name, rule=str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]
