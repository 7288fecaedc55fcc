"""Clinic services: validation with the exact messages, all-or-nothing writes, audit events."""

from datetime import date, time
from typing import Any

import pytest
from django.core.validators import MaxValueValidator, MinValueValidator

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import (
    MESSAGE_CLOSURE_ORDER,
    MESSAGE_HOURS_ORDER,
    Clinic,
    ClinicPolicy,
    Closure,
    OpeningHours,
    Organization,
    Room,
)
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.clinics.services import (
    MESSAGE_HOURS_OVERLAP,
    MESSAGE_POLICY_FORBIDDEN,
    MESSAGE_POLICY_NO_CHANGE,
    MESSAGE_POLICY_NOT_EDITABLE,
    MESSAGE_POLICY_REASON,
    MESSAGE_ROOM_NAME_TAKEN,
    MESSAGE_STAFF_MANAGE_FORBIDDEN,
    POLICY_V1_REASON,
    clinic_create,
    clinic_policy_update,
    clinic_update,
    closure_create,
    closure_delete,
    opening_hours_set,
    room_create,
    room_update,
)
from ketapath.core.errors import FieldError, Forbidden, InvalidInput
from ketapath.core.validators import MESSAGE_PHONE, MESSAGE_TIME_ZONE

pytestmark = pytest.mark.django_db


def _rules(exc: pytest.ExceptionInfo[Any]) -> list[tuple[str, str]]:
    return [(e.field, e.rule) for e in exc.value.errors]


def _events(object_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type).order_by("time"))


# --- clinic_create ----------------------------------------------------------------------


def test_clinic_create_writes_policy_v1_with_cited_defaults(organization: Organization) -> None:
    clinic = clinic_create(
        organization=organization,
        name="Boulder Site",
        address_line1="1 Pearl St",
        city="Boulder",
        state="co",
        postal_code="80302",
        phone="(303) 555-0142",
        time_zone="America/Denver",
        dea_registration="bs1234563",
    )
    assert clinic.phone == "+13035550142"
    assert clinic.state == "CO"
    assert clinic.dea_registration == "BS1234563"
    policies = list(clinic.policies.all())
    assert [p.version for p in policies] == [1]
    policy = policies[0]
    defaults = ClinicPolicy(clinic=clinic, version=1)
    for name in ClinicPolicy.EDITABLE_FIELDS:
        assert getattr(policy, name) == getattr(defaults, name)
    assert policy.treatment_consent_months == 12
    assert policy.change_reason == POLICY_V1_REASON
    (event,) = _events("clinic")
    assert event.action == AuditEvent.Action.CREATE
    assert event.username == "system"
    assert event.clinic_id == clinic.id


def test_clinic_create_bad_time_zone_saves_nothing(organization: Organization) -> None:
    with pytest.raises(InvalidInput) as exc:
        clinic_create(
            organization=organization,
            name="Nowhere",
            address_line1="1 Main St",
            city="Denver",
            state="CO",
            postal_code="80202",
            phone="+13035550142",
            time_zone="Mars/Olympus_Mons",
        )
    assert ("time_zone", MESSAGE_TIME_ZONE) in _rules(exc)
    assert not Clinic.objects.filter(name="Nowhere").exists()
    assert not ClinicPolicy.objects.exists()


# --- clinic_update ----------------------------------------------------------------------


def test_clinic_update_normalises_phone_and_audits_old_and_new(
    site: Clinic, clinic_admin: User
) -> None:
    clinic_update(
        user=clinic_admin,
        clinic=site,
        data={"phone": "303.555.0199", "time_zone": "America/Phoenix", "name": "Denver Main"},
    )
    site.refresh_from_db()
    assert site.phone == "+13035550199"
    assert site.time_zone == "America/Phoenix"
    (event,) = _events("clinic")
    assert event.action == AuditEvent.Action.UPDATE
    assert event.username == "admin"
    assert event.role == "clinic_admin"
    assert event.detail == {
        "name": ["Denver Site", "Denver Main"],
        "phone": ["+13035550100", "+13035550199"],
        "time_zone": ["America/Denver", "America/Phoenix"],
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"time_zone": "America/Gotham"}, "time_zone", MESSAGE_TIME_ZONE),
        ({"phone": "555-01"}, "phone", MESSAGE_PHONE),
        ({"phone": "call the front desk"}, "phone", MESSAGE_PHONE),
    ],
)
def test_clinic_update_rejects_bad_input_and_saves_nothing(
    site: Clinic, clinic_admin: User, data: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        clinic_update(user=clinic_admin, clinic=site, data={**data, "name": "Renamed"})
    assert (field, message) in _rules(exc)
    # The caller's object is restored and the row untouched.
    assert site.name == "Denver Site"
    site.refresh_from_db()
    assert site.name == "Denver Site"
    assert site.time_zone == "America/Denver"
    assert site.phone == "+13035550100"
    assert not _events("clinic")


def test_clinic_update_refuses_other_roles(site: Clinic, director: User, nurse: User) -> None:
    for user in (director, nurse):
        with pytest.raises(Forbidden) as exc:
            clinic_update(user=user, clinic=site, data={"name": "Hijacked"})
        assert exc.value.message == MESSAGE_STAFF_MANAGE_FORBIDDEN
    site.refresh_from_db()
    assert site.name == "Denver Site"


def test_clinic_update_refuses_an_admin_of_another_site(
    other_site: Clinic, clinic_admin: User
) -> None:
    with pytest.raises(Forbidden):
        clinic_update(user=clinic_admin, clinic=other_site, data={"name": "Hijacked"})


# --- opening_hours_set ------------------------------------------------------------------


def test_opening_hours_set_replaces_the_week_and_audits(site: Clinic, clinic_admin: User) -> None:
    opening_hours_set(
        user=clinic_admin,
        clinic=site,
        hours=[(0, time(8), time(12)), (0, time(13), time(17)), (5, time(9), time(13))],
    )
    rows = [(h.weekday, h.opens, h.closes) for h in site.opening_hours.order_by("weekday", "opens")]
    assert rows == [(0, time(8), time(12)), (0, time(13), time(17)), (5, time(9), time(13))]
    (event,) = _events("opening_hours")
    before, after = event.detail["hours"]
    assert len(before) == 5
    assert after == ["Monday 08:00-12:00", "Monday 13:00-17:00", "Saturday 09:00-13:00"]


def test_adjacent_intervals_are_not_an_overlap(site: Clinic, clinic_admin: User) -> None:
    opening_hours_set(
        user=clinic_admin, clinic=site, hours=[(1, time(8), time(12)), (1, time(12), time(16))]
    )
    assert site.opening_hours.count() == 2


def test_closes_before_opens_is_refused_and_nothing_changes(
    site: Clinic, clinic_admin: User
) -> None:
    with pytest.raises(InvalidInput) as exc:
        opening_hours_set(
            user=clinic_admin,
            clinic=site,
            hours=[(0, time(9), time(17)), (2, time(17), time(9)), (3, time(9), time(9))],
        )
    assert _rules(exc) == [
        ("hours.1.closes", MESSAGE_HOURS_ORDER),
        ("hours.2.closes", MESSAGE_HOURS_ORDER),
    ]
    assert site.opening_hours.count() == 5
    assert not _events("opening_hours")


def test_overlapping_hours_on_one_weekday_are_refused(site: Clinic, clinic_admin: User) -> None:
    with pytest.raises(InvalidInput) as exc:
        opening_hours_set(
            user=clinic_admin,
            clinic=site,
            hours=[(4, time(13), time(18)), (4, time(8), time(14)), (2, time(8), time(14))],
        )
    assert _rules(exc) == [("hours.0", MESSAGE_HOURS_OVERLAP)]
    assert site.opening_hours.filter(weekday=4).get().opens == time(8)
    assert site.opening_hours.count() == 5


def test_opening_hours_set_needs_staff_manage(site: Clinic, front_desk: User) -> None:
    with pytest.raises(Forbidden):
        opening_hours_set(user=front_desk, clinic=site, hours=[])
    assert site.opening_hours.count() == 5


# --- closures ---------------------------------------------------------------------------


def test_closure_create_and_delete_are_audited(site: Clinic, clinic_admin: User) -> None:
    closure = closure_create(
        user=clinic_admin,
        clinic=site,
        start_date=date(2030, 7, 4),
        end_date=date(2030, 7, 4),
        reason="  Independence Day ",
    )
    assert closure.reason == "Independence Day"
    closure_delete(user=clinic_admin, closure=closure)
    assert not Closure.objects.exists()
    created, deleted = _events("closure")
    assert created.action == AuditEvent.Action.CREATE
    assert deleted.action == AuditEvent.Action.DELETE
    assert deleted.detail == {
        "start_date": "2030-07-04",
        "end_date": "2030-07-04",
        "reason": "Independence Day",
    }


def test_closure_ending_before_it_starts_is_refused(site: Clinic, clinic_admin: User) -> None:
    with pytest.raises(InvalidInput) as exc:
        closure_create(
            user=clinic_admin,
            clinic=site,
            start_date=date(2030, 7, 5),
            end_date=date(2030, 7, 4),
            reason="Holiday",
        )
    assert _rules(exc) == [("end_date", MESSAGE_CLOSURE_ORDER)]
    assert not Closure.objects.exists()


def test_closure_delete_needs_staff_manage(site: Clinic, clinic_admin: User, nurse: User) -> None:
    closure = closure_create(
        user=clinic_admin,
        clinic=site,
        start_date=date(2030, 1, 1),
        end_date=date(2030, 1, 1),
        reason="New Year",
    )
    with pytest.raises(Forbidden):
        closure_delete(user=nurse, closure=closure)
    assert Closure.objects.filter(pk=closure.pk).exists()


# --- rooms ------------------------------------------------------------------------------


def test_room_name_is_unique_per_site_ignoring_case(
    site: Clinic, other_site: Clinic, clinic_admin: User, make_user: Any
) -> None:
    with pytest.raises(InvalidInput) as exc:
        room_create(user=clinic_admin, clinic=site, name="treatment 1", kind=Room.Kind.TREATMENT)
    assert _rules(exc) == [("name", MESSAGE_ROOM_NAME_TAKEN)]
    assert site.rooms.count() == 1
    # The same name at another site is fine.
    other_admin = make_user("admin2", other_site, "clinic_admin", licence_number="")
    room_create(user=other_admin, clinic=other_site, name="Treatment 2", kind="consult")
    room_create(user=clinic_admin, clinic=site, name="Treatment 2", kind="treatment")


def test_room_update_deactivates_and_refuses_a_taken_name(site: Clinic, clinic_admin: User) -> None:
    consult = room_create(user=clinic_admin, clinic=site, name="Consult A", kind="consult")
    room_update(user=clinic_admin, room=consult, name="Consult A", kind="consult", active=False)
    consult.refresh_from_db()
    assert consult.active is False
    with pytest.raises(InvalidInput) as exc:
        room_update(
            user=clinic_admin, room=consult, name="TREATMENT 1", kind="consult", active=True
        )
    assert _rules(exc) == [("name", MESSAGE_ROOM_NAME_TAKEN)]
    assert consult.name == "Consult A"
    consult.refresh_from_db()
    assert (consult.name, consult.active) == ("Consult A", False)
    _created, update = _events("room")
    assert update.detail == {"active": [True, False]}


def test_room_kind_must_be_known(site: Clinic, clinic_admin: User) -> None:
    with pytest.raises(InvalidInput) as exc:
        room_create(user=clinic_admin, clinic=site, name="Lab", kind="laboratory")
    assert [e.field for e in exc.value.errors] == ["kind"]
    assert not site.rooms.filter(name="Lab").exists()


# --- clinic_policy_update ---------------------------------------------------------------


def test_policy_update_writes_v2_keeps_v1_and_audits(site: Clinic, director: User) -> None:
    v1 = clinic_policy_current(clinic=site)
    assert v1.version == 1
    v2 = clinic_policy_update(
        user=director,
        clinic=site,
        changes={"treatment_consent_months": 6},
        reason="Board decision",
    )
    assert v2.version == 2
    assert v2.treatment_consent_months == 6
    assert v2.contact_consent_months is None  # copied from v1
    assert v2.changed_by_id == director.id
    assert v2.changed_by_name == director.display_name
    assert v2.change_reason == "Board decision"
    v1.refresh_from_db()
    assert v1.treatment_consent_months == 12
    assert list(site.policies.values_list("version", flat=True)) == [2, 1]
    assert clinic_policy_current(clinic=site).pk == v2.pk
    (event,) = _events("clinic_policy")
    assert event.action == AuditEvent.Action.UPDATE
    assert event.object_id == str(v2.id)
    assert event.clinic_id == site.id
    assert event.user_id == director.id
    assert event.role == "medical_director"
    assert event.detail == {"treatment_consent_months": [12, 6]}


def test_policy_update_copies_the_latest_version(site: Clinic, director: User) -> None:
    clinic_policy_update(
        user=director, clinic=site, changes={"contact_consent_months": 24}, reason="Texts"
    )
    v3 = clinic_policy_update(
        user=director, clinic=site, changes={"treatment_consent_months": 18}, reason="Yearly"
    )
    assert (v3.version, v3.contact_consent_months, v3.treatment_consent_months) == (3, 24, 18)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"treatment_consent_months": 37},
            "treatment_consent_months",
            MaxValueValidator.message % {"limit_value": 36},
        ),
        (
            {"treatment_consent_months": 0},
            "treatment_consent_months",
            MinValueValidator.message % {"limit_value": 1},
        ),
        (
            {"contact_consent_months": 121},
            "contact_consent_months",
            MaxValueValidator.message % {"limit_value": 120},
        ),
        ({"version": 9}, "version", MESSAGE_POLICY_NOT_EDITABLE),
        ({"changed_by_name": "Someone"}, "changed_by_name", MESSAGE_POLICY_NOT_EDITABLE),
    ],
)
def test_policy_update_rejects_bad_values_and_saves_nothing(
    site: Clinic, director: User, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        clinic_policy_update(user=director, clinic=site, changes=changes, reason="Try")
    assert FieldError(field, message) in exc.value.errors
    assert site.policies.count() == 1
    assert not _events("clinic_policy")


@pytest.mark.parametrize("reason", ["", "   "])
def test_policy_update_needs_a_reason(site: Clinic, director: User, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        clinic_policy_update(
            user=director, clinic=site, changes={"treatment_consent_months": 6}, reason=reason
        )
    assert _rules(exc) == [("reason", MESSAGE_POLICY_REASON)]
    assert site.policies.count() == 1


def test_policy_update_without_a_change_is_refused(site: Clinic, director: User) -> None:
    with pytest.raises(InvalidInput) as exc:
        clinic_policy_update(
            user=director, clinic=site, changes={"treatment_consent_months": 12}, reason="Same"
        )
    assert exc.value.message == MESSAGE_POLICY_NO_CHANGE
    assert site.policies.count() == 1


def test_policy_update_is_for_the_medical_director_only(
    site: Clinic,
    other_site: Clinic,
    prescriber: User,
    nurse: User,
    clinic_admin: User,
    privacy_officer: User,
    make_user: Any,
) -> None:
    for user in (prescriber, nurse, clinic_admin, privacy_officer):
        with pytest.raises(Forbidden) as exc:
            clinic_policy_update(
                user=user, clinic=site, changes={"treatment_consent_months": 6}, reason="x"
            )
        assert exc.value.message == MESSAGE_POLICY_FORBIDDEN
    # A director of another site has no say here.
    other_director = make_user("director2", other_site, "medical_director")
    with pytest.raises(Forbidden):
        clinic_policy_update(
            user=other_director, clinic=site, changes={"treatment_consent_months": 6}, reason="x"
        )
    assert site.policies.count() == 1


def test_policy_update_on_a_site_without_any_version_starts_at_v1(
    site: Clinic, director: User
) -> None:
    site.policies.all().delete()
    policy = clinic_policy_update(
        user=director, clinic=site, changes={"treatment_consent_months": 9}, reason="First"
    )
    assert policy.version == 1
    (event,) = _events("clinic_policy")
    assert event.detail == {"treatment_consent_months": [12, 9]}


def test_opening_hours_model_check_backs_the_service(site: Clinic) -> None:
    """The database refuses what the service refuses, should anything bypass it."""
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningHours.objects.create(clinic=site, weekday=0, opens=time(10), closes=time(9))
