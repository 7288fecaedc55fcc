"""response_record: storing, scoring, the item-9 alert in the same transaction, audit."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.clinics.services import clinic_policy_update
from ketapath.core.errors import Forbidden, InvalidInput, NotFound
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import Patient
from ketapath.questionnaires import services
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import (
    ALERT_PHQ9_ITEM9_UNKNOWN,
    RULE_OUT_OF_RANGE,
)
from ketapath.questionnaires.selectors import latest_scores
from ketapath.questionnaires.services import (
    ITEM9_ALERT_SUMMARY,
    MESSAGE_RESPONSE_INVALID,
    RULE_COLLECTED_IN_FUTURE,
    RULE_CONTEXT,
    RULE_UNKNOWN_INSTRUMENT,
    response_record,
)

pytestmark = pytest.mark.django_db


def phq9(item9: int = 0, base: int = 1) -> dict[str, int]:
    answers = {str(n): base for n in range(1, 9)}
    answers["9"] = item9
    answers["10"] = 2
    return answers


def pcl5(total: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in range(1, 21):
        out[str(n)] = min(4, total)
        total -= out[str(n)]
    return out


def record(user: User, patient: Patient, clinic: Clinic, **kwargs: Any) -> Response:
    values: dict[str, Any] = {
        "instrument_code": "phq-9",
        "answers": phq9(),
        "context": "screening",
    }
    values.update(kwargs)
    return response_record(user=user, patient=patient, clinic=clinic, **values)


def test_complete_phq9_is_stored_item_by_item(nurse: User, patient: Patient, site: Clinic) -> None:
    response = record(nurse, patient, site)
    stored = Response.objects.get(id=response.id)
    assert stored.answers == {**{str(n): 1 for n in range(1, 9)}, "9": 0, "10": 2}
    # The difficulty item (10) is kept but never summed: 8 × 1 = 8, "mild".
    assert stored.total == Decimal(8)
    assert stored.severity == "mild"
    assert stored.complete is True
    assert stored.missing == []
    assert stored.entered_by == nurse
    assert stored.source == Response.Source.CLINIC
    assert stored.context == Response.Context.SCREENING
    assert stored.alert_ids == []
    assert not SafetyAlert.objects.exists()


def test_partial_response_is_stored_without_total(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    answers = phq9()
    del answers["3"]
    answers["5"] = None  # type: ignore[assignment]
    response = record(nurse, patient, site, answers=answers)
    stored = Response.objects.get(id=response.id)
    assert stored.complete is False
    assert stored.total is None
    assert stored.severity == ""
    assert stored.missing == ["3", "5"]
    assert "3" not in stored.answers and "5" not in stored.answers


def test_missing_item9_is_unknown_and_raises_no_alert(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    answers = phq9()
    del answers["9"]
    response = record(nurse, patient, site, answers=answers)
    assert response.alert_codes == [ALERT_PHQ9_ITEM9_UNKNOWN]
    assert response.missing == ["9"]
    assert not SafetyAlert.objects.exists()


def test_item9_above_zero_raises_alert(nurse: User, patient: Patient, site: Clinic) -> None:
    response = record(nurse, patient, site, answers=phq9(item9=1, base=0))
    alert = SafetyAlert.objects.get()
    assert alert.kind == SafetyAlert.Kind.PHQ9_ITEM9
    assert alert.source_kind == "questionnaire_response"
    assert alert.source_id == response.id
    assert alert.summary == ITEM9_ALERT_SUMMARY
    assert alert.patient == patient and alert.clinic == site
    assert alert.status == SafetyAlert.Status.OPEN
    assert Response.objects.get(id=response.id).alert_ids == [str(alert.id)]
    # Total 1 is "minimal", yet the alert is raised whatever the total (§2.2).
    assert response.severity == "minimal"


def test_alert_and_response_share_one_transaction(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    """If raising the alert fails, the response is not stored either."""
    with (
        mock.patch.object(services, "safety_alert_raise", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        record(nurse, patient, site, answers=phq9(item9=2))
    assert not Response.objects.exists()
    assert not SafetyAlert.objects.exists()


def test_invalid_answers_store_nothing(nurse: User, patient: Patient, site: Clinic) -> None:
    answers = phq9(item9=3)
    answers["2"] = 4
    with pytest.raises(InvalidInput) as caught:
        record(nurse, patient, site, answers=answers)
    assert caught.value.message == MESSAGE_RESPONSE_INVALID
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("answers.2", RULE_OUT_OF_RANGE.format(value=4, low=0, high=3, link_id="2"))
    ]
    assert not Response.objects.exists()
    assert not SafetyAlert.objects.exists()
    assert not AuditEvent.objects.filter(object_type="questionnaire_response").exists()


def test_every_problem_reported_at_once(nurse: User, patient: Patient, site: Clinic) -> None:
    future = timezone.now() + timedelta(hours=2)
    with pytest.raises(InvalidInput) as caught:
        record(nurse, patient, site, context="lunch", collected_at=future)
    fields = {e.field: e.rule for e in caught.value.errors}
    assert fields["context"] == RULE_CONTEXT.format(choices=", ".join(Response.Context.values))
    assert fields["collected_at"] == RULE_COLLECTED_IN_FUTURE
    with pytest.raises(InvalidInput) as caught:
        record(nurse, patient, site, instrument_code="bdi")
    assert caught.value.errors[0].rule == RULE_UNKNOWN_INSTRUMENT.format(code="bdi")
    assert not Response.objects.exists()


def test_naive_collected_at_is_site_local(nurse: User, patient: Patient, site: Clinic) -> None:
    zone = ZoneInfo(site.time_zone)
    local = timezone.now().astimezone(zone).replace(tzinfo=None)
    moment = (local - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    response = record(nurse, patient, site, collected_at=moment)
    local_time = response.collected_at.astimezone(zone)
    assert (local_time.hour, local_time.minute) == (9, 30)


def test_pcl5_cutoff_comes_from_clinic_policy(
    nurse: User, director: User, patient: Patient, site: Clinic
) -> None:
    first = record(nurse, patient, site, instrument_code="pcl-5", answers=pcl5(31))
    assert first.scoring["pcl5_cutoff"] == 33
    assert first.scoring["provisional_ptsd"]["cutoff"] is False
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"pcl5_provisional_cutoff": 31},
        reason="Adopt the lower end of Bovin et al. 2016",
    )
    second = record(nurse, patient, site, instrument_code="pcl-5", answers=pcl5(31))
    assert second.total == Decimal(31)
    assert second.scoring["pcl5_cutoff"] == 31
    assert second.scoring["provisional_ptsd"]["cutoff"] is True
    assert set(second.scoring["clusters"]) == {"B", "C", "D", "E"}
    # The first response keeps the cut-off it was scored with.
    assert Response.objects.get(id=first.id).scoring["provisional_ptsd"]["cutoff"] is False


def test_peg_total_is_the_mean(nurse: User, patient: Patient, site: Clinic) -> None:
    response = record(nurse, patient, site, instrument_code="peg", answers={"1": 7, "2": 6, "3": 7})
    assert Response.objects.get(id=response.id).total == Decimal("6.7")
    assert response.severity == ""


@pytest.mark.parametrize("persona", ["front_desk", "biller", "privacy_officer"])
def test_roles_without_entry_are_refused(
    persona: str, request: pytest.FixtureRequest, patient: Patient, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        record(user, patient, site)
    assert not Response.objects.exists()


@pytest.mark.parametrize("persona", ["director", "prescriber", "nurse", "therapist"])
def test_clinical_roles_may_enter(
    persona: str, request: pytest.FixtureRequest, patient: Patient, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    assert record(user, patient, site).entered_by == user


def test_patient_not_enrolled_at_site(
    other_clinic_nurse: User, patient: Patient, other_site: Clinic
) -> None:
    with pytest.raises(NotFound):
        record(other_clinic_nurse, patient, other_site)


def test_write_is_audited(nurse: User, patient: Patient, site: Clinic) -> None:
    response = record(nurse, patient, site, answers=phq9(item9=1))
    event = AuditEvent.objects.get(
        action=AuditEvent.Action.CREATE, object_type="questionnaire_response"
    )
    assert event.object_id == str(response.id)
    assert event.patient_id == patient.id
    assert event.user_id == nurse.id
    assert event.clinic_id == site.id
    assert event.detail["instrument"] == "phq-9"
    assert event.detail["alerts"] == response.alert_ids


def test_latest_scores_one_query(
    nurse: User,
    patient: Patient,
    site: Clinic,
    django_assert_num_queries: Any,
) -> None:
    now = timezone.now()
    record(nurse, patient, site, collected_at=now - timedelta(days=10))
    newest = record(
        nurse, patient, site, answers=phq9(base=2), collected_at=now - timedelta(days=1)
    )
    record(nurse, patient, site, collected_at=now - timedelta(days=5))
    gad = record(
        nurse, patient, site, instrument_code="gad-7", answers={str(n): 0 for n in range(1, 8)}
    )
    with django_assert_num_queries(1):
        latest = latest_scores(patient=patient)
        assert latest["phq-9"].clinic.time_zone == site.time_zone
    assert set(latest) == {"phq-9", "gad-7"}
    assert latest["phq-9"].id == newest.id
    assert latest["gad-7"].id == gad.id
