"""Forms for recording vitals and clearing a safety alert."""

from typing import Any

from django import forms
from django.utils import timezone

from ketapath.observations import rules
from ketapath.observations.models import Observation

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def _local_now_input() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


class VitalsForm(forms.Form):
    """Every kind is optional; at least one must be given (checked by the rules)."""

    taken_at = forms.DateTimeField(
        label="Taken at",
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    context_kind = forms.ChoiceField(label="Taken during", choices=Observation.ContextKind.choices)

    def __init__(self, *args: Any, zone_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["taken_at"].help_text = f"Time at the site ({zone_name})."
        self.fields["taken_at"].initial = _local_now_input
        for kind in rules.VITAL_KINDS:
            # Text input keeps the browser from silently rounding; the rules check numbers.
            self.fields[kind.key] = forms.CharField(
                label=kind.label,
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )

    def vital_fields(self) -> list[forms.BoundField]:
        return [self[k.key] for k in rules.VITAL_KINDS]

    def measurements(self) -> dict[str, str]:
        return {
            k.key: self.cleaned_data[k.key].strip()
            for k in rules.VITAL_KINDS
            if self.cleaned_data.get(k.key, "").strip()
        }


class AlertClearForm(forms.Form):
    assessed_at = forms.DateTimeField(
        label="Risk assessment done at",
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    risk_level = forms.ChoiceField(
        label="Risk level (your clinical judgement)",
        choices=list(rules.RISK_LEVELS.items()),
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(
        label="How you assessed",
        choices=list(rules.ASSESSMENT_METHODS.items()),
        widget=forms.RadioSelect,
    )
    findings = forms.CharField(label="Findings", widget=forms.Textarea(attrs={"rows": 4}))
    plan = forms.CharField(
        label="Safety plan",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"At least {rules.PLAN_MIN_LENGTH} characters: what happens next, and who "
        "does it.",
    )

    def __init__(self, *args: Any, zone_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "assessed_at"
        ].help_text = f"Today, time at the site ({zone_name}); not in the future."
        self.fields["assessed_at"].initial = _local_now_input

    def assessment(self) -> dict[str, Any]:
        return {
            "assessed_at": self.cleaned_data["assessed_at"],
            "risk_level": self.cleaned_data["risk_level"],
            "method": self.cleaned_data["method"],
            "findings": self.cleaned_data["findings"],
        }
