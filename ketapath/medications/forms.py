"""Forms of the medication pages: add a medication, stop one (with confirmation), record a
PDMP check. Services do the validation that matters; these parse and label."""

from typing import Any

from django import forms

from ketapath.core.forms import MESSAGE_CONFIRM_REQUIRED
from ketapath.medications.catalogue import OPIOIDS
from ketapath.medications.models import PdmpCheck, Route

_DATE = forms.DateInput(attrs={"type": "date"})


def _opioid_choices() -> list[tuple[str, str]]:
    choices = [("", "Not an opioid")]
    for entry in OPIOIDS:
        note = " — no MME (excluded)" if entry.excluded else ""
        form = "" if entry.dose_form == "unspecified" else f" ({entry.dose_form})"
        choices.append((entry.key, f"{entry.ingredient}{form}{note}"))
    return choices


class MedicationForm(forms.Form):
    drug_name = forms.CharField(
        label="Drug as prescribed", max_length=200, help_text="For example “OxyContin 10 mg ER”."
    )
    opioid_key = forms.ChoiceField(
        label="Opioid",
        choices=_opioid_choices,
        required=False,
        help_text="Choose the opioid and form so its daily MME is counted.",
    )
    ingredient = forms.CharField(
        max_length=120,
        required=False,
        help_text="Active ingredient, e.g. “lamotrigine”. Filled in for opioids.",
    )
    rxnorm_ingredient = forms.CharField(
        label="RxNorm ingredient code",
        max_length=12,
        required=False,
        help_text="Optional RxCUI; filled in for opioids from the catalogue.",
    )
    dose_form = forms.CharField(max_length=80, required=False, help_text="e.g. tablet, patch")
    strength = forms.CharField(max_length=60, required=False, help_text="As written, e.g. “10 mg”")
    dose_mg = forms.DecimalField(label="Dose (mg)", required=False, min_value=0, decimal_places=3)
    dose_mcg = forms.DecimalField(
        label="Dose (mcg)",
        required=False,
        min_value=0,
        decimal_places=3,
        help_text="Buccal, film, oral or nasal spray fentanyl.",
    )
    dose_mcg_per_hr = forms.DecimalField(
        label="Patch strength (mcg/hr)",
        required=False,
        min_value=0,
        decimal_places=2,
        help_text="Transdermal fentanyl only.",
    )
    doses_per_day = forms.DecimalField(
        label="Doses per day",
        required=False,
        min_value=0,
        decimal_places=2,
        help_text="As needed: the maximum prescribed per day.",
    )
    prn = forms.BooleanField(label="Taken as needed", required=False)
    route = forms.ChoiceField(choices=Route.choices, initial=Route.ORAL)
    start_date = forms.DateField(widget=_DATE)
    stop_date = forms.DateField(
        required=False, widget=_DATE, help_text="The first day it is no longer taken, if known."
    )
    prescriber = forms.CharField(
        max_length=200, help_text="Name of the prescriber; outside prescribers are common."
    )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["opioid_key"] = data["opioid_key"] or None
        data["rxnorm_ingredient"] = data["rxnorm_ingredient"] or None
        return data


class MedicationStopForm(forms.Form):
    stop_date = forms.DateField(
        label="Stopped from", widget=_DATE, help_text="The first day it is no longer taken."
    )
    reason = forms.CharField(max_length=300, required=False, label="Reason (optional)")
    confirm = forms.BooleanField(
        label="Yes, stop this medication", error_messages={"required": MESSAGE_CONFIRM_REQUIRED}
    )


class PdmpCheckForm(forms.Form):
    state = forms.CharField(
        max_length=2, help_text="Two-letter code of the state searched, e.g. CO."
    )
    result = forms.ChoiceField(choices=PdmpCheck.Result.choices, widget=forms.RadioSelect)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
