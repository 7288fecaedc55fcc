"""What every patient-link page and endpoint shares: the rate limit per client address,
the date-of-birth confirmation kept in the session, the headers that keep a link's
address out of caches, referrers and search engines, and the audit of unknown links.

The limits count requests per client address (``REMOTE_ADDR``, or the first
``X-Forwarded-For`` address behind a configured proxy) in fixed windows of
``RATE_WINDOW_SECONDS`` in Django's cache, shared by every app server when the cache is.
"""

import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase

from ketapath.accounts.services import Action, Outcome, audit
from ketapath.audit.middleware import client_ip
from ketapath.portal.models import PatientLink
from ketapath.portal.services import USERNAME

RATE_WINDOW_SECONDS = 600
"""The length of one counting window, in seconds (10 minutes)."""

RATE_REQUESTS = 60
"""Portal pages and API calls one client address may make in a window."""

RATE_BIRTH_DATE = 10
"""Date-of-birth attempts (page form or API call) one client address may make in a
window, whichever link they are for; each link also locks itself after the clinic
policy's ``link_birth_date_tries`` wrong dates."""

VERIFIED_MINUTES = 60
"""How long a confirmed date of birth lets this browser answer the link."""

SESSION_VERIFIED = "portal_verified"
SESSION_DONE = "portal_done"
# A browser that opens many links keeps only the most recent few.
SESSION_KEEP = 10

MESSAGE_RATE_LIMITED = "Too many tries from this address. Please wait a few minutes."

NO_STORE_HEADERS = {
    # The token is in the address: nothing may keep the page or pass its address on.
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    # Same-origin only: the address (with its token) never goes to another site, and the
    # browser still sends the Origin the CSRF check compares.
    "Referrer-Policy": "same-origin",
}


def _count(key: str, limit: int) -> bool:
    """Counts one hit; True once the window's count is above ``limit``."""
    window = int(time.time() // RATE_WINDOW_SECONDS)
    name = f"portal-rate:{key}:{window}"
    cache.add(name, 0, timeout=RATE_WINDOW_SECONDS + 5)
    try:
        count = cache.incr(name)
    except ValueError:
        # The key was evicted between add and incr: this hit starts the window again.
        cache.set(name, 1, timeout=RATE_WINDOW_SECONDS + 5)
        count = 1
    return count > limit


def rate_limited(request: HttpRequest, *, birth_date: bool = False) -> bool:
    """Counts this request (and a date-of-birth attempt when ``birth_date``) for the
    client's address; True when either limit is exceeded."""
    address = client_ip(request) or "unknown"
    over = _count(f"all:{address}", RATE_REQUESTS)
    if birth_date:
        over = _count(f"dob:{address}", RATE_BIRTH_DATE) or over
    return over


def add_no_store_headers(response: HttpResponseBase) -> HttpResponseBase:
    for name, value in NO_STORE_HEADERS.items():
        response[name] = value
    return response


def audit_unknown(change: str) -> None:
    """A token that matches no link (mistyped, altered or made up): recorded as a denied
    use without a patient. Requests over the rate limit are not recorded, so a flood of
    guesses cannot flood the audit trail."""
    audit(
        user=None,
        username=USERNAME,
        action=Action.READ,
        outcome=Outcome.DENIED,
        object_type="patient_link",
        detail={"change": change, "state": "unknown"},
    )


def audit_page(link: PatientLink, page: str) -> None:
    """A page of a link shown after its answers were saved (the thank-you or safety page)."""
    audit(
        user=None,
        username=USERNAME,
        action=Action.READ,
        clinic_id=link.clinic_id,
        patient_id=link.patient_id,
        object_type="patient_link",
        object_id=link.id,
        detail={"change": "page", "page": page},
    )


def _fresh(entries: Any, now: float) -> list[dict[str, Any]]:
    if not isinstance(entries, list):
        return []
    limit = VERIFIED_MINUTES * 60
    return [
        e
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("at"), int | float) and now - e["at"] < limit
    ]


def session_mark_verified(request: HttpRequest, link: PatientLink) -> None:
    """Remember in the session that this browser gave the link's date of birth, now."""
    now = time.time()
    if not request.user.is_authenticated:
        # A new session key once the date of birth matched (no fixation), kept alive for
        # the whole answering time rather than the staff idle timeout.
        request.session.cycle_key()
        request.session.set_expiry(VERIFIED_MINUTES * 60)
    entries = _fresh(request.session.get(SESSION_VERIFIED), now)
    entries = [e for e in entries if e["link"] != str(link.id)]
    entries.append({"link": str(link.id), "at": now})
    request.session[SESSION_VERIFIED] = entries[-SESSION_KEEP:]


def session_is_verified(request: HttpRequest, link: PatientLink) -> bool:
    entries = _fresh(request.session.get(SESSION_VERIFIED), time.time())
    return any(e["link"] == str(link.id) for e in entries)


def session_mark_done(request: HttpRequest, link: PatientLink, *, crisis: bool) -> None:
    """The link's answers were saved: forget the confirmation, remember which page to show."""
    now = time.time()
    request.session[SESSION_VERIFIED] = [
        e for e in _fresh(request.session.get(SESSION_VERIFIED), now) if e["link"] != str(link.id)
    ]
    done = [e for e in _fresh(request.session.get(SESSION_DONE), now) if e["link"] != str(link.id)]
    done.append({"link": str(link.id), "at": now, "crisis": crisis})
    request.session[SESSION_DONE] = done[-SESSION_KEEP:]


def session_done(request: HttpRequest, link: PatientLink) -> dict[str, Any] | None:
    entries = _fresh(request.session.get(SESSION_DONE), time.time())
    return next((e for e in entries if e["link"] == str(link.id)), None)
