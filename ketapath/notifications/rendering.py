"""Message templates: one subject and one body per kind, rendered from plain values.

Every template is checked against the privacy rule (``privacy.privacy_problems``) by the
test suite with realistic values; a rendered message that breaks it is refused here too,
so a new template or a clinic name can never leak a diagnosis into a lock screen.
"""

from typing import Any
from urllib.parse import urlsplit

from django.template.loader import render_to_string

from ketapath.notifications.privacy import privacy_problems

KINDS: dict[str, str] = {
    "appointment_confirmation": "Booking confirmation",
    "session_reminder": "Session reminder",
    "visit_reminder": "Visit reminder",
    "appointment_cancelled": "Cancellation notice",
    "appointment_moved": "Appointment moved",
    "check_in_link": "Questionnaire link",
    "diary_link": "Daily check-in link",
    "staff_alert": "On-call alert",
}
# The placeholder staff see where the patient's personal link goes.
LINK_PLACEHOLDER = "[personal link, sent only to the patient]"


class PrivacyError(ValueError):
    pass


def render(kind: str, context: dict[str, Any]) -> tuple[str, str]:
    """The subject (one line) and body of a message of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"Unknown message kind {kind!r}.")
    values = {"link": LINK_PLACEHOLDER, **context}
    subject = " ".join(
        render_to_string(f"notifications/messages/{kind}.subject.txt", values).split()
    )
    body = render_to_string(f"notifications/messages/{kind}.txt", values).strip() + "\n"
    problems = privacy_problems(_as_checked(subject + "\n" + body, values["link"]))
    if problems:
        raise PrivacyError(f"Message {kind} would name {', '.join(sorted(set(problems)))}.")
    return subject, body


def _as_checked(text: str, link: Any) -> str:
    """The text the privacy rule reads. A personal link's token is random and can spell a
    code or a listed word by chance ("/p/D12-…"); it says nothing about the patient, so the
    rule reads the link's scheme and host only."""
    if not isinstance(link, str) or not link or link == LINK_PLACEHOLDER:
        return text
    parts = urlsplit(link)
    return text.replace(link, f"{parts.scheme}://{parts.netloc}/")
