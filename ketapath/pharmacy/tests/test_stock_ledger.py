"""The stock rules of the ledger services: expired and past-use vials are refused and
quarantined, witnesses and counters are other licensed handlers, only enabled strengths
are received, entries are immutable (in the ORM, and on PostgreSQL in the database), and a
draw goes only after what was given or wasted from it."""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.clinics.models import Clinic
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import MESSAGE_APPEND_ONLY, Formulation, LedgerEntry, Receipt, Vial

pytestmark = pytest.mark.django_db


def _delivery(formulation: Formulation, **changes: Any) -> ledger.Delivery:
    values: dict[str, Any] = {
        "formulation": formulation,
        "ndc": "11111-222-33",
        "product": "Ketamine HCl injection",
        "lot": "A1",
        "expiry": local_today(formulation.clinic.time_zone) + timedelta(days=200),
        "volume_ml": Decimal("10"),
        "vials": 2,
        "supplier": "Supplier",
        "invoice": "INV-9",
    }
    values.update(changes)
    return ledger.Delivery(**values)


# --- Expired and past-use vials -------------------------------------------------------------


def test_an_expired_vial_is_refused_by_name_and_quarantined(
    vial: Vial, nurse: User, session_id: Any
) -> None:
    yesterday = local_today(vial.clinic.time_zone) - timedelta(days=1)
    Vial.objects.filter(pk=vial.pk).update(expiry=yesterday)
    vial.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id)
    assert caught.value.code == "vial_unusable"
    assert vial.label in caught.value.message
    assert "expired" in caught.value.message
    assert [e.field for e in caught.value.errors] == ["vial"]
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED
    assert vial.balance_ml == Decimal("10.00")
    assert not LedgerEntry.objects.filter(vial=vial, kind=LedgerEntry.Kind.DRAW).exists()


def test_a_vial_is_usable_to_the_end_of_its_expiry_day(
    vial: Vial, nurse: User, session_id: Any, site: Clinic
) -> None:
    zone = ZoneInfo(site.time_zone)
    expiry = local_today(site.time_zone) + timedelta(days=3)
    Vial.objects.filter(pk=vial.pk).update(expiry=expiry)
    vial.refresh_from_db()
    late_evening = datetime.combine(expiry, time(23, 30), tzinfo=zone)
    ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id, at=late_evening)
    vial.refresh_from_db()
    # The beyond-use date never passes the expiry.
    assert vial.beyond_use_at == datetime.combine(expiry + timedelta(days=1), time.min, tzinfo=zone)
    with pytest.raises(Conflict):
        ledger.draw(
            user=nurse,
            vial=vial,
            ml="1",
            session_id=session_id,
            at=late_evening + timedelta(hours=1),
        )


def test_opening_starts_the_beyond_use_clock_and_a_past_use_vial_is_refused(
    vial: Vial, nurse: User, session_id: Any
) -> None:
    opened = timezone.now()
    ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id, at=opened)
    vial.refresh_from_db()
    assert vial.status == Vial.Status.OPEN
    assert vial.opened_at == opened
    assert vial.beyond_use_at == opened + timedelta(days=28)  # ClinicPolicy default
    ledger.draw(
        user=nurse, vial=vial, ml="1", session_id=session_id, at=opened + timedelta(days=27)
    )
    with pytest.raises(Conflict) as caught:
        ledger.draw(
            user=nurse, vial=vial, ml="1", session_id=session_id, at=opened + timedelta(days=28)
        )
    assert "beyond-use" in caught.value.message and vial.label in caught.value.message
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED
    assert vial.balance_ml == Decimal("8.00")


def test_a_quarantined_vial_cannot_be_drawn(vial: Vial, nurse: User, session_id: Any) -> None:
    ledger.quarantine(user=nurse, vial=vial, reason="Cracked neck of the vial")
    with pytest.raises(Conflict) as caught:
        ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id)
    assert "quarantined" in caught.value.message


def test_quarantine_needs_a_reason_and_the_ledger_capability(
    vial: Vial, nurse: User, front_desk: User, director: User
) -> None:
    with pytest.raises(InvalidInput) as caught:
        ledger.quarantine(user=nurse, vial=vial, reason="bad")
    assert caught.value.errors[0].field == "reason"
    for user in (front_desk, director):
        with pytest.raises(Forbidden):
            ledger.quarantine(user=user, vial=vial, reason="Label unreadable")
    vial.refresh_from_db()
    assert vial.status == Vial.Status.IN_STOCK


def test_quarantine_unusable_moves_expired_stock(make_vials: Callable[..., list[Vial]]) -> None:
    old, fresh = make_vials(2)
    expired = local_today(old.clinic.time_zone) - timedelta(days=2)
    Vial.objects.filter(pk=old.pk).update(expiry=expired)
    assert ledger.quarantine_unusable() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == Vial.Status.QUARANTINED and "expired" in old.quarantine_reason
    assert fresh.status == Vial.Status.IN_STOCK


# --- Witnesses and second people ------------------------------------------------------------


@pytest.fixture
def unlicensed_nurse(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user(
        "lapsed",
        site,
        Role.NURSE,
        licence_type="RN",
        licence_expires=local_today(site.time_zone) - timedelta(days=1),
    )


def _waste(vial: Vial, user: User, witness: User) -> LedgerEntry:
    return ledger.waste(user=user, witness=witness, vial=vial, ml="0.5", reason="Residue left")


def test_waste_is_witnessed_by_another_licensed_handler(
    vial: Vial, nurse: User, second_nurse: User
) -> None:
    entry = _waste(vial, nurse, second_nurse)
    assert entry.witness == second_nurse and entry.by == nurse
    assert entry.ml == Decimal("-0.50") and entry.mg == Decimal("-25.00")


@pytest.mark.parametrize("who", ["self", "unlicensed", "front_desk", "other_site", "director"])
def test_waste_refuses_a_witness_who_may_not_witness(
    who: str,
    vial: Vial,
    nurse: User,
    unlicensed_nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    director: User,
) -> None:
    witness = {
        "self": nurse,
        "unlicensed": unlicensed_nurse,
        "front_desk": front_desk,
        "other_site": other_clinic_nurse,
        "director": director,
    }[who]
    with pytest.raises(InvalidInput) as caught:
        _waste(vial, nurse, witness)
    assert caught.value.errors[0].field == "co_sign"
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WASTE).exists()
    vial.refresh_from_db()
    assert vial.balance_ml == Decimal("10.00")


def test_an_unlicensed_nurse_cannot_waste(
    vial: Vial, unlicensed_nurse: User, second_nurse: User
) -> None:
    with pytest.raises(Forbidden):
        _waste(vial, unlicensed_nurse, second_nurse)


def test_the_counter_of_a_delivery_is_another_licensed_handler(
    formulation: Formulation, nurse: User, unlicensed_nurse: User, front_desk: User, site: Clinic
) -> None:
    for counter in (nurse, unlicensed_nurse, front_desk):
        with pytest.raises(InvalidInput) as caught:
            ledger.receive(
                user=nurse, counted_by=counter, clinic=site, delivery=_delivery(formulation)
            )
        assert caught.value.errors[0].field == "co_sign"
    assert not Receipt.objects.exists() and not Vial.objects.exists()


# --- Receipts ----------------------------------------------------------------------------


def test_a_receipt_makes_one_full_vial_per_vial_with_a_receive_entry(
    formulation: Formulation, nurse: User, second_nurse: User, site: Clinic
) -> None:
    receipt = ledger.receive(
        user=nurse, counted_by=second_nurse, clinic=site, delivery=_delivery(formulation, vials=3)
    )
    vials = list(receipt.vial_set.order_by("label"))
    assert [v.label for v in vials] == ["K-0001", "K-0002", "K-0003"]
    for v in vials:
        assert v.balance_ml == v.volume_ml == Decimal("10.00")
        (entry,) = v.entries.all()
        assert entry.kind == LedgerEntry.Kind.RECEIVE and entry.mg == Decimal("500.00")
        assert entry.witness == second_nurse


def test_a_receipt_refuses_a_strength_not_enabled(
    enable_strength: Callable[..., Formulation],
    nurse: User,
    second_nurse: User,
    site: Clinic,
    other_site: Clinic,
    other_site_director: User,
) -> None:
    disabled = enable_strength("ketamine", "100", enabled=False)
    elsewhere = enable_strength(clinic=other_site, by=other_site_director)
    for f in (disabled, elsewhere):
        with pytest.raises(InvalidInput) as caught:
            ledger.receive(user=nurse, counted_by=second_nurse, clinic=site, delivery=_delivery(f))
        assert "formulation" in [e.field for e in caught.value.errors]
    assert not Receipt.objects.exists() and not Vial.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_only_the_medical_director_enables_strengths(
    nurse: User, director: User, site: Clinic
) -> None:
    with pytest.raises(Forbidden):
        ledger.formulation_set(
            user=nurse, clinic=site, substance="ketamine", mg_per_ml="50", enabled=True
        )
    f = ledger.formulation_set(
        user=director, clinic=site, substance="midazolam", mg_per_ml="1", enabled=True
    )
    assert f.schedule == "CIV" and f.enabled


# --- Immutability ------------------------------------------------------------------------


def test_entries_cannot_be_changed_or_deleted_through_the_orm(vial: Vial) -> None:
    entry = vial.entries.get()
    entry.reason = "changed"
    with pytest.raises(PermissionError, match="append-only"):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    entry = LedgerEntry.objects.get(pk=entry.pk)
    assert entry.reason == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_postgresql_refuses_a_raw_update_or_delete_of_an_entry(vial: Vial) -> None:
    entry = vial.entries.get()
    for sql in (
        "UPDATE pharmacy_ledgerentry SET ml = 0 WHERE id = %s",
        "DELETE FROM pharmacy_ledgerentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.id])
    assert LedgerEntry.objects.get(pk=entry.pk).ml == Decimal("10.00")
    assert MESSAGE_APPEND_ONLY.startswith("Ledger entries are append-only")


# --- Reversals ---------------------------------------------------------------------------


def test_a_reversal_keeps_the_original_and_restores_the_balance(
    vial: Vial, nurse: User, second_nurse: User
) -> None:
    wasted = _waste(vial, nurse, second_nurse)
    reversal = ledger.reverse(user=nurse, entry=wasted, reason="Wrong vial chosen")
    vial.refresh_from_db()
    assert vial.balance_ml == Decimal("10.00")
    assert reversal.reverses == wasted and reversal.ml == Decimal("0.50")
    assert LedgerEntry.objects.filter(vial=vial).count() == 3
    with pytest.raises(Conflict):
        ledger.reverse(user=nurse, entry=wasted, reason="Again, by mistake")
    with pytest.raises(Conflict):
        ledger.reverse(user=nurse, entry=reversal, reason="Undo the undo")


def test_a_draw_is_reversed_only_after_what_became_of_it(
    vial: Vial, make_draw: Callable[..., LedgerEntry], nurse: User
) -> None:
    drawn = make_draw(vial, "1")
    given = ledger.administer(user=nurse, draw_entry=drawn, mg="40")
    with pytest.raises(Conflict) as caught:
        ledger.reverse(user=nurse, entry=drawn, reason="Drawn from the wrong vial")
    assert caught.value.message == ledger.MESSAGE_REVERSE_OUTCOMES_FIRST
    ledger.reverse(user=nurse, entry=given, reason="Recorded on the wrong draw")
    ledger.reverse(
        user=nurse, entry=LedgerEntry.objects.get(pk=drawn.pk), reason="Drawn from the wrong vial"
    )
    vial.refresh_from_db()
    assert vial.balance_ml == Decimal("10.00")


def test_a_draw_cannot_be_over_accounted(
    vial: Vial, make_draw: Callable[..., LedgerEntry], nurse: User, second_nurse: User
) -> None:
    drawn = make_draw(vial, "1")  # 50 mg
    ledger.administer(user=nurse, draw_entry=drawn, mg="40")
    with pytest.raises(InvalidInput):
        ledger.waste(
            user=nurse,
            witness=second_nurse,
            vial=vial,
            ml="0.3",
            reason="Left in syringe",
            draw_entry=drawn,
        )
    ledger.waste(
        user=nurse,
        witness=second_nurse,
        vial=vial,
        ml="0.2",
        reason="Left in syringe",
        draw_entry=drawn,
    )
    account = ledger.draw_account(LedgerEntry.objects.get(pk=drawn.pk))
    assert account.balanced
    vial.refresh_from_db()
    assert vial.balance_ml == Decimal("9.00")
