"""API shapes for patients and consents."""

from datetime import date
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import AwareDatetime, Field

from ketapath.core.timeutils import age_on, rfc3339
from ketapath.patients.models import NAME_MAX, Consent, Patient

SexAtBirth = Literal["female", "male", "intersex", "unknown"]
ContactMethod = Literal["phone", "sms", "email"]
ConsentKindIn = Literal["ketamine_treatment", "sms_contact", "email_contact"]
SignerRelationIn = Literal["self", "guardian", "poa"]


class PatientPatch(Schema):
    """Any subset of a patient's details; unknown fields are refused."""

    model_config = {"extra": "forbid"}

    given_name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    middle_name: str | None = Field(None, max_length=NAME_MAX)
    family_name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    preferred_name: str | None = Field(None, max_length=NAME_MAX)
    birth_date: date | None = None
    sex_at_birth: SexAtBirth | None = None
    gender_identity: str | None = Field(None, max_length=60)
    pronouns: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254)
    address_line1: str | None = Field(None, max_length=200)
    address_line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    state: str | None = Field(None, max_length=2)
    postal_code: str | None = Field(None, max_length=10)
    preferred_clinic: UUID | None = None
    preferred_contact: ContactMethod | None = None
    contact_by_sms: bool | None = None
    contact_by_email: bool | None = None
    contact_by_voicemail: bool | None = None
    referring_provider_name: str | None = Field(None, max_length=150)
    referring_provider_practice: str | None = Field(None, max_length=150)
    referring_provider_phone: str | None = Field(None, max_length=30)
    referring_provider_npi: str | None = Field(None, max_length=10)
    confirm_not_duplicate: bool = False


class PatientIn(PatientPatch):
    """A new patient. ``clinic`` is the registering site (default: the preferred site)."""

    given_name: str = Field(min_length=1, max_length=NAME_MAX)
    family_name: str = Field(min_length=1, max_length=NAME_MAX)
    birth_date: date
    sex_at_birth: SexAtBirth
    clinic: UUID | None = None


class EnrolmentOut(Schema):
    clinic: UUID
    clinic_name: str
    since: date


class ReferringProviderOut(Schema):
    name: str
    practice: str
    phone: str
    npi: str


class PatientOut(Schema):
    id: UUID
    mrn: str
    given_name: str
    middle_name: str
    family_name: str
    preferred_name: str
    birth_date: date
    age: int
    sex_at_birth: str
    gender_identity: str
    pronouns: str
    phone: str
    email: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    preferred_clinic: UUID
    preferred_contact: str
    contact_by_sms: bool
    contact_by_email: bool
    contact_by_voicemail: bool
    referring_provider: ReferringProviderOut | None
    pathway: str | None
    enrolments: list[EnrolmentOut]
    created_at: str
    updated_at: str


def patient_out(patient: Patient, today: date) -> dict[str, Any]:
    """Render a patient (enrolments with their clinics prefetched) in its site's time zone."""
    tz = patient.preferred_clinic.time_zone
    referring = None
    if patient.referring_provider_name:
        referring = {
            "name": patient.referring_provider_name,
            "practice": patient.referring_provider_practice,
            "phone": patient.referring_provider_phone,
            "npi": patient.referring_provider_npi,
        }
    plain = {
        name: getattr(patient, name) for name in PatientOut.model_fields if hasattr(patient, name)
    }
    return {
        **plain,
        "age": age_on(patient.birth_date, today),
        "preferred_clinic": patient.preferred_clinic_id,
        "referring_provider": referring,
        "pathway": patient.pathway or None,
        "enrolments": [
            {"clinic": e.clinic_id, "clinic_name": e.clinic.name, "since": e.since}
            for e in patient.enrolments.all()
        ],
        "created_at": rfc3339(patient.created_at, tz),
        "updated_at": rfc3339(patient.updated_at, tz),
    }


class ConsentIn(Schema):
    model_config = {"extra": "forbid"}

    kind: ConsentKindIn
    signed_by_name: str = Field(min_length=1, max_length=150)
    signer_relation: SignerRelationIn = "self"
    signed_at: AwareDatetime | None = None
    clinic: UUID | None = None


class ConsentOut(Schema):
    id: UUID
    kind: str
    document_version: int
    document_title: str
    signed_at: str
    signed_by_name: str
    signer_relation: str
    witnessed_by: UUID
    witnessed_by_name: str
    clinic: UUID
    expires_at: str | None
    withdrawn_at: str | None
    withdrawn_reason: str


class ConsentStatusOut(Schema):
    kind: str
    state: Literal["current", "expired", "outdated", "withdrawn", "missing"]
    consent: UUID | None
    current_version: int | None


class ConsentListOut(Schema):
    items: list[ConsentOut]
    count: int
    status: list[ConsentStatusOut]


def consent_out(consent: Consent, tz: str) -> dict[str, Any]:
    return {
        "id": consent.id,
        "kind": consent.kind,
        "document_version": consent.document.version,
        "document_title": consent.document.title,
        "signed_at": rfc3339(consent.signed_at, tz),
        "signed_by_name": consent.signed_by_name,
        "signer_relation": consent.signer_relation,
        "witnessed_by": consent.witnessed_by_id,
        "witnessed_by_name": consent.witnessed_by.display_name,
        "clinic": consent.clinic_id,
        "expires_at": rfc3339(consent.expires_at, tz),
        "withdrawn_at": rfc3339(consent.withdrawn_at, tz),
        "withdrawn_reason": consent.withdrawn_reason,
    }


class AllergyIn(Schema):
    """Either an allergy (substance, reaction, severity) or ``{"none_known": true}``."""

    model_config = {"extra": "forbid"}

    substance: str | None = Field(None, min_length=1, max_length=120)
    reaction: str = Field("", max_length=200)
    severity: Literal["mild", "moderate", "severe", "unknown"] | None = None
    none_known: bool = False


class AllergyOut(Schema):
    id: UUID
    substance: str
    reaction: str
    severity: str
    active: bool
    removed_reason: str
    recorded_by: UUID
    recorded_at: str


class AllergyListOut(Schema):
    status: Literal["not_asked", "none_known", "has_allergies"]
    none_known_at: str | None
    items: list[AllergyOut]
    count: int


def allergy_out(allergy: Any, tz: str) -> dict[str, Any]:
    return {
        "id": allergy.id,
        "substance": allergy.substance,
        "reaction": allergy.reaction,
        "severity": allergy.severity,
        "active": allergy.active,
        "removed_reason": allergy.removed_reason,
        "recorded_by": allergy.recorded_by_id,
        "recorded_at": rfc3339(allergy.created_at, tz),
    }
