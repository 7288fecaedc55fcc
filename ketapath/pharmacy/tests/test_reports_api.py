"""The reports API: GET /api/v1/pharmacy/reconciliation (the contract's figures as numbers,
the medical director only, 422 naming the field) and GET
/api/v1/pharmacy/patients/{id}/dispensing-log."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from ketapath.accounts.models import Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation
from ketapath.pharmacy.tests.reports_factories import Scenario, build_scenario

pytestmark = pytest.mark.django_db
ApiFor = Callable[[User], Client]
URL = "/api/v1/pharmacy/reconciliation"
CONTRACT = (
    "opening_mg",
    "received_mg",
    "administered_mg",
    "wasted_mg",
    "lost_mg",
    "returned_mg",
    "expected_closing_mg",
    "counted_closing_mg",
    "discrepancy_mg",
)


@pytest.fixture
def scenario(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> Scenario:
    return build_scenario(site, nurse, second_nurse, formulation, patient)


def period(s: Scenario, **extra: str) -> dict[str, str]:
    return {
        "clinic": str(s.clinic.id),
        "date_from": s.date_from.isoformat(),
        "date_to": s.date_to.isoformat(),
        **extra,
    }


def test_reconciliation_answers_the_contract_as_numbers(
    scenario: Scenario,
    director: User,
    api_client: ApiFor,
) -> None:
    response = api_client(director).get(URL, period(scenario))
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in CONTRACT} == {
        "opening_mg": 950,
        "received_mg": 500,
        "administered_mg": 110,
        "wasted_mg": 45,
        "lost_mg": 50,
        "returned_mg": 450,
        "expected_closing_mg": 795,
        "counted_closing_mg": 770,
        "discrepancy_mg": 25,
    }
    assert all(isinstance(body[k], int | float) for k in CONTRACT)
    assert body["expected_closing_mg"] == (
        body["opening_mg"]
        + body["received_mg"]
        - body["administered_mg"]
        - body["wasted_mg"]
        - body["lost_mg"]
        - body["returned_mg"]
    )
    assert body["discrepancy_mg"] == body["expected_closing_mg"] - body["counted_closing_mg"]
    assert body["drawn_not_accounted_mg"] == 20
    assert body["status"] == "short"
    assert body["dea_registration"] == scenario.clinic.dea_registration
    assert body["count"]["kind"] == "shift"
    assert {v["label"] for v in body["vials"]} == {"K-0001", "K-0002", "K-0003"}
    assert AuditEvent.objects.filter(
        action="read", object_type="reconciliation", user_id=director.id
    ).exists()


def test_without_a_count_counted_and_discrepancy_are_null(
    site: Clinic, director: User, api_client: ApiFor
) -> None:
    today = local_today(site.time_zone)
    response = api_client(director).get(
        URL, {"date_from": (today - timedelta(days=3)).isoformat(), "date_to": today.isoformat()}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["counted_closing_mg"] is None and body["discrepancy_mg"] is None
    assert body["expected_closing_mg"] == 0 and body["status"] == "not_counted"
    # One site where the user reconciles: it need not be named.
    assert body["clinic"] == str(site.id)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_to": "2025-01-31"}, "date_from"),
        ({"date_from": "2025-01-01"}, "date_to"),
        ({"date_from": "2025-02-30", "date_to": "2025-03-01"}, "date_from"),
        ({"date_from": "2025-01-01", "date_to": "yesterday"}, "date_to"),
        ({"date_from": "2025-02-01", "date_to": "2025-01-31"}, "date_to"),
        ({"date_from": "2025-01-01", "date_to": "2025-01-31", "substance": "heroin"}, "substance"),
    ],
)
def test_bad_periods_are_422_naming_the_field(
    site: Clinic, director: User, api_client: ApiFor, params: dict[str, str], field: str
) -> None:
    response = api_client(director).get(URL, {"clinic": str(site.id), **params})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in {e["field"] for e in body["errors"]}


def test_a_clinic_that_is_not_a_uuid_is_422(director: User, api_client: ApiFor) -> None:
    response = api_client(director).get(
        URL, {"clinic": "denver", "date_from": "2025-01-01", "date_to": "2025-01-31"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "clinic"


@pytest.mark.parametrize(
    "persona",
    ["nurse", "prescriber", "therapist", "front_desk", "biller", "privacy_officer", "clinic_admin"],
)
def test_reconciliation_is_the_medical_directors(
    persona: str, request: Any, site: Clinic, api_client: ApiFor
) -> None:
    user = request.getfixturevalue(persona)
    response = api_client(user).get(
        URL, {"clinic": str(site.id), "date_from": "2025-01-01", "date_to": "2025-01-31"}
    )
    assert response.status_code == 403


def test_reconciliation_of_another_site_is_404(
    director: User, other_site: Clinic, api_client: ApiFor
) -> None:
    params = {"clinic": str(other_site.id), "date_from": "2025-01-01", "date_to": "2025-01-31"}
    assert api_client(director).get(URL, params).status_code == 404


def test_reconciliation_needs_login(site: Clinic) -> None:
    response = Client().get(URL, {"date_from": "2025-01-01", "date_to": "2025-01-31"})
    assert response.status_code == 401


def test_a_director_of_two_sites_names_one(
    director: User, other_site: Clinic, site: Clinic, api_client: ApiFor
) -> None:
    from ketapath.accounts.models import Membership

    Membership.objects.create(user=director, clinic=other_site, role=Role.MEDICAL_DIRECTOR)
    client = api_client(director)
    response = client.get(URL, {"date_from": "2025-01-01", "date_to": "2025-01-31"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "clinic"
    response = client.get(
        URL, {"clinic": str(other_site.id), "date_from": "2025-01-01", "date_to": "2025-01-31"}
    )
    assert response.status_code == 200
    assert response.json()["clinic"] == str(other_site.id)


# --- Dispensing log ------------------------------------------------------------------------------


def log_url(patient: Patient) -> str:
    return f"/api/v1/pharmacy/patients/{patient.id}/dispensing-log"


def test_dispensing_log_lists_draws_with_what_became_of_them(
    scenario: Scenario,
    patient: Patient,
    nurse: User,
    api_client: ApiFor,
) -> None:
    response = api_client(nurse).get(log_url(patient))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    newest, middle, oldest = body["items"]
    assert (newest["drawn_mg"], newest["administered_mg"], newest["wasted_mg"]) == (50, 30, 0)
    assert (newest["unaccounted_mg"], newest["status"]) == (20, "open")
    assert newest["vial"]["label"] == "K-0002" and newest["vial"]["mg_per_ml"] == 50
    assert newest["drawn_ml"] == 1
    assert (middle["drawn_mg"], middle["administered_mg"], middle["wasted_mg"]) == (100, 80, 20)
    assert middle["status"] == "accounted"
    assert [w["name"] for w in middle["witnesses"]] == [scenario.witness.display_name]
    assert middle["by"]["id"] == str(nurse.id)
    assert oldest["session"] is not None
    event = AuditEvent.objects.get(object_type="dispensing_log", user_id=nurse.id)
    assert event.patient_id == patient.id and event.action == "read"


def test_dispensing_log_pages(
    scenario: Scenario,
    patient: Patient,
    nurse: User,
    api_client: ApiFor,
) -> None:
    body = api_client(nurse).get(log_url(patient), {"page": 2, "page_size": 2}).json()
    assert body["count"] == 3 and len(body["items"]) == 1


def test_a_reversed_draw_shows_as_reversed(
    scenario: Scenario,
    patient: Patient,
    nurse: User,
    api_client: ApiFor,
) -> None:
    d = ledger.draw(
        user=nurse,
        vial=scenario.vials["A"],
        ml="1",
        session_id=uuid.uuid4(),
        patient=patient,
    )
    ledger.reverse(user=nurse, entry=d, reason="Drawn for the wrong patient")
    first = api_client(nurse).get(log_url(patient)).json()["items"][0]
    assert (first["status"], first["drawn_mg"], first["unaccounted_mg"]) == ("reversed", 0, 0)


@pytest.mark.parametrize("persona", ["nurse", "prescriber", "director"])
def test_dispensing_log_for_the_ledger_roles(
    persona: str, request: Any, patient: Patient, api_client: ApiFor
) -> None:
    user = request.getfixturevalue(persona)
    assert api_client(user).get(log_url(patient)).status_code == 200


@pytest.mark.parametrize(
    "persona", ["front_desk", "biller", "therapist", "privacy_officer", "clinic_admin"]
)
def test_dispensing_log_refused_to_other_roles(
    persona: str, request: Any, patient: Patient, api_client: ApiFor
) -> None:
    user = request.getfixturevalue(persona)
    assert api_client(user).get(log_url(patient)).status_code == 403


def test_dispensing_log_of_another_sites_patient_is_404(
    other_site_patient: Patient, nurse: User, api_client: ApiFor
) -> None:
    assert api_client(nurse).get(log_url(other_site_patient)).status_code == 404


def test_dispensing_log_query_count_is_flat(
    scenario: Scenario,
    patient: Patient,
    nurse: User,
    api_client: ApiFor,
    django_assert_max_num_queries: Any,
) -> None:
    from ketapath.pharmacy import selectors

    for _ in range(6):
        d = ledger.draw(
            user=nurse,
            vial=scenario.vials["A"],
            ml="0.1",
            session_id=uuid.uuid4(),
            patient=patient,
        )
        ledger.administer(user=nurse, draw_entry=d, mg=Decimal("5"))
    with django_assert_max_num_queries(3):
        page = selectors.dispensing_log(patient=patient, clinic_ids={scenario.clinic.id})
        shown = [
            (line.status, line.account.unaccounted_mg, line.witnesses, line.draw.vial.label)
            for line in page.items
        ]
    assert page.count == 9 and len(shown) == 9
