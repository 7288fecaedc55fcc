"""The demo seed: what it creates, that a second run changes nothing, and the DEBUG guard."""

import random
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, User
from ketapath.audit.models import AuditEvent
from ketapath.chart.demo import (
    CHICAGO,
    DEMO_PASSWORD,
    DENVER,
    MRN_PREFIX,
    ORGANIZATION_NAME,
    make_dea_number,
    make_npi,
)
from ketapath.chart.management.commands.demo_seed import MESSAGE_NOT_DEBUG, MESSAGE_NOTHING_CHANGED
from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Organization, Room
from ketapath.core.timeutils import age_on
from ketapath.core.validators import dea_check_digit_ok, normalize_phone, npi_check_digit_ok
from ketapath.patients.models import (
    Allergy,
    Consent,
    ConsentDocument,
    ConsentKind,
    Enrolment,
    Escort,
    Patient,
)
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.portal.services import link_by_token, link_state

pytestmark = pytest.mark.django_db

EXPECTED_STAFF = {
    "director": Role.MEDICAL_DIRECTOR,
    "prescriber": Role.PRESCRIBER,
    "nurse": Role.NURSE,
    "therapist": Role.THERAPIST,
    "frontdesk": Role.FRONT_DESK,
    "biller": Role.BILLER,
    "privacy": Role.PRIVACY_OFFICER,
    "admin": Role.CLINIC_ADMIN,
}


def run_seed(settings: Any, *args: str) -> str:
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_seed", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models: list[Any] = [
        Organization, Clinic, OpeningHours, Closure, Room, ClinicPolicy, User, Membership,
        ConsentDocument, Patient, Enrolment, Escort, Consent, Allergy, AuditEvent,
    ]  # fmt: skip
    found = {model.__name__: model.objects.count() for model in models}
    # Every run makes one fresh patient link to print (its token exists only then), and
    # audits it; everything else stays as it was.
    found["AuditEvent"] = AuditEvent.objects.exclude(object_type="patient_link").count()
    return found


def test_creates_the_organisation_and_two_sites(settings: Any) -> None:
    run_seed(settings)

    org = Organization.objects.get(name=ORGANIZATION_NAME)
    assert org.mrn_prefix == MRN_PREFIX
    sites = {c.name: c for c in Clinic.objects.filter(organization=org)}
    assert set(sites) == {DENVER, CHICAGO}
    assert sites[DENVER].time_zone == "America/Denver"
    assert sites[CHICAGO].time_zone == "America/Chicago"
    assert (sites[DENVER].city, sites[DENVER].state) == ("Denver", "CO")
    today = timezone.localdate()
    for clinic in sites.values():
        clinic.full_clean()  # phone, ZIP, time zone and DEA validators all pass
        assert dea_check_digit_ok(clinic.dea_registration)
        weekdays = set(clinic.opening_hours.values_list("weekday", flat=True))
        assert {0, 1, 2, 3, 4} <= weekdays
        assert clinic.closures.filter(end_date__gte=today).count() >= 1
        rooms = list(clinic.rooms.all())
        treatment = [r for r in rooms if r.kind == Room.Kind.TREATMENT]
        consult = [r for r in rooms if r.kind == Room.Kind.CONSULT]
        assert 3 <= len(treatment) <= 4
        assert 1 <= len(consult) <= 2
        assert sum(not r.active for r in rooms) == 1
        assert list(clinic.policies.values_list("version", flat=True)) == [1]
    assert OpeningHours.objects.filter(weekday=5).exists()  # one site opens on Saturday


def test_creates_seventeen_logins_with_roles_and_the_demo_password(
    settings: Any,
) -> None:
    run_seed(settings)

    sites = {c.name: c for c in Clinic.objects.all()}
    expected = (
        {name: (role, DENVER) for name, role in EXPECTED_STAFF.items()}
        | {f"{name}2": (role, CHICAGO) for name, role in EXPECTED_STAFF.items()}
        | {"nurse3": (Role.NURSE, CHICAGO)}
    )
    users = {u.username: u for u in User.objects.all()}
    assert set(users) == set(expected)
    for username, (role, site) in expected.items():
        user = users[username]
        assert user.check_password(DEMO_PASSWORD), username
        memberships = list(user.memberships.values_list("clinic_id", "role", "active"))
        assert memberships == [(sites[site].id, role, True)], username
        user.full_clean()  # NPI and DEA check digits, state codes
    assert {users[u].licence_type for u in ("director", "director2")} <= {"MD", "DO"}
    assert users["prescriber2"].licence_type == "NP"
    assert users["prescriber2"].dea_number.startswith("M")
    assert users["nurse"].licence_type == users["nurse2"].licence_type == "RN"
    assert {users["therapist"].licence_type, users["therapist2"].licence_type} <= {"LCSW", "PsyD"}
    for clinician in ("director", "prescriber", "nurse", "therapist", "prescriber2"):
        assert npi_check_digit_ok(users[clinician].npi)
        assert users[clinician].licence_state in ("CO", "IL")
    today = timezone.localdate()
    assert not users["nurse2"].has_acls_on(today)
    assert users["nurse"].has_acls_on(today)
    assert users["nurse3"].has_acls_on(today)
    soon = [
        u
        for u in users.values()
        if u.dea_expires and today < u.dea_expires <= today + timedelta(days=30)
    ]
    assert [u.username for u in soon] == ["prescriber"]
    assert users["frontdesk"].licence_number == ""


def test_a_demo_login_signs_in_through_the_login_page(settings: Any) -> None:
    run_seed(settings)

    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": "nurse", "password": DEMO_PASSWORD, "next": "/accounts/login/"},
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(username="nurse").id)


def test_creates_about_forty_patients_through_the_services(settings: Any) -> None:
    run_seed(settings)

    patients = list(Patient.objects.select_related("preferred_clinic"))
    # About forty, and the year's history patients (demo_history) on top.
    assert 66 <= len(patients) <= 84
    mrns = [p.mrn for p in patients]
    assert len(set(mrns)) == len(mrns)
    assert all(m.startswith(MRN_PREFIX) for m in mrns)
    by_site = Counter(p.preferred_clinic.name for p in patients)
    assert 36 <= by_site[DENVER] <= 50
    assert 24 <= by_site[CHICAGO] <= 36
    both = [p for p in patients if p.enrolments.count() == 2]
    assert 2 <= len(both) <= 5
    today = timezone.localdate()
    assert all(22 <= age_on(p.birth_date, today) <= 78 for p in patients)
    assert all(normalize_phone(p.phone) == p.phone for p in patients)
    assert len({p.phone for p in patients}) == len(patients)
    assert sum(bool(p.email) for p in patients) >= len(patients) * 0.7
    assert sum(bool(p.address_line1) for p in patients) >= len(patients) * 0.7
    referred = [p for p in patients if p.referring_provider_npi]
    assert len(referred) >= len(patients) * 0.6
    assert all(npi_check_digit_ok(p.referring_provider_npi) for p in referred)
    assert len({p.sex_at_birth for p in patients}) >= 3
    assert any(p.pronouns == "they/them" for p in patients)
    assert len({p.preferred_contact for p in patients}) == 3
    for patient in patients:
        patient.full_clean()
    # patient_create audits each registration, acting as the site's front desk.
    creations = AuditEvent.objects.filter(object_type="patient", action=AuditEvent.Action.CREATE)
    assert creations.count() == len(patients)
    assert set(creations.values_list("username", flat=True)) == {"frontdesk", "frontdesk2"}


def test_escorts_for_about_two_thirds_and_one_inactive(settings: Any) -> None:
    run_seed(settings)

    patients = Patient.objects.count()
    with_active = Patient.objects.filter(escorts__active=True).distinct().count()
    assert patients * 0.55 <= with_active <= patients * 0.8
    inactive = list(Escort.objects.filter(active=False))
    assert len(inactive) == 1
    assert inactive[0].patient.escorts.filter(active=True).exists()
    assert all(normalize_phone(e.phone) == e.phone for e in Escort.objects.all())


def test_consents_show_every_state(settings: Any) -> None:
    run_seed(settings)

    org = Organization.objects.get(name=ORGANIZATION_NAME)
    documents = {(d.kind, d.version): d for d in ConsentDocument.objects.filter(organization=org)}
    assert set(documents) == {
        (ConsentKind.KETAMINE_TREATMENT, 1),
        (ConsentKind.KETAMINE_TREATMENT, 2),
        (ConsentKind.SMS_CONTACT, 1),
        (ConsentKind.EMAIL_CONTACT, 1),
    }
    today = timezone.localdate()
    v1 = documents[(ConsentKind.KETAMINE_TREATMENT, 1)].effective_from
    v2 = documents[(ConsentKind.KETAMINE_TREATMENT, 2)].effective_from
    assert today - timedelta(days=800) < v1 < today - timedelta(days=365)
    assert today - timedelta(days=120) < v2 < today - timedelta(days=14)
    for kind in (ConsentKind.SMS_CONTACT, ConsentKind.EMAIL_CONTACT):
        assert "ketamine" not in documents[(kind, 1)].title.lower()

    treatment: Counter[str] = Counter()
    contact: Counter[str] = Counter()
    for patient in Patient.objects.all():
        statuses = {s.kind: s for s in patient_consent_statuses(patient=patient)}
        treatment[statuses[ConsentKind.KETAMINE_TREATMENT].state] += 1
        for kind in (ConsentKind.SMS_CONTACT, ConsentKind.EMAIL_CONTACT):
            contact[statuses[kind].state] += 1
    assert set(treatment) == {"current", "expired", "outdated", "missing", "withdrawn"}
    assert treatment["current"] > sum(treatment.values()) / 2
    assert treatment["withdrawn"] == 1
    assert contact["current"] >= 15
    # Current treatment consents are on version 2; expired and outdated ones on version 1.
    for consent in Consent.objects.filter(kind=ConsentKind.KETAMINE_TREATMENT).select_related(
        "document"
    ):
        if consent.expires_at and consent.expires_at <= timezone.now():
            assert consent.document.version == 1
    assert Consent.objects.filter(signer_relation=Consent.SignerRelation.SELF).exists()


def test_a_second_run_changes_nothing(settings: Any) -> None:
    first = run_seed(settings)
    before = counts()
    mrns = sorted(Patient.objects.values_list("mrn", flat=True))

    second = run_seed(settings)

    assert counts() == before
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == mrns
    assert MESSAGE_NOTHING_CHANGED not in first
    assert MESSAGE_NOTHING_CHANGED in second
    for output in (first, second):
        assert DEMO_PASSWORD in output
        assert "prescriber2" in output
        assert "Chicago Ketamine Clinic" in output
    links = {line.strip() for line in (first + second).splitlines() if "/p/" in line}
    assert len(links) == 2, "each run prints its own live patient link"


def test_prints_a_live_patient_link_with_the_birth_date(settings: Any) -> None:
    output = run_seed(settings)
    url = next(line.strip() for line in output.splitlines() if "/p/" in line)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    link = link_by_token(token)
    assert link is not None and link_state(link) == "ok"
    assert f"Date of birth to enter: {link.patient.birth_date:%Y-%m-%d}" in output


def test_a_rerun_restores_a_changed_password_without_duplicating(
    settings: Any,
) -> None:
    run_seed(settings)
    nurse = User.objects.get(username="nurse")
    nurse.set_password("something-else-entirely")
    nurse.save()
    before = counts()

    output = run_seed(settings)

    nurse.refresh_from_db()
    assert nurse.check_password(DEMO_PASSWORD)
    assert counts() == before
    assert "Reset 1 demo passwords." in output


def test_refuses_without_debug(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError) as excinfo:
        call_command("demo_seed", stdout=StringIO())

    assert str(excinfo.value) == MESSAGE_NOT_DEBUG
    assert not Organization.objects.filter(name=ORGANIZATION_NAME).exists()
    assert not User.objects.filter(username="director").exists()


def test_force_seeds_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    out = StringIO()

    call_command("demo_seed", "--force", stdout=out)

    assert Organization.objects.filter(name=ORGANIZATION_NAME).exists()
    assert Patient.objects.count() >= 36


def test_identifier_generators_pass_their_check_digits() -> None:
    rng = random.Random(7)
    for _ in range(200):
        assert dea_check_digit_ok(make_dea_number("BX", rng))
        assert npi_check_digit_ok(make_npi(rng))


def test_allergy_status_varies(settings: Any) -> None:
    from ketapath.patients.selectors import patient_allergies

    run_seed(settings)
    statuses = {
        patient_allergies(patient=p).status
        for p in Patient.objects.filter(organization__name="Demo Ketamine Clinics")
    }
    assert statuses == {"not_asked", "none_known", "has_allergies"}
    assert Allergy.objects.filter(severity="severe").exists()


def test_measures_include_worrying_cases(settings: Any) -> None:
    from ketapath.medications.selectors import current_medications_summary
    from ketapath.observations.models import SafetyAlert
    from ketapath.questionnaires.models import Response

    run_seed(settings)
    alerts = SafetyAlert.objects.filter(status="open")
    assert alerts.count() == 1
    assert alerts.get().kind == "phq9_item9"
    totals = [
        current_medications_summary(p).total_mme
        for p in Patient.objects.filter(organization__name="Demo Ketamine Clinics")
    ]
    assert any(50 <= t < 90 for t in totals)
    assert sum(1 for t in totals if t >= 50) >= 3
    assert any(t == 0 for t in totals)
    assert Response.objects.filter(complete=False).exists()
    assert Response.objects.filter(instrument="pcl-5").exists()
