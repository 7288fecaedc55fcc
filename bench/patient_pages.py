"""Benchmark: patient list, search and chart as the number of patients grows.

Builds a throw-away database (SQLite by default, or DATABASE_URL), loads N patients at one
site for each size, and times the patient list page, a name search through the API, and
one chart page. Prints the median time and query count per size and the ratio between the
largest and smallest size: a page whose cost grows with the data shows a ratio well above 1.

    .venv/bin/python bench/patient_pages.py            # sizes 100 and 2000
    .venv/bin/python bench/patient_pages.py 200 5000
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import date
from datetime import time as dtime
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
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from ketapath.accounts.models import Membership, User  # noqa: E402
from ketapath.clinics.models import Clinic, ClinicPolicy, OpeningHours, Organization  # noqa: E402
from ketapath.patients.models import Enrolment, Patient  # noqa: E402

REPEATS = 15


def build(size: int) -> tuple[Client, Patient]:
    call_command("flush", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench", mrn_prefix="BEN")
    clinic = Clinic.objects.create(
        organization=org, name="Bench Site", address_line1="1 Main", city="Denver",
        state="CO", postal_code="80202", phone="+13035550100", time_zone="America/Denver",
    )  # fmt: skip
    OpeningHours.objects.create(clinic=clinic, weekday=0, opens=dtime(8), closes=dtime(17))
    ClinicPolicy.objects.create(clinic=clinic, version=1)
    user = User.objects.create_user("bench", password="bench-password-1", licence_number="X")
    Membership.objects.create(user=user, clinic=clinic, role="nurse")
    patients = Patient.objects.bulk_create(
        Patient(
            organization=org, mrn=f"BEN{i:06d}", given_name=f"Given{i}",
            family_name=f"Family{i:05d}", birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            sex_at_birth="female", preferred_clinic=clinic, phone=f"+1303555{i % 10000:04d}",
        )
        for i in range(size)
    )  # fmt: skip
    Enrolment.objects.bulk_create(
        Enrolment(patient=p, clinic=clinic, since=timezone.localdate(), enrolled_by=user)
        for p in patients
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session["ketapath_started"] = session["ketapath_last_seen"] = time.time()
    session.save()
    return client, patients[size // 2]


def measure(client: Client, url: str) -> tuple[float, int]:
    client.get(url)  # warm up
    times = []
    for _ in range(REPEATS):
        reset_queries()
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return statistics.median(times) * 1000, len(ctx)


def main(sizes: list[int]) -> None:
    call_command("migrate", verbosity=0)
    results: dict[str, dict[int, tuple[float, int]]] = {}
    for size in sizes:
        client, middle = build(size)
        scenarios = {
            "patient list page": "/patients/",
            "API search by name": "/api/v1/patients?q=Family00042",
            "chart page": f"/patients/{middle.id}/",
        }
        for name, url in scenarios.items():
            results.setdefault(name, {})[size] = measure(client, url)
    print(f"{'scenario':<22}" + "".join(f"{f'n={s}':>22}" for s in sizes) + f"{'ratio':>10}")
    for name, by_size in results.items():
        cells = "".join(f"{f'{ms:7.1f} ms {q:3d} q':>22}" for ms, q in by_size.values())
        ratio = by_size[sizes[-1]][0] / by_size[sizes[0]][0]
        print(f"{name:<22}{cells}{ratio:>9.2f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 2000])
