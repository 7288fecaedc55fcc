"""The protocol template form: every editable field, with lists as comma-separated text."""

from typing import Any

from django import forms

from ketapath.protocols.models import ProtocolTemplate

MESSAGE_NUMBERS = "Give whole minutes separated by commas, e.g. 0, 10, 20."


def _csv(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


class ProtocolForm(forms.ModelForm):
    vitals_offsets = forms.CharField(
        label="Vitals due at (minutes after the dose)",
        help_text="Comma-separated, e.g. 0, 10, 20, 30, 40, 50, 60 (clinical.md §5: IM every "
        "10–15 min for the first 40–60 min, then every 15 min until discharge).",
    )
    pre_questionnaires = forms.CharField(
        label="Questionnaires before each session",
        required=False,
        help_text="Instrument codes, comma-separated: phq-9, gad-7, pcl-5, peg, pain-nrs.",
    )
    post_questionnaires = forms.CharField(label="Questionnaires after each session", required=False)

    class Meta:
        model = ProtocolTemplate
        fields = [
            "name",
            "indication",
            "route",
            "sessions",
            "min_interval_hours",
            "window_days",
            "mg_per_kg_min",
            "mg_per_kg_max",
            "cap_mg",
            "dose_minutes",
            "observation_minutes",
            "reassessment_days",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["vitals_offsets"] = _csv(self.instance.vitals_offsets)
            self.initial["pre_questionnaires"] = _csv(self.instance.pre_questionnaires)
            self.initial["post_questionnaires"] = _csv(self.instance.post_questionnaires)
        self.order_fields(
            [
                *self.Meta.fields[:-1],
                "vitals_offsets",
                "pre_questionnaires",
                "post_questionnaires",
                "notes",
            ]
        )

    def clean_vitals_offsets(self) -> list[int]:
        raw = self.cleaned_data["vitals_offsets"]
        try:
            return [int(x) for x in raw.replace(" ", "").split(",") if x]
        except ValueError as exc:
            raise forms.ValidationError(MESSAGE_NUMBERS) from exc

    def _codes(self, name: str) -> list[str]:
        return [x.strip().lower() for x in self.cleaned_data[name].split(",") if x.strip()]

    def clean_pre_questionnaires(self) -> list[str]:
        return self._codes("pre_questionnaires")

    def clean_post_questionnaires(self) -> list[str]:
        return self._codes("post_questionnaires")

    def _post_clean(self) -> None:
        # The service validates the template as a whole (ceiling, spacing, codes).
        pass

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}
