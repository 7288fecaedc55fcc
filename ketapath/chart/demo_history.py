"""Twelve months of demo history: patients whose initial series started in different months
of the past year, so the timelines and outcome dashboards show a realistic spread.

The clinic is replayed as it lived those months. The clock the services read
(``django.utils.timezone.now``) is set to each moment in turn, and every write goes
through the services a site's staff would use: registration and consent, screening and
the signed evaluation (``demo_evaluations``), the medication list and its MME snapshots,
the course order, the series proposed by the slot finder and booked by the front desk,
each session charted to a signed note with its ledger draw (``demo_sessions``' helpers),
the questionnaires before each session and at the reassessment, and the prescriber's
decision (``outcomes.services.course_decide``). Because the services run at their own
moment, every check they make (consent in force, evaluation still valid, vial usable,
credentials current) is the check of that day, and every row carries its own time.

Patients' stories are generators that yield the next moment they need; one loop runs them
in time order across both sites, so the controlled-substance ledger is written in the
order it happened. Each site receives one ketamine vial when it needs one; a vial's rest
is wasted in front of a witness when its beyond-use date comes (or at the end of the
history), so no history vial is held at the day's count and every draw balances.

The spread is deliberate, not a list of successes: responders and non-responders, some
worse, patients who never answer the reassessment, drop-outs after one or two sessions
(moved away, no escort, an emergence reaction, blood pressure at the hold level),
opioid doses that fall, stop, stay or rise, and a couple of series whose decision is
still to come. Doses are the demo doses of ``demo_scheduling`` (not clinical advice);
scores are invented demo values scored by the real instruments.
"""

import heapq
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone
from faker import Faker

from ketapath.accounts.models import User
from ketapath.chart import demo_sessions as ds
from ketapath.chart.demo_evaluations import DemoEvaluation, Screening, _seed_one
from ketapath.clinics.models import Clinic, Organization
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.validators import normalize_phone
from ketapath.evaluations.models import Evaluation
from ketapath.medications.models import Medication
from ketapath.medications.services import medication_add, medication_stop, medication_update
from ketapath.notifications.services import send_due
from ketapath.observations.models import DiaryEntry
from ketapath.outcomes.services import course_decide
from ketapath.patients.models import ConsentDocument, ConsentKind, Patient
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.patients.services import consent_record, escort_add, patient_create
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, Substance, Vial
from ketapath.questionnaires.services import response_record
from ketapath.scheduling import rules as scheduling_rules
from ketapath.scheduling.booking import (
    appointment_set_status,
    course_book,
    proposal_choices,
    proposals_store,
    slot_proposals,
)
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.services import course_create
from ketapath.treatments import charting
from ketapath.treatments import services as session_services
from ketapath.treatments.models import (
    READINESS_ITEMS,
    AdverseEvent,
    TreatmentSession,
)

DENVER = "Denver Ketamine Clinic"
CHICAGO = "Chicago Ketamine Clinic"
SEED = 20261202
# The patients ``demo.SITES`` registers first; history patients come after them in MRN order.
BASE_PATIENTS = 40
DESK = {DENVER: "frontdesk", CHICAGO: "frontdesk2"}
NURSE = {DENVER: "nurse", CHICAGO: "nurse3"}
PRESCRIBER = {DENVER: "prescriber", CHICAGO: "prescriber2"}
DIRECTOR = {DENVER: "director", CHICAGO: "director2"}
STAFF_SUFFIX = {DENVER: "", CHICAGO: "2"}
AREA_CODES = {DENVER: ("303", "720"), CHICAGO: ("312", "773")}
TOWNS = {
    DENVER: (("Denver", "80205"), ("Aurora", "80014"), ("Lakewood", "80228"),
             ("Golden", "80401"), ("Thornton", "80229"), ("Parker", "80134")),
    CHICAGO: (("Chicago", "60622"), ("Chicago", "60647"), ("Evanston", "60202"),
              ("Oak Park", "60304"), ("Des Plaines", "60016"), ("Forest Park", "60130")),
}  # fmt: skip
PRACTICES = {
    DENVER: ("Front Range Pain & Spine", "Mile High Neurology", "Colorado Cancer Care"),
    CHICAGO: ("Lakeshore Pain Center", "Midwest Spine & Neurology", "Northwestern Oncology"),
}
ESCORT_RELATIONS = ("spouse", "daughter", "son", "friend", "sister", "partner", "brother")
# Below the demo templates' 80 mg cap, with room for a weight change between sessions.
MAX_DOSE_MG = Decimal(74)
KETAMINE_LOT = {DENVER: "KH", CHICAGO: "KC"}

# Pain change categories the plan aims each reassessed patient at (IMMPACT bands,
# clinical.md §2.3): substantial, moderate, minimal, none, worse.
S, M, MIN, NONE, WORSE = "substantial", "moderate", "minimal", "none", "worse"


# --- the clock ------------------------------------------------------------------------------


class _Clock:
    """The moment the services read while the history is written."""

    def __init__(self) -> None:
        self.at = timezone.now()

    def now(self) -> datetime:
        return self.at


def _in_memory_channels() -> Any:
    """Messages of the past go through in-memory backends: a demo seed prints no mail."""
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SMS_BACKEND="ketapath.notifications.channels.LocmemSmsBackend",
    )


@contextmanager
def _replay(clock: _Clock) -> Iterator[None]:
    """Every ``timezone.now()`` (and so ``localdate()``) reads ``clock`` inside the block."""
    with mock.patch.object(timezone, "now", clock.now):
        yield


# --- plans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    pain: tuple[tuple[str, str], ...]
    months: int
    history: str
    prior: tuple[tuple[str, str, str], ...]


CONDITIONS: dict[str, Condition] = {
    "migraine": Condition(
        (("migraine", "G43.709"),),
        60,
        "Chronic migraine without aura, headache on most days for five years.",
        (
            ("Topiramate", "not_tolerated", "Tingling and word-finding trouble."),
            ("OnabotulinumtoxinA", "partial", ""),
            ("Erenumab", "helped_then_faded", ""),
        ),
    ),
    "migraine_aura": Condition(
        (("migraine", "G43.109"),),
        28,
        "Migraine with visual aura, twelve to fifteen days a month.",
        (("Propranolol", "no_benefit", ""), ("Amitriptyline", "partial", "")),
    ),
    "crps_leg": Condition(
        (("crps", "G90.521"),),
        22,
        "Burning pain, swelling and colour change of the right foot since an ankle fracture.",
        (
            ("Physical therapy with desensitisation", "partial", ""),
            ("Lumbar sympathetic blocks", "helped_then_faded", ""),
            ("Gabapentin", "partial", ""),
        ),
    ),
    "crps_arm": Condition(
        (("crps", "G90.512"),),
        16,
        "Burning pain and stiffness of the left hand since carpal tunnel surgery.",
        (("Hand therapy", "partial", ""), ("Pregabalin", "not_tolerated", "Dizziness.")),
    ),
    "neuropathy": Condition(
        (("neuropathy", "E11.42"),),
        54,
        "Burning and electric pain in both feet with type 2 diabetes.",
        (("Duloxetine", "partial", ""), ("Gabapentin", "not_tolerated", "Sedation.")),
    ),
    "fibromyalgia": Condition(
        (("fibromyalgia", "M79.7"),),
        96,
        "Widespread pain, fatigue and poor sleep for eight years.",
        (
            ("Duloxetine", "partial", ""),
            ("Graded exercise", "partial", ""),
            ("Pregabalin", "no_benefit", ""),
        ),
    ),
    "low_back": Condition(
        (("low_back_pain", "M54.50"), ("low_back_pain", "G89.29")),
        84,
        "Constant low back pain for seven years after a fall at work.",
        (
            ("Physical therapy", "partial", ""),
            ("Epidural steroid injections", "helped_then_faded", ""),
            ("Radiofrequency ablation", "no_benefit", ""),
        ),
    ),
    "low_back_leg": Condition(
        (("low_back_pain", "M54.16"), ("low_back_pain", "G89.29")),
        40,
        "Low back pain down the right leg since a disc herniation; surgery not advised.",
        (
            ("Transforaminal epidural injection", "helped_then_faded", ""),
            ("Physical therapy", "partial", ""),
        ),
    ),
    "cancer": Condition(
        (("cancer_pain", "G89.3"),),
        14,
        "Chest wall and rib pain after treatment for breast cancer; no active disease.",
        (
            ("Radiotherapy", "helped", ""),
            ("Duloxetine", "partial", ""),
            ("Intercostal nerve blocks", "helped_then_faded", ""),
        ),
    ),
    "trigeminal": Condition(
        (("trigeminal_neuralgia", "G50.0"),),
        36,
        "Stabbing pain of the left jaw and cheek set off by talking and cold air.",
        (("Carbamazepine", "not_tolerated", "Low sodium."), ("Oxcarbazepine", "partial", "")),
    ),
    "phantom": Condition(
        (("phantom_limb_pain", "G54.6"),),
        44,
        "Cramping pain in the missing right hand since an amputation after a work injury.",
        (("Mirror therapy", "partial", ""), ("Pregabalin", "partial", "")),
    ),
    "cipn": Condition(
        (("cipn", "G62.0"), ("cipn", "T45.1X5S")),
        24,
        "Burning and numb feet since chemotherapy for lymphoma ended two years ago.",
        (("Duloxetine", "partial", ""), ("Topical capsaicin", "no_benefit", "")),
    ),
    "rheumatoid": Condition(
        (("rheumatoid_arthritis", "M05.79"),),
        70,
        "Hand and knee pain with rheumatoid arthritis despite disease control.",
        (("Methotrexate", "partial", ""), ("Etanercept", "helped", "")),
    ),
    "pain_syndrome": Condition(
        (("chronic_pain_syndrome", "G89.4"),),
        110,
        "Widespread pain with poor sleep for nine years; off work.",
        (
            ("Spinal cord stimulator trial", "no_benefit", ""),
            ("Pain psychology group", "helped", ""),
        ),
    ),
}

# Mental-health primary: (ICD-10-CM codes, screen to confirm, note).
DEPRESSION = (("F33.1",), "phq9", "Recurrent major depression, moderate, confirmed at interview.")
DEPRESSION_SEVERE = (
    ("F33.2",),
    "phq9",
    "Recurrent major depression, severe without psychosis, confirmed.",
)
PTSD = (("F43.12",), "pcl5", "Chronic PTSD confirmed at interview.")


@dataclass
class Plan:
    """One history patient: where, when, what, and how the series goes."""

    number: int
    site: str
    kind: str  # "pain" | "mh" | "bh"
    condition: str
    start_days_ago: int  # the evaluation visit
    outcome: str = ""  # a pain category, "" when not reassessed or not reached
    reassessed: bool = True
    dropout_after: int = 0  # sessions done before dropping out; 0 = none
    dropout_decision: str = "stop"
    dropout_reason: str = ""
    aborted: bool = False
    adverse: str = ""  # "nausea" | "hypertension" | "emergence" | "sedation"
    mh: tuple[tuple[str, ...], str, str] | None = None
    phq9_response: bool = False
    decide: str = ""  # "" = no decision yet
    decide_reason: str = ""
    continuation: bool = False  # chart a continuation session after "continue"
    opioid: int | None = None  # index into OPIOIDS
    mme_change: str = ""  # "reduce" | "stop" | "increase" | "same"
    diary: bool = False
    mg_per_kg: Decimal = Decimal("0.5")


OPIOIDS: tuple[dict[str, Any], ...] = (
    {"drug_name": "Oxycodone", "strength": "10 mg", "opioid_key": "oxycodone",
     "dose_mg": Decimal(10), "doses_per_day": Decimal(4), "route": "oral"},
    {"drug_name": "Hydrocodone/acetaminophen", "strength": "10/325 mg",
     "opioid_key": "hydrocodone", "dose_mg": Decimal(10), "doses_per_day": Decimal(3),
     "route": "oral"},
    {"drug_name": "Tramadol", "strength": "50 mg", "opioid_key": "tramadol",
     "dose_mg": Decimal(50), "doses_per_day": Decimal(4), "route": "oral"},
    {"drug_name": "Morphine ER", "strength": "30 mg", "opioid_key": "morphine",
     "dose_mg": Decimal(30), "doses_per_day": Decimal(2), "route": "oral"},
    {"drug_name": "Fentanyl patch", "strength": "25 mcg/hr", "opioid_key": "fentanyl-transdermal",
     "dose_mcg_per_hr": Decimal(25), "route": "transdermal"},
    {"drug_name": "Oxycodone", "strength": "5 mg", "opioid_key": "oxycodone",
     "dose_mg": Decimal(5), "doses_per_day": Decimal(3), "route": "oral"},
)  # fmt: skip

DROPOUTS = {
    "moved": "Moved out of state for a new job after the first session; given the names of "
    "two clinics near her new home.",
    "escort": "Could not arrange an escort for the remaining sessions (her husband works "
    "away); will call if that changes.",
    "emergence": "Frightening emergence reaction at the last session; declined further "
    "ketamine after talking it over. Offered psychotherapy for pain coping.",
    "bp": "Blood pressure at the hold level at the pre-check; referred to primary care "
    "for blood pressure control before any further sessions.",
}


def _plans() -> list[Plan]:
    """The history patients, with their outcomes assigned so the reassessed show a spread."""
    rng = random.Random(SEED)  # noqa: S311 - fictional demo data
    conditions = list(CONDITIONS)
    # Days before today each evaluation took place, spread over the year (newest last).
    starts = [360, 348, 335, 322, 310, 298, 287, 275, 262, 250, 240, 228, 216, 205, 194, 182,
              171, 160, 150, 139, 128, 118, 107, 97, 88, 79, 70, 62, 55, 48, 41, 36]  # fmt: skip
    outcomes = [S, M, MIN, M, NONE, S, MIN, M, WORSE, S, MIN, MIN, S, NONE, M, MIN, S, WORSE,
                M, MIN, S, M, MIN]  # fmt: skip
    plans: list[Plan] = []
    outcome_iter = iter(outcomes)
    opioid_cycle = iter(range(100))
    mme_changes = iter(["reduce", "stop", "reduce", "same", "increase", "reduce", "stop",
                        "same", "reduce", "reduce", "stop", "increase"])  # fmt: skip
    for number, days in enumerate(starts):
        site = DENVER if number % 5 not in (1, 3) else CHICAGO
        plan = Plan(number, site, "pain", conditions[number % len(conditions)], days)
        plans.append(plan)
    # Mental-health primary: some depression, some PTSD, with pain measured alongside.
    for number, mh in ((2, DEPRESSION), (7, PTSD), (11, DEPRESSION_SEVERE), (15, DEPRESSION),
                       (19, PTSD), (23, DEPRESSION), (26, DEPRESSION_SEVERE)):  # fmt: skip
        plans[number].kind = "mh"
        plans[number].mh = mh
    # Not ready for ketamine: behavioral health.
    for number in (5, 17, 28):
        plans[number].kind = "bh"
    # Drop-outs.
    for number, after, reason, decision in (
        (4, 1, "moved", "stop"),
        (13, 2, "escort", "stop"),
        (21, 2, "emergence", "behavioral_health"),
        (9, 1, "bp", "stop"),
    ):
        plan = plans[number]
        plan.dropout_after, plan.dropout_reason, plan.dropout_decision = after, reason, decision
        plan.outcome = ""
        if reason == "emergence":
            plan.adverse = "emergence"
        if reason == "bp":
            plan.aborted = True
    phq9_responses = iter([True, False, True, False, False, True, False])
    for plan in plans:
        if plan.kind == "bh" or plan.dropout_after:
            continue
        plan.outcome = next(outcome_iter, MIN)
        if plan.kind == "mh":
            plan.phq9_response = next(phq9_responses)
        plan.mg_per_kg = rng.choice((Decimal("0.5"), Decimal("0.5"), Decimal("0.6"),
                                     Decimal("0.7"), Decimal("0.8")))  # fmt: skip
        if plan.kind == "mh":
            plan.mg_per_kg = rng.choice((Decimal("0.5"), Decimal("0.6"), Decimal("0.75")))
    # A few never answer the reassessment questionnaires.
    for number in (6, 16, 25):
        if plans[number].outcome:
            plans[number].reassessed = False
    # Adverse events in otherwise complete series.
    for number, event in ((1, "nausea"), (8, "hypertension"), (14, "sedation"),
                          (20, "nausea"), (24, "hypertension")):  # fmt: skip
        if not plans[number].dropout_after:
            plans[number].adverse = event
    # About a third on opioids at baseline.
    for plan in plans:
        if (plan.kind != "bh" and plan.number % 3 == 0) or plan.number in (7, 22):
            plan.opioid = next(opioid_cycle) % len(OPIOIDS)
            plan.mme_change = next(mme_changes, "same")
    # Daily diaries for some.
    for plan in plans:
        plan.diary = plan.number % 3 == 1 and plan.kind != "bh"
    # Decisions.
    for plan in plans:
        if plan.kind == "bh" or plan.dropout_after:
            continue
        plan.decide, plan.decide_reason = _decision_for(plan)
        if plan.decide == "continue" and plan.start_days_ago > 75:
            plan.continuation = True
    # The two newest series: one reassessed awaiting the decision, one not yet reassessed.
    plans[-2].decide = ""
    plans[-1].decide, plans[-1].reassessed = "", False
    return plans


def _responder(plan: Plan) -> bool:
    pain_ok = plan.outcome in (S, M)
    return plan.reassessed and (pain_ok or (plan.kind == "mh" and plan.phq9_response))


def _decision_for(plan: Plan) -> tuple[str, str]:
    if not plan.reassessed:
        return "stop", (
            "Not reassessed: did not return the reassessment questionnaires and did not "
            "answer two calls. No further sessions unless the patient asks to be seen."
        )
    if _responder(plan):
        if plan.number in (10, 20):
            return "stop", (
                "Good response, but the patient prefers to pause and see how long it lasts; "
                "will call if the pain returns."
            )
        return "continue", (
            "Meaningful response at reassessment with no serious adverse event; further "
            "sessions case by case as a continuation course, one at a time."
        )
    if plan.number % 2 == 0 or plan.kind == "mh":
        return "behavioral_health", (
            "No meaningful response after the series. Referred to behavioral health for "
            "pain coping skills and psychotherapy; no further ketamine."
        )
    return "stop", (
        "No meaningful response after the series; stopping ketamine. Back to the referring "
        "practice with a letter on other options."
    )


# --- people ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    organization: Organization
    clinics: dict[str, Clinic]
    users: dict[str, User]
    clock: _Clock
    today: date
    fake: Faker
    rng: random.Random
    phones: dict[str, list[str]]
    names: set[tuple[str, str]]
    vials: dict[str, Vial | None] = field(default_factory=dict)
    formulations: dict[str, Formulation] = field(default_factory=dict)
    history_ends: datetime = field(default_factory=timezone.now)
    new_form_from: date | None = None
    deliveries: int = 0
    written: int = 0


def _at(day: date, hour: int, minute: int, clinic: Clinic) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(clinic.time_zone))


def _in_clinic_hours(moment: datetime, plan: Plan, clinic: Clinic) -> datetime:
    """A prescriber's decision on the local day of ``moment``, in the clinic's afternoon."""
    day = moment.astimezone(ZoneInfo(clinic.time_zone)).date()
    return _at(day, 13 + plan.number % 4, (plan.number * 7) % 60, clinic)


def _free_phones(organization: Organization, site: str, rng: random.Random) -> list[str]:
    """Fictional 555-01xx numbers of the site's area codes no demo patient, escort or
    referrer has yet (numbers are stored normalised)."""
    used: set[str] = set()
    for patient in Patient.objects.filter(organization=organization).prefetch_related("escorts"):
        used |= {patient.phone, patient.referring_provider_phone}
        used |= {escort.phone for escort in patient.escorts.all()}
    numbers = [f"({area}) 555-01{line:02d}" for area in AREA_CODES[site] for line in range(1, 100)]
    numbers = [n for n in numbers if normalize_phone(n) not in used]
    rng.shuffle(numbers)
    return numbers


def _register(ctx: Ctx, plan: Plan, clinic: Clinic) -> Patient:
    fake, rng = ctx.fake, ctx.rng
    sex = "female" if rng.random() < 0.6 else "male"
    while True:
        given = str(fake.first_name_female() if sex == "female" else fake.first_name_male())
        family = str(fake.last_name())
        if (given, family) not in ctx.names and given != family:
            break
    ctx.names.add((given, family))
    age = rng.randint(26, 74)
    birth = ctx.today - timedelta(days=age * 365 + rng.randint(10, 350))
    city, postal = rng.choice(TOWNS[plan.site])
    email = f"{given}.{family}{rng.randint(1, 99)}@{fake.safe_domain_name()}".lower().replace(
        "'", ""
    )
    preferred = rng.choice(("sms", "sms", "phone", "email"))
    data: dict[str, Any] = {
        "given_name": given,
        "family_name": family,
        "sex_at_birth": sex,
        "birth_date": birth,
        "phone": ctx.phones[plan.site].pop(),
        "email": email if rng.random() < 0.85 or preferred == "email" else "",
        "preferred_contact": preferred,
        "contact_by_sms": preferred == "sms",
        "contact_by_email": preferred == "email",
        "contact_by_voicemail": rng.random() < 0.6,
        "address_line1": str(fake.street_address()),
        "city": city,
        "state": clinic.state,
        "postal_code": postal,
        "preferred_clinic": clinic,
    }
    if rng.random() < 0.85:
        from ketapath.chart.demo import make_npi

        data.update(
            referring_provider_name=f"{fake.first_name()} {fake.last_name()}, MD",
            referring_provider_practice=rng.choice(PRACTICES[plan.site]),
            referring_provider_phone=ctx.phones[plan.site].pop(),
            referring_provider_npi=make_npi(rng),
        )
    if not data["email"]:
        data["contact_by_email"] = False
        if preferred == "email":
            data["preferred_contact"] = "phone"
    patient = patient_create(
        user=ctx.users[DESK[plan.site]], clinic=clinic, data=data, confirm_not_duplicate=True
    )
    if plan.kind != "bh":
        relation = rng.choice(ESCORT_RELATIONS)
        escort_sex = {"daughter": "female", "sister": "female", "son": "male", "brother": "male"}
        first = (
            fake.first_name_female()
            if escort_sex.get(relation) == "female"
            else fake.first_name_male()
            if escort_sex.get(relation) == "male"
            else fake.first_name()
        )
        kin = relation in ("spouse", "daughter", "son", "sister", "brother")
        escort_add(
            user=ctx.users[DESK[plan.site]],
            patient=patient,
            name=f"{first} {family if kin else fake.last_name()}",
            phone=ctx.phones[plan.site].pop(),
            relation=relation,
        )
    return patient


def _consent(ctx: Ctx, plan: Plan, patient: Patient, clinic: Clinic) -> None:
    consent_record(
        user=ctx.users[NURSE[plan.site]],
        patient=patient,
        clinic=clinic,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name=f"{patient.given_name} {patient.family_name}",
        signed_at=ctx.clock.at,
    )


def _contact_consents(ctx: Ctx, plan: Plan, patient: Patient, clinic: Clinic) -> None:
    """The contact consents the patient gives at registration, by their preferences."""
    for wanted, kind in (
        (patient.contact_by_sms, ConsentKind.SMS_CONTACT),
        (patient.contact_by_email, ConsentKind.EMAIL_CONTACT),
    ):
        if wanted:
            consent_record(
                user=ctx.users[DESK[plan.site]],
                patient=patient,
                clinic=clinic,
                kind=kind,
                signed_by_name=f"{patient.given_name} {patient.family_name}",
                signed_at=ctx.clock.at,
            )


def _consent_current(ctx: Ctx, plan: Plan, patient: Patient, clinic: Clinic) -> None:
    """Re-sign the treatment consent when a newer form version came into force since."""
    state = next(
        s.state
        for s in patient_consent_statuses(patient=patient)
        if s.kind == ConsentKind.KETAMINE_TREATMENT
    )
    if state != "current":
        _consent(ctx, plan, patient, clinic)


# --- measures -------------------------------------------------------------------------------


def _spread(total: int, items: int, top: int) -> dict[str, int]:
    base, extra = divmod(max(0, min(total, items * top)), items)
    return {str(i + 1): base + (1 if i < extra else 0) for i in range(items)}


def _phq9(total: int) -> dict[str, int]:
    answers = _spread(total, 8, 3)
    return answers | {"9": 0, "10": min(3, total // 6)}


def _record(
    ctx: Ctx, plan: Plan, patient: Patient, clinic: Clinic, context: str, values: dict[str, int]
) -> None:
    nurse = ctx.users[NURSE[plan.site]]
    for code, value in values.items():
        if code == "pain-nrs":
            answers: dict[str, int] = {"1": value}
        elif code == "peg":
            answers = {
                "1": value,
                "2": min(10, value + ctx.rng.randint(-1, 1)),
                "3": min(10, max(0, value + ctx.rng.randint(-1, 2))),
            }
        elif code == "phq-9":
            answers = _phq9(value)
        elif code == "gad-7":
            answers = _spread(value, 7, 3)
        else:  # pcl-5
            answers = _spread(value, 20, 4)
        response_record(
            user=nurse,
            patient=patient,
            clinic=clinic,
            instrument_code=code,
            answers=answers,
            context=context,
            collected_at=ctx.clock.at,
        )


def _target_pain(baseline: int, category: str, rng: random.Random) -> int:
    """A whole 0–10 rating whose change from ``baseline`` falls in ``category``."""
    bands = {S: (50, 100), M: (30, 50), MIN: (10, 30), NONE: (0, 10)}
    if category == WORSE:
        return min(10, baseline + rng.choice((1, 1, 2)))
    low, high = bands[category]
    options = [
        v for v in range(0, baseline + 1) if low <= (baseline - v) * 100 / baseline < high
    ] or [baseline]
    return rng.choice(options)


@dataclass
class Numbers:
    """What the story needs to know about its series while it runs."""

    baseline: int
    final: int
    phq9: int = 0
    phq9_final: int = 0
    pcl5: int = 0
    pcl5_final: int = 0
    gad7: int = 0


def _numbers(plan: Plan, rng: random.Random) -> Numbers:
    baseline = rng.randint(6, 9)
    final = _target_pain(baseline, plan.outcome or NONE, rng)
    numbers = Numbers(baseline, final, gad7=rng.randint(3, 9))
    if plan.kind == "mh":
        assert plan.mh is not None
        numbers.phq9 = rng.randint(16, 23) if plan.mh[1] == "phq9" else rng.randint(10, 16)
        if plan.phq9_response:
            numbers.phq9_final = rng.choice((3, 4, numbers.phq9 // 2 - 1, numbers.phq9 // 2 - 2))
        else:
            numbers.phq9_final = numbers.phq9 - rng.randint(1, numbers.phq9 // 3)
        numbers.gad7 = rng.randint(8, 14)
        numbers.pcl5 = rng.randint(44, 58) if plan.mh[1] == "pcl5" else rng.randint(12, 24)
        numbers.pcl5_final = numbers.pcl5 - rng.randint(4, 22)
    else:
        numbers.phq9 = rng.randint(2, 9)
        numbers.phq9_final = max(0, numbers.phq9 - rng.randint(-1, 3))
        numbers.pcl5 = rng.randint(6, 26)
        numbers.pcl5_final = numbers.pcl5
    return numbers


# --- the evaluation ---------------------------------------------------------------------------


def _evaluate(ctx: Ctx, plan: Plan, patient: Patient, clinic: Clinic, n: Numbers) -> Evaluation:
    condition = CONDITIONS[plan.condition]
    rng = ctx.rng
    weight = rng.randint(52, 108)
    screening = Screening(
        phq9=n.phq9,
        gad7=n.gad7,
        pcl5=n.pcl5,
        pain=n.baseline,
        enjoyment=min(10, n.baseline + rng.randint(-1, 1)),
        activity=min(10, n.baseline + rng.randint(-1, 1)),
        systolic=rng.randint(112, 138),
        diastolic=rng.randint(68, 86),
        heart_rate=rng.randint(62, 88),
        weight_kg=weight,
        height_cm=rng.randint(155, 190) if weight > 70 else rng.randint(152, 175),
    )
    extra: dict[str, Any] = {}
    mental: tuple[str, ...] = ()
    resolutions: dict[str, tuple[str, str]] = {}
    if plan.kind == "mh":
        assert plan.mh is not None
        mental, screen, note = plan.mh
        resolutions[screen] = ("confirmed", note)
        if n.gad7 >= 10:
            resolutions["gad7"] = (
                "ruled_out",
                "Worry is about pain and mood; no separate anxiety disorder at interview.",
            )
        if screen == "pcl5" and n.phq9 >= 10:
            resolutions["phq9"] = (
                "ruled_out",
                "Low mood is part of the PTSD; not a separate episode.",
            )
        if screen == "phq9" and n.pcl5 >= 31:
            resolutions["pcl5"] = ("ruled_out", "No index trauma at interview.")
    if plan.kind == "bh":
        extra = {
            "ready_for_ketamine": "no",
            "readiness_note": rng.choice(
                (
                    "Wants to try psychotherapy and pain coping skills first; re-evaluate "
                    "for ketamine in three months.",
                    "Not ready to commit to the visits and an escort for each session; "
                    "starts behavioral-health sessions meanwhile.",
                )
            ),
        }
    case = DemoEvaluation(
        index=plan.number,
        site_staff=STAFF_SUFFIX[plan.site],
        author="director" if plan.number % 4 == 0 else "prescriber",
        days_ago=0,
        screening=screening,
        pain=condition.pain,
        pain_months=condition.months,
        pain_history=condition.history,
        prior=condition.prior,
        mental_health=mental,
        mh_treated=bool(mental),
        resolutions=resolutions,
        extra=extra,
    )
    visit = ctx.clock.at.astimezone(ZoneInfo(clinic.time_zone)).date()
    return _seed_one(case, patient, clinic, ctx.users, visit)


# --- ketamine stock -----------------------------------------------------------------------------


def _stock_people(ctx: Ctx, site: str) -> tuple[User, User]:
    return ctx.users[NURSE[site]], ctx.users[PRESCRIBER[site]]


def _discard(ctx: Ctx, site: str, vial: Vial, at: datetime, reason: str) -> None:
    vial.refresh_from_db()
    if vial.balance_ml <= 0:
        return
    nurse, witness = _stock_people(ctx, site)
    saved = ctx.clock.at
    ctx.clock.at = at
    try:
        ledger.waste(
            user=nurse, witness=witness, vial=vial, ml=vial.balance_ml, reason=reason, at=at
        )
    finally:
        ctx.clock.at = saved


def _still_there(vial: Vial | None) -> Vial | None:
    """The vial as it is now, or None when the step that delivered it was rolled back."""
    if vial is None:
        return None
    return Vial.objects.select_related("clinic").filter(pk=vial.pk).first()


def _vial_for(ctx: Ctx, site: str, at: datetime, need_ml: Decimal) -> Vial:
    """The site's open history vial when it is still usable at ``at`` with enough left;
    otherwise its rest is wasted and a new vial delivered the day before is opened."""
    # A vial delivered in a step the services then refused was rolled back with it.
    vial = _still_there(ctx.vials.get(site))
    if vial is not None:
        unusable = ledger.unusable_reason(vial, at)
        if unusable is None and vial.balance_ml >= need_ml:
            return vial
        if vial.beyond_use_at is not None and vial.beyond_use_at <= at:
            _discard(ctx, site, vial, vial.beyond_use_at - timedelta(hours=1),
                     "Beyond-use date reached; rest of the opened vial discarded.")  # fmt: skip
        else:
            _discard(ctx, site, vial, at - timedelta(minutes=30),
                     "Too little left for the next dose; rest of the vial discarded.")  # fmt: skip
    clinic = ctx.clinics[site]
    nurse, second = _stock_people(ctx, site)
    ctx.deliveries += 1
    received = at - timedelta(days=1)
    saved = ctx.clock.at
    ctx.clock.at = received
    try:
        receipt = ledger.receive(
            user=nurse,
            counted_by=second,
            clinic=clinic,
            delivery=ledger.Delivery(
                formulation=ctx.formulations[site],
                ndc="0143-9508-10",
                product="Ketamine HCl injection 500 mg/10 mL",
                lot=f"{KETAMINE_LOT[site]}{3100 + ctx.deliveries}",
                expiry=received.date() + timedelta(days=400),
                volume_ml=Decimal("10"),
                vials=1,
                supplier="Demo Wholesale Inc.",
                invoice=f"INV-{6000 + ctx.deliveries}",
                received_at=received,
            ),
        )
    finally:
        ctx.clock.at = saved
    vial = Vial.objects.select_related("clinic").get(receipt=receipt)
    ctx.vials[site] = vial
    return vial


# --- one session --------------------------------------------------------------------------------


def _set(ctx: Ctx, at: datetime) -> datetime:
    ctx.clock.at = at
    return at


def _readiness(ctx: Ctx, clinic: Clinic, nurse: User) -> None:
    if session_services.readiness_today(clinic=clinic) is None:
        session_services.readiness_record(
            user=nurse, clinic=clinic, items={key: True for key, _ in READINESS_ITEMS}
        )


def _chart(
    ctx: Ctx, plan: Plan, appointment: Appointment, pain_before: int, event: str, abort: bool
) -> TreatmentSession:
    """Check in, open and chart one session to its signature (or its abort)."""
    clinic = appointment.clinic
    start = appointment.starts_at
    nurse = appointment.nurse or ctx.users[NURSE[plan.site]]
    prescriber = ctx.users[PRESCRIBER[plan.site]]
    people = {"nurse": nurse, "second": prescriber, "prescriber": prescriber,
              "desk": ctx.users[DESK[plan.site]]}  # fmt: skip
    _set(ctx, start - timedelta(minutes=10))
    appointment_set_status(
        user=people["desk"], appointment=appointment, status=Appointment.Status.CHECKED_IN
    )
    _set(ctx, start - timedelta(minutes=5))
    _readiness(ctx, clinic, nurse)
    _set(ctx, start)
    appointment.refresh_from_db()
    session = session_services.session_open(user=nurse, appointment=appointment)
    rng = random.Random(f"{SEED}:{plan.number}:{appointment.sequence}:{appointment.course_id}")  # noqa: S311
    base = ds._baseline(rng, ds.ABORTED if abort else ds.PLAIN)
    base.pain = pain_before
    # Rows the services stamp are already at their own time: nothing to move back.
    far = timezone.now() + timedelta(days=3650)
    chart = ds.Chart(ds._reload(session), people, rng, ds.ABORTED if abort else ds.PLAIN,
                     base, start, far)  # fmt: skip
    if abort:
        _set(ctx, start + timedelta(minutes=28))
        ds._abort(chart)
        return chart.session
    _set(ctx, start + timedelta(minutes=6))
    ds._pre_check(chart, start + timedelta(minutes=6))
    ordered = _set(ctx, start + timedelta(minutes=10))
    session = chart.session
    weight = ds._weight(session.patient, rng)
    need = (weight * session.course.ordered_mg_per_kg / 50 + 1).quantize(Decimal("0.01"))
    vial = _vial_for(ctx, plan.site, ordered + timedelta(minutes=4), need)
    weight = ds._weight_in_range(session, weight, vial.mg_per_ml)
    session_services.dose_order(
        user=prescriber, session=session, weight_kg=weight, vial_id=vial.id,
        weight_change_confirmed=True,
    )  # fmt: skip
    chart.session = ds._reload(session)
    given = _set(ctx, start + timedelta(minutes=14))
    chart.case = ds.NAUSEA if event == "nausea" else ds.PLAIN
    ds._give(chart, given, partial=event == "nausea")
    chart.case = ds.PLAIN
    offsets = ds._offsets(chart.session)
    for offset in offsets:
        _set(ctx, given + timedelta(minutes=offset, seconds=30))
        ds._vitals(chart, [offset], given)
        if offset == 40:
            # Written up once it had settled.
            _adverse(chart, event, given)
    _set(ctx, given + timedelta(minutes=40))
    ds._ratings(chart, given + timedelta(minutes=40))
    discharged = _set(ctx, given + timedelta(minutes=max(offsets[-1], 60) + 4))
    ds._discharge(chart, discharged)
    _set(ctx, discharged + timedelta(minutes=6))
    charting.session_complete(user=nurse, session=chart.session)
    _set(ctx, discharged + timedelta(minutes=6 + rng.randint(20, 90)))
    charting.session_sign(user=prescriber, session=ds._reload(chart.session))
    ctx.written += 1
    return ds._reload(chart.session)


def _adverse(chart: ds.Chart, event: str, given: datetime) -> None:
    nurse = chart.people["nurse"]
    if event == "nausea":
        charting.adverse_event_record(
            user=nurse, session=chart.session, kind=AdverseEvent.Kind.NAUSEA,
            severity=AdverseEvent.Severity.MILD, onset=given + timedelta(minutes=3),
            description="Nauseated during the injection and asked to stop; no vomiting.",
            action="Injection stopped; ondansetron given, settled within 20 minutes.",
            medication="Ondansetron 4 mg ODT, by mouth",
        )  # fmt: skip
    elif event == "hypertension":
        charting.adverse_event_record(
            user=nurse, session=chart.session, kind=AdverseEvent.Kind.HYPERTENSION,
            severity=AdverseEvent.Severity.MILD, onset=given + timedelta(minutes=15),
            description="Blood pressure 168/98 mmHg 15 minutes after the dose, below the "
            "alert level; mild headache.",
            action="Rested with the lights low and rechecked every 5 minutes; back to "
            "baseline by 40 minutes. Prescriber informed.",
        )  # fmt: skip
    elif event == "emergence":
        charting.adverse_event_record(
            user=nurse, session=chart.session, kind=AdverseEvent.Kind.EMERGENCE,
            severity=AdverseEvent.Severity.MODERATE, onset=given + timedelta(minutes=22),
            description="Distressed and disoriented while coming round, said the room was "
            "closing in.",
            action="Nurse at the bedside, lights dimmed, reassurance; settled in 15 minutes "
            "without medication. Discussed with the prescriber before discharge.",
        )  # fmt: skip
    elif event == "sedation":
        charting.adverse_event_record(
            user=nurse, session=chart.session, kind=AdverseEvent.Kind.SEDATION,
            severity=AdverseEvent.Severity.MILD, onset=given + timedelta(minutes=30),
            description="Drowsy and slow to answer at 30 minutes; breathing and oxygen "
            "saturation normal.",
            action="Observed an extra 20 minutes before the discharge assessment.",
        )  # fmt: skip


# --- one patient's year -----------------------------------------------------------------------


class _TooLate(Exception):
    """The slot finder's first proposal runs past the end of the history."""


def _book(ctx: Ctx, course: Course, desk: User, first_day: date) -> list[Appointment]:
    """The front desk books the slot finder's first proposal (a continuation's is one
    session); nothing when it would end after the history's last day."""
    try:
        with transaction.atomic():
            result = slot_proposals(
                user=desk,
                course=course,
                preferences=scheduling_rules.Preferences(first_date=first_day),
            )
            if not result.proposals:
                return []
            proposals_store(course=course, result=result)
            course.refresh_from_db()
            choices = proposal_choices(course=course, index=0)
            booked = course_book(user=desk, course=course, choices=choices)
            if booked[-1].ends_at > ctx.history_ends:
                raise _TooLate
            return booked
    except _TooLate:
        course.refresh_from_db()
        return []


def _story(ctx: Ctx, plan: Plan) -> Iterator[datetime]:
    """One patient's year, as a generator of the moments it acts at."""
    clinic = ctx.clinics[plan.site]
    rng = random.Random(f"{SEED}:{plan.number}")  # noqa: S311 - fictional demo data
    desk = ctx.users[DESK[plan.site]]
    prescriber = ctx.users[PRESCRIBER[plan.site]]
    visit = ctx.today - timedelta(days=plan.start_days_ago)
    while visit.weekday() >= 5:
        visit -= timedelta(days=1)
    n = _numbers(plan, rng)
    yield _at(visit, 8, 40 + plan.number % 15, clinic)
    patient = _register(ctx, plan, clinic)
    _set(ctx, _at(visit, 9, 5, clinic))
    _consent(ctx, plan, patient, clinic)
    _contact_consents(ctx, plan, patient, clinic)
    opioid: Medication | None = None
    if plan.opioid is not None:
        _set(ctx, _at(visit, 9, 20, clinic))
        opioid = medication_add(
            user=prescriber,
            patient=patient,
            clinic=clinic,
            data={
                **OPIOIDS[plan.opioid],
                "start_date": visit - timedelta(days=rng.randint(200, 900)),
                "prescriber": patient.referring_provider_name or "Outside prescriber",
            },
        )
    _set(ctx, _at(visit, 11, 40, clinic))
    evaluation = _evaluate(ctx, plan, patient, clinic, n)
    if plan.kind == "bh":
        return
    ordered = _set(ctx, _at(visit, 12, 30, clinic))
    mg_per_kg = plan.mg_per_kg
    weight = ds._weight(patient, random.Random(0))  # noqa: S311 - fictional demo data
    # The prescriber keeps the dose under the template's cap for a heavier patient.
    while weight * mg_per_kg > MAX_DOSE_MG and mg_per_kg > Decimal("0.5"):
        mg_per_kg -= Decimal("0.1")
    course = course_create(
        user=prescriber, patient=patient, clinic=clinic, evaluation=evaluation,
        ordered_mg_per_kg=mg_per_kg,
    )  # fmt: skip
    _set(ctx, ordered + timedelta(minutes=40))
    booked = _book(ctx, course, desk, visit + timedelta(days=rng.randint(4, 12)))
    if not booked:
        return
    sessions = len(booked)
    signed: list[TreatmentSession] = []
    pains = [
        round(n.baseline + (n.final - n.baseline) * k / max(1, sessions - 1) * 0.8)
        for k in range(sessions)
    ]
    pains[0] = n.baseline
    for k, appointment in enumerate(booked):
        if plan.dropout_after and k == plan.dropout_after and not plan.aborted:
            yield appointment.starts_at - timedelta(days=1, hours=3)
            _drop_out(ctx, plan, course, booked[k:], prescriber)
            return
        yield appointment.starts_at - timedelta(minutes=40)
        _consent_current(ctx, plan, patient, clinic)
        values = {"pain-nrs": pains[k], "peg": pains[k]}
        if plan.kind == "mh":
            assert plan.mh is not None
            code = "phq-9" if plan.mh[1] == "phq9" else "pcl-5"
            start, end = (n.phq9, n.phq9_final) if code == "phq-9" else (n.pcl5, n.pcl5_final)
            values[code] = round(start + (end - start) * k / sessions)
        _record(ctx, plan, patient, clinic, "pre_session", values)
        yield appointment.starts_at - timedelta(minutes=10)
        abort = plan.aborted and k == plan.dropout_after
        event = plan.adverse if k == (1 if sessions > 1 else 0) else ""
        if plan.adverse == "emergence" and plan.dropout_after:
            event = "emergence" if k == plan.dropout_after - 1 else ""
        session = _chart(ctx, plan, appointment, pains[k], event, abort)
        if abort:
            _set(ctx, appointment.starts_at + timedelta(hours=3))
            _drop_out(ctx, plan, course, booked[k + 1 :], prescriber)
            return
        signed.append(session)
    last_given = signed[-1].given_at
    assert last_given is not None
    if plan.diary:
        _diary(ctx, plan, patient, clinic, course, signed, n)
    if plan.opioid is not None and opioid is not None:
        yield last_given + timedelta(days=rng.randint(2, 5))
        _mme_change(ctx, plan, opioid, clinic, prescriber)
    reassessed_at = last_given + timedelta(days=7 + rng.randint(-2, 2), hours=rng.randint(-3, 5))
    if plan.reassessed:
        yield reassessed_at
        values = {"pain-nrs": n.final, "peg": n.final, "phq-9": n.phq9_final}
        if plan.kind == "mh":
            values |= {"pcl-5": n.pcl5_final, "gad-7": max(0, n.gad7 - rng.randint(0, 5))}
        _consent_current(ctx, plan, patient, clinic)
        _record(ctx, plan, patient, clinic, "reassessment", values)
    if not plan.decide:
        return
    decided = _in_clinic_hours(reassessed_at + timedelta(days=rng.randint(1, 4)), plan, clinic)
    yield decided
    course.refresh_from_db()
    record = course_decide(
        user=prescriber, course=course, decision=plan.decide, rationale=plan.decide_reason,
        benefit=_benefit(n) if plan.decide == "continue" else "", now=decided,
    )  # fmt: skip
    if record.continuation is None:
        return
    if plan.continuation:
        yield from _continuation(ctx, plan, record.continuation, decided, n, rng)
    # Patients still in care sign the treatment form's new version at their next contact.
    form = ctx.new_form_from
    if form is not None:
        contact = max(
            ctx.clock.at + timedelta(days=1),
            datetime.combine(
                form + timedelta(days=rng.randint(3, 30)),
                time(10),
                tzinfo=ZoneInfo(clinic.time_zone),
            ),
        )
        if contact < ctx.history_ends:
            yield contact
            _consent_current(ctx, plan, patient, clinic)


def _continuation(
    ctx: Ctx,
    plan: Plan,
    continuation: Course,
    decided: datetime,
    n: Numbers,
    rng: random.Random,
) -> Iterator[datetime]:
    """One continuation session, its reassessment a week later and (mostly) the review."""
    clinic = ctx.clinics[plan.site]
    patient = continuation.patient
    desk = ctx.users[DESK[plan.site]]
    prescriber = ctx.users[PRESCRIBER[plan.site]]
    yield decided + timedelta(hours=2)
    first_day = (decided + timedelta(days=rng.randint(21, 42))).date()
    booked = _book(ctx, continuation, desk, first_day)
    if not booked:
        return
    appointment = booked[0]
    yield appointment.starts_at - timedelta(minutes=40)
    _consent_current(ctx, plan, patient, clinic)
    held = min(10, n.final + rng.choice((0, 0, 1)))
    _record(ctx, plan, patient, clinic, "pre_session", {"pain-nrs": held, "peg": held})
    yield appointment.starts_at - timedelta(minutes=10)
    session = _chart(ctx, plan, appointment, held, "", False)
    assert session.given_at is not None
    after = session.given_at + timedelta(days=7, hours=rng.randint(-4, 4))
    if after > ctx.history_ends:
        return
    yield after
    later = min(10, held + rng.choice((-1, 0, 0, 1)))
    _record(ctx, plan, patient, clinic, "reassessment", {"pain-nrs": later, "peg": later})
    review = _in_clinic_hours(after + timedelta(days=rng.randint(2, 6)), plan, clinic)
    recent = review > ctx.history_ends - timedelta(days=21)
    if review > ctx.history_ends or (recent and plan.number % 4 == 1):
        return  # this continuation's review is still to come
    yield review
    continuation.refresh_from_db()
    course_decide(
        user=prescriber, course=continuation, decision="stop",
        rationale="Benefit holding after the continuation session; no further session booked "
        "for now. The patient will call if the pain returns.", now=review,
    )  # fmt: skip


def _benefit(n: Numbers) -> str:
    return (
        f"Average pain {n.baseline}/10 before the series and {n.final}/10 at reassessment; "
        "sleeping better and back to part of the usual activity."
    )


def _drop_out(
    ctx: Ctx, plan: Plan, course: Course, remaining: list[Appointment], prescriber: User
) -> None:
    """The patient leaves the series: the sessions still booked are cancelled (by the front
    desk, directly, so no replacement is sought) and the prescriber records the stop."""
    reason = DROPOUTS[plan.dropout_reason]
    desk = ctx.users[DESK[plan.site]]
    for appointment in remaining:
        appointment.refresh_from_db()
        if appointment.status == Appointment.Status.BOOKED:
            appointment_set_status(
                user=desk,
                appointment=appointment,
                status=Appointment.Status.CANCELLED,
                reason=f"Patient left the series. {reason}",
            )
    course.refresh_from_db()
    course_decide(
        user=prescriber,
        course=course,
        decision=plan.dropout_decision,
        rationale=reason,
        now=ctx.clock.at,
    )
    # The prescriber's decision answers the booking service's "no replacement fits" flag.
    Course.objects.filter(pk=course.pk).update(flag="")


def _mme_change(ctx: Ctx, plan: Plan, opioid: Medication, clinic: Clinic, prescriber: User) -> None:
    today = ctx.clock.at.astimezone(ZoneInfo(clinic.time_zone)).date()
    if plan.mme_change == "stop":
        medication_stop(
            user=prescriber, medication=opioid, clinic=clinic, stop_date=today,
            reason="Tapered off with the referring prescriber after the series; pain manageable.",
        )  # fmt: skip
    elif plan.mme_change in ("reduce", "increase"):
        field_name = "dose_mcg_per_hr" if opioid.dose_mcg_per_hr is not None else "doses_per_day"
        current = getattr(opioid, field_name)
        if plan.mme_change == "reduce":
            new = (
                (current / 2).quantize(Decimal("1"), ROUND_HALF_UP)
                if field_name == "doses_per_day"
                else Decimal(12)
            )
        else:
            new = current + (1 if field_name == "doses_per_day" else Decimal(12))
        medication_update(user=prescriber, medication=opioid, clinic=clinic, data={field_name: new})


def _diary(
    ctx: Ctx,
    plan: Plan,
    patient: Patient,
    clinic: Clinic,
    course: Course,
    signed: list[TreatmentSession],
    n: Numbers,
) -> None:
    """A daily pain diary from the first session to a week after the last (most days)."""
    zone = ZoneInfo(clinic.time_zone)
    first = signed[0].given_at
    last = signed[-1].given_at
    assert first is not None and last is not None
    day = first.astimezone(zone).date()
    end = last.astimezone(zone).date() + timedelta(days=7)
    total = max(1, (end - day).days)
    rows = []
    rng = random.Random(f"{SEED}:diary:{plan.number}")  # noqa: S311 - fictional demo data
    k = 0
    while day <= end:
        if rng.random() < 0.85:
            pain = round(n.baseline + (n.final - n.baseline) * k / total) + rng.randint(-1, 1)
            pain = max(0, min(10, pain))
            rescue = pain >= 7 and rng.random() < 0.5
            recorded = datetime.combine(day, time(20, rng.randint(0, 59)), tzinfo=zone)
            rows.append(
                DiaryEntry(
                    patient=patient,
                    clinic=clinic,
                    course_id=course.id,
                    day=day,
                    pain=pain,
                    rescue_medication=rescue,
                    rescue_detail="Extra dose of the usual medicine" if rescue else "",
                    note=rng.choice(
                        ("", "", "", "Slept badly.", "Walked the dog.", "Busy day at work.")
                    ),
                    recorded_at=recorded,
                    created_at=recorded,
                    updated_at=recorded,
                )
            )
        day += timedelta(days=1)
        k += 1
    DiaryEntry.objects.bulk_create(rows)


# --- entry points -----------------------------------------------------------------------------


def history_patients(organization: Organization) -> QuerySet[Patient]:
    """The patients the history added: those after the demo's first registrations."""
    first = Patient.objects.filter(organization=organization).order_by("mrn")
    ids = list(first.values_list("id", flat=True)[BASE_PATIENTS:])
    return Patient.objects.filter(id__in=ids)


def history_present(organization: Organization) -> bool:
    return Patient.objects.filter(organization=organization).count() > BASE_PATIENTS


def seed_history(*, organization: Organization, users: dict[str, User], today: date) -> int:
    """Replay the year's history patients; returns how many sessions were signed. Runs only
    against the real date (its services check the clock) and after the pharmacy seed."""
    if timezone.localdate() != today:
        return 0
    clinics = {c.name: c for c in Clinic.objects.filter(organization=organization)}
    if set(clinics) != {DENVER, CHICAGO}:
        return 0
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    rng = random.Random(SEED + 1)  # noqa: S311 - fictional demo data
    names = set(
        Patient.objects.filter(organization=organization).values_list("given_name", "family_name")
    )
    real_now = timezone.now()
    zone = ZoneInfo(clinics[DENVER].time_zone)
    ctx = Ctx(
        history_ends=datetime.combine(
            real_now.astimezone(zone).date() - timedelta(days=3), time(6), tzinfo=zone
        ),
        organization=organization,
        clinics=clinics,
        users=users,
        clock=_Clock(),
        today=today,
        fake=fake,
        rng=rng,
        phones={site: _free_phones(organization, site, rng) for site in clinics},
        names=names,
        new_form_from=ConsentDocument.objects.filter(
            organization=organization, kind=ConsentKind.KETAMINE_TREATMENT
        )
        .order_by("-version")
        .values_list("effective_from", flat=True)
        .first(),
    )
    for site, clinic in clinics.items():
        formulation = Formulation.objects.filter(
            clinic=clinic, substance=Substance.KETAMINE, enabled=True
        ).first()
        if formulation is None:
            return 0
        ctx.formulations[site] = formulation
    with transaction.atomic(), _replay(ctx.clock):
        queue: list[tuple[datetime, int, Iterator[datetime]]] = []
        for plan in _plans():
            story = _story(ctx, plan)
            first = next(story, None)
            if first is not None:
                heapq.heappush(queue, (first, plan.number, story))
        sent_through: date | None = None
        while queue:
            moment, number, story = heapq.heappop(queue)
            if sent_through is None or moment.date() > sent_through:
                # The outbox sends what fell due, day by day, as its periodic task did.
                ctx.clock.at = moment
                with _in_memory_channels():
                    send_due(now=moment, limit=10_000)
                sent_through = moment.date()
            ctx.clock.at = moment
            try:
                with transaction.atomic():
                    following = next(story, None)
            except (Conflict, InvalidInput, Forbidden):
                # A step the services refuse ends that patient's story where it stands.
                following = None
            if following is not None:
                heapq.heappush(queue, (max(following, moment), number, story))
        ctx.clock.at = ctx.history_ends
        with _in_memory_channels():
            send_due(now=ctx.history_ends, limit=10_000)
        # The rest of each site's last history vial is discarded at its beyond-use date,
        # or the day before yesterday, so none is held at the day's count.
        for site, kept in ctx.vials.items():
            vial = _still_there(kept)
            if vial is None:
                continue
            zone = ZoneInfo(vial.clinic.time_zone)
            cutoff = datetime.combine(
                real_now.astimezone(zone).date() - timedelta(days=2), time(17, 15), tzinfo=zone
            )
            end = vial.beyond_use_at - timedelta(hours=1) if vial.beyond_use_at else cutoff
            reason = (
                "Beyond-use date reached; rest of the opened vial discarded."
                if end <= cutoff
                else "Stopper cored at the last draw; vial taken out of use and the rest discarded."
            )
            _discard(ctx, site, vial, min(end, cutoff), reason)
    return ctx.written
