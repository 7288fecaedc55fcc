"""Builders for the count, loss and return tests: vials received through the ledger (so
each starts with its receive entry), opened by a draw, or expired and quarantined."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry, Vial


def co_sign(user: User) -> dict[str, str]:
    return {"username": user.username, "password": PASSWORD}


def receive_vials(
    *,
    director: User,
    user: User,
    counted_by: User,
    clinic: Clinic,
    n: int = 2,
    substance: str = "ketamine",
    mg_per_ml: str = "50",
    volume_ml: str = "10",
    lot: str = "LOT-A",
) -> list[Vial]:
    """Enable the strength (as ``director``) and receive ``n`` vials, in label order."""
    formulation = ledger.formulation_set(
        user=director, clinic=clinic, substance=substance, mg_per_ml=mg_per_ml, enabled=True
    )
    receipt = ledger.receive(
        user=user,
        counted_by=counted_by,
        clinic=clinic,
        delivery=ledger.Delivery(
            formulation=formulation,
            ndc="0409-2051-05",
            product=f"{substance.title()} HCl injection {mg_per_ml} mg/mL",
            lot=lot,
            expiry=local_today(clinic.time_zone) + timedelta(days=365),
            volume_ml=Decimal(volume_ml),
            vials=n,
            supplier="Acme Wholesale",
            invoice=f"INV-{uuid.uuid4().hex[:6]}",
            received_at=timezone.now() - timedelta(days=3),
        ),
    )
    return list(Vial.objects.filter(receipt=receipt).order_by("label"))


def open_vial(*, user: User, vial: Vial, ml: str = "2") -> Vial:
    """Draw from a vial for a session, which opens it."""
    ledger.draw(user=user, vial=vial, ml=ml, session_id=uuid.uuid4())
    return Vial.objects.get(pk=vial.pk)


def expire_and_quarantine(vial: Vial, expired_on: date | None = None) -> Vial:
    """A vial whose lot expired: set aside in quarantine, balance kept."""
    Vial.objects.filter(pk=vial.pk).update(
        expiry=expired_on or local_today(vial.clinic.time_zone) - timedelta(days=2)
    )
    ledger.quarantine_unusable(clinic=vial.clinic)
    return Vial.objects.get(pk=vial.pk)


def entries_sum(vial: Vial) -> Decimal:
    return sum((e.ml for e in LedgerEntry.objects.filter(vial=vial)), Decimal("0"))
