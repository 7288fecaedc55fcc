"""Patient, consent and escort forms. Services do the final validation; forms shape input."""

from typing import Any
from uuid import UUID

from django import forms
from django.utils import timezone

from ketapath.clinics.models import Clinic
from ketapath.core.validators import normalize_phone
from ketapath.patients.models import Allergy, Consent, ConsentKind, Patient
from ketapath.patients.services import (
    MESSAGE_BIRTH_DATE_FUTURE,
    MESSAGE_BIRTH_DATE_PAST,
    PATIENT_FIELDS,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PatientForm(forms.ModelForm):
    confirm_not_duplicate = forms.BooleanField(
        required=False,
        label="I checked the records above: this is a different person.",
    )

    class Meta:
        model = Patient
        fields = PATIENT_FIELDS
        widgets = {
            "birth_date": DATE_INPUT,
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "referring_provider_phone": forms.TextInput(attrs={"type": "tel"}),
            "state": forms.TextInput(attrs={"size": 2, "maxlength": 2}),
        }
        help_texts = {
            "phone": "Used for appointment reminders if the patient agrees to text messages.",
            "preferred_name": "What the patient likes to be called, if different.",
        }

    def __init__(self, *args: Any, clinic_ids: set[UUID], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_clinic"].queryset = Clinic.objects.filter(  # type: ignore[attr-defined]
            id__in=clinic_ids, active=True
        ).order_by("name")
        self.fields["preferred_clinic"].empty_label = None  # type: ignore[attr-defined]

    def clean_birth_date(self) -> Any:
        born = self.cleaned_data.get("birth_date")
        if born and born > timezone.localdate():
            raise forms.ValidationError(MESSAGE_BIRTH_DATE_FUTURE)
        if born and born.year < 1900:
            raise forms.ValidationError(MESSAGE_BIRTH_DATE_PAST)
        return born

    def clean_phone(self) -> str:
        return self._phone("phone")

    def clean_referring_provider_phone(self) -> str:
        return self._phone("referring_provider_phone")

    def _phone(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        return normalize_phone(value) if value else ""

    def _post_clean(self) -> None:
        # Model validation runs in the service (with phone normalisation and date rules),
        # so its messages appear once, beside the right field.
        return None

    def service_data(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name] for name in PATIENT_FIELDS if name in self.cleaned_data
        }


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=100,
        widget=forms.TextInput(
            attrs=dict(type="search", placeholder="Name, MRN, date of birth or phone")
        ),
        help_text="Name, MRN, date of birth (YYYY-MM-DD or MM/DD/YYYY) or phone.",
    )
    clinic = forms.ChoiceField(required=False, label="Site")

    def __init__(self, *args: Any, clinics: list[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinic"].choices = [("", "All my sites")] + [  # type: ignore[attr-defined]
            (str(c.id), c.name) for c in clinics
        ]


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(choices=ConsentKind.choices, label="Consent form")
    signed_by_name = forms.CharField(
        max_length=150, label="Signed by", help_text="Full name of the person who signed."
    )
    signer_relation = forms.ChoiceField(
        choices=Consent.SignerRelation.choices, label="Signer is", initial="self"
    )
    signed_at = forms.DateTimeField(
        label="Signed at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the site's time zone. Defaults to now.",
        required=False,
    )

    def clean_signed_at(self) -> Any:
        return self.cleaned_data.get("signed_at") or timezone.now()


class ConsentWithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=300, label="Reason", widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm = forms.BooleanField(label="I confirm the patient withdrew this consent.")


class EscortForm(forms.Form):
    name = forms.CharField(max_length=150)
    phone = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"type": "tel"}))
    relation = forms.CharField(max_length=60, help_text="e.g. spouse, daughter, friend")


class ConsentDocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=ConsentKind.choices, label="Consent kind")
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="The full text the patient reads and signs.",
    )
    effective_from = forms.DateField(
        widget=DATE_INPUT,
        help_text="From this day, signatures on earlier versions ask for re-consent.",
    )


class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=120, help_text="e.g. penicillin, latex, sulfa drugs")
    reaction = forms.CharField(max_length=200, required=False, help_text="e.g. hives, anaphylaxis")
    severity = forms.ChoiceField(choices=Allergy.Severity.choices)


class AllergyRemoveForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="e.g. entered in error, tolerated since")
    confirm = forms.BooleanField(label="Yes, remove this allergy from the active list.")
