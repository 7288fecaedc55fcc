"""The words patients read on link pages and in the link API, in one place.

Pages about a link's state never say anything about health: no questionnaire names, no
diary, only what happened to the link and how to reach the clinic.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ketapath.clinics.models import Clinic
from ketapath.core.validators import format_phone
from ketapath.notifications.privacy import plain
from ketapath.portal.services import (
    STATE_EXPIRED,
    STATE_LOCKED,
    STATE_REVOKED,
    STATE_USED,
)
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import ALERT_PHQ9_ITEM9

STATE_UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatePage:
    status: int
    title: str
    body: str
    # Whether the page offers the clinic's phone number (an unknown link has no clinic).
    call_clinic: bool = True


STATE_PAGES: dict[str, StatePage] = {
    STATE_UNKNOWN: StatePage(
        404,
        "This link does not work",
        "Please open the link again from the most recent message your clinic sent you, "
        "and check that the whole address was copied. If it still does not work, call "
        "your clinic.",
        call_clinic=False,
    ),
    STATE_EXPIRED: StatePage(
        410,
        "This link has expired",
        "For your privacy, links only work for a short time. Nothing was saved. "
        "Call the clinic and we can send you a new link.",
    ),
    STATE_USED: StatePage(
        410,
        "Already done, thank you",
        "Your answers from this link have already been sent. There is nothing more to do "
        "here, and you can close this page.",
    ),
    STATE_LOCKED: StatePage(
        423,
        "Locked after too many tries",
        "This link is locked because the date of birth did not match several times. "
        "Nothing was saved. Please call the clinic.",
    ),
    STATE_REVOKED: StatePage(
        410,
        "A newer link was sent",
        "This link was replaced by a newer one. Please use the link in the most recent "
        "message from the clinic. Nothing was saved here.",
    ),
}

RATE_LIMITED_TITLE = "Too many tries, wait a few minutes"
RATE_LIMITED_BODY = (
    "There have been too many tries from this device or network. Please wait a few minutes, "
    "then open the link again."
)

MESSAGE_BIRTH_DATE_WRONG = "That date of birth does not match. {n} {tries} left."
MESSAGE_BIRTH_DATE_FORMAT = (
    "Enter your date of birth with the month, day and year, for example March 7 1985."
)
MESSAGE_CONFIRM_AGAIN = (
    "For your privacy, please confirm your date of birth again. Your answers were not saved."
)

THANK_YOU_TITLE = "Thank you"
THANK_YOU_BODY = "Your answers were sent to {clinic}. You can close this page."

CRISIS_TITLE = "Thank you"
CRISIS_MESSAGE = (
    "Thank you. Your answers are not watched live — nobody sees them straight away. "
    "If you are thinking about harming yourself or feel unsafe: call or text 988 "
    "(Suicide & Crisis Lifeline), or call 911 in an emergency. "
    "You can also call {clinic} on {phone}."
)


def tries_text(n: int) -> str:
    return MESSAGE_BIRTH_DATE_WRONG.format(n=n, tries="try" if n == 1 else "tries")


def crisis_message(clinic: Clinic) -> str:
    return CRISIS_MESSAGE.format(
        clinic=plain(clinic.name, "your clinic"), phone=format_phone(clinic.phone)
    )


def has_crisis(responses: Iterable[Response]) -> bool:
    """Whether a saved answer opened the PHQ-9 item 9 safety alert."""
    return any(ALERT_PHQ9_ITEM9 in (r.alert_codes or []) for r in responses)
