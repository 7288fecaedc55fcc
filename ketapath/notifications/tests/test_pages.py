"""Pages: the site's outbox, one patient's messages (send a link, how to reach them,
pre-session instructions), resending, and the Messages item in the navigation."""

from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.notifications.models import Message, PatientInstruction
from ketapath.notifications.rendering import LINK_PLACEHOLDER
from ketapath.notifications.services import instruction_add, send_due
from ketapath.patients.models import Patient
from ketapath.portal.models import PatientLink
from ketapath.portal.services import link_send

ClientFor = Callable[[User], Client]
OUTBOX = "/outbox/"


def _messages_url(patient: Patient) -> str:
    return reverse("notifications:patient_messages", args=[patient.id])


def _send_link_url(patient: Patient) -> str:
    return reverse("portal_staff:link_send", args=[patient.id])


# --- The site's outbox ----------------------------------------------------------------------


def test_outbox_page_permissions_and_scope(
    client: Client,
    client_for: ClientFor,
    make_user: Callable[..., User],
    site: Clinic,
    nurse: User,
    other_clinic_nurse: User,
    patient: Patient,
    other_site_patient: Patient,
    other_site: Clinic,
    make_message: Callable[..., Message],
) -> None:
    assert reverse("notifications:outbox") == OUTBOX
    make_message(patient)
    make_message(other_site_patient, clinic=other_site)
    assert client.get(OUTBOX).status_code == 302
    nobody = make_user("nobody", site)  # no membership: no site to show
    assert client_for(nobody).get(OUTBOX).status_code == 403
    page = client_for(nurse).get(OUTBOX)
    text = page.content.decode()
    assert page.status_code == 200
    assert patient.display_name in text and other_site_patient.display_name not in text
    assert "America/Denver" in text
    other = client_for(other_clinic_nurse).get(OUTBOX).content.decode()
    assert other_site_patient.display_name in other and patient.display_name not in other
    event = AuditEvent.objects.filter(object_type="message_list", username="nurse").latest("time")
    assert str(patient.id) in event.detail["patients"]


def test_outbox_status_tabs_failed_badge_and_resend_button(
    client_for: ClientFor,
    front_desk: User,
    biller: User,
    patient: Patient,
    make_patient: Callable[..., Patient],
    make_message: Callable[..., Message],
    make_reachable: Callable[[Patient], Patient],
    site: Clinic,
) -> None:
    reachable = make_reachable(make_patient(given_name="Sam", family_name="Sent"))
    make_message(reachable)
    link = link_send(user=front_desk, patient=patient, clinic=site, purpose="diary", instruments=[])
    send_due()  # the reminder is sent; the link cannot reach its patient
    make_message(reachable, due_at=timezone.now() + timezone.timedelta(days=1))
    cancelled = make_message(
        reachable, status=Message.Status.CANCELLED, status_reason="Visit cancelled."
    )

    desk = client_for(front_desk)
    waiting = desk.get(OUTBOX).content.decode()  # the default tab
    assert "Waiting to send</span>" in waiting and "Not sent</span>" not in waiting
    everything = desk.get(OUTBOX, {"status": "all"}).content.decode()
    assert "Waiting to send</span>" in everything and "Not sent</span>" in everything
    assert "Daily check-in link" in everything and "Visit reminder" in everything
    assert "1 message to patients failed" in everything
    failed = desk.get(OUTBOX, {"status": "failed"}).content.decode()
    assert patient.display_name in failed and "Sent, Sam" not in failed
    assert "not allowed on the patient&#x27;s record" in failed
    assert "Resend" in failed and "Contact details and messages" in failed
    assert reverse("notifications:resend", args=[link.message_id]) in failed
    sent = desk.get(OUTBOX, {"status": "sent"}).content.decode()
    assert "Sent, Sam" in sent and patient.display_name not in sent
    gone = desk.get(OUTBOX, {"status": "cancelled"}).content.decode()
    assert cancelled.status_reason in gone
    billing = client_for(biller).get(OUTBOX, {"status": "failed"}).content.decode()
    assert "Resend" not in billing and patient.display_name in billing
    nav = desk.get("/").content.decode()
    assert 'href="/outbox/"' in nav and '1<span class="visually-hidden"> failed' in nav


def test_outbox_page_is_paginated_and_its_queries_do_not_grow(
    client_for: ClientFor,
    nurse: User,
    director: User,
    make_patient: Callable[..., Patient],
    make_message: Callable[..., Message],
) -> None:
    c = client_for(nurse)
    make_message(make_patient())
    make_message(recipient_user=director, kind="staff_alert")
    c.get(OUTBOX)
    with CaptureQueriesContext(connection) as few:
        c.get(OUTBOX)
    for _ in range(28):
        make_message(make_patient())
    with CaptureQueriesContext(connection) as many:
        page = c.get(OUTBOX)
    assert len(many) == len(few)
    text = page.content.decode()
    assert "1–25 of 30" in text and "page=2" in text
    assert "26–30 of 30" in c.get(OUTBOX, {"page": 2}).content.decode()


def test_resend_from_the_page(
    client: Client,
    client_for: ClientFor,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    link_send(user=front_desk, patient=patient, clinic=site, purpose="diary", instruments=[])
    send_due()
    old = Message.objects.get()
    url = reverse("notifications:resend", args=[old.id])
    assert client.post(url).status_code == 302 and Message.objects.count() == 1
    assert client_for(other_clinic_nurse).post(url).status_code == 404
    assert client_for(biller).post(url).status_code == 403
    assert client_for(front_desk).get(url).status_code == 405
    response = client_for(front_desk).post(url, {"next": _messages_url(patient)})
    assert response.status_code == 302 and response["Location"] == _messages_url(patient)
    new = Message.objects.exclude(id=old.id).get()
    assert new.status == Message.Status.QUEUED and new.dedupe_key == old.dedupe_key
    # Once resent, the old failure no longer counts and offers no second resend.
    failed = client_for(front_desk).get(OUTBOX, {"status": "failed"}).content.decode()
    assert "A newer message replaced this one." in failed and url not in failed


# --- One patient's messages -----------------------------------------------------------------


def test_patient_messages_page_permissions(
    client: Client,
    client_for: ClientFor,
    nurse: User,
    front_desk: User,
    biller: User,
    prescriber: User,
    other_clinic_nurse: User,
    patient: Patient,
    make_message: Callable[..., Message],
) -> None:
    make_message(patient)
    url = _messages_url(patient)
    assert client.get(url).status_code == 302
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    page = client_for(nurse).get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'class="patient-banner"' in text and "Visit reminder" in text
    assert "No channel" in text and "not allowed on the patient&#x27;s record" in text
    assert "Send questionnaire link" in text  # nurses send links
    assert 'name="text"' not in text  # but do not write instructions
    assert "Send questionnaire link" not in client_for(biller).get(url).content.decode()
    assert 'name="text"' in client_for(prescriber).get(url).content.decode()
    assert "Edit contact details" in client_for(front_desk).get(url).content.decode()
    assert AuditEvent.objects.filter(
        object_type="message_list", patient_id=patient.id, username="nurse"
    ).exists()
    chart = client_for(nurse).get(reverse("chart:patient", args=[patient.id])).content.decode()
    assert f'href="{url}"' in chart


def test_patient_messages_shows_the_channel_when_reachable(
    client_for: ClientFor,
    nurse: User,
    patient: Patient,
    make_reachable: Callable[[Patient], Patient],
) -> None:
    make_reachable(patient)
    text = client_for(nurse).get(_messages_url(patient)).content.decode()
    assert "Text message</span> to (303) 555-1001" in text


def test_send_a_link_from_the_page(
    client: Client,
    client_for: ClientFor,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    patient: Patient,
) -> None:
    url = _send_link_url(patient)
    data = {"purpose": "questionnaires", "instruments": ["phq-9", "peg"]}
    assert client.post(url, data).status_code == 302 and not Message.objects.exists()
    assert client_for(other_clinic_nurse).post(url, data).status_code == 404
    assert client_for(biller).post(url, data).status_code == 403
    desk = client_for(front_desk)
    assert desk.get(url).status_code == 405
    missing = desk.post(url, {"purpose": "questionnaires"})
    assert missing.status_code == 200
    assert "Tick at least one questionnaire." in missing.content.decode()
    assert not PatientLink.objects.exists() and not Message.objects.exists()

    sent = desk.post(url, data, follow=True)
    text = sent.content.decode()
    assert sent.redirect_chain[-1][0] == _messages_url(patient)
    assert "cannot go out yet" in text  # the patient has no channel yet
    link = PatientLink.objects.get()
    assert link.instruments == ["phq-9", "peg"] and link.created_by == front_desk
    message = Message.objects.get()
    assert LINK_PLACEHOLDER in message.body and "/p/" not in message.body
    assert "/p/" not in text
    diary = desk.post(url, {"purpose": "diary", "instruments": ["phq-9"]})
    assert diary.status_code == 302
    assert PatientLink.objects.filter(purpose="diary", instruments=[]).exists()


def test_instructions_on_the_page(
    client_for: ClientFor,
    prescriber: User,
    nurse: User,
    other_clinic_nurse: User,
    patient: Patient,
) -> None:
    url = _messages_url(patient)
    assert client_for(nurse).post(url, {"text": "Bring your glasses."}).status_code == 403
    doc = client_for(prescriber)
    refused = doc.post(url, {"text": "Skip the ketamine if you have a cold."})
    assert refused.status_code == 200
    assert "leave out ketamine" in refused.content.decode()
    assert not PatientInstruction.objects.exists()
    saved = doc.post(url, {"text": "Take your morning tablets with a sip of water."})
    assert saved.status_code == 302
    instruction = PatientInstruction.objects.get()
    assert instruction.written_by == prescriber
    assert "Take your morning tablets" in client_for(nurse).get(url).content.decode()
    assert client_for(other_clinic_nurse).post(url, {"text": "x"}).status_code == 404


def test_withdraw_an_instruction_with_confirmation(
    client: Client,
    client_for: ClientFor,
    prescriber: User,
    nurse: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    instruction = instruction_add(
        user=prescriber, patient=patient, clinic=site, text="Bring your glasses."
    )
    url = reverse("notifications:instruction_withdraw", args=[patient.id, instruction.id])
    assert client.get(url).status_code == 302
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert client_for(nurse).get(url).status_code == 403
    doc = client_for(prescriber)
    confirm = doc.get(url)
    assert confirm.status_code == 200 and "Bring your glasses." in confirm.content.decode()
    unconfirmed = doc.post(url, {})
    assert (
        unconfirmed.status_code == 200
        and "Tick the box to confirm." in unconfirmed.content.decode()
    )
    instruction.refresh_from_db()
    assert instruction.withdrawn_at is None
    done = doc.post(url, {"confirm": "on"})
    assert done.status_code == 302
    instruction.refresh_from_db()
    assert instruction.withdrawn_by == prescriber
    assert "Bring your glasses." not in doc.get(_messages_url(patient)).content.decode()


def test_navigation_shows_messages_to_every_role_at_the_site(
    client_for: ClientFor, make_user: Callable[..., User], site: Clinic
) -> None:
    for role in (Role.FRONT_DESK, Role.NURSE, Role.BILLER):
        user = make_user(f"u-{role}", site, role)
        text = client_for(user).get("/").content.decode()
        assert '<a href="/outbox/">Messages</a>' in text
