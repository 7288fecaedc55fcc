"""Writes for patients, enrolments, escorts and consents. Each validates, saves atomically
and writes its audit event."""

from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import user_can
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic, Organization
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    invalid_from_validation_error,
)
from ketapath.core.validators import normalize_phone
from ketapath.patients.models import (
    Allergy,
    Consent,
    ConsentDocument,
    ConsentKind,
    Enrolment,
    Escort,
    Pathway,
    Patient,
)
from ketapath.patients.selectors import patient_likely_duplicates

MESSAGE_PATHWAY_INVALID = "Not a treatment pathway."
MESSAGE_DUPLICATE = (
    "A patient with the same name and date of birth is already registered at your sites. "
    "Open that record, or confirm this is a different person."
)
MESSAGE_BIRTH_DATE_FUTURE = "Date of birth cannot be in the future."
MESSAGE_BIRTH_DATE_PAST = "Date of birth must be after 1900-01-01."
MESSAGE_NOT_YOUR_CLINIC = "You do not work at that site."
MESSAGE_ALREADY_ENROLLED = "The patient is already enrolled at this site."
MESSAGE_SIGNED_IN_FUTURE = "The signature time cannot be in the future."
MESSAGE_NO_DOCUMENT = "There is no current consent form of this kind to sign."
MESSAGE_ALREADY_WITHDRAWN = "This consent was already withdrawn."
MESSAGE_WITHDRAW_REASON = "Give the reason the consent is withdrawn."
MESSAGE_PUBLISH_FORBIDDEN = "Only the medical director publishes consent forms."
MESSAGE_EFFECTIVE_PAST = "A new version takes effect today or later, never in the past."
MESSAGE_MRN_TAKEN = "This MRN is already in use in the organisation."

# Fields a staff member may set on a patient (the MRN and organisation are the system's).
PATIENT_FIELDS = (
    "given_name",
    "middle_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex_at_birth",
    "gender_identity",
    "pronouns",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "preferred_clinic",
    "preferred_contact",
    "contact_by_sms",
    "contact_by_email",
    "contact_by_voicemail",
    "referring_provider_name",
    "referring_provider_practice",
    "referring_provider_phone",
    "referring_provider_npi",
)
PHONE_FIELDS = ("phone", "referring_provider_phone")


def _require(user: User, capability: Capability, clinic: Clinic) -> None:
    if not user_can(user, capability, clinic.id):
        raise Forbidden(f"Your role at {clinic.name} does not allow this.")


def _clean_patient(patient: Patient) -> None:
    """Normalise phones and names, then run every field and model validator."""
    errors: list[FieldError] = []
    for name in PHONE_FIELDS:
        value = getattr(patient, name)
        if value:
            try:
                setattr(patient, name, normalize_phone(value))
            except ValidationError as exc:
                errors.append(FieldError(name, exc.messages[0]))
    for name in ("given_name", "middle_name", "family_name", "preferred_name", "city"):
        setattr(patient, name, (getattr(patient, name) or "").strip())
    patient.state = (patient.state or "").strip().upper()
    patient.email = (patient.email or "").strip().lower()
    if patient.birth_date:
        if patient.birth_date > timezone.localdate():
            errors.append(FieldError("birth_date", MESSAGE_BIRTH_DATE_FUTURE))
        elif patient.birth_date.year < 1900:
            errors.append(FieldError("birth_date", MESSAGE_BIRTH_DATE_PAST))
    try:
        patient.full_clean(exclude=[*PHONE_FIELDS, "mrn"] if errors else ["mrn"])
    except ValidationError as exc:
        errors.extend(invalid_from_validation_error(exc).errors)
    if errors:
        unique = list(dict.fromkeys(errors))  # FieldError is frozen, so hashable
        raise InvalidInput("The patient's details are not valid.", errors=unique)


def _next_mrn(organization: Organization) -> str:
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    number = org.mrn_next
    Organization.objects.filter(pk=org.pk).update(mrn_next=number + 1)
    return f"{org.mrn_prefix}{number:06d}"


def patient_create(
    *,
    user: User,
    clinic: Clinic,
    data: dict[str, Any],
    confirm_not_duplicate: bool = False,
) -> Patient:
    """Register a patient at ``clinic``: validate, check for a likely duplicate at the
    user's sites, give the next MRN of the organisation, enrol, audit."""
    _require(user, Capability.PATIENT_WRITE, clinic)
    unknown = set(data) - set(PATIENT_FIELDS)
    if unknown:
        raise InvalidInput(
            "Unknown fields.", errors=[FieldError(f, "This field cannot be set.") for f in unknown]
        )
    values = {"preferred_clinic": clinic, **data}
    patient = Patient(organization_id=clinic.organization_id, mrn="pending", **values)
    _clean_patient(patient)
    if patient.preferred_clinic.organization_id != clinic.organization_id:
        raise InvalidInput(
            "The patient's details are not valid.",
            errors=[FieldError("preferred_clinic", "Choose a site of this organisation.")],
        )
    if not confirm_not_duplicate and patient_likely_duplicates(
        user=user,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
    ):
        raise Conflict(MESSAGE_DUPLICATE, code="likely_duplicate")
    with transaction.atomic():
        patient.mrn = _next_mrn(clinic.organization)
        try:
            with transaction.atomic():
                patient.save(force_insert=True)
        except IntegrityError as exc:
            raise Conflict(
                MESSAGE_MRN_TAKEN,
                code="duplicate_mrn",
                errors=[FieldError("mrn", MESSAGE_MRN_TAKEN)],
            ) from exc
        Enrolment.objects.create(
            patient=patient, clinic=clinic, since=timezone.localdate(), enrolled_by=user
        )
        if patient.preferred_clinic_id != clinic.id:
            Enrolment.objects.create(
                patient=patient,
                clinic=patient.preferred_clinic,
                since=timezone.localdate(),
                enrolled_by=user,
            )
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="patient",
            object_id=patient.id,
            detail={"duplicate_confirmed": confirm_not_duplicate},
        )
    return patient


def patient_update(
    *, user: User, patient: Patient, data: dict[str, Any], confirm_not_duplicate: bool = False
) -> Patient:
    """Change a patient's details; the same validation and duplicate check as registration."""
    clinic = patient.preferred_clinic
    unknown = set(data) - set(PATIENT_FIELDS)
    if unknown:
        raise InvalidInput(
            "Unknown fields.", errors=[FieldError(f, "This field cannot be set.") for f in unknown]
        )
    allowed = getattr(patient, "access_clinic_ids", None)
    if allowed is not None and not any(
        user_can(user, Capability.PATIENT_WRITE, c) for c in allowed
    ):
        raise Forbidden("Your role does not allow editing patients.")
    before = {name: getattr(patient, name) for name in data}
    for name, value in data.items():
        setattr(patient, name, value)
    _clean_patient(patient)
    if patient.preferred_clinic.organization_id != patient.organization_id:
        raise InvalidInput(
            "The patient's details are not valid.",
            errors=[FieldError("preferred_clinic", "Choose a site of this organisation.")],
        )
    identity_changed = any(k in data for k in ("given_name", "family_name", "birth_date"))
    if (
        identity_changed
        and not confirm_not_duplicate
        and patient_likely_duplicates(
            user=user,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.birth_date,
            exclude_id=patient.id,
        )
    ):
        raise Conflict(MESSAGE_DUPLICATE, code="likely_duplicate")
    changed = sorted(k for k in data if before[k] != getattr(patient, k))
    with transaction.atomic():
        patient.save()
        if not patient.enrolments.filter(clinic_id=patient.preferred_clinic_id).exists():
            Enrolment.objects.create(
                patient=patient,
                clinic_id=patient.preferred_clinic_id,
                since=timezone.localdate(),
                enrolled_by=user,
            )
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="patient",
            object_id=patient.id,
            detail={"fields": changed},
        )
    return patient


def patient_enrol(*, user: User, patient: Patient, clinic: Clinic) -> Enrolment:
    """Enrol the patient at another of the user's sites, so its staff can see them."""
    _require(user, Capability.PATIENT_WRITE, clinic)
    if clinic.organization_id != patient.organization_id:
        raise Forbidden(MESSAGE_NOT_YOUR_CLINIC)
    with transaction.atomic():
        enrolment, created = Enrolment.objects.get_or_create(
            patient=patient,
            clinic=clinic,
            defaults={"since": timezone.localdate(), "enrolled_by": user},
        )
        if not created:
            raise Conflict(MESSAGE_ALREADY_ENROLLED, code="already_enrolled")
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="enrolment",
            object_id=enrolment.id,
        )
    return enrolment


def escort_add(*, user: User, patient: Patient, name: str, phone: str, relation: str) -> Escort:
    escort = Escort(patient=patient, name=name.strip(), phone=phone, relation=relation.strip())
    errors: list[FieldError] = []
    try:
        escort.phone = normalize_phone(phone)
    except ValidationError as exc:
        errors.append(FieldError("phone", exc.messages[0]))
    try:
        escort.full_clean(exclude=["phone"])
    except ValidationError as exc:
        errors.extend(invalid_from_validation_error(exc).errors)
    if errors:
        raise InvalidInput("The escort's details are not valid.", errors=errors)
    with transaction.atomic():
        escort.save()
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=patient.preferred_clinic_id,
            patient_id=patient.id,
            object_type="escort",
            object_id=escort.id,
        )
    return escort


def escort_deactivate(*, user: User, escort: Escort) -> Escort:
    with transaction.atomic():
        escort.active = False
        escort.save(update_fields=["active", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=escort.patient.preferred_clinic_id,
            patient_id=escort.patient_id,
            object_type="escort",
            object_id=escort.id,
            detail={"active": False},
        )
    return escort


def consent_expiry(*, kind: str, clinic: Clinic, signed_at: datetime) -> datetime | None:
    """When a consent signed now lapses, from the site's policy (treatment: 12 months)."""
    policy = clinic_policy_current(clinic=clinic)
    months = (
        policy.treatment_consent_months
        if kind == ConsentKind.KETAMINE_TREATMENT
        else policy.contact_consent_months
    )
    return signed_at + relativedelta(months=months) if months else None


def consent_record(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    kind: str,
    signed_by_name: str,
    signer_relation: str = Consent.SignerRelation.SELF,
    signed_at: datetime | None = None,
) -> Consent:
    """Record a signature on the current version of a consent form, witnessed by ``user``."""
    _require(user, Capability.PATIENT_WRITE, clinic)
    errors: list[FieldError] = []
    if kind not in ConsentKind.values:
        errors.append(FieldError("kind", f"Choose one of: {', '.join(ConsentKind.values)}."))
    now = timezone.now()
    signed_at = signed_at or now
    if signed_at > now + timedelta(minutes=5):
        errors.append(FieldError("signed_at", MESSAGE_SIGNED_IN_FUTURE))
    if not signed_by_name.strip():
        errors.append(FieldError("signed_by_name", "Enter the name of the person who signed."))
    if len(signed_by_name) > 150:
        errors.append(FieldError("signed_by_name", "At most 150 characters."))
    if signer_relation not in Consent.SignerRelation.values:
        errors.append(FieldError("signer_relation", "Choose self, guardian or poa."))
    if errors:
        raise InvalidInput("The consent is not valid.", errors=errors)
    document = (
        ConsentDocument.objects.filter(
            organization_id=patient.organization_id,
            kind=kind,
            effective_from__lte=timezone.localdate(),
        )
        .order_by("-version")
        .first()
    )
    if document is None:
        raise InvalidInput(MESSAGE_NO_DOCUMENT, errors=[FieldError("kind", MESSAGE_NO_DOCUMENT)])
    consent = Consent(
        patient=patient,
        document=document,
        kind=kind,
        signed_at=signed_at,
        signed_by_name=signed_by_name.strip(),
        signer_relation=signer_relation,
        witnessed_by=user,
        clinic=clinic,
        expires_at=consent_expiry(kind=kind, clinic=clinic, signed_at=signed_at),
    )
    with transaction.atomic():
        consent.save()
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="consent",
            object_id=consent.id,
            detail={"kind": kind, "version": document.version},
        )
    return consent


def consent_withdraw(*, user: User, consent: Consent, reason: str) -> Consent:
    if consent.withdrawn_at is not None:
        raise Conflict(MESSAGE_ALREADY_WITHDRAWN, code="already_withdrawn")
    if not reason.strip():
        raise InvalidInput(
            MESSAGE_WITHDRAW_REASON, errors=[FieldError("reason", MESSAGE_WITHDRAW_REASON)]
        )
    with transaction.atomic():
        consent.withdrawn_at = timezone.now()
        consent.withdrawn_reason = reason.strip()[:300]
        consent.save(update_fields=["withdrawn_at", "withdrawn_reason", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=consent.clinic_id,
            patient_id=consent.patient_id,
            object_type="consent",
            object_id=consent.id,
            detail={"withdrawn": True},
        )
    return consent


def consent_document_publish(
    *, user: User, organization: Organization, kind: str, title: str, body: str, effective_from: Any
) -> ConsentDocument:
    """Publish the next version of a consent form; earlier signatures become outdated."""
    if not any(
        user_can(user, Capability.POLICY_WRITE, clinic_id)
        for clinic_id in organization.clinics.values_list("id", flat=True)
    ):
        raise Forbidden(MESSAGE_PUBLISH_FORBIDDEN)
    if effective_from and effective_from < timezone.localdate():
        raise InvalidInput(
            MESSAGE_EFFECTIVE_PAST, errors=[FieldError("effective_from", MESSAGE_EFFECTIVE_PAST)]
        )
    with transaction.atomic():
        latest = (
            ConsentDocument.objects.select_for_update()
            .filter(organization=organization, kind=kind)
            .order_by("-version")
            .first()
        )
        document = ConsentDocument(
            organization=organization,
            kind=kind,
            version=(latest.version + 1) if latest else 1,
            title=title.strip(),
            body=body.strip(),
            effective_from=effective_from,
        )
        try:
            document.full_clean()
        except ValidationError as exc:
            raise invalid_from_validation_error(exc) from exc
        document.save()
        audit(
            user=user,
            action=Action.CREATE,
            object_type="consent_document",
            object_id=document.id,
            detail={"kind": kind, "version": document.version},
        )
    return document


MESSAGE_ALLERGIES_ON_FILE = (
    "The patient has allergies on file; remove them first if they were recorded in error."
)
MESSAGE_ALLERGY_REMOVE_REASON = "Give the reason the allergy is removed."
MESSAGE_ALLERGY_DUPLICATE = "This substance is already on the patient's allergy list."


def _require_patient_write(user: User, patient: Patient) -> None:
    allowed = getattr(patient, "access_clinic_ids", None)
    if allowed is not None and not any(
        user_can(user, Capability.PATIENT_WRITE, c) for c in allowed
    ):
        raise Forbidden("Your role does not allow changing this patient's record.")


def allergy_add(
    *, user: User, patient: Patient, substance: str, reaction: str = "", severity: str
) -> Allergy:
    """Record an allergy; a previous "no known allergies" statement no longer holds."""
    _require_patient_write(user, patient)
    allergy = Allergy(
        patient=patient,
        substance=substance.strip(),
        reaction=reaction.strip(),
        severity=severity,
        recorded_by=user,
    )
    try:
        allergy.full_clean()
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc
    if patient.allergies.filter(active=True, substance__iexact=allergy.substance).exists():
        raise InvalidInput(
            MESSAGE_ALLERGY_DUPLICATE,
            errors=[FieldError("substance", MESSAGE_ALLERGY_DUPLICATE)],
        )
    with transaction.atomic():
        allergy.save()
        if patient.no_known_allergies_at is not None:
            Patient.objects.filter(pk=patient.pk).update(
                no_known_allergies_at=None, no_known_allergies_by=None
            )
            patient.no_known_allergies_at = None
            patient.no_known_allergies_by = None
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=patient.preferred_clinic_id,
            patient_id=patient.id,
            object_type="allergy",
            object_id=allergy.id,
        )
    return allergy


def allergy_none_known(*, user: User, patient: Patient) -> Patient:
    """Record that the patient was asked and reports no known allergies."""
    _require_patient_write(user, patient)
    if patient.allergies.filter(active=True).exists():
        raise Conflict(MESSAGE_ALLERGIES_ON_FILE, code="allergies_on_file")
    with transaction.atomic():
        patient.no_known_allergies_at = timezone.now()
        patient.no_known_allergies_by = user
        patient.save(update_fields=["no_known_allergies_at", "no_known_allergies_by", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=patient.preferred_clinic_id,
            patient_id=patient.id,
            object_type="allergy",
            detail={"none_known": True},
        )
    return patient


def allergy_remove(*, user: User, allergy: Allergy, reason: str) -> Allergy:
    """Mark an allergy entered in error (or resolved) as inactive; the row is kept."""
    if not reason.strip():
        raise InvalidInput(
            MESSAGE_ALLERGY_REMOVE_REASON,
            errors=[FieldError("reason", MESSAGE_ALLERGY_REMOVE_REASON)],
        )
    _require_patient_write(user, allergy.patient)
    with transaction.atomic():
        allergy.active = False
        allergy.removed_reason = reason.strip()[:200]
        allergy.save(update_fields=["active", "removed_reason", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=allergy.patient.preferred_clinic_id,
            patient_id=allergy.patient_id,
            object_type="allergy",
            object_id=allergy.id,
            detail={"active": False},
        )
    return allergy


def patient_pathway_set(*, user: User, patient: Patient, pathway: str, source: str) -> Patient:
    """Record the patient's current treatment pathway, from a signed record named in
    ``source`` (for example "Evaluation signed 2 Dec 2026 by Dr Rivera"). Only the service
    that signs that record calls this; the pathway is never set by hand."""
    if pathway not in Pathway.values:
        raise InvalidInput(
            MESSAGE_PATHWAY_INVALID, errors=[FieldError("pathway", MESSAGE_PATHWAY_INVALID)]
        )
    before = patient.pathway
    patient.pathway = pathway
    patient.pathway_source = source[:200]
    patient.save(update_fields=["pathway", "pathway_source", "updated_at"])
    audit(
        user=user,
        action=Action.UPDATE,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="patient",
        object_id=patient.id,
        detail={"pathway": [before, pathway], "source": patient.pathway_source},
    )
    return patient
