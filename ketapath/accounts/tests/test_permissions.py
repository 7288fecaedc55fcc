"""The permission helper: the role matrix of DESIGN §10, credentials, and per-site roles."""

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from ketapath.accounts.models import Membership, Role, User
from ketapath.accounts.permissions import (
    clinic_ids_for,
    clinics_where,
    denial_reason,
    forget_grants,
    roles_at,
    user_can,
    user_can_anywhere,
)
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability as C
from ketapath.core.timeutils import local_today

# DESIGN §10, written out independently of the code's table.
ALL_STAFF = set(Role.values)
CLINICAL = {Role.MEDICAL_DIRECTOR, Role.PRESCRIBER, Role.NURSE}
SIGNERS = {Role.MEDICAL_DIRECTOR, Role.PRESCRIBER}
EXPECTED: dict[C, set[str]] = {
    C.PATIENT_READ: ALL_STAFF,
    C.PATIENT_WRITE: CLINICAL | {Role.FRONT_DESK},
    C.SCHEDULE_WRITE: CLINICAL | {Role.FRONT_DESK},
    C.EVALUATION_READ: CLINICAL | {Role.THERAPIST},
    C.EVALUATION_DRAFT: CLINICAL,
    C.EVALUATION_SIGN: SIGNERS,
    C.ALERT_ACK: SIGNERS,
    C.QUESTIONNAIRE_ENTER: CLINICAL | {Role.THERAPIST},
    # Whoever enters questionnaires may also send the patient a link to answer them.
    C.LINK_SEND: CLINICAL | {Role.THERAPIST, Role.FRONT_DESK},
    C.PROTOCOL_WRITE: {Role.MEDICAL_DIRECTOR},
    C.PROTOCOL_READ: CLINICAL,
    C.SESSION_DOCUMENT: CLINICAL,
    C.SESSION_SIGN: SIGNERS,
    C.COURSE_ORDER: SIGNERS,
    C.LEDGER_HANDLE: {Role.PRESCRIBER, Role.NURSE},
    C.LEDGER_RECONCILE: {Role.MEDICAL_DIRECTOR},
    C.OUTCOMES_READ: CLINICAL | {Role.THERAPIST},
    C.BILLING_READ: SIGNERS | {Role.THERAPIST, Role.BILLER},
    C.BILLING_WRITE: {Role.BILLER},
    C.AUDIT_READ: {Role.PRIVACY_OFFICER},
    C.POLICY_WRITE: {Role.MEDICAL_DIRECTOR},
    C.STAFF_MANAGE: {Role.CLINIC_ADMIN},
}


def test_every_capability_is_in_the_expected_matrix() -> None:
    assert set(EXPECTED) == set(C)


@pytest.mark.parametrize("role", Role.values)
def test_role_matrix(make_user: Callable[..., User], site: Clinic, role: str) -> None:
    # Every credential current, so only the role decides.
    user = make_user(f"u-{role}", site, role)
    granted = {cap for cap in C if user_can(user, cap, site.id)}
    assert granted == {cap for cap, roles in EXPECTED.items() if role in roles}


def test_named_examples(
    front_desk: User, nurse: User, privacy_officer: User, prescriber: User, site: Clinic
) -> None:
    assert not front_desk.can(C.EVALUATION_SIGN, site.id)
    assert not nurse.can_anywhere(C.AUDIT_READ)
    assert privacy_officer.can_anywhere(C.AUDIT_READ)
    assert prescriber.can(C.EVALUATION_SIGN, site.id)


def test_roles_combine(make_user: Callable[..., User], site: Clinic) -> None:
    user = make_user("both", site, Role.NURSE, Role.BILLER)
    assert user_can(user, C.SESSION_DOCUMENT, site.id)
    assert user_can(user, C.BILLING_WRITE, site.id)
    assert roles_at(user, site.id) == ["biller", "nurse"]


# Credentials -------------------------------------------------------------------------------


@pytest.fixture
def yesterday(site: Clinic) -> date:
    """The day before today at the site, where credentials are checked."""
    return local_today(site.time_zone) - timedelta(days=1)


def test_expired_licence_removes_signing_from_a_prescriber(
    make_user: Callable[..., User], site: Clinic, yesterday: date
) -> None:
    user = make_user("p1", site, Role.PRESCRIBER, licence_expires=yesterday)
    for cap in (C.EVALUATION_SIGN, C.SESSION_SIGN, C.COURSE_ORDER, C.SESSION_DOCUMENT,
                C.LEDGER_HANDLE):  # fmt: skip
        assert not user_can(user, cap, site.id), cap
    assert user_can(user, C.PATIENT_READ, site.id)
    assert user_can(user, C.EVALUATION_DRAFT, site.id)
    assert "licence" in denial_reason(user, C.EVALUATION_SIGN, site.id)


def test_licence_expiring_today_is_still_valid(
    make_user: Callable[..., User], site: Clinic
) -> None:
    today = local_today(site.time_zone)
    user = make_user("p2", site, Role.PRESCRIBER, licence_expires=today)
    assert user_can(user, C.EVALUATION_SIGN, site.id)
    assert not user_can(user, C.EVALUATION_SIGN, site.id, on=today + timedelta(1))


def test_credentials_are_checked_on_each_sites_local_date(
    make_user: Callable[..., User], site: Clinic, other_site: Clinic
) -> None:
    # UTC-11 and UTC+14: the two sites' local dates differ at every hour.
    Clinic.objects.filter(pk=site.pk).update(time_zone="Pacific/Pago_Pago")
    Clinic.objects.filter(pk=other_site.pk).update(time_zone="Pacific/Kiritimati")
    behind = local_today("Pacific/Pago_Pago")
    assert local_today("Pacific/Kiritimati") > behind
    user = make_user("p9", site, Role.PRESCRIBER, licence_expires=behind, dea_expires=behind)
    Membership.objects.create(user=user, clinic=other_site, role=Role.PRESCRIBER)
    forget_grants(user)
    assert user_can(user, C.COURSE_ORDER, site.id)
    assert not user_can(user, C.COURSE_ORDER, other_site.id)
    assert clinics_where(user, C.COURSE_ORDER) == {site.id}
    assert user_can_anywhere(user, C.COURSE_ORDER)
    assert denial_reason(user, C.COURSE_ORDER, other_site.id) == (
        "Your licence, DEA registration is missing or expired, so you cannot: "
        f"{C.COURSE_ORDER.label.lower()}."
    )


def test_missing_licence_number_counts_as_no_licence(
    make_user: Callable[..., User], site: Clinic
) -> None:
    user = make_user("p3", site, Role.PRESCRIBER, licence_number="")
    assert not user_can(user, C.EVALUATION_SIGN, site.id)


def test_expired_dea_removes_course_order_only(
    make_user: Callable[..., User], site: Clinic, yesterday: date
) -> None:
    user = make_user("p4", site, Role.PRESCRIBER, dea_expires=yesterday)
    assert not user_can(user, C.COURSE_ORDER, site.id)
    assert user_can(user, C.EVALUATION_SIGN, site.id)
    assert user_can(user, C.PATIENT_READ, site.id)
    assert "DEA registration" in denial_reason(user, C.COURSE_ORDER, site.id)


def test_missing_dea_removes_course_order(make_user: Callable[..., User], site: Clinic) -> None:
    user = make_user("p5", site, Role.PRESCRIBER, dea_number="", dea_expires=None)
    assert not user_can(user, C.COURSE_ORDER, site.id)


def test_expired_acls_removes_session_documenting_from_a_nurse(
    make_user: Callable[..., User], site: Clinic, yesterday: date
) -> None:
    user = make_user("n1", site, Role.NURSE, licence_type="RN", acls_expires=yesterday)
    assert not user_can(user, C.SESSION_DOCUMENT, site.id)
    assert user_can(user, C.PATIENT_READ, site.id)
    assert user_can(user, C.LEDGER_HANDLE, site.id)
    assert "ACLS certification" in denial_reason(user, C.SESSION_DOCUMENT, site.id)


def test_expired_credentials_do_not_touch_roles_without_clinical_actions(
    make_user: Callable[..., User], site: Clinic, yesterday: date
) -> None:
    user = make_user(
        "priv",
        site,
        Role.PRIVACY_OFFICER,
        licence_number="",
        licence_expires=yesterday,
        dea_expires=yesterday,
        acls_expires=yesterday,
    )
    assert user_can(user, C.AUDIT_READ, site.id)
    assert user_can(user, C.PATIENT_READ, site.id)


def test_role_denial_reason_names_the_action(front_desk: User, site: Clinic) -> None:
    assert denial_reason(front_desk, C.EVALUATION_SIGN, site.id) == (
        "Your role does not allow this: sign evaluations and eligibility."
    )


# Roles are per site ------------------------------------------------------------------------


def test_a_nurse_at_one_site_is_nobody_at_another(
    nurse: User, site: Clinic, other_site: Clinic
) -> None:
    assert user_can(nurse, C.PATIENT_READ, site.id)
    for cap in C:
        assert not user_can(nurse, cap, other_site.id), cap
    assert roles_at(nurse, other_site.id) == []
    assert clinic_ids_for(nurse) == {site.id}


def test_different_roles_at_different_sites(
    make_user: Callable[..., User], site: Clinic, other_site: Clinic
) -> None:
    user = make_user("split", site, Role.NURSE)
    Membership.objects.create(user=user, clinic=other_site, role=Role.FRONT_DESK)
    forget_grants(user)
    assert user_can(user, C.SESSION_DOCUMENT, site.id)
    assert not user_can(user, C.SESSION_DOCUMENT, other_site.id)
    assert user_can(user, C.EVALUATION_DRAFT, site.id)
    assert not user_can(user, C.EVALUATION_DRAFT, other_site.id)
    assert user_can(user, C.SCHEDULE_WRITE, other_site.id)
    assert user_can_anywhere(user, C.EVALUATION_DRAFT)
    assert clinics_where(user, C.SESSION_DOCUMENT) == {site.id}
    assert clinics_where(user, C.PATIENT_READ) == {site.id, other_site.id}


# Inactive memberships, users and sites --------------------------------------------------------


def test_inactive_membership_grants_nothing(make_user: Callable[..., User], site: Clinic) -> None:
    user = make_user("gone", site, Role.NURSE)
    Membership.objects.filter(user=user).update(active=False)
    user = User.objects.get(pk=user.pk)
    assert not any(user_can(user, cap, site.id) for cap in C)
    assert clinic_ids_for(user) == set()
    assert roles_at(user, site.id) == []


def test_inactive_user_can_do_nothing(nurse: User, site: Clinic) -> None:
    nurse.is_active = False
    assert not any(user_can(nurse, cap, site.id) for cap in C)
    assert not user_can_anywhere(nurse, C.PATIENT_READ)
    assert clinic_ids_for(nurse) == set()


def test_inactive_site_grants_nothing(nurse: User, site: Clinic) -> None:
    Clinic.objects.filter(pk=site.pk).update(active=False)
    nurse = User.objects.get(pk=nurse.pk)
    assert not user_can(nurse, C.PATIENT_READ, site.id)


def test_anonymous_can_do_nothing(site: Clinic) -> None:
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert not user_can(anonymous, C.PATIENT_READ, site.id)
    assert not user_can_anywhere(anonymous, C.PATIENT_READ)
    assert clinic_ids_for(anonymous) == set()
    assert roles_at(anonymous, site.id) == []


def test_grants_are_loaded_once_per_user_object(
    nurse: User, site: Clinic, django_assert_num_queries: Callable[..., object]
) -> None:
    user = User.objects.get(pk=nurse.pk)
    with django_assert_num_queries(1):  # type: ignore[operator]
        for cap in C:
            user_can(user, cap, site.id)
        roles_at(user, site.id)
