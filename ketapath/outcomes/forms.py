"""Forms of the outcome pages: the decision after a reassessment and the dashboard filter."""

from datetime import timedelta
from typing import Any

from django import forms

from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.outcomes import dashboard, services
from ketapath.outcomes.models import CourseDecision

MESSAGE_PERIOD = "The period must start on or before its end."
DEFAULT_PERIOD_DAYS = 365


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=CourseDecision.Decision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": services.MESSAGE_DECISION_INVALID},
    )
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=services.RATIONALE_MAX,
        error_messages={
            "required": services.MESSAGE_RATIONALE_REQUIRED,
            "max_length": services.MESSAGE_RATIONALE_LONG,
        },
        help_text="Why: the response, tolerability, the patient's wishes.",
    )
    benefit = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=services.RATIONALE_MAX,
        label="Benefit that justifies further sessions",
        help_text="Needed to continue: what improved and for how long.",
        error_messages={"max_length": services.MESSAGE_RATIONALE_LONG},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("decision") == CourseDecision.Decision.CONTINUE
            and not (data.get("benefit") or "").strip()
        ):
            self.add_error("benefit", services.MESSAGE_BENEFIT_REQUIRED)
        return data


class DashboardForm(forms.Form):
    clinic = forms.MultipleChoiceField(
        label="Sites", required=False, widget=forms.CheckboxSelectMultiple
    )
    date_from = forms.DateField(
        label="First dose from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group_by = forms.ChoiceField(
        label="Group by",
        choices=[("pathway", "Pathway"), ("condition", "Pain condition")],
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, sites: list[Clinic], own: set[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = sites
        field = self.fields["clinic"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (str(c.id), c.name if c.id in own else f"{c.name} (aggregates only)") for c in sites
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = local_today(self.sites[0].time_zone) if self.sites else None
        data["date_to"] = data.get("date_to") or today
        if data["date_to"] is not None and not data.get("date_from"):
            data["date_from"] = data["date_to"] - timedelta(days=DEFAULT_PERIOD_DAYS)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_from", MESSAGE_PERIOD)
        data["group_by"] = data.get("group_by") or dashboard.GROUP_BY[0]
        chosen = set(data.get("clinic") or [])
        data["clinics"] = [c for c in self.sites if not chosen or str(c.id) in chosen]
        return data
