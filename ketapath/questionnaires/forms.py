"""The entry form of one instrument: one radio group per item, built from the registry.

Every item is optional here: staff may save a partial response, which the service stores
with its missing items and no total.
"""

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from ketapath.questionnaires.instruments import Instrument, Item
from ketapath.questionnaires.models import Response

MESSAGE_DATE_ORDER = "The start date must be on or before the end date."


def item_field_name(item: Item) -> str:
    return f"item_{item.link_id}"


class ResponseForm(forms.Form):
    context = forms.ChoiceField(
        label="Context",
        choices=Response.Context.choices,
        initial=Response.Context.SCREENING,
        help_text="When in the patient's care the questionnaire was answered.",
    )
    collected_at = forms.DateTimeField(
        label="Collected at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        required=False,
        help_text="When the patient answered, in the site's time zone. Defaults to now.",
    )

    def __init__(self, *args: Any, instrument: Instrument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            self.fields[item_field_name(item)] = forms.TypedChoiceField(
                label=f"{item.link_id}. {item.text}",
                choices=[(str(o.value), o.label) for o in item.options],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )

    @property
    def item_rows(self) -> list[tuple[Item, forms.BoundField]]:
        """Each item with its bound field, in the instrument's order, for the template."""
        return [(item, self[item_field_name(item)]) for item in self.instrument.items]

    def clean_collected_at(self) -> Any:
        return self.cleaned_data.get("collected_at") or timezone.now()

    def answers(self) -> dict[str, int | None]:
        return {
            item.link_id: self.cleaned_data.get(item_field_name(item))
            for item in self.instrument.items
        }

    def service_error_field(self, name: str) -> str | None:
        """The form field a service error names ("answers.9" → "item_9")."""
        if name.startswith("answers."):
            candidate = f"item_{name.removeprefix('answers.')}"
            return candidate if candidate in self.fields else None
        return name if name in self.fields else None


class ResponseFilterForm(forms.Form):
    instrument = forms.ChoiceField(label="Instrument", required=False)
    date_from = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, instruments: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [("", "All"), *instruments]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("date_from")
        end: date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", MESSAGE_DATE_ORDER)
        return data
