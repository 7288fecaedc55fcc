"""The outbox core: nothing before its due time, each message sent once however the
periodic task is retried or overlapped, back-off and final failure, interrupted sends,
the channel chosen at sending time from the patient's contact preferences and consents,
replacing by key, links made only in the sent text, and the audit trail."""

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.errors import Forbidden, InvalidInput
from ketapath.notifications import channels, services
from ketapath.notifications.channels import LocmemSmsBackend, SendError, SentSms
from ketapath.notifications.models import Message
from ketapath.notifications.rendering import LINK_PLACEHOLDER
from ketapath.notifications.services import (
    MAX_ATTEMPTS,
    MESSAGE_STALE,
    RETRY_MINUTES,
    STALE_SENDING,
    instruction_add,
    instruction_withdraw,
    message_queue,
    message_resend,
    messages_cancel,
    patient_channel,
    send_due,
)
from ketapath.patients.models import Consent, ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import consent_record, consent_withdraw
from ketapath.portal import services as portal_services
from ketapath.portal.models import PatientLink

pytestmark = pytest.mark.django_db

URL = re.compile(r"(https?://\S+?)/p/([A-Za-z0-9_-]+)/")


@pytest.fixture
def sms(settings: Any) -> Iterator[list[SentSms]]:
    settings.SMS_BACKEND = "ketapath.notifications.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


def consent(nurse: User, patient: Patient, site: Clinic, kind: str) -> Consent:
    return consent_record(
        user=nurse, patient=patient, clinic=site, kind=kind, signed_by_name=patient.given_name
    )


@pytest.fixture
def reachable(
    make_patient: Callable[..., Patient],
    nurse: User,
    site: Clinic,
    consent_documents: dict[str, ConsentDocument],
) -> Patient:
    """A patient who prefers texts and allows both texts and e-mail, with both consents."""
    patient = make_patient(
        email="alex@example.org",
        preferred_contact=Patient.ContactMethod.SMS,
        contact_by_sms=True,
        contact_by_email=True,
    )
    consent(nurse, patient, site, ConsentKind.SMS_CONTACT)
    consent(nurse, patient, site, ConsentKind.EMAIL_CONTACT)
    return patient


def notice(
    site: Clinic, patient: Patient, *, due: datetime | None = None, key: str = ""
) -> Message:
    return message_queue(
        clinic=site,
        kind="appointment_cancelled",
        context={
            "first_name": patient.given_name,
            "clinic_name": site.name,
            "clinic_phone": site.phone,
            "when": "Tue 3 Jun, 10:00 MDT",
        },
        due_at=due or timezone.now(),
        patient=patient,
        dedupe_key=key,
    )


def link_message(site: Clinic, patient: Patient, *, key: str = "measure:test") -> Message:
    return message_queue(
        clinic=site,
        kind="check_in_link",
        context={
            "first_name": patient.given_name,
            "clinic_name": site.name,
            "clinic_phone": site.phone,
            "time_zone": site.time_zone,
            "minutes": 4,
            "due": "",
        },
        due_at=timezone.now(),
        patient=patient,
        dedupe_key=key,
        link_request={
            "purpose": "questionnaires",
            "instruments": ["pain-nrs", "peg"],
            "context": "follow_up",
        },
    )


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


# --- Due time and exactly-once sending ---------------------------------------------------


def test_nothing_is_sent_before_due_at(site: Clinic, reachable: Patient, sms: list) -> None:
    due = timezone.now() + timedelta(hours=48)
    message = notice(site, reachable, due=due)

    report = send_due(now=due - timedelta(seconds=1))
    assert report.sent == 0
    assert sms == []
    assert reload(message).status == Message.Status.QUEUED

    report = send_due(now=due)
    assert report.sent == 1
    assert len(sms) == 1
    sent = reload(message)
    assert sent.status == Message.Status.SENT
    assert sent.channel == "sms"
    assert sent.provider_id == sms[0].provider_id
    assert sent.sent_at is not None and sent.attempts == 1
    assert sms[0].to == reachable.phone
    assert sms[0].body == sent.body


def test_a_retried_task_sends_each_message_once(
    site: Clinic, reachable: Patient, sms: list
) -> None:
    messages = [notice(site, reachable) for _ in range(3)]
    now = timezone.now()

    first = send_due(now=now)
    second = send_due(now=now)

    assert first.sent == 3 and second.sent == 0
    assert len(sms) == 3
    stored = [reload(m) for m in messages]
    assert all(m.status == Message.Status.SENT for m in stored)
    assert sorted(m.provider_id for m in stored) == sorted(s.provider_id for s in sms)
    assert len({m.provider_id for m in stored}) == 3


def test_an_overlapping_run_does_not_send_a_claimed_row_again(
    site: Clinic, reachable: Patient, sms: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [notice(site, reachable) for _ in range(2)]
    now = timezone.now()
    real_send = channels.send_sms
    inner: list[services.SendReport] = []

    def send_and_overlap(*, to: str, body: str) -> str:
        # A second worker starts while the first is still talking to the provider.
        if not inner:
            inner.append(send_due(now=now))
        return real_send(to=to, body=body)

    monkeypatch.setattr(channels, "send_sms", send_and_overlap)
    outer = send_due(now=now)

    assert inner[0] == services.SendReport()
    assert outer.sent == 2
    assert len(sms) == 2
    assert {s.provider_id for s in sms} == {reload(m).provider_id for m in messages}
    assert all(reload(m).status == Message.Status.SENT for m in messages)


def test_a_row_claimed_by_another_worker_is_not_claimed_again(
    site: Clinic, reachable: Patient, sms: list
) -> None:
    message = notice(site, reachable)
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING, claimed_at=now)

    report = send_due(now=now + timedelta(minutes=1))

    assert report == services.SendReport()
    assert sms == []
    assert reload(message).status == Message.Status.SENDING


# --- Failures, back-off and interrupted sends ---------------------------------------------


def failing(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    def refuse(**kwargs: Any) -> str:
        calls.append(kwargs["to"])
        raise SendError("The provider is unavailable.")

    monkeypatch.setattr(channels, "send_sms", refuse)
    monkeypatch.setattr(channels, "send_email", refuse)


def test_a_failed_send_waits_five_minutes_then_retries(
    site: Clinic, reachable: Patient, sms: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    failing(monkeypatch, calls)
    message = notice(site, reachable)
    now = timezone.now()

    report = send_due(now=now)

    assert report.retried == 1 and report.sent == 0
    row = reload(message)
    assert row.status == Message.Status.QUEUED
    assert row.attempts == 1
    assert row.next_attempt_at == now + timedelta(minutes=5)
    assert "SendError" in row.last_error and "unavailable" in row.last_error
    assert row.provider_id == "" and row.sent_at is None

    send_due(now=now + timedelta(minutes=4, seconds=59))
    assert len(calls) == 1
    assert reload(message).attempts == 1

    # The provider is back: the next try sends it.
    monkeypatch.undo()
    report = send_due(now=now + timedelta(minutes=5))
    assert report.sent == 1
    row = reload(message)
    assert row.status == Message.Status.SENT and row.attempts == 2
    assert row.provider_id == sms[0].provider_id


def test_after_the_last_attempt_the_message_is_failed(
    site: Clinic, reachable: Patient, sms: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    failing(monkeypatch, calls)
    message = notice(site, reachable)
    now = timezone.now()

    expected_waits = [timedelta(minutes=m) for m in RETRY_MINUTES]
    for attempt in range(1, MAX_ATTEMPTS):
        report = send_due(now=now)
        assert report.retried == 1
        row = reload(message)
        assert row.attempts == attempt
        assert row.next_attempt_at == now + expected_waits[attempt - 1]
        # Not before the back-off is over.
        assert send_due(now=row.next_attempt_at - timedelta(seconds=1)).retried == 0
        now = row.next_attempt_at

    report = send_due(now=now)
    assert report.failed == 1
    row = reload(message)
    assert row.status == Message.Status.FAILED
    assert row.attempts == MAX_ATTEMPTS == 5
    assert row.next_attempt_at is None
    assert "unavailable" in row.last_error
    assert len(calls) == MAX_ATTEMPTS

    # Failed is final: nothing tries again, however late.
    send_due(now=now + timedelta(days=2))
    assert len(calls) == MAX_ATTEMPTS
    assert sms == []


def test_a_row_stuck_sending_turns_failed_and_is_never_resent(
    site: Clinic, reachable: Patient, sms: list
) -> None:
    now = timezone.now()
    stuck = notice(site, reachable)
    recent = notice(site, reachable)
    Message.objects.filter(pk=stuck.pk).update(
        status=Message.Status.SENDING, claimed_at=now - STALE_SENDING - timedelta(seconds=1)
    )
    Message.objects.filter(pk=recent.pk).update(
        status=Message.Status.SENDING, claimed_at=now - STALE_SENDING + timedelta(minutes=1)
    )

    report = send_due(now=now)

    assert report.stale == 1 and report.sent == 0
    row = reload(stuck)
    assert row.status == Message.Status.FAILED
    assert row.last_error == MESSAGE_STALE
    assert "unknown" in row.last_error and "not resent" in row.last_error
    assert reload(recent).status == Message.Status.SENDING
    assert AuditEvent.objects.filter(
        object_type="message", object_id=str(stuck.id), detail__change="interrupted"
    ).exists()

    send_due(now=now + timedelta(hours=1))
    assert reload(stuck).status == Message.Status.FAILED
    assert sms == []


# --- Which channel -----------------------------------------------------------------------


def test_a_patient_who_prefers_texts_gets_a_text(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    message = notice(site, reachable)
    send_due()
    assert reload(message).channel == "sms"
    assert len(sms) == 1 and mailoutbox == []


def test_a_patient_who_prefers_email_gets_an_email(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    Patient.objects.filter(pk=reachable.pk).update(preferred_contact=Patient.ContactMethod.EMAIL)
    message = notice(site, reachable)
    send_due()
    row = reload(message)
    assert row.channel == "email"
    assert sms == []
    assert len(mailoutbox) == 1
    sent = mailoutbox[0]
    assert sent.to == ["alex@example.org"]
    assert sent.subject == row.subject
    assert row.provider_id == sent.extra_headers["Message-ID"]


def test_an_sms_opt_out_falls_back_to_email(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    Patient.objects.filter(pk=reachable.pk).update(contact_by_sms=False)
    message = notice(site, reachable)
    send_due()
    assert reload(message).channel == "email"
    assert sms == [] and len(mailoutbox) == 1


def test_an_sms_opt_out_without_email_is_not_sent_with_the_reason(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    Patient.objects.filter(pk=reachable.pk).update(contact_by_sms=False, contact_by_email=False)
    message = notice(site, reachable)
    report = send_due()
    assert report.not_sent == 1
    row = reload(message)
    assert row.status == Message.Status.NOT_SENT
    assert "text messages not allowed on the patient's record" in row.status_reason
    assert "e-mail not allowed on the patient's record" in row.status_reason
    assert sms == [] and mailoutbox == []
    # Not sent is an outcome, not a failure to retry.
    send_due(now=timezone.now() + timedelta(hours=1))
    assert reload(message).status == Message.Status.NOT_SENT and sms == []


def test_no_address_at_all_is_not_sent(
    site: Clinic, make_patient: Callable[..., Patient], sms: list, mailoutbox: list
) -> None:
    patient = make_patient(phone="", email="", contact_by_sms=True, contact_by_email=True)
    message = notice(site, patient)
    send_due()
    row = reload(message)
    assert row.status == Message.Status.NOT_SENT
    assert "no mobile number" in row.status_reason
    assert "no e-mail address" in row.status_reason


@pytest.mark.parametrize("how", ["withdrawn", "expired", "never"])
def test_without_a_current_consent_nothing_is_sent(
    how: str,
    site: Clinic,
    reachable: Patient,
    nurse: User,
    sms: list,
    mailoutbox: list,
) -> None:
    # E-mail is not allowed, so the text-message consent alone decides.
    Patient.objects.filter(pk=reachable.pk).update(contact_by_email=False)
    sms_consent = Consent.objects.get(patient=reachable, kind=ConsentKind.SMS_CONTACT)
    if how == "withdrawn":
        consent_withdraw(user=nurse, consent=sms_consent, reason="Asked for no texts")
    elif how == "expired":
        Consent.objects.filter(pk=sms_consent.pk).update(
            signed_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(minutes=1),
        )
    else:
        Consent.objects.filter(pk=sms_consent.pk).delete()
    message = notice(site, reachable)
    send_due()
    row = reload(message)
    assert row.status == Message.Status.NOT_SENT
    assert "no current consent to text messages" in row.status_reason
    assert sms == [] and mailoutbox == []


def test_the_latest_consent_decides(
    site: Clinic, reachable: Patient, nurse: User, sms: list
) -> None:
    old = Consent.objects.get(patient=reachable, kind=ConsentKind.SMS_CONTACT)
    Consent.objects.filter(pk=old.pk).update(
        signed_at=timezone.now() - timedelta(days=3),
        withdrawn_at=timezone.now() - timedelta(days=2),
    )
    assert patient_channel(reachable, timezone.now())[0] == "email"
    newer = consent(nurse, reachable, site, ConsentKind.SMS_CONTACT)
    assert patient_channel(reachable, timezone.now()) == ("sms", reachable.phone)
    consent_withdraw(user=nurse, consent=newer, reason="No texts after all")
    assert patient_channel(reachable, timezone.now())[0] == "email"


def test_preferences_changed_after_queueing_are_respected(
    site: Clinic, reachable: Patient, nurse: User, sms: list, mailoutbox: list
) -> None:
    message = notice(site, reachable)
    # Between queueing and sending the patient withdraws both contact consents.
    for kind in (ConsentKind.SMS_CONTACT, ConsentKind.EMAIL_CONTACT):
        consent_withdraw(
            user=nurse,
            consent=Consent.objects.get(patient=reachable, kind=kind),
            reason="Asked for no contact",
        )
    report = send_due()
    assert report.not_sent == 1
    row = reload(message)
    assert row.status == Message.Status.NOT_SENT
    assert "no current consent to text messages" in row.status_reason
    assert "no current consent to e-mail" in row.status_reason
    assert sms == [] and mailoutbox == []


def test_an_opt_out_after_queueing_switches_the_channel(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    message = notice(site, reachable)
    Patient.objects.filter(pk=reachable.pk).update(contact_by_sms=False)
    send_due()
    assert reload(message).channel == "email"
    assert sms == [] and len(mailoutbox) == 1


def test_staff_messages_go_by_email_or_not_at_all(
    site: Clinic, director: User, prescriber: User, sms: list, mailoutbox: list
) -> None:
    User.objects.filter(pk=director.pk).update(email="director@example.org")
    director.refresh_from_db()
    context = {
        "first_name": "Dana",
        "clinic_name": site.name,
        "when": "Sat 7 Jun, 22:10 MDT",
        "alerts_url": "https://clinic.example.org/alerts/",
    }
    with_email = message_queue(
        clinic=site,
        kind="staff_alert",
        context=context,
        due_at=timezone.now(),
        recipient_user=director,
    )
    without = message_queue(
        clinic=site,
        kind="staff_alert",
        context=context,
        due_at=timezone.now(),
        recipient_user=prescriber,
    )
    send_due()
    assert reload(with_email).status == Message.Status.SENT
    assert mailoutbox[0].to == ["director@example.org"]
    row = reload(without)
    assert row.status == Message.Status.NOT_SENT
    assert "no e-mail address" in row.status_reason
    assert sms == []


# --- Replacing by key --------------------------------------------------------------------


def test_the_same_key_replaces_a_queued_message_and_leaves_a_sent_one(
    site: Clinic, reachable: Patient, sms: list
) -> None:
    now = timezone.now()
    earlier = notice(site, reachable, due=now + timedelta(days=2), key="reminder:a1")
    newer = notice(site, reachable, due=now + timedelta(days=3), key="reminder:a1")
    other = notice(site, reachable, due=now + timedelta(days=2), key="reminder:a2")

    assert reload(earlier).status == Message.Status.CANCELLED
    assert reload(earlier).status_reason == "Replaced by a newer message."
    assert reload(newer).status == Message.Status.QUEUED
    assert reload(other).status == Message.Status.QUEUED

    send_due(now=now + timedelta(days=3))
    assert reload(newer).status == Message.Status.SENT
    assert len(sms) == 2  # the replaced one never went out

    again = notice(site, reachable, due=now + timedelta(days=4), key="reminder:a1")
    assert reload(newer).status == Message.Status.SENT
    assert reload(again).status == Message.Status.QUEUED
    assert messages_cancel(keys=["reminder:a1"], reason="Calendar changed") == 1
    assert reload(newer).status == Message.Status.SENT
    assert reload(again).status == Message.Status.CANCELLED
    assert messages_cancel(keys=[], reason="nothing") == 0


# --- Links exist only in the sent text ---------------------------------------------------


def _token_of(text: str) -> str:
    found = URL.search(text)
    assert found, text
    assert found.group(1) == django_settings.PUBLIC_BASE_URL
    return found.group(2)


def _nowhere_on_the_row(message: Message, token: str) -> None:
    row = reload(message)
    for field in Message._meta.concrete_fields:
        assert token not in str(getattr(row, field.attname)), field.name
    assert not [e for e in AuditEvent.objects.all() if token in str(e.detail)]


def test_a_link_message_stores_the_placeholder_and_sends_a_real_link(
    site: Clinic, reachable: Patient, sms: list
) -> None:
    message = link_message(site, reachable)
    assert LINK_PLACEHOLDER in message.body
    assert "/p/" not in message.body

    send_due()

    assert len(sms) == 1
    text = sms[0].body
    assert LINK_PLACEHOLDER not in text
    token = _token_of(text)
    link = portal_services.link_by_token(token)
    assert link is not None
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = reload(message)
    assert row.status == Message.Status.SENT
    assert row.link_id == link.id
    assert link.message_id == message.id
    assert link.patient_id == reachable.id
    assert link.instruments == ["pain-nrs", "peg"]
    assert LINK_PLACEHOLDER in row.body
    # The expiry is in the site's time zone, and the stored body never had the address.
    expires = link.expires_at.astimezone(ZoneInfo(site.time_zone)).strftime("%a %d %b, %H:%M %Z")
    assert f"until {expires}" in text
    _nowhere_on_the_row(message, token)


def test_a_link_by_email_is_in_the_mail_only(
    site: Clinic, reachable: Patient, sms: list, mailoutbox: list
) -> None:
    Patient.objects.filter(pk=reachable.pk).update(preferred_contact=Patient.ContactMethod.EMAIL)
    message = link_message(site, reachable)
    send_due()
    assert sms == []
    token = _token_of(mailoutbox[0].body)
    assert portal_services.link_by_token(token) is not None
    _nowhere_on_the_row(message, token)


def test_a_token_that_looks_like_a_code_is_still_sent(
    site: Clinic, reachable: Patient, sms: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A random token can spell a diagnosis code or a word on the privacy list by chance
    # ("D12-...", "-peg..."); it is no more than an address, and must not stop the message.
    tokens = iter(["D12-Peg-" + "x" * 35, "G43-" + "y" * 39])
    monkeypatch.setattr(portal_services.secrets, "token_urlsafe", lambda n: next(tokens))
    first = link_message(site, reachable, key="measure:one")
    report = send_due()
    assert report.sent == 1 and report.retried == 0
    assert reload(first).status == Message.Status.SENT
    assert "/p/D12-Peg-" in sms[0].body


def test_resending_a_link_message_sends_a_fresh_link(
    site: Clinic, reachable: Patient, front_desk: User, sms: list
) -> None:
    message = link_message(site, reachable)
    send_due()
    old_token = _token_of(sms[0].body)

    again = message_resend(user=front_desk, message=reload(message))
    assert again.status == Message.Status.QUEUED
    assert again.dedupe_key == message.dedupe_key
    assert again.due_at <= timezone.now()
    assert again.created_by == front_desk
    send_due()

    new_token = _token_of(sms[1].body)
    assert new_token != old_token
    old = portal_services.link_by_token(old_token)
    new = portal_services.link_by_token(new_token)
    assert old is not None and new is not None
    assert portal_services.link_state(old) == portal_services.STATE_REVOKED
    assert portal_services.link_state(new) == portal_services.STATE_OK


def test_resending_an_expired_staff_link_sends_a_working_one(
    site: Clinic, reachable: Patient, front_desk: User, sms: list
) -> None:
    link = portal_services.link_send(
        user=front_desk, patient=reachable, clinic=site, purpose="diary", instruments=[]
    )
    send_due()
    first = reload(Message.objects.get(about_id=link.id))
    assert first.status == Message.Status.SENT
    # The patient did not use it in time.
    PatientLink.objects.filter(pk=link.pk).update(
        created_at=timezone.now() - timedelta(days=10),
        expires_at=timezone.now() - timedelta(days=7),
    )

    again = message_resend(user=front_desk, message=first)
    report = send_due()

    assert report.sent == 1 and report.retried == 0
    assert reload(again).status == Message.Status.SENT
    fresh = portal_services.link_by_token(_token_of(sms[-1].body))
    assert fresh is not None
    assert portal_services.link_state(fresh) == portal_services.STATE_OK
    assert fresh.purpose == "diary" and fresh.day is not None


def test_resend_is_for_link_messages_and_roles_that_send_links(
    site: Clinic, reachable: Patient, biller: User, front_desk: User
) -> None:
    link = link_message(site, reachable)
    with pytest.raises(Forbidden):
        message_resend(user=biller, message=link)
    with pytest.raises(InvalidInput) as exc:
        message_resend(user=front_desk, message=notice(site, reachable))
    assert exc.value.errors[0].field == "message"
    assert Message.objects.filter(dedupe_key=link.dedupe_key).count() == 1


# --- Pre-session instructions reach queued reminders --------------------------------------


def reminder(site: Clinic, patient: Patient, *, due: datetime) -> Message:
    return message_queue(
        clinic=site,
        kind="session_reminder",
        context={
            "first_name": patient.given_name,
            "clinic_name": site.name,
            "clinic_phone": site.phone,
            "clinic_address": "100 Main St, Denver, CO 80202",
            "when": "Thu 5 Jun, 09:30 MDT",
            "fasting_food_hours": 6,
            "fasting_clear_liquid_hours": 2,
            "prescriber_instructions": [],
        },
        due_at=due,
        patient=patient,
        dedupe_key=f"reminder:{due.isoformat()}",
    )


def test_an_instruction_reaches_queued_reminders_and_its_withdrawal_removes_it(
    site: Clinic, reachable: Patient, prescriber: User, sms: list
) -> None:
    now = timezone.now()
    sent = reminder(site, reachable, due=now)
    send_due(now=now)
    queued = reminder(site, reachable, due=now + timedelta(days=3))
    text = "Take your blood pressure tablet as usual on the morning of the visit."

    instruction = instruction_add(user=prescriber, patient=reachable, clinic=site, text=text)

    row = reload(queued)
    assert text in row.body
    assert row.context["prescriber_instructions"] == [text]
    assert text not in reload(sent).body  # what went out is history
    assert AuditEvent.objects.filter(
        object_id=str(queued.id), detail__change="instructions", user_id=prescriber.id
    ).exists()

    instruction_withdraw(user=prescriber, instruction=instruction)
    row = reload(queued)
    assert text not in row.body
    assert row.context["prescriber_instructions"] == []
    send_due(now=now + timedelta(days=3))
    assert text not in sms[-1].body


# --- Audit -------------------------------------------------------------------------------


def test_queue_and_send_are_audited(
    site: Clinic, reachable: Patient, front_desk: User, sms: list
) -> None:
    message = message_queue(
        clinic=site,
        kind="appointment_cancelled",
        context={
            "first_name": "Alex",
            "clinic_name": site.name,
            "clinic_phone": site.phone,
            "when": "Tue 3 Jun, 10:00 MDT",
        },
        due_at=timezone.now(),
        patient=reachable,
        created_by=front_desk,
    )
    queued = AuditEvent.objects.get(
        object_type="message", object_id=str(message.id), detail__change="queue"
    )
    assert queued.action == AuditEvent.Action.CREATE
    assert queued.user_id == front_desk.id
    assert queued.patient_id == reachable.id and queued.clinic_id == site.id
    assert queued.detail["kind"] == "appointment_cancelled"
    assert Role.FRONT_DESK in queued.role

    send_due()
    sent = AuditEvent.objects.get(
        object_type="message", object_id=str(message.id), detail__change="sent"
    )
    assert sent.action == AuditEvent.Action.UPDATE
    assert sent.username == services.SYSTEM and sent.user_id is None
    assert sent.detail["status"] == "sent"
    assert sent.patient_id == reachable.id


def test_failures_and_not_sent_are_audited(
    site: Clinic, reachable: Patient, sms: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(monkeypatch, [])
    message = notice(site, reachable)
    send_due()
    assert AuditEvent.objects.filter(
        object_id=str(message.id), detail__change="send_failed", detail__status="queued"
    ).exists()
    monkeypatch.undo()
    Patient.objects.filter(pk=reachable.pk).update(contact_by_sms=False, contact_by_email=False)
    other = notice(site, reachable)
    send_due()
    assert AuditEvent.objects.filter(
        object_id=str(other.id), detail__change="not_sent", detail__status="not_sent"
    ).exists()
