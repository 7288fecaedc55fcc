"""Reads of the ledger: the reconciliation of a period, a vial's history with its running
balance, and a patient's dispensing log.

Records are kept at least two years and must be readily retrievable (21 CFR 1304.04(a)):
these reads turn the append-only entries into the reports an inspection asks for. Every
sum runs in the database, in a fixed number of queries whatever the number of entries.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Count as CountOf
from django.db.models import (
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.exposure import WINDOWS, Exposure
from ketapath.core.pagination import DEFAULT_PAGE_SIZE, Page
from ketapath.patients.models import Patient
from ketapath.pharmacy.ledger import MESSAGE_RECONCILE_FORBIDDEN, DrawAccount, draw_account
from ketapath.pharmacy.models import Count, CountLine, LedgerEntry, Substance, Vial

if TYPE_CHECKING:
    from ketapath.pharmacy.api_stock import HistoryLine

CENT = Decimal("0.01")
ZERO = Decimal("0")
Kind = LedgerEntry.Kind
INVENTORY_KINDS = (Count.Kind.INITIAL, Count.Kind.BIENNIAL)

MESSAGE_SITE_NOT_FOUND = "No such site among yours."
MESSAGE_SITE_REQUIRED = "Name the site (clinic): you reconcile the ledger at several."
MESSAGE_LOG_FORBIDDEN = (
    "The dispensing log is for the nurses, prescribers and medical director of the patient's site."
)

_MG: "DecimalField[Decimal, Decimal]" = DecimalField(max_digits=14, decimal_places=2)


# --- Periods --------------------------------------------------------------------------------


def period_bounds(clinic: Clinic, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of the site's local dates
    ``date_from`` to ``date_to`` inclusive; DST-safe."""
    zone = ZoneInfo(clinic.time_zone)
    return (
        datetime.combine(date_from, time.min, zone),
        datetime.combine(date_to + timedelta(days=1), time.min, zone),
    )


def _money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(CENT)


# --- Reconciliation -------------------------------------------------------------------------


@dataclass(frozen=True)
class VialLine:
    """One vial's stock movements in the period, in mg (what left or entered the vial)."""

    vial_id: UUID
    label: str
    lot: str
    ndc: str
    expiry: date
    mg_per_ml: Decimal
    status: str
    opening_mg: Decimal
    received_mg: Decimal
    drawn_mg: Decimal
    wasted_mg: Decimal
    lost_mg: Decimal
    returned_mg: Decimal
    closing_mg: Decimal
    closing_ml: Decimal
    counted_ml: Decimal | None
    counted_mg: Decimal | None

    @property
    def difference_mg(self) -> Decimal | None:
        """What the ledger holds minus what was counted (positive: less was found)."""
        return None if self.counted_mg is None else self.closing_mg - self.counted_mg


@dataclass(frozen=True)
class Reconciliation:
    """One substance at one site over a period of local dates.

    ``expected_closing_mg = opening + received - administered - wasted - lost - returned``
    and ``discrepancy_mg = expected_closing_mg - counted_closing_mg`` (positive: less was
    counted than expected). ``ledger_closing_mg`` is what the vials hold by the ledger at
    the end of the period; it is below the expected closing by ``drawn_not_accounted_mg``,
    drawn for sessions whose administration and waste are not yet recorded.
    """

    clinic: Clinic
    substance: str
    date_from: date
    date_to: date
    starts_at: datetime
    ends_at: datetime
    opening_mg: Decimal
    received_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    lost_mg: Decimal
    returned_mg: Decimal
    expected_closing_mg: Decimal
    counted_closing_mg: Decimal | None
    discrepancy_mg: Decimal | None
    drawn_mg: Decimal
    wasted_from_draws_mg: Decimal
    wasted_from_vials_mg: Decimal
    drawn_not_accounted_mg: Decimal
    ledger_closing_mg: Decimal
    count: Count | None
    moved_after_count: int
    vials: list[VialLine]
    # Without a covering count: the last count in the period and how many vials of the
    # substance it listed (why it gives no closing figure).
    last_count: Count | None = None
    last_count_vials: int = 0

    @property
    def substance_label(self) -> str:
        return Substance(self.substance).label

    @property
    def status(self) -> str:
        """not_counted, balanced, short (less found than expected) or over."""
        if self.discrepancy_mg is None:
            return "not_counted"
        if self.discrepancy_mg == 0:
            return "balanced"
        return "short" if self.discrepancy_mg > 0 else "over"

    @property
    def discrepancy_abs_mg(self) -> Decimal | None:
        return None if self.discrepancy_mg is None else abs(self.discrepancy_mg)


def _annotated_entries(clinic: Clinic, substance: str, before: datetime) -> QuerySet[LedgerEntry]:
    """The site's entries of a substance with the time and kind they count under.

    Kind: a reversal counts against the kind of the entry it reverses. Time: what became
    of a draw (administration, waste of a draw and their reversals) counts in the period
    of the draw, and a reversal in the period of the entry it corrects; so an
    administration charted the next morning, or a correction made later, never moves
    milligrams from one period into another, and a period re-run after a correction shows
    its corrected figures. Only entries counting before ``before``.
    """
    return (
        LedgerEntry.objects.filter(clinic=clinic, substance=substance)
        .order_by()
        .annotate(
            eff_at=Coalesce(F("draw__at"), F("reverses__at"), F("at")),
            eff_kind=Coalesce(F("reverses__kind"), F("kind")),
        )
        .filter(eff_at__lt=before)
    )


def _mg_sum(condition: Q) -> Coalesce:
    return Coalesce(Sum("mg", filter=condition), Value(ZERO), output_field=_MG)


def _chosen_count(clinic: Clinic, substance: str, start: datetime, end: datetime) -> Count | None:
    """The last count in the period that covered every vial of the substance holding
    something at the time it was taken: an inventory, or a shift count that listed all of
    them (and at least one)."""
    held_then = Subquery(
        LedgerEntry.objects.filter(vial=OuterRef("pk"), at__lte=OuterRef(OuterRef("counted_at")))
        .order_by()
        .values("vial")
        .annotate(total=Sum("ml"))
        .values("total")[:1],
        output_field=DecimalField(max_digits=8, decimal_places=2),
    )
    uncounted = (
        Vial.objects.filter(clinic=clinic, substance=substance)
        .annotate(held=held_then)
        .filter(held__gt=0)
        .filter(
            ~Exists(CountLine.objects.filter(vial=OuterRef("pk"), count=OuterRef(OuterRef("pk"))))
        )
    )
    lines_of_substance = CountLine.objects.filter(count=OuterRef("pk"), vial__substance=substance)
    return (
        Count.objects.filter(clinic=clinic, counted_at__gte=start, counted_at__lt=end)
        .filter(~Exists(uncounted))
        .filter(Q(kind__in=INVENTORY_KINDS) | Exists(lines_of_substance))
        .select_related("counted_by", "witness")
        .order_by("-counted_at", "-created_at")
        .first()
    )


def reconciliation(
    *,
    clinic: Clinic,
    substance: str = Substance.KETAMINE,
    date_from: date,
    date_to: date,
) -> Reconciliation:
    """The reconciliation of one substance at one site over local dates ``date_from`` to
    ``date_to`` inclusive (21 CFR 1304.04(a): records readily retrievable).

    - opening: the mg of every entry that changed a vial (mL not 0) before the period,
      i.e. the stock on hand at its start;
    - received, lost, returned: the mg of those entries in the period; administered and
      wasted (from vials and from draws) likewise; every reversal counts against the kind
      it reverses;
    - counted closing: the lines of the last count in the period that covered every vial
      holding the substance (counted mL times the vial's mg/mL); none without one.

    At most five queries whatever the number of entries.
    """
    start, end = period_bounds(clinic, date_from, date_to)
    count = _chosen_count(clinic, substance, start, end)
    in_period = Q(eff_at__gte=start, eff_at__lt=end)
    moves_vial = ~Q(ml=0)
    after_count = (
        Q(at__gt=count.counted_at, at__lt=end) & moves_vial if count is not None else Q(pk=None)
    )
    totals = _annotated_entries(clinic, substance, end).aggregate(
        opening=_mg_sum(Q(eff_at__lt=start) & moves_vial),
        movement=_mg_sum(in_period & moves_vial),
        received=_mg_sum(in_period & Q(eff_kind=Kind.RECEIVE)),
        drawn=_mg_sum(in_period & Q(eff_kind=Kind.DRAW)),
        administered=_mg_sum(in_period & Q(eff_kind=Kind.ADMINISTER)),
        wasted_draws=_mg_sum(in_period & Q(eff_kind=Kind.WASTE, draw__isnull=False)),
        wasted_vials=_mg_sum(in_period & Q(eff_kind=Kind.WASTE, draw__isnull=True)),
        lost=_mg_sum(in_period & Q(eff_kind=Kind.LOSS)),
        returned=_mg_sum(in_period & Q(eff_kind=Kind.RETURN)),
        moved_after_count=CountOf("id", filter=after_count),
    )
    opening = _money(totals["opening"])
    received = _money(totals["received"])
    administered = -_money(totals["administered"])
    wasted_draws = -_money(totals["wasted_draws"])
    wasted_vials = -_money(totals["wasted_vials"])
    wasted = wasted_draws + wasted_vials
    lost = -_money(totals["lost"])
    returned = -_money(totals["returned"])
    drawn = -_money(totals["drawn"])
    expected = opening + received - administered - wasted - lost - returned

    counted_ml: dict[UUID, Decimal] = {}
    counted: Decimal | None = None
    last_count: Count | None = None
    if count is None:
        last_count = (
            Count.objects.filter(clinic=clinic, counted_at__gte=start, counted_at__lt=end)
            .annotate(of_substance=CountOf("lines", filter=Q(lines__vial__substance=substance)))
            .order_by("-counted_at", "-created_at")
            .first()
        )
    else:
        lines = CountLine.objects.filter(count=count, vial__substance=substance)
        counted = _money(
            lines.aggregate(
                total=Coalesce(
                    Sum(
                        ExpressionWrapper(F("counted_ml") * F("vial__mg_per_ml"), output_field=_MG)
                    ),
                    Value(ZERO),
                    output_field=_MG,
                )
            )["total"]
        )
        counted_ml = dict(lines.values_list("vial_id", "counted_ml"))

    return Reconciliation(
        clinic=clinic,
        substance=substance,
        date_from=date_from,
        date_to=date_to,
        starts_at=start,
        ends_at=end,
        opening_mg=opening,
        received_mg=received,
        administered_mg=administered,
        wasted_mg=wasted,
        lost_mg=lost,
        returned_mg=returned,
        expected_closing_mg=expected,
        counted_closing_mg=counted,
        discrepancy_mg=None if counted is None else expected - counted,
        drawn_mg=drawn,
        wasted_from_draws_mg=wasted_draws,
        wasted_from_vials_mg=wasted_vials,
        drawn_not_accounted_mg=drawn - administered - wasted_draws,
        ledger_closing_mg=opening + _money(totals["movement"]),
        count=count,
        moved_after_count=totals["moved_after_count"],
        vials=_vial_lines(clinic, substance, start, end, counted_ml),
        last_count=last_count,
        last_count_vials=getattr(last_count, "of_substance", 0),
    )


def _vial_lines(
    clinic: Clinic,
    substance: str,
    start: datetime,
    end: datetime,
    counted_ml: dict[UUID, Decimal],
) -> list[VialLine]:
    """Per vial, what entered and left it in the period (entries that changed it), for the
    vials holding something at the start, moved in the period or counted."""
    in_period = Q(eff_at__gte=start, eff_at__lt=end)
    moves_vial = ~Q(ml=0)

    def ml_sum(condition: Q) -> Coalesce:
        return Coalesce(
            Sum("ml", filter=condition),
            Value(ZERO),
            output_field=DecimalField(max_digits=10, decimal_places=2),
        )

    rows = (
        _annotated_entries(clinic, substance, end)
        .values(
            "vial_id",
            "vial__label",
            "vial__lot",
            "vial__ndc",
            "vial__expiry",
            "vial__mg_per_ml",
            "vial__status",
        )
        .annotate(
            opening_ml=ml_sum(Q(eff_at__lt=start)),
            opening=_mg_sum(Q(eff_at__lt=start) & moves_vial),
            received=_mg_sum(in_period & Q(eff_kind=Kind.RECEIVE)),
            drawn=_mg_sum(in_period & Q(eff_kind=Kind.DRAW)),
            wasted=_mg_sum(in_period & moves_vial & Q(eff_kind=Kind.WASTE)),
            lost=_mg_sum(in_period & Q(eff_kind=Kind.LOSS)),
            returned=_mg_sum(in_period & Q(eff_kind=Kind.RETURN)),
            closing=_mg_sum(moves_vial),
            closing_ml=ml_sum(Q()),
            moved=CountOf("id", filter=in_period),
        )
        .order_by("vial__label")
    )
    lines: list[VialLine] = []
    for r in rows:
        vial_id = r["vial_id"]
        if not (r["opening_ml"] or r["moved"] or vial_id in counted_ml):
            continue
        conc = r["vial__mg_per_ml"]
        counted = counted_ml.get(vial_id)
        lines.append(
            VialLine(
                vial_id=vial_id,
                label=r["vial__label"],
                lot=r["vial__lot"],
                ndc=r["vial__ndc"],
                expiry=r["vial__expiry"],
                mg_per_ml=conc,
                status=r["vial__status"],
                opening_mg=_money(r["opening"]),
                received_mg=_money(r["received"]),
                drawn_mg=-_money(r["drawn"]),
                wasted_mg=-_money(r["wasted"]),
                lost_mg=-_money(r["lost"]),
                returned_mg=-_money(r["returned"]),
                closing_mg=_money(r["closing"]),
                closing_ml=_money(r["closing_ml"]),
                counted_ml=counted,
                counted_mg=None if counted is None else _money(counted * conc),
            )
        )
    return lines


def clinic_for_reconciliation(*, user: User, clinic_id: UUID | None) -> Clinic:
    """The site whose ledger the user reconciles: the one named (404 when it is not one of
    theirs, 403 when their role there is not the medical director's), else their only
    such site."""
    if clinic_id is None:
        sites = clinics_where(user, Capability.LEDGER_RECONCILE)
        if len(sites) == 1:
            return Clinic.objects.get(id=next(iter(sites)))
        if not sites:
            raise Forbidden(MESSAGE_RECONCILE_FORBIDDEN)
        raise InvalidInput(
            MESSAGE_SITE_REQUIRED, errors=[FieldError("clinic", MESSAGE_SITE_REQUIRED)]
        )
    if clinic_id not in clinic_ids_for(user):
        raise NotFound(MESSAGE_SITE_NOT_FOUND)
    if not user.can(Capability.LEDGER_RECONCILE, clinic_id):
        raise Forbidden(MESSAGE_RECONCILE_FORBIDDEN)
    return Clinic.objects.get(id=clinic_id)


# --- A vial's history ------------------------------------------------------------------------


def vial_history(vial: Vial) -> "list[HistoryLine]":
    """The vial's entries in ledger order, each with the balance after it: the stock
    pages' helper (``api_stock.vial_entries`` and ``api_stock.vial_history``), one query."""
    from ketapath.pharmacy import api_stock

    return api_stock.vial_history(vial, api_stock.vial_entries(vial))


# --- A patient's dispensing log ------------------------------------------------------------------


def dispensing_log_sites(*, user: User, patient: Patient) -> set[UUID]:
    """The patient's sites (as loaded by ``patient_get_for_user``) where the user handles
    or reconciles the ledger; Forbidden when there are none."""
    enrolled: set[UUID] = set(getattr(patient, "access_clinic_ids", set()))
    sites = enrolled & (
        clinics_where(user, Capability.LEDGER_HANDLE)
        | clinics_where(user, Capability.LEDGER_RECONCILE)
    )
    if not sites:
        raise Forbidden(MESSAGE_LOG_FORBIDDEN)
    return sites


def can_see_dispensing_log(user: User, patient: Patient) -> bool:
    try:
        dispensing_log_sites(user=user, patient=patient)
    except Forbidden:
        return False
    return True


@dataclass(frozen=True)
class DispensingLine:
    """One draw for the patient and what became of it."""

    draw: LedgerEntry
    account: DrawAccount
    administered_by: list[User]
    wasted_by: list[User]
    witnesses: list[User]

    @property
    def reversed(self) -> bool:
        return hasattr(self.draw, "reversed_by")

    @property
    def drawn_ml(self) -> Decimal:
        return -self.draw.ml

    @property
    def status(self) -> str:
        """reversed, accounted (administered plus wasted equals the draw) or open."""
        if self.reversed:
            return "reversed"
        return "accounted" if self.account.balanced else "open"


def _distinct(users: list[User]) -> list[User]:
    seen: dict[UUID, User] = {}
    for u in users:
        seen.setdefault(u.id, u)
    return list(seen.values())


def dispensing_log(
    *,
    patient: Patient,
    clinic_ids: set[UUID],
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The draws for this patient at these sites, newest first, each with what was
    administered and wasted (net of reversals), what is unaccounted, the session
    reference, the vial, who drew and who witnessed waste. Three queries per page."""
    outcomes = Prefetch(
        "outcomes",
        queryset=LedgerEntry.objects.select_related("by", "witness", "reversed_by").order_by(
            "at", "created_at"
        ),
    )
    draws = (
        LedgerEntry.objects.filter(patient=patient, clinic_id__in=clinic_ids, kind=Kind.DRAW)
        .select_related("vial", "clinic", "by", "reversed_by")
        .prefetch_related(outcomes)
        .order_by("-at", "-created_at")
    )
    total = draws.count()
    first = (page - 1) * page_size
    rows = list(draws[first : first + page_size]) if first < total else []
    items = []
    for d in rows:
        live = [
            o for o in d.outcomes.all() if o.kind != Kind.REVERSE and not hasattr(o, "reversed_by")
        ]
        items.append(
            DispensingLine(
                draw=d,
                account=draw_account(d),
                administered_by=_distinct([o.by for o in live if o.kind == Kind.ADMINISTER]),
                wasted_by=_distinct([o.by for o in live if o.kind == Kind.WASTE]),
                witnesses=_distinct(
                    [o.witness for o in live if o.kind == Kind.WASTE and o.witness is not None]
                ),
            )
        )
    return Page(items=items, count=total, number=page, size=page_size)


def ketamine_exposure(patient_id: UUID, now: datetime) -> list[Exposure]:
    """Ketamine given to a patient in the last 30 and 90 days, from the ledger: the
    sessions with an administration and the milligrams administered, net of reversals
    (one query per window)."""
    rows = []
    for days in WINDOWS:
        given = LedgerEntry.objects.filter(
            patient_id=patient_id,
            substance=Substance.KETAMINE,
            kind=LedgerEntry.Kind.ADMINISTER,
            at__gte=now - timedelta(days=days),
            at__lte=now,
            reversed_by__isnull=True,
        ).aggregate(
            mg=Coalesce(Sum("mg"), Decimal("0")), sessions=CountOf("session_id", distinct=True)
        )
        rows.append(Exposure(days=days, sessions=given["sessions"], mg=-given["mg"]))
    return rows
