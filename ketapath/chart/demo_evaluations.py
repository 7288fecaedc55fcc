"""Demo evaluations: signed evaluations of the demo patients on all four pathways, and one
draft a positive screen still blocks.

Every evaluation is written as a site's staff would write it: the nurse records the
screening (PHQ-9, GAD-7, PCL-5), baseline pain (0–10 average over the past week, and PEG),
blood pressure and weight and asks about allergies; a prescriber or the medical director
drafts and signs through ``ketapath.evaluations.services``. The cases are varied on
purpose, not only tidy successes: positive screens confirmed and one ruled out, relative
contraindications with their mitigation, an absolute one, a patient not ready, active
substance use, overrides with a reason, an addendum, an evaluation past its validity and a
draft waiting on an unresolved screen.

Codes are the ICD-10-CM codes of clinical.md §4.1; contraindications and the ECG advice
are clinical.md §1.1 and §1.4; the blood-pressure rule quoted in one mitigation is the
clinic default of clinical.md §5. Patients are picked by their position in MRN order;
the patient with the open PHQ-9 item 9 alert (``demo_measures.ITEM9_INDEX``) is never
evaluated.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Organization
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.errors import Conflict, InvalidInput
from ketapath.core.timeutils import age_on
from ketapath.evaluations import selectors, services
from ketapath.evaluations.models import Evaluation
from ketapath.observations.models import Observation
from ketapath.observations.selectors import latest_vitals
from ketapath.observations.services import observations_record
from ketapath.patients.models import Pathway, Patient
from ketapath.patients.selectors import patient_allergies, patient_get_for_user
from ketapath.patients.services import allergy_none_known
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.services import response_record

# The nurse screens at 09:30 on the visit day, the evaluation is opened at 10:00 and
# signed in the 11 o'clock hour.
SCREENING_HOUR = 9
SIGNING_HOUR = 11
# Below this many days ago a visit's screening is still recent when the evaluation is
# signed through the service (selectors.RECENT_DAYS); older visits are moved back after.
RECENT_VISIT_DAYS = selectors.RECENT_DAYS - 2


@dataclass(frozen=True)
class Screening:
    """What the nurse measured at the visit. Totals are spread over the items; PHQ-9
    item 9 is always answered 0 so no new safety alert is raised."""

    phq9: int
    gad7: int
    pcl5: int
    pain: int
    enjoyment: int
    activity: int
    systolic: int
    diastolic: int
    heart_rate: int
    # Used only when the patient has no weight or height on file yet.
    weight_kg: int = 78
    height_cm: int = 172


@dataclass(frozen=True)
class DemoEvaluation:
    """One demo evaluation. ``pain`` and ``mental_health`` list (catalogue key, code) and
    ICD-10-CM codes, primary first; ``present`` maps contraindication keys answered yes to
    their mitigation; ``extra`` holds other evaluation fields, a date field given as days
    before the visit."""

    index: int
    site_staff: str  # "" for Denver logins, "2" for Chicago ones
    author: str  # "prescriber" | "director" | "nurse"
    days_ago: int
    screening: Screening
    pain: tuple[tuple[str, str], ...]
    pain_months: int
    pain_history: str
    prior: tuple[tuple[str, str, str], ...]
    mental_health: tuple[str, ...] = ()
    mh_treated: bool = False
    resolutions: dict[str, tuple[str, str]] = field(default_factory=dict)
    present: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    pregnant: bool = False
    # Signing: accept the proposal, or choose ``pathway`` with ``override_reason``.
    pathway: str = ""
    override_reason: str = ""
    addendum: str = ""
    draft: bool = False


NO_SUBSTANCE_USE = {
    "alcohol_use": "within_limits",
    "nonmedical_drug_use": "no",
    "ketamine_use": "no",
    "pcp_use": "no",
    "misuse_suspected": "no",
    "substance_use_disorder_active": "no",
    "cardiovascular_risk": "no",
    "liver_risk": "no",
}

CASES: tuple[DemoEvaluation, ...] = (
    # Denver -------------------------------------------------------------------------------
    DemoEvaluation(
        index=1,
        site_staff="",
        author="prescriber",
        days_ago=12,
        screening=Screening(4, 3, 9, 7, 7, 6, 134, 78, 70),
        pain=(("crps", "G90.511"),),
        pain_months=26,
        pain_history=(
            "Burning pain, swelling and colour change of the right hand since a wrist "
            "fracture two years ago; cannot tolerate a sleeve touching the forearm."
        ),
        prior=(
            ("Hand therapy with graded motor imagery", "partial", "Still doing home exercises."),
            ("Gabapentin", "not_tolerated", "Dizziness at 900 mg a day."),
            ("Stellate ganglion blocks, three", "helped_then_faded", "Relief for about 2 weeks."),
        ),
    ),
    DemoEvaluation(
        index=5,
        site_staff="",
        author="director",
        days_ago=9,
        screening=Screening(17, 15, 14, 6, 7, 7, 126, 80, 76),
        pain=(("lupus", "M32.9"),),
        pain_months=84,
        pain_history="Joint and muscle pain with lupus, worse in flares, daily for seven years.",
        prior=(
            ("Hydroxychloroquine", "partial", ""),
            ("Sertraline", "partial", "On 100 mg for two years."),
            ("Cognitive behavioural therapy, 12 sessions", "helped_then_faded", ""),
        ),
        mental_health=("F33.1", "F41.1"),
        mh_treated=True,
        resolutions={
            "phq9": (
                "confirmed",
                "Recurrent major depression, moderate, confirmed at interview; third episode.",
            ),
            "gad7": ("confirmed", "Generalized anxiety disorder confirmed at interview."),
        },
    ),
    DemoEvaluation(
        index=9,
        site_staff="",
        author="prescriber",
        days_ago=18,
        screening=Screening(6, 11, 12, 8, 8, 7, 128, 84, 74),
        pain=(("low_back_pain", "M54.50"), ("low_back_pain", "G89.29")),
        pain_months=60,
        pain_history="Constant low back pain for five years after lifting at work; no leg pain.",
        prior=(
            ("Physical therapy, 8 weeks", "partial", ""),
            ("Lumbar epidural steroid injections, two", "helped_then_faded", ""),
            ("Duloxetine", "not_tolerated", "Nausea."),
            ("Lumbar medial branch radiofrequency ablation", "no_benefit", ""),
        ),
        resolutions={
            "gad7": (
                "ruled_out",
                "Worry is about pain and keeping his job; does not meet criteria for "
                "generalized anxiety disorder at interview.",
            ),
        },
        addendum=(
            "Records from the referring practice arrived after signing: last spring's lumbar "
            "MRI reports multilevel disc degeneration without nerve-root compression. This "
            "does not change the pathway."
        ),
    ),
    DemoEvaluation(
        index=10,
        site_staff="",
        author="director",
        days_ago=6,
        screening=Screening(15, 9, 49, 7, 8, 6, 122, 76, 82),
        pain=(("phantom_limb_pain", "G54.6"),),
        pain_months=58,
        pain_history=(
            "Cramping and shooting pain in the missing left foot since a below-knee "
            "amputation after a road crash five years ago."
        ),
        prior=(
            ("Mirror therapy", "partial", ""),
            ("Pregabalin", "partial", ""),
            ("Prolonged exposure therapy", "unknown", "Stopped after 4 sessions when he moved."),
        ),
        mental_health=("F43.12", "F33.1"),
        mh_treated=True,
        resolutions={
            "pcl5": ("confirmed", "Chronic PTSD after the crash, confirmed at interview."),
            "phq9": ("confirmed", "Recurrent major depression, moderate."),
        },
    ),
    # Three Denver pain-series patients whose first session is today (demo_today).
    DemoEvaluation(
        index=4,
        site_staff="",
        author="prescriber",
        days_ago=11,
        screening=Screening(6, 5, 14, 8, 7, 8, 124, 78, 72),
        pain=(("trigeminal_neuralgia", "G50.0"),),
        pain_months=40,
        pain_history=(
            "Electric-shock pain in the right cheek and jaw, set off by chewing and cold "
            "wind, for over three years; dreads eating in public."
        ),
        prior=(
            ("Carbamazepine", "not_tolerated", "Rash and unsteadiness at 600 mg a day."),
            ("Oxcarbazepine", "partial", "Still taking 300 mg twice a day."),
            ("Microvascular decompression", "unknown", "Offered; declined surgery for now."),
        ),
    ),
    DemoEvaluation(
        index=7,
        site_staff="",
        author="prescriber",
        days_ago=13,
        screening=Screening(8, 6, 16, 7, 6, 7, 118, 76, 78),
        pain=(("chronic_pancreatitis", "K86.1"),),
        pain_months=50,
        pain_history=(
            "Constant upper abdominal pain boring through to the back for four years, "
            "with flares after meals; no alcohol for three years."
        ),
        prior=(
            ("Pancreatic enzyme replacement", "partial", ""),
            ("Coeliac plexus block", "helped_then_faded", "About six weeks of relief."),
            ("Pregabalin", "no_benefit", ""),
        ),
    ),
    DemoEvaluation(
        index=11,
        site_staff="",
        author="director",
        days_ago=8,
        screening=Screening(5, 3, 10, 7, 7, 6, 130, 84, 70),
        pain=(("cipn", "G62.0"), ("cipn", "T45.1X5S")),
        pain_months=20,
        pain_history=(
            "Burning and numbness in both feet since chemotherapy for breast cancer ended "
            "last year; walking on gravel is unbearable."
        ),
        prior=(
            ("Duloxetine", "partial", "On 60 mg a day."),
            ("Topical capsaicin 8 % patch", "no_benefit", ""),
            ("Physical therapy for balance", "helped", ""),
        ),
    ),
    DemoEvaluation(
        index=12,
        site_staff="",
        author="prescriber",
        days_ago=15,
        screening=Screening(18, 8, 20, 7, 8, 8, 118, 74, 80),
        pain=(("chronic_pain_syndrome", "G89.4"),),
        pain_months=96,
        pain_history="Widespread pain for eight years with poor sleep; off work for two years.",
        prior=(
            ("Spinal cord stimulator trial", "no_benefit", ""),
            ("Amitriptyline", "not_tolerated", "Daytime sedation."),
            ("Pain psychology group", "helped", ""),
        ),
        mental_health=("F32.1",),
        mh_treated=True,
        resolutions={
            "phq9": ("confirmed", "Major depressive episode, moderate, confirmed at interview."),
        },
        extra={
            "ready_for_ketamine": "no",
            "readiness_note": (
                "Wants to start psychotherapy and talk it over with her family before "
                "deciding about ketamine; re-evaluate in three months."
            ),
        },
    ),
    DemoEvaluation(
        index=14,
        site_staff="",
        author="prescriber",
        days_ago=4,
        screening=Screening(7, 17, 22, 8, 7, 8, 130, 82, 78),
        pain=(("low_back_pain", "M54.16"), ("low_back_pain", "G89.29")),
        pain_months=30,
        pain_history="Low back pain radiating down the left leg for two and a half years.",
        prior=(
            ("Physical therapy", "partial", ""),
            ("Transforaminal epidural steroid injection", "helped_then_faded", ""),
            ("Buspirone", "no_benefit", ""),
        ),
        mental_health=("F41.1",),
        mh_treated=True,
        resolutions={
            "gad7": ("confirmed", "Generalized anxiety disorder confirmed at interview."),
        },
        pathway=Pathway.BEHAVIORAL_HEALTH,
        override_reason=(
            "No protocol template covers generalized anxiety disorder. He prefers to start "
            "cognitive behavioural therapy first; re-evaluate for the pain series after "
            "12 weeks of therapy."
        ),
    ),
    DemoEvaluation(
        index=21,
        site_staff="",
        author="director",
        days_ago=21,
        screening=Screening(5, 7, 10, 6, 6, 5, 136, 82, 68),
        pain=(("cipn", "G62.0"), ("cipn", "T45.1X5A")),
        pain_months=28,
        pain_history=(
            "Numbness and burning in both feet and hands since chemotherapy for colon "
            "cancer, finished two years ago; in remission."
        ),
        prior=(
            ("Gabapentin", "partial", ""),
            ("Duloxetine", "not_tolerated", "Insomnia."),
            ("Topical capsaicin", "no_benefit", ""),
        ),
        extra={
            "cardiovascular_risk": "yes",
            "ecg_result": "normal",
            "ecg_date": 3,
            "ecg_note": "Hypertension controlled on lisinopril; sinus rhythm, no ischaemic change.",
        },
    ),
    DemoEvaluation(
        index=13,
        site_staff="",
        author="director",
        days_ago=25,
        screening=Screening(8, 6, 15, 8, 8, 7, 132, 80, 72, weight_kg=88, height_cm=178),
        pain=(("chronic_pain_syndrome", "G89.0"),),
        pain_months=38,
        pain_history="Burning pain of the left side of the body since a right thalamic bleed.",
        prior=(
            ("Amitriptyline", "partial", ""),
            ("Lamotrigine", "no_benefit", ""),
            ("Pregabalin", "not_tolerated", "Swollen ankles."),
        ),
        present={
            "intracerebral_haemorrhage": (
                "Right thalamic haemorrhage three years ago. Referred back to his neurologist."
            ),
        },
        # Risk noted; with an absolute contraindication the ECG is not taken further.
        extra={"cardiovascular_risk": "yes"},
    ),
    DemoEvaluation(
        index=22,
        site_staff="",
        author="prescriber",
        days_ago=118,  # signed more than 90 days ago: no longer valid for a new course
        screening=Screening(6, 5, 11, 7, 7, 6, 124, 78, 66, weight_kg=84, height_cm=180),
        pain=(("migraine", "G43.709"),),
        pain_months=40,
        pain_history="Headache on 16 to 20 days a month for over three years.",
        prior=(
            ("Topiramate", "not_tolerated", "Word-finding difficulty."),
            ("Propranolol", "no_benefit", ""),
            ("OnabotulinumtoxinA, four cycles", "partial", ""),
        ),
    ),
    # Chicago ------------------------------------------------------------------------------
    DemoEvaluation(
        index=34,
        site_staff="2",
        author="prescriber",
        days_ago=3,
        screening=Screening(3, 4, 8, 8, 7, 6, 118, 72, 70),
        pain=(("trigeminal_neuralgia", "G50.0"),),
        pain_months=20,
        pain_history="Electric-shock pain of the right cheek and jaw set off by eating and wind.",
        prior=(
            ("Carbamazepine", "not_tolerated", ""),
            ("Oxcarbazepine", "partial", ""),
            ("Neurosurgical opinion", "unknown", "Declined microvascular decompression for now."),
        ),
    ),
    DemoEvaluation(
        index=38,
        site_staff="2",
        author="director",
        days_ago=8,
        screening=Screening(9, 14, 44, 6, 7, 6, 120, 78, 84),
        pain=(("rheumatoid_arthritis", "M05.79"),),
        pain_months=72,
        pain_history="Hand, wrist and knee pain with seropositive rheumatoid arthritis.",
        prior=(
            ("Methotrexate", "partial", ""),
            ("Adalimumab", "helped", ""),
            ("Trauma-focused cognitive behavioural therapy", "helped_then_faded", ""),
        ),
        mental_health=("F43.12", "F41.1"),
        mh_treated=True,
        resolutions={
            "pcl5": ("confirmed", "Chronic PTSD confirmed at interview."),
            "gad7": ("confirmed", "Generalized anxiety disorder, secondary to the PTSD."),
        },
    ),
    DemoEvaluation(
        index=28,
        site_staff="2",
        author="prescriber",
        days_ago=11,
        screening=Screening(7, 6, 14, 7, 7, 8, 138, 86, 88),
        pain=(("chronic_pancreatitis", "K86.0"),),
        pain_months=44,
        pain_history="Upper abdominal pain through to the back, worse after meals.",
        prior=(
            ("Pancreatic enzyme replacement", "partial", ""),
            ("Coeliac plexus block", "helped_then_faded", ""),
            ("Oxycodone", "partial", ""),
        ),
        present={
            "substance_use_disorder": (
                "Drinking daily. No serial ketamine while the alcohol use is active; referred "
                "to addiction medicine, re-evaluate after treatment."
            ),
        },
        extra={
            "alcohol_use": "hazardous",
            "misuse_suspected": "yes",
            "substance_use_disorder_active": "yes",
            "substance_use_note": "Six to eight drinks most days; no other drugs.",
            "urine_tox_result": "positive",
            "urine_tox_date": 0,
            "urine_tox_note": "Alcohol metabolite positive; oxycodone present, as prescribed.",
            "liver_risk": "yes",
            "lft_result": "abnormal",
            "lft_date": 1,
            "lft_note": "Transaminases mildly raised; bilirubin normal.",
        },
    ),
    DemoEvaluation(
        index=26,
        site_staff="2",
        author="director",
        days_ago=16,
        screening=Screening(4, 9, 10, 8, 8, 7, 128, 76, 72),
        pain=(("fibromyalgia", "M79.7"),),
        pain_months=120,
        pain_history="Widespread pain, fatigue and unrefreshing sleep for ten years.",
        prior=(
            ("Duloxetine", "partial", ""),
            ("Graded exercise programme", "partial", ""),
            ("Cyclobenzaprine at night", "helped", ""),
            ("Pregabalin", "not_tolerated", "Weight gain."),
        ),
        mental_health=("F33.42",),
        mh_treated=True,
        pathway=Pathway.PAIN_SERIES,
        override_reason=(
            "Depression has been in full remission for two years on maintenance treatment "
            "with her psychiatrist, who agrees. The target is the fibromyalgia pain; PHQ-9 is "
            "repeated at every session."
        ),
    ),
    DemoEvaluation(
        index=36,
        site_staff="2",
        author="prescriber",
        days_ago=2,
        screening=Screening(5, 8, 12, 7, 6, 6, 152, 94, 80, weight_kg=96, height_cm=176),
        pain=(("neuropathy", "E11.42"),),
        pain_months=48,
        pain_history="Burning feet at night with type 2 diabetes for four years.",
        prior=(
            ("Gabapentin", "partial", ""),
            ("Duloxetine", "helped_then_faded", ""),
            ("Lidocaine 5% patches", "no_benefit", ""),
        ),
        present={
            # The pre-dose hold is the clinic default of clinical.md §5.
            "cardiovascular_disease": (
                "Hypertension above goal (152/94 today) on two medicines; primary care is "
                "adjusting treatment. Baseline ECG normal. Blood pressure checked before each "
                "session; dose held and the prescriber asked at 160/100 or above."
            ),
        },
        extra={
            "cardiovascular_risk": "yes",
            "ecg_result": "normal",
            "ecg_date": 0,
            "ecg_note": "Sinus rhythm; no ischaemic change.",
        },
    ),
    DemoEvaluation(
        index=24,
        site_staff="2",
        author="prescriber",
        days_ago=7,
        screening=Screening(6, 7, 10, 7, 6, 6, 112, 70, 84, weight_kg=64, height_cm=165),
        pain=(("migraine", "G43.109"),),
        pain_months=34,
        pain_history="Migraine with visual aura on about ten days a month.",
        prior=(
            ("Sumatriptan", "helped", ""),
            ("Propranolol", "not_tolerated", "Tiredness."),
            ("Amitriptyline", "partial", ""),
        ),
        present={"pregnancy": "About eight weeks. Referred back to her obstetric team."},
        pregnant=True,
    ),
    # The draft: the nurse has filled it in, but this morning's PHQ-9 of 14 is a positive
    # screen nobody has yet confirmed or ruled out, so it cannot be signed.
    DemoEvaluation(
        index=15,
        site_staff="",
        author="nurse",
        days_ago=0,
        screening=Screening(14, 8, 16, 7, 7, 7, 126, 80, 76),
        pain=(("neuropathy", "G62.9"),),
        pain_months=32,
        pain_history="Burning and tingling of both feet for nearly three years.",
        prior=(
            ("Gabapentin", "partial", ""),
            ("Nortriptyline", "not_tolerated", "Dry mouth."),
        ),
        draft=True,
    ),
)


def evaluations_present(organization: Organization) -> bool:
    return Evaluation.objects.filter(patient__organization=organization).exists()


def spread(total: int, items: int, top: int) -> list[int]:
    """``total`` spread as evenly as possible over ``items`` answers of 0 to ``top``."""
    if not 0 <= total <= items * top:
        raise ValueError(f"{total} does not fit {items} items of 0–{top}")
    base, extra = divmod(total, items)
    return [base + (1 if i < extra else 0) for i in range(items)]


def screening_answers(screening: Screening) -> dict[str, dict[str, int]]:
    """Answers by instrument and link id; PHQ-9 item 9 (self-harm) answered 0."""
    phq9 = {str(i): v for i, v in enumerate(spread(screening.phq9, 8, 3), start=1)}
    phq9 |= {"9": 0, "10": min(3, screening.phq9 // 6)}
    return {
        "phq-9": phq9,
        "gad-7": {str(i): v for i, v in enumerate(spread(screening.gad7, 7, 3), start=1)},
        "pcl-5": {str(i): v for i, v in enumerate(spread(screening.pcl5, 20, 4), start=1)},
        "pain-nrs": {"1": screening.pain},
        "peg": {"1": screening.pain, "2": screening.enjoyment, "3": screening.activity},
    }


def _at(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz))


def _record_visit(
    case: DemoEvaluation, patient: Patient, clinic: Clinic, nurse: User, when: datetime
) -> tuple[list[Any], list[Any]]:
    """The nurse's screening, baseline pain and vitals; the ids of what was recorded."""
    responses = [
        response_record(
            user=nurse,
            patient=patient,
            clinic=clinic,
            instrument_code=code,
            answers=answers,
            context="screening",
            collected_at=when,
        ).id
        for code, answers in screening_answers(case.screening).items()
    ]
    on_file = latest_vitals(patient)
    # The weight and height already on file are kept, not contradicted.
    weight = on_file["body_weight"].value if "body_weight" in on_file else case.screening.weight_kg
    height = on_file["body_height"].value if "body_height" in on_file else case.screening.height_cm
    s = case.screening
    observations = observations_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        taken_at=when,
        measurements={
            "systolic_bp": s.systolic,
            "diastolic_bp": s.diastolic,
            "heart_rate": s.heart_rate,
            "body_weight": Decimal(weight),
            "body_height": Decimal(height),
        },
    )
    if patient_allergies(patient=patient).status == "not_asked":
        allergy_none_known(user=nurse, patient=patient)
    return responses, [o.id for o in observations]


def evaluation_answers(
    case: DemoEvaluation, patient: Patient, visit: date, today: date
) -> dict[str, Any]:
    """The evaluation's sections as ``services.evaluation_update`` takes them."""
    conditions: list[dict[str, Any]] = [
        {"category": "pain", "catalogue_key": key, "code": code, "is_primary": i == 0}
        for i, (key, code) in enumerate(case.pain)
    ]
    conditions += [
        {"category": "mental_health", "code": code, "is_primary": i == 0}
        for i, code in enumerate(case.mental_health)
    ]
    data: dict[str, Any] = {
        "coexisting_mh_treated": "yes" if case.mh_treated else "no",
        "ready_for_ketamine": "yes",
        "pain_duration_months": case.pain_months,
        "pain_history": case.pain_history,
        "prior_treatments": [
            {"treatment": treatment, "outcome": outcome, "note": note}
            for treatment, outcome, note in case.prior
        ],
        "conditions": conditions,
        "screen_resolutions": {
            key: {"resolution": resolution, "note": note}
            for key, (resolution, note) in case.resolutions.items()
        },
        "contraindications": {
            key: {"present": "yes" if key in case.present else "no"}
            | ({"mitigation": case.present[key]} if key in case.present else {})
            for key in services.catalogue_keys()
        },
        **NO_SUBSTANCE_USE,
    }
    # Asked of everyone and answered by the patient; in this demo the women under 50 say
    # they could be, and a urine test settles it.
    could_be = case.pregnant or (
        patient.sex_at_birth == Patient.SexAtBirth.FEMALE and age_on(patient.birth_date, today) < 50
    )
    data["could_be_pregnant"] = "yes" if could_be else "no"
    if could_be:
        data |= {
            "pregnancy_status": "pregnant" if case.pregnant else "not_pregnant",
            "pregnancy_method": "urine_test",
            "pregnancy_checked_on": visit,
            "breastfeeding": "no",
        }
    for name, value in case.extra.items():
        data[name] = visit - timedelta(days=value) if name in services.DATE_FIELDS else value
    return data


def _shift_snapshot(facts: dict[str, Any], by: timedelta) -> dict[str, Any]:
    """The signed facts with every measure's time moved back by ``by``."""

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    (datetime.fromisoformat(v) - by).isoformat()
                    if k in ("collected_at", "taken_at") and isinstance(v, str)
                    else move(v)
                )
                for k, v in value.items()
            }
        return value

    return move(facts)


def _seed_one(
    case: DemoEvaluation,
    patient: Patient,
    clinic: Clinic,
    users: dict[str, User],
    today: date,
) -> Evaluation:
    tz = clinic.time_zone
    nurse = users[f"nurse{case.site_staff}"]
    author = users[f"{case.author}{case.site_staff}"]
    visit = today - timedelta(days=case.days_ago)
    # The draft's patient was screened this morning, so it is current when the demo starts.
    draft_time = timezone.now() - timedelta(hours=2)
    when = draft_time if case.draft else _at(visit, SCREENING_HOUR, 30, tz)
    # A visit too old for its screening to count at signing is recorded and signed as if
    # recent, then moved back to its real day below.
    shift = timedelta(days=case.days_ago - 1) if case.days_ago > RECENT_VISIT_DAYS else None
    # In UTC, so that moving back by ``shift`` later lands on the same instant across a
    # daylight-saving change.
    recorded = when.astimezone(UTC) + shift if shift else when
    responses, observations = _record_visit(case, patient, clinic, nurse, recorded)
    evaluation = services.evaluation_start(user=author, patient=patient, clinic=clinic)
    evaluation = services.evaluation_update(
        user=author,
        evaluation=evaluation,
        data=evaluation_answers(case, patient, visit, today),
    )
    if case.draft:
        return evaluation
    evaluation = services.evaluation_sign(
        user=author,
        evaluation=evaluation,
        accept=not case.pathway,
        pathway=case.pathway or None,
        override_reason=case.override_reason,
    )
    # Backdating: the service signs now, so the signing time, validity and creation time
    # are set to the visit day afterwards with a direct update (and, for an old visit, the
    # measures and the snapshot of them too). This is how the demo gets evaluations signed
    # on earlier days, including one past its validity.
    signed_at = _at(visit, SIGNING_HOUR, (10 + case.index) % 60, tz)
    valid_days = clinic_policy_current(clinic=clinic).evaluation_valid_days
    changes: dict[str, Any] = {
        "created_at": _at(visit, SCREENING_HOUR + 1, 0, tz),
        "updated_at": signed_at,
        "signed_at": signed_at,
        "valid_until": visit + timedelta(days=valid_days),
    }
    if shift:
        Response.objects.filter(id__in=responses).update(collected_at=F("collected_at") - shift)
        Observation.objects.filter(id__in=observations).update(taken_at=F("taken_at") - shift)
        changes["facts"] = _shift_snapshot(evaluation.facts, shift)
    Evaluation.objects.filter(pk=evaluation.pk).update(**changes)
    # The banner's source names the signing day, as evaluation_sign writes it.
    Patient.objects.filter(pk=patient.pk).update(
        pathway_source=f"Evaluation signed {visit.isoformat()} by {author.display_name}"
    )
    if case.addendum:
        services.addendum_add(user=author, evaluation=evaluation, text=case.addendum)
    evaluation.refresh_from_db()
    return evaluation


def seed_evaluations(*, organization: Organization, users: dict[str, User], today: date) -> int:
    """Write the demo evaluations (signed ones and one draft); returns how many.

    A patient whose record no longer fits its case (for example someone has since entered
    newer screening in a demo database) is skipped rather than failing the whole seed.
    """
    plain = list(Patient.objects.filter(organization=organization).order_by("mrn"))
    written = 0
    for case in CASES:
        if case.index >= len(plain):
            continue
        nurse = users[f"nurse{case.site_staff}"]
        patient = patient_get_for_user(user=nurse, patient_id=plain[case.index].id)
        clinic = patient.preferred_clinic
        try:
            with transaction.atomic():
                _seed_one(case, patient, clinic, users, today)
        except (Conflict, InvalidInput):
            continue
        written += 1
    return written
