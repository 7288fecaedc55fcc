"""Forms of the stock pages: receiving a delivery, witnessed waste, quarantine, reversing
an entry and the strengths the medical director enables. The ledger services do the real
checks; these forms parse the input and carry the service's errors beside their fields."""

from decimal import Decimal
from typing import Any

from django import forms

from ketapath.pharmacy.models import Formulation, Substance, Vial, plain_number

# The service's error fields → the forms' fields.
FIELD_MAP = {
    "co_sign": "co_sign_username",
    "co_sign.username": "co_sign_username",
    "co_sign.password": "co_sign_password",
    "mg": "ml",
}
MESSAGE_REASON_SHORT = "Give the reason (at least 5 characters)."


def _text(label: str, max_length: int, help_text: str = "", **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs) if attrs else None,
    )


def _reason(label: str, help_text: str, max_length: int = 300) -> forms.CharField:
    return forms.CharField(
        label=label,
        min_length=5,
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"min_length": MESSAGE_REASON_SHORT, "required": MESSAGE_REASON_SHORT},
    )


class CoSignMixin(forms.Form):
    """The second person's username and password, typed by them at the same screen."""

    co_sign_username = forms.CharField(
        label="Second person's username",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    co_sign_password = forms.CharField(
        label="Second person's password",
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )

    def co_sign(self) -> dict[str, str]:
        return {
            "username": self.cleaned_data.get("co_sign_username", ""),
            "password": self.cleaned_data.get("co_sign_password", ""),
        }


class StrengthChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.get_substance_display()} {plain_number(obj.mg_per_ml)} mg/mL ({obj.schedule})"


class ReceiveForm(CoSignMixin):
    formulation = StrengthChoiceField(
        label="Substance and strength",
        queryset=Formulation.objects.none(),
        empty_label="Choose the strength on the label",
        help_text="Only strengths the medical director enabled at this site are listed.",
    )
    ndc = _text("NDC", 13, "As printed on the carton, for example 12345-678-90.")
    product = _text("Product", 200, "Name and presentation as on the label.")
    lot = _text("Lot", 40)
    expiry = forms.DateField(
        label="Expiry date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    volume_ml = forms.DecimalField(
        label="Volume of one vial (mL)",
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    vials = forms.IntegerField(
        label="Number of vials",
        min_value=1,
        max_value=500,
        help_text="Count the vials in front of the second person: each gets its own label.",
    )
    supplier = _text("Supplier", 200)
    invoice = _text("Invoice reference", 80, "The supplier's invoice or packing-slip number.")
    received_at = forms.DateTimeField(
        label="Received at (site time)",
        required=False,
        help_text="Leave empty for now.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    field_order = [
        "formulation", "ndc", "product", "lot", "expiry", "volume_ml", "vials", "supplier",
        "invoice", "received_at", "co_sign_username", "co_sign_password",
    ]  # fmt: skip

    def __init__(self, *args: Any, clinic_id: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["formulation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Formulation.objects.filter(clinic_id=clinic_id, enabled=True).order_by(
            "substance", "mg_per_ml"
        )
        self.fields["co_sign_username"].label = "Username of the person counting with you"
        self.fields["co_sign_password"].label = "Their password"
        self.fields["co_sign_password"].help_text = (
            "A second licensed nurse or prescriber counts the delivery and types their own "
            "password here."
        )

    def clean_ndc(self) -> str:
        ndc: str = self.cleaned_data["ndc"].strip()
        if not all(c.isdigit() or c == "-" for c in ndc):
            raise forms.ValidationError(
                "Enter the NDC as printed on the carton: digits and hyphens."
            )
        return ndc


class WasteForm(CoSignMixin):
    """Waste from a vial (a residue) or what a draw left in the syringe."""

    vial = forms.ChoiceField(label="Vial", required=False)
    draw = forms.ChoiceField(
        label="Or: what a draw left over",
        required=False,
        help_text="Choose the draw when wasting what was drawn but not given; the vial "
        "itself does not change.",
    )
    ml = forms.DecimalField(
        label="Amount wasted (mL)",
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    reason = _reason("Reason", "For example: residue below one dose; dose drawn, not given.")

    field_order = ["vial", "draw", "ml", "reason", "co_sign_username", "co_sign_password"]

    def __init__(
        self,
        *args: Any,
        vials: list[Vial] | None = None,
        draws: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["co_sign_username"].label = "Witness's username"
        self.fields["co_sign_password"].label = "Witness's password"
        self.fields["co_sign_password"].help_text = (
            "The witness watches the waste now and types their own password: another "
            "licensed nurse or prescriber, never the person wasting."
        )
        vial_field = self.fields["vial"]
        draw_field = self.fields["draw"]
        assert isinstance(vial_field, forms.ChoiceField)
        assert isinstance(draw_field, forms.ChoiceField)
        if vials is None:
            del self.fields["vial"]
        else:
            vial_field.choices = [("", "Choose a vial")] + [
                (
                    str(v.id),
                    f"{v.label} · {v.get_substance_display()} {plain_number(v.mg_per_ml)} mg/mL · "
                    f"{v.balance_ml} mL ({v.balance_mg} mg) left · lot {v.lot}",
                )
                for v in vials
            ]
            vial_field.help_text = "For a residue left in a vial."
        draw_field.choices = [("", "None: waste from the vial"), *(draws or [])]
        if not draws:
            draw_field.help_text = "No draw has an amount left to account for."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "vial" in self.fields and not data.get("vial") and not data.get("draw"):
            self.add_error("vial", "Choose the vial, or the draw whose remainder you waste.")
        return data


class QuarantineForm(forms.Form):
    reason = _reason(
        "Reason",
        "For example: cracked vial; label unreadable; expired. The vial keeps its balance "
        "and can no longer be drawn.",
        max_length=200,
    )


class ReverseForm(forms.Form):
    reason = _reason("Reason for the correction", "Say what was wrong with the entry.")
    confirm = forms.BooleanField(
        label="Yes, add a reversing entry",
        error_messages={"required": "Tick the box to confirm."},
    )


class FormulationForm(forms.Form):
    substance = forms.ChoiceField(label="Substance", choices=Substance.choices)
    mg_per_ml = forms.DecimalField(
        label="Concentration (mg/mL)",
        min_value=Decimal("0.01"),
        max_value=Decimal("9999.99"),
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    enabled = forms.BooleanField(label="Enabled: may be received", required=False, initial=True)


class FormulationToggleForm(forms.Form):
    formulation = forms.UUIDField(widget=forms.HiddenInput)
    enabled = forms.TypedChoiceField(
        choices=[("1", "Enable"), ("0", "Disable")], coerce=lambda v: v == "1"
    )


STATUS_FILTERS: tuple[tuple[str, str], ...] = (
    ("on_hand", "On hand (sealed, open, quarantined)"),
    ("usable", "Usable (sealed or open)"),
    (Vial.Status.IN_STOCK, "Sealed"),
    (Vial.Status.OPEN, "Open"),
    (Vial.Status.QUARANTINED, "Quarantined"),
    (Vial.Status.EMPTY, "Empty"),
    (Vial.Status.RETURNED, "Returned or destroyed"),
    (Vial.Status.LOST, "Lost or stolen"),
    ("all", "All vials"),
)


class StockFilterForm(forms.Form):
    status = forms.ChoiceField(label="Show", choices=STATUS_FILTERS, required=False)
