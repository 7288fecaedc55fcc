"""GET /api/v1/clinics[/{id}[/policy]] and PUT/PATCH of the policy."""

from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import Membership, Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.api import MESSAGE_CLINIC_NOT_FOUND
from ketapath.clinics.models import (
    MESSAGE_ACK_BELOW_HOLD,
    MESSAGE_SPO2_CRITICAL_BELOW,
    Clinic,
    ClinicPolicy,
    Closure,
    OpeningHours,
    Organization,
    Room,
)
from ketapath.clinics.services import (
    MESSAGE_POLICY_FORBIDDEN,
    MESSAGE_POLICY_NOT_EDITABLE,
    MESSAGE_POLICY_REASON,
)
from ketapath.core.api import MESSAGE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
BASE = "/api/v1/clinics"


def _put(client: Client, url: str, body: dict[str, Any], method: str = "put") -> Any:
    return getattr(client, method)(url, body, content_type="application/json")


# --- authentication and scoping ---------------------------------------------------------


def test_anonymous_gets_401(client: Client, site: Clinic) -> None:
    for url in (BASE, f"{BASE}/{site.id}", f"{BASE}/{site.id}/policy"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED
    response = _put(client, f"{BASE}/{site.id}/policy", {"changes": {}, "reason": "x"})
    assert response.status_code == 401


def test_list_shows_only_the_users_sites(
    api_client: ApiClient, site: Clinic, other_site: Clinic, nurse: User
) -> None:
    Closure.objects.create(
        clinic=site, start_date=date(2031, 7, 4), end_date=date(2031, 7, 5), reason="Holiday"
    )
    response = api_client(nurse).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (item,) = body["items"]
    room = site.rooms.get()
    closure = site.closures.get()
    assert item == {
        "id": str(site.id),
        "name": "Denver Site",
        "address_line1": "100 Main St",
        "address_line2": "",
        "city": "Denver",
        "state": "CO",
        "postal_code": "80202",
        "phone": "+13035550100",
        "time_zone": "America/Denver",
        "dea_registration": "BS1234563",
        "opening_hours": [
            {"weekday": day, "opens": "08:00", "closes": "17:00"} for day in range(5)
        ],
        "rooms": [{"id": str(room.id), "name": "Treatment 1", "kind": "treatment", "active": True}],
        "closures": [
            {
                "id": str(closure.id),
                "start_date": "2031-07-04",
                "end_date": "2031-07-05",
                "reason": "Holiday",
            }
        ],
    }


def test_inactive_membership_hides_the_site(
    api_client: ApiClient, site: Clinic, nurse: User
) -> None:
    client = api_client(nurse)
    Membership.objects.filter(user=nurse).update(active=False)
    assert client.get(BASE).json() == {"items": [], "count": 0}
    assert client.get(f"{BASE}/{site.id}").status_code == 404


def test_detail_and_404_outside_the_users_sites(
    api_client: ApiClient, site: Clinic, other_site: Clinic, nurse: User
) -> None:
    client = api_client(nurse)
    response = client.get(f"{BASE}/{site.id}")
    assert response.status_code == 200
    assert response.json()["time_zone"] == "America/Denver"
    for url in (f"{BASE}/{other_site.id}", f"{BASE}/{other_site.id}/policy"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json() == {
            "detail": MESSAGE_CLINIC_NOT_FOUND,
            "code": "not_found",
            "errors": [],
        }
    response = _put(
        client,
        f"{BASE}/{other_site.id}/policy",
        {"changes": {"treatment_consent_months": 6}, "reason": "x"},
    )
    assert response.status_code == 404
    assert other_site.policies.count() == 1


def test_pagination(api_client: ApiClient, organization: Organization, nurse: User) -> None:
    for n in range(3):
        clinic = Clinic.objects.create(
            organization=organization,
            name=f"Site {n}",
            address_line1="1 A St",
            city="Denver",
            state="CO",
            postal_code="80202",
            phone="+13035550100",
            time_zone="America/Denver",
        )
        Membership.objects.create(user=nurse, clinic=clinic, role=Role.NURSE)
    client = api_client(nurse)
    first = client.get(f"{BASE}?page=1&page_size=2").json()
    second = client.get(f"{BASE}?page=2&page_size=2").json()
    assert first["count"] == second["count"] == 4
    names = [c["name"] for c in first["items"] + second["items"]]
    assert names == ["Denver Site", "Site 0", "Site 1", "Site 2"]
    assert client.get(f"{BASE}?page_size=101").status_code == 422
    assert client.get(f"{BASE}?page=0").status_code == 422


def _add_sites(organization: Organization, user: User, count: int) -> None:
    for n in range(count):
        clinic = Clinic.objects.create(
            organization=organization,
            name=f"Extra {n}",
            address_line1="1 A St",
            city="Denver",
            state="CO",
            postal_code="80202",
            phone="+13035550100",
            time_zone="America/Denver",
        )
        Membership.objects.create(user=user, clinic=clinic, role=Role.NURSE)
        OpeningHours.objects.create(clinic=clinic, weekday=0, opens=time(8), closes=time(12))
        OpeningHours.objects.create(clinic=clinic, weekday=1, opens=time(8), closes=time(12))
        Room.objects.create(clinic=clinic, name="R1")
        Room.objects.create(clinic=clinic, name="R2")
        Closure.objects.create(
            clinic=clinic, start_date=date(2031, 1, 1), end_date=date(2031, 1, 1), reason="x"
        )


def test_list_query_count_does_not_grow_with_sites(
    api_client: ApiClient, organization: Organization, site: Clinic, nurse: User
) -> None:
    client = api_client(nurse)
    client.get(BASE)  # the token's first use records last_used_at once
    with CaptureQueriesContext(connection) as one_site:
        assert client.get(BASE).json()["count"] == 1
    _add_sites(organization, nurse, 2)
    with CaptureQueriesContext(connection) as three_sites:
        body = client.get(BASE).json()
    assert body["count"] == 3
    assert all(len(item["rooms"]) >= 1 for item in body["items"])
    assert len(three_sites) == len(one_site), [q["sql"] for q in three_sites.captured_queries]
    assert len(one_site) <= 8


# --- policy -----------------------------------------------------------------------------


# Every editable policy field with its cited default: what a new site's policy holds.
DEFAULT_FIELDS = {
    "treatment_consent_months": 12,
    "contact_consent_months": None,
    "pcl5_provisional_cutoff": 33,
    "alert_escalation_minutes": 240,
    "mme_caution_at": 50,
    "mme_high_at": 90,
    "evaluation_valid_days": 90,
    "dose_ceiling_mg_per_kg": 1.0,
    "nurse_patients_at_once": 1,
    "reminder_lead_hours": 48,
    "link_lifetime_hours": 72,
    "link_birth_date_tries": 5,
    "pre_session_questionnaire_hours": 24,
    "follow_up_weeks": "1,4,12",
    "fasting_food_hours": 6,
    "fasting_clear_liquid_hours": 2,
    "vial_beyond_use_days": 28,
    "dose_step_mg": 0.5,
    "im_max_ml_per_site": 2.0,
    "pre_dose_hold_systolic": 160,
    "pre_dose_hold_diastolic": 100,
    "pre_dose_ack_systolic": 140,
    "pre_dose_ack_diastolic": 90,
    "alert_systolic": 180,
    "alert_diastolic": 110,
    "alert_hr_high": 120,
    "alert_hr_low": 50,
    "alert_spo2": 92,
    "alert_spo2_critical": 90,
    "alert_spo2_seconds": 30,
    "alert_rr_low": 8,
    "aldrete_threshold": 9,
    "aldrete_circulation": "mmhg_20",
    "min_observation_minutes": 60,
}


@pytest.mark.parametrize(
    "persona",
    [
        "director",
        "prescriber",
        "nurse",
        "therapist",
        "front_desk",
        "biller",
        "privacy_officer",
        "clinic_admin",
    ],
)
def test_everyone_at_the_site_reads_the_policy(
    request: pytest.FixtureRequest, api_client: ApiClient, site: Clinic, persona: str
) -> None:
    response = api_client(request.getfixturevalue(persona)).get(f"{BASE}/{site.id}/policy")
    assert response.status_code == 200
    body = response.json()
    policy = site.policies.get()
    assert body["id"] == str(policy.id)
    assert body["version"] == 1
    assert body["fields"] == DEFAULT_FIELDS
    assert "Default 12" in body["help"]["treatment_consent_months"]
    # RFC 3339 with the site's offset (Denver: -07:00 or -06:00).
    assert body["changed_at"][-6:] in {"-07:00", "-06:00"}


@pytest.mark.parametrize("method", ["put", "patch"])
def test_director_changes_the_policy(
    api_client: ApiClient, site: Clinic, director: User, method: str
) -> None:
    response = _put(
        api_client(director),
        f"{BASE}/{site.id}/policy",
        {"changes": {"contact_consent_months": 24}, "reason": "SMS consent renewal"},
        method,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 2
    assert body["fields"] == {**DEFAULT_FIELDS, "contact_consent_months": 24}
    assert body["reason"] == "SMS consent renewal"
    assert body["changed_by_name"] == director.display_name
    assert list(site.policies.values_list("version", flat=True)) == [2, 1]
    event = AuditEvent.objects.get(object_type="clinic_policy")
    assert event.detail == {"contact_consent_months": [None, 24]}
    assert api_client(director).get(f"{BASE}/{site.id}/policy").json()["version"] == 2


@pytest.mark.parametrize(
    "persona",
    ["prescriber", "nurse", "therapist", "front_desk", "biller", "privacy_officer", "clinic_admin"],
)
def test_every_other_role_gets_403(
    request: pytest.FixtureRequest, api_client: ApiClient, site: Clinic, persona: str
) -> None:
    response = _put(
        api_client(request.getfixturevalue(persona)),
        f"{BASE}/{site.id}/policy",
        {"changes": {"treatment_consent_months": 6}, "reason": "x"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == MESSAGE_POLICY_FORBIDDEN
    assert site.policies.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (
            {"changes": {"treatment_consent_months": 99}, "reason": "x"},
            "treatment_consent_months",
            MaxValueValidator.message % {"limit_value": 36},
        ),
        (
            {"changes": {"treatment_consent_months": "often"}, "reason": "x"},
            "treatment_consent_months",
            "“often” value must be an integer.",
        ),
        (
            {"changes": {"bogus_setting": 1}, "reason": "x"},
            "bogus_setting",
            MESSAGE_POLICY_NOT_EDITABLE,
        ),
        (
            {"changes": {"treatment_consent_months": 6}, "reason": " "},
            "reason",
            MESSAGE_POLICY_REASON,
        ),
        ({"changes": {"treatment_consent_months": 6}}, "reason", MESSAGE_POLICY_REASON),
        (
            {"changes": {"pre_dose_ack_systolic": 160}, "reason": "x"},
            "pre_dose_ack_systolic",
            MESSAGE_ACK_BELOW_HOLD.format(limit=160),
        ),
        (
            {"changes": {"pre_dose_hold_diastolic": 90}, "reason": "x"},
            "pre_dose_ack_diastolic",
            MESSAGE_ACK_BELOW_HOLD.format(limit=90),
        ),
        (
            {"changes": {"alert_spo2_critical": 92}, "reason": "x"},
            "alert_spo2_critical",
            MESSAGE_SPO2_CRITICAL_BELOW.format(limit=92),
        ),
        (
            {"changes": {"aldrete_circulation": "sbp_band"}, "reason": "x"},
            "aldrete_circulation",
            "Value 'sbp_band' is not a valid choice.",
        ),
        (
            {"changes": {"dose_step_mg": "0"}, "reason": "x"},
            "dose_step_mg",
            MinValueValidator.message % {"limit_value": Decimal("0.05")},
        ),
    ],
)
def test_invalid_changes_get_422_naming_the_field(
    api_client: ApiClient,
    site: Clinic,
    director: User,
    body: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    response = _put(api_client(director), f"{BASE}/{site.id}/policy", body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["code"] == "invalid"
    assert {"field": field, "rule": rule} in payload["errors"]
    assert site.policies.count() == 1
    assert not AuditEvent.objects.filter(object_type="clinic_policy").exists()


def test_policy_of_a_site_without_versions_shows_the_defaults(
    api_client: ApiClient, site: Clinic, nurse: User
) -> None:
    ClinicPolicy.objects.filter(clinic=site).delete()
    body = api_client(nurse).get(f"{BASE}/{site.id}/policy").json()
    assert body["id"] is None
    assert body["version"] == 0
    assert body["changed_at"] is None
    assert body["fields"]["treatment_consent_months"] == 12


def test_session_auth_needs_csrf_for_policy_change(
    client_for: Callable[[User], Client], site: Clinic, director: User
) -> None:
    client = client_for(director)
    client.handler.enforce_csrf_checks = True
    assert client.get(f"{BASE}/{site.id}/policy").status_code == 200
    response = _put(
        client,
        f"{BASE}/{site.id}/policy",
        {"changes": {"treatment_consent_months": 6}, "reason": "x"},
    )
    assert response.status_code in {401, 403}
    assert site.policies.count() == 1
