"""Channels: e-mail through Django's e-mail backends, SMS through an adapter.

Each channel's ``send`` answers the provider's id for the message, which the outbox
stores. A channel raises :class:`SendError` when the provider refuses; anything else that
goes wrong is treated the same way by the outbox.
"""

import itertools
import logging
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SendError(Exception):
    pass


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> str: ...


class ConsoleSmsBackend:
    """Prints text messages to the log (the default, like Django's console e-mail)."""

    _counter = itertools.count(1)

    def send(self, to: str, body: str) -> str:
        provider_id = f"console-sms-{next(self._counter)}"
        logger.info("SMS to %s (%s):\n%s", to, provider_id, body)
        return provider_id


@dataclass
class SentSms:
    to: str
    body: str
    provider_id: str


class LocmemSmsBackend:
    """Keeps text messages in memory (``LocmemSmsBackend.outbox``) for tests."""

    outbox: list[SentSms] = []
    _counter = itertools.count(1)

    def send(self, to: str, body: str) -> str:
        provider_id = f"locmem-sms-{next(self._counter)}"
        self.outbox.append(SentSms(to=to, body=body, provider_id=provider_id))
        return provider_id


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend


def send_email(*, to: str, subject: str, body: str, message_key: str) -> str:
    """Send one e-mail; its Message-ID (made from the outbox row) is the provider id."""
    msgid = make_msgid(idstring=message_key, domain="ketapath.local")
    email = EmailMessage(subject=subject, body=body, to=[to], headers={"Message-ID": msgid})
    if email.send(fail_silently=False) != 1:
        raise SendError("The e-mail backend did not accept the message.")
    return msgid


def send_sms(*, to: str, body: str) -> str:
    provider_id = sms_backend().send(to, body)
    if not provider_id:
        raise SendError("The text-message provider returned no message id.")
    return provider_id
