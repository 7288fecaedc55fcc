"""Shared test fixtures: two clinic sites and the named personas of DESIGN §5 item 13.

``site`` (America/Denver) and ``other_site`` (America/Chicago) belong to one organisation.
Personas work at ``site`` unless their name says otherwise (``other_clinic_nurse``).
"""

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, User
from ketapath.clinics.models import Clinic, ClinicPolicy, OpeningHours, Organization, Room
from ketapath.patients.models import ConsentDocument, ConsentKind, Enrolment, Patient

PASSWORD = "correct-horse-battery"


@pytest.fixture
def organization(db: Any) -> Organization:
    return Organization.objects.create(name="Test Ketamine Clinics", mrn_prefix="TKC")


def _make_clinic(org: Organization, name: str, tz: str, dea: str) -> Clinic:
    clinic = Clinic.objects.create(
        organization=org,
        name=name,
        address_line1="100 Main St",
        city="Denver" if "Denver" in tz else "Chicago",
        state="CO" if "Denver" in tz else "IL",
        postal_code="80202" if "Denver" in tz else "60601",
        phone="+13035550100" if "Denver" in tz else "+13125550100",
        time_zone=tz,
        dea_registration=dea,
    )
    for weekday in range(5):
        OpeningHours.objects.create(clinic=clinic, weekday=weekday, opens=time(8), closes=time(17))
    Room.objects.create(clinic=clinic, name="Treatment 1", kind=Room.Kind.TREATMENT)
    ClinicPolicy.objects.create(clinic=clinic, version=1)
    return clinic


@pytest.fixture
def site(organization: Organization) -> Clinic:
    return _make_clinic(organization, "Denver Site", "America/Denver", "BS1234563")


@pytest.fixture
def other_site(organization: Organization) -> Clinic:
    return _make_clinic(organization, "Chicago Site", "America/Chicago", "FC7654329")


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def make(username: str, clinic: Clinic, *roles: str, **fields: Any) -> User:
        today = timezone.localdate()
        defaults: dict[str, Any] = {
            "first_name": username.title(),
            "last_name": "Tester",
            "licence_type": "MD",
            "licence_number": f"LIC-{username}",
            "licence_state": "CO",
            "licence_expires": today + timedelta(days=365),
            "dea_number": "AB1234563",
            "dea_expires": today + timedelta(days=365),
            "acls_expires": today + timedelta(days=365),
        }
        defaults.update(fields)
        user = User.objects.create_user(username=username, password=PASSWORD, **defaults)
        for role in roles:
            Membership.objects.create(user=user, clinic=clinic, role=role)
        return user

    return make


@pytest.fixture
def director(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("director", site, Role.MEDICAL_DIRECTOR)


@pytest.fixture
def prescriber(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("prescriber", site, Role.PRESCRIBER)


@pytest.fixture
def nurse(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("nurse", site, Role.NURSE, licence_type="RN")


@pytest.fixture
def therapist(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("therapist", site, Role.THERAPIST, licence_type="LCSW")


@pytest.fixture
def front_desk(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("frontdesk", site, Role.FRONT_DESK, licence_number="")


@pytest.fixture
def biller(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("biller", site, Role.BILLER, licence_number="")


@pytest.fixture
def privacy_officer(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("privacy", site, Role.PRIVACY_OFFICER, licence_number="")


@pytest.fixture
def clinic_admin(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("admin", site, Role.CLINIC_ADMIN, licence_number="")


@pytest.fixture
def other_clinic_nurse(make_user: Callable[..., User], other_site: Clinic) -> User:
    return make_user("nurse2", other_site, Role.NURSE, licence_type="RN")


@pytest.fixture
def make_patient(db: Any, site: Clinic, nurse: User) -> Callable[..., Patient]:
    counter = {"n": 0}

    def make(clinic: Clinic | None = None, **fields: Any) -> Patient:
        clinic = clinic or site
        counter["n"] += 1
        values: dict[str, Any] = {
            "given_name": "Alex",
            "family_name": f"Rivera{counter['n']}",
            "birth_date": date(1980, 5, 17),
            "sex_at_birth": Patient.SexAtBirth.FEMALE,
            "phone": f"+1303555{1000 + counter['n']:04d}",
            "preferred_clinic": clinic,
        }
        values.update(fields)
        patient = Patient.objects.create(
            organization=clinic.organization, mrn=f"TKC{counter['n']:06d}", **values
        )
        Enrolment.objects.create(
            patient=patient, clinic=clinic, since=timezone.localdate(), enrolled_by=nurse
        )
        return patient

    return make


@pytest.fixture
def patient(make_patient: Callable[..., Patient]) -> Patient:
    return make_patient()


@pytest.fixture
def other_site_patient(make_patient: Callable[..., Patient], other_site: Clinic) -> Patient:
    return make_patient(clinic=other_site, given_name="Morgan", family_name="Chen")


@pytest.fixture
def consent_documents(organization: Organization) -> dict[str, ConsentDocument]:
    today = timezone.localdate() - timedelta(days=30)
    return {
        kind: ConsentDocument.objects.create(
            organization=organization,
            kind=kind,
            version=1,
            title=f"{label} consent",
            body=f"I consent to {label.lower()}.",
            effective_from=today,
        )
        for kind, label in ConsentKind.choices
    }


def login(client: Client, user: User) -> Client:
    """A logged-in test client with a fresh session (as after the login page)."""
    client.force_login(user)
    session = client.session
    import time as _time

    session["ketapath_started"] = _time.time()
    session["ketapath_last_seen"] = _time.time()
    session.save()
    return client


@pytest.fixture
def client_for(client: Client) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        return login(Client(), user)

    return make


@pytest.fixture
def api_client() -> Callable[[User], Client]:
    """A client that authenticates with a real bearer token."""
    from ketapath.accounts.services import api_token_issue

    def make(user: User) -> Client:
        raw, _ = api_token_issue(user=user)
        return Client(headers={"Authorization": f"Bearer {raw}"})

    return make
