"""Patients: demographics, enrolment at clinic sites, escorts, and signed consents."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Organization
from ketapath.core.models import BaseModel
from ketapath.core.validators import validate_npi, validate_phone

MESSAGE_STATE = "Use the two-letter state code, e.g. CO."
MESSAGE_ZIP = "Enter a ZIP code: 5 digits or ZIP+4."
NAME_MAX = 80


class Pathway(models.TextChoices):
    """The treatment pathway a clinician signs (DESIGN §2); wire values are upper case."""

    PAIN_SERIES = "PAIN_SERIES", "Pain series"
    MENTAL_HEALTH_PRIMARY = "MENTAL_HEALTH_PRIMARY", "Mental-health primary"
    BEHAVIORAL_HEALTH = "BEHAVIORAL_HEALTH", "Behavioral health"
    NOT_ELIGIBLE = "NOT_ELIGIBLE", "Not eligible"


class Patient(BaseModel):
    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown"

    class ContactMethod(models.TextChoices):
        PHONE = "phone", "Phone call"
        SMS = "sms", "Text message"
        EMAIL = "email", "E-mail"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="patients"
    )
    mrn = models.CharField("MRN", max_length=20, editable=False)
    given_name = models.CharField("first name", max_length=NAME_MAX)
    middle_name = models.CharField(max_length=NAME_MAX, blank=True)
    family_name = models.CharField("last name", max_length=NAME_MAX)
    preferred_name = models.CharField(max_length=NAME_MAX, blank=True)
    birth_date = models.DateField("date of birth")
    sex_at_birth = models.CharField(max_length=16, choices=SexAtBirth.choices)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=30, blank=True)

    phone = models.CharField("mobile phone", max_length=20, blank=True, validators=[validate_phone])
    email = models.EmailField("e-mail", max_length=254, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$", MESSAGE_STATE)]
    )
    postal_code = models.CharField(
        "ZIP code",
        max_length=10,
        blank=True,
        validators=[RegexValidator(r"^\d{5}(-\d{4})?$", MESSAGE_ZIP)],
    )

    preferred_clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        related_name="preferring_patients",
        verbose_name="preferred site",
    )
    preferred_contact = models.CharField(
        "preferred contact",
        max_length=10,
        choices=ContactMethod.choices,
        default=ContactMethod.PHONE,
    )
    contact_by_sms = models.BooleanField("may receive text messages", default=False)
    contact_by_email = models.BooleanField("may receive e-mail", default=False)
    contact_by_voicemail = models.BooleanField("may leave voicemail", default=False)

    referring_provider_name = models.CharField(max_length=150, blank=True)
    referring_provider_practice = models.CharField(max_length=150, blank=True)
    referring_provider_phone = models.CharField(
        max_length=20, blank=True, validators=[validate_phone]
    )
    referring_provider_npi = models.CharField(
        "referring provider NPI", max_length=10, blank=True, validators=[validate_npi]
    )

    no_known_allergies_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient said they have no known allergies."
    )
    no_known_allergies_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pathway = models.CharField(max_length=32, choices=Pathway.choices, blank=True)
    pathway_source = models.CharField(
        max_length=200, blank=True, help_text="The signed record the pathway comes from."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_name", "birth_date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_unique_mrn"),
        ]
        indexes = [
            models.Index(fields=["family_name", "given_name"], name="patient_name"),
            models.Index(fields=["birth_date"], name="patient_birth_date"),
            models.Index(fields=["phone"], name="patient_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.given_name
        return f"{self.family_name}, {first}"


class Enrolment(BaseModel):
    """A patient registered at, or seen by, a clinic site. Staff see patients of their sites."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="enrolments")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="enrolments")
    since = models.DateField()
    enrolled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["since"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "clinic"], name="enrolment_unique")
        ]


class Escort(BaseModel):
    """Who drives the patient home after a session."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="escorts")
    name = models.CharField(max_length=150)
    phone = models.CharField(max_length=20, validators=[validate_phone])
    relation = models.CharField(max_length=60, help_text="e.g. spouse, daughter, friend")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-active", "name"]


class ConsentKind(models.TextChoices):
    KETAMINE_TREATMENT = "ketamine_treatment", "Ketamine treatment"
    SMS_CONTACT = "sms_contact", "Text-message contact"
    EMAIL_CONTACT = "email_contact", "E-mail contact"


class ConsentDocument(BaseModel):
    """One version of a consent form. A new version means patients must consent again."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="consent_documents"
    )
    kind = models.CharField(max_length=32, choices=ConsentKind.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    effective_from = models.DateField()

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "version"], name="consent_document_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="consent_document_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Consent(BaseModel):
    """A patient's signature on one version of a consent document."""

    class SignerRelation(models.TextChoices):
        SELF = "self", "Patient"
        GUARDIAN = "guardian", "Legal guardian"
        POWER_OF_ATTORNEY = "poa", "Health-care power of attorney"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="signatures"
    )
    kind = models.CharField(max_length=32, choices=ConsentKind.choices, editable=False)
    signed_at = models.DateTimeField()
    signed_by_name = models.CharField("signed by", max_length=150)
    signer_relation = models.CharField(
        max_length=16, choices=SignerRelation.choices, default=SignerRelation.SELF
    )
    witnessed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("signed_at")),
                name="consent_expires_after_signed",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=F("signed_at")),
                name="consent_withdrawn_after_signed",
            ),
        ]
        indexes = [models.Index(fields=["patient", "kind", "-signed_at"], name="consent_latest")]


class Allergy(BaseModel):
    """An allergy or intolerance the patient reports. "None known" is recorded on the
    patient (``no_known_allergies_at``) so that "not yet asked" stays visibly different."""

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        UNKNOWN = "unknown", "Unknown"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(max_length=120)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    removed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-active", "substance"]
        constraints = [
            models.CheckConstraint(
                condition=Q(active=True) | ~Q(removed_reason=""),
                name="allergy_removed_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.substance} ({self.get_severity_display()})"
