"""The counts, investigations, losses and returns endpoints under /api/v1/pharmacy."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import MESSAGE_CO_SIGN_SELF
from ketapath.clinics.models import Clinic
from ketapath.pharmacy import losses, stocktake
from ketapath.pharmacy.models import Count, Investigation, LedgerEntry, LossReport, Vial
from ketapath.pharmacy.tests.factories_counts import (
    co_sign,
    expire_and_quarantine,
    open_vial,
    receive_vials,
)

BASE = "/api/v1/pharmacy"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body, default=str), content_type="application/json")


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


@pytest.fixture
def partner(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("partner", site, Role.NURSE, licence_type="RN")


@pytest.fixture
def vials(director: User, nurse: User, partner: User, site: Clinic) -> list[Vial]:
    made = receive_vials(director=director, user=nurse, counted_by=partner, clinic=site, n=3)
    made[0] = open_vial(user=nurse, vial=made[0], ml="2")
    return made


@pytest.fixture
def far_nurse(make_user: Callable[..., User], other_site: Clinic) -> User:
    return make_user("far_nurse", other_site, Role.NURSE, licence_type="RN")


@pytest.fixture
def far_vial(make_user: Callable[..., User], other_site: Clinic, far_nurse: User) -> Vial:
    return receive_vials(
        director=make_user("far_director", other_site, Role.MEDICAL_DIRECTOR),
        user=far_nurse,
        counted_by=make_user("far_partner", other_site, Role.NURSE, licence_type="RN"),
        clinic=other_site,
        n=1,
    )[0]


def _count_body(site: Clinic, vials: list[Vial], partner: User, **extra: Any) -> dict[str, Any]:
    return {
        "clinic": str(site.id),
        "kind": "shift",
        "lines": [{"vial": str(vials[0].id), "counted_ml": 7.5}],
        "co_sign": co_sign(partner),
        **extra,
    }


# --- Counts -------------------------------------------------------------------------------


def test_post_count_answers_lines_and_investigations(
    api_client: Callable[[User], Client],
    nurse: User,
    partner: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    body = _count_body(site, vials, partner)
    body["lines"].append({"vial": str(vials[1].id), "counted_ml": 10})
    response = post(api_client(nurse), f"{BASE}/counts", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "shift" and data["witness"] == str(partner.id)
    first = next(line for line in data["lines"] if line["vial"] == str(vials[0].id))
    assert first["expected_ml"] == 8 and first["counted_ml"] == 7.5
    assert first["difference_ml"] == -0.5 and first["difference_mg"] == -25
    assert first["mg_per_ml"] == 50 and first["investigation"] is not None
    assert [i["vial_label"] for i in data["investigations"]] == [vials[0].label]
    assert data["investigations"][0]["status"] == "open"
    assert data["counted_at"].endswith(("-07:00", "-06:00"))


def test_post_count_refuses_self_co_sign_and_missing_vials(
    api_client: Callable[[User], Client],
    nurse: User,
    partner: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    client = api_client(nurse)
    response = post(client, f"{BASE}/counts", _count_body(site, vials, nurse))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "co_sign.username", "rule": MESSAGE_CO_SIGN_SELF}
    ]
    response = post(
        client, f"{BASE}/counts", {**_count_body(site, vials, partner), "co_sign": None}
    )
    assert response.status_code == 422 and fields(response) == ["co_sign"]
    expire_and_quarantine(vials[2])
    response = post(
        client,
        f"{BASE}/counts",
        _count_body(site, vials, partner, kind="biennial", timing="opening"),
    )
    assert response.status_code == 422 and fields(response) == ["lines"]
    assert vials[2].label in response.json()["detail"]
    bad = _count_body(site, vials, partner)
    bad["lines"] = [{"vial": str(vials[0].id), "counted_ml": -1}]
    response = post(client, f"{BASE}/counts", bad)
    assert response.status_code == 422 and fields(response) == ["lines.0.counted_ml"]
    twice = _count_body(site, vials, partner)
    twice["lines"] = twice["lines"] * 2
    response = post(client, f"{BASE}/counts", twice)
    assert response.status_code == 422 and fields(response) == ["lines.1.vial"]
    assert not Count.objects.exists()


def test_post_count_permissions(
    api_client: Callable[[User], Client],
    client: Client,
    director: User,
    front_desk: User,
    biller: User,
    partner: User,
    far_nurse: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    body = _count_body(site, vials, partner)
    assert post(client, f"{BASE}/counts", body).status_code == 401
    for user in (front_desk, biller, director):
        assert post(api_client(user), f"{BASE}/counts", body).status_code == 403
    assert post(api_client(far_nurse), f"{BASE}/counts", body).status_code == 404
    assert not Count.objects.exists()


def test_get_counts_scoped_and_paginated(
    api_client: Callable[[User], Client],
    client: Client,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    partner: User,
    far_nurse: User,
    site: Clinic,
    other_site: Clinic,
    vials: list[Vial],
    django_assert_max_num_queries: Any,
) -> None:
    for counted in ("8", "7", "6"):
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: counted}
        )
    for user in (nurse, prescriber, director):
        response = api_client(user).get(f"{BASE}/counts", {"clinic": str(site.id)})
        assert response.status_code == 200
        assert response.json()["count"] == 3
    with django_assert_max_num_queries(12):
        page = api_client(nurse).get(f"{BASE}/counts", {"page_size": 2})
    assert page.json()["count"] == 3 and len(page.json()["items"]) == 2
    assert len(page.json()["items"][0]["lines"]) == 1
    for user in (front_desk, biller):
        assert api_client(user).get(f"{BASE}/counts").status_code == 403
        assert api_client(user).get(f"{BASE}/counts", {"clinic": str(site.id)}).status_code == 403
    assert api_client(far_nurse).get(f"{BASE}/counts", {"clinic": str(site.id)}).status_code == 404
    assert api_client(far_nurse).get(f"{BASE}/counts").json()["count"] == 0
    count = Count.objects.first()
    assert count is not None
    assert api_client(far_nurse).get(f"{BASE}/counts/{count.id}").status_code == 404
    assert api_client(front_desk).get(f"{BASE}/counts/{count.id}").status_code == 403
    assert api_client(nurse).get(f"{BASE}/counts/{count.id}").status_code == 200
    assert client.get(f"{BASE}/counts").status_code == 401


# --- Investigations ------------------------------------------------------------------------


@pytest.fixture
def investigation(nurse: User, partner: User, site: Clinic, vials: list[Vial]) -> Investigation:
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
    )
    return Investigation.objects.get()


def test_investigations_list_and_close(
    api_client: Callable[[User], Client],
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    far_nurse: User,
    site: Clinic,
    investigation: Investigation,
) -> None:
    listed = api_client(nurse).get(f"{BASE}/investigations", {"clinic": str(site.id)})
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert item["id"] == str(investigation.id) and item["difference_ml"] == -1
    assert item["difference_mg"] == -50 and item["status"] == "open"
    assert (
        api_client(nurse).get(f"{BASE}/investigations", {"status": "closed"}).json()["count"] == 0
    )
    assert api_client(nurse).get(f"{BASE}/investigations", {"status": "x"}).status_code == 422
    url = f"{BASE}/investigations/{investigation.id}/close"
    good = {"explanation": "Recounted: a 1 mL draw at 14:00 was entered late."}
    for user in (nurse, prescriber):
        assert post(api_client(user), url, good).status_code == 403
    for user in (front_desk, biller):
        assert api_client(user).get(f"{BASE}/investigations").status_code == 403
        assert post(api_client(user), url, good).status_code == 403
    assert post(api_client(far_nurse), url, good).status_code == 404
    short = post(api_client(director), url, {"explanation": "miscount"})
    assert short.status_code == 422 and fields(short) == ["explanation"]
    closed = post(api_client(director), url, good)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == str(director.id)
    assert post(api_client(director), url, good).status_code == 409


# --- Losses -------------------------------------------------------------------------------


def _loss_body(site: Clinic, vials: list[Vial], **extra: Any) -> dict[str, Any]:
    return {
        "clinic": str(site.id),
        "kind": "theft",
        "discovered_at": "2025-01-10T16:00:00-07:00",
        "description": "Vial missing from the locked cabinet at the evening count.",
        "items": [{"vial": str(vials[1].id), "ml": 10}, {"vial": str(vials[0].id), "ml": 1}],
        **extra,
    }


def test_post_loss_answers_due_dates_and_reduces_balances(
    api_client: Callable[[User], Client], nurse: User, site: Clinic, vials: list[Vial]
) -> None:
    response = post(api_client(nurse), f"{BASE}/losses", _loss_body(site, vials))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["notice_due"] == "2025-01-13" and data["form_106_due"] == "2025-02-24"
    assert data["notice_state"] == "overdue" and data["form_106_state"] == "overdue"
    assert sorted((i["vial_label"], i["ml"], i["mg"]) for i in data["items"]) == sorted(
        [(vials[1].label, 10, 500), (vials[0].label, 1, 50)]
    )
    assert Vial.objects.get(pk=vials[1].pk).status == Vial.Status.LOST
    assert Vial.objects.get(pk=vials[0].pk).balance_ml == 7


def test_post_loss_refusals(
    api_client: Callable[[User], Client],
    client: Client,
    nurse: User,
    director: User,
    front_desk: User,
    biller: User,
    far_nurse: User,
    far_vial: Vial,
    site: Clinic,
    vials: list[Vial],
) -> None:
    body = _loss_body(site, vials)
    assert post(client, f"{BASE}/losses", body).status_code == 401
    for user in (front_desk, biller, director):
        assert post(api_client(user), f"{BASE}/losses", body).status_code == 403
    assert post(api_client(far_nurse), f"{BASE}/losses", body).status_code == 404
    elsewhere = _loss_body(site, vials, items=[{"vial": str(far_vial.id), "ml": 1}])
    response = post(api_client(nurse), f"{BASE}/losses", elsewhere)
    assert response.status_code == 422 and fields(response) == ["items.0.vial"]
    too_much = _loss_body(site, vials, items=[{"vial": str(vials[0].id), "ml": 9}])
    response = post(api_client(nurse), f"{BASE}/losses", too_much)
    assert response.status_code == 422 and fields(response) == ["items.0.ml"]
    assert not LossReport.objects.exists()


def test_loss_steps_endpoints(
    api_client: Callable[[User], Client],
    nurse: User,
    director: User,
    front_desk: User,
    far_nurse: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    report = losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="theft",
        discovered_at=timezone.now() - timedelta(hours=3),
        description="Vial missing from the locked cabinet at the morning count.",
        items=[(vials[1], "10")],
    )
    notice_url = f"{BASE}/losses/{report.id}/notice"
    body = {"sent_at": timezone.now().isoformat(), "reference": "E-mail to the field office"}
    assert post(api_client(nurse), notice_url, body).status_code == 403
    assert post(api_client(front_desk), notice_url, body).status_code == 403
    assert post(api_client(far_nurse), notice_url, body).status_code == 404
    early = {**body, "sent_at": (report.discovered_at - timedelta(days=1)).isoformat()}
    response = post(api_client(director), notice_url, early)
    assert response.status_code == 422 and fields(response) == ["sent_at"]
    response = post(api_client(director), notice_url, body)
    assert response.status_code == 200 and response.json()["notice_state"] == "done"
    assert post(api_client(director), notice_url, body).status_code == 409
    form_url = f"{BASE}/losses/{report.id}/form-106"
    response = post(
        api_client(director),
        form_url,
        {"submitted_at": timezone.now().isoformat(), "reference": "TLR-99"},
    )
    assert response.status_code == 200
    assert response.json()["form_106_state"] == "done"
    assert response.json()["form_106_reference"] == "TLR-99"
    listed = api_client(nurse).get(f"{BASE}/losses", {"clinic": str(site.id)})
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert api_client(front_desk).get(f"{BASE}/losses").status_code == 403
    assert api_client(far_nurse).get(f"{BASE}/losses/{report.id}").status_code == 404


# --- Returns ------------------------------------------------------------------------------


def test_post_return(
    api_client: Callable[[User], Client],
    client: Client,
    nurse: User,
    partner: User,
    director: User,
    front_desk: User,
    biller: User,
    far_nurse: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    quarantined = expire_and_quarantine(vials[2])
    body = {
        "vial": str(quarantined.id),
        "receiving_party": "Return Solutions Inc., DEA RR1234567",
        "reference": "RS-2025-0042",
        "reason": "Expired",
        "co_sign": co_sign(partner),
    }
    assert post(client, f"{BASE}/returns", body).status_code == 401
    for user in (front_desk, biller, director):
        assert post(api_client(user), f"{BASE}/returns", body).status_code == 403
    assert post(api_client(far_nurse), f"{BASE}/returns", body).status_code == 404
    selfie = post(api_client(nurse), f"{BASE}/returns", {**body, "co_sign": co_sign(nurse)})
    assert selfie.status_code == 422 and fields(selfie) == ["co_sign.username"]
    response = post(api_client(nurse), f"{BASE}/returns", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["ml"] == 10 and data["mg"] == 500 and data["vial_status"] == "returned"
    assert data["receiving_party"] == "Return Solutions Inc., DEA RR1234567"
    assert data["witness"] == str(partner.id)
    assert LedgerEntry.objects.filter(kind="return", vial=quarantined).count() == 1
    again = post(api_client(nurse), f"{BASE}/returns", body)
    assert again.status_code == 409
