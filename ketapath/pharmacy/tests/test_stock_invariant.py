"""The balance invariant of the ledger over generated sequences of receipts, draws, waste
(from a vial and from a draw), administrations, reversals, quarantine, losses, returns and
counts, applied through the services: after every step each vial's cached balance equals
the sum of its entries and stays within 0..volume, every draw's administered plus wasted
stays within what was drawn, a count moves no stock (a short line opens an
investigation), and a refused operation leaves no entry and no change of balance behind
(a draw refused for an expired or past-use vial moves the vial to quarantine)."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.errors import ApplicationError
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger, losses, stocktake
from ketapath.pharmacy.models import Formulation, Investigation, LedgerEntry, Receipt, Vial

pytestmark = pytest.mark.django_db

amount = st.integers(min_value=1, max_value=1200).map(lambda c: Decimal(c) / 100)
index = st.integers(min_value=0, max_value=50)
operation = st.one_of(
    st.tuples(st.just("receive"), st.integers(1, 3), st.sampled_from(["1", "2", "5", "10"])),
    st.tuples(st.just("receive_disabled"), st.integers(1, 2), st.just("10")),
    st.tuples(st.just("draw"), index, amount),
    st.tuples(st.just("draw"), index, amount.map(lambda d: d / 4)),
    st.tuples(st.just("draw_late"), index, amount),
    st.tuples(st.just("waste_vial"), index, amount),
    st.tuples(st.just("waste_draw"), index, amount),
    st.tuples(st.just("administer"), index, amount.map(lambda d: d * 5)),
    st.tuples(st.just("reverse"), index, st.just(None)),
    st.tuples(st.just("reverse_draw"), index, st.just(None)),
    st.tuples(st.just("quarantine"), index, st.just(None)),
    st.tuples(st.just("loss"), index, amount),
    st.tuples(st.just("return"), index, st.just(None)),
    st.tuples(st.just("count"), index, st.sampled_from([Decimal("0"), Decimal("0.1")])),
)


class _Rollback(Exception):
    """Ends one generated example, undoing everything it wrote."""


def _snapshot() -> tuple[int, int, dict[Any, Decimal]]:  # entries, receipts, balances
    return (
        LedgerEntry.objects.count(),
        Receipt.objects.count(),
        dict(Vial.objects.values_list("id", "balance_ml")),
    )


def _statuses() -> dict[Any, str]:
    return dict(Vial.objects.values_list("id", "status"))


def _check_invariant() -> None:
    sums = dict(
        LedgerEntry.objects.values("vial_id").annotate(s=Sum("ml")).values_list("vial_id", "s")
    )
    for v in Vial.objects.all():
        assert v.balance_ml == Decimal(str(sums.get(v.id) or 0)).quantize(Decimal("0.01"))
        assert Decimal("0") <= v.balance_ml <= v.volume_ml
        if v.balance_ml == 0:
            assert v.status not in ledger.USABLE
    for d in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DRAW):
        account = ledger.draw_account(d)
        assert account.administered_mg + account.wasted_mg <= account.drawn_mg
        assert account.administered_mg >= 0 and account.wasted_mg >= 0


def _pick(items: list[Any], i: int) -> Any:
    return items[i % len(items)] if items else None


def _apply(
    op: tuple[str, Any, Any],
    *,
    nurse: User,
    witness: User,
    site: Clinic,
    enabled: Formulation,
    disabled: Formulation,
    session_id: Any,
) -> None:
    kind, a, b = op
    vials = list(Vial.objects.order_by("label"))
    draws = list(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DRAW).order_by("created_at"))
    if kind in ("receive", "receive_disabled"):
        ledger.receive(
            user=nurse,
            counted_by=witness,
            clinic=site,
            delivery=ledger.Delivery(
                formulation=enabled if kind == "receive" else disabled,
                ndc="11111-222-33",
                product="Test product",
                lot="L1",
                expiry=local_today(site.time_zone) + timedelta(days=365),
                volume_ml=Decimal(b),
                vials=a,
                supplier="Supplier",
                invoice="INV",
            ),
        )
    elif kind in ("draw", "draw_late") and vials:
        at = timezone.now() + timedelta(days=40) if kind == "draw_late" else None
        ledger.draw(user=nurse, vial=_pick(vials, a), ml=b, session_id=session_id, at=at)
    elif kind == "waste_vial" and vials:
        ledger.waste(user=nurse, witness=witness, vial=_pick(vials, a), ml=b, reason="Residue")
    elif kind == "waste_draw" and draws:
        d = _pick(draws, a)
        ledger.waste(
            user=nurse, witness=witness, vial=d.vial, ml=b, reason="Not given", draw_entry=d
        )
    elif kind == "administer" and draws:
        ledger.administer(user=nurse, draw_entry=_pick(draws, a), mg=b)
    elif kind == "reverse":
        entries = list(LedgerEntry.objects.order_by("created_at"))
        if entries:
            ledger.reverse(user=nurse, entry=_pick(entries, a), reason="Entered in error")
    elif kind == "reverse_draw" and draws:
        ledger.reverse(user=nurse, entry=_pick(draws, a), reason="Wrong vial")
    elif kind == "quarantine" and vials:
        ledger.quarantine(user=nurse, vial=_pick(vials, a), reason="Cracked vial")
    elif kind == "loss" and vials:
        losses.loss_report_create(
            user=nurse,
            clinic=site,
            kind="significant_loss",
            discovered_at=timezone.now(),
            description="Vial dropped and broken in the cabinet",
            items=[(_pick(vials, a), b)],
        )
    elif kind == "return" and vials:
        losses.return_record(
            user=nurse,
            witness=witness,
            vial=_pick(vials, a),
            receiving_party="Demo Reverse Distributors LLC",
            reference="RD-1",
            reason="Expired stock",
        )
    elif kind == "count" and vials:
        # A count never moves stock: a short line opens an investigation instead.
        held = [v for v in vials if v.balance_ml > 0]
        if held:
            lines = {v.id: v.balance_ml for v in held}
            short = _pick(held, a)
            lines[short.id] = max(Decimal("0"), short.balance_ml - b)
            opened = Investigation.objects.count()
            stocktake.count_record(
                user=nurse, witness=witness, clinic=site, kind="shift", lines=lines
            )
            differs = lines[short.id] != short.balance_ml
            assert Investigation.objects.count() == opened + (1 if differs else 0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=3, max_size=16))
def test_balance_invariant_holds_after_every_step(
    ops: list[tuple[str, Any, Any]],
    nurse: User,
    second_nurse: User,
    site: Clinic,
    enable_strength: Callable[..., Formulation],
    session_id: Any,
) -> None:
    try:
        with transaction.atomic():
            enabled = enable_strength()
            disabled = enable_strength("midazolam", "1", enabled=False)
            # Every sequence starts from a delivery and a draw, so the later steps have vials
            # and a draw to act on.
            for op in [("receive", 2, "10"), ("draw", 0, Decimal("2")), *ops]:
                before = _snapshot()
                statuses = _statuses()
                usable_before = set(
                    Vial.objects.filter(status__in=ledger.USABLE).values_list("id", flat=True)
                )
                try:
                    # No savepoint of our own: a refused operation must undo itself.
                    _apply(
                        op,
                        nurse=nurse,
                        witness=second_nurse,
                        site=site,
                        enabled=enabled,
                        disabled=disabled,
                        session_id=session_id,
                    )
                except ApplicationError as exc:
                    event(f"{op[0]} refused")
                    assert _snapshot() == before, f"{op} failed ({exc.message}) but left a trace"
                    if getattr(exc, "code", "") == "vial_unusable":
                        # The refused vial (if it was still usable) is now quarantined.
                        now_usable = set(
                            Vial.objects.filter(status__in=ledger.USABLE).values_list(
                                "id", flat=True
                            )
                        )
                        assert now_usable <= usable_before
                else:
                    changed = _snapshot() != before or _statuses() != statuses
                    event(f"{op[0]} applied" if changed else f"{op[0]} no-op")
                _check_invariant()
            raise _Rollback
    except _Rollback:
        pass


def test_a_late_draw_is_refused_and_quarantines_the_vial(
    make_vials: Callable[..., list[Vial]], nurse: User, session_id: Any
) -> None:
    vial = make_vials(1)[0]
    ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id)
    vial.refresh_from_db()
    with pytest.raises(ApplicationError) as caught:
        ledger.draw(
            user=nurse,
            vial=vial,
            ml="1",
            session_id=session_id,
            at=timezone.now() + timedelta(days=40),
        )
    assert caught.value.code == "vial_unusable"
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED
    assert vial.balance_ml == Decimal("9.00")
    _check_invariant()
