"""Session API: opening, listing, reading, pre-check, overrides and abort, with the 409
hard-stop shape and a permission test for each endpoint."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.pharmacy.models import Vial
from ketapath.scheduling.models import Appointment
from ketapath.treatments.models import DailyReadiness, TreatmentSession
from ketapath.treatments.tests.conftest import ALL_READY

pytestmark = pytest.mark.django_db
ApiClient = Callable[[User], Client]


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def _patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, body, content_type="application/json")


# --- readiness ---------------------------------------------------------------------------


def test_readiness_api(
    api_client: ApiClient,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    site: Clinic,
) -> None:
    url = f"/api/v1/clinics/{site.id}/readiness"
    assert Client().post(url, {}, content_type="application/json").status_code == 401
    assert _post(api_client(front_desk), url, {"items": ALL_READY}).status_code == 403
    assert _post(api_client(other_clinic_nurse), url, {"items": ALL_READY}).status_code == 404
    bad = _post(api_client(nurse), url, {"items": {**ALL_READY, "oxygen": False}})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["items.oxygen"]
    ok = _post(api_client(nurse), url, {"items": ALL_READY})
    assert ok.status_code == 201
    assert ok.json()["date"] == local_today(site.time_zone).isoformat()
    offset = timezone.now().astimezone(ZoneInfo(site.time_zone)).isoformat()[-6:]
    assert ok.json()["checked_at"].endswith(offset)
    again = _post(api_client(nurse), url, {"items": ALL_READY})
    assert again.status_code == 409 and again.json()["code"] == "already_recorded"


# --- opening -----------------------------------------------------------------------------


def test_open_without_readiness_is_a_409_hard_stop(
    api_client: ApiClient, nurse: User, checked_in: Appointment
) -> None:
    response = _post(api_client(nurse), f"/api/v1/appointments/{checked_in.id}/session")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "hard_stop" and body["rule"] == "readiness"
    assert body["overridable"] is False and body["detail"]


def test_open_session_api(
    api_client: ApiClient,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    checked_in: Appointment,
    readiness: DailyReadiness,
) -> None:
    url = f"/api/v1/appointments/{checked_in.id}/session"
    assert _post(api_client(front_desk), url).status_code == 403
    assert _post(api_client(other_clinic_nurse), url).status_code == 404
    response = _post(api_client(nurse), url)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pre_check"
    assert body["appointment"] == str(checked_in.id)
    assert "identity_confirmed" in body["pre_check_missing"]
    assert _post(api_client(nurse), url).status_code == 409


# --- reading -----------------------------------------------------------------------------


def test_session_detail_permissions(
    api_client: ApiClient,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    therapist: User,
    other_clinic_nurse: User,
    session: TreatmentSession,
) -> None:
    url = f"/api/v1/sessions/{session.id}"
    assert Client().get(url).status_code == 401
    for user in (nurse, prescriber, director):
        assert api_client(user).get(url).status_code == 200
    for user in (front_desk, biller, therapist):
        assert api_client(user).get(url).status_code == 403
    assert api_client(other_clinic_nurse).get(url).status_code == 404
    assert api_client(nurse).get("/api/v1/sessions/not-a-uuid").status_code == 422
    reads = AuditEvent.objects.filter(object_type="treatment_session", action="read")
    assert reads.filter(outcome="success").count() == 3
    assert reads.filter(outcome="denied").count() == 4


def test_session_list_filters_and_permissions(
    api_client: ApiClient,
    nurse: User,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    site: Clinic,
    session: TreatmentSession,
) -> None:
    today = local_today(site.time_zone).isoformat()
    tomorrow = (local_today(site.time_zone) + timedelta(days=1)).isoformat()
    client = api_client(nurse)
    body = client.get(f"/api/v1/sessions?clinic={site.id}&date_from={today}&date_to={today}").json()
    assert body["count"] == 1 and body["items"][0]["id"] == str(session.id)
    assert client.get(f"/api/v1/sessions?date_from={tomorrow}").json()["count"] == 0
    assert client.get("/api/v1/sessions?status=pre_check").json()["count"] == 1
    assert client.get("/api/v1/sessions?status=signed").json()["count"] == 0
    bad = client.get("/api/v1/sessions?status=open")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert api_client(front_desk).get("/api/v1/sessions").status_code == 403
    assert api_client(biller).get(f"/api/v1/sessions?clinic={site.id}").status_code == 403
    assert (
        api_client(other_clinic_nurse).get(f"/api/v1/sessions?clinic={site.id}").status_code == 404
    )
    assert api_client(other_clinic_nurse).get("/api/v1/sessions").json()["count"] == 0


def test_session_list_query_count_does_not_grow(
    api_client: ApiClient,
    nurse: User,
    prescriber: User,
    booked: list[Appointment],
    readiness: DailyReadiness,
    session: TreatmentSession,
    django_assert_max_num_queries: Any,
) -> None:
    from ketapath.treatments import services

    services.override_add(user=prescriber, session=session, rule="bp", reason="Repeat reading fine")
    # A second session today, opened from the next appointment checked in.
    second = booked[1]
    now = timezone.now()
    Appointment.objects.filter(pk=second.pk).update(
        starts_at=now + timedelta(minutes=80),
        ends_at=now + timedelta(minutes=155),
        status="checked_in",
        checked_in_at=now,
    )
    second.refresh_from_db()
    other = services.session_open(user=nurse, appointment=second)
    services.override_add(user=prescriber, session=other, rule="bp", reason="Repeat reading fine")
    client = api_client(nurse)
    with django_assert_max_num_queries(20):
        body = client.get("/api/v1/sessions").json()
    assert body["count"] == 2
    assert [len(i["overrides"]) for i in body["items"]] == [1, 1]


# --- pre-check, overrides, abort ---------------------------------------------------------


def test_pre_check_bp_hard_stop_override_and_retry(
    api_client: ApiClient, nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    url = f"/api/v1/sessions/{session.id}/pre-check"
    data = {"identity_confirmed": True, "systolic": 170, "diastolic": 95}
    stop = _patch(api_client(nurse), url, data)
    assert stop.status_code == 409
    assert stop.json()["code"] == "hard_stop" and stop.json()["rule"] == "bp"
    assert stop.json()["overridable"] is True
    overrides = f"/api/v1/sessions/{session.id}/overrides"
    body = {"rule": "bp", "reason": "Rechecked after rest: 150/90"}
    assert _post(api_client(nurse), overrides, body).status_code == 403
    short = _post(api_client(prescriber), overrides, {"rule": "bp", "reason": "ok"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "reason"
    created = _post(api_client(prescriber), overrides, body)
    assert created.status_code == 201 and created.json()["by"] == str(prescriber.id)
    retry = _patch(api_client(nurse), url, data)
    assert retry.status_code == 200, retry.content
    assert retry.json()["pre_check"]["bp_band"] == "hard_stop"
    assert [o["rule"] for o in retry.json()["overrides"]] == ["bp"]


def test_pre_check_rejects_unknown_fields_and_bad_types(
    api_client: ApiClient, nurse: User, session: TreatmentSession
) -> None:
    url = f"/api/v1/sessions/{session.id}/pre-check"
    assert _patch(api_client(nurse), url, {"shoe_size": 9}).status_code == 422
    bad = _patch(api_client(nurse), url, {"history_review": "skipped"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "history_review"


def test_pre_check_permissions(
    api_client: ApiClient,
    front_desk: User,
    other_clinic_nurse: User,
    session: TreatmentSession,
) -> None:
    url = f"/api/v1/sessions/{session.id}/pre-check"
    assert _patch(api_client(front_desk), url, {"identity_confirmed": True}).status_code == 403
    assert (
        _patch(api_client(other_clinic_nurse), url, {"identity_confirmed": True}).status_code == 404
    )


def test_override_and_abort_other_site_404(
    api_client: ApiClient, other_clinic_nurse: User, session: TreatmentSession
) -> None:
    client = api_client(other_clinic_nurse)
    body = {"rule": "bp", "reason": "Rechecked after rest"}
    assert _post(client, f"/api/v1/sessions/{session.id}/overrides", body).status_code == 404
    assert _post(client, f"/api/v1/sessions/{session.id}/abort", {"reason": "x"}).status_code == 404


def test_abort_then_every_change_is_409(
    api_client: ApiClient,
    nurse: User,
    prescriber: User,
    front_desk: User,
    session: TreatmentSession,
) -> None:
    url = f"/api/v1/sessions/{session.id}/abort"
    assert _post(api_client(front_desk), url, {"reason": "No"}).status_code == 403
    assert _post(api_client(nurse), url, {"reason": " "}).status_code == 422
    done = _post(api_client(nurse), url, {"reason": "Patient declined today"})
    assert done.status_code == 200
    assert done.json()["status"] == "aborted"
    assert done.json()["abort_reason"] == "Patient declined today"
    assert done.json()["aborted_by"] == str(nurse.id)
    again = _post(api_client(nurse), url, {"reason": "Again"})
    assert again.status_code == 409 and again.json()["code"] == "session_closed"
    pre = _patch(api_client(nurse), f"/api/v1/sessions/{session.id}/pre-check", {"spo2": 97})
    assert pre.status_code == 409
    override = _post(
        api_client(prescriber),
        f"/api/v1/sessions/{session.id}/overrides",
        {"rule": "bp", "reason": "Rechecked after rest"},
    )
    assert override.status_code == 409
    assert api_client(nurse).get(f"/api/v1/sessions/{session.id}").json()["status"] == "aborted"


def test_dose_order_api(
    api_client: ApiClient,
    nurse: User,
    prescriber: User,
    front_desk: User,
    other_clinic_nurse: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    url = f"/api/v1/sessions/{pre_checked.id}/dose-order"
    body = {"weight_kg": 80, "vial": str(vial.id)}
    assert _post(api_client(nurse), url, body).status_code == 403
    assert _post(api_client(front_desk), url, body).status_code == 403
    assert _post(api_client(other_clinic_nurse), url, body).status_code == 404
    bad = _post(api_client(prescriber), url, {"weight_kg": "heavy", "vial": str(vial.id)})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "weight_kg"
    heavy = {**body, "weight_kg": 140, "weight_change_confirmed": True}
    stop = _post(api_client(prescriber), url, heavy)
    assert stop.status_code == 409
    assert stop.json()["code"] == "hard_stop" and stop.json()["rule"] == "cap"
    ok = _post(api_client(prescriber), url, body)
    assert ok.status_code == 200, ok.content
    dose, session = ok.json()["dose"], ok.json()["session"]
    assert (dose["dose_mg"], dose["volume_ml"], dose["concentration_mg_per_ml"]) == (48, 0.96, 50)
    assert session["dose_mg"] == 48 and session["volume_ml"] == 0.96
    assert session["vial"] == str(vial.id) and session["ordered_by"] == str(prescriber.id)
