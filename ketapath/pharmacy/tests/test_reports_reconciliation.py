"""The reconciliation of a period: every figure on a built scenario, the contract's identity,
the count it uses, the periods entries count in, and a flat query count."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger, selectors
from ketapath.pharmacy.models import Count, Formulation, Substance, Vial
from ketapath.pharmacy.tests.reports_factories import (
    Scenario,
    build_scenario,
    count,
    day,
    receive_at,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def scenario(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> Scenario:
    return build_scenario(site, nurse, second_nurse, formulation, patient)


def test_every_figure_of_the_scenario(scenario: Scenario) -> None:
    r = selectors.reconciliation(
        clinic=scenario.clinic, date_from=scenario.date_from, date_to=scenario.date_to
    )
    assert r.opening_mg == D("950.00")
    assert r.received_mg == D("500.00")
    assert r.administered_mg == D("110.00")
    assert r.wasted_mg == D("45.00")
    assert r.wasted_from_draws_mg == D("20.00")
    assert r.wasted_from_vials_mg == D("25.00")
    assert r.lost_mg == D("50.00")
    assert r.returned_mg == D("450.00")
    assert r.expected_closing_mg == D("795.00")
    assert r.counted_closing_mg == D("770.00")
    assert r.discrepancy_mg == D("25.00")
    assert r.drawn_mg == D("150.00")
    assert r.drawn_not_accounted_mg == D("20.00")
    assert r.ledger_closing_mg == D("775.00")
    assert r.status == "short"
    assert r.count is not None and r.count.kind == Count.Kind.SHIFT
    assert r.moved_after_count == 0


def test_contract_identity_and_ledger_closing(scenario: Scenario) -> None:
    r = selectors.reconciliation(
        clinic=scenario.clinic, date_from=scenario.date_from, date_to=scenario.date_to
    )
    assert r.expected_closing_mg == (
        r.opening_mg + r.received_mg - r.administered_mg - r.wasted_mg - r.lost_mg - r.returned_mg
    )
    assert r.counted_closing_mg is not None
    assert r.discrepancy_mg == r.expected_closing_mg - r.counted_closing_mg
    # What the vials hold by the ledger, short of the expected closing by what is drawn
    # and not yet accounted for.
    vials = Vial.objects.filter(clinic=scenario.clinic)
    assert r.ledger_closing_mg == sum(v.balance_mg for v in vials)
    assert r.expected_closing_mg - r.ledger_closing_mg == r.drawn_not_accounted_mg


def test_vial_lines(scenario: Scenario) -> None:
    r = selectors.reconciliation(
        clinic=scenario.clinic, date_from=scenario.date_from, date_to=scenario.date_to
    )
    lines = {line.label: line for line in r.vials}
    a, b, c = (lines[scenario.vials[k].label] for k in "ABC")
    assert (a.opening_mg, a.drawn_mg, a.wasted_mg, a.closing_mg) == (
        D("450.00"),
        D("100.00"),
        D("0.00"),
        D("350.00"),
    )
    assert (a.counted_ml, a.counted_mg, a.difference_mg) == (D("7.00"), D("350.00"), D("0.00"))
    assert (b.opening_mg, b.drawn_mg, b.wasted_mg, b.closing_mg) == (
        D("500.00"),
        D("50.00"),
        D("25.00"),
        D("425.00"),
    )
    assert (b.counted_mg, b.difference_mg) == (D("420.00"), D("5.00"))
    assert (c.opening_mg, c.received_mg, c.lost_mg, c.returned_mg, c.closing_mg) == (
        D("0.00"),
        D("500.00"),
        D("50.00"),
        D("450.00"),
        D("0.00"),
    )
    assert c.counted_mg is None
    assert sum(line.closing_mg for line in r.vials) == r.ledger_closing_mg


def test_no_count_in_the_period(scenario: Scenario) -> None:
    """Counted closing and discrepancy are null without a count that covers the stock."""
    today = local_today(scenario.clinic.time_zone)
    r = selectors.reconciliation(
        clinic=scenario.clinic,
        date_from=today - timedelta(days=30),
        date_to=today - timedelta(days=15),
    )
    assert r.counted_closing_mg is None
    assert r.discrepancy_mg is None
    assert r.status == "not_counted"
    # The period before: 1000 mg received, 50 mg drawn, 40 given and 10 wasted of it.
    assert (r.opening_mg, r.received_mg, r.administered_mg, r.wasted_mg) == (
        D("0.00"),
        D("1000.00"),
        D("40.00"),
        D("10.00"),
    )
    assert r.expected_closing_mg == D("950.00")


def test_a_shift_count_missing_a_vial_is_not_used(scenario: Scenario, site: Clinic) -> None:
    now = timezone.now()
    count(
        site,
        now + timedelta(minutes=3),
        {scenario.vials["B"]: "8.5"},
        by=scenario.nurse,
        witness=scenario.witness,
    )
    r = selectors.reconciliation(
        clinic=site, date_from=scenario.date_from, date_to=scenario.date_to
    )
    # Still the count that listed both vials holding ketamine.
    assert r.counted_closing_mg == D("770.00")


def test_an_inventory_covers_and_records_movements_after_it(
    scenario: Scenario, site: Clinic, patient: Patient
) -> None:
    now = timezone.now()
    count(
        site,
        now + timedelta(minutes=5),
        {scenario.vials["A"]: "7", scenario.vials["B"]: "8.5"},
        by=scenario.nurse,
        witness=scenario.witness,
        kind=Count.Kind.BIENNIAL,
    )
    ledger.draw(
        user=scenario.nurse,
        vial=scenario.vials["A"],
        ml="1",
        session_id=uuid.uuid4(),
        patient=patient,
        at=now + timedelta(minutes=6),
    )
    r = selectors.reconciliation(
        clinic=site, date_from=scenario.date_from, date_to=scenario.date_to
    )
    assert r.count is not None and r.count.kind == Count.Kind.BIENNIAL
    assert r.counted_closing_mg == D("775.00")
    assert r.moved_after_count == 1
    assert r.drawn_not_accounted_mg == D("70.00")


def test_other_substance_and_other_site_are_apart(
    scenario: Scenario,
    site: Clinic,
    other_site: Clinic,
    enable_strength: Callable[..., Formulation],
) -> None:
    midazolam = enable_strength(Substance.MIDAZOLAM, "5")
    receive_at(
        nurse=scenario.nurse,
        counter=scenario.witness,
        clinic=site,
        formulation=midazolam,
        at=day(site, 2),
        volume_ml="2",
        lot="MID-1",
    )
    r = selectors.reconciliation(
        clinic=site,
        substance=Substance.MIDAZOLAM,
        date_from=scenario.date_from,
        date_to=scenario.date_to,
    )
    assert (r.opening_mg, r.received_mg, r.expected_closing_mg) == (
        D("0.00"),
        D("10.00"),
        D("10.00"),
    )
    # The ketamine count lists no midazolam vial, so it does not count midazolam.
    assert r.counted_closing_mg is None
    ketamine = selectors.reconciliation(
        clinic=site, date_from=scenario.date_from, date_to=scenario.date_to
    )
    assert ketamine.received_mg == D("500.00")
    other = selectors.reconciliation(
        clinic=other_site, date_from=scenario.date_from, date_to=scenario.date_to
    )
    assert other.expected_closing_mg == 0 and other.vials == []


def test_an_administration_charted_after_the_period_counts_with_its_draw(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> None:
    """A draw late on the period's last day, charted the next morning: the period shows
    it administered, the next one does not take it again."""
    (vial,) = receive_at(
        nurse=nurse, counter=second_nurse, clinic=site, formulation=formulation, at=day(site, 9)
    )
    draw = ledger.draw(
        user=nurse,
        vial=vial,
        ml="1",
        session_id=uuid.uuid4(),
        patient=patient,
        at=day(site, 5, 23),
    )
    ledger.administer(user=nurse, draw_entry=draw, mg="50", at=day(site, 4, 8))
    last_day = local_today(site.time_zone) - timedelta(days=5)
    first = selectors.reconciliation(
        clinic=site, date_from=last_day - timedelta(days=6), date_to=last_day
    )
    second = selectors.reconciliation(
        clinic=site, date_from=last_day + timedelta(days=1), date_to=last_day + timedelta(days=3)
    )
    assert (first.administered_mg, first.drawn_not_accounted_mg) == (D("50.00"), D("0.00"))
    assert first.expected_closing_mg == D("450.00") == second.opening_mg
    assert second.administered_mg == 0
    assert second.expected_closing_mg == D("450.00")


def test_a_reversal_counts_in_the_period_of_the_entry_it_corrects(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> None:
    """A draw entered in error last week and reversed today: neither week shows it."""
    (vial,) = receive_at(
        nurse=nurse, counter=second_nurse, clinic=site, formulation=formulation, at=day(site, 12)
    )
    draw = ledger.draw(
        user=nurse, vial=vial, ml="1", session_id=uuid.uuid4(), patient=patient, at=day(site, 8)
    )
    ledger.reverse(user=nurse, entry=draw, reason="Drawn against the wrong vial")
    today = local_today(site.time_zone)
    last_week = selectors.reconciliation(
        clinic=site, date_from=today - timedelta(days=10), date_to=today - timedelta(days=3)
    )
    this_week = selectors.reconciliation(
        clinic=site, date_from=today - timedelta(days=2), date_to=today
    )
    assert last_week.drawn_mg == 0 and last_week.drawn_not_accounted_mg == 0
    assert last_week.expected_closing_mg == D("500.00") == last_week.ledger_closing_mg
    assert this_week.opening_mg == D("500.00") == this_week.expected_closing_mg


def test_local_dates_bound_the_period(
    site: Clinic, nurse: User, second_nurse: User, formulation: Formulation
) -> None:
    """A receipt at 23:30 local time (the next day in UTC) belongs to its local date."""
    late = day(site, 3, 23).replace(minute=30)
    receive_at(nurse=nurse, counter=second_nurse, clinic=site, formulation=formulation, at=late)
    local = late.date()
    on_the_day = selectors.reconciliation(clinic=site, date_from=local, date_to=local)
    next_day = selectors.reconciliation(
        clinic=site, date_from=local + timedelta(days=1), date_to=local + timedelta(days=1)
    )
    assert on_the_day.received_mg == D("500.00")
    assert next_day.received_mg == 0 and next_day.opening_mg == D("500.00")


def _many_entries(
    n: int, site: Clinic, nurse: User, second_nurse: User, formulation: Formulation
) -> None:
    vials = receive_at(
        nurse=nurse,
        counter=second_nurse,
        clinic=site,
        formulation=formulation,
        at=day(site, 6),
        n=max(1, n // 40),
        volume_ml="50",
        lot=f"BULK{n}",
    )
    made = 0
    i = 0
    while made < n:
        vial = vials[i % len(vials)]
        d = ledger.draw(user=nurse, vial=vial, ml="0.5", session_id=uuid.uuid4(), at=day(site, 4))
        ledger.administer(user=nurse, draw_entry=d, mg="25", at=day(site, 4))
        made += 2
        i += 1


@pytest.mark.parametrize("n", [10, 200])
def test_query_count_is_flat(
    n: int,
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    django_assert_max_num_queries: Any,
) -> None:
    _many_entries(n, site, nurse, second_nurse, formulation)
    on_hand = {v: str(v.balance_ml) for v in Vial.objects.filter(clinic=site)}
    count(site, day(site, 3), on_hand, by=nurse, witness=second_nurse, kind=Count.Kind.BIENNIAL)
    today = local_today(site.time_zone)
    with django_assert_max_num_queries(5):
        r = selectors.reconciliation(
            clinic=site, date_from=today - timedelta(days=5), date_to=today
        )
    assert r.administered_mg == D("25") * (n // 2)
    assert r.counted_closing_mg == r.ledger_closing_mg


def test_vial_history_runs_to_the_vials_balance(scenario: Scenario) -> None:
    vial = scenario.vials["B"]
    vial.refresh_from_db()
    lines = selectors.vial_history(vial)
    assert [line.entry.kind for line in lines][:2] == ["receive", "draw"]
    assert lines[0].balance_ml == D("10.00")
    assert lines[-1].balance_ml == vial.balance_ml == D("8.50")
    reversed_waste = next(line for line in lines if line.reversed_by is not None)
    assert reversed_waste.entry.kind == "waste" and reversed_waste.entry.ml == D("-0.20")
