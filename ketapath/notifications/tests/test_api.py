"""API: the outbox list, sending a link, resending, and pre-session instructions."""

import json
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.notifications.channels import LocmemSmsBackend
from ketapath.notifications.models import Message, PatientInstruction
from ketapath.notifications.rendering import LINK_PLACEHOLDER
from ketapath.notifications.services import send_due
from ketapath.patients.models import Patient
from ketapath.portal.models import PatientLink

ApiClient = Callable[[User], Client]
# A raw link token (secrets.token_urlsafe(32)) or anything shaped like one.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{40,}")


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def _links_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/links"


# --- GET /outbox ----------------------------------------------------------------------------


def test_outbox_lists_the_users_sites_with_filters_and_pages(
    api_client: ApiClient,
    nurse: User,
    patient: Patient,
    make_patient: Callable[..., Patient],
    other_site_patient: Patient,
    other_site: Clinic,
    make_message: Callable[..., Message],
    make_reachable: Callable[[Patient], Patient],
) -> None:
    make_reachable(patient)
    sent = make_message(patient)
    unreachable = make_patient()
    not_sent = make_message(unreachable)
    send_due()
    queued = make_message(patient, due_at=timezone.now() + timezone.timedelta(days=2))
    make_message(other_site_patient, clinic=other_site)

    client = api_client(nurse)
    body = client.get("/api/v1/outbox").json()
    assert body["count"] == 3
    ids = {item["id"] for item in body["items"]}
    assert ids == {str(sent.id), str(not_sent.id), str(queued.id)}
    item = next(i for i in body["items"] if i["id"] == str(sent.id))
    assert {"id", "channel", "kind", "due_at", "sent_at", "status", "subject", "body"} <= set(item)
    assert item["status"] == "sent" and item["channel"] == "sms"
    assert item["patient"] == str(patient.id) and item["attempts"] == 1
    assert item["due_at"].endswith(("-07:00", "-06:00"))
    failed = client.get("/api/v1/outbox", {"status": "failed"}).json()
    assert [i["id"] for i in failed["items"]] == [str(not_sent.id)]
    assert failed["items"][0]["status"] == "not_sent"
    assert "not allowed on the patient's record" in failed["items"][0]["status_reason"]
    assert client.get("/api/v1/outbox", {"status": "queued"}).json()["count"] == 1
    assert client.get("/api/v1/outbox", {"patient": str(patient.id)}).json()["count"] == 2
    assert client.get("/api/v1/outbox", {"clinic": str(other_site.id)}).json()["count"] == 0
    first = client.get("/api/v1/outbox", {"page_size": 2}).json()
    second = client.get("/api/v1/outbox", {"page_size": 2, "page": 2}).json()
    assert first["count"] == second["count"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert AuditEvent.objects.filter(
        object_type="message_list", action=AuditEvent.Action.READ, username="nurse"
    ).exists()


def test_outbox_status_outside_the_list_is_422_naming_status(
    api_client: ApiClient, nurse: User
) -> None:
    response = api_client(nurse).get("/api/v1/outbox", {"status": "lost"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


def test_outbox_needs_login_and_stays_in_the_users_sites(
    client: Client,
    api_client: ApiClient,
    other_clinic_nurse: User,
    patient: Patient,
    make_message: Callable[..., Message],
) -> None:
    make_message(patient)
    assert client.get("/api/v1/outbox").status_code == 401
    other = api_client(other_clinic_nurse)
    assert other.get("/api/v1/outbox").json()["count"] == 0
    assert other.get("/api/v1/outbox", {"patient": str(patient.id)}).json()["count"] == 0


# --- POST /patients/{id}/links ---------------------------------------------------------------


def test_link_send_answers_no_address_and_stores_the_placeholder(
    api_client: ApiClient,
    front_desk: User,
    patient: Patient,
    make_reachable: Callable[[Patient], Patient],
    site: Clinic,
) -> None:
    make_reachable(patient)
    response = _post(
        api_client(front_desk),
        _links_url(patient),
        {"purpose": "questionnaires", "instruments": ["phq-9", "gad-7"]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "expires_at"} <= set(body)
    assert body["clinic"] == str(site.id)
    text = response.content.decode()
    assert not TOKEN_LIKE.search(text)
    assert "/p/" not in text and "http" not in text
    link = PatientLink.objects.get(id=body["id"])
    message = Message.objects.get(id=body["message"])
    assert message.kind == "check_in_link" and message.status == Message.Status.QUEUED
    assert LINK_PLACEHOLDER in message.body

    send_due()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    # The patient's text carries the address; the stored row never does.
    assert "/p/" in LocmemSmsBackend.outbox[-1].body
    assert LINK_PLACEHOLDER in message.body and "/p/" not in message.body
    listed = api_client(front_desk).get("/api/v1/outbox", {"patient": str(patient.id)}).json()
    assert LINK_PLACEHOLDER in listed["items"][0]["body"]
    assert "/p/" not in json.dumps(listed)
    assert link.dedupe_key == message.dedupe_key


def test_link_send_permissions_and_input(
    client: Client,
    api_client: ApiClient,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    patient: Patient,
) -> None:
    url = _links_url(patient)
    good = {"purpose": "diary"}
    assert _post(client, url, good).status_code == 401
    assert _post(api_client(biller), url, good).status_code == 403
    assert _post(api_client(other_clinic_nurse), url, good).status_code == 404
    desk = api_client(front_desk)
    bad_purpose = _post(desk, url, {"purpose": "everything"})
    assert bad_purpose.status_code == 422
    assert [e["field"] for e in bad_purpose.json()["errors"]] == ["purpose"]
    nothing_asked = _post(desk, url, {"purpose": "questionnaires", "instruments": []})
    assert nothing_asked.status_code == 422
    assert [e["field"] for e in nothing_asked.json()["errors"]] == ["instruments"]
    unknown = _post(desk, url, {"purpose": "questionnaires", "instruments": ["iq-test"]})
    assert unknown.status_code == 422
    assert not PatientLink.objects.exists() and not Message.objects.exists()
    diary = _post(desk, url, good)
    assert diary.status_code == 201
    assert Message.objects.get().kind == "diary_link"


# --- POST /messages/{id}/resend --------------------------------------------------------------


def test_resend_queues_a_new_message_under_the_old_links_key(
    api_client: ApiClient,
    front_desk: User,
    patient: Patient,
    make_reachable: Callable[[Patient], Patient],
) -> None:
    desk = api_client(front_desk)
    made = _post(desk, _links_url(patient), {"purpose": "questionnaires", "instruments": ["peg"]})
    first_link = PatientLink.objects.get(id=made.json()["id"])
    send_due()  # no consent yet: not sent
    old = Message.objects.get()
    assert old.status == Message.Status.NOT_SENT
    make_reachable(patient)

    response = _post(desk, f"/api/v1/messages/{old.id}/resend")
    assert response.status_code == 201, response.content
    new = Message.objects.get(id=response.json()["id"])
    assert new.id != old.id and new.status == Message.Status.QUEUED
    assert new.dedupe_key == old.dedupe_key == first_link.dedupe_key
    assert response.json()["status"] == "queued"
    assert LINK_PLACEHOLDER in response.json()["body"]
    assert not TOKEN_LIKE.search(response.content.decode())
    listed = desk.get("/api/v1/outbox", {"status": "failed"}).json()
    assert listed["items"][0]["superseded"] is True

    send_due()
    new.refresh_from_db()
    first_link.refresh_from_db()
    assert new.status == Message.Status.SENT
    assert new.link_id is not None and new.link_id != first_link.id
    assert first_link.revoked_at is not None  # the earlier link stops working
    assert PatientLink.objects.get(id=new.link_id).instruments == ["peg"]


def test_resend_of_a_diary_link_made_by_staff_gets_a_day(
    api_client: ApiClient,
    front_desk: User,
    patient: Patient,
    make_reachable: Callable[[Patient], Patient],
) -> None:
    desk = api_client(front_desk)
    _post(desk, _links_url(patient), {"purpose": "diary"})
    make_reachable(patient)
    send_due()
    old = Message.objects.get()
    response = _post(desk, f"/api/v1/messages/{old.id}/resend")
    assert response.status_code == 201
    send_due()
    new = Message.objects.get(id=response.json()["id"])
    assert new.status == Message.Status.SENT, new.last_error
    assert PatientLink.objects.get(id=new.link_id).day is not None


def test_resend_permissions(
    client: Client,
    api_client: ApiClient,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    director: User,
    patient: Patient,
    make_message: Callable[..., Message],
) -> None:
    _post(api_client(front_desk), _links_url(patient), {"purpose": "diary"})
    link_message = Message.objects.get()
    url = f"/api/v1/messages/{link_message.id}/resend"
    assert _post(client, url).status_code == 401
    assert _post(api_client(other_clinic_nurse), url).status_code == 404
    assert _post(api_client(biller), url).status_code == 403
    reminder = make_message(patient)
    refused = _post(api_client(front_desk), f"/api/v1/messages/{reminder.id}/resend")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["message"]
    staff = make_message(recipient_user=director, kind="staff_alert")
    assert _post(api_client(front_desk), f"/api/v1/messages/{staff.id}/resend").status_code == 422
    assert Message.objects.count() == 3


# --- Instructions ---------------------------------------------------------------------------


def test_instructions_add_list_withdraw(
    client: Client,
    api_client: ApiClient,
    prescriber: User,
    nurse: User,
    patient: Patient,
) -> None:
    url = f"/api/v1/patients/{patient.id}/instructions"
    doc = api_client(prescriber)
    created = _post(doc, url, {"text": "Take your morning tablets with a sip of water."})
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["written_by"] == str(prescriber.id) and item["withdrawn_at"] is None
    listing = api_client(nurse).get(url).json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == item["id"]
    assert client.get(url).status_code == 401

    withdraw = f"/api/v1/instructions/{item['id']}/withdraw"
    assert _post(api_client(nurse), withdraw).status_code == 403
    done = _post(doc, withdraw)
    assert done.status_code == 200 and done.json()["withdrawn_at"] is not None
    assert _post(doc, withdraw).status_code == 409
    assert api_client(nurse).get(url).json()["count"] == 0


def test_instruction_privacy_and_permissions(
    api_client: ApiClient,
    prescriber: User,
    nurse: User,
    other_clinic_nurse: User,
    patient: Patient,
) -> None:
    url = f"/api/v1/patients/{patient.id}/instructions"
    leak = _post(api_client(prescriber), url, {"text": "No ketamine if you feel unwell."})
    assert leak.status_code == 422
    assert [e["field"] for e in leak.json()["errors"]] == ["text"]
    assert "ketamine" in leak.json()["errors"][0]["rule"]
    empty = _post(api_client(prescriber), url, {"text": "   "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "text"
    assert _post(api_client(nurse), url, {"text": "Bring your glasses."}).status_code == 403
    assert _post(api_client(other_clinic_nurse), url, {"text": "x"}).status_code == 404
    assert api_client(other_clinic_nurse).get(url).status_code == 404
    assert not PatientInstruction.objects.exists()
    made = _post(api_client(prescriber), url, {"text": "Bring your glasses."}).json()
    withdraw = f"/api/v1/instructions/{made['id']}/withdraw"
    assert _post(api_client(other_clinic_nurse), withdraw).status_code == 404
