"""Counts, investigations, losses and returns: the services."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.pharmacy import ledger, losses, stocktake
from ketapath.pharmacy.models import (
    Count,
    CountLine,
    Investigation,
    LedgerEntry,
    LossReport,
    Vial,
)
from ketapath.pharmacy.tests.factories_counts import (
    entries_sum,
    expire_and_quarantine,
    open_vial,
    receive_vials,
)

DENVER = ZoneInfo("America/Denver")


@pytest.fixture
def partner(make_user: Callable[..., User], site: Clinic) -> User:
    """A second licensed nurse at the site: the second counter, the witness."""
    return make_user("partner", site, Role.NURSE, licence_type="RN")


@pytest.fixture
def vials(director: User, nurse: User, partner: User, site: Clinic) -> list[Vial]:
    """Three 10 mL vials of ketamine 50 mg/mL; the first opened (2 mL drawn)."""
    made = receive_vials(director=director, user=nurse, counted_by=partner, clinic=site, n=3)
    made[0] = open_vial(user=nurse, vial=made[0], ml="2")
    return made


def _fields(exc: pytest.ExceptionInfo[Exception]) -> list[str]:
    return [e.field for e in getattr(exc.value, "errors", [])]


# --- Counts -------------------------------------------------------------------------------


def test_matching_shift_count_opens_nothing(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    count = stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "8"}
    )
    line = count.lines.get()
    assert (line.expected_ml, line.counted_ml) == (Decimal("8.00"), Decimal("8.00"))
    assert not Investigation.objects.exists()
    assert count.counted_by == nurse and count.witness == partner
    assert AuditEvent.objects.filter(object_type="count", object_id=str(count.id)).exists()


def test_discrepancy_opens_one_investigation_per_line_and_leaves_balances(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    count = stocktake.count_record(
        user=nurse,
        witness=partner,
        clinic=site,
        kind="shift",
        lines={vials[0].id: "7.5", vials[1].id: "10", vials[2].id: Decimal("9.9")},
    )
    investigations = Investigation.objects.filter(count_line__count=count)
    assert investigations.count() == 2
    assert {i.count_line.vial_id for i in investigations} == {vials[0].id, vials[2].id}
    assert all(i.status == "open" and i.clinic_id == site.id for i in investigations)
    first = CountLine.objects.get(count=count, vial=vials[0])
    assert first.difference_ml == Decimal("-0.50")
    # The count changed no balance and wrote no ledger entry.
    for v in vials:
        fresh = Vial.objects.get(pk=v.pk)
        assert fresh.balance_ml == v.balance_ml == entries_sum(fresh)
    assert not LedgerEntry.objects.filter(kind__in=["loss", "reverse"]).exists()


def test_shift_count_must_cover_vials_in_use(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[1].id: "10"}
        )
    assert vials[0].label in exc.value.message
    assert _fields(exc) == ["lines"]
    assert not Count.objects.exists()


def test_inventory_refuses_to_omit_a_quarantined_vial(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    quarantined = expire_and_quarantine(vials[2])
    assert quarantined.status == Vial.Status.QUARANTINED
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse,
            witness=partner,
            clinic=site,
            kind="biennial",
            timing="close",
            lines={vials[0].id: "8", vials[1].id: "10"},
        )
    assert f"{quarantined.label} (quarantined, expired)" in exc.value.message
    assert not Count.objects.exists()
    count = stocktake.count_record(
        user=nurse,
        witness=partner,
        clinic=site,
        kind="biennial",
        timing="close",
        lines={vials[0].id: "8", vials[1].id: "10", quarantined.id: "10"},
    )
    assert count.lines.count() == 3 and count.timing == "close"


def test_inventory_needs_its_timing(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    lines = {v.id: str(v.balance_ml) for v in vials}
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="initial", lines=lines
        )
    assert _fields(exc) == ["timing"]


def test_count_refuses_bad_lines(
    nurse: User, partner: User, site: Clinic, vials: list[Vial], other_site: Clinic
) -> None:
    bad = {vials[0].id: "-1", vials[1].id: "10.5", vials[2].id: "lots"}
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(user=nurse, witness=partner, clinic=site, kind="shift", lines=bad)
    assert sorted(_fields(exc)) == sorted(f"lines.{v.id}" for v in vials)
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(user=nurse, witness=partner, clinic=site, kind="shift", lines={})
    assert _fields(exc) == ["lines"]
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="weekly", lines={vials[0].id: 8}
        )
    assert _fields(exc) == ["kind"]
    assert not Count.objects.exists()


def test_count_of_another_sites_vial_is_refused(
    make_user: Callable[..., User],
    nurse: User,
    partner: User,
    site: Clinic,
    vials: list[Vial],
    other_site: Clinic,
) -> None:
    far = receive_vials(
        director=make_user("far_director", other_site, Role.MEDICAL_DIRECTOR),
        user=make_user("far_nurse", other_site, Role.NURSE, licence_type="RN"),
        counted_by=make_user("far_partner", other_site, Role.NURSE, licence_type="RN"),
        clinic=other_site,
        n=1,
    )[0]
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse,
            witness=partner,
            clinic=site,
            kind="shift",
            lines={vials[0].id: 8, far.id: 10},
        )
    assert _fields(exc) == [f"lines.{far.id}"]
    with pytest.raises(Forbidden):
        stocktake.count_record(
            user=nurse, witness=partner, clinic=other_site, kind="shift", lines={far.id: 10}
        )
    assert not Count.objects.exists()


def test_count_needs_two_licensed_people(
    nurse: User,
    partner: User,
    front_desk: User,
    director: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    lines = {vials[0].id: "8"}
    for second in (nurse, front_desk, director):
        with pytest.raises(InvalidInput) as exc:
            stocktake.count_record(
                user=nurse, witness=second, clinic=site, kind="shift", lines=lines
            )
        assert _fields(exc) == ["co_sign"]
    with pytest.raises(Forbidden):
        stocktake.count_record(
            user=front_desk, witness=partner, clinic=site, kind="shift", lines=lines
        )
    with pytest.raises(Forbidden):
        stocktake.count_record(
            user=director, witness=partner, clinic=site, kind="shift", lines=lines
        )
    assert not Count.objects.exists()


def test_count_at_a_past_time_expects_the_ledger_then(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    before_draw = LedgerEntry.objects.get(vial=vials[0], kind="draw").at - timedelta(seconds=1)
    count = stocktake.count_record(
        user=nurse,
        witness=partner,
        clinic=site,
        kind="shift",
        lines={vials[1].id: "10"},
        at=before_draw,
    )
    assert count.counted_at == before_draw
    assert count.lines.get().expected_ml == Decimal("10.00")
    # Before the draw the first vial was sealed, so a shift count then need not include it;
    # counted then, it held its full 10 mL.
    later = stocktake.count_record(
        user=nurse,
        witness=partner,
        clinic=site,
        kind="shift",
        lines={vials[0].id: "10"},
        at=before_draw,
    )
    assert later.lines.get().expected_ml == Decimal("10.00")
    assert not Investigation.objects.exists()
    with pytest.raises(InvalidInput) as exc:
        stocktake.count_record(
            user=nurse,
            witness=partner,
            clinic=site,
            kind="shift",
            lines={vials[0].id: "8"},
            at=timezone.now() + timedelta(hours=1),
        )
    assert _fields(exc) == ["at"]


def test_count_sheet_lists_what_each_kind_covers(site: Clinic, vials: list[Vial]) -> None:
    expire_and_quarantine(vials[2])
    shift = stocktake.count_sheet(clinic=site, kind="shift")
    assert [v.id for v in shift.required] == [vials[0].id]
    assert {v.id for v in shift.optional} == {vials[1].id, vials[2].id}
    inventory = stocktake.count_sheet(clinic=site, kind="initial")
    assert {v.id for v in inventory.required} == {v.id for v in vials}
    assert inventory.optional == []


# --- Investigations ------------------------------------------------------------------------


@pytest.fixture
def investigation(nurse: User, partner: User, site: Clinic, vials: list[Vial]) -> Investigation:
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
    )
    return Investigation.objects.get()


def test_nurse_and_prescriber_cannot_close_an_investigation(
    nurse: User, prescriber: User, investigation: Investigation
) -> None:
    for user in (nurse, prescriber):
        with pytest.raises(Forbidden):
            stocktake.investigation_close(
                user=user,
                investigation=investigation,
                explanation="Recounted and found a draw entered late.",
            )
    assert Investigation.objects.get().status == "open"


def test_director_closes_with_an_explanation(director: User, investigation: Investigation) -> None:
    with pytest.raises(InvalidInput) as exc:
        stocktake.investigation_close(
            user=director, investigation=investigation, explanation="  miscount  "
        )
    assert _fields(exc) == ["explanation"]
    assert exc.value.message == stocktake.MESSAGE_EXPLANATION
    closed = stocktake.investigation_close(
        user=director,
        investigation=investigation,
        explanation="Recount with the charge nurse: 1 mL drawn for session 14:00 was entered late.",
    )
    assert closed.status == "closed" and closed.closed_by == director
    assert closed.closed_at is not None
    with pytest.raises(Conflict):
        stocktake.investigation_close(
            user=director, investigation=investigation, explanation="x" * 30
        )


def test_other_sites_director_cannot_close(
    make_user: Callable[..., User], other_site: Clinic, investigation: Investigation
) -> None:
    far = make_user("far_director", other_site, Role.MEDICAL_DIRECTOR)
    with pytest.raises(Forbidden):
        stocktake.investigation_close(user=far, investigation=investigation, explanation="x" * 30)


def test_inventory_due_two_years_after_the_last(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    assert stocktake.inventory_due(clinic=site).due is None
    at = datetime(2024, 2, 29, 17, 30, tzinfo=DENVER)
    stocktake.count_record(
        user=nurse,
        witness=partner,
        clinic=site,
        kind="initial",
        timing="close",
        at=at,
        lines={v.id: "10" for v in vials},
    )
    due = stocktake.inventory_due(clinic=site)
    assert due.due == date(2026, 2, 28)
    assert due.overdue(date(2026, 3, 1)) and not due.overdue(date(2026, 2, 28))


# --- Losses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("discovered", "notice"),
    [
        (date(2025, 1, 10), date(2025, 1, 13)),  # Friday → Monday
        (date(2025, 1, 11), date(2025, 1, 13)),  # Saturday → Monday
        (date(2025, 1, 12), date(2025, 1, 13)),  # Sunday → Monday
        (date(2025, 1, 13), date(2025, 1, 14)),  # Monday → Tuesday
        (date(2025, 1, 9), date(2025, 1, 10)),  # Thursday → Friday
    ],
)
def test_notice_due_the_next_business_day(discovered: date, notice: date) -> None:
    assert losses.business_day_after(discovered) == notice


def test_loss_due_dates_friday_discovery(nurse: User, site: Clinic, vials: list[Vial]) -> None:
    # 23:30 on Friday in Denver is already Saturday in UTC: the site's date counts.
    friday_night = datetime(2025, 1, 10, 23, 30, tzinfo=DENVER)
    report = losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="theft",
        discovered_at=friday_night,
        description="Vial missing from the locked cabinet at the evening count.",
        items=[(vials[1], "10")],
    )
    assert report.notice_due == date(2025, 1, 13)
    assert report.form_106_due == date(2025, 2, 24)
    notice, form_106 = losses.loss_steps(report, today=date(2025, 1, 14))
    assert notice.overdue and notice.state == "overdue" and notice.days_overdue == 1
    assert form_106.state == "due" and not form_106.overdue
    assert losses.loss_steps(report, today=date(2025, 2, 24))[1].state == "due_today"


def test_loss_reduces_balances_through_the_ledger(
    nurse: User, site: Clinic, vials: list[Vial]
) -> None:
    report = losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="significant_loss",
        discovered_at=timezone.now() - timedelta(hours=2),
        description="Vial dropped and broken while unpacking the delivery.",
        items=[(vials[0], "3"), (vials[1], "10")],
    )
    entries = LedgerEntry.objects.filter(loss_report=report).order_by("vial__label")
    assert [(e.kind, e.ml, e.mg) for e in entries] == [
        ("loss", Decimal("-3.00"), Decimal("-150.00")),
        ("loss", Decimal("-10.00"), Decimal("-500.00")),
    ]
    first, second = (Vial.objects.get(pk=v.pk) for v in vials[:2])
    assert first.balance_ml == Decimal("5.00") == entries_sum(first)
    assert first.status == Vial.Status.OPEN
    assert second.balance_ml == 0 == entries_sum(second)
    assert second.status == Vial.Status.LOST
    assert AuditEvent.objects.filter(object_type="lossreport", object_id=str(report.id)).exists()


def test_loss_of_a_quarantined_vial_marks_it_lost(
    nurse: User, site: Clinic, vials: list[Vial]
) -> None:
    quarantined = expire_and_quarantine(vials[2])
    losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="theft",
        discovered_at=timezone.now(),
        description="Expired vial gone from the quarantine box.",
        items=[(quarantined, "10")],
    )
    assert Vial.objects.get(pk=quarantined.pk).status == Vial.Status.LOST


def test_loss_refuses_bad_input_and_saves_nothing(
    nurse: User, site: Clinic, vials: list[Vial]
) -> None:
    with pytest.raises(InvalidInput) as exc:
        losses.loss_report_create(
            user=nurse,
            clinic=site,
            kind="misplaced",
            discovered_at=timezone.now() + timedelta(days=1),
            description="short",
            items=[(vials[0], "0"), (vials[0], "1")],
        )
    assert _fields(exc) == ["kind", "discovered_at", "description", "items.0.ml", "items.1.vial"]
    with pytest.raises(InvalidInput) as exc:
        losses.loss_report_create(
            user=nurse,
            clinic=site,
            kind="theft",
            discovered_at=timezone.now(),
            description="More missing than the vial ever held.",
            items=[(vials[1], "1"), (vials[0], "9")],
        )
    assert _fields(exc) == ["items.1.ml"]
    assert not LossReport.objects.exists()
    assert Vial.objects.get(pk=vials[1].pk).balance_ml == Decimal("10.00")


def test_loss_needs_a_licensed_handler(
    director: User, front_desk: User, site: Clinic, vials: list[Vial]
) -> None:
    for user in (director, front_desk):
        with pytest.raises(Forbidden):
            losses.loss_report_create(
                user=user,
                clinic=site,
                kind="theft",
                discovered_at=timezone.now(),
                description="Vial missing from the locked cabinet.",
                items=[(vials[1], "10")],
            )


def test_only_the_director_records_the_loss_steps(
    nurse: User, director: User, site: Clinic, vials: list[Vial]
) -> None:
    report = losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="theft",
        discovered_at=timezone.now() - timedelta(days=1),
        description="Vial missing from the locked cabinet at the morning count.",
        items=[(vials[1], "10")],
    )
    with pytest.raises(Forbidden):
        losses.loss_notice_record(
            user=nurse, report=report, sent_at=timezone.now(), reference="e-mail"
        )
    with pytest.raises(InvalidInput) as exc:
        losses.loss_notice_record(
            user=director,
            report=report,
            sent_at=report.discovered_at - timedelta(hours=1),
            reference="",
        )
    assert _fields(exc) == ["at", "reference"]
    done = losses.loss_notice_record(
        user=director,
        report=report,
        sent_at=timezone.now(),
        reference="E-mail to the Denver Field Division, acknowledged",
    )
    assert done.notice_sent_at is not None and losses.loss_steps(done)[0].state == "done"
    with pytest.raises(Conflict):
        losses.loss_notice_record(
            user=director, report=report, sent_at=timezone.now(), reference="again"
        )
    filed = losses.loss_form_106_record(
        user=director, report=report, submitted_at=timezone.now(), reference="TLR-123456"
    )
    assert filed.form_106_reference == "TLR-123456"
    assert losses.loss_steps(filed)[1].done


# --- Returns ------------------------------------------------------------------------------


def test_return_empties_the_vial_and_records_the_receiving_party(
    nurse: User, partner: User, site: Clinic, vials: list[Vial]
) -> None:
    quarantined = expire_and_quarantine(vials[2])
    entry = losses.return_record(
        user=nurse,
        witness=partner,
        vial=quarantined,
        receiving_party="Return Solutions Inc., DEA RR1234567",
        reference="RS-2025-0042",
        reason="Expired",
    )
    assert (entry.kind, entry.ml, entry.mg) == ("return", Decimal("-10.00"), Decimal("-500.00"))
    assert entry.receiving_party == "Return Solutions Inc., DEA RR1234567"
    assert entry.reference == "RS-2025-0042" and entry.witness == partner
    fresh = Vial.objects.get(pk=quarantined.pk)
    assert fresh.balance_ml == 0 == entries_sum(fresh)
    assert fresh.status == Vial.Status.RETURNED
    with pytest.raises(Conflict):
        losses.return_record(
            user=nurse,
            witness=partner,
            vial=fresh,
            receiving_party="Return Solutions Inc.",
            reference="RS-2",
            reason="Expired",
        )


def test_return_of_an_open_vial_takes_what_is_left(
    nurse: User, partner: User, vials: list[Vial]
) -> None:
    entry = losses.return_record(
        user=nurse,
        witness=partner,
        vial=vials[0],
        receiving_party="Return Solutions Inc.",
        reference="RS-7",
        reason="Recall of the lot",
    )
    assert entry.ml == Decimal("-8.00")
    assert Vial.objects.get(pk=vials[0].pk).status == Vial.Status.RETURNED


def test_return_refuses_self_witness_and_missing_fields(
    nurse: User, partner: User, director: User, vials: list[Vial]
) -> None:
    with pytest.raises(InvalidInput) as exc:
        losses.return_record(
            user=nurse,
            witness=nurse,
            vial=vials[1],
            receiving_party="Return Solutions Inc.",
            reference="RS-1",
            reason="Expired",
        )
    assert _fields(exc) == ["co_sign"]
    with pytest.raises(InvalidInput) as exc:
        losses.return_record(
            user=nurse, witness=partner, vial=vials[1], receiving_party="", reference="", reason=""
        )
    assert _fields(exc) == ["receiving_party", "reference", "reason"]
    with pytest.raises(Forbidden):
        losses.return_record(
            user=director,
            witness=partner,
            vial=vials[1],
            receiving_party="Return Solutions Inc.",
            reference="RS-1",
            reason="Expired",
        )
    assert not LedgerEntry.objects.filter(kind="return").exists()


def test_ledger_balance_invariant_after_counts_losses_and_returns(
    nurse: User, partner: User, director: User, site: Clinic, vials: list[Vial]
) -> None:
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
    )
    losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="significant_loss",
        discovered_at=timezone.now(),
        description="One mL spilled while drawing, not witnessed as waste.",
        items=[(vials[0], "1")],
    )
    losses.return_record(
        user=nurse,
        witness=partner,
        vial=vials[1],
        receiving_party="Return Solutions Inc.",
        reference="RS-9",
        reason="Short-dated stock",
    )
    loss_entry = LedgerEntry.objects.get(kind="loss")
    ledger.reverse(user=nurse, entry=loss_entry, reason="The spill was already in the waste log.")
    for v in Vial.objects.filter(clinic=site):
        assert v.balance_ml == entries_sum(v)
