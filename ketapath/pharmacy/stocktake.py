"""Counts of the site's stock and the investigations their differences open.

A count is entered in mL by two people: the counter and a second licensed person who
co-signs in the same request (verified by the caller with
``accounts.services.co_signer_verify`` and checked here with
``ledger.require_second_person``). Counting is blind: the pages ask for what is in each
vial and show what the ledger expected only after the count is saved.

- A shift (or daily) count covers every vial in use (opened, with something left) and any
  other vial the counter lists.
- An inventory, initial or biennial, covers every vial on hand with a balance, expired and
  quarantined stock included (21 CFR 1304.11(b) initial, (c) at least every two years
  after it), taken at the opening or the close of business (21 CFR 1304.11(a)). Opened
  Schedule III–V containers may be counted as an estimated measure (21 CFR
  1304.11(e)(3)).

Every line whose counted amount differs from the ledger opens an :class:`Investigation`
in the same transaction; only the medical director closes one, with an explanation. A
count never changes a balance: a real shortfall is recorded as a loss or a reversal by a
person, not by the count.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models import Count as CountOf
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today, to_local
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Count, CountLine, Investigation, Vial

CENT = Decimal("0.01")
# A count may be dated a little ahead of the server clock (a device a minute fast).
CLOCK_SKEW = timedelta(minutes=5)
# An inventory is taken at the opening or the close of business (21 CFR 1304.11(a)).
TIMINGS = {"opening": "Opening of business", "close": "Close of business"}
INVENTORY_KINDS = (Count.Kind.INITIAL, Count.Kind.BIENNIAL)
# A new inventory at least every two years after the initial one (21 CFR 1304.11(c)).
BIENNIAL_INTERVAL_YEARS = 2
EXPLANATION_MIN = 20

MESSAGE_KIND = "Choose a shift count, an initial inventory or a biennial inventory."
MESSAGE_TIMING = "Say whether the inventory was taken at the opening or the close of business."
MESSAGE_NO_LINES = "Count at least one vial."
MESSAGE_COUNTED = "Enter the mL counted in vial {label} (0 or more)."
MESSAGE_COUNTED_OVER = "Vial {label} holds at most {volume} mL; check the amount counted."
MESSAGE_VIAL_ELSEWHERE = "This vial is not kept at this site."
MESSAGE_FUTURE = "The count time cannot be in the future."
MESSAGE_SHIFT_MISSING = "A shift count covers every vial in use; these are missing: {labels}."
MESSAGE_INVENTORY_MISSING = (
    "An inventory must include every vial on hand, expired and quarantined ones too; "
    "these are missing: {labels}."
)
MESSAGE_NOTE = "Keep the note under 300 characters."
MESSAGE_EXPLANATION = (
    f"Explain what was found (at least {EXPLANATION_MIN} characters): the cause, or the "
    "loss or correction recorded for it."
)
MESSAGE_ALREADY_CLOSED = "This investigation is already closed."


def _ml(raw: object) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip()).quantize(CENT, rounding=ROUND_HALF_UP)
    except (ArithmeticError, InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _missing_labels(vials: list[Vial], today: date) -> str:
    """The labels of the vials, noting the quarantined ones and those expired on ``today``
    (the site's local date)."""
    parts = []
    for vial in vials:
        note = []
        if vial.status == Vial.Status.QUARANTINED:
            note.append("quarantined")
        if vial.expiry < today:
            note.append("expired")
        parts.append(f"{vial.label} ({', '.join(note)})" if note else vial.label)
    return ", ".join(parts)


def on_hand(clinic: Clinic) -> QuerySet[Vial]:
    """Every vial of the site with something in it, whatever its status."""
    return Vial.objects.filter(clinic=clinic, balance_ml__gt=0).order_by("substance", "label")


def _on_hand_at(clinic: Clinic, at: datetime) -> QuerySet[Vial]:
    return (
        Vial.objects.filter(clinic=clinic)
        .annotate(at_ml=Sum("entries__ml", filter=Q(entries__at__lte=at)))
        .filter(at_ml__gt=0)
        .order_by("substance", "label")
    )


def _required(clinic: Clinic, kind: str, at: datetime | None) -> list[Vial]:
    """The vials a count of this kind must include."""
    vials = on_hand(clinic) if at is None else _on_hand_at(clinic, at)
    if kind == Count.Kind.SHIFT:
        vials = vials.filter(status=Vial.Status.OPEN)
        if at is not None:
            vials = vials.filter(opened_at__lte=at)
    return list(vials)


def _expected_at(vial: Vial, at: datetime) -> Decimal:
    total = vial.entries.filter(at__lte=at).aggregate(total=Sum("ml"))["total"]
    return (total or Decimal("0")).quantize(CENT)


@dataclass(frozen=True)
class CountSheet:
    """What the count page lists: the vials the count must include and the others the
    counter may add (a shift count's sealed and quarantined stock)."""

    required: list[Vial]
    optional: list[Vial]


def count_sheet(*, clinic: Clinic, kind: str) -> CountSheet:
    vials = list(on_hand(clinic))
    if kind in INVENTORY_KINDS:
        return CountSheet(required=vials, optional=[])
    return CountSheet(
        required=[v for v in vials if v.status == Vial.Status.OPEN],
        optional=[v for v in vials if v.status != Vial.Status.OPEN],
    )


def count_record(
    *,
    user: User,
    witness: User,
    clinic: Clinic,
    kind: str,
    lines: dict[Any, object],
    at: datetime | None = None,
    timing: str = "",
    note: str = "",
) -> Count:
    """Record a count of ``lines`` ({vial id: mL counted}) by ``user`` and ``witness``.

    The expected amount of each vial is its balance from the ledger at ``at`` (the sum of
    its entries up to then; its current balance when ``at`` is not given). A shift count
    must include every vial in use; an inventory every vial on hand with a balance,
    expired and quarantined ones included (21 CFR 1304.11(b), (c)). Every line that
    differs from the ledger opens an investigation, in the same transaction. Balances do
    not change.
    """
    if not ledger.can_handle(user, clinic.id):
        raise Forbidden(ledger.MESSAGE_HANDLE_FORBIDDEN)
    ledger.require_second_person(
        user=user, second=witness, clinic_id=clinic.id, who="The second counter", field="co_sign"
    )
    errors: list[FieldError] = []
    if kind not in Count.Kind.values:
        raise InvalidInput(MESSAGE_KIND, errors=[FieldError("kind", MESSAGE_KIND)])
    timing = (timing or "").strip()
    if kind in INVENTORY_KINDS:
        if timing not in TIMINGS:
            errors.append(FieldError("timing", MESSAGE_TIMING))
    elif timing and timing not in TIMINGS:
        errors.append(FieldError("timing", MESSAGE_TIMING))
    note = " ".join((note or "").split())
    if len(note) > 300:
        errors.append(FieldError("note", MESSAGE_NOTE))
    now = timezone.now()
    if at is not None and at > now + CLOCK_SKEW:
        errors.append(FieldError("at", MESSAGE_FUTURE))
    if not lines:
        errors.append(FieldError("lines", MESSAGE_NO_LINES))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)

    parsed: list[tuple[UUID, object]] = []
    for key, raw in lines.items():
        try:
            parsed.append((key if isinstance(key, UUID) else UUID(str(key)), raw))
        except ValueError:
            errors.append(FieldError(f"lines.{key}", MESSAGE_VIAL_ELSEWHERE))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)

    with transaction.atomic():
        # Lock the counted vials (in a fixed order) so nothing moves while they are read.
        vials = {
            v.id: v
            for v in Vial.objects.select_for_update()
            .filter(id__in=[vial_id for vial_id, _ in parsed], clinic=clinic)
            .order_by("id")
        }
        counted: dict[UUID, Decimal] = {}
        for vial_id, raw in parsed:
            field = f"lines.{vial_id}"
            vial = vials.get(vial_id)
            if vial is None:
                errors.append(FieldError(field, MESSAGE_VIAL_ELSEWHERE))
                continue
            amount = _ml(raw)
            if amount is None or amount < 0:
                errors.append(FieldError(field, MESSAGE_COUNTED.format(label=vial.label)))
            elif amount > vial.volume_ml:
                errors.append(
                    FieldError(
                        field, MESSAGE_COUNTED_OVER.format(label=vial.label, volume=vial.volume_ml)
                    )
                )
            else:
                counted[vial_id] = amount
        if errors:
            raise InvalidInput(errors[0].rule, errors=errors)

        missing = [v for v in _required(clinic, kind, at) if v.id not in vials]
        if missing:
            template = (
                MESSAGE_SHIFT_MISSING if kind == Count.Kind.SHIFT else MESSAGE_INVENTORY_MISSING
            )
            today = local_today(clinic.time_zone)
            message = template.format(labels=_missing_labels(missing, today))
            raise InvalidInput(message, errors=[FieldError("lines", message)])

        count = Count.objects.create(
            clinic=clinic,
            kind=kind,
            counted_at=at or now,
            counted_by=user,
            witness=witness,
            timing=timing,
            note=note,
        )
        opened = 0
        for vial_id in sorted(counted, key=lambda i: vials[i].label):
            vial = vials[vial_id]
            expected = vial.balance_ml if at is None else _expected_at(vial, at)
            line = CountLine.objects.create(
                count=count, vial=vial, expected_ml=expected, counted_ml=counted[vial_id]
            )
            if line.counted_ml != line.expected_ml:
                Investigation.objects.create(clinic=clinic, count_line=line, opened_at=now)
                opened += 1
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            object_type="count",
            object_id=count.id,
            detail={
                "kind": kind,
                "lines": len(counted),
                "investigations_opened": opened,
                "witness": str(witness.id),
            },
        )
    return count


def investigation_close(
    *, user: User, investigation: Investigation, explanation: str
) -> Investigation:
    """The medical director closes an investigation with an explanation of what was found."""
    if not user.can(Capability.LEDGER_RECONCILE, investigation.clinic_id):
        raise Forbidden(ledger.MESSAGE_RECONCILE_FORBIDDEN)
    explanation = (explanation or "").strip()
    if len(" ".join(explanation.split())) < EXPLANATION_MIN:
        raise InvalidInput(
            MESSAGE_EXPLANATION, errors=[FieldError("explanation", MESSAGE_EXPLANATION)]
        )
    with transaction.atomic():
        locked = Investigation.objects.select_for_update().get(pk=investigation.pk)
        if locked.status == Investigation.Status.CLOSED:
            raise Conflict(MESSAGE_ALREADY_CLOSED)
        locked.status = Investigation.Status.CLOSED
        locked.explanation = explanation
        locked.closed_by = user
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "explanation", "closed_by", "closed_at", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=locked.clinic_id,
            object_type="investigation",
            object_id=locked.id,
            detail={"change": "close"},
        )
    return locked


# --- Reads --------------------------------------------------------------------------------


def counts_for(*, clinic_ids: list[UUID]) -> QuerySet[Count]:
    """Counts of these sites, newest first, with their line and open-investigation totals."""
    return (
        Count.objects.filter(clinic_id__in=clinic_ids)
        .select_related("clinic", "counted_by", "witness")
        .annotate(
            line_count=CountOf("lines", distinct=True),
            difference_count=CountOf("lines__investigation", distinct=True),
        )
        .order_by("-counted_at", "-created_at")
    )


def count_with_lines(*, clinic_ids: list[UUID], count_id: UUID) -> Count | None:
    return (
        Count.objects.filter(clinic_id__in=clinic_ids, id=count_id)
        .select_related("clinic", "counted_by", "witness")
        .prefetch_related("lines__vial", "lines__investigation")
        .first()
    )


def counts_with_lines(*, clinic_ids: list[UUID]) -> QuerySet[Count]:
    return (
        Count.objects.filter(clinic_id__in=clinic_ids)
        .select_related("clinic", "counted_by", "witness")
        .prefetch_related("lines__vial", "lines__investigation")
        .order_by("-counted_at", "-created_at")
    )


def investigations_for(
    *, clinic_ids: list[UUID], status: str | None = None
) -> QuerySet[Investigation]:
    """Investigations of these sites, open ones first, then the newest."""
    rows = Investigation.objects.filter(clinic_id__in=clinic_ids)
    if status:
        rows = rows.filter(status=status)
    return rows.select_related(
        "clinic",
        "closed_by",
        "count_line__vial",
        "count_line__count__counted_by",
        "count_line__count__witness",
    ).order_by(
        Case(
            When(status=Investigation.Status.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        "-opened_at",
    )


def open_investigation_count(*, clinic: Clinic) -> int:
    return Investigation.objects.filter(clinic=clinic, status=Investigation.Status.OPEN).count()


@dataclass(frozen=True)
class InventoryDue:
    """The last inventory of the site and the date the next biennial one is due
    (21 CFR 1304.11(c)); ``due`` is None before an initial inventory."""

    last: Count | None
    due: date | None

    def overdue(self, today: date) -> bool:
        return self.due is not None and today > self.due


def inventory_due(*, clinic: Clinic) -> InventoryDue:
    last = (
        Count.objects.filter(clinic=clinic, kind__in=INVENTORY_KINDS)
        .order_by("-counted_at")
        .first()
    )
    if last is None:
        return InventoryDue(last=None, due=None)
    day = to_local(last.counted_at, clinic.time_zone).date()
    try:
        due = day.replace(year=day.year + BIENNIAL_INTERVAL_YEARS)
    except ValueError:  # 29 February
        due = day.replace(year=day.year + BIENNIAL_INTERVAL_YEARS, day=28)
    return InventoryDue(last=last, due=due)
