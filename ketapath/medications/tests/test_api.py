"""POST /api/v1/mme/calculate."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import User
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.core.errors import MESSAGE_INVALID
from ketapath.medications.catalogue import (
    EXCLUDED_BUPRENORPHINE,
    FACTOR_SET,
    MESSAGE_AMBIGUOUS_CODE,
    MESSAGE_UNKNOWN_DRUG,
)
from ketapath.medications.rules import RULE_NOT_APPLICABLE, UNIT_TEXT

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
URL = "/api/v1/mme/calculate"
EXAMPLE = {
    "medications": [
        {"drug": "oxycodone", "dose_mg": 10, "doses_per_day": 2},
        {"drug": "fentanyl-transdermal", "dose_mcg_per_hr": 25},
    ]
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


@pytest.mark.parametrize("persona", ["prescriber", "nurse", "front_desk", "therapist"])
def test_any_logged_in_user_may_calculate(
    api_client: ApiClient, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    assert _post(api_client(user), EXAMPLE).status_code == 200


def test_example_body_is_90_with_both_flags(api_client: ApiClient, prescriber: User) -> None:
    client = api_client(prescriber)
    with CaptureQueriesContext(connection) as queries:
        response = _post(client, EXAMPLE)
    assert response.status_code == 200
    assert response.json() == {
        "total_mme": 90,
        "items": [
            {"drug": "oxycodone", "mme": 30, "factor": 1.5, "factor_source": "cdc_2022"},
            {
                "drug": "fentanyl-transdermal",
                "mme": 60,
                "factor": 2.4,
                "factor_source": "cdc_2022",
            },
        ],
        "excluded": [],
        "flags": ["mme_ge_50", "mme_ge_90"],
        "factor_set": FACTOR_SET,
    }
    # Stateless: nothing is written beyond the bearer token's last-used stamp.
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "apitoken" not in q["sql"].lower()
    ]
    assert writes == []


def test_rxnorm_code_buprenorphine_and_analytic_factor(api_client: ApiClient, nurse: User) -> None:
    body = {
        "medications": [
            {"drug": "7804", "dose_mg": 5, "doses_per_day": 3},
            {"drug": "buprenorphine", "dose_mg": 8, "doses_per_day": 1},
            {"drug": "Meperidine", "dose_mg": 50, "doses_per_day": 4},
        ]
    }
    response = _post(api_client(nurse), body)
    assert response.status_code == 200
    data = response.json()
    assert data["total_mme"] == 42.5
    assert data["items"] == [
        {"drug": "oxycodone", "mme": 22.5, "factor": 1.5, "factor_source": "cdc_2022"},
        {"drug": "meperidine", "mme": 20, "factor": 0.1, "factor_source": "cdc_2016_analytic"},
    ]
    assert data["excluded"] == [{"drug": "buprenorphine", "reason": EXCLUDED_BUPRENORPHINE}]
    assert data["flags"] == []


def test_empty_list_is_zero(api_client: ApiClient, nurse: User) -> None:
    response = _post(api_client(nurse), {"medications": []})
    assert response.status_code == 200
    assert response.json() == {
        "total_mme": 0,
        "items": [],
        "excluded": [],
        "flags": [],
        "factor_set": FACTOR_SET,
    }


def test_unknown_drug_is_422_naming_the_field(api_client: ApiClient, nurse: User) -> None:
    response = _post(api_client(nurse), {"medications": [{"drug": "aspirin", "dose_mg": 1}]})
    assert response.status_code == 422
    assert response.json() == {
        "detail": MESSAGE_INVALID,
        "code": "invalid",
        "errors": [{"field": "medications.0.drug", "rule": MESSAGE_UNKNOWN_DRUG}],
    }


def test_ambiguous_fentanyl_code_is_422(api_client: ApiClient, nurse: User) -> None:
    body = {"medications": [{"drug": "4337", "dose_mcg_per_hr": 25}]}
    response = _post(api_client(nurse), body)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "medications.0.drug"
    assert error["rule"].startswith(MESSAGE_AMBIGUOUS_CODE.split("{")[0])
    assert "fentanyl-transdermal" in error["rule"]


@pytest.mark.parametrize("field", ["dose_mg", "doses_per_day"])
@pytest.mark.parametrize("value", [0, -10])
def test_zero_or_negative_dose_is_422(
    api_client: ApiClient, nurse: User, field: str, value: int
) -> None:
    med: dict[str, Any] = {"drug": "oxycodone", "dose_mg": 10, "doses_per_day": 2}
    med[field] = value
    response = _post(api_client(nurse), {"medications": [med]})
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "invalid"
    assert [e["field"] for e in data["errors"]] == [f"medications.0.{field}"]


def test_wrong_dose_combination_is_422(api_client: ApiClient, nurse: User) -> None:
    body = {
        "medications": [
            {"drug": "morphine", "dose_mg": 10, "doses_per_day": 2},
            {"drug": "fentanyl-transdermal", "dose_mcg_per_hr": 25, "doses_per_day": 1},
        ]
    }
    response = _post(api_client(nurse), body)
    assert response.status_code == 422
    unit = UNIT_TEXT["mcg_per_hr"]
    assert response.json()["errors"] == [
        {
            "field": "medications.1.doses_per_day",
            "rule": RULE_NOT_APPLICABLE.format(drug="fentanyl-transdermal", unit=unit),
        }
    ]


def test_missing_medications_is_422(api_client: ApiClient, nurse: User) -> None:
    response = _post(api_client(nurse), {})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["medications"]
