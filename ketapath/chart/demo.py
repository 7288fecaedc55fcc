"""Fictional demo data: an organisation with two clinic sites, their staff and ~40 patients.

``seed_demo`` is idempotent: sites, users and consent forms are looked up before they are
created, and patients are added only while the organisation has none, so a second run
changes nothing. Patients, enrolments, escorts and consents go through the patients
services, as a site's own staff would enter them, so MRNs and the audit trail are real.
Every person, number and address here is invented: phone numbers are in the 555-01xx
range reserved for fiction, e-mail addresses use the reserved example domains.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from faker import Faker

from ketapath.accounts.models import LicenceType, Membership, Role, User
from ketapath.chart.demo_evaluations import evaluations_present, seed_evaluations
from ketapath.chart.demo_history import history_present, seed_history
from ketapath.chart.demo_measures import measures_present, seed_measures
from ketapath.chart.demo_messages import messages_present, seed_messages
from ketapath.chart.demo_pharmacy import pharmacy_present, seed_pharmacy
from ketapath.chart.demo_scheduling import scheduling_present, seed_extra_shifts, seed_scheduling
from ketapath.chart.demo_sessions import seed_today_sessions, today_sessions_present
from ketapath.chart.demo_shifts import seed_shifts, shifts_present
from ketapath.chart.demo_today import book_today_sessions
from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Organization, Room
from ketapath.core.timeutils import local_today
from ketapath.core.validators import dea_check_digit_ok, normalize_phone, npi_check_digit_ok
from ketapath.patients.models import Consent, ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import (
    consent_record,
    consent_withdraw,
    escort_add,
    escort_deactivate,
    patient_create,
    patient_enrol,
)

DEMO_PASSWORD = "ketapath-demo"
ORGANIZATION_NAME = "Demo Ketamine Clinics"
MRN_PREFIX = "DKC"
DENVER = "Denver Ketamine Clinic"
CHICAGO = "Chicago Ketamine Clinic"
FAKER_SEED = 20240917
STAFF_EMAIL_DOMAIN = "demo-ketamine-clinics.example"

# Treatment-consent states each site's patients are given, so every badge shows up.
CONSENT_MIX = {
    DENVER: {"current": 15, "expired": 3, "outdated": 3, "missing": 2, "withdrawn": 1},
    CHICAGO: {"current": 11, "expired": 2, "outdated": 2, "missing": 1},
}
V1_EFFECTIVE_DAYS_AGO = 730
V2_EFFECTIVE_DAYS_AGO = 60


# --- Specifications --------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSpec:
    """One demo login. Day counts are offsets from the seeding day (negative = past)."""

    username: str
    role: str
    first_name: str
    last_name: str
    title: str = ""
    licence_type: str = ""
    licence_number: str = ""
    licence_state: str = ""
    licence_days: int | None = None
    dea_letter: str = ""  # the registrant-type letter; empty means no DEA registration
    dea_days: int | None = None
    acls_days: int | None = None
    has_npi: bool = False


@dataclass(frozen=True)
class SiteSpec:
    name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    time_zone: str
    dea_prefix: str
    weekly_hours: tuple[tuple[int, time, time], ...]
    rooms: tuple[tuple[str, str, bool], ...]  # name, kind, active
    area_codes: tuple[str, ...]
    towns: tuple[tuple[str, str], ...]  # city, ZIP code
    practices: tuple[str, ...]  # referring practices nearby
    patients: int
    staff: tuple[StaffSpec, ...]


WEEKDAYS_8_TO_5 = tuple((day, time(8), time(17)) for day in range(5))

SITES: tuple[SiteSpec, ...] = (
    SiteSpec(
        name=DENVER,
        address_line1="1600 Downing Street",
        address_line2="Suite 300",
        city="Denver",
        state="CO",
        postal_code="80218",
        phone="(303) 555-0100",
        time_zone="America/Denver",
        dea_prefix="BD",
        weekly_hours=(*WEEKDAYS_8_TO_5, (5, time(9), time(13))),
        rooms=(
            ("Treatment 1", Room.Kind.TREATMENT, True),
            ("Treatment 2", Room.Kind.TREATMENT, True),
            ("Treatment 3", Room.Kind.TREATMENT, True),
            ("Treatment 4", Room.Kind.TREATMENT, False),
            ("Consult A", Room.Kind.CONSULT, True),
            ("Consult B", Room.Kind.CONSULT, True),
        ),
        area_codes=("303", "720"),
        towns=(
            ("Denver", "80203"),
            ("Denver", "80206"),
            ("Denver", "80210"),
            ("Denver", "80218"),
            ("Aurora", "80012"),
            ("Lakewood", "80226"),
            ("Littleton", "80120"),
            ("Englewood", "80110"),
            ("Arvada", "80002"),
            ("Westminster", "80031"),
            ("Boulder", "80302"),
            ("Centennial", "80112"),
        ),
        practices=(
            "Front Range Pain & Spine",
            "Cherry Creek Family Medicine",
            "Mile High Neurology",
            "Rocky Mountain Primary Care",
        ),
        patients=24,
        staff=(
            StaffSpec(
                username="director",
                role=Role.MEDICAL_DIRECTOR,
                first_name="Elena",
                last_name="Marquez",
                title="MD",
                licence_type=LicenceType.MD,
                licence_number="DR.0061542",
                licence_state="CO",
                licence_days=540,
                dea_letter="B",
                dea_days=400,
                acls_days=300,
                has_npi=True,
            ),
            # This prescriber's DEA registration runs out within the month.
            StaffSpec(
                username="prescriber",
                role=Role.PRESCRIBER,
                first_name="Samuel",
                last_name="Okafor",
                title="DO",
                licence_type=LicenceType.DO,
                licence_number="DR.0068817",
                licence_state="CO",
                licence_days=610,
                dea_letter="F",
                dea_days=21,
                acls_days=250,
                has_npi=True,
            ),
            StaffSpec(
                username="nurse",
                role=Role.NURSE,
                first_name="Rachel",
                last_name="Lindqvist",
                title="RN",
                licence_type=LicenceType.RN,
                licence_number="RN.1734409",
                licence_state="CO",
                licence_days=420,
                acls_days=380,
                has_npi=True,
            ),
            StaffSpec(
                username="therapist",
                role=Role.THERAPIST,
                first_name="Jordan",
                last_name="Ames",
                title="LCSW",
                licence_type=LicenceType.LCSW,
                licence_number="CSW.09924178",
                licence_state="CO",
                licence_days=700,
                has_npi=True,
            ),
            StaffSpec("frontdesk", Role.FRONT_DESK, "Maria", "Delgado"),
            StaffSpec("biller", Role.BILLER, "Kevin", "Tran"),
            StaffSpec("privacy", Role.PRIVACY_OFFICER, "Patricia", "Holloway"),
            StaffSpec("admin", Role.CLINIC_ADMIN, "Greg", "Sorensen"),
        ),
    ),
    SiteSpec(
        name=CHICAGO,
        address_line1="233 North Michigan Avenue",
        address_line2="Suite 1400",
        city="Chicago",
        state="IL",
        postal_code="60601",
        phone="(312) 555-0100",
        time_zone="America/Chicago",
        dea_prefix="BC",
        weekly_hours=WEEKDAYS_8_TO_5,
        rooms=(
            ("Treatment 1", Room.Kind.TREATMENT, True),
            ("Treatment 2", Room.Kind.TREATMENT, True),
            ("Treatment 3", Room.Kind.TREATMENT, True),
            ("Consult A", Room.Kind.CONSULT, True),
            ("Consult B", Room.Kind.CONSULT, False),
        ),
        area_codes=("312", "773"),
        towns=(
            ("Chicago", "60614"),
            ("Chicago", "60618"),
            ("Chicago", "60625"),
            ("Chicago", "60640"),
            ("Chicago", "60657"),
            ("Evanston", "60201"),
            ("Oak Park", "60302"),
            ("Skokie", "60076"),
            ("Cicero", "60804"),
            ("Naperville", "60540"),
            ("Berwyn", "60402"),
        ),
        practices=(
            "Lakeshore Pain Center",
            "North Side Family Health",
            "Midwest Spine & Neurology",
            "Lincoln Park Internal Medicine",
        ),
        patients=16,
        staff=(
            StaffSpec(
                username="director2",
                role=Role.MEDICAL_DIRECTOR,
                first_name="Anjali",
                last_name="Mehta",
                title="MD",
                licence_type=LicenceType.MD,
                licence_number="036.142287",
                licence_state="IL",
                licence_days=480,
                dea_letter="B",
                dea_days=520,
                acls_days=200,
                has_npi=True,
            ),
            # A nurse practitioner: a mid-level practitioner's DEA number starts with M.
            StaffSpec(
                username="prescriber2",
                role=Role.PRESCRIBER,
                first_name="Thomas",
                last_name="Kowalski",
                title="NP",
                licence_type=LicenceType.NP,
                licence_number="209.018834",
                licence_state="IL",
                licence_days=330,
                dea_letter="M",
                dea_days=450,
                acls_days=160,
                has_npi=True,
            ),
            # ACLS lapsed 18 days ago, so this nurse cannot document sessions until renewed.
            StaffSpec(
                username="nurse2",
                role=Role.NURSE,
                first_name="Denise",
                last_name="Washington",
                title="RN",
                licence_type=LicenceType.RN,
                licence_number="041.462091",
                licence_state="IL",
                licence_days=260,
                acls_days=-18,
                has_npi=True,
            ),
            # Joined this year; without her no Chicago session could be staffed while the
            # other nurse's ACLS card is lapsed.
            StaffSpec(
                username="nurse3",
                role=Role.NURSE,
                first_name="Grace",
                last_name="Adeyemi",
                title="RN",
                licence_type=LicenceType.RN,
                licence_number="041.518337",
                licence_state="IL",
                licence_days=590,
                acls_days=410,
                has_npi=True,
            ),
            StaffSpec(
                username="therapist2",
                role=Role.THERAPIST,
                first_name="Miriam",
                last_name="Feld",
                title="PsyD",
                licence_type=LicenceType.PSYD,
                licence_number="071.008812",
                licence_state="IL",
                licence_days=45,
                has_npi=True,
            ),
            StaffSpec("frontdesk2", Role.FRONT_DESK, "Luis", "Herrera"),
            StaffSpec("biller2", Role.BILLER, "Aisha", "Rahman"),
            StaffSpec("privacy2", Role.PRIVACY_OFFICER, "Colleen", "Brennan"),
            StaffSpec("admin2", Role.CLINIC_ADMIN, "Marcus", "Bell"),
        ),
    ),
)


@dataclass(frozen=True)
class ConsentDocumentSpec:
    kind: str
    version: int
    title: str
    body: str
    effective_days_ago: int


TREATMENT_BODY_V1 = """\
I agree to receive ketamine treatment for chronic pain at this clinic.

I understand that ketamine can cause dizziness, nausea, a rise in blood pressure and heart
rate, blurred vision, and a dream-like or detached feeling during and shortly after each
session. Staff will check my blood pressure, pulse and breathing before, during and after
each session, and I will stay until I am safe to leave.

I will not drive, operate machinery or make important decisions until the next day, and an
adult I know will take me home after each session.

I have told the clinic about my medical history, my medications (including opioids) and
any use of alcohol or other drugs. I can ask questions at any time, and I can stop
treatment at any time without affecting the rest of my care here.

This consent lasts 12 months unless I withdraw it sooner."""

TREATMENT_BODY_V2 = TREATMENT_BODY_V1.replace(
    "This consent lasts 12 months",
    "Between sessions the clinic may send me short questionnaires about my pain, mood and "
    "sleep, and a clinician will review my answers before each session. After my first "
    "series of sessions a clinician will go over my results with me before any further "
    "treatment is planned.\n\nThis consent lasts 12 months",
)

SMS_BODY = """\
I agree that the clinic may send text messages to my mobile phone about my appointments,
forms to complete before a visit, and requests to call the clinic.

Messages will not name my treatment, diagnosis or test results. Message and data rates may
apply. I can reply STOP at any time, or tell the front desk, to stop text messages."""

EMAIL_BODY = """\
I agree that the clinic may e-mail me about my appointments, forms to complete before a
visit, and requests to call the clinic.

Subjects and message text will not name my treatment, diagnosis or test results. I can ask
the front desk at any time to stop e-mail."""

CONSENT_DOCUMENTS: tuple[ConsentDocumentSpec, ...] = (
    ConsentDocumentSpec(
        ConsentKind.KETAMINE_TREATMENT,
        1,
        "Consent to ketamine treatment",
        TREATMENT_BODY_V1,
        V1_EFFECTIVE_DAYS_AGO,
    ),
    ConsentDocumentSpec(
        ConsentKind.SMS_CONTACT,
        1,
        "Consent to contact by text message",
        SMS_BODY,
        V1_EFFECTIVE_DAYS_AGO,
    ),
    ConsentDocumentSpec(
        ConsentKind.EMAIL_CONTACT,
        1,
        "Consent to contact by e-mail",
        EMAIL_BODY,
        V1_EFFECTIVE_DAYS_AGO,
    ),
    ConsentDocumentSpec(
        ConsentKind.KETAMINE_TREATMENT,
        2,
        "Consent to ketamine treatment",
        TREATMENT_BODY_V2,
        V2_EFFECTIVE_DAYS_AGO,
    ),
)


# --- Results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    role: str
    site: str


@dataclass
class SeedResult:
    """What one run changed; ``changed`` is False for a run that found everything in place."""

    organization_created: bool = False
    sites_created: int = 0
    users_created: int = 0
    passwords_reset: int = 0
    memberships_created: int = 0
    consent_documents_created: int = 0
    patients_created: int = 0
    measures_seeded: int = 0
    evaluations_seeded: int = 0
    shifts_seeded: int = 0
    scheduling_seeded: int = 0
    messages_seeded: int = 0
    pharmacy_seeded: int = 0
    sessions_seeded: int = 0
    logins: list[DemoLogin] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.organization_created,
                self.sites_created,
                self.users_created,
                self.passwords_reset,
                self.memberships_created,
                self.consent_documents_created,
                self.patients_created,
                self.measures_seeded,
                self.evaluations_seeded,
                self.shifts_seeded,
                self.scheduling_seeded,
                self.messages_seeded,
                self.pharmacy_seeded,
                self.sessions_seeded,
            )
        )


def demo_logins() -> list[DemoLogin]:
    """The demo accounts, in site then role order, as printed after seeding."""
    return [
        DemoLogin(
            username=staff.username,
            name=_staff_display_name(staff),
            role=Role(staff.role).label,
            site=site.name,
        )
        for site in SITES
        for staff in site.staff
    ]


def _staff_display_name(staff: StaffSpec) -> str:
    name = f"{staff.first_name} {staff.last_name}"
    return f"{name}, {staff.title}" if staff.title else name


# --- Identifiers -----------------------------------------------------------------------


def make_dea_number(letters: str, rng: random.Random) -> str:
    """Two letters and six random digits followed by their DEA check digit."""
    digits = [rng.randint(0, 9) for _ in range(6)]
    total = digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])
    number = f"{letters}{''.join(map(str, digits))}{total % 10}"
    assert dea_check_digit_ok(number)
    return number


def make_npi(rng: random.Random) -> str:
    """A ten-digit NPI starting with 1 (individual providers) with a valid Luhn check digit."""
    body = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    for check in range(10):
        if npi_check_digit_ok(f"{body}{check}"):
            return f"{body}{check}"
    raise AssertionError("every NPI prefix has exactly one check digit")


def _rng_for(key: str) -> random.Random:
    # Seeded by a name, so a user's numbers do not depend on the order users are made.
    return random.Random(f"{FAKER_SEED}:{key}")  # noqa: S311 - fictional demo data


# --- Sites and staff -------------------------------------------------------------------


def _next_weekday_date(start: date, month: int, weekday: int, nth: int) -> date:
    """The nth given weekday of ``month`` on or after ``start`` (e.g. Thanksgiving)."""
    year = start.year
    while True:
        first = date(year, month, 1)
        offset = (weekday - first.weekday()) % 7
        day = first + timedelta(days=offset + 7 * (nth - 1))
        if day >= start:
            return day
        year += 1


def _next_fixed_date(start: date, month: int, day: int) -> date:
    candidate = date(start.year, month, day)
    return candidate if candidate >= start else date(start.year + 1, month, day)


def _ensure_site(organization: Organization, spec: SiteSpec, today: date) -> tuple[Clinic, bool]:
    """The site, created with its hours, rooms, holidays and first policy if it is missing.

    An existing site is left as it is, so edits made through the admin pages survive."""
    clinic = Clinic.objects.filter(organization=organization, name=spec.name).first()
    if clinic is not None:
        return clinic, False
    clinic = Clinic(
        organization=organization,
        name=spec.name,
        address_line1=spec.address_line1,
        address_line2=spec.address_line2,
        city=spec.city,
        state=spec.state,
        postal_code=spec.postal_code,
        phone=normalize_phone(spec.phone),
        time_zone=spec.time_zone,
        dea_registration=make_dea_number(spec.dea_prefix, _rng_for(spec.name)),
    )
    clinic.full_clean()
    clinic.save()
    for weekday, opens, closes in spec.weekly_hours:
        OpeningHours.objects.create(clinic=clinic, weekday=weekday, opens=opens, closes=closes)
    for name, kind, active in spec.rooms:
        Room.objects.create(clinic=clinic, name=name, kind=kind, active=active)
    thanksgiving = _next_weekday_date(today, 11, 3, 4)
    Closure.objects.create(
        clinic=clinic,
        start_date=thanksgiving,
        end_date=thanksgiving + timedelta(days=1),
        reason="Thanksgiving",
    )
    christmas = _next_fixed_date(today, 12, 25)
    Closure.objects.create(
        clinic=clinic, start_date=christmas, end_date=christmas, reason="Christmas Day"
    )
    ClinicPolicy.objects.create(
        clinic=clinic, version=1, change_reason="Opening policy with the published defaults."
    )
    return clinic, True


def _staff_fields(spec: StaffSpec, today: date) -> dict[str, Any]:
    rng = _rng_for(spec.username)

    def days(offset: int | None) -> date | None:
        return None if offset is None else today + timedelta(days=offset)

    return {
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "email": f"{spec.username}@{STAFF_EMAIL_DOMAIN}",
        "title": spec.title,
        "npi": make_npi(rng) if spec.has_npi else "",
        "licence_type": spec.licence_type,
        "licence_number": spec.licence_number,
        "licence_state": spec.licence_state,
        "licence_expires": days(spec.licence_days),
        "dea_number": (
            make_dea_number(spec.dea_letter + spec.last_name[0].upper(), rng)
            if spec.dea_letter
            else ""
        ),
        "dea_expires": days(spec.dea_days) if spec.dea_letter else None,
        "acls_expires": days(spec.acls_days),
    }


def _ensure_staff(clinics: dict[str, Clinic], today: date, result: SeedResult) -> dict[str, User]:
    """Every demo login exists, is active, opens with the demo password and holds its role."""
    users: dict[str, User] = {}
    for site in SITES:
        for spec in site.staff:
            user = User.objects.filter(username=spec.username).first()
            if user is None:
                user = User(username=spec.username, **_staff_fields(spec, today))
                user.set_password(DEMO_PASSWORD)
                user.full_clean()
                user.save()
                result.users_created += 1
            elif not user.is_active or not user.check_password(DEMO_PASSWORD):
                user.is_active = True
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["is_active", "password"])
                result.passwords_reset += 1
            _, created = Membership.objects.get_or_create(
                user=user, clinic=clinics[site.name], role=spec.role, defaults={"active": True}
            )
            result.memberships_created += int(created)
            users[spec.username] = user
    return users


def _ensure_consent_documents(
    organization: Organization, today: date, versions: set[int], result: SeedResult
) -> None:
    for spec in CONSENT_DOCUMENTS:
        if spec.version not in versions:
            continue
        _, created = ConsentDocument.objects.get_or_create(
            organization=organization,
            kind=spec.kind,
            version=spec.version,
            defaults={
                "title": spec.title,
                "body": spec.body,
                "effective_from": today - timedelta(days=spec.effective_days_ago),
            },
        )
        result.consent_documents_created += int(created)


# --- Patients --------------------------------------------------------------------------

NICKNAMES = {
    "Robert": "Bob",
    "William": "Bill",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Michael": "Mike",
    "Jennifer": "Jen",
    "Christopher": "Chris",
    "Margaret": "Maggie",
    "James": "Jim",
    "Patricia": "Trish",
    "Richard": "Rick",
    "Susan": "Sue",
    "Joseph": "Joe",
    "Rebecca": "Becky",
    "Daniel": "Dan",
    "Jessica": "Jess",
}
NEUTRAL_NAMES = ("Alex", "Jordan", "Taylor", "Riley", "Casey", "Morgan", "Sam", "Jamie")
# Relations, with the sex a relation word implies (None: either) and whether such a
# relative usually shares the patient's family name.
ESCORT_RELATIONS: tuple[tuple[str, str | None, bool], ...] = (
    ("spouse", None, True),
    ("partner", None, False),
    ("daughter", "female", True),
    ("son", "male", True),
    ("friend", None, False),
    ("sister", "female", True),
    ("brother", "male", True),
    ("mother", "female", True),
    ("neighbor", None, False),
    ("roommate", None, False),
)
WITHDRAW_REASON = "Patient asked to pause treatment while a new job settles; may return later."


@dataclass
class EscortPlan:
    name: str
    phone: str
    relation: str
    active: bool = True


@dataclass
class PatientPlan:
    """Everything to enter for one patient: registration data and what follows it."""

    site: str
    data: dict[str, Any]
    treatment_state: str  # current | expired | outdated | missing | withdrawn
    treatment_days_ago: int
    earlier_v1_days_ago: int | None = None  # a prior v1 signature for some current patients
    signed_by_poa: str = ""
    sms_consent_days_ago: int | None = None
    email_consent_days_ago: int | None = None
    also_enrol_at: str | None = None
    escorts: list[EscortPlan] = field(default_factory=list)


class _PhonePool:
    """Unique fictional numbers NXX-555-01xx; 555-0100 is kept for the sites themselves."""

    def __init__(self, area_codes: tuple[str, ...], rng: random.Random) -> None:
        self._numbers = [
            f"({area}) 555-01{line:02d}" for area in area_codes for line in range(1, 100)
        ]
        rng.shuffle(self._numbers)

    def take(self) -> str:
        return self._numbers.pop()


def _first_name(fake: Faker, sex: str | None) -> str:
    if sex == "female":
        return str(fake.first_name_female())
    if sex == "male":
        return str(fake.first_name_male())
    return str(fake.first_name())


def _identity(fake: Faker, rng: random.Random, index: int) -> dict[str, str]:
    """Names, sex at birth, gender identity and pronouns; a few patients are not cisgender."""
    # index: sex at birth, gender identity, pronouns, the sex the first names follow
    special = {
        3: ("female", "Non-binary", "they/them", None),
        8: ("female", "Transgender man", "he/him", "male"),
        13: ("male", "Transgender woman", "she/her", "female"),
        27: ("intersex", "Woman", "she/her", "female"),
        33: ("unknown", "", "", "male"),
    }
    if index in special:
        sex, gender, pronouns, name_sex = special[index]
    else:
        sex = "female" if rng.random() < 0.58 else "male"  # most patients at pain clinics are women
        name_sex = sex
        roll = rng.random()
        gender = ("Woman" if sex == "female" else "Man") if roll < 0.5 else ""
        pronouns = ("she/her" if sex == "female" else "he/him") if roll < 0.3 else ""
    given = rng.choice(NEUTRAL_NAMES) if name_sex is None else _first_name(fake, name_sex)
    family = str(fake.last_name())
    while family == given:
        family = str(fake.last_name())
    return {
        "given_name": given,
        "middle_name": _first_name(fake, name_sex) if rng.random() < 0.3 else "",
        "preferred_name": NICKNAMES.get(given, "") if rng.random() < 0.6 else "",
        "family_name": family,
        "sex_at_birth": sex,
        "gender_identity": gender,
        "pronouns": pronouns,
    }


def _escort(
    fake: Faker,
    rng: random.Random,
    family_name: str,
    phone: str,
    patient_age: int,
    relation: str | None = None,
) -> EscortPlan:
    """A driver whose name fits the relation (a daughter has a woman's name, and so on)."""
    known = {r[0]: r for r in ESCORT_RELATIONS}
    # An older patient's mother rarely drives them home.
    choices = [r for r in ESCORT_RELATIONS if not (r[0] == "mother" and patient_age >= 55)]
    relation, sex, kin = known[relation] if relation else rng.choice(choices)
    sex = sex or rng.choice(("female", "male"))
    shares_name = kin and (relation != "spouse" or rng.random() < 0.6)
    family = family_name if shares_name else str(fake.last_name())
    return EscortPlan(f"{_first_name(fake, sex)} {family}", phone, relation)


def _treatment_schedule(state: str, rng: random.Random) -> tuple[int, int | None]:
    """Days ago the latest treatment consent was signed, and an optional earlier v1 one."""
    if state == "expired":
        return rng.randint(385, 620), None
    if state == "outdated":
        return rng.randint(V2_EFFECTIVE_DAYS_AGO + 10, 330), None
    if state == "withdrawn":
        return rng.randint(20, V2_EFFECTIVE_DAYS_AGO - 5), None
    if state == "current":
        days = rng.randint(1, V2_EFFECTIVE_DAYS_AGO - 5)
        # Half re-signed the new form after an earlier v1 signature still on file.
        earlier = rng.randint(V2_EFFECTIVE_DAYS_AGO + 20, 340) if rng.random() < 0.5 else None
        return days, earlier
    return 0, None


def plan_patients(today: date) -> list[PatientPlan]:
    """The demo patients, from a fixed seed: the same people on every run of the same day."""
    fake = Faker("en_US")
    fake.seed_instance(FAKER_SEED)
    rng = random.Random(FAKER_SEED)  # noqa: S311 - fictional demo data
    plans: list[PatientPlan] = []
    index = 0
    for site in SITES:
        phones = _PhonePool(site.area_codes, rng)
        referrers = [
            {
                "referring_provider_name": f"{fake.first_name()} {fake.last_name()}, "
                f"{rng.choice(('MD', 'MD', 'DO', 'NP', 'PA-C'))}",
                "referring_provider_practice": practice,
                "referring_provider_phone": phones.take(),
                "referring_provider_npi": make_npi(rng),
            }
            for practice in site.practices
            for _ in range(2)
        ]
        states = [state for state, n in CONSENT_MIX[site.name].items() for _ in range(n)]
        rng.shuffle(states)
        for local in range(site.patients):
            identity = _identity(fake, rng, index)
            age = rng.randint(22, 77)
            # The 28th exists in every month, so no birthday lands on a missing 29 February.
            anniversary = date(today.year - age, today.month, min(today.day, 28))
            birth_date = anniversary - timedelta(days=rng.randint(0, 360))
            has_email = rng.random() < 0.85
            email = (
                f"{identity['given_name']}.{identity['family_name']}{rng.randint(1, 99)}"
                f"@{fake.safe_domain_name()}".lower()
                .replace(" ", "")
                .replace("'", "")
                if has_email
                else ""
            )
            roll = rng.random()
            preferred = "sms" if roll < 0.5 else "phone" if roll < 0.8 or not email else "email"
            data: dict[str, Any] = {
                **identity,
                "birth_date": birth_date,
                "phone": phones.take(),
                "email": email,
                "preferred_contact": preferred,
                "contact_by_sms": preferred == "sms" or rng.random() < 0.3,
                "contact_by_email": bool(email) and (preferred == "email" or rng.random() < 0.4),
                "contact_by_voicemail": rng.random() < 0.6,
            }
            if rng.random() < 0.9:
                city, postal_code = rng.choice(site.towns)
                data.update(
                    address_line1=fake.street_address(),
                    address_line2=fake.secondary_address() if rng.random() < 0.25 else "",
                    city=city,
                    state=site.state,
                    postal_code=postal_code,
                )
            if rng.random() < 0.85:
                data.update(rng.choice(referrers))
            state = states[local]
            days_ago, earlier = _treatment_schedule(state, rng)
            plan = PatientPlan(
                site=site.name,
                data=data,
                treatment_state=state,
                treatment_days_ago=days_ago,
                earlier_v1_days_ago=earlier,
            )
            first_visit = max(days_ago, earlier or 0, 14)
            if data["contact_by_sms"]:
                plan.sms_consent_days_ago = rng.randint(1, first_visit)
            if data["contact_by_email"] and rng.random() < 0.8:
                plan.email_consent_days_ago = rng.randint(1, first_visit)
            if age >= 72 and state == "current" and not any(p.signed_by_poa for p in plans):
                # A daughter holds health-care power of attorney and signs for her parent.
                plan.signed_by_poa = f"{fake.first_name_female()} {identity['family_name']}"
            family = identity["family_name"]
            if local % 3 != 2:
                if site.name == DENVER and not any(not e.active for p in plans for e in p.escorts):
                    # This patient's former driver moved away; the record keeps who it was.
                    former = _escort(fake, rng, family, phones.take(), age, "friend")
                    former.active = False
                    plan.escorts.append(former)
                plan.escorts.append(_escort(fake, rng, family, phones.take(), age))
            plans.append(plan)
            index += 1
    # A few patients are seen at both sites.
    denver = [p for p in plans if p.site == DENVER]
    chicago = [p for p in plans if p.site == CHICAGO]
    denver[0].also_enrol_at = CHICAGO
    denver[1].also_enrol_at = CHICAGO
    chicago[0].also_enrol_at = DENVER
    return plans


def _signed_at(today: date, days_ago: int, site: SiteSpec, rng: random.Random) -> datetime:
    """A moment in clinic opening hours ``days_ago`` days back, in the site's time zone."""
    moment = time(rng.randint(8, 15), rng.choice((0, 10, 20, 30, 40, 50)))
    return datetime.combine(
        today - timedelta(days=days_ago), moment, tzinfo=ZoneInfo(site.time_zone)
    )


def _seed_patients(
    organization: Organization,
    clinics: dict[str, Clinic],
    users: dict[str, User],
    today: date,
    result: SeedResult,
) -> None:
    """Register the patients, then sign consents in the order the forms were published:
    first-version signatures before version 2 exists, then the current ones."""
    site_specs = {site.name: site for site in SITES}
    front_desk = {DENVER: users["frontdesk"], CHICAGO: users["frontdesk2"]}
    nurse = {DENVER: users["nurse"], CHICAGO: users["nurse2"]}
    rng = random.Random(FAKER_SEED + 1)  # noqa: S311 - fictional demo data
    plans = plan_patients(today)
    created: list[tuple[PatientPlan, Patient]] = []
    for plan in plans:
        clinic = clinics[plan.site]
        patient = patient_create(
            user=front_desk[plan.site],
            clinic=clinic,
            data={**plan.data, "preferred_clinic": clinic},
            confirm_not_duplicate=True,
        )
        if plan.also_enrol_at:
            patient_enrol(
                user=front_desk[plan.also_enrol_at],
                patient=patient,
                clinic=clinics[plan.also_enrol_at],
            )
        for escort in plan.escorts:
            added = escort_add(
                user=front_desk[plan.site],
                patient=patient,
                name=escort.name,
                phone=escort.phone,
                relation=escort.relation,
            )
            if not escort.active:
                escort_deactivate(user=front_desk[plan.site], escort=added)
        created.append((plan, patient))
        result.patients_created += 1

    def sign(plan: PatientPlan, patient: Patient, kind: str, days_ago: int) -> Consent:
        poa = plan.signed_by_poa if kind == ConsentKind.KETAMINE_TREATMENT else ""
        witness = nurse if kind == ConsentKind.KETAMINE_TREATMENT else front_desk
        return consent_record(
            user=witness[plan.site],
            patient=patient,
            clinic=clinics[plan.site],
            kind=kind,
            signed_by_name=poa or f"{patient.given_name} {patient.family_name}",
            signer_relation=(
                Consent.SignerRelation.POWER_OF_ATTORNEY if poa else Consent.SignerRelation.SELF
            ),
            signed_at=_signed_at(today, days_ago, site_specs[plan.site], rng),
        )

    # Only version 1 of the treatment form is in force here, so these signatures attach to it.
    for plan, patient in created:
        if plan.treatment_state in ("expired", "outdated"):
            sign(plan, patient, ConsentKind.KETAMINE_TREATMENT, plan.treatment_days_ago)
        if plan.earlier_v1_days_ago is not None:
            sign(plan, patient, ConsentKind.KETAMINE_TREATMENT, plan.earlier_v1_days_ago)
        if plan.sms_consent_days_ago is not None:
            sign(plan, patient, ConsentKind.SMS_CONTACT, plan.sms_consent_days_ago)
        if plan.email_consent_days_ago is not None:
            sign(plan, patient, ConsentKind.EMAIL_CONTACT, plan.email_consent_days_ago)
    _ensure_consent_documents(organization, today, {2}, result)
    for plan, patient in created:
        if plan.treatment_state in ("current", "withdrawn"):
            consent = sign(plan, patient, ConsentKind.KETAMINE_TREATMENT, plan.treatment_days_ago)
            if plan.treatment_state == "withdrawn":
                consent_withdraw(user=nurse[plan.site], consent=consent, reason=WITHDRAW_REASON)


# --- Entry point -----------------------------------------------------------------------


def seed_demo(*, today: date | None = None) -> SeedResult:
    """Create whatever part of the demo is missing, in one transaction, and say what changed."""
    today = today or timezone.localdate()
    result = SeedResult(logins=demo_logins())
    with transaction.atomic():
        organization, result.organization_created = Organization.objects.get_or_create(
            name=ORGANIZATION_NAME, defaults={"mrn_prefix": MRN_PREFIX}
        )
        clinics: dict[str, Clinic] = {}
        for spec in SITES:
            clinics[spec.name], created = _ensure_site(organization, spec, today)
            result.sites_created += int(created)
        users = _ensure_staff(clinics, today, result)
        if Patient.objects.filter(organization=organization).exists():
            _ensure_consent_documents(organization, today, {1, 2}, result)
        else:
            _ensure_consent_documents(organization, today, {1}, result)
            _seed_patients(organization, clinics, users, today, result)
        if not measures_present(organization):
            result.measures_seeded = seed_measures(
                organization=organization, clinics=clinics, users=users, today=today
            )
        if not evaluations_present(organization):
            result.evaluations_seeded = seed_evaluations(
                organization=organization, users=users, today=today
            )
        if not shifts_present(organization):
            result.shifts_seeded = seed_shifts(
                organization=organization, clinics=clinics, users=users, today=today
            )
        result.shifts_seeded += seed_extra_shifts(clinics=clinics, users=users)
        if not scheduling_present(organization):
            result.scheduling_seeded = seed_scheduling(
                organization=organization, clinics=clinics, users=users, today=today
            )
        if not messages_present(organization):
            result.messages_seeded = seed_messages(organization=organization, today=today)
        if not pharmacy_present(organization):
            result.pharmacy_seeded = seed_pharmacy(organization=organization, today=today)
        if not history_present(organization):
            result.sessions_seeded += seed_history(
                organization=organization, users=users, today=today
            )
        if not today_sessions_present(organization):
            # Today's session appointments are booked against the real clock: none for a
            # seed of another day.
            if all(abs((local_today(c.time_zone) - today).days) <= 1 for c in clinics.values()):
                result.sessions_seeded += book_today_sessions(organization=organization)
            result.sessions_seeded += seed_today_sessions(organization=organization)
    return result
