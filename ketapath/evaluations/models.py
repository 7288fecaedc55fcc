"""The intake evaluation: conditions, screening, contraindications, the pathway proposal
and the prescriber's signature (DESIGN §2, §9).

A draft is edited section by section; signing freezes it (the proposal, the facts it was
made from and the chosen pathway) and later corrections are addenda. Vocabularies live in
``catalogue``; the proposal is the pure ``rules.propose``.
"""

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Pathway, Patient


class YesNo(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"


class Evaluation(BaseModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    class AlcoholUse(models.TextChoices):
        NONE = "none", "None"
        WITHIN_LIMITS = "within_limits", "Within low-risk limits"
        HAZARDOUS = "hazardous", "Hazardous or harmful"

    class ToxResult(models.TextChoices):
        NEGATIVE = "negative", "Negative"
        POSITIVE = "positive", "Positive"
        PENDING = "pending", "Sent, result pending"

    class PregnancyStatus(models.TextChoices):
        NOT_PREGNANT = "not_pregnant", "Not pregnant"
        PREGNANT = "pregnant", "Pregnant"
        UNKNOWN = "unknown", "Unknown"

    class PregnancyMethod(models.TextChoices):
        URINE_TEST = "urine_test", "Urine hCG test"
        SERUM_TEST = "serum_test", "Serum hCG test"
        PATIENT_REPORT = "patient_report", "Patient report"

    class TestResult(models.TextChoices):
        NORMAL = "normal", "Normal"
        ABNORMAL = "abnormal", "Abnormal"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="evaluations")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="evaluations")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)

    # The first question (DESIGN §2): is a co-existing mental-health condition treated too?
    coexisting_mh_treated = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    ready_for_ketamine = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    readiness_note = models.TextField(blank=True)

    # The medical-necessity record.
    pain_duration_months = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_history = models.TextField(blank=True)
    # [{"treatment": str, "outcome": one of PRIOR_OUTCOMES, "note": str}]
    prior_treatments = models.JSONField(default=list, blank=True)

    # Key → {"resolution": "confirmed" | "ruled_out", "note": str} for positive screens.
    screen_resolutions = models.JSONField(default=dict, blank=True)

    # Substance use (asked explicitly about ketamine and PCP).
    alcohol_use = models.CharField(max_length=16, choices=AlcoholUse.choices, blank=True)
    nonmedical_drug_use = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    ketamine_use = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    pcp_use = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    substance_use_note = models.TextField(blank=True)
    misuse_suspected = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    substance_use_disorder_active = models.CharField(
        max_length=3, choices=YesNo.choices, blank=True
    )
    urine_tox_result = models.CharField(max_length=8, choices=ToxResult.choices, blank=True)
    urine_tox_date = models.DateField(null=True, blank=True)
    urine_tox_note = models.CharField(max_length=300, blank=True)

    # Pregnancy is asked, never inferred from sex at birth.
    could_be_pregnant = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    pregnancy_status = models.CharField(max_length=16, choices=PregnancyStatus.choices, blank=True)
    pregnancy_method = models.CharField(max_length=16, choices=PregnancyMethod.choices, blank=True)
    pregnancy_checked_on = models.DateField(null=True, blank=True)
    breastfeeding = models.CharField(max_length=3, choices=YesNo.choices, blank=True)

    # Risk prompts (clinical.md §1.1): ECG for cardiovascular risk, liver tests for liver risk.
    cardiovascular_risk = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    ecg_result = models.CharField(max_length=8, choices=TestResult.choices, blank=True)
    ecg_date = models.DateField(null=True, blank=True)
    ecg_note = models.CharField(max_length=300, blank=True)
    liver_risk = models.CharField(max_length=3, choices=YesNo.choices, blank=True)
    lft_result = models.CharField(max_length=8, choices=TestResult.choices, blank=True)
    lft_date = models.DateField(null=True, blank=True)
    lft_note = models.CharField(max_length=300, blank=True)

    # Key → {"present": "yes" | "no", "mitigation": str}; keys from catalogue.CONTRAINDICATIONS.
    contraindications = models.JSONField(default=dict, blank=True)

    # The live proposal of the last save; frozen at signing with the facts behind it.
    proposal = models.JSONField(default=dict, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    # The contraindication classes of the clinic policy version the proposal used.
    policy_version = models.PositiveIntegerField(null=True, blank=True)

    pathway = models.CharField(max_length=32, choices=Pathway.choices, blank=True)
    accepted_proposal = models.BooleanField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    co_signed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    signed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="draft"),
                name="evaluation_one_draft_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(status="signed")
                    & ~Q(pathway="")
                    & Q(signed_by__isnull=False)
                    & Q(signed_at__isnull=False)
                    & Q(valid_until__isnull=False)
                ),
                name="evaluation_signed_complete",
            ),
            models.CheckConstraint(
                condition=Q(accepted_proposal=True)
                | Q(accepted_proposal__isnull=True)
                | ~Q(override_reason=""),
                name="evaluation_override_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["patient", "status"], name="evaluation_patient_status")]

    def __str__(self) -> str:
        return f"Evaluation of {self.patient} ({self.status})"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED

    @property
    def leads_to_ketamine(self) -> bool:
        """A signed ketamine pathway: the evaluation a course can start from while valid."""
        return self.pathway in (Pathway.PAIN_SERIES, Pathway.MENTAL_HEALTH_PRIMARY)


class ConditionEntry(BaseModel):
    """A pain condition or a clinician-confirmed mental-health diagnosis, coded in ICD-10-CM."""

    class Category(models.TextChoices):
        PAIN = "pain", "Chronic pain"
        MENTAL_HEALTH = "mental_health", "Mental health"

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="conditions")
    category = models.CharField(max_length=16, choices=Category.choices)
    system = models.CharField(max_length=80)
    code = models.CharField(max_length=12)
    display = models.CharField(max_length=300)
    # A key of catalogue.PAIN_CONDITIONS, or "" for any other code.
    catalogue_key = models.CharField(max_length=32, blank=True)
    is_primary = models.BooleanField(default=False)
    onset = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["category", "-is_primary", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "category"],
                condition=Q(is_primary=True),
                name="condition_one_primary_per_category",
            ),
            models.UniqueConstraint(
                fields=["evaluation", "category", "code"], name="condition_unique_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class Addendum(BaseModel):
    """A correction or addition to a signed evaluation; the original stays as it was."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "addenda"

    def __str__(self) -> str:
        return f"Addendum to {self.evaluation_id}"
