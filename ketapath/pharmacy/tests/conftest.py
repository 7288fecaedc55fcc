"""Shared fixtures of the controlled-substance ledger tests.

The site's medical director enables ketamine 50 mg/mL (``formulation``); ``make_vials``
receives a delivery through ``ledger.receive`` (entered by ``nurse``, counted by
``second_nurse``), so every vial starts with its receive entry like a real one.
``other_site_vial`` is a vial at ``other_site`` for the scoping tests.
"""

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ketapath.accounts.models import Role, User
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, Substance, Vial


def co_sign(user: User) -> dict[str, str]:
    """The ``co_sign`` object of an API payload for this user."""
    return {"username": user.username, "password": PASSWORD}


@pytest.fixture
def second_nurse(make_user: Callable[..., User], site: Clinic) -> User:
    """Another licensed nurse at the site: the one counting, the witness."""
    return make_user("nurse_b", site, Role.NURSE, licence_type="RN")


@pytest.fixture
def other_site_director(make_user: Callable[..., User], other_site: Clinic) -> User:
    return make_user("director2", other_site, Role.MEDICAL_DIRECTOR)


@pytest.fixture
def other_site_second_nurse(make_user: Callable[..., User], other_site: Clinic) -> User:
    return make_user("nurse2_b", other_site, Role.NURSE, licence_type="RN")


@pytest.fixture
def enable_strength(director: User, site: Clinic) -> Callable[..., Formulation]:
    """Enable a strength as the medical director (``by`` for another site's director)."""

    def enable(
        substance: str = Substance.KETAMINE,
        mg_per_ml: object = "50",
        *,
        clinic: Clinic | None = None,
        by: User | None = None,
        enabled: bool = True,
    ) -> Formulation:
        return ledger.formulation_set(
            user=by or director,
            clinic=clinic or site,
            substance=substance,
            mg_per_ml=mg_per_ml,
            enabled=enabled,
        )

    return enable


@pytest.fixture
def formulation(enable_strength: Callable[..., Formulation]) -> Formulation:
    return enable_strength()


@pytest.fixture
def make_vials(
    nurse: User, second_nurse: User, site: Clinic, formulation: Formulation
) -> Callable[..., list[Vial]]:
    """Receive ``n`` vials of one lot and answer them in label order."""
    counter = {"n": 0}

    def make(
        n: int = 1,
        *,
        formulation_: Formulation | None = None,
        clinic: Clinic | None = None,
        by: User | None = None,
        counted_by: User | None = None,
        volume_ml: object = "10",
        expiry: date | None = None,
        lot: str | None = None,
    ) -> list[Vial]:
        counter["n"] += 1
        receipt = ledger.receive(
            user=by or nurse,
            counted_by=counted_by or second_nurse,
            clinic=clinic or site,
            delivery=ledger.Delivery(
                formulation=formulation_ or formulation,
                ndc="11111-222-33",
                product="Ketamine HCl injection, multi-dose vial",
                lot=lot or f"LOT{counter['n']:03d}",
                expiry=expiry or local_today((clinic or site).time_zone) + timedelta(days=365),
                volume_ml=Decimal(str(volume_ml)),
                vials=n,
                supplier="Test Wholesale Inc.",
                invoice=f"INV-{counter['n']:04d}",
            ),
        )
        return list(receipt.vial_set.order_by("label"))

    return make


@pytest.fixture
def vial(make_vials: Callable[..., list[Vial]]) -> Vial:
    return make_vials(1)[0]


@pytest.fixture
def other_site_vial(
    enable_strength: Callable[..., Formulation],
    make_vials: Callable[..., list[Vial]],
    other_site: Clinic,
    other_site_director: User,
    other_clinic_nurse: User,
    other_site_second_nurse: User,
) -> Vial:
    f = enable_strength(clinic=other_site, by=other_site_director)
    return make_vials(
        1,
        formulation_=f,
        clinic=other_site,
        by=other_clinic_nurse,
        counted_by=other_site_second_nurse,
    )[0]


@pytest.fixture
def session_id() -> uuid.UUID:
    """A treatment session, as the plain reference a draw stores."""
    return uuid.uuid4()


@pytest.fixture
def make_draw(nurse: User, session_id: uuid.UUID) -> Callable[..., Any]:
    def make(vial: Vial, ml: object = "1", **kwargs: Any) -> Any:
        kwargs.setdefault("session_id", session_id)
        return ledger.draw(user=kwargs.pop("user", nurse), vial=vial, ml=ml, **kwargs)

    return make
