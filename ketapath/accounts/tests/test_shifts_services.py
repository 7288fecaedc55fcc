"""Shift services: who may change shifts, what is refused (naming the field), and the audit
trail; plus the database constraints behind them."""

from collections.abc import Callable
from datetime import date, time

import pytest
from django.db import IntegrityError, transaction

from ketapath.accounts.models import (
    MESSAGE_EXTRA_NEEDS_TIMES,
    MESSAGE_OFF_TIMES_PAIR,
    MESSAGE_SHIFT_ORDER,
    Membership,
    Role,
    Shift,
    ShiftException,
    User,
)
from ketapath.accounts.services import (
    MESSAGE_SHIFT_EXCEPTION_INVALID,
    MESSAGE_SHIFT_EXCEPTION_OVERLAP,
    MESSAGE_SHIFT_FORBIDDEN,
    MESSAGE_SHIFT_INVALID,
    MESSAGE_SHIFT_NOT_STAFF,
    MESSAGE_SHIFT_OVERLAP,
    shift_add,
    shift_exception_add,
    shift_exception_remove,
    shift_remove,
)
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.errors import FieldError, Forbidden, InvalidInput

pytestmark = pytest.mark.django_db

OFF = ShiftException.Kind.OFF
EXTRA = ShiftException.Kind.EXTRA
DAY = date(2031, 3, 4)


def add(actor: User, user: User, clinic: Clinic, weekday: int, starts: int, ends: int) -> Shift:
    return shift_add(
        actor=actor,
        user=user,
        clinic=clinic,
        weekday=weekday,
        starts=time(starts),
        ends=time(ends),
    )


def test_clinic_admin_adds_a_weekly_shift_and_it_is_audited(
    clinic_admin: User, nurse: User, site: Clinic
) -> None:
    shift = add(clinic_admin, nurse, site, 0, 8, 16)

    shift.refresh_from_db()
    assert (shift.weekday, shift.starts, shift.ends, shift.active) == (0, time(8), time(16), True)
    event = AuditEvent.objects.get(object_type="shift", object_id=str(shift.id))
    assert event.action == AuditEvent.Action.CREATE
    assert event.username == clinic_admin.username
    assert event.role == Role.CLINIC_ADMIN
    assert event.clinic_id == site.id
    assert event.detail == {
        "user": str(nurse.id),
        "username": nurse.username,
        "weekday": 0,
        "starts": "08:00",
        "ends": "16:00",
    }


@pytest.mark.parametrize("persona", ["director", "prescriber", "nurse", "front_desk"])
def test_other_roles_may_not_change_shifts(
    request: pytest.FixtureRequest, persona: str, nurse: User, site: Clinic, clinic_admin: User
) -> None:
    actor = request.getfixturevalue(persona)
    shift = add(clinic_admin, nurse, site, 0, 8, 16)
    exception = shift_exception_add(
        actor=clinic_admin, user=nurse, clinic=site, date=DAY, kind=OFF, reason="Leave"
    )
    with pytest.raises(Forbidden) as caught:
        add(actor, nurse, site, 1, 8, 16)
    assert caught.value.message == MESSAGE_SHIFT_FORBIDDEN
    with pytest.raises(Forbidden):
        shift_remove(actor=actor, shift=shift)
    with pytest.raises(Forbidden):
        shift_exception_add(actor=actor, user=nurse, clinic=site, date=DAY, kind=EXTRA, reason="x")
    with pytest.raises(Forbidden):
        shift_exception_remove(actor=actor, exception=exception)
    assert Shift.objects.filter(active=True).count() == 1
    assert ShiftException.objects.count() == 1


def test_an_admin_of_another_site_may_not_change_this_sites_shifts(
    make_user: Callable[..., User], other_site: Clinic, site: Clinic, nurse: User
) -> None:
    other_admin = make_user("admin2", other_site, Role.CLINIC_ADMIN, licence_number="")
    with pytest.raises(Forbidden):
        add(other_admin, nurse, site, 0, 8, 16)


def test_only_staff_of_the_site_get_shifts_there(
    clinic_admin: User, other_clinic_nurse: User, nurse: User, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as caught:
        add(clinic_admin, other_clinic_nurse, site, 0, 8, 16)
    assert caught.value.errors == [FieldError("user", MESSAGE_SHIFT_NOT_STAFF)]
    Membership.objects.filter(user=nurse).update(active=False)
    with pytest.raises(InvalidInput) as caught:
        shift_exception_add(
            actor=clinic_admin, user=nurse, clinic=site, date=DAY, kind=OFF, reason="x"
        )
    assert caught.value.message == MESSAGE_SHIFT_EXCEPTION_INVALID
    assert caught.value.errors == [FieldError("user", MESSAGE_SHIFT_NOT_STAFF)]
    Membership.objects.filter(user=nurse).update(active=True)
    nurse.is_active = False
    nurse.save()
    with pytest.raises(InvalidInput):
        add(clinic_admin, nurse, site, 0, 8, 16)
    assert not Shift.objects.exists()


def test_a_shift_must_end_after_it_starts(clinic_admin: User, nurse: User, site: Clinic) -> None:
    for starts, ends in ((16, 8), (8, 8)):
        with pytest.raises(InvalidInput) as caught:
            add(clinic_admin, nurse, site, 0, starts, ends)
        assert caught.value.message == MESSAGE_SHIFT_INVALID
        assert caught.value.errors == [FieldError("ends", MESSAGE_SHIFT_ORDER)]
    with pytest.raises(InvalidInput) as caught:
        add(clinic_admin, nurse, site, 7, 8, 16)
    assert [e.field for e in caught.value.errors] == ["weekday"]
    assert not Shift.objects.exists()


def test_overlapping_shifts_on_the_same_weekday_are_refused_naming_the_field(
    clinic_admin: User, nurse: User, site: Clinic
) -> None:
    add(clinic_admin, nurse, site, 0, 8, 12)
    expected = MESSAGE_SHIFT_OVERLAP.format(weekday="Monday", starts="08:00", ends="12:00")

    with pytest.raises(InvalidInput) as caught:
        add(clinic_admin, nurse, site, 0, 11, 15)  # starts inside the other
    assert caught.value.errors == [FieldError("starts", expected)]
    with pytest.raises(InvalidInput) as caught:
        add(clinic_admin, nurse, site, 0, 7, 9)  # ends inside the other
    assert caught.value.errors == [FieldError("ends", expected)]
    with pytest.raises(InvalidInput):
        add(clinic_admin, nurse, site, 0, 6, 18)  # covers it

    # Touching is not overlapping; another weekday, person or site is no clash.
    add(clinic_admin, nurse, site, 0, 12, 17)
    add(clinic_admin, nurse, site, 1, 8, 12)
    assert Shift.objects.filter(user=nurse, clinic=site).count() == 3


def test_a_removed_shift_frees_its_time_and_stays_as_history(
    clinic_admin: User, nurse: User, site: Clinic
) -> None:
    shift = add(clinic_admin, nurse, site, 2, 8, 16)
    shift_remove(actor=clinic_admin, shift=shift)
    shift.refresh_from_db()
    assert shift.active is False
    event = AuditEvent.objects.get(object_type="shift", action=AuditEvent.Action.UPDATE)
    assert event.detail["active"] == [True, False]
    assert event.detail["weekday"] == 2

    # Removing again changes and audits nothing; the time can be rostered anew.
    shift_remove(actor=clinic_admin, shift=shift)
    assert AuditEvent.objects.filter(object_type="shift", action="update").count() == 1
    add(clinic_admin, nurse, site, 2, 9, 17)


def test_a_whole_day_off_and_an_extra_shift(clinic_admin: User, nurse: User, site: Clinic) -> None:
    off = shift_exception_add(
        actor=clinic_admin, user=nurse, clinic=site, date=DAY, kind=OFF, reason=" Leave "
    )
    extra = shift_exception_add(
        actor=clinic_admin,
        user=nurse,
        clinic=site,
        date=DAY,
        kind=EXTRA,
        starts=time(18),
        ends=time(20),
        reason="Evening clinic",
    )
    assert off.whole_day and off.reason == "Leave"
    assert not extra.whole_day
    event = AuditEvent.objects.get(object_type="shift_exception", object_id=str(extra.id))
    assert event.action == AuditEvent.Action.CREATE
    assert event.detail == {
        "user": str(nurse.id),
        "username": nurse.username,
        "date": "2031-03-04",
        "kind": "extra",
        "starts": "18:00",
        "ends": "20:00",
        "reason": "Evening clinic",
    }


@pytest.mark.parametrize(
    ("kind", "starts", "ends", "errors"),
    [
        (EXTRA, None, None, [("starts", MESSAGE_EXTRA_NEEDS_TIMES)]),
        (EXTRA, time(9), None, [("ends", MESSAGE_EXTRA_NEEDS_TIMES)]),
        (OFF, None, time(12), [("starts", MESSAGE_OFF_TIMES_PAIR)]),
        (OFF, time(12), time(9), [("ends", MESSAGE_SHIFT_ORDER)]),
        ("holiday", None, None, [("kind", None)]),
    ],
)
def test_bad_exceptions_are_refused_naming_the_field(
    clinic_admin: User,
    nurse: User,
    site: Clinic,
    kind: str,
    starts: time | None,
    ends: time | None,
    errors: list[tuple[str, str | None]],
) -> None:
    with pytest.raises(InvalidInput) as caught:
        shift_exception_add(
            actor=clinic_admin,
            user=nurse,
            clinic=site,
            date=DAY,
            kind=kind,
            starts=starts,
            ends=ends,
            reason="x",
        )
    assert caught.value.message == MESSAGE_SHIFT_EXCEPTION_INVALID
    got = [(e.field, e.rule) for e in caught.value.errors]
    assert [field for field, _ in got] == [field for field, _ in errors]
    for (_, rule), (_, expected) in zip(got, errors, strict=True):
        if expected is not None:
            assert rule == expected
    assert not ShiftException.objects.exists()


def test_a_reason_is_required(clinic_admin: User, nurse: User, site: Clinic) -> None:
    with pytest.raises(InvalidInput) as caught:
        shift_exception_add(
            actor=clinic_admin, user=nurse, clinic=site, date=DAY, kind=OFF, reason="  "
        )
    assert [e.field for e in caught.value.errors] == ["reason"]


def test_overlapping_exceptions_of_one_kind_on_one_day_are_refused(
    clinic_admin: User, nurse: User, site: Clinic
) -> None:
    def exception(kind: str, starts: int | None = None, ends: int | None = None) -> None:
        shift_exception_add(
            actor=clinic_admin,
            user=nurse,
            clinic=site,
            date=DAY,
            kind=kind,
            starts=time(starts) if starts is not None else None,
            ends=time(ends) if ends is not None else None,
            reason="x",
        )

    exception(OFF, 8, 12)
    with pytest.raises(InvalidInput) as caught:
        exception(OFF, 10, 14)
    assert caught.value.errors == [
        FieldError(
            "starts",
            MESSAGE_SHIFT_EXCEPTION_OVERLAP.format(
                kind="time off", date="2031-03-04", when="08:00–12:00"
            ),
        )
    ]
    with pytest.raises(InvalidInput) as caught:
        exception(OFF)  # a whole day clashes with any time off that day
    assert [e.field for e in caught.value.errors] == ["date"]
    exception(OFF, 12, 14)  # touching
    exception(EXTRA, 10, 14)  # another kind
    with pytest.raises(InvalidInput):
        exception(EXTRA, 13, 15)
    assert ShiftException.objects.count() == 3


def test_removing_an_exception_deletes_it_and_is_audited(
    clinic_admin: User, nurse: User, site: Clinic
) -> None:
    exception = shift_exception_add(
        actor=clinic_admin, user=nurse, clinic=site, date=DAY, kind=OFF, reason="Leave"
    )
    exception_id = exception.id
    shift_exception_remove(actor=clinic_admin, exception=exception)
    assert not ShiftException.objects.exists()
    event = AuditEvent.objects.get(object_type="shift_exception", action="delete")
    assert event.object_id == str(exception_id)
    assert event.detail["reason"] == "Leave"
    assert event.detail["starts"] is None


def test_the_database_refuses_what_the_services_refuse(nurse: User, site: Clinic) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.create(user=nurse, clinic=site, weekday=0, starts=time(9), ends=time(8))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.create(user=nurse, clinic=site, weekday=9, starts=time(8), ends=time(9))
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftException.objects.create(user=nurse, clinic=site, date=DAY, kind=EXTRA, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftException.objects.create(
            user=nurse, clinic=site, date=DAY, kind=OFF, starts=time(9), reason="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftException.objects.create(user=nurse, clinic=site, date=DAY, kind="swap", reason="x")
    ShiftException.objects.create(user=nurse, clinic=site, date=DAY, kind=OFF, reason="x")
