"""Fixtures for the outbox pages and API: messages in every state, reachable patients."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.notifications.channels import LocmemSmsBackend
from ketapath.notifications.models import Message
from ketapath.notifications.services import message_queue
from ketapath.patients.models import ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import consent_record


@pytest.fixture(autouse=True)
def sms_in_memory(settings: Any) -> None:
    settings.SMS_BACKEND = "ketapath.notifications.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()


@pytest.fixture
def make_reachable(
    consent_documents: dict[str, ConsentDocument], nurse: User
) -> Callable[[Patient], Patient]:
    """Give a patient text messages: a mobile number, the yes on the record and a consent."""

    def make(patient: Patient, clinic: Clinic | None = None) -> Patient:
        patient.contact_by_sms = True
        patient.save(update_fields=["contact_by_sms", "updated_at"])
        consent_record(
            user=nurse,
            patient=patient,
            clinic=clinic or patient.preferred_clinic,
            kind=ConsentKind.SMS_CONTACT,
            signed_by_name=patient.display_name,
        )
        return patient

    return make


@pytest.fixture
def make_message(site: Clinic) -> Callable[..., Message]:
    """A visit reminder (or any kind) queued for a patient, due a minute ago by default;
    ``status`` and other fields are set on the row afterwards."""

    def make(
        patient: Patient | None = None, clinic: Clinic | None = None, **fields: Any
    ) -> Message:
        clinic = clinic or site
        message = message_queue(
            clinic=clinic,
            kind=fields.pop("kind", "visit_reminder"),
            context={
                "first_name": "Alex",
                "clinic_name": clinic.name,
                "clinic_phone": clinic.phone,
                "clinic_address": "100 Main St",
                "when": "Tue 3 Mar, 10:00 MST",
                "time_zone": clinic.time_zone,
            },
            due_at=fields.pop("due_at", timezone.now() - timedelta(minutes=1)),
            patient=patient,
            recipient_user=fields.pop("recipient_user", None),
            dedupe_key=fields.pop("dedupe_key", ""),
        )
        if fields:
            for name, value in fields.items():
                setattr(message, name, value)
            message.save()
        return message

    return make
