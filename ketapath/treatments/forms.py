"""Forms of the session charting pages (issue 8).

The forms only parse what the browser sends; every clinical rule (hard stops, the second
check, discharge criteria) is the services' (services.py, charting.py), whose field errors
the views put beside these fields. Aldrete wording is clinical.md §1.5.
"""

from decimal import Decimal
from typing import Any

from django import forms

from ketapath.pharmacy.models import Vial
from ketapath.treatments import charting, services
from ketapath.treatments.models import READINESS_ITEMS, AdverseEvent

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
MESSAGE_WHOLE = "Must be a whole number."
MESSAGE_NUMBER = "Must be a number greater than 0."
MESSAGE_CHOOSE = "Choose one."

PREGNANCY_CHOICES = [
    ("", "— choose —"),
    ("not_applicable", "Not applicable"),
    ("not_pregnant", "Not pregnant"),
    ("pregnant", "Pregnant"),
    ("unknown", "Unknown"),
]
HISTORY_CHOICES = [
    ("", "— choose —"),
    ("unchanged", "Unchanged since the last session"),
    ("re_reviewed", "Re-reviewed (say what changed)"),
]
RULE_LABELS = {
    services.RULE_READINESS: "Readiness check not recorded today",
    services.RULE_CONSENT: "No current ketamine treatment consent",
    services.RULE_OPEN_ALERT: "Open safety alert",
    services.RULE_BP: "Baseline blood pressure at the hold level",
    services.RULE_PREGNANCY: "Pregnancy",
    services.RULE_IM_VOLUME: "IM volume above the site's maximum per injection site",
    services.RULE_DISCHARGE: "Discharge criteria not all met",
    "cap": "Dose above the protocol template's cap",
    "range": "Dose outside the protocol template's mg/kg range",
    "ceiling": "Dose above the site's mg/kg ceiling",
    charting.RULE_LEDGER: "Ledger does not balance",
    charting.RULE_OPEN_SESSION_ALERT: "In-session alert still open",
}
# The modified Aldrete items' points in plain words (clinical.md §1.5; rules.aldrete).
ALDRETE_CHOICES: dict[str, list[tuple[int, str]]] = {
    "activity": [
        (2, "2 — moves 4 limbs voluntarily or on command"),
        (1, "1 — moves 2 limbs"),
        (0, "0 — moves no limbs"),
    ],
    "respiration": [
        (2, "2 — breathes deeply and coughs freely"),
        (1, "1 — short of breath, shallow or limited breathing"),
        (0, "0 — not breathing (apnoeic)"),
    ],
    "consciousness": [
        (2, "2 — fully awake"),
        (1, "1 — wakes when called"),
        (0, "0 — not responding"),
    ],
    "spo2_points": [
        (2, "2 — SpO₂ above 92 % on room air"),
        (1, "1 — needs oxygen to keep SpO₂ above 90 %"),
        (0, "0 — SpO₂ below 90 % even with oxygen"),
    ],
}
ALDRETE_LABELS = {
    "activity": "Activity",
    "respiration": "Respiration",
    "consciousness": "Consciousness",
    "spo2_points": "Oxygen saturation",
}
DISSOCIATION_CHOICES = [
    ("", "— choose a scale —"),
    ("clinician_0_4", "Clinician's rating, 0 (none) to 4 (extreme)"),
    ("cadss_6", "CADSS-6 total, 0 to 24"),
]


def _int(label: str, *, low: int | None = None, high: int | None = None, **kw: Any) -> Any:
    message = kw.pop("message", MESSAGE_WHOLE)
    attrs: dict[str, str] = {"inputmode": "numeric"}
    if low is not None:
        attrs["min"] = str(low)
    if high is not None:
        attrs["max"] = str(high)
    return forms.IntegerField(
        label=label,
        required=kw.pop("required", False),
        min_value=low,
        max_value=high,
        error_messages={
            "invalid": message,
            "min_value": message,
            "max_value": message,
            "required": kw.pop("required_message", "Required."),
        },
        widget=forms.NumberInput(attrs=attrs),
        **kw,
    )


def _decimal(label: str, *, places: int = 2, **kw: Any) -> Any:
    return forms.DecimalField(
        label=label,
        required=kw.pop("required", False),
        min_value=Decimal("0.001"),
        max_digits=9,
        decimal_places=places,
        error_messages={
            "invalid": MESSAGE_NUMBER,
            "min_value": MESSAGE_NUMBER,
            "required": kw.pop("required_message", "Required."),
            "max_decimal_places": f"At most {places} decimals.",
            "max_digits": MESSAGE_NUMBER,
        },
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        **kw,
    )


def _when(label: str, **kw: Any) -> Any:
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
        error_messages={"invalid": "Enter a date and time (YYYY-MM-DD HH:MM)."},
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        **kw,
    )


def _text(label: str, max_length: int, *, area: bool = False, **kw: Any) -> Any:
    widget = forms.Textarea(attrs={"rows": 3}) if area else forms.TextInput()
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=kw.pop("required", False),
        widget=widget,
        error_messages={"max_length": f"At most {max_length} characters."},
        **kw,
    )


class ReadinessForm(forms.Form):
    """One box per emergency item and rescue drug (models.READINESS_ITEMS)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label in READINESS_ITEMS:
            self.fields[key] = forms.BooleanField(label=label, required=False)

    def items(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(key)) for key, _ in READINESS_ITEMS}


class PreCheckForm(forms.Form):
    """Every pre-check answer (services.PRE_CHECK_FIELDS); the view sends the ones changed."""

    identity_confirmed = forms.BooleanField(
        label="Identity confirmed (two identifiers)", required=False
    )
    escort_name = _text("Escort or driver's name", 200)
    escort_phone = _text("Escort's phone", 40)
    fasting_confirmed = forms.BooleanField(label="Fasting as instructed", required=False)
    pregnancy_status = forms.ChoiceField(
        label="Pregnancy", choices=PREGNANCY_CHOICES, required=False
    )
    history_review = forms.ChoiceField(
        label="History and medications", choices=HISTORY_CHOICES, required=False
    )
    history_note = _text("What was re-reviewed and what changed", 1000, area=True)
    urinary_symptoms_asked = forms.BooleanField(
        label="Asked about urinary symptoms", required=False
    )
    urinary_note = _text("Urinary symptoms note", 500)
    pain_before = _int(
        "Pain now, 0 (none) to 10 (worst imaginable)", low=0, high=10, message=services.MESSAGE_PAIN
    )
    systolic = _int("Systolic (mmHg)", low=1, high=300)
    diastolic = _int("Diastolic (mmHg)", low=1, high=300)
    heart_rate = _int("Heart rate (/min)", low=1, high=300)
    spo2 = _int("SpO₂ (%)", low=1, high=100)
    respiratory_rate = _int("Respiratory rate (/min)", low=1, high=100)
    bp_acknowledged = forms.BooleanField(
        label="I acknowledge the raised blood pressure", required=False
    )
    questionnaires_note = _text("Why the questionnaires are not done", 500, area=True)

    def changed(self, current: dict[str, Any]) -> dict[str, Any]:
        """The answers that differ from those already recorded; a new vital sign sends the
        whole set taken now (the service stores them as one reading, systolic and diastolic
        together)."""
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            before = current.get(name)
            if isinstance(field, forms.BooleanField):
                if (before is None and not value) or bool(before) == bool(value):
                    continue
                out[name] = bool(value)
            else:
                value = None if value == "" else value
                before = None if before == "" else before
                if value != before:
                    out[name] = value
        if any(name in out for name in services.VITAL_FIELDS):
            for name in services.VITAL_FIELDS:
                out[name] = self.cleaned_data.get(name)
        return out


class OverrideForm(forms.Form):
    rule = forms.ChoiceField(
        label="Hard stop to override",
        choices=[(r, RULE_LABELS.get(r, r)) for r in services.OVERRIDABLE_RULES],
    )
    reason = forms.CharField(
        label="Reason (at least 10 characters)",
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": services.MESSAGE_REASON_SHORT},
    )


class DoseOrderForm(forms.Form):
    weight_kg = _decimal(
        "Today's weight (kg)", places=1, required=True, required_message="Enter today's weight."
    )
    vial = forms.ChoiceField(
        label="Vial",
        error_messages={"required": services.MESSAGE_VIAL, "invalid_choice": services.MESSAGE_VIAL},
    )
    mg_per_kg = _decimal(
        "Dose (mg/kg)", places=3, required=True, required_message="Enter the mg/kg."
    )
    mg_per_kg_reason = _text(
        "Reason for a dose other than the course order", services.REASON_MAX, area=True
    )
    weight_change_confirmed = forms.BooleanField(
        label="I confirm today's weight is correct", required=False
    )

    def __init__(self, *args: Any, vials: list[Vial] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["vial"].choices = [("", "— choose a vial —")] + [  # type: ignore[attr-defined]
            (
                str(v.id),
                f"{v.label} · {v.mg_per_ml.normalize():f} mg/mL · {v.balance_ml} mL left"
                f" · lot {v.lot}, exp. {v.expiry:%Y-%m-%d}",
            )
            for v in vials
        ]


class AdministrationForm(forms.Form):
    """The second person's own recomputation (typed, never prefilled), their co-signature,
    and what was given."""

    check_dose_mg = _decimal(
        "Second check: your dose (mg)", required=True, required_message="Enter your own mg."
    )
    check_volume_ml = _decimal(
        "Second check: your volume (mL)", required=True, required_message="Enter your own mL."
    )
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
    injection_site = _text("Injection or cannula site", 60)
    given_at = _when("Given at", required=False, help_text="Leave as now unless charting late.")
    amount_mg = _decimal(
        "Amount given (mg)", help_text="Leave as the ordered dose unless less was given."
    )
    partial_reason = _text("Why less than the ordered dose", 500)
    infusion_minutes = _int("Infusion length (minutes)", low=1, high=240)
    infusion_rate_mg_per_hr = _decimal("Infusion rate (mg/hr)")

    def __init__(self, *args: Any, iv: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["check_dose_mg"].widget.attrs["autocomplete"] = "off"
        self.fields["check_volume_ml"].widget.attrs["autocomplete"] = "off"
        if not iv:
            del self.fields["infusion_minutes"]
            del self.fields["infusion_rate_mg_per_hr"]


class VitalsForm(forms.Form):
    systolic = _int("Systolic (mmHg)", low=1, high=300)
    diastolic = _int("Diastolic (mmHg)", low=1, high=300)
    heart_rate = _int("Heart rate (/min)", low=1, high=300)
    spo2 = _int("SpO₂ (%)", low=1, high=100)
    respiratory_rate = _int("Respiratory rate (/min)", low=1, high=100)
    spo2_low_seconds = _int(
        "SpO₂ low for (seconds)",
        low=0,
        high=3600,
        message=charting.MESSAGE_SPO2_SECONDS,
        help_text="Only when the monitor showed a low saturation: how long it lasted.",
    )

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in services.VITAL_FIELDS}


class AlertClearForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": charting.MESSAGE_ALERT_NOTE},
    )


class AdverseEventForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[("", "— choose —"), *AdverseEvent.Kind.choices],
        error_messages={"required": MESSAGE_CHOOSE},
    )
    severity = forms.ChoiceField(
        label="Severity",
        choices=[("", "— choose —"), *AdverseEvent.Severity.choices],
        error_messages={"required": MESSAGE_CHOOSE},
    )
    onset = _when("Onset")
    action = forms.CharField(
        label="Action taken",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": charting.MESSAGE_AE_ACTION},
    )
    medication = _text(
        "Medication given (name, dose, route, time)",
        200,
        help_text="Leave empty when none was given.",
    )
    description = _text("Description", 500, area=True)


class RatingsForm(forms.Form):
    pain_after = _int(
        "Pain now, 0 (none) to 10 (worst imaginable)",
        low=0,
        high=charting.PAIN_MAX,
        message=charting.MESSAGE_PAIN,
    )
    dissociation_scale = forms.ChoiceField(
        label="Dissociation scale", choices=DISSOCIATION_CHOICES, required=False
    )
    dissociation_score = _int(
        "Dissociation score",
        low=0,
        high=24,
        help_text="0–4 on the clinician's rating; 0–24 for the CADSS-6 total.",
    )


class DischargeForm(forms.Form):
    systolic = _int(
        "Systolic now (mmHg)",
        low=1,
        high=300,
        required=True,
        required_message="The systolic pressure now, mmHg (1–300).",
    )
    escort_name = _text("Escort's name", 200)
    leave_now = forms.ChoiceField(
        label="When the criteria are met",
        choices=[("leave", "Leaves now"), ("wait", "Ready, waiting (e.g. for the escort)")],
        widget=forms.RadioSelect,
        initial="leave",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in charting.DISCHARGE_ITEM_FIELDS:
            self.fields[name] = forms.TypedChoiceField(
                label=ALDRETE_LABELS[name],
                choices=ALDRETE_CHOICES[name],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose 0, 1 or 2."},
            )
        for name in charting.DISCHARGE_CHECKS:
            self.fields[name] = forms.BooleanField(
                label=charting.DISCHARGE_LABELS[name], required=False
            )

    def data_for_service(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in charting.DISCHARGE_ITEM_FIELDS}
        data.update({name: bool(self.cleaned_data[name]) for name in charting.DISCHARGE_CHECKS})
        data["systolic"] = self.cleaned_data["systolic"]
        data["escort_name"] = self.cleaned_data.get("escort_name") or ""
        return data


class AmaForm(forms.Form):
    ama_note = forms.CharField(
        label="What the patient was told, who was informed, who they left with",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": charting.MESSAGE_AMA_NOTE},
    )
    confirm = forms.BooleanField(
        label="Yes, the patient leaves against medical advice",
        error_messages={"required": "Tick the box to confirm."},
    )


class AbortForm(forms.Form):
    reason = forms.CharField(
        label="Reason the session is aborted",
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": services.MESSAGE_ABORT_REASON},
    )
    confirm = forms.BooleanField(
        label="Yes, abort this session",
        error_messages={"required": "Tick the box to confirm."},
    )
