"""Safety alerts raised outside opening hours go to the on-call clinician (the policy's
``on_call_user_id``), else to the site's medical directors, with a staff message that
names no patient; in hours they stay on the Alerts page. The patient-link answer path
raises and routes the PHQ-9 item 9 alert in the same transaction as the answers."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, Closure
from ketapath.clinics.services import clinic_policy_update
from ketapath.notifications.models import Message
from ketapath.notifications.privacy import privacy_problems
from ketapath.notifications.services import send_due
from ketapath.observations import rules
from ketapath.observations import services as observation_services
from ketapath.observations.models import SafetyAlert
from ketapath.observations.services import safety_alert_raise
from ketapath.patients.models import Patient
from ketapath.portal import services as portal
from ketapath.questionnaires.models import Response

pytestmark = pytest.mark.django_db

DENVER = ZoneInfo("America/Denver")
# The test site is open Monday to Friday, 08:00–17:00 (ketapath/conftest.py).
SATURDAY_NIGHT = datetime(2030, 6, 8, 22, 10, tzinfo=DENVER)
TUESDAY_MORNING = datetime(2030, 6, 4, 10, 0, tzinfo=DENVER)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.astimezone(UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    frozen = Clock(datetime(2030, 6, 3, 7, 0, tzinfo=DENVER))
    monkeypatch.setattr(timezone, "now", frozen)
    yield frozen


@pytest.fixture
def staff(
    clock: Clock, director: User, prescriber: User, make_user: Callable[..., User], site: Clinic
) -> dict[str, User]:
    second = make_user("director2", site, Role.MEDICAL_DIRECTOR, first_name="Robin")
    people = {"director": director, "director2": second, "prescriber": prescriber}
    for name, user in people.items():
        User.objects.filter(pk=user.pk).update(email=f"{name}@example.org")
        user.refresh_from_db()
    return people


def on_call(director: User, site: Clinic, person: User | None) -> None:
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"on_call_user_id": person.id if person else None},
        reason="Weekend rota",
    )


def raise_alert(patient: Patient, site: Clinic) -> SafetyAlert:
    return safety_alert_raise(
        patient=patient,
        clinic=site,
        kind=SafetyAlert.Kind.PHQ9_ITEM9,
        source_kind="questionnaire_response",
        source_id=uuid.uuid4(),
        summary="PHQ-9 item 9 answered 2 (more than half the days).",
        user=None,
    )


def staff_messages(alert: SafetyAlert) -> list[Message]:
    return list(
        Message.objects.filter(kind="staff_alert", about_id=alert.id).order_by(
            "recipient_user__username"
        )
    )


def says_nothing_about(message: Message, patient: Patient) -> None:
    text = message.subject + "\n" + message.body
    assert privacy_problems(text) == []
    for word in (patient.given_name, patient.family_name, patient.mrn, "PHQ", "item 9"):
        assert word not in text
    assert message.patient_id is None


def test_out_of_hours_goes_to_the_on_call_clinician(
    clock: Clock, staff: dict[str, User], patient: Patient, site: Clinic, mailoutbox: list
) -> None:
    on_call(staff["director"], site, staff["prescriber"])
    clock.set(SATURDAY_NIGHT)

    alert = raise_alert(patient, site)

    alert.refresh_from_db()
    assert alert.routed_at == clock.now
    assert alert.routed_to == staff["prescriber"].display_name
    messages = staff_messages(alert)
    assert [m.recipient_user_id for m in messages] == [staff["prescriber"].id]
    message = messages[0]
    assert message.status == Message.Status.QUEUED
    assert message.due_at == alert.raised_at
    assert "Sat 08 Jun, 22:10 MDT" in message.body
    assert "/alerts/" in message.body
    says_nothing_about(message, patient)
    event = AuditEvent.objects.get(object_type="safety_alert", object_id=str(alert.id))
    assert event.detail["routed_out_of_hours_to"] == staff["prescriber"].display_name

    send_due()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [m.to for m in mailoutbox] == [["prescriber@example.org"]]
    assert patient.family_name not in mailoutbox[0].body + mailoutbox[0].subject


def test_without_an_on_call_clinician_the_medical_directors_get_it(
    clock: Clock, staff: dict[str, User], patient: Patient, site: Clinic
) -> None:
    clock.set(SATURDAY_NIGHT)
    alert = raise_alert(patient, site)
    recipients = {m.recipient_user_id for m in staff_messages(alert)}
    assert recipients == {staff["director"].id, staff["director2"].id}
    assert staff["director"].display_name in alert.routed_to
    assert staff["director2"].display_name in alert.routed_to
    for message in staff_messages(alert):
        says_nothing_about(message, patient)


def test_inside_opening_hours_nothing_is_routed(
    clock: Clock, staff: dict[str, User], patient: Patient, site: Clinic
) -> None:
    on_call(staff["director"], site, staff["prescriber"])
    clock.set(TUESDAY_MORNING)
    alert = raise_alert(patient, site)
    alert.refresh_from_db()
    assert alert.routed_at is None and alert.routed_to == ""
    assert staff_messages(alert) == []
    assert Message.objects.filter(kind="staff_alert").count() == 0


@pytest.mark.parametrize(
    ("moment", "routed"),
    [
        (datetime(2030, 6, 4, 7, 59, tzinfo=DENVER), True),
        (datetime(2030, 6, 4, 8, 0, tzinfo=DENVER), False),
        (datetime(2030, 6, 4, 16, 59, tzinfo=DENVER), False),
        (datetime(2030, 6, 4, 17, 0, tzinfo=DENVER), True),
        (datetime(2030, 6, 4, 23, 30, tzinfo=DENVER), True),
    ],
)
def test_the_edges_of_opening_hours(
    moment: datetime,
    routed: bool,
    clock: Clock,
    staff: dict[str, User],
    patient: Patient,
    site: Clinic,
) -> None:
    clock.set(moment)
    alert = raise_alert(patient, site)
    assert (alert.routed_at is not None) is routed
    assert bool(staff_messages(alert)) is routed


def test_a_closure_day_counts_as_out_of_hours(
    clock: Clock, staff: dict[str, User], patient: Patient, site: Clinic
) -> None:
    Closure.objects.create(
        clinic=site, start_date=date(2030, 6, 4), end_date=date(2030, 6, 4), reason="Staff day"
    )
    clock.set(TUESDAY_MORNING)
    alert = raise_alert(patient, site)
    assert alert.routed_at is not None
    assert len(staff_messages(alert)) == 2


def test_is_open_at_reads_the_site_time_zone() -> None:
    class Hours:
        weekday, opens, closes = 1, time(8), time(17)

    # 10:00 in Denver is 16:00 UTC; the same instant is 12:00 in New York.
    moment = datetime(2030, 6, 4, 16, 0, tzinfo=UTC)
    assert rules.is_open_at(moment, [Hours()], [], "America/Denver")
    assert rules.is_open_at(moment, [Hours()], [], "America/New_York")
    late = datetime(2030, 6, 4, 23, 30, tzinfo=UTC)  # 17:30 Denver, 19:30 New York
    assert not rules.is_open_at(late, [Hours()], [], "America/Denver")
    assert rules.is_open_at(late, [Hours()], [], "America/Los_Angeles")  # 16:30


@pytest.mark.parametrize("how", ["inactive", "removed", "nurse_only"])
def test_an_on_call_clinician_who_left_the_site_falls_back_to_the_directors(
    how: str,
    clock: Clock,
    staff: dict[str, User],
    patient: Patient,
    site: Clinic,
    make_user: Callable[..., User],
) -> None:
    person = staff["prescriber"]
    if how == "nurse_only":
        person = make_user("nightnurse", site, Role.NURSE, licence_type="RN")
    on_call(staff["director"], site, person)
    if how == "inactive":
        Membership.objects.filter(user=person, clinic=site).update(active=False)
    elif how == "removed":
        Membership.objects.filter(user=person, clinic=site).delete()
    clock.set(SATURDAY_NIGHT)

    alert = raise_alert(patient, site)

    recipients = {m.recipient_user_id for m in staff_messages(alert)}
    assert recipients == {staff["director"].id, staff["director2"].id}
    assert person.display_name not in alert.routed_to


def test_an_on_call_clinician_of_another_site_only_falls_back_to_the_directors(
    clock: Clock,
    staff: dict[str, User],
    patient: Patient,
    site: Clinic,
    other_site: Clinic,
    make_user: Callable[..., User],
) -> None:
    elsewhere = make_user("chicagodoc", other_site, Role.PRESCRIBER)
    on_call(staff["director"], site, elsewhere)
    clock.set(SATURDAY_NIGHT)
    alert = raise_alert(patient, site)
    assert {m.recipient_user_id for m in staff_messages(alert)} == {
        staff["director"].id,
        staff["director2"].id,
    }


# --- From a patient's link --------------------------------------------------------------


def phq9(item9: int) -> dict[str, int]:
    answers = {str(n): 1 for n in range(1, 9)}
    answers["9"] = item9
    return answers


@pytest.fixture
def verified_link(clock: Clock, patient: Patient, site: Clinic) -> portal.PatientLink:
    # Sent on Saturday evening, opened a few minutes later.
    clock.set(SATURDAY_NIGHT - timedelta(minutes=30))
    link, _ = portal.link_create(
        patient=patient,
        clinic=site,
        purpose="questionnaires",
        instruments=["phq-9"],
        context="follow_up",
    )
    assert portal.link_check_birth_date(link=link, given=patient.birth_date) == portal.STATE_OK
    return link


def test_a_link_answer_raises_the_alert_and_routes_it_out_of_hours(
    clock: Clock,
    staff: dict[str, User],
    patient: Patient,
    site: Clinic,
    verified_link: Any,
) -> None:
    on_call(staff["director"], site, staff["prescriber"])
    clock.set(SATURDAY_NIGHT)

    (response,) = portal.link_submit_questionnaires(
        link=verified_link, answers={"phq-9": phq9(item9=2)}
    )

    response = Response.objects.get(pk=response.pk)
    assert response.source == Response.Source.PATIENT_LINK
    assert len(response.alert_ids) == 1
    alert = SafetyAlert.objects.get(id=response.alert_ids[0])
    assert alert.kind == SafetyAlert.Kind.PHQ9_ITEM9
    assert alert.source_id == response.id
    assert alert.raised_at == clock.now
    assert alert.routed_to == staff["prescriber"].display_name
    (message,) = staff_messages(alert)
    assert message.recipient_user_id == staff["prescriber"].id
    says_nothing_about(message, patient)
    verified_link.refresh_from_db()
    assert verified_link.used_at is not None


def test_the_answers_and_the_alert_are_saved_together_or_not_at_all(
    clock: Clock,
    staff: dict[str, User],
    patient: Patient,
    site: Clinic,
    verified_link: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set(SATURDAY_NIGHT)

    def broken(alert: SafetyAlert, person: User) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(observation_services, "_notify_on_call", broken)
    with pytest.raises(RuntimeError):
        portal.link_submit_questionnaires(link=verified_link, answers={"phq-9": phq9(item9=3)})

    assert not Response.objects.filter(patient=patient).exists()
    assert not SafetyAlert.objects.filter(patient=patient).exists()
    verified_link.refresh_from_db()
    assert verified_link.used_at is None


def test_a_link_answer_without_item_9_raises_nothing(
    clock: Clock, staff: dict[str, User], patient: Patient, site: Clinic, verified_link: Any
) -> None:
    clock.set(SATURDAY_NIGHT)
    (response,) = portal.link_submit_questionnaires(
        link=verified_link, answers={"phq-9": phq9(item9=0)}
    )
    assert Response.objects.get(pk=response.pk).alert_ids == []
    assert not SafetyAlert.objects.filter(patient=patient).exists()
    assert not Message.objects.filter(kind="staff_alert").exists()
