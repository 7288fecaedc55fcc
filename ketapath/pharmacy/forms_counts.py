"""Forms of the count, investigation, loss and return pages.

The count form is blind: it lists the vials to count without what the ledger expects, and
shows the expected amounts only after the count is saved.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms

from ketapath.pharmacy import stocktake
from ketapath.pharmacy.models import LossReport, Vial, plain_number

MESSAGE_ML = "Enter the mL as a number, 0 or more, with at most 2 decimals."
MESSAGE_LOSS_NONE = "Enter the mL lost for at least one vial."
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def ml_field_name(vial: Vial) -> str:
    return f"ml_{vial.id}"


def _ml_field(
    vial: Vial,
    *,
    required: bool,
    label: str,
    min_value: Decimal = Decimal("0"),
    max_value: Decimal | None = None,
    max_message: str = "",
) -> forms.DecimalField:
    top = vial.volume_ml if max_value is None else max_value
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=min_value,
        max_value=top,
        max_digits=8,
        decimal_places=2,
        error_messages={
            "required": f"Enter the mL counted in vial {vial.label}.",
            "invalid": MESSAGE_ML,
            "min_value": MESSAGE_ML,
            "max_value": max_message
            or stocktake.MESSAGE_COUNTED_OVER.format(label=vial.label, volume=vial.volume_ml),
            "max_digits": MESSAGE_ML,
            "max_decimal_places": MESSAGE_ML,
        },
        widget=forms.NumberInput(
            attrs={"step": "0.01", "min": str(min_value), "max": str(top), "inputmode": "decimal"}
        ),
    )


def _datetime_field(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        help_text=help_text,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )


class CoSignFields(forms.Form):
    co_sign_username = forms.CharField(
        label="Second person's username",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    co_sign_password = forms.CharField(
        label="Second person's password",
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


class CountForm(CoSignFields):
    """One mL field per vial listed (required for the vials the count must include), the
    inventory's timing, a note and the second counter's co-signature."""

    field_order = ["timing", "note"]

    timing = forms.ChoiceField(
        label="Taken at",
        required=False,
        choices=list(stocktake.TIMINGS.items()),
        widget=forms.RadioSelect,
        help_text="An inventory is taken at the opening or the close of business.",
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=300,
        help_text="Optional, for example who else was present or which cabinet.",
    )

    def __init__(self, *args: Any, sheet: stocktake.CountSheet, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.sheet = sheet
        if kind in stocktake.INVENTORY_KINDS:
            self.fields["timing"].required = True
        else:
            del self.fields["timing"]
        for vial in sheet.required:
            self.fields[ml_field_name(vial)] = _ml_field(
                vial, required=True, label=f"mL counted in {vial.label}"
            )
        for vial in sheet.optional:
            self.fields[ml_field_name(vial)] = _ml_field(
                vial, required=False, label=f"mL counted in {vial.label} (optional)"
            )

    def vial_rows(self, vials: Iterable[Vial]) -> list[tuple[Vial, forms.BoundField]]:
        return [(v, self[ml_field_name(v)]) for v in vials]

    @property
    def required_rows(self) -> list[tuple[Vial, forms.BoundField]]:
        return self.vial_rows(self.sheet.required)

    @property
    def optional_rows(self) -> list[tuple[Vial, forms.BoundField]]:
        return self.vial_rows(self.sheet.optional)

    def lines(self) -> dict[Any, object]:
        """{vial id: mL counted} for every vial with an amount entered."""
        out: dict[Any, object] = {}
        for vial in [*self.sheet.required, *self.sheet.optional]:
            value = self.cleaned_data.get(ml_field_name(vial))
            if value is not None:
                out[vial.id] = value
        return out


class CloseForm(forms.Form):
    explanation = forms.CharField(
        label="Explanation",
        min_length=stocktake.EXPLANATION_MIN,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What was found: a miscount, a draw or waste entered late, or the loss or "
        "reversal recorded for it. At least 20 characters; it cannot be changed afterwards.",
        error_messages={"min_length": stocktake.MESSAGE_EXPLANATION},
    )


class LossForm(forms.Form):
    kind = forms.ChoiceField(
        label="What happened", choices=LossReport.Kind.choices, widget=forms.RadioSelect
    )
    discovered_at = _datetime_field(
        "Discovered at", "Site time. The written notice to the DEA is due the next business day."
    )
    description = forms.CharField(
        label="Description",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What is missing, how and when it was found, who was told. At least 20 "
        "characters.",
    )
    police_report = forms.CharField(
        label="Police report reference",
        required=False,
        max_length=120,
        help_text="If the theft was reported to the police.",
    )

    def __init__(self, *args: Any, vials: list[Vial], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vials = vials
        for vial in vials:
            field = _ml_field(
                vial,
                required=False,
                label=f"mL lost from {vial.label}",
                min_value=Decimal("0.01"),
                max_value=vial.balance_ml,
                max_message=f"Only {vial.balance_ml} mL is recorded in {vial.label}.",
            )
            field.error_messages["min_value"] = "Enter an amount above 0, or leave it empty."
            self.fields[ml_field_name(vial)] = field

    @property
    def vial_rows(self) -> list[tuple[Vial, forms.BoundField]]:
        return [(v, self[ml_field_name(v)]) for v in self.vials]

    def items(self) -> list[tuple[Vial, object]]:
        return [
            (v, self.cleaned_data[ml_field_name(v)])
            for v in self.vials
            if self.cleaned_data.get(ml_field_name(v)) is not None
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.items():
            raise forms.ValidationError(MESSAGE_LOSS_NONE)
        return data


class StepForm(forms.Form):
    """Recording one of the loss steps (the written notice, or Form 106)."""

    at = _datetime_field("Done at", "Site time.")
    reference = forms.CharField(label="Reference", max_length=120)

    def __init__(self, *args: Any, reference_help: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reference"].help_text = reference_help


class ReturnForm(CoSignFields):
    field_order = ["vial", "receiving_party", "reference", "reason"]

    vial = forms.ChoiceField(label="Vial")
    receiving_party = forms.CharField(
        label="Received by (reverse distributor)",
        max_length=200,
        help_text="The company's name and DEA registration number.",
    )
    reference = forms.CharField(
        label="Their form or invoice reference",
        max_length=80,
        help_text="As on the reverse distributor's paperwork for this pick-up.",
    )
    reason = forms.CharField(label="Reason", max_length=300, help_text="For example “expired”.")

    def __init__(self, *args: Any, vials: list[Vial], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vials = {str(v.id): v for v in vials}
        vial_field = self.fields["vial"]
        assert isinstance(vial_field, forms.ChoiceField)
        vial_field.choices = [("", "Choose a vial")] + [
            (str(v.id), vial_choice_label(v)) for v in vials
        ]
        self.fields["co_sign_username"].label = "Witness's username"
        self.fields["co_sign_password"].label = "Witness's password"

    def chosen_vial(self) -> Vial:
        return self.vials[self.cleaned_data["vial"]]


def vial_choice_label(vial: Vial) -> str:
    conc = plain_number(vial.mg_per_ml)
    status = vial.get_status_display().lower()
    return (
        f"{vial.label} · {vial.get_substance_display()} {conc} mg/mL · lot {vial.lot} · "
        f"{vial.balance_ml} mL ({vial.balance_mg} mg) · {status}"
    )
