"""The session API from the dose to the signed note: each endpoint of the contract, its
status codes, the hard-stop shape, co-signature rules and permissions."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.conftest import PASSWORD
from ketapath.observations.models import Observation
from ketapath.pharmacy.models import Vial
from ketapath.scheduling.models import Appointment
from ketapath.treatments import services
from ketapath.treatments.models import TreatmentSession
from ketapath.treatments.tests.test_charting import GOOD_DISCHARGE

pytestmark = pytest.mark.django_db
ApiClient = Callable[[User], Client]


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def ordered_api(prescriber: User, pre_checked: TreatmentSession, vial: Vial) -> TreatmentSession:
    then = timezone.now() - timedelta(minutes=90)
    TreatmentSession.objects.filter(id=pre_checked.id).update(opened_at=then, pre_check_at=then)
    Observation.objects.filter(context_kind="session", context_id=pre_checked.id).update(
        taken_at=then
    )
    pre_checked.refresh_from_db()
    services.dose_order(
        user=prescriber, session=pre_checked, weight_kg=Decimal("80"), vial_id=vial.id
    )
    TreatmentSession.objects.filter(id=pre_checked.id).update(ordered_at=then)
    pre_checked.refresh_from_db()
    return pre_checked


def _administration(second: User, **extra: Any) -> dict[str, Any]:
    return {
        "second_check": {"dose_mg": 48, "volume_ml": 0.96},
        "co_sign": {"username": second.username, "password": PASSWORD},
        "injection_site": "Right deltoid",
        "given_at": (timezone.now() - timedelta(minutes=70)).isoformat(),
        **extra,
    }


def test_administration_api_and_its_co_signature(
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    ordered_api: TreatmentSession,
) -> None:
    url = f"/api/v1/sessions/{ordered_api.id}/administration"
    body = _administration(second_nurse)
    assert Client().post(url, body, content_type="application/json").status_code == 401
    assert _post(api_client(front_desk), url, body).status_code == 403
    assert _post(api_client(other_clinic_nurse), url, body).status_code == 404
    own = _post(api_client(nurse), url, _administration(nurse))
    assert own.status_code == 422
    assert own.json()["errors"][0]["field"].startswith("co_sign")
    wrong = _post(
        api_client(nurse),
        url,
        {**body, "co_sign": {"username": second_nurse.username, "password": "not-it"}},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"].startswith("co_sign")
    differs = _post(
        api_client(nurse), url, {**body, "second_check": {"dose_mg": 48, "volume_ml": 9.6}}
    )
    assert differs.status_code == 422
    assert differs.json()["errors"][0]["field"] == "second_check"
    ok = _post(api_client(nurse), url, body)
    assert ok.status_code == 200, ok.json()
    data = ok.json()
    assert data["status"] == "dosed"
    assert data["amount_mg"] == 48 and data["amount_ml"] == 0.96
    assert data["second_check_by"] == str(second_nurse.id)
    assert data["draw"] is not None
    again = _post(api_client(nurse), url, body)
    assert again.status_code == 409


def test_vitals_alerts_discharge_complete_sign_addenda_api(
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    biller: User,
    front_desk: User,
    ordered_api: TreatmentSession,
) -> None:
    sid = ordered_api.id
    base = f"/api/v1/sessions/{sid}"
    nurse_api = api_client(nurse)
    assert (
        _post(nurse_api, f"{base}/administration", _administration(second_nurse)).status_code == 200
    )

    # Vitals: the contract's fields; an out-of-range reading raises an alert.
    vitals = {
        "systolic": 182,
        "diastolic": 96,
        "heart_rate": 88,
        "spo2": 97,
        "respiratory_rate": 14,
        "taken_at": timezone.now().isoformat(),
    }
    assert _post(api_client(front_desk), f"{base}/vitals", vitals).status_code == 403
    bad = _post(nurse_api, f"{base}/vitals", {**vitals, "spo2": 140})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "spo2"
    recorded = _post(nurse_api, f"{base}/vitals", vitals)
    assert recorded.status_code == 201
    body = recorded.json()
    assert [a["rule"] for a in body["alerts_raised"]] == ["bp_high"]
    assert body["session"]["status"] == "monitoring"
    assert body["session"]["vitals"][-1]["systolic"] == 182
    assert {row["status"] for row in body["session"]["vitals_schedule"]} >= {"done", "overdue"}
    alert_id = body["alerts_raised"][0]["id"]

    # Discharge with the alert open: the hard stop names what is unmet.
    ratings = {"pain_after": 2, "dissociation_scale": "cadss_6", "dissociation_score": 6}
    assert _post(nurse_api, f"{base}/ratings", ratings).status_code == 200
    stopped = _post(nurse_api, f"{base}/discharge", GOOD_DISCHARGE)
    assert stopped.status_code == 409
    assert stopped.json()["code"] == "hard_stop" and stopped.json()["rule"] == "discharge"
    assert stopped.json()["unmet"] == ["alerts_cleared"]
    cleared = _post(
        nurse_api, f"{base}/alerts/{alert_id}/clear", {"note": "Rechecked after 5 min: 150/90."}
    )
    assert cleared.status_code == 200 and cleared.json()["open"] is False

    # Adverse event.
    event = {
        "kind": "hypertension",
        "severity": "mild",
        "onset": timezone.now().isoformat(),
        "action": "Rest and recheck; settled without medication.",
    }
    assert _post(nurse_api, f"{base}/adverse-events", {**event, "kind": "x"}).status_code == 422
    assert _post(nurse_api, f"{base}/adverse-events", event).status_code == 201

    discharged = _post(nurse_api, f"{base}/discharge", GOOD_DISCHARGE)
    assert discharged.status_code == 200 and discharged.json()["status"] == "discharged"
    assert discharged.json()["discharge"]["aldrete_total"] == 10

    # A nurse completes and cannot sign; the prescriber signs; then everything is 409.
    assert _post(nurse_api, f"{base}/sign").status_code == 403
    assert _post(nurse_api, f"{base}/complete").status_code == 200
    signed = _post(api_client(prescriber), f"{base}/sign")
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    for path, payload in (
        ("vitals", vitals),
        ("ratings", ratings),
        ("discharge", GOOD_DISCHARGE),
        ("abort", {"reason": "Late abort"}),
        ("sign", {}),
        ("overrides", {"rule": "bp", "reason": "A reason long enough"}),
    ):
        actor = api_client(prescriber) if path in ("overrides", "sign") else nurse_api
        assert _post(actor, f"{base}/{path}", payload).status_code == 409, path
    addendum = _post(nurse_api, f"{base}/addenda", {"text": "Phoned next day: well."})
    assert addendum.status_code == 201 and addendum.json()["author"] == str(nurse.id)
    note = nurse_api.get(base).json()
    assert note["addenda"][0]["text"] == "Phoned next day: well."
    assert note["signed_by"] == str(prescriber.id)
    # Front desk and biller cannot read session notes.
    assert api_client(front_desk).get(base).status_code == 403
    assert api_client(biller).get(base).status_code == 403
    assert (
        _post(api_client(biller), f"{base}/addenda", {"text": "Biller note here"}).status_code
        == 403
    )


def test_session_list_query_count_does_not_grow(
    api_client: ApiClient,
    nurse: User,
    ordered_api: TreatmentSession,
    django_assert_max_num_queries: Any,
) -> None:
    client = api_client(nurse)
    with django_assert_max_num_queries(30):
        response = client.get("/api/v1/sessions")
    assert response.json()["count"] == 1
    assert response.json()["items"][0]["dose_mg"] == 48


def test_appointment_session_path_is_stable(
    api_client: ApiClient, nurse: User, checked_in: Appointment, readiness: Any
) -> None:
    response = _post(api_client(nurse), f"/api/v1/appointments/{checked_in.id}/session")
    assert response.status_code == 201
    assert response.json()["status"] == "pre_check"
    assert response.json()["vitals_schedule"] == []
