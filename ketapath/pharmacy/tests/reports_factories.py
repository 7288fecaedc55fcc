"""Builders of the report tests: receipts at a given time, losses and returns through the
ledger's write path, counts, and one worked scenario whose every figure is known."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Count, CountLine, Formulation, LedgerEntry, Vial

D = Decimal


def receive_at(
    *,
    nurse: User,
    counter: User,
    clinic: Clinic,
    formulation: Formulation,
    at: datetime,
    n: int = 1,
    volume_ml: str = "10",
    lot: str = "LOT-A",
) -> list[Vial]:
    receipt = ledger.receive(
        user=nurse,
        counted_by=counter,
        clinic=clinic,
        delivery=ledger.Delivery(
            formulation=formulation,
            ndc="11111-222-33",
            product="Ketamine HCl injection, multi-dose vial",
            lot=lot,
            expiry=local_today(clinic.time_zone) + timedelta(days=365),
            volume_ml=D(volume_ml),
            vials=n,
            supplier="Test Wholesale Inc.",
            invoice=f"INV-{lot}",
            received_at=at,
        ),
    )
    return list(receipt.vial_set.order_by("label"))


def post(vial: Vial, kind: str, ml: str, by: User, at: datetime, **refs: Any) -> LedgerEntry:
    """A loss or return straight through the ledger's one write path, vial locked."""
    with transaction.atomic():
        locked = Vial.objects.select_for_update().get(pk=vial.pk)
        return ledger._post(vial=locked, kind=kind, ml=D(ml), by=by, at=at, **refs)


def count(
    clinic: Clinic,
    at: datetime,
    lines: dict[Vial, str],
    *,
    by: User,
    witness: User,
    kind: str = Count.Kind.SHIFT,
) -> Count:
    c = Count.objects.create(
        clinic=clinic, kind=kind, counted_at=at, counted_by=by, witness=witness
    )
    for v, ml in lines.items():
        v.refresh_from_db()
        CountLine.objects.create(count=c, vial=v, expected_ml=v.balance_ml, counted_ml=D(ml))
    return c


@dataclass
class Scenario:
    clinic: Clinic
    date_from: date
    date_to: date
    vials: dict[str, Vial]
    nurse: User
    witness: User


def day(clinic: Clinic, days_ago: int, hour: int = 10) -> datetime:
    """A time on a local day of the site, ``days_ago`` before today."""
    local = local_today(clinic.time_zone) - timedelta(days=days_ago)
    return datetime(local.year, local.month, local.day, hour, tzinfo=ZoneInfo(clinic.time_zone))


def build_scenario(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> Scenario:
    """Ketamine 50 mg/mL in 10 mL vials (500 mg each). The period is the last ten local
    days to tomorrow.

    Before the period: two vials received (1000 mg); a draw of 1 mL (50 mg), 40 mg given
    and 0.2 mL (10 mg) wasted. Opening: 950 mg.

    In the period: one vial received (500 mg); from A a draw of 2 mL (100 mg), 80 mg given,
    0.4 mL (20 mg) wasted; from B a draw of 1 mL (50 mg) with 30 mg given and 20 mg not
    yet accounted; 0.5 mL (25 mg) wasted from B; 0.2 mL (10 mg) wasted from B and the
    waste reversed; 1 mL (50 mg) lost from C and its other 9 mL (450 mg) returned.
    A count finds A 7 mL and B 8.4 mL (5 mg short of the ledger's 8.5 mL).
    """
    v = {}
    v["A"], v["B"] = receive_at(
        nurse=nurse,
        counter=second_nurse,
        clinic=site,
        formulation=formulation,
        at=day(site, 20),
        n=2,
    )
    session = uuid.uuid4()
    d0 = ledger.draw(
        user=nurse, vial=v["A"], ml="1", session_id=session, patient=patient, at=day(site, 15)
    )
    ledger.administer(user=nurse, draw_entry=d0, mg="40", at=day(site, 15, 11))
    ledger.waste(
        user=nurse,
        witness=second_nurse,
        vial=v["A"],
        ml="0.2",
        reason="Left in the syringe",
        draw_entry=d0,
        at=day(site, 15, 11),
    )
    # An inventory before the period: not the period's count.
    count(
        site,
        day(site, 14),
        {v["A"]: "9", v["B"]: "10"},
        by=nurse,
        witness=second_nurse,
        kind=Count.Kind.INITIAL,
    )

    (v["C"],) = receive_at(
        nurse=nurse,
        counter=second_nurse,
        clinic=site,
        formulation=formulation,
        at=day(site, 5),
        lot="LOT-C",
    )
    d1 = ledger.draw(
        user=nurse, vial=v["A"], ml="2", session_id=uuid.uuid4(), patient=patient, at=day(site, 3)
    )
    ledger.administer(user=nurse, draw_entry=d1, mg="80", at=day(site, 3, 11))
    ledger.waste(
        user=nurse,
        witness=second_nurse,
        vial=v["A"],
        ml="0.4",
        reason="Left in the syringe",
        draw_entry=d1,
        at=day(site, 3, 11),
    )
    d2 = ledger.draw(
        user=nurse, vial=v["B"], ml="1", session_id=uuid.uuid4(), patient=patient, at=day(site, 2)
    )
    ledger.administer(user=nurse, draw_entry=d2, mg="30", at=day(site, 2, 11))
    ledger.waste(
        user=nurse,
        witness=second_nurse,
        vial=v["B"],
        ml="0.5",
        reason="Drawn up and dropped",
        at=day(site, 2, 12),
    )
    wrong = ledger.waste(
        user=nurse,
        witness=second_nurse,
        vial=v["B"],
        ml="0.2",
        reason="Entered against the wrong vial",
        at=day(site, 2, 13),
    )
    ledger.reverse(user=nurse, entry=wrong, reason="Waste entered against the wrong vial")
    post(v["C"], LedgerEntry.Kind.LOSS, "-1", nurse, day(site, 1), reason="Vial cracked")
    post(
        v["C"],
        LedgerEntry.Kind.RETURN,
        "-9",
        nurse,
        day(site, 1, 12),
        witness=second_nurse,
        receiving_party="Example Reverse Distributors (RD0000000)",
        reference="RD-1",
        reason="Recalled lot",
    )
    now = timezone.now()
    count(
        site,
        now + timedelta(minutes=1),
        {v["A"]: "7", v["B"]: "8.4"},
        by=nurse,
        witness=second_nurse,
    )
    # A later count that misses vial B does not cover the stock: not the one used.
    count(site, now + timedelta(minutes=2), {v["A"]: "7"}, by=nurse, witness=second_nurse)
    today = local_today(site.time_zone)
    return Scenario(
        clinic=site,
        date_from=today - timedelta(days=10),
        date_to=today + timedelta(days=1),
        vials=v,
        nurse=nurse,
        witness=second_nurse,
    )
