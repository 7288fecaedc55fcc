"""A patient's recent ketamine from the ledger, as the course page and API show it."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.core.exposure import exposure_for
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Vial

pytestmark = pytest.mark.django_db


def _give(nurse: User, vial: Vial, patient: Patient, mg: str, at: Any) -> Any:
    drawn = ledger.draw(
        user=nurse, vial=vial, ml=Decimal(mg) / vial.mg_per_ml, session_id=uuid.uuid4(),
        patient=patient, at=at,
    )  # fmt: skip
    return ledger.administer(user=nurse, draw_entry=drawn, mg=mg, at=at)


def test_sessions_and_mg_in_the_last_30_and_90_days_net_of_reversals(
    nurse: User, patient: Patient, make_vials: Callable[..., list[Vial]]
) -> None:
    old, recent = make_vials(2)
    now = timezone.now()
    _give(nurse, old, patient, "40", now - timedelta(days=50))
    _give(nurse, recent, patient, "30", now - timedelta(days=3))
    recent.refresh_from_db()
    wrong = _give(nurse, recent, patient, "20", now - timedelta(days=1))
    ledger.reverse(user=nurse, entry=wrong, reason="Entered against the wrong session")
    rows = exposure_for(patient.id, now)
    assert rows is not None
    by_days = {r.days: (r.sessions, r.mg) for r in rows}
    assert by_days[30] == (1, Decimal("30.00"))
    assert by_days[90] == (2, Decimal("70.00"))


def test_the_course_api_and_page_show_it(
    api_client: Callable[[User], Client],
    client_for: Callable[[User], Client],
    nurse: User,
    prescriber: User,
    patient: Patient,
    make_vials: Callable[..., list[Vial]],
    course_for_exposure: Any,
) -> None:
    vial = make_vials(1)[0]
    _give(nurse, vial, patient, "35", timezone.now() - timedelta(days=2))
    body = api_client(prescriber).get(f"/api/v1/courses/{course_for_exposure.id}").json()
    assert {"days": 30, "sessions": 1} in [
        {k: v for k, v in row.items() if k != "mg"} for row in body["cumulative_ketamine"]
    ]
    assert [float(row["mg"]) for row in body["cumulative_ketamine"]] == [35.0, 35.0]
    page = client_for(nurse).get(f"/courses/{course_for_exposure.id}/").content.decode()
    assert "1 session, 35 mg in the last 30 days" in page


@pytest.fixture
def course_for_exposure(director: User, prescriber: User, patient: Patient, site: Any) -> Any:
    from ketapath.scheduling import services
    from ketapath.scheduling.tests.factories import approve, signed_evaluation

    approve(director=director, clinic=site, name="Chronic pain — initial IM series")
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    return services.course_create(
        user=prescriber,
        patient=patient,
        clinic=site,
        evaluation=evaluation,
        ordered_mg_per_kg=Decimal("0.6"),
    )
