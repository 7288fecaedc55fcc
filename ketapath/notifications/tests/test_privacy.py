"""The privacy rule for messages: every template, rendered with realistic values, names no
drug, diagnosis, questionnaire or score; reminders never tell a patient to stop a
medicine unless the prescriber wrote it; prescribers' instructions are checked too."""

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.errors import Forbidden, InvalidInput
from ketapath.notifications import rendering
from ketapath.notifications.models import PatientInstruction
from ketapath.notifications.privacy import privacy_problems
from ketapath.notifications.rendering import KINDS, LINK_PLACEHOLDER, PrivacyError, render
from ketapath.notifications.services import (
    MESSAGE_INSTRUCTION_EMPTY,
    MESSAGE_INSTRUCTION_FORBIDDEN,
    instruction_add,
)
from ketapath.patients.models import Patient

TEMPLATES = Path(rendering.__file__).parent / "templates" / "notifications" / "messages"

CLINICS = [
    {
        "clinic_name": "Denver Site",
        "clinic_phone": "+13035550100",
        "clinic_address": "100 Main St, Denver, CO 80202",
        "time_zone": "America/Denver",
    },
    {
        "clinic_name": "Riverside Wellness Center",
        "clinic_phone": "+13125550199",
        "clinic_address": "2200 N Lincoln Ave, Suite 400, Chicago, IL 60614",
        "time_zone": "America/Chicago",
    },
    {
        "clinic_name": "St. Mary's Outpatient — East",
        "clinic_phone": "(720) 555-0123",
        "clinic_address": "9 Elm Ct, Aurora, CO 80012",
        "time_zone": "America/Denver",
    },
]
PEOPLE = ["Alex", "María José", "Sam O'Neil"]
TIMES = [
    "Tue 3 Jun, 10:00 MDT",
    "Sun 9 Mar, 03:30 CDT",
    "Mon 3 Nov, 08:00 CST",
    "Fri 31 Dec, 16:45 MST",
]
FASTING = [(0, 0), (6, 2), (8, 0)]
INSTRUCTIONS: list[list[str]] = [
    [],
    ["Take your blood pressure tablet as usual with a sip of water."],
    [
        "Hold your lisinopril on the morning of the visit.",
        "Bring your inhaler.",
    ],
]
LINKS = [
    LINK_PLACEHOLDER,
    "https://clinic.example.org/p/Zq3xV9w2LrT0bYcN8sKdMfJ4hGa1pQeU6iOuE5yW7tR/",
]


def _patient_values() -> Iterator[dict[str, Any]]:
    for clinic, person in zip(CLINICS, PEOPLE, strict=True):
        yield {**clinic, "first_name": person}


def _contexts(kind: str) -> list[dict[str, Any]]:
    """Several realistic contexts for each kind (as the services fill them)."""
    out: list[dict[str, Any]] = []
    for base, when in itertools.product(_patient_values(), TIMES):
        if kind == "appointment_confirmation":
            out.append({**base, "times": [when], "count": 1})
            out.append({**base, "times": [when, *TIMES[:2]], "count": 3})
        elif kind == "session_reminder":
            for (food, liquid), notes in itertools.product(FASTING, INSTRUCTIONS):
                out.append(
                    {
                        **base,
                        "when": when,
                        "fasting_food_hours": food,
                        "fasting_clear_liquid_hours": liquid,
                        "prescriber_instructions": notes,
                    }
                )
        elif kind in ("visit_reminder", "appointment_cancelled"):
            out.append({**base, "when": when})
        elif kind == "appointment_moved":
            out.append({**base, "when": when, "was": TIMES[0]})
        elif kind == "check_in_link":
            for link, due in itertools.product(LINKS, ["", when]):
                out.append({**base, "link": link, "due": due, "minutes": 6, "expires": when})
        elif kind == "diary_link":
            for link in LINKS:
                out.append({**base, "link": link, "expires": when})
        elif kind == "staff_alert":
            out.append(
                {
                    "first_name": base["first_name"],
                    "clinic_name": base["clinic_name"],
                    "when": when,
                    "alerts_url": "https://clinic.example.org/alerts/",
                }
            )
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_without_naming_anything_private(kind: str) -> None:
    contexts = _contexts(kind)
    assert contexts, f"No test contexts for {kind}: add realistic values above."
    for context in contexts:
        subject, body = render(kind, context)
        assert subject and "\n" not in subject
        assert body.strip()
        assert privacy_problems(subject + "\n" + body) == [], (kind, context)
        assert "{{" not in body and "{%" not in body
        # Every value the template was given that a patient should see is there.
        assert context["clinic_name"] in body
        assert context["first_name"] in body


def test_the_templates_are_exactly_the_kinds() -> None:
    names = sorted(p.name for p in TEMPLATES.iterdir() if p.is_file())
    expected = sorted(name for kind in KINDS for name in (f"{kind}.txt", f"{kind}.subject.txt"))
    assert names == expected


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown message kind"):
        render("lab_result", {})


# --- Reminders and medicines -------------------------------------------------------------

STOP_WORDS = re.compile(r"stop taking|hold your|skip your|do not take", re.I)


def _reminder(notes: list[str], food: int = 6, liquid: int = 2) -> str:
    subject, body = render(
        "session_reminder",
        {
            **CLINICS[0],
            "first_name": "Alex",
            "when": TIMES[0],
            "fasting_food_hours": food,
            "fasting_clear_liquid_hours": liquid,
            "prescriber_instructions": notes,
        },
    )
    return subject + "\n" + body


@pytest.mark.parametrize(("food", "liquid"), FASTING)
def test_a_reminder_never_tells_the_patient_to_stop_a_medicine_by_itself(
    food: int, liquid: int
) -> None:
    text = _reminder([], food, liquid)
    assert STOP_WORDS.search(text) is None
    assert "From your prescriber" not in text
    assert "Keep taking your usual medicines" in text
    if food:
        assert f"Do not eat for {food} hours" in text
    else:
        assert "Do not eat" not in text
    if liquid:
        assert f"until {liquid} hours before" in text
    else:
        assert "clear drinks" not in text


def test_a_prescriber_instruction_is_carried_word_for_word() -> None:
    notes = ["Hold your lisinopril on the morning of the visit.", "Bring your inhaler."]
    text = _reminder(notes)
    assert "From your prescriber:" in text
    for note in notes:
        assert f"- {note}\n" in text


def test_a_reminder_is_not_escaped_like_a_web_page() -> None:
    text = _reminder(["Take half a tablet & a glass of water."])
    assert "half a tablet & a glass" in text
    subject, body = render(
        "visit_reminder", {**CLINICS[2], "first_name": "Sam O'Neil", "when": TIMES[1]}
    )
    assert "St. Mary's" in subject and "Sam O'Neil" in body


# --- The rule itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Your ketamine session",
        "Depression follow-up",
        "PTSD group",
        "Please fill in the PHQ-9",
        "Your score went down",
        "Seen for G43.909 today",
        "Coded F33.1",
        "Your infusion is booked",
        "Pain clinic visit",
    ],
)
def test_privacy_problems_catches_private_words(text: str) -> None:
    assert privacy_problems(text) != []


@pytest.mark.parametrize(
    "text",
    [
        "Your appointment at Demo Clinic, Tue 10:00",
        "Your appointment at Denver Site on Sun 9 Mar, 03:30 CDT",
        "Call +13035550100 or (720) 555-0123",
        "100 Main St, Suite 400, Chicago, IL 60614",
        LINK_PLACEHOLDER,
    ],
)
def test_privacy_problems_passes_plain_appointment_text(text: str) -> None:
    assert privacy_problems(text) == []


def test_a_link_token_that_looks_like_a_code_does_not_stop_a_message() -> None:
    context = {**CLINICS[0], "first_name": "Alex", "minutes": 4, "due": "", "expires": TIMES[0]}
    for token in ("G43-abc", "abc-D12-x", "Pain-xyz", "x-peg", "F33-1"):
        link = f"https://clinic.example.org/p/{token}/"
        _, body = render("check_in_link", {**context, "link": link})
        assert link in body


def test_a_link_on_a_host_that_names_the_drug_is_refused() -> None:
    context = {**CLINICS[0], "first_name": "Alex", "expires": TIMES[0]}
    with pytest.raises(PrivacyError, match="ketamine"):
        render("diary_link", {**context, "link": "https://ketamine-care.example/p/abc/"})


def test_a_clinic_name_that_names_a_condition_is_refused() -> None:
    with pytest.raises(PrivacyError):
        render(
            "visit_reminder",
            {
                **CLINICS[0],
                "clinic_name": "Front Range Pain Center",
                "first_name": "Alex",
                "when": TIMES[0],
            },
        )


# --- Prescribers' instructions -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        "Skip your ketamine lozenge the night before.",
        "Because of your depression, take sertraline as usual.",
        "Do not take anything for your migraine after 6 am.",
    ],
)
def test_an_instruction_that_names_the_treatment_or_a_condition_is_refused(
    text: str, prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        instruction_add(user=prescriber, patient=patient, clinic=site, text=text)
    assert [e.field for e in exc.value.errors] == ["text"]
    assert "leave out" in exc.value.errors[0].rule
    assert not PatientInstruction.objects.exists()


@pytest.mark.django_db
def test_the_instruction_error_names_the_words(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        instruction_add(
            user=prescriber, patient=patient, clinic=site, text="No ketamine if your PHQ rises."
        )
    rule = exc.value.errors[0].rule
    assert "ketamine" in rule and "PHQ" in rule


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "   ", "x" * 301])
def test_an_empty_or_long_instruction_is_refused(
    text: str, prescriber: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        instruction_add(user=prescriber, patient=patient, clinic=site, text=text)
    assert exc.value.errors[0].field == "text"
    assert exc.value.errors[0].rule == MESSAGE_INSTRUCTION_EMPTY


@pytest.mark.django_db
def test_only_prescribers_and_directors_write_instructions(
    prescriber: User,
    director: User,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
    other_site: Clinic,
    make_user: Any,
) -> None:
    text = "Take your blood pressure tablet as usual."
    for user in (nurse, front_desk, other_clinic_nurse):
        with pytest.raises(Forbidden) as exc:
            instruction_add(user=user, patient=patient, clinic=site, text=text)
        assert exc.value.message == MESSAGE_INSTRUCTION_FORBIDDEN
    elsewhere = make_user("chicagodoc", other_site, "prescriber")
    with pytest.raises(Forbidden):
        instruction_add(user=elsewhere, patient=patient, clinic=site, text=text)
    assert not PatientInstruction.objects.exists()

    written = instruction_add(user=prescriber, patient=patient, clinic=site, text=f"  {text}  ")
    assert written.text == text and written.written_by == prescriber
    assert instruction_add(user=director, patient=patient, clinic=site, text="Bring your inhaler.")
