"""Reads of patients, always scoped to the clinic sites the user works at.

``patient_get_for_user`` is the one gate every app uses to reach a patient: not logged
in → the caller answers 401; not enrolled at one of the user's sites → ``NotFound``
(audited as denied); the role may not do this here → ``Forbidden``.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where, denial_reason
from ketapath.accounts.services import Action, Outcome, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.validators import DEFAULT_PHONE_REGION
from ketapath.patients.models import (
    Allergy,
    Consent,
    ConsentDocument,
    ConsentKind,
    Enrolment,
    Escort,
    Patient,
)

MESSAGE_PATIENT_NOT_FOUND = "No such patient at your sites."


def _visible_ids(user: User | AnonymousUser, capability: Capability) -> set[UUID]:
    return clinics_where(user, capability)


def patient_get_for_user(
    *,
    user: User,
    patient_id: UUID | str,
    capability: Capability = Capability.PATIENT_READ,
    audit_read: bool = False,
) -> Patient:
    """The patient if enrolled at one of the user's sites and the user's role there allows
    ``capability``. Outside the user's sites → NotFound; role refuses → Forbidden. Both
    denials are audited; with ``audit_read`` a successful read is audited too."""
    member_of = clinic_ids_for(user)
    try:
        pid = patient_id if isinstance(patient_id, UUID) else UUID(str(patient_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_PATIENT_NOT_FOUND) from exc
    patient = (
        Patient.objects.select_related("preferred_clinic", "organization")
        .filter(id=pid, enrolments__clinic_id__in=member_of)
        .distinct()
        .first()
    )
    if patient is None:
        audit(
            user=user,
            action=Action.READ,
            outcome=Outcome.DENIED,
            patient_id=pid,
            object_type="patient",
            object_id=pid,
            detail={"reason": "not_at_your_sites"},
        )
        raise NotFound(MESSAGE_PATIENT_NOT_FOUND)
    enrolled_at = set(
        Enrolment.objects.filter(patient=patient, clinic_id__in=member_of).values_list(
            "clinic_id", flat=True
        )
    )
    allowed = clinics_where(user, capability) & enrolled_at
    clinic_id = _clinic_for_audit(patient, enrolled_at)
    if not allowed:
        audit(
            user=user,
            action=Action.READ,
            outcome=Outcome.DENIED,
            patient_id=patient.id,
            clinic_id=clinic_id,
            object_type="patient",
            object_id=patient.id,
            detail={"reason": "role", "capability": str(capability)},
        )
        raise Forbidden(denial_reason(user, capability, clinic_id))
    patient.access_clinic_ids = allowed  # type: ignore[attr-defined]
    if audit_read:
        audit(
            user=user,
            action=Action.READ,
            patient_id=patient.id,
            clinic_id=clinic_id,
            object_type="patient",
            object_id=patient.id,
        )
    return patient


def _clinic_for_audit(patient: Patient, enrolled_at: set[UUID]) -> UUID | None:
    if patient.preferred_clinic_id in enrolled_at:
        return patient.preferred_clinic_id
    return next(iter(sorted(enrolled_at)), None)


_DATE_PATTERNS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def _parse_date(term: str) -> date | None:
    for pattern in _DATE_PATTERNS:
        try:
            return datetime.strptime(term, pattern).date()
        except ValueError:
            continue
    return None


def _phone_digits(term: str) -> str | None:
    digits = re.sub(r"\D", "", term)
    if len(digits) >= 7 and re.fullmatch(r"[\d\s().+-]+", term):
        return digits[-10:] if DEFAULT_PHONE_REGION == "US" else digits
    return None


def patient_search_q(q: str) -> Q:
    """Match the words of ``q`` against names, MRN, date of birth and phone, all must match."""
    condition = Q()
    for term in q.split():
        born = _parse_date(term)
        phone = _phone_digits(term)
        if born is not None:
            condition &= Q(birth_date=born)
        elif phone is not None:
            condition &= Q(phone__endswith=phone)
        else:
            condition &= (
                Q(given_name__istartswith=term)
                | Q(family_name__istartswith=term)
                | Q(preferred_name__istartswith=term)
                | Q(mrn__iexact=term)
            )
    return condition


def patient_list(*, user: User, q: str = "", clinic_id: UUID | None = None) -> QuerySet[Patient]:
    """Patients enrolled at the user's sites (or one of them), filtered by ``q``, by name."""
    visible = _visible_ids(user, Capability.PATIENT_READ)
    if clinic_id is not None:
        visible = visible & {clinic_id}
    ids = Enrolment.objects.filter(clinic_id__in=visible).values("patient_id")
    qs = Patient.objects.filter(id__in=ids).select_related("preferred_clinic")
    if q.strip():
        qs = qs.filter(patient_search_q(q.strip()))
    return qs.order_by("family_name", "given_name", "birth_date", "id")


def patient_likely_duplicates(
    *,
    user: User,
    given_name: str,
    family_name: str,
    birth_date: date,
    exclude_id: UUID | None = None,
) -> list[Patient]:
    """Patients at the user's own sites with the same name and date of birth."""
    visible = clinic_ids_for(user)
    ids = Enrolment.objects.filter(clinic_id__in=visible).values("patient_id")
    qs = Patient.objects.filter(
        id__in=ids,
        given_name__iexact=given_name.strip(),
        family_name__iexact=family_name.strip(),
        birth_date=birth_date,
    ).select_related("preferred_clinic")
    if exclude_id:
        qs = qs.exclude(id=exclude_id)
    return list(qs.order_by("mrn")[:10])


def patient_enrolments(*, patient: Patient) -> list[Enrolment]:
    return list(patient.enrolments.select_related("clinic", "enrolled_by").order_by("since"))


def patient_escorts(*, patient: Patient) -> list[Escort]:
    return list(patient.escorts.all())


@dataclass(frozen=True)
class ConsentStatus:
    """Where a patient stands on one kind of consent today."""

    kind: str
    label: str
    state: str  # current | expired | outdated | withdrawn | missing
    consent: Consent | None
    current_document: ConsentDocument | None

    @property
    def is_current(self) -> bool:
        return self.state == "current"

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


STATE_LABELS = {
    "current": "On file",
    "expired": "Expired",
    "outdated": "New version to sign",
    "withdrawn": "Withdrawn",
    "missing": "Not on file",
}


def consent_documents_current(*, organization_id: UUID) -> dict[str, ConsentDocument]:
    """The newest effective version of each consent kind."""
    today = timezone.localdate()
    latest: dict[str, ConsentDocument] = {}
    for doc in ConsentDocument.objects.filter(
        organization_id=organization_id, effective_from__lte=today
    ).order_by("kind", "-version"):
        latest.setdefault(doc.kind, doc)
    return latest


def consent_state(consent: Consent | None, current: ConsentDocument | None, now: datetime) -> str:
    """Pure rule: missing, withdrawn, expired, outdated (an older form version) or current."""
    if consent is None:
        return "missing"
    if consent.withdrawn_at is not None:
        return "withdrawn"
    if consent.expires_at is not None and consent.expires_at <= now:
        return "expired"
    if (
        current is not None
        and consent.document_id != current.id
        and (consent.document.version < current.version)
    ):
        return "outdated"
    return "current"


def patient_consent_statuses(*, patient: Patient) -> list[ConsentStatus]:
    """One status per consent kind, from the latest signature of each (two queries)."""
    now = timezone.now()
    documents = consent_documents_current(organization_id=patient.organization_id)
    latest: dict[str, Consent] = {}
    for consent in patient.consents.select_related("document").order_by("kind", "-signed_at"):
        latest.setdefault(consent.kind, consent)
    statuses = []
    for kind, label in ConsentKind.choices:
        signed = latest.get(kind)
        state = consent_state(signed, documents.get(kind), now)
        statuses.append(ConsentStatus(kind, label, state, signed, documents.get(kind)))
    return statuses


def patient_consents(*, patient: Patient) -> QuerySet[Consent]:
    return patient.consents.select_related("document", "witnessed_by", "clinic").order_by(
        "-signed_at"
    )


def patients_needing_treatment_consent(*, clinic: Clinic) -> QuerySet[Patient]:
    """Active patients of a site whose latest treatment consent is missing, withdrawn,
    expired, or signed on an older form version (annotated ``consent_state``)."""
    now = timezone.now()
    current = consent_documents_current(organization_id=clinic.organization_id).get(
        ConsentKind.KETAMINE_TREATMENT
    )
    latest = Consent.objects.filter(
        patient=OuterRef("pk"), kind=ConsentKind.KETAMINE_TREATMENT
    ).order_by("-signed_at")
    enrolled = Enrolment.objects.filter(clinic=clinic).values("patient_id")
    qs = Patient.objects.filter(id__in=enrolled, active=True).annotate(
        consent_signed_at=Subquery(latest.values("signed_at")[:1]),
        consent_expires_at=Subquery(latest.values("expires_at")[:1]),
        consent_withdrawn_at=Subquery(latest.values("withdrawn_at")[:1]),
        consent_version=Subquery(latest.values("document__version")[:1]),
    )
    due = (
        Q(consent_signed_at__isnull=True)
        | Q(consent_withdrawn_at__isnull=False)
        | Q(consent_expires_at__lte=now)
    )
    if current is not None:
        due |= Q(consent_version__lt=current.version)
    return qs.filter(due).order_by("family_name", "given_name", "id")


def treatment_consent_state_of(patient: Patient) -> str:
    """The state for a row from ``patients_needing_treatment_consent`` (no extra query)."""
    if patient.consent_signed_at is None:  # type: ignore[attr-defined]
        return "missing"
    if patient.consent_withdrawn_at is not None:  # type: ignore[attr-defined]
        return "withdrawn"
    expires = patient.consent_expires_at  # type: ignore[attr-defined]
    if expires is not None and expires <= timezone.now():
        return "expired"
    return "outdated"


@dataclass(frozen=True)
class AllergySummary:
    """``status`` is not_asked, none_known or has_allergies; "not yet asked" is never shown
    as "none"."""

    status: str
    allergies: list[Allergy]


ALLERGY_STATUS_LABELS = {
    "not_asked": "Not yet asked",
    "none_known": "No known allergies",
    "has_allergies": "Allergies on file",
}


def patient_allergies(*, patient: Patient, include_removed: bool = False) -> AllergySummary:
    qs = patient.allergies.select_related("recorded_by")
    rows = list(qs if include_removed else qs.filter(active=True))
    if any(a.active for a in rows):
        status = "has_allergies"
    elif patient.no_known_allergies_at is not None:
        status = "none_known"
    else:
        status = "not_asked"
    return AllergySummary(status=status, allergies=rows)


MESSAGE_SITE_NOT_ALLOWED = "Not one of the patient's sites where your role allows this."
MESSAGE_SITE_REQUIRED = "Name the site: the patient is enrolled at several of yours."


def _allowed_sites(patient: Patient) -> set[UUID]:
    # Set by patient_get_for_user: the patient's sites where the user's role allows the
    # capability that was asked for.
    return set(getattr(patient, "access_clinic_ids", set()))


def patient_site_for_page(*, patient: Patient, current: Clinic | None) -> Clinic:
    """The site a page's work on this patient is done at: the site the user is working at
    when allowed, else the patient's preferred site, else the first allowed site by name."""
    allowed = _allowed_sites(patient)
    if current is not None and current.id in allowed:
        return current
    if patient.preferred_clinic_id in allowed:
        return patient.preferred_clinic
    return Clinic.objects.filter(id__in=allowed).order_by("name")[0]


def patient_site_for_api(*, patient: Patient, requested: UUID | None) -> Clinic:
    """The site an API write is done at: the one named (it must be allowed), else the
    patient's preferred site when allowed, else the only allowed one. With several possible
    sites and none named, the client must choose (InvalidInput on ``clinic``)."""
    allowed = _allowed_sites(patient)
    if requested is not None:
        if requested not in allowed:
            raise InvalidInput(
                MESSAGE_SITE_NOT_ALLOWED, errors=[FieldError("clinic", MESSAGE_SITE_NOT_ALLOWED)]
            )
        return Clinic.objects.get(id=requested)
    if patient.preferred_clinic_id in allowed:
        return patient.preferred_clinic
    if len(allowed) == 1:
        return Clinic.objects.get(id=next(iter(allowed)))
    raise InvalidInput(MESSAGE_SITE_REQUIRED, errors=[FieldError("clinic", MESSAGE_SITE_REQUIRED)])
