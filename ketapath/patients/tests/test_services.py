from datetime import date, timedelta

import pytest
from django.utils import timezone

from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import ClinicPolicy
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.core.validators import MESSAGE_PHONE
from ketapath.patients import services
from ketapath.patients.models import Consent, ConsentKind, Enrolment, Patient
from ketapath.patients.selectors import patient_consent_statuses

VALID = {
    "given_name": "Dana",
    "family_name": "Whitfield",
    "birth_date": date(1971, 3, 9),
    "sex_at_birth": "female",
    "phone": "(303) 555-0199",
    "email": "Dana.W@example.org",
}


def test_create_gives_sequential_mrn_enrols_and_audits(front_desk, site):
    first = services.patient_create(user=front_desk, clinic=site, data=VALID)
    second = services.patient_create(
        user=front_desk, clinic=site, data={**VALID, "given_name": "Robin"}
    )
    assert first.mrn == "TKC000001"
    assert second.mrn == "TKC000002"
    assert first.phone == "+13035550199"
    assert first.email == "dana.w@example.org"
    assert Enrolment.objects.filter(patient=first, clinic=site, enrolled_by=front_desk).exists()
    event = AuditEvent.objects.get(action="create", object_type="patient", object_id=str(first.id))
    assert event.patient_id == first.id
    assert event.role == "front_desk"
    assert event.clinic_id == site.id


def test_create_enrols_at_preferred_site_too(front_desk, site, other_site, make_user):
    front_desk_both = make_user("desk-both", other_site, "front_desk")
    from ketapath.accounts.models import Membership

    Membership.objects.create(user=front_desk_both, clinic=site, role="front_desk")
    patient = services.patient_create(
        user=front_desk_both, clinic=site, data={**VALID, "preferred_clinic": other_site}
    )
    assert set(patient.enrolments.values_list("clinic_id", flat=True)) == {site.id, other_site.id}


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        (
            {"birth_date": timezone.localdate() + timedelta(days=1)},
            "birth_date",
            services.MESSAGE_BIRTH_DATE_FUTURE,
        ),
        ({"phone": "12"}, "phone", MESSAGE_PHONE),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        (
            {"given_name": "x" * 81},
            "given_name",
            "Ensure this value has at most 80 characters (it has 81).",
        ),
        ({"state": "Colorado"}, "state", "Ensure this value has at most 2 characters (it has 8)."),
        ({"sex_at_birth": "robot"}, "sex_at_birth", "Value 'robot' is not a valid choice."),
    ],
)
def test_bad_input_names_field_and_rule_and_saves_nothing(front_desk, site, changes, field, rule):
    with pytest.raises(InvalidInput) as caught:
        services.patient_create(user=front_desk, clinic=site, data={**VALID, **changes})
    assert any(e.field == field and e.rule == rule for e in caught.value.errors), (
        caught.value.errors
    )
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.filter(action="create").exists()
    site.organization.refresh_from_db()
    assert site.organization.mrn_next == 1


def test_unknown_field_refused(front_desk, site):
    with pytest.raises(InvalidInput) as caught:
        services.patient_create(user=front_desk, clinic=site, data={**VALID, "mrn": "X1"})
    assert caught.value.errors[0].field == "mrn"


def test_likely_duplicate_flagged_then_confirmed(front_desk, site):
    services.patient_create(user=front_desk, clinic=site, data=VALID)
    with pytest.raises(Conflict) as caught:
        services.patient_create(
            user=front_desk, clinic=site, data={**VALID, "given_name": " dana ", "phone": ""}
        )
    assert caught.value.code == "likely_duplicate"
    assert caught.value.message == services.MESSAGE_DUPLICATE
    assert Patient.objects.count() == 1
    services.patient_create(user=front_desk, clinic=site, data=VALID, confirm_not_duplicate=True)
    assert Patient.objects.count() == 2


def test_duplicate_at_another_organisations_site_is_not_visible(
    front_desk, site, other_clinic_nurse, other_site
):
    # Same organisation, but the front desk does not work at the other site: no flag.
    from ketapath.patients.models import Patient as P

    other = P.objects.create(
        organization=other_site.organization,
        mrn="TKC999999",
        preferred_clinic=other_site,
        **{k: v for k, v in VALID.items() if k not in {"phone", "email"}},
    )
    Enrolment.objects.create(
        patient=other,
        clinic=other_site,
        since=local_today(other_site.time_zone),
        enrolled_by=other_clinic_nurse,
    )
    patient = services.patient_create(user=front_desk, clinic=site, data=VALID)
    assert patient.id != other.id


def test_roles_without_write_cannot_register(therapist, biller, site):
    for user in (therapist, biller):
        with pytest.raises(Forbidden):
            services.patient_create(user=user, clinic=site, data=VALID)


def test_update_audits_changed_fields(front_desk, patient):
    services.patient_update(user=front_desk, patient=patient, data={"city": "Aurora"})
    event = AuditEvent.objects.get(action="update", object_type="patient")
    assert event.detail["fields"] == ["city"]


def test_update_bad_input_keeps_row(front_desk, patient):
    original = patient.phone
    with pytest.raises(InvalidInput):
        services.patient_update(user=front_desk, patient=patient, data={"phone": "abc"})
    patient.refresh_from_db()
    assert patient.phone == original


def test_treatment_consent_expires_per_policy(front_desk, site, patient, consent_documents):
    consent = services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
    )
    assert consent.witnessed_by == front_desk
    assert consent.document == consent_documents[ConsentKind.KETAMINE_TREATMENT]
    delta = consent.expires_at - consent.signed_at
    assert 365 <= delta.days <= 366
    sms = services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.SMS_CONTACT,
        signed_by_name="Alex Rivera",
    )
    assert sms.expires_at is None


def test_policy_change_shortens_new_consents(front_desk, site, patient, consent_documents):
    ClinicPolicy.objects.create(clinic=site, version=2, treatment_consent_months=6)
    consent = services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
    )
    assert 180 <= (consent.expires_at - consent.signed_at).days <= 184


def test_consent_states(front_desk, director, site, patient, consent_documents, organization):
    def state(kind=ConsentKind.KETAMINE_TREATMENT):
        return next(s.state for s in patient_consent_statuses(patient=patient) if s.kind == kind)

    assert state() == "missing"
    consent = services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
    )
    assert state() == "current"
    services.consent_document_publish(
        user=director,
        organization=organization,
        kind=ConsentKind.KETAMINE_TREATMENT,
        title="Treatment consent",
        body="Revised text.",
        effective_from=timezone.localdate(),
    )
    assert state() == "outdated"
    services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
    )
    assert state() == "current"
    Consent.objects.filter(pk=consent.pk).update(
        signed_at=timezone.now() - timedelta(days=800),
        expires_at=timezone.now() - timedelta(days=435),
    )
    assert state() == "current"  # the newer signature counts
    latest = patient.consents.order_by("-signed_at").first()
    services.consent_withdraw(user=front_desk, consent=latest, reason="Patient request")
    assert state() == "withdrawn"
    with pytest.raises(Conflict):
        services.consent_withdraw(user=front_desk, consent=latest, reason="again")


def test_expired_consent(front_desk, site, patient, consent_documents):
    services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
        signed_at=timezone.now() - timedelta(days=400),
    )
    statuses = {s.kind: s.state for s in patient_consent_statuses(patient=patient)}
    assert statuses[ConsentKind.KETAMINE_TREATMENT] == "expired"


def test_consent_bad_input(front_desk, site, patient, consent_documents):
    with pytest.raises(InvalidInput) as caught:
        services.consent_record(
            user=front_desk,
            patient=patient,
            clinic=site,
            kind="tattoo",
            signed_by_name=" ",
            signed_at=timezone.now() + timedelta(days=1),
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {"kind", "signed_by_name", "signed_at"}
    assert not Consent.objects.exists()


def test_consent_without_document(front_desk, site, patient):
    with pytest.raises(InvalidInput) as caught:
        services.consent_record(
            user=front_desk,
            patient=patient,
            clinic=site,
            kind=ConsentKind.KETAMINE_TREATMENT,
            signed_by_name="Alex Rivera",
        )
    assert caught.value.message == services.MESSAGE_NO_DOCUMENT


def test_escort_add_validates_phone(front_desk, patient):
    with pytest.raises(InvalidInput) as caught:
        services.escort_add(
            user=front_desk, patient=patient, name="Sam", phone="555", relation="son"
        )
    assert caught.value.errors[0].field == "phone"
    escort = services.escort_add(
        user=front_desk, patient=patient, name="Sam Rivera", phone="303-555-0123", relation="son"
    )
    assert escort.phone == "+13035550123"
    services.escort_deactivate(user=front_desk, escort=escort)
    escort.refresh_from_db()
    assert escort.active is False


def test_enrol_at_second_site(front_desk, patient, other_site):
    from ketapath.accounts.models import Membership

    Membership.objects.create(user=front_desk, clinic=other_site, role="front_desk")
    services.patient_enrol(user=front_desk, patient=patient, clinic=other_site)
    assert patient.enrolments.count() == 2
    with pytest.raises(Conflict):
        services.patient_enrol(user=front_desk, patient=patient, clinic=other_site)
