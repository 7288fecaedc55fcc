"""Forms for the clinic admin pages and the policy page. They parse input; the services
validate the rules and their errors are put back beside the fields they name."""

from datetime import time
from typing import Any, cast

from django import forms
from django.db import models

from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Room
from ketapath.clinics.services import MESSAGE_POLICY_REASON
from ketapath.core.errors import ApplicationError
from ketapath.core.validators import format_phone

MESSAGE_ROW_INCOMPLETE = (
    "Give the weekday, the opening and the closing time, or leave the whole row blank."
)

# Offered as suggestions beside the time-zone box; any IANA name is accepted.
COMMON_TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)


def _model_label(model: type[Any], name: str) -> str:
    label = str(model._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def _model_help(model: type[Any], name: str) -> str:
    return str(model._meta.get_field(name).help_text)


def policy_setting_meta(name: str) -> tuple[str, str]:
    """A policy setting's label and help text (its meaning and cited default)."""
    return _model_label(ClinicPolicy, name), _model_help(ClinicPolicy, name)


class ClinicDetailsForm(forms.Form):
    name = forms.CharField(label="Site name", max_length=120)
    address_line1 = forms.CharField(label=_model_label(Clinic, "address_line1"), max_length=200)
    address_line2 = forms.CharField(
        label=_model_label(Clinic, "address_line2"), max_length=200, required=False
    )
    city = forms.CharField(max_length=100)
    state = forms.CharField(
        max_length=2,
        help_text="Two-letter code, e.g. CO.",
        widget=forms.TextInput(attrs={"size": 3}),
    )
    postal_code = forms.CharField(label=_model_label(Clinic, "postal_code"), max_length=10)
    phone = forms.CharField(
        max_length=30,
        help_text="Any usual format; it is stored in international form (+1…).",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    time_zone = forms.CharField(
        max_length=64,
        help_text="IANA name, e.g. America/Denver. Every time at this site is shown in it.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    dea_registration = forms.CharField(
        label=_model_label(Clinic, "dea_registration"),
        max_length=9,
        required=False,
        help_text=_model_help(Clinic, "dea_registration"),
    )

    @classmethod
    def initial_for(cls, clinic: Clinic) -> dict[str, Any]:
        initial = {name: getattr(clinic, name) for name in cls.base_fields}
        initial["phone"] = format_phone(clinic.phone)
        return initial


class HoursRowForm(forms.Form):
    weekday = forms.TypedChoiceField(
        choices=[("", "—")] + [(str(v), label) for v, label in OpeningHours.Weekday.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    opens = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [data.get(name) is not None for name in ("weekday", "opens", "closes")]
        if any(given) and not all(given):
            raise forms.ValidationError(MESSAGE_ROW_INCOMPLETE, code="incomplete")
        data["blank"] = not any(given)
        return data


class BaseHoursFormSet(forms.BaseFormSet):
    def rows(self) -> tuple[list[tuple[int, time, time]], list[int]]:
        """The kept rows as (weekday, opens, closes) and each row's form index."""
        rows: list[tuple[int, time, time]] = []
        positions: list[int] = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("blank") or data.get("DELETE"):
                continue
            rows.append((data["weekday"], data["opens"], data["closes"]))
            positions.append(index)
        return rows, positions

    def apply_errors(self, exc: ApplicationError, positions: list[int]) -> None:
        """Put ``hours.<i>[.<field>]`` errors from the service on the row they name."""
        for error in exc.errors:
            parts = error.field.split(".")
            if len(parts) >= 2 and parts[0] == "hours" and parts[1].isdigit():
                form = self.forms[positions[int(parts[1])]]
                field = parts[2] if len(parts) > 2 else None
                form.add_error(field if field in form.fields else None, error.rule)
            else:
                self.non_form_errors().append(error.rule)


HoursFormSet = cast(
    type[BaseHoursFormSet],
    forms.formset_factory(HoursRowForm, formset=BaseHoursFormSet, extra=3, can_delete=True),
)


class ClosureForm(forms.Form):
    start_date = forms.DateField(
        label=_model_label(Closure, "start_date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=_model_label(Closure, "end_date"),
        help_text="The same as the first day for a one-day closure.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(max_length=200, help_text="Shown to staff, e.g. 'Independence Day'.")


class RoomForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="Unique at this site, e.g. 'Treatment 2'.")
    kind = forms.ChoiceField(choices=Room.Kind.choices)
    active = forms.BooleanField(
        label="Active (can be booked)",
        required=False,
        initial=True,
        help_text="Untick to stop booking this room; its history is kept.",
    )


class PolicyForm(forms.Form):
    """One field per editable policy setting, with the model's label and cited default."""

    def __init__(self, *args: Any, policy: ClinicPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ClinicPolicy.EDITABLE_FIELDS:
            model_field = cast(models.Field, ClinicPolicy._meta.get_field(name))
            formfield = model_field.formfield()
            if formfield is None:
                continue
            self.fields[name] = formfield
            self.initial.setdefault(name, getattr(policy, name))
        self.fields["reason"] = forms.CharField(
            label="Reason for the change",
            max_length=300,
            help_text="Recorded with this version, e.g. 'Board decision of 3 March'.",
            widget=forms.Textarea(attrs={"rows": 3}),
            error_messages={"required": MESSAGE_POLICY_REASON},
        )

    def changes(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name]
            for name in ClinicPolicy.EDITABLE_FIELDS
            if name in self.cleaned_data
        }
