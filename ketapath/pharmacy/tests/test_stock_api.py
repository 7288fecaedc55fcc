"""The stock API under /api/v1/pharmacy: the contract's paths and fields, co-signatures,
refusals by status code, permissions on every endpoint (nurse and prescriber allowed;
front desk, biller and therapist 403; another site 404; anonymous 401), auditing of a
vial's history and the list's query count."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import MESSAGE_CO_SIGN_SELF
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, LedgerEntry, Receipt, Vial
from ketapath.pharmacy.tests.conftest import co_sign

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
BASE = "/api/v1/pharmacy"
VIAL_KEYS = {
    "id", "label", "substance", "schedule", "ndc", "lot", "expiry", "mg_per_ml", "volume_ml",
    "balance_ml", "balance_mg", "status", "opened_at", "beyond_use_at", "quarantine_reason",
    "clinic",
}  # fmt: skip
ENTRY_KEYS = {
    "at", "kind", "ml", "mg", "by", "witness", "session", "patient", "reason", "reverses",
    "reversed_by", "balance_ml",
}  # fmt: skip


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{BASE}{path}", body, content_type="application/json")


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def delivery(
    clinic: Clinic, strength: Formulation | None, witness: User, **changes: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clinic": str(clinic.id),
        "ndc": "11111-222-33",
        "product": "Ketamine HCl injection, multi-dose vial",
        "lot": "K2401",
        "expiry": (local_today(clinic.time_zone) + timedelta(days=300)).isoformat(),
        "volume_ml": 10,
        "vials": 3,
        "supplier": "Test Wholesale Inc.",
        "invoice": "INV-77",
        "co_sign": co_sign(witness),
    }
    if strength is not None:
        body["formulation"] = str(strength.id)
    body.update(changes)
    return body


# --- Vials: list and detail ------------------------------------------------------------------


def test_vial_list_has_the_contract_fields(
    api_client: ApiClient, nurse: User, make_vials: Callable[..., list[Vial]], site: Clinic
) -> None:
    make_vials(2)
    response = api_client(nurse).get(f"{BASE}/vials", {"clinic": str(site.id)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    item = body["items"][0]
    assert set(item) >= VIAL_KEYS
    assert item["label"] == "K-0001"
    assert item["schedule"] == "CIII"
    assert item["balance_ml"] == 10 and item["balance_mg"] == 500 and item["mg_per_ml"] == 50
    assert item["status"] == "in_stock" and item["opened_at"] is None


def test_vial_list_filters_and_paginates(
    api_client: ApiClient,
    nurse: User,
    make_vials: Callable[..., list[Vial]],
    enable_strength: Callable[..., Formulation],
) -> None:
    vials = make_vials(3)
    midazolam = enable_strength("midazolam", "1")
    make_vials(1, formulation_=midazolam, volume_ml="2")
    ledger.quarantine(user=nurse, vial=vials[0], reason="Cracked vial")
    client = api_client(nurse)
    assert client.get(f"{BASE}/vials", {"status": "quarantined"}).json()["count"] == 1
    assert client.get(f"{BASE}/vials", {"substance": "midazolam"}).json()["count"] == 1
    page = client.get(f"{BASE}/vials", {"page": 2, "page_size": 3}).json()
    assert page["count"] == 4 and len(page["items"]) == 1
    bad = client.get(f"{BASE}/vials", {"status": "broken"})
    assert bad.status_code == 422 and fields(bad) == ["status"]


@pytest.mark.parametrize("persona", ["front_desk", "biller", "therapist", "privacy_officer"])
def test_vial_list_is_403_for_roles_without_the_ledger(
    persona: str, request: pytest.FixtureRequest, api_client: ApiClient, vial: Vial, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    client = api_client(user)
    assert client.get(f"{BASE}/vials").status_code == 403
    assert client.get(f"{BASE}/vials", {"clinic": str(site.id)}).status_code == 403


def test_vial_list_is_scoped_to_the_users_sites(
    api_client: ApiClient, other_clinic_nurse: User, vial: Vial, other_site_vial: Vial, site: Clinic
) -> None:
    client = api_client(other_clinic_nurse)
    body = client.get(f"{BASE}/vials").json()
    assert [i["id"] for i in body["items"]] == [str(other_site_vial.id)]
    assert client.get(f"{BASE}/vials", {"clinic": str(site.id)}).status_code == 404


def test_anonymous_gets_401(client: Client, vial: Vial) -> None:
    assert client.get(f"{BASE}/vials").status_code == 401
    assert client.get(f"{BASE}/vials/{vial.id}").status_code == 401
    assert post(client, "/draws", {}).status_code == 401
    assert client.get(f"{BASE}/formulations").status_code == 401


def test_vial_list_query_count_does_not_grow(
    api_client: ApiClient, nurse: User, make_vials: Callable[..., list[Vial]]
) -> None:
    client = api_client(nurse)
    make_vials(2)
    client.get(f"{BASE}/vials")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{BASE}/vials").status_code == 200
    make_vials(12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"{BASE}/vials").json()["count"] == 14
    assert len(many) == len(few)


def test_vial_detail_has_the_history_with_a_running_balance_and_is_audited(
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    vial: Vial,
    patient: Any,
    session_id: uuid.UUID,
) -> None:
    drawn = ledger.draw(user=nurse, vial=vial, ml="2", session_id=session_id, patient=patient)
    ledger.administer(user=nurse, draw_entry=drawn, mg="80")
    wasted = ledger.waste(
        user=nurse, witness=second_nurse, vial=vial, ml="0.5", reason="Residue after draw"
    )
    reversal = ledger.reverse(user=nurse, entry=wasted, reason="Wasted from the wrong vial")
    response = api_client(nurse).get(f"{BASE}/vials/{vial.id}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) >= VIAL_KEYS
    history = body["history"]
    assert set(history[0]) >= ENTRY_KEYS
    assert [h["kind"] for h in history] == ["receive", "draw", "administer", "waste", "reverse"]
    assert [h["balance_ml"] for h in history] == [10, 8, 8, 7.5, 8]
    assert history[1]["session"] == str(session_id) and history[1]["patient"] == str(patient.id)
    assert history[3]["witness"] == str(second_nurse.id)
    assert history[3]["reversed_by"] == str(reversal.id)
    assert history[4]["reverses"] == str(wasted.id)
    assert body["balance_ml"] == 8
    event = AuditEvent.objects.get(object_type="vial_history", object_id=str(vial.id))
    assert event.action == "read" and event.detail["patients"] == [str(patient.id)]


def test_vial_detail_permissions(
    api_client: ApiClient,
    vial: Vial,
    other_site_vial: Vial,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    therapist: User,
) -> None:
    for user in (nurse, prescriber, director):
        assert api_client(user).get(f"{BASE}/vials/{vial.id}").status_code == 200
    for user in (front_desk, biller, therapist):
        assert api_client(user).get(f"{BASE}/vials/{vial.id}").status_code == 403
    assert api_client(nurse).get(f"{BASE}/vials/{other_site_vial.id}").status_code == 404
    assert api_client(nurse).get(f"{BASE}/vials/{uuid.uuid4()}").status_code == 404


# --- Receiving -------------------------------------------------------------------------------


def test_receive_a_delivery_counted_by_a_second_person(
    api_client: ApiClient, nurse: User, second_nurse: User, formulation: Formulation, site: Clinic
) -> None:
    response = post(api_client(nurse), "/vials", delivery(site, formulation, second_nurse))
    assert response.status_code == 201, response.content
    body = response.json()
    receipt = body["receipt"]
    assert receipt["vials"] == 3 and receipt["total_mg"] == 1500
    assert receipt["received_by"] == str(nurse.id) and receipt["counted_by"] == str(second_nurse.id)
    assert receipt["received_at"].endswith(("-07:00", "-06:00"))  # Denver's offset
    assert [v["label"] for v in body["vials"]] == ["K-0001", "K-0002", "K-0003"]
    assert all(v["balance_ml"] == 10 for v in body["vials"])
    assert LedgerEntry.objects.filter(kind="receive").count() == 3


@pytest.mark.parametrize(
    "strength",
    [
        {"formulation": {"substance": "ketamine", "mg_per_ml": 50}},
        {"substance": "ketamine", "mg_per_ml": "50.00"},
    ],
)
def test_receive_names_the_strength_by_substance_and_concentration(
    strength: dict[str, Any],
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    site: Clinic,
) -> None:
    body = delivery(site, None, second_nurse, **strength)
    response = post(api_client(nurse), "/vials", body)
    assert response.status_code == 201, response.content
    assert response.json()["receipt"]["formulation"] == str(formulation.id)


@pytest.mark.parametrize("case", ["disabled", "never_enabled", "other_site", "by_name_disabled"])
def test_receive_refuses_a_strength_not_enabled(
    case: str,
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    enable_strength: Callable[..., Formulation],
    site: Clinic,
    other_site: Clinic,
    other_site_director: User,
) -> None:
    disabled = enable_strength("ketamine", "100", enabled=False)
    elsewhere = enable_strength(clinic=other_site, by=other_site_director)
    changes: dict[str, Any] = {
        "disabled": {"formulation": str(disabled.id)},
        "never_enabled": {"formulation": {"substance": "midazolam", "mg_per_ml": 5}},
        "other_site": {"formulation": str(elsewhere.id)},
        "by_name_disabled": {"substance": "ketamine", "mg_per_ml": 100},
    }[case]
    response = post(api_client(nurse), "/vials", delivery(site, None, second_nurse, **changes))
    assert response.status_code == 422, response.content
    assert fields(response) == ["formulation"]
    if case in ("disabled", "by_name_disabled"):
        assert "Ketamine hydrochloride 100 mg/mL is not enabled" in response.json()["detail"]
    assert not Receipt.objects.exists() and not Vial.objects.exists()


@pytest.mark.parametrize("who", ["self", "front_desk", "unlicensed", "wrong_password", "missing"])
def test_receive_refuses_a_bad_second_person(
    who: str,
    api_client: ApiClient,
    nurse: User,
    front_desk: User,
    make_user: Callable[..., User],
    formulation: Formulation,
    site: Clinic,
) -> None:
    lapsed = make_user(
        "lapsed", site, "nurse", licence_expires=local_today(site.time_zone) - timedelta(days=1)
    )
    cosign: Any = {
        "self": co_sign(nurse),
        "front_desk": co_sign(front_desk),
        "unlicensed": co_sign(lapsed),
        "wrong_password": {"username": lapsed.username, "password": "not-the-password"},
        "missing": None,
    }[who]
    body = delivery(site, formulation, nurse, co_sign=cosign)
    response = post(api_client(nurse), "/vials", body)
    assert response.status_code == 422, response.content
    assert all(f.startswith("co_sign") for f in fields(response))
    assert not Receipt.objects.exists()


def test_receive_checks_the_delivery(
    api_client: ApiClient, nurse: User, second_nurse: User, formulation: Formulation, site: Clinic
) -> None:
    client = api_client(nurse)
    expired = delivery(
        site,
        formulation,
        second_nurse,
        expiry=(local_today(site.time_zone) - timedelta(days=1)).isoformat(),
    )
    response = post(client, "/vials", expired)
    assert response.status_code == 422 and fields(response) == ["expiry"]
    future = delivery(
        site,
        formulation,
        second_nurse,
        received_at=(timezone.now() + timedelta(hours=2)).isoformat(),
    )
    response = post(client, "/vials", future)
    assert response.status_code == 422 and fields(response) == ["received_at"]
    bad_ndc = post(client, "/vials", delivery(site, formulation, second_nurse, ndc="ABC"))
    assert bad_ndc.status_code == 422 and fields(bad_ndc) == ["ndc"]
    none = post(client, "/vials", delivery(site, formulation, second_nurse, vials=0))
    assert none.status_code == 422 and fields(none) == ["vials"]
    assert not Receipt.objects.exists()


def test_receive_permissions(
    api_client: ApiClient,
    second_nurse: User,
    formulation: Formulation,
    site: Clinic,
    other_site: Clinic,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    therapist: User,
    other_clinic_nurse: User,
) -> None:
    body = delivery(site, formulation, second_nurse)
    for user in (director, front_desk, biller, therapist):
        assert post(api_client(user), "/vials", body).status_code == 403
    assert post(api_client(other_clinic_nurse), "/vials", body).status_code == 404
    assert not Receipt.objects.exists()
    assert post(api_client(prescriber), "/vials", body).status_code == 201


# --- Draws -------------------------------------------------------------------------------


def test_draw_for_a_session(
    api_client: ApiClient, nurse: User, vial: Vial, patient: Any, session_id: uuid.UUID
) -> None:
    body = {"vial": str(vial.id), "ml": 1.5, "session": str(session_id), "patient": str(patient.id)}
    response = post(api_client(nurse), "/draws", body)
    assert response.status_code == 201, response.content
    entry = response.json()
    assert set(entry) >= ENTRY_KEYS
    assert entry["kind"] == "draw" and entry["ml"] == -1.5 and entry["mg"] == -75
    assert entry["balance_ml"] == 8.5 and entry["patient"] == str(patient.id)
    vial.refresh_from_db()
    assert vial.status == Vial.Status.OPEN and vial.beyond_use_at is not None


def test_draw_from_an_expired_vial_is_409_naming_it_and_quarantines_it(
    api_client: ApiClient, nurse: User, vial: Vial, session_id: uuid.UUID
) -> None:
    expired = local_today(vial.clinic.time_zone) - timedelta(days=3)
    Vial.objects.filter(pk=vial.pk).update(expiry=expired)
    body = {"vial": str(vial.id), "ml": 1, "session": str(session_id)}
    response = post(api_client(nurse), "/draws", body)
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "vial_unusable"
    assert vial.label in response.json()["detail"] and fields(response) == ["vial"]
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED
    assert not LedgerEntry.objects.filter(kind="draw").exists()


def test_draw_from_a_past_use_vial_is_409_and_quarantines_it(
    api_client: ApiClient, nurse: User, vial: Vial, session_id: uuid.UUID
) -> None:
    ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id)
    Vial.objects.filter(pk=vial.pk).update(beyond_use_at=timezone.now() - timedelta(minutes=1))
    body = {"vial": str(vial.id), "ml": 1, "session": str(session_id)}
    response = post(api_client(nurse), "/draws", body)
    assert response.status_code == 409
    assert "beyond-use" in response.json()["detail"]
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED


def test_draw_refusals(
    api_client: ApiClient,
    nurse: User,
    vial: Vial,
    other_site_patient: Any,
    session_id: uuid.UUID,
) -> None:
    client = api_client(nurse)
    too_much = post(client, "/draws", {"vial": str(vial.id), "ml": 11, "session": str(session_id)})
    assert too_much.status_code == 422 and fields(too_much) == ["ml"]
    zero = post(client, "/draws", {"vial": str(vial.id), "ml": 0, "session": str(session_id)})
    assert zero.status_code == 422 and fields(zero) == ["ml"]
    elsewhere = post(
        client,
        "/draws",
        {
            "vial": str(vial.id),
            "ml": 1,
            "session": str(session_id),
            "patient": str(other_site_patient.id),
        },
    )
    assert elsewhere.status_code == 422 and fields(elsewhere) == ["patient"]
    no_session = post(client, "/draws", {"vial": str(vial.id), "ml": 1})
    assert no_session.status_code == 422 and fields(no_session) == ["session"]
    assert not LedgerEntry.objects.filter(kind="draw").exists()


def test_draw_permissions(
    api_client: ApiClient,
    vial: Vial,
    other_site_vial: Vial,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    therapist: User,
    session_id: uuid.UUID,
) -> None:
    body = {"vial": str(vial.id), "ml": 1, "session": str(session_id)}
    for user in (director, front_desk, biller, therapist):
        assert post(api_client(user), "/draws", body).status_code == 403
    other = {"vial": str(other_site_vial.id), "ml": 1, "session": str(session_id)}
    assert post(api_client(nurse), "/draws", other).status_code == 404
    assert post(api_client(prescriber), "/draws", body).status_code == 201


# --- Waste -------------------------------------------------------------------------------


def test_waste_from_a_vial_witnessed_by_the_co_signer(
    api_client: ApiClient, nurse: User, second_nurse: User, vial: Vial
) -> None:
    body = {
        "vial": str(vial.id),
        "ml": 0.4,
        "reason": "Residue below one dose",
        "co_sign": co_sign(second_nurse),
    }
    response = post(api_client(nurse), "/waste", body)
    assert response.status_code == 201, response.content
    entry = response.json()
    assert entry["kind"] == "waste" and entry["ml"] == -0.4 and entry["mg"] == -20
    assert entry["witness"] == str(second_nurse.id) and entry["by"] == str(nurse.id)
    assert entry["balance_ml"] == 9.6


def test_waste_of_a_draw_leaves_the_vial_and_balances_the_draw(
    api_client: ApiClient, nurse: User, second_nurse: User, vial: Vial, session_id: uuid.UUID
) -> None:
    drawn = ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id)
    ledger.administer(user=nurse, draw_entry=drawn, mg="40")
    body = {
        "vial": str(vial.id),
        "ml": 0.2,
        "reason": "Drawn, not given",
        "co_sign": co_sign(second_nurse),
        "draw": str(drawn.id),
    }
    response = post(api_client(nurse), "/waste", body)
    assert response.status_code == 201, response.content
    entry = response.json()
    assert entry["ml"] == 0 and entry["mg"] == -10 and entry["draw"] == str(drawn.id)
    assert entry["session"] == str(session_id) and entry["balance_ml"] == 9
    assert ledger.draw_account(LedgerEntry.objects.get(pk=drawn.pk)).balanced
    over = post(api_client(nurse), "/waste", {**body, "ml": 0.1})
    assert over.status_code == 422


def test_the_witness_can_never_be_the_person_wasting(
    api_client: ApiClient, nurse: User, vial: Vial
) -> None:
    body = {
        "vial": str(vial.id),
        "ml": 0.4,
        "reason": "Residue below one dose",
        "co_sign": co_sign(nurse),
    }
    response = post(api_client(nurse), "/waste", body)
    assert response.status_code == 422
    assert fields(response) == ["co_sign.username"]
    assert response.json()["detail"] == MESSAGE_CO_SIGN_SELF
    assert not LedgerEntry.objects.filter(kind="waste").exists()


@pytest.mark.parametrize("who", ["front_desk", "unlicensed", "director", "missing"])
def test_waste_refuses_a_witness_who_may_not_witness(
    who: str,
    api_client: ApiClient,
    nurse: User,
    front_desk: User,
    director: User,
    make_user: Callable[..., User],
    vial: Vial,
    site: Clinic,
) -> None:
    lapsed = make_user(
        "lapsed", site, "nurse", licence_expires=local_today(site.time_zone) - timedelta(days=1)
    )
    cosign = {
        "front_desk": co_sign(front_desk),
        "unlicensed": co_sign(lapsed),
        "director": co_sign(director),
        "missing": None,
    }[who]
    body = {"vial": str(vial.id), "ml": 0.4, "reason": "Residue below one dose", "co_sign": cosign}
    response = post(api_client(nurse), "/waste", body)
    assert response.status_code == 422, response.content
    assert fields(response) and all(f.startswith("co_sign") for f in fields(response))
    assert not LedgerEntry.objects.filter(kind="waste").exists()


def test_waste_permissions_and_bad_draw(
    api_client: ApiClient,
    nurse: User,
    second_nurse: User,
    vial: Vial,
    other_site_vial: Vial,
    front_desk: User,
    biller: User,
) -> None:
    body = {"vial": str(vial.id), "ml": 0.4, "reason": "Residue", "co_sign": co_sign(second_nurse)}
    for user in (front_desk, biller):
        assert post(api_client(user), "/waste", body).status_code == 403
    assert (
        post(api_client(nurse), "/waste", {**body, "vial": str(other_site_vial.id)}).status_code
        == 404
    )
    bad = post(api_client(nurse), "/waste", {**body, "draw": str(uuid.uuid4())})
    assert bad.status_code == 422 and fields(bad) == ["draw"]


# --- Reversal and quarantine --------------------------------------------------------------


def test_reverse_an_entry(
    api_client: ApiClient, nurse: User, vial: Vial, session_id: uuid.UUID
) -> None:
    drawn = ledger.draw(user=nurse, vial=vial, ml="2", session_id=session_id)
    client = api_client(nurse)
    short = post(client, f"/entries/{drawn.id}/reverse", {"reason": "no"})
    assert short.status_code == 422 and fields(short) == ["reason"]
    response = post(client, f"/entries/{drawn.id}/reverse", {"reason": "Drawn from the wrong vial"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "reverse" and body["reverses"] == str(drawn.id)
    assert body["ml"] == 2 and body["balance_ml"] == 10
    again = post(client, f"/entries/{drawn.id}/reverse", {"reason": "Drawn from the wrong vial"})
    assert again.status_code == 409


def test_reverse_permissions(
    api_client: ApiClient,
    vial: Vial,
    other_site_vial: Vial,
    nurse: User,
    front_desk: User,
    director: User,
) -> None:
    entry = vial.entries.get()
    body = {"reason": "Entered twice by mistake"}
    assert post(api_client(front_desk), f"/entries/{entry.id}/reverse", body).status_code == 403
    assert post(api_client(director), f"/entries/{entry.id}/reverse", body).status_code == 403
    other = other_site_vial.entries.get()
    assert post(api_client(nurse), f"/entries/{other.id}/reverse", body).status_code == 404


def test_quarantine_a_vial(
    api_client: ApiClient,
    nurse: User,
    vial: Vial,
    other_site_vial: Vial,
    front_desk: User,
    session_id: uuid.UUID,
) -> None:
    client = api_client(nurse)
    short = post(client, f"/vials/{vial.id}/quarantine", {"reason": "bad"})
    assert short.status_code == 422 and fields(short) == ["reason"]
    assert (
        post(
            api_client(front_desk), f"/vials/{vial.id}/quarantine", {"reason": "Cracked vial"}
        ).status_code
        == 403
    )
    assert (
        post(
            client, f"/vials/{other_site_vial.id}/quarantine", {"reason": "Cracked vial"}
        ).status_code
        == 404
    )
    response = post(client, f"/vials/{vial.id}/quarantine", {"reason": "Cracked vial"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "quarantined"
    assert response.json()["quarantine_reason"] == "Cracked vial"
    assert response.json()["balance_ml"] == 10
    drawn = post(client, "/draws", {"vial": str(vial.id), "ml": 1, "session": str(session_id)})
    assert drawn.status_code == 409


# --- Strengths -----------------------------------------------------------------------------


def test_the_director_enables_and_disables_strengths(
    api_client: ApiClient, director: User, nurse: User, site: Clinic
) -> None:
    client = api_client(director)
    body = {"clinic": str(site.id), "substance": "midazolam", "mg_per_ml": 1, "enabled": True}
    created = post(client, "/formulations", body)
    assert created.status_code == 201, created.content
    assert created.json()["schedule"] == "CIV" and created.json()["enabled"] is True
    changed = post(client, "/formulations", {**body, "enabled": False})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["id"] == created.json()["id"]
    listed = api_client(nurse).get(f"{BASE}/formulations", {"clinic": str(site.id)}).json()
    assert listed["count"] == 1 and listed["items"][0]["enabled"] is False
    assert api_client(nurse).get(f"{BASE}/formulations", {"enabled": "true"}).json()["count"] == 0
    bad = post(client, "/formulations", {**body, "substance": "caffeine"})
    assert bad.status_code == 422 and fields(bad) == ["substance"]
    zero = post(client, "/formulations", {**body, "mg_per_ml": 0})
    assert zero.status_code == 422 and fields(zero) == ["mg_per_ml"]


def test_formulation_permissions(
    api_client: ApiClient,
    nurse: User,
    prescriber: User,
    front_desk: User,
    biller: User,
    therapist: User,
    other_site_director: User,
    site: Clinic,
    formulation: Formulation,
) -> None:
    body = {"clinic": str(site.id), "substance": "ketamine", "mg_per_ml": 100, "enabled": True}
    for user in (nurse, prescriber, front_desk, biller, therapist):
        assert post(api_client(user), "/formulations", body).status_code == 403
    assert post(api_client(other_site_director), "/formulations", body).status_code == 404
    for user in (front_desk, biller, therapist):
        assert api_client(user).get(f"{BASE}/formulations").status_code == 403
    assert api_client(prescriber).get(f"{BASE}/formulations").json()["count"] == 1
    assert Formulation.objects.count() == 1
    assert Decimal(str(formulation.mg_per_ml)) == Decimal("50")
