"""Benchmark: the outcomes dashboard as the number of series grows.

Builds a throw-away database (SQLite by default, or DATABASE_URL), loads N initial series
at one site — three signed doses each, a baseline and (for most) a reassessment pain
rating, PHQ-9 for some, MME for a third — and times the summary by pathway and by
condition, and the dashboard page. Prints the median time and the query count per size and
the ratio between the largest and smallest size. The query count must not change; the time
grows with the rows the database aggregates, not with round trips.

    .venv/bin/python bench/outcomes_dashboard.py            # sizes 100 and 1000
    .venv/bin/python bench/outcomes_dashboard.py 200 3000
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("KETAPATH_TESTING", "1")
os.environ.setdefault("AXES_ENABLED", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from ketapath.accounts.models import Membership, User  # noqa: E402
from ketapath.clinics.models import (  # noqa: E402
    Clinic,
    ClinicPolicy,
    OpeningHours,
    Organization,
    Room,
)
from ketapath.medications.models import MmeSnapshot  # noqa: E402
from ketapath.outcomes.dashboard import outcomes_summary  # noqa: E402
from ketapath.patients.models import Enrolment, Patient  # noqa: E402
from ketapath.questionnaires.models import Response  # noqa: E402
from ketapath.scheduling.models import Appointment, Course  # noqa: E402
from ketapath.scheduling.tests.factories import approve, signed_evaluation  # noqa: E402
from ketapath.treatments.models import TreatmentSession  # noqa: E402

REPEATS = 9
PAIN = "Chronic pain — initial IM series"


def _user(name: str, clinic: Clinic, role: str) -> User:
    today = date.today()
    user = User.objects.create_user(
        name, password="bench-password-1", first_name=name.title(), last_name="Bench",
        licence_type="MD", licence_number=f"LIC-{name}", licence_state="CO",
        licence_expires=today + timedelta(days=365), dea_number="AB1234563",
        dea_expires=today + timedelta(days=365), acls_expires=today + timedelta(days=365),
    )  # fmt: skip
    Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


def build(size: int) -> tuple[Client, Clinic]:
    call_command("flush", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench", mrn_prefix="BEN")
    clinic = Clinic.objects.create(
        organization=org, name="Bench Site", address_line1="1 Main", city="Denver",
        state="CO", postal_code="80202", phone="+13035550100", time_zone="America/Denver",
        dea_registration="BS1234563",
    )  # fmt: skip
    for weekday in range(5):
        OpeningHours.objects.create(
            clinic=clinic, weekday=weekday, opens=dtime(8), closes=dtime(17)
        )
    ClinicPolicy.objects.create(clinic=clinic, version=1)
    director = _user("director", clinic, "medical_director")
    prescriber = _user("prescriber", clinic, "prescriber")
    nurse = _user("nurse", clinic, "nurse")
    room = Room.objects.create(clinic=clinic, name="Treatment 1")
    template = approve(director=director, clinic=clinic, name=PAIN)
    patients = Patient.objects.bulk_create(
        Patient(
            organization=org, mrn=f"BEN{i:06d}", given_name=f"Given{i}",
            family_name=f"Family{i:05d}", birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            sex_at_birth="female", preferred_clinic=clinic, phone=f"+1303555{i % 10000:04d}",
        )
        for i in range(size)
    )  # fmt: skip
    Enrolment.objects.bulk_create(
        Enrolment(patient=p, clinic=clinic, since=timezone.localdate(), enrolled_by=nurse)
        for p in patients
    )
    evaluation = signed_evaluation(prescriber=prescriber, patient=patients[0], clinic=clinic)
    now = timezone.now()
    courses = Course.objects.bulk_create(
        Course(
            patient=p, clinic=clinic, evaluation=evaluation, protocol=template,
            pathway="PAIN_SERIES", ordered_mg_per_kg=Decimal("0.6"), ordered_by=prescriber,
            ordered_at=now, status="awaiting_reassessment" if i % 9 else "stopped",
        )
        for i, p in enumerate(patients)
    )  # fmt: skip
    appointments, sessions, responses, snapshots = [], [], [], []
    for i, course in enumerate(courses):
        start = now - timedelta(days=40 + i % 300, minutes=i)
        for n in range(3):
            at = start + timedelta(days=2 * n)
            appointments.append(
                Appointment(
                    clinic=clinic, patient=course.patient, kind="session", course=course,
                    sequence=n + 1, starts_at=at, ends_at=at + timedelta(minutes=1),
                    room=room, nurse=nurse, prescriber=prescriber, status="completed",
                    booked_by=nurse,
                )
            )  # fmt: skip
        pain = 5 + i % 5
        responses.append(
            Response(
                patient=course.patient, clinic=clinic, instrument="pain-nrs", complete=True,
                total=pain, context="pre_session", collected_at=start - timedelta(days=1),
            )
        )  # fmt: skip
        if i % 4:
            due = start + timedelta(days=4 + template.reassessment_days)
            responses.append(
                Response(
                    patient=course.patient, clinic=clinic, instrument="pain-nrs",
                    complete=True, total=max(0, pain - i % 6), context="reassessment",
                    collected_at=due,
                )
            )  # fmt: skip
        if i % 3 == 0:
            snapshots.append(
                MmeSnapshot(
                    patient=course.patient, clinic=clinic, computed_at=start - timedelta(days=9),
                    computed_for=(start - timedelta(days=9)).date(), total_mme=30 + i % 60,
                    factor_set="CDC 2022", caution_at=50, high_at=90, policy_version=1,
                    trigger="medication_added", by=prescriber,
                )
            )  # fmt: skip
    Appointment.objects.bulk_create(appointments)
    for a in appointments:
        sessions.append(
            TreatmentSession(
                appointment=a, course=a.course, patient=a.patient, clinic=clinic,
                status="signed", opened_by=nurse, opened_at=a.starts_at, given_at=a.starts_at,
                amount_mg=Decimal("42"), signed_by=prescriber, signed_at=a.ends_at,
            )
        )  # fmt: skip
    TreatmentSession.objects.bulk_create(sessions)
    Response.objects.bulk_create(responses)
    MmeSnapshot.objects.bulk_create(snapshots)
    client = Client()
    client.force_login(nurse)
    session = client.session
    session["ketapath_started"] = session["ketapath_last_seen"] = time.time()
    session.save()
    return client, clinic


def timed(call: object) -> tuple[float, int]:
    assert callable(call)
    call()  # warm up
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as ctx:
        call()
    return statistics.median(times) * 1000, len(ctx)


def main(sizes: list[int]) -> None:
    call_command("migrate", verbosity=0)
    results: dict[str, dict[int, tuple[float, int]]] = {}
    for size in sizes:
        client, clinic = build(size)
        today = timezone.localdate()
        start = today - timedelta(days=400)

        def page(client: Client = client) -> None:
            assert client.get("/outcomes/").status_code == 200

        def by(key: str, c: Clinic = clinic, start: date = start, end: date = today) -> None:
            outcomes_summary(clinics=[c], group_by=key, date_from=start, date_to=end)

        scenarios = {
            "summary by pathway": lambda: by("pathway"),
            "summary by condition": lambda: by("condition"),
            "dashboard page": page,
        }
        for name, call in scenarios.items():
            results.setdefault(name, {})[size] = timed(call)
        check = outcomes_summary(
            clinics=[clinic], group_by="pathway", date_from=start, date_to=today
        ).total
        print(
            f"n={size}: started {check.started}, reassessed {check.reassessed}, "
            f"≥30 % {check.responders_30}, median {check.median_pain_change_percent}"
        )
    print(f"{'scenario':<24}" + "".join(f"{f'n={s}':>22}" for s in sizes) + f"{'ratio':>10}")
    for name, by_size in results.items():
        cells = "".join(f"{f'{ms:8.1f} ms {q:3d} q':>22}" for ms, q in by_size.values())
        ratio = by_size[sizes[-1]][0] / by_size[sizes[0]][0]
        print(f"{name:<24}{cells}{ratio:>9.2f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
