"""/api/v1/protocols and the protocol pages: contract and permissions."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.protocols import services
from ketapath.protocols.models import ProtocolTemplate

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
BASE = "/api/v1/protocols"
NEW = {
    "name": "Chronic pain — IV infusion",
    "indication": "chronic_pain",
    "route": "iv",
    "sessions": 5,
    "min_interval_hours": 24,
    "window_days": 10,
    "mg_per_kg_min": 0.5,
    "mg_per_kg_max": 1.0,
    "cap_mg": 100,
    "dose_minutes": 40,
    "observation_minutes": 60,
    "vitals_offsets": [0, 10, 20, 30, 40, 55, 70, 85, 100],
    "pre_questionnaires": ["pain-nrs", "peg"],
    "reassessment_days": 14,
}


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_list_ships_the_templates_and_is_paginated(api_client: ApiClient, nurse: User) -> None:
    body = api_client(nurse).get(BASE, {"page_size": 2}).json()
    assert body["count"] == 4
    assert len(body["items"]) == 2
    item = body["items"][0]
    for key in ("id", "sessions", "min_interval_hours", "window_days", "chair_minutes", "status"):
        assert key in item


@pytest.mark.parametrize(("persona", "status"), [("therapist", 403), ("front_desk", 403)])
def test_roles_without_protocol_read_get_403(
    request: pytest.FixtureRequest, api_client: ApiClient, persona: str, status: int
) -> None:
    assert api_client(request.getfixturevalue(persona)).get(BASE).status_code == status


def test_anonymous_gets_401(client: Client) -> None:
    assert client.get(BASE).status_code == 401
    assert post(client, BASE, NEW).status_code == 401


def test_director_creates_and_approves(api_client: ApiClient, director: User, site: Clinic) -> None:
    client = api_client(director)
    created = post(client, BASE, NEW)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["version"], body["chair_minutes"]) == ("draft", 1, 100)
    assert body["mg_per_kg_max"] == 1.0
    approved = post(client, f"{BASE}/{body['id']}/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert post(client, f"{BASE}/{body['id']}/approve").status_code == 409
    edited = client.patch(
        f"{BASE}/{body['id']}", {"cap_mg": 90}, content_type="application/json"
    ).json()
    assert (edited["version"], edited["status"], edited["lineage"]) == (2, "draft", body["lineage"])


def test_prescriber_cannot_create_or_approve(
    api_client: ApiClient, prescriber: User, site: Clinic
) -> None:
    client = api_client(prescriber)
    assert post(client, BASE, NEW).status_code == 403
    services.protocols_ship(clinic=site)
    template = ProtocolTemplate.objects.filter(clinic=site).first()
    assert template is not None
    assert client.get(f"{BASE}/{template.id}").status_code == 200
    assert post(client, f"{BASE}/{template.id}/approve").status_code == 403


def test_approving_without_a_dose_is_422(
    api_client: ApiClient, director: User, site: Clinic
) -> None:
    services.protocols_ship(clinic=site)
    template = ProtocolTemplate.objects.filter(clinic=site).first()
    assert template is not None
    response = post(api_client(director), f"{BASE}/{template.id}/approve")
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "mg_per_kg_min",
        "mg_per_kg_max",
        "cap_mg",
    }


def test_a_template_of_another_site_is_404(
    api_client: ApiClient, other_clinic_nurse: User, site: Clinic
) -> None:
    services.protocols_ship(clinic=site)
    template = ProtocolTemplate.objects.filter(clinic=site).first()
    assert template is not None
    assert api_client(other_clinic_nurse).get(f"{BASE}/{template.id}").status_code == 404


def test_above_the_ceiling_is_422_naming_the_field(api_client: ApiClient, director: User) -> None:
    response = post(api_client(director), BASE, {**NEW, "mg_per_kg_max": 4.5})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["mg_per_kg_max"]


@pytest.mark.parametrize(
    ("persona", "status"),
    [("director", 200), ("prescriber", 200), ("nurse", 200), ("therapist", 403), ("biller", 403)],
)
def test_protocol_pages_read(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    site: Clinic,
    persona: str,
    status: int,
) -> None:
    services.protocols_ship(clinic=site)
    client = client_for(request.getfixturevalue(persona))
    assert client.get(reverse("protocols:list")).status_code == status
    template = ProtocolTemplate.objects.filter(clinic=site).first()
    assert template is not None
    url = reverse("protocols:detail", kwargs={"template_id": template.id})
    assert client.get(url).status_code == status


def test_director_edits_and_approves_on_the_pages(
    client_for: Callable[[User], Client], director: User, prescriber: User, site: Clinic
) -> None:
    services.protocols_ship(clinic=site)
    template = ProtocolTemplate.objects.get(clinic=site, name="Chronic pain — initial IM series")
    edit = reverse("protocols:edit", kwargs={"template_id": template.id})
    assert client_for(prescriber).get(edit).status_code == 403
    client = client_for(director)
    form = {
        "name": template.name,
        "indication": "chronic_pain",
        "route": "im",
        "sessions": 3,
        "min_interval_hours": 24,
        "window_days": 7,
        "mg_per_kg_min": "0.5",
        "mg_per_kg_max": "1.5",
        "cap_mg": "100",
        "dose_minutes": 15,
        "observation_minutes": 60,
        "reassessment_days": 7,
        "vitals_offsets": "0, 10, 20, 30, 40, 50, 60",
        "pre_questionnaires": "pain-nrs, peg",
        "post_questionnaires": "",
        "notes": "",
    }
    response = client.post(edit, form)
    assert response.status_code == 200
    assert "Above the site" in response.content.decode()
    form["mg_per_kg_max"] = "0.8"
    assert client.post(edit, form).status_code == 302
    approve = reverse("protocols:approve", kwargs={"template_id": template.id})
    assert client_for(prescriber).post(approve).status_code == 403
    client.post(approve)
    template.refresh_from_db()
    assert template.status == "approved"
