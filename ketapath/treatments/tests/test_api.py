"""POST /api/v1/dose/calculate."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.core.errors import MESSAGE_INVALID
from ketapath.treatments.rules import (
    RULE_POSITIVE,
    RULE_RANGE_ORDER,
    RULE_ROUNDS_TO_ZERO,
    RULE_WEIGHT_SANITY,
)

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
URL = "/api/v1/dose/calculate"
EXAMPLE = {
    "weight_kg": 70.5,
    "mg_per_kg": 0.5,
    "concentration_mg_per_ml": 50,
    "cap_mg": 40,
    "range_mg_per_kg": [0.4, 0.6],
}


def _post(client: Client, body: Any) -> Any:
    return client.post(URL, body, content_type="application/json")


def test_anonymous_gets_401(client: Client) -> None:
    response = _post(client, EXAMPLE)
    assert response.status_code == 401
    assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED


def test_session_needs_csrf(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    assert _post(client, EXAMPLE).status_code == 200
    client.handler.enforce_csrf_checks = True
    assert _post(client, EXAMPLE).status_code in {401, 403}


@pytest.mark.parametrize("persona", ["prescriber", "nurse", "director", "other_clinic_nurse"])
def test_any_logged_in_user_may_calculate(
    api_client: ApiClient, persona: str, request: pytest.FixtureRequest
) -> None:
    # No patient data goes in or out, so there is no clinic to scope and nothing to audit.
    user: User = request.getfixturevalue(persona)
    client = api_client(user)
    before = AuditEvent.objects.count()
    assert _post(client, EXAMPLE).status_code == 200
    assert AuditEvent.objects.count() == before


def test_happy_path(api_client: ApiClient, nurse: User) -> None:
    response = _post(api_client(nurse), EXAMPLE)
    assert response.status_code == 200
    assert response.json() == {
        "dose_mg": 35.5,  # 35.25 rounded half up to the 0.5 mg step
        "volume_ml": 0.71,
        "concentration_mg_per_ml": 50,
        "step_mg": 0.5,
        "raw_dose_mg": 35.25,
        "mg_per_kg_given": 0.504,
        "exceeds_cap": False,
        "within_range": True,
        "exceeds_ceiling": False,
        "stops": [],
    }


def test_step_and_stops(api_client: ApiClient, prescriber: User) -> None:
    body = {
        "weight_kg": "70.5",
        "mg_per_kg": "0.5",
        "concentration_mg_per_ml": "100",
        "cap_mg": "35.3",
        "range_mg_per_kg": ["0.4", "0.5"],
        "ceiling_mg_per_kg": "0.5",
        "step_mg": "1",
    }
    data = _post(api_client(prescriber), body).json()
    # Step 1 mg: 35.25 → 35, under the cap, inside the range and the ceiling.
    assert (data["dose_mg"], data["volume_ml"], data["stops"]) == (35, 0.35, [])
    body["step_mg"] = "0.5"
    data = _post(api_client(prescriber), body).json()
    # Step 0.5 mg: 35.25 → 35.5, over the cap, the range and the ceiling once rounded.
    assert data["dose_mg"] == 35.5
    assert (data["exceeds_cap"], data["within_range"], data["exceeds_ceiling"]) == (
        True,
        False,
        True,
    )
    assert data["stops"] == ["cap", "range", "ceiling"]


def test_optional_bounds_may_be_left_out(api_client: ApiClient, nurse: User) -> None:
    body = {"weight_kg": 80, "mg_per_kg": 0.75, "concentration_mg_per_ml": 100}
    data = _post(api_client(nurse), body).json()
    assert (data["dose_mg"], data["volume_ml"], data["step_mg"]) == (60, 0.6, 0.5)
    assert (data["exceeds_cap"], data["within_range"]) == (False, True)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"weight_kg": 0}, [{"field": "weight_kg", "rule": RULE_POSITIVE}]),
        ({"weight_kg": -70}, [{"field": "weight_kg", "rule": RULE_POSITIVE}]),
        (
            {"weight_kg": 7.05},  # a slipped decimal point
            [{"field": "weight_kg", "rule": RULE_WEIGHT_SANITY.format(low=20, high=350)}],
        ),
        (
            {"weight_kg": 705},
            [{"field": "weight_kg", "rule": RULE_WEIGHT_SANITY.format(low=20, high=350)}],
        ),
        ({"mg_per_kg": 0}, [{"field": "mg_per_kg", "rule": RULE_POSITIVE}]),
        (
            {"concentration_mg_per_ml": -50},
            [{"field": "concentration_mg_per_ml", "rule": RULE_POSITIVE}],
        ),
        ({"cap_mg": 0}, [{"field": "cap_mg", "rule": RULE_POSITIVE}]),
        ({"step_mg": 0}, [{"field": "step_mg", "rule": RULE_POSITIVE}]),
        ({"ceiling_mg_per_kg": -1}, [{"field": "ceiling_mg_per_kg", "rule": RULE_POSITIVE}]),
        ({"range_mg_per_kg": [0.6, 0.4]}, [{"field": "range_mg_per_kg", "rule": RULE_RANGE_ORDER}]),
        ({"range_mg_per_kg": [0, 0.4]}, [{"field": "range_mg_per_kg.0", "rule": RULE_POSITIVE}]),
        (
            {"weight_kg": 20, "mg_per_kg": 0.01, "step_mg": 1},
            [{"field": "step_mg", "rule": RULE_ROUNDS_TO_ZERO}],
        ),
        (
            {"weight_kg": 0, "mg_per_kg": -1},
            [
                {"field": "weight_kg", "rule": RULE_POSITIVE},
                {"field": "mg_per_kg", "rule": RULE_POSITIVE},
            ],
        ),
    ],
)
def test_invalid_numbers_get_422_naming_the_field(
    api_client: ApiClient, nurse: User, changes: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    response = _post(api_client(nurse), {**EXAMPLE, **changes})
    assert response.status_code == 422
    data = response.json()
    assert (data["detail"], data["code"]) == (MESSAGE_INVALID, "invalid")
    assert data["errors"] == errors


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weight_kg": "seventy"}, "weight_kg"),
        ({"mg_per_kg": "NaN"}, "mg_per_kg"),
        ({"concentration_mg_per_ml": None}, "concentration_mg_per_ml"),
        ({"cap_mg": True}, "cap_mg"),
        ({"range_mg_per_kg": [0.4]}, "range_mg_per_kg"),
        ({"range_mg_per_kg": [0.4, "x"]}, "range_mg_per_kg.1"),
        ({"step_mg": "half"}, "step_mg"),
    ],
)
def test_not_numbers_get_422_naming_the_field(
    api_client: ApiClient, nurse: User, changes: dict[str, Any], field: str
) -> None:
    response = _post(api_client(nurse), {**EXAMPLE, **changes})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("missing", ["weight_kg", "mg_per_kg", "concentration_mg_per_ml"])
def test_missing_required_number_gets_422(api_client: ApiClient, nurse: User, missing: str) -> None:
    body = {k: v for k, v in EXAMPLE.items() if k != missing}
    response = _post(api_client(nurse), body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [missing]


def test_absurd_scale_gets_422_not_an_error(api_client: ApiClient, nurse: User) -> None:
    response = _post(api_client(nurse), {**EXAMPLE, "mg_per_kg": "1e999999"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mg_per_kg"


def test_not_json_gets_422(api_client: ApiClient, nurse: User) -> None:
    response = api_client(nurse).post(URL, "weight=70", content_type="application/json")
    assert response.status_code == 422
