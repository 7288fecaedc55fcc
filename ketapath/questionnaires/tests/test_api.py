"""GET /api/v1/questionnaires and POST /api/v1/questionnaires/{code}/score."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy, Organization
from ketapath.clinics.services import clinic_policy_update
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.questionnaires.api import MESSAGE_CLINIC_NOT_FOUND, MESSAGE_INSTRUMENT_NOT_FOUND
from ketapath.questionnaires.instruments import PFIZER_NOTICE
from ketapath.questionnaires.rules import ALERT_PHQ9_ITEM9, MESSAGE_ANSWERS_INVALID

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
BASE = "/api/v1/questionnaires"


def _score(client: Client, code: str, answers: dict[str, Any], query: str = "") -> Any:
    return client.post(
        f"{BASE}/{code}/score{query}", {"answers": answers}, content_type="application/json"
    )


def _pcl5(total: int) -> dict[str, int]:
    """20 answers summing to ``total``, filled item by item up to 4."""
    out: dict[str, int] = {}
    for n in range(1, 21):
        out[str(n)] = min(4, total)
        total -= out[str(n)]
    return out


# --- authentication --------------------------------------------------------------------------


def test_anonymous_gets_401(client: Client) -> None:
    response = client.get(BASE)
    assert response.status_code == 401
    assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED
    response = _score(client, "phq-9", {"1": 0})
    assert response.status_code == 401


@pytest.mark.parametrize("persona", ["nurse", "front_desk", "biller", "prescriber"])
def test_every_logged_in_role_may_list_and_score(
    api_client: ApiClient, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    client = api_client(user)
    assert client.get(BASE).status_code == 200
    assert _score(client, "phq-2", {"1": 1, "2": 2}).status_code == 200


def test_session_auth_works_for_the_list(client_for: Callable[[User], Client], nurse: User) -> None:
    assert client_for(nurse).get(BASE).status_code == 200


# --- list ------------------------------------------------------------------------------------


def test_list_has_every_instrument_with_items_and_codes(api_client: ApiClient, nurse: User) -> None:
    response = api_client(nurse).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    by_code = {item["code"]: item for item in body["items"]}
    assert list(by_code) == ["phq-9", "phq-2", "gad-7", "pcl-5", "peg", "pain-nrs"]
    phq9 = by_code["phq-9"]
    assert phq9["code_system"] == "http://loinc.org"
    assert (phq9["loinc_panel"], phq9["loinc_total"]) == ("44249-1", "44261-6")
    assert phq9["licence_note"] == PFIZER_NOTICE
    assert len(phq9["items"]) == 10
    item9 = phq9["items"][8]
    assert item9["link_id"] == "9"
    assert item9["loinc"] == "44260-8"
    assert item9["scored"] is True
    assert item9["options"][1] == {"value": 1, "label": "Several days", "loinc": "LA6569-3"}
    assert phq9["items"][9]["scored"] is False
    assert phq9["bands"][3] == {
        "low": 15,
        "high": 19,
        "severity": "moderately_severe",
        "label": "Moderately severe",
    }
    assert by_code["peg"]["scoring"] == "mean"
    assert by_code["pcl-5"]["bands"] == []
    assert len(by_code["pcl-5"]["items"][0]["options"]) == 5


# --- score -----------------------------------------------------------------------------------


def test_score_phq9_happy_path(api_client: ApiClient, nurse: User) -> None:
    answers = {"1": 2, "2": 2, "3": 1, "4": 2, "5": 1, "6": 1, "7": 1, "8": 0, "9": 1, "10": 2}
    response = _score(api_client(nurse), "phq-9", answers)
    assert response.status_code == 200
    assert response.json() == {
        "instrument": "phq-9",
        "total": 11,
        "severity": "moderate",
        "complete": True,
        "missing": [],
        "alerts": [ALERT_PHQ9_ITEM9],
    }


def test_score_incomplete_has_null_total(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "gad-7", {"1": 3, "2": 3, "4": None})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] is None
    assert body["severity"] is None
    assert body["complete"] is False
    assert body["missing"] == ["3", "4", "5", "6", "7"]


def test_score_peg_mean_is_a_json_number(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "peg", {"1": 7, "2": 8, "3": 8})
    assert response.status_code == 200
    assert b'"total": 7.7' in response.content
    assert response.json()["total"] == 7.7
    assert response.json()["severity"] is None


def test_score_pcl5_adds_clusters_and_rules(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "pcl-5", _pcl5(33))
    assert response.status_code == 200
    assert response.json() == {
        "instrument": "pcl-5",
        "total": 33,
        "severity": None,
        "complete": True,
        "missing": [],
        "alerts": [],
        "clusters": {"B": 20, "C": 8, "D": 5, "E": 0},
        "provisional_ptsd": {"cutoff": True, "dsm5_rule": False},
    }


def test_score_writes_nothing(api_client: ApiClient, nurse: User) -> None:
    client = api_client(nurse)
    events = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert _score(client, "phq-9", {"1": 1}).status_code == 200
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        # The bearer token's last-used time is authentication bookkeeping, not the endpoint.
        and "accounts_apitoken" not in q["sql"]
    ]
    assert writes == []
    assert AuditEvent.objects.count() == events


def test_unknown_code_is_404(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "bpi", {"1": 1})
    assert response.status_code == 404
    assert response.json()["detail"] == MESSAGE_INSTRUMENT_NOT_FOUND


def test_out_of_range_is_422_naming_the_item(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "phq-9", {"1": 0, "9": 4})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == MESSAGE_ANSWERS_INVALID
    assert body["code"] == "invalid"
    assert body["errors"] == [{"field": "answers.9", "rule": "Answer 4 is outside 0–3 for item 9."}]


def test_non_integer_and_unknown_item_are_422(api_client: ApiClient, nurse: User) -> None:
    response = _score(api_client(nurse), "phq-2", {"1": 1.5, "7": 0})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["answers.1", "answers.7"]


def test_missing_answers_body_is_422(api_client: ApiClient, nurse: User) -> None:
    response = api_client(nurse).post(f"{BASE}/phq-9/score", {}, content_type="application/json")
    assert response.status_code == 422


# --- the clinic's PCL-5 cut-off -------------------------------------------------------------


def test_default_cutoff_is_33_without_clinic(api_client: ApiClient, nurse: User) -> None:
    body = _score(api_client(nurse), "pcl-5", _pcl5(32)).json()
    assert body["provisional_ptsd"]["cutoff"] is False


def test_clinic_cutoff_comes_from_its_current_policy(
    api_client: ApiClient, site: Clinic, director: User, nurse: User
) -> None:
    client = api_client(nurse)
    query = f"?clinic={site.id}"
    assert _score(client, "pcl-5", _pcl5(31), query).json()["provisional_ptsd"]["cutoff"] is False
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"pcl5_provisional_cutoff": 31},
        reason="Adopt the lower end of Bovin et al. 2016",
    )
    assert ClinicPolicy.objects.filter(clinic=site).order_by("-version")[0].version == 2
    body = _score(client, "pcl-5", _pcl5(31), query).json()
    assert body["provisional_ptsd"]["cutoff"] is True
    assert _score(client, "pcl-5", _pcl5(30), query).json()["provisional_ptsd"]["cutoff"] is False
    # Without the clinic the default applies.
    assert _score(client, "pcl-5", _pcl5(31)).json()["provisional_ptsd"]["cutoff"] is False


def test_other_site_clinic_is_404(api_client: ApiClient, other_site: Clinic, nurse: User) -> None:
    response = _score(api_client(nurse), "pcl-5", _pcl5(40), f"?clinic={other_site.id}")
    assert response.status_code == 404
    assert response.json()["detail"] == MESSAGE_CLINIC_NOT_FOUND


def test_other_organisation_and_unknown_clinic_are_404(
    api_client: ApiClient, make_user: Callable[..., User], nurse: User
) -> None:
    org = Organization.objects.create(name="Elsewhere Clinics", mrn_prefix="EC")
    foreign = Clinic.objects.create(
        organization=org,
        name="Elsewhere",
        address_line1="1 Far Rd",
        city="Austin",
        state="TX",
        postal_code="73301",
        phone="+15125550100",
        time_zone="America/Chicago",
    )
    make_user("foreigner", foreign, Role.NURSE)
    client = api_client(nurse)
    for clinic_id in (foreign.id, "7d4c2c2e-0c7b-4b8f-9d3e-2f0a1b2c3d4e"):
        response = _score(client, "pcl-5", _pcl5(40), f"?clinic={clinic_id}")
        assert response.status_code == 404
        assert response.json()["detail"] == MESSAGE_CLINIC_NOT_FOUND
