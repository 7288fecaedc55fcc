"""Forms of the evaluation page: one per section, plus signing and addenda.

Each section form only parses and labels; the service validates the evaluation as a whole
and its field errors are shown beside these fields.
"""

from typing import Any

from django import forms

from ketapath.evaluations import catalogue
from ketapath.evaluations.models import Evaluation, YesNo
from ketapath.evaluations.services import PRIOR_OUTCOMES
from ketapath.patients.models import Pathway

YES_NO = [("", "Not yet answered"), *YesNo.choices]


def _radio(label: str, help_text: str = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=YesNo.choices,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "q-radio"}),
        help_text=help_text,
    )


def _choice(label: str, choices: list[tuple[str, str]], help_text: str = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, choices=[("", "—"), *choices], required=False, help_text=help_text
    )


def _date(label: str) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _text(
    label: str, rows: int = 2, help_text: str = "", max_length: int = 2000
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class SectionForm(forms.Form):
    """A section's plain fields; ``data_for_service`` is what the service saves."""

    def __init__(self, *args: Any, evaluation: Evaluation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.fields:
            self.initial.setdefault(name, getattr(evaluation, name))

    def data_for_service(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.fields}


class FirstQuestionForm(SectionForm):
    coexisting_mh_treated = _radio(
        "Is a co-existing mental-health condition (such as depression or PTSD) also being treated?",
        "Asked first: the answer decides the pathway.",
    )
    ready_for_ketamine = _radio(
        "Is the patient ready for ketamine treatment?",
        "No: the patient is offered behavioral-health services billed to insurance.",
    )
    readiness_note = _text("Readiness note")


class PainHistoryForm(SectionForm):
    pain_duration_months = forms.IntegerField(
        label="Duration of the primary pain condition (months)",
        required=False,
        min_value=0,
        max_value=1200,
    )
    pain_history = _text("Pain history", rows=3)


class SubstanceUseForm(SectionForm):
    alcohol_use = _choice("Alcohol use", Evaluation.AlcoholUse.choices)
    nonmedical_drug_use = _radio("Any non-medical drug use?")
    ketamine_use = _radio("Has the patient ever used ketamine outside medical care?")
    pcp_use = _radio("Has the patient ever used PCP (phencyclidine)?")
    substance_use_note = _text("Substance-use note")
    misuse_suspected = _radio(
        "Is substance misuse suspected?", "Yes: record a urine toxicology screen."
    )
    substance_use_disorder_active = _radio(
        "Active substance-use disorder?",
        "Serial ketamine infusions should not be given with active substance abuse "
        "(ASRA 2018, grade C).",
    )
    urine_tox_result = _choice("Urine toxicology result", Evaluation.ToxResult.choices)
    urine_tox_date = _date("Urine toxicology date")
    urine_tox_note = forms.CharField(label="Toxicology detail", required=False, max_length=300)


class PregnancyForm(SectionForm):
    could_be_pregnant = _radio(
        "Could the patient be pregnant?",
        "Ask every patient; never assume from sex recorded at birth.",
    )
    pregnancy_status = _choice("Pregnancy status", Evaluation.PregnancyStatus.choices)
    pregnancy_method = _choice("How it was established", Evaluation.PregnancyMethod.choices)
    pregnancy_checked_on = _date("Date checked")
    breastfeeding = _radio("Is the patient breastfeeding?")


class RiskForm(SectionForm):
    cardiovascular_risk = _radio(
        "Suspected or high risk of cardiovascular disease?",
        "Yes: a baseline ECG is advised (ASRA 2018, grade C).",
    )
    ecg_result = _choice("ECG result", Evaluation.TestResult.choices)
    ecg_date = _date("ECG date")
    ecg_note = forms.CharField(label="ECG finding", required=False, max_length=300)
    liver_risk = _radio(
        "Liver dysfunction or risk of hepatotoxicity?",
        "Yes: consider liver function tests at baseline (ASRA 2018, grade C).",
    )
    lft_result = _choice("Liver function tests", Evaluation.TestResult.choices)
    lft_date = _date("Liver tests date")
    lft_note = forms.CharField(label="Liver tests finding", required=False, max_length=300)


SECTION_FORMS: dict[str, type[SectionForm]] = {
    "first": FirstQuestionForm,
    "pain_history": PainHistoryForm,
    "substance": SubstanceUseForm,
    "pregnancy": PregnancyForm,
    "risk": RiskForm,
}


def pain_code_choices() -> list[tuple[str, Any]]:
    groups: list[tuple[str, Any]] = [("", "Choose a condition and its code")]
    for condition in catalogue.PAIN_CONDITIONS:
        groups.append(
            (
                condition.label,
                [(f"{condition.key}|{o.code}", f"{o.code} {o.display}") for o in condition.codes],
            )
        )
    return groups


class PainConditionForm(forms.Form):
    choice = forms.ChoiceField(
        label="Pain condition (picklist)", required=False, choices=pain_code_choices
    )
    other_code = forms.CharField(
        label="…or another ICD-10-CM code",
        required=False,
        max_length=12,
        help_text="A billable code, e.g. G89.29. Checked against the ICD-10-CM code set.",
    )
    is_primary = forms.BooleanField(label="Primary pain condition", required=False)
    onset = _date("Onset (approximate)")


class MentalHealthForm(forms.Form):
    code = forms.ChoiceField(
        label="Mental-health diagnosis confirmed by the clinician",
        required=False,
        choices=lambda: [
            ("", "Choose a diagnosis"),
            *[(o.code, f"{o.code} {o.display}") for o in catalogue.MENTAL_HEALTH_CODES],
        ],
    )
    other_code = forms.CharField(
        label="…or another ICD-10-CM code (chapter F)", required=False, max_length=12
    )
    is_primary = forms.BooleanField(label="Primary mental-health diagnosis", required=False)


class PriorTreatmentForm(forms.Form):
    treatment = forms.CharField(label="Treatment tried", max_length=200)
    outcome = forms.ChoiceField(label="Outcome", choices=[("", "—"), *PRIOR_OUTCOMES.items()])
    note = forms.CharField(label="Note", required=False, max_length=500)


class SignForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[("accept", "Accept the proposed pathway"), ("choose", "Choose another pathway")],
        widget=forms.RadioSelect,
        initial="accept",
    )
    pathway = forms.ChoiceField(
        label="Pathway", required=False, choices=[("", "—"), *Pathway.choices]
    )
    override_reason = _text("Reason for your choice", rows=3)
    co_sign_username = forms.CharField(
        label="Medical director's username",
        required=False,
        max_length=150,
        help_text="Only when choosing ketamine against an absolute contraindication or an "
        "active substance-use disorder.",
    )
    co_sign_password = forms.CharField(
        label="Medical director's password",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Corrections and additions; the signed evaluation stays as it was.",
    )


class ClassesForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the change",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, classes: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in catalogue.CONTRAINDICATIONS:
            self.fields[f"class_{item.key}"] = forms.ChoiceField(
                label=item.label,
                choices=[("absolute", "Absolute"), ("relative", "Relative")],
                initial=classes.get(item.key, item.default_class),
                help_text=f"Shipped as {item.default_class}. {item.source}",
            )
        self.order_fields([*(f"class_{c.key}" for c in catalogue.CONTRAINDICATIONS), "reason"])

    def classes(self) -> dict[str, str]:
        return {c.key: self.cleaned_data[f"class_{c.key}"] for c in catalogue.CONTRAINDICATIONS}
