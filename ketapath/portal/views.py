"""The pages a patient reaches from a link: /p/<token>/ asks the date of birth,
/p/<token>/answer/ asks the questions, /p/<token>/done/ thanks them.

No login: the token and the date of birth stand in for it. Every request counts towards
the rate limit of the client's address; every use of a link is audited by the services
(unknown tokens by ``access.audit_unknown``). A link that cannot be used shows a page that
says why and nothing about health.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_http_methods

from ketapath.clinics.models import Clinic
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.notifications.privacy import plain
from ketapath.portal import access, texts
from ketapath.portal.models import PatientLink
from ketapath.portal.services import (
    MESSAGE_ANSWER_ALL,
    STATE_OK,
    STATE_USED,
    link_by_token,
    link_check_birth_date,
    link_open,
    link_state,
    link_submit_diary,
    link_submit_questionnaires,
    tries_left,
)
from ketapath.questionnaires.instruments import get_instrument

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
OLDEST_BIRTH_YEAR = 1900

DIARY_PAIN_HINT = "0 means no pain. 10 means the worst pain you can imagine."
DIARY_FIELDS = ("pain", "rescue_medication", "rescue_detail", "note")

View = Callable[..., HttpResponseBase]


def portal_page(*, birth_date_posts: bool = False) -> Callable[[View], View]:
    """Rate-limits the view (a POST also counts as a date-of-birth attempt when
    ``birth_date_posts``) and sends the headers that keep the address private."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            counts_birth_date = birth_date_posts and request.method == "POST"
            response: HttpResponseBase
            if access.rate_limited(request, birth_date=counts_birth_date):
                response = render(
                    request,
                    "portal/message.html",
                    {
                        "clinic": None,
                        "title": texts.RATE_LIMITED_TITLE,
                        "body": texts.RATE_LIMITED_BODY,
                    },
                    status=429,
                )
                response["Retry-After"] = str(access.RATE_WINDOW_SECONDS)
            else:
                response = view(request, *args, **kwargs)
            return access.add_no_store_headers(response)

        return wrapped

    return decorate


def _state_page(request: HttpRequest, clinic: Clinic | None, state: str) -> HttpResponse:
    page = texts.STATE_PAGES[state]
    return render(
        request,
        "portal/message.html",
        {
            "clinic": clinic if page.call_clinic else None,
            "title": page.title,
            "body": page.body,
            "call_clinic": page.call_clinic,
            "state": state,
        },
        status=page.status,
    )


def _unknown(request: HttpRequest, change: str) -> HttpResponse:
    access.audit_unknown(change)
    return _state_page(request, None, texts.STATE_UNKNOWN)


# Date of birth ------------------------------------------------------------------------


def _parse_birth_date(data: Any) -> date | None:
    """The date from the month, day and year fields, or None when it is not a real date."""
    try:
        month = int(str(data.get("month", "")).strip())
        day = int(str(data.get("day", "")).strip())
        year_text = str(data.get("year", "")).strip()
        year = int(year_text)
        if len(year_text) != 4 or year < OLDEST_BIRTH_YEAR:
            return None
        given = date(year, month, day)
    except ValueError:
        return None
    return given if given <= timezone.localdate() else None


def _birth_date_form(
    request: HttpRequest, link: PatientLink, *, error: str = "", notice: str = ""
) -> HttpResponse:
    return render(
        request,
        "portal/birth_date.html",
        {
            "clinic": link.clinic,
            "months": list(enumerate(MONTHS, start=1)),
            "error": error,
            "notice": notice,
            "title": "Confirm it is you",
        },
    )


@portal_page(birth_date_posts=True)
@require_http_methods(["GET", "POST"])
def link_start(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the link's state page, or the date-of-birth form. POST: check the date."""
    link = link_by_token(token)
    if link is None:
        return _unknown(request, "open" if request.method == "GET" else "verify")
    if request.method == "GET":
        state = link_open(link)
        if state != STATE_OK:
            return _state_page(request, link.clinic, state)
        notice = texts.MESSAGE_CONFIRM_AGAIN if request.GET.get("again") else ""
        return _birth_date_form(request, link, notice=notice)

    given = _parse_birth_date(request.POST)
    if given is None:
        # Not a date at all: not compared, so it does not count as a wrong try.
        state = link_open(link)
        if state != STATE_OK:
            return _state_page(request, link.clinic, state)
        return _birth_date_form(request, link, error=texts.MESSAGE_BIRTH_DATE_FORMAT)
    result = link_check_birth_date(link=link, given=given)
    if result == STATE_OK:
        access.session_mark_verified(request, link)
        return redirect("portal:answer", token=token)
    if result == "wrong":
        return _birth_date_form(request, link, error=texts.tries_text(tries_left(link)))
    return _state_page(request, link.clinic, result)


# Questions ----------------------------------------------------------------------------


@dataclass
class Choice:
    value: str
    label: str
    dom_id: str


@dataclass
class Question:
    name: str
    dom_id: str
    number: int
    text: str
    choices: list[Choice]
    optional: bool = False
    scale: bool = False
    value: str = ""
    error: str = ""
    summary_label: str = ""


@dataclass
class Part:
    number: int
    lead: str
    questions: list[Question] = field(default_factory=list)


def _dom_id(name: str) -> str:
    return "q-" + name.replace(".", "-")


def _choices(name: str, options: list[tuple[str, str]]) -> list[Choice]:
    return [Choice(value, label, f"{_dom_id(name)}-{value}") for value, label in options]


def _questionnaire_parts(link: PatientLink, values: dict[str, str]) -> list[Part]:
    parts: list[Part] = []
    many = len(link.instruments) > 1
    for n, code in enumerate(link.instruments, start=1):
        instrument = get_instrument(code)
        assert instrument is not None
        part = Part(number=n, lead=instrument.lead)
        for number, item in enumerate(instrument.items, start=1):
            name = f"{code}.{item.link_id}"
            options = [(str(o.value), o.label) for o in item.options]
            part.questions.append(
                Question(
                    name=name,
                    dom_id=_dom_id(name),
                    number=number,
                    text=item.text,
                    choices=_choices(name, options),
                    optional=not item.scored,
                    scale=all(label.isdigit() for _, label in options),
                    value=values.get(name, ""),
                    summary_label=(
                        f"Part {n}, question {number}" if many else f"Question {number}"
                    ),
                )
            )
        parts.append(part)
    return parts


def _day_words(link: PatientLink) -> str:
    """'today', or the day the diary link asks about when that is another day."""
    assert link.day is not None
    today = timezone.localdate(timezone=ZoneInfo(link.clinic.time_zone))
    if link.day == today:
        return "today"
    return "on " + date_format(link.day, "l, F j")


def _diary_questions(link: PatientLink, values: dict[str, str]) -> dict[str, Question]:
    day = _day_words(link)
    return {
        "pain": Question(
            name="pain",
            dom_id=_dom_id("pain"),
            number=1,
            text=f"How was your pain {day}?",
            choices=_choices("pain", [(str(n), str(n)) for n in range(11)]),
            scale=True,
            value=values.get("pain", ""),
            summary_label="Pain",
        ),
        "rescue_medication": Question(
            name="rescue_medication",
            dom_id=_dom_id("rescue_medication"),
            number=2,
            text=f"Did you need extra (rescue) medicine for pain {day}?",
            choices=_choices("rescue_medication", [("yes", "Yes"), ("no", "No")]),
            value=values.get("rescue_medication", ""),
            summary_label="Extra medicine",
        ),
        "rescue_detail": Question(
            name="rescue_detail",
            dom_id=_dom_id("rescue_detail"),
            number=3,
            text="If you took extra medicine, what did you take?",
            choices=[],
            optional=True,
            value=values.get("rescue_detail", ""),
            summary_label="What you took",
        ),
        "note": Question(
            name="note",
            dom_id=_dom_id("note"),
            number=4,
            text="Anything else you want to tell the clinic?",
            choices=[],
            optional=True,
            value=values.get("note", ""),
            summary_label="Note",
        ),
    }


def _attach_errors(questions: list[Question], errors: list[FieldError]) -> list[dict[str, str]]:
    """Puts each error beside its question; the summary lists them in page order."""
    by_name = {q.name: q for q in questions}
    summary: list[dict[str, str]] = []
    for error in errors:
        question = by_name.get(error.field)
        if question is None:
            summary.append({"href": "#answers", "text": error.rule})
        elif not question.error:
            question.error = error.rule
    for question in questions:
        if question.error:
            target = question.choices[0].dom_id if question.choices else question.dom_id
            if question.error == MESSAGE_ANSWER_ALL:
                text = f"Answer {question.summary_label[0].lower()}{question.summary_label[1:]}"
            else:
                text = f"{question.summary_label}: {question.error}"
            summary.append({"href": f"#{target}", "text": text})
    return summary


def _answer_page(
    request: HttpRequest,
    link: PatientLink,
    values: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> HttpResponse:
    values = values or {}
    context: dict[str, Any] = {"clinic": link.clinic, "link": link}
    if link.purpose == PatientLink.Purpose.DIARY:
        diary = _diary_questions(link, values)
        questions = list(diary.values())
        context.update(
            diary=diary,
            title="Your daily check-in",
            pain_hint=DIARY_PAIN_HINT,
            template="portal/answer_diary.html",
        )
    else:
        parts = _questionnaire_parts(link, values)
        questions = [q for part in parts for q in part.questions]
        context.update(
            parts=parts,
            many_parts=len(parts) > 1,
            title="Your questions",
            template="portal/answer_questionnaires.html",
        )
    context["error_summary"] = _attach_errors(questions, errors or [])
    return render(request, context["template"], context)


def _questionnaire_answers(request: HttpRequest, link: PatientLink) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    for code in link.instruments:
        instrument = get_instrument(code)
        assert instrument is not None
        given: dict[str, Any] = {}
        for item in instrument.items:
            raw = request.POST.get(f"{code}.{item.link_id}", "").strip()
            if raw:
                # A value that is not a number is passed on as text, so the service names
                # it beside its question instead of it being dropped silently.
                given[item.link_id] = int(raw) if raw.isascii() and raw.isdigit() else raw
        answers[code] = given
    return answers


def _conflict_page(request: HttpRequest, link: PatientLink, exc: Conflict) -> HttpResponse:
    state = exc.code if exc.code in texts.STATE_PAGES else STATE_USED
    return _state_page(request, link.clinic, state)


@portal_page()
@require_http_methods(["GET", "POST"])
def link_answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the questions of a link whose date of birth this browser confirmed. POST: save
    them, or show each problem beside its question and save nothing."""
    link = link_by_token(token)
    if link is None:
        return _unknown(request, "answer")
    state = link_open(link)
    if request.method == "POST" and state != STATE_OK:
        return _state_page(request, link.clinic, state)
    start = reverse("portal:open", kwargs={"token": token})
    if state != STATE_OK:
        return redirect(start)
    if not access.session_is_verified(request, link):
        return redirect(start + ("?again=1" if request.method == "POST" else ""))
    if request.method == "GET":
        return _answer_page(request, link)

    crisis = False
    try:
        if link.purpose == PatientLink.Purpose.DIARY:
            values = {name: request.POST.get(name, "") for name in DIARY_FIELDS}
            link_submit_diary(
                link=link,
                pain=values["pain"].strip(),
                rescue_medication=values["rescue_medication"] or None,
                rescue_detail=values["rescue_detail"],
                note=values["note"],
            )
        else:
            values = {k: request.POST.get(k, "") for k in request.POST}
            responses = link_submit_questionnaires(
                link=link, answers=_questionnaire_answers(request, link)
            )
            crisis = texts.has_crisis(responses)
    except InvalidInput as exc:
        return _answer_page(request, link, values, exc.errors)
    except Conflict as exc:
        return _conflict_page(request, link, exc)
    except Forbidden:
        return redirect(start)
    access.session_mark_done(request, link, crisis=crisis)
    return redirect("portal:done", token=token)


@portal_page()
@require_http_methods(["GET"])
def link_done(request: HttpRequest, token: str) -> HttpResponse:
    """The thank-you page after saving, or the safety page when an answer raised the
    PHQ-9 item 9 alert; shown only to the browser that sent the answers."""
    link = link_by_token(token)
    if link is None:
        return _unknown(request, "done")
    done = access.session_done(request, link)
    if done is None or link_state(link) != STATE_USED:
        return redirect("portal:open", token=token)
    crisis = bool(done.get("crisis"))
    access.audit_page(link, "crisis" if crisis else "thanks")
    clinic = link.clinic
    return render(
        request,
        "portal/done.html",
        {
            "clinic": clinic,
            "title": texts.CRISIS_TITLE if crisis else texts.THANK_YOU_TITLE,
            "crisis": crisis,
            "crisis_message": texts.crisis_message(clinic) if crisis else "",
            "thank_you": texts.THANK_YOU_BODY.format(clinic=plain(clinic.name, "your clinic")),
        },
    )
