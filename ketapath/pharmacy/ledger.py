"""Writes of the ledger: formulations, receipts, draws, administrations, waste,
quarantine and reversals. Every movement goes through :func:`_post`, which writes the
append-only entry and the vial's cached balance together under the vial's row lock, so
the balance always equals the sum of the vial's entries and never leaves 0..volume.

Second people (the one counting a delivery, the witness of waste) are checked by the
caller with ``accounts.services.co_signer_verify`` in the same request (DESIGN §5a) and
passed in; here they must be another user with the ledger capability (which needs a
current licence) at the site.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.pharmacy.models import (
    Formulation,
    LedgerEntry,
    Receipt,
    Substance,
    Vial,
    plain_number,
)

CENT = Decimal("0.01")
USABLE = (Vial.Status.IN_STOCK, Vial.Status.OPEN)

MESSAGE_HANDLE_FORBIDDEN = (
    "Your role at this site does not include handling controlled substances (a nurse or "
    "prescriber with a current licence)."
)
MESSAGE_RECONCILE_FORBIDDEN = "Only the medical director may do this."
MESSAGE_SECOND_PERSON = (
    "{who} must be another licensed nurse or prescriber at this site, not the person entering."
)
MESSAGE_NOT_ENABLED = (
    "{substance} {conc} mg/mL is not enabled at this site; the medical director enables "
    "the strengths the site may receive."
)
MESSAGE_POSITIVE = "Enter an amount above 0."
MESSAGE_TOO_MUCH = "Only {have} mL is left in vial {label}."
MESSAGE_EXPIRED = "Vial {label} expired on {day}; it has been moved to quarantine."
MESSAGE_PAST_USE = (
    "Vial {label} passed its beyond-use date ({day}); it has been moved to quarantine."
)
MESSAGE_NOT_USABLE = "Vial {label} is {status} and cannot be drawn from."
MESSAGE_REASON = "Give the reason (at least 5 characters)."
MESSAGE_DRAW_OVER = (
    "This draw had {drawn} mg; {given} mg given and {wasted} mg wasted would exceed it."
)
MESSAGE_ALREADY_REVERSED = "This entry was already reversed."
MESSAGE_NOT_REVERSIBLE = "A reversal cannot itself be reversed; enter the movement again."
MESSAGE_REVERSE_BALANCE = "Reversing this would take vial {label} outside 0–{volume} mL."
MESSAGE_REVERSE_OUTCOMES_FIRST = (
    "Part of this draw is recorded as given or wasted; reverse those entries first."
)
MESSAGE_EXPIRY_PAST = "This lot has already expired."


def mg_of(ml: Decimal, mg_per_ml: Decimal) -> Decimal:
    return (ml * mg_per_ml).quantize(CENT, rounding=ROUND_HALF_UP)


def _amount(raw: object, field: str) -> Decimal:
    try:
        value = Decimal(str(raw)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (ArithmeticError, ValueError):
        raise InvalidInput(MESSAGE_POSITIVE, errors=[FieldError(field, MESSAGE_POSITIVE)]) from None
    if value <= 0:
        raise InvalidInput(MESSAGE_POSITIVE, errors=[FieldError(field, MESSAGE_POSITIVE)])
    return value


def can_handle(user: User, clinic_id: UUID) -> bool:
    return user.can(Capability.LEDGER_HANDLE, clinic_id)


def _require_handle(user: User, clinic_id: UUID) -> None:
    if not can_handle(user, clinic_id):
        raise Forbidden(MESSAGE_HANDLE_FORBIDDEN)


def require_second_person(
    *, user: User, second: User, clinic_id: UUID, who: str, field: str
) -> None:
    if second.pk == user.pk or not can_handle(second, clinic_id):
        message = MESSAGE_SECOND_PERSON.format(who=who)
        raise InvalidInput(message, errors=[FieldError(field, message)])


def _audit(
    user: User | None,
    entry_or_obj: object,
    clinic_id: UUID,
    detail: dict[str, object],
    patient_id: UUID | None = None,
) -> None:
    audit(
        user=user,
        username="" if user else "pharmacy",
        action=Action.CREATE,
        clinic_id=clinic_id,
        patient_id=patient_id,
        object_type=type(entry_or_obj).__name__.lower(),
        object_id=getattr(entry_or_obj, "id", None),
        detail=detail,
    )


def _post(
    *,
    vial: Vial,
    kind: str,
    ml: Decimal,
    by: User,
    mg: Decimal | None = None,
    at: datetime | None = None,
    **refs: object,
) -> LedgerEntry:
    """Write one entry and the vial's new balance; the caller holds the vial's row lock
    inside a transaction."""
    new_balance = vial.balance_ml + ml
    if new_balance < 0 or new_balance > vial.volume_ml:
        raise Conflict(
            MESSAGE_TOO_MUCH.format(have=vial.balance_ml, label=vial.label),
            errors=[
                FieldError("ml", MESSAGE_TOO_MUCH.format(have=vial.balance_ml, label=vial.label))
            ],
        )
    entry = LedgerEntry.objects.create(
        clinic_id=vial.clinic_id,
        vial=vial,
        substance=vial.substance,
        kind=kind,
        ml=ml,
        mg=mg if mg is not None else mg_of(ml, vial.mg_per_ml),
        at=at or timezone.now(),
        by=by,
        **refs,
    )
    if ml:
        vial.balance_ml = new_balance
        fields = ["balance_ml", "updated_at"]
        if new_balance == 0 and vial.status in USABLE:
            vial.status = Vial.Status.EMPTY
            fields.append("status")
        elif new_balance > 0 and vial.status == Vial.Status.EMPTY:
            vial.status = Vial.Status.OPEN
            fields.append("status")
        vial.save(update_fields=fields)
    return entry


def _locked(vial: Vial) -> Vial:
    return Vial.objects.select_for_update().select_related("clinic").get(pk=vial.pk)


# --- Formulations -------------------------------------------------------------------------


def formulation_set(
    *, user: User, clinic: Clinic, substance: str, mg_per_ml: object, enabled: bool
) -> Formulation:
    """The medical director enables (or disables) a strength the site may receive."""
    if not user.can(Capability.LEDGER_RECONCILE, clinic.id):
        raise Forbidden(MESSAGE_RECONCILE_FORBIDDEN)
    if substance not in Substance.values:
        message = "Choose a substance from the list."
        raise InvalidInput(message, errors=[FieldError("substance", message)])
    conc = _amount(mg_per_ml, "mg_per_ml")
    with transaction.atomic():
        formulation, created = Formulation.objects.select_for_update().get_or_create(
            clinic=clinic,
            substance=substance,
            mg_per_ml=conc,
            defaults={"enabled": enabled, "changed_by": user, "changed_at": timezone.now()},
        )
        if not created:
            formulation.enabled = enabled
            formulation.changed_by = user
            formulation.changed_at = timezone.now()
            formulation.save(update_fields=["enabled", "changed_by", "changed_at", "updated_at"])
        audit(
            user=user,
            action=Action.CREATE if created else Action.UPDATE,
            clinic_id=clinic.id,
            object_type="formulation",
            object_id=formulation.id,
            detail={"substance": substance, "mg_per_ml": str(conc), "enabled": enabled},
        )
    return formulation


# --- Receipts ----------------------------------------------------------------------------


def _next_labels(clinic: Clinic, substance: str, n: int) -> list[str]:
    prefix = substance[:1].upper()
    taken = Vial.objects.filter(clinic=clinic, label__startswith=f"{prefix}-").count()
    return [f"{prefix}-{taken + i:04d}" for i in range(1, n + 1)]


@dataclass(frozen=True)
class Delivery:
    formulation: Formulation
    ndc: str
    product: str
    lot: str
    expiry: date
    volume_ml: Decimal
    vials: int
    supplier: str
    invoice: str
    received_at: datetime | None = None


def receive(*, user: User, counted_by: User, clinic: Clinic, delivery: Delivery) -> Receipt:
    """Record a delivery: one vial per physical vial, each with a full balance, counted by
    a second person. Only an enabled strength can be received."""
    _require_handle(user, clinic.id)
    require_second_person(
        user=user,
        second=counted_by,
        clinic_id=clinic.id,
        who="The person counting",
        field="co_sign",
    )
    f = delivery.formulation
    errors: list[FieldError] = []
    if f.clinic_id != clinic.id or not f.enabled:
        errors.append(
            FieldError(
                "formulation",
                MESSAGE_NOT_ENABLED.format(
                    substance=f.get_substance_display(), conc=plain_number(f.mg_per_ml)
                ),
            )
        )
    if delivery.expiry < local_today(clinic.time_zone):
        errors.append(FieldError("expiry", MESSAGE_EXPIRY_PAST))
    if delivery.vials < 1 or delivery.vials > 500:
        errors.append(FieldError("vials", "Enter the number of vials (1–500)."))
    if delivery.volume_ml <= 0 or delivery.volume_ml > 100:
        errors.append(FieldError("volume_ml", "Enter the volume of one vial in mL (up to 100)."))
    for field in ("ndc", "product", "lot", "supplier", "invoice"):
        if not str(getattr(delivery, field)).strip():
            errors.append(FieldError(field, "This is required for the DEA record."))
    if errors:
        raise InvalidInput("The delivery could not be recorded.", errors=errors)
    at = delivery.received_at or timezone.now()
    with transaction.atomic():
        receipt = Receipt.objects.create(
            clinic=clinic,
            formulation=f,
            ndc=delivery.ndc.strip(),
            product=delivery.product.strip(),
            lot=delivery.lot.strip(),
            expiry=delivery.expiry,
            mg_per_ml=f.mg_per_ml,
            volume_ml=delivery.volume_ml,
            vials=delivery.vials,
            supplier=delivery.supplier.strip(),
            invoice=delivery.invoice.strip(),
            received_at=at,
            received_by=user,
            counted_by=counted_by,
        )
        for label in _next_labels(clinic, f.substance, delivery.vials):
            vial = Vial.objects.create(
                clinic=clinic,
                receipt=receipt,
                formulation=f,
                substance=f.substance,
                label=label,
                ndc=receipt.ndc,
                lot=receipt.lot,
                expiry=receipt.expiry,
                mg_per_ml=f.mg_per_ml,
                volume_ml=delivery.volume_ml,
                balance_ml=Decimal("0"),
            )
            _post(
                vial=vial,
                kind=LedgerEntry.Kind.RECEIVE,
                ml=delivery.volume_ml,
                by=user,
                at=at,
                witness=counted_by,
                reference=receipt.invoice,
            )
        _audit(
            user,
            receipt,
            clinic.id,
            {"vials": delivery.vials, "lot": receipt.lot, "counted_by": str(counted_by.id)},
        )
    return receipt


# --- Usability, quarantine ---------------------------------------------------------------


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def unusable_reason(vial: Vial, now: datetime) -> str | None:
    """Why a vial cannot be drawn from now (expired, past its beyond-use date, or not in
    stock), or None."""
    zone = ZoneInfo(vial.clinic.time_zone)
    if vial.status not in USABLE:
        return MESSAGE_NOT_USABLE.format(label=vial.label, status=vial.get_status_display().lower())
    if now >= _end_of(vial.expiry, zone):
        return MESSAGE_EXPIRED.format(label=vial.label, day=vial.expiry)
    if vial.beyond_use_at is not None and now >= vial.beyond_use_at:
        day = vial.beyond_use_at.astimezone(zone).date()
        return MESSAGE_PAST_USE.format(label=vial.label, day=day)
    return None


def quarantine(*, user: User | None, vial: Vial, reason: str) -> Vial:
    """Set a vial aside: it keeps its balance (and stays in inventories) but cannot be
    drawn; it leaves only by return or disposal through a reverse distributor."""
    if user is not None:
        _require_handle(user, vial.clinic_id)
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput(MESSAGE_REASON, errors=[FieldError("reason", MESSAGE_REASON)])
    with transaction.atomic():
        locked = _locked(vial)
        if locked.status == Vial.Status.QUARANTINED:
            return locked
        if locked.status not in USABLE:
            message = MESSAGE_NOT_USABLE.format(
                label=locked.label, status=locked.get_status_display().lower()
            )
            raise Conflict(message)
        locked.status = Vial.Status.QUARANTINED
        locked.quarantined_at = timezone.now()
        locked.quarantine_reason = reason[:200]
        locked.save(update_fields=["status", "quarantined_at", "quarantine_reason", "updated_at"])
        audit(
            user=user,
            username="" if user else "pharmacy",
            action=Action.UPDATE,
            clinic_id=locked.clinic_id,
            object_type="vial",
            object_id=locked.id,
            detail={"change": "quarantine", "reason": locked.quarantine_reason},
        )
    return locked


def quarantine_unusable(*, clinic: Clinic | None = None, now: datetime | None = None) -> int:
    """Move every expired or past-use vial in stock to quarantine (run hourly, and before
    a draw)."""
    now = now or timezone.now()
    vials = Vial.objects.filter(status__in=USABLE).select_related("clinic")
    if clinic is not None:
        vials = vials.filter(clinic=clinic)
    moved = 0
    for vial in vials:
        reason = unusable_reason(vial, now)
        if reason is not None:
            quarantine(user=None, vial=vial, reason=reason)
            moved += 1
    return moved


# --- Draws, administration, waste ---------------------------------------------------------


def draw(
    *,
    user: User,
    vial: Vial,
    ml: object,
    session_id: UUID,
    patient: Patient | None = None,
    at: datetime | None = None,
) -> LedgerEntry:
    """Draw from a vial for a session. An expired or past-use vial is refused and moved to
    quarantine; opening a sealed vial starts its beyond-use clock (the policy's days, never
    past the expiry)."""
    _require_handle(user, vial.clinic_id)
    amount = _amount(ml, "ml")
    now = at or timezone.now()
    reason = unusable_reason(vial, now)
    if reason is not None:
        if vial.status in USABLE:
            quarantine(user=None, vial=vial, reason=reason)
        raise Conflict(reason, code="vial_unusable", errors=[FieldError("vial", reason)])
    days = clinic_policy_current(clinic=vial.clinic).vial_beyond_use_days
    with transaction.atomic():
        locked = _locked(vial)
        if locked.status not in USABLE:
            message = MESSAGE_NOT_USABLE.format(
                label=locked.label, status=locked.get_status_display().lower()
            )
            raise Conflict(message, code="vial_unusable", errors=[FieldError("vial", message)])
        if amount > locked.balance_ml:
            message = MESSAGE_TOO_MUCH.format(have=locked.balance_ml, label=locked.label)
            raise InvalidInput(message, errors=[FieldError("ml", message)])
        if locked.status == Vial.Status.IN_STOCK:
            zone = ZoneInfo(locked.clinic.time_zone)
            locked.status = Vial.Status.OPEN
            locked.opened_at = now
            locked.beyond_use_at = min(now + timedelta(days=days), _end_of(locked.expiry, zone))
            locked.save(update_fields=["status", "opened_at", "beyond_use_at", "updated_at"])
        entry = _post(
            vial=locked,
            kind=LedgerEntry.Kind.DRAW,
            ml=-amount,
            by=user,
            at=now,
            session_id=session_id,
            patient=patient,
        )
        _audit(
            user,
            entry,
            locked.clinic_id,
            {"kind": "draw", "ml": str(amount), "session": str(session_id)},
            patient_id=patient.id if patient else None,
        )
    return entry


@dataclass(frozen=True)
class DrawAccount:
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal

    @property
    def unaccounted_mg(self) -> Decimal:
        return self.drawn_mg - self.administered_mg - self.wasted_mg

    @property
    def balanced(self) -> bool:
        """What the session's signing checks: the draw equals administered plus wasted."""
        return self.unaccounted_mg == 0


def draw_account(draw_entry: LedgerEntry) -> DrawAccount:
    """What became of a draw, net of reversals."""
    given = wasted = Decimal("0")
    for outcome in draw_entry.outcomes.all():
        if hasattr(outcome, "reversed_by"):
            continue
        if outcome.kind == LedgerEntry.Kind.ADMINISTER:
            given += -outcome.mg
        elif outcome.kind == LedgerEntry.Kind.WASTE:
            wasted += -outcome.mg
    drawn = Decimal("0") if hasattr(draw_entry, "reversed_by") else -draw_entry.mg
    return DrawAccount(drawn_mg=drawn, administered_mg=given, wasted_mg=wasted)


def _check_draw_room(draw_entry: LedgerEntry, extra_given: Decimal, extra_wasted: Decimal) -> None:
    account = draw_account(draw_entry)
    if account.administered_mg + account.wasted_mg + extra_given + extra_wasted > account.drawn_mg:
        message = MESSAGE_DRAW_OVER.format(
            drawn=account.drawn_mg,
            given=account.administered_mg + extra_given,
            wasted=account.wasted_mg + extra_wasted,
        )
        raise InvalidInput(message, errors=[FieldError("mg", message)])


def administer(
    *, user: User, draw_entry: LedgerEntry, mg: object, at: datetime | None = None
) -> LedgerEntry:
    """Record what of a draw was given to the patient (the session note calls this)."""
    _require_handle(user, draw_entry.clinic_id)
    amount = _amount(mg, "mg")
    with transaction.atomic():
        vial = _locked(draw_entry.vial)
        _check_draw_room(draw_entry, amount, Decimal("0"))
        entry = _post(
            vial=vial,
            kind=LedgerEntry.Kind.ADMINISTER,
            ml=Decimal("0"),
            mg=-amount,
            by=user,
            at=at,
            draw=draw_entry,
            session_id=draw_entry.session_id,
            patient=draw_entry.patient,
        )
        _audit(
            user,
            entry,
            vial.clinic_id,
            {"kind": "administer", "mg": str(amount)},
            patient_id=draw_entry.patient_id,
        )
    return entry


def waste(
    *,
    user: User,
    witness: User,
    vial: Vial,
    ml: object,
    reason: str,
    draw_entry: LedgerEntry | None = None,
    at: datetime | None = None,
) -> LedgerEntry:
    """Waste witnessed at the time by a second licensed user (verified by the caller in the
    same request). Waste of what a draw left in the syringe names the draw and leaves the
    vial as it is; waste from a vial (a residue) takes it from the vial."""
    _require_handle(user, vial.clinic_id)
    require_second_person(
        user=user, second=witness, clinic_id=vial.clinic_id, who="The witness", field="co_sign"
    )
    amount = _amount(ml, "ml")
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput(MESSAGE_REASON, errors=[FieldError("reason", MESSAGE_REASON)])
    with transaction.atomic():
        locked = _locked(vial)
        if draw_entry is not None:
            if draw_entry.vial_id != locked.id or draw_entry.kind != LedgerEntry.Kind.DRAW:
                message = "That draw is not from this vial."
                raise InvalidInput(message, errors=[FieldError("draw", message)])
            mg = mg_of(amount, locked.mg_per_ml)
            _check_draw_room(draw_entry, Decimal("0"), mg)
            entry = _post(
                vial=locked,
                kind=LedgerEntry.Kind.WASTE,
                ml=Decimal("0"),
                mg=-mg,
                by=user,
                at=at,
                witness=witness,
                reason=reason,
                draw=draw_entry,
                session_id=draw_entry.session_id,
                patient=draw_entry.patient,
            )
        else:
            if amount > locked.balance_ml:
                message = MESSAGE_TOO_MUCH.format(have=locked.balance_ml, label=locked.label)
                raise InvalidInput(message, errors=[FieldError("ml", message)])
            entry = _post(
                vial=locked,
                kind=LedgerEntry.Kind.WASTE,
                ml=-amount,
                by=user,
                at=at,
                witness=witness,
                reason=reason,
            )
        _audit(
            user,
            entry,
            locked.clinic_id,
            {"kind": "waste", "ml": str(amount), "witness": str(witness.id)},
            patient_id=entry.patient_id,
        )
    return entry


# --- Reversals ---------------------------------------------------------------------------


def reverse(*, user: User, entry: LedgerEntry, reason: str) -> LedgerEntry:
    """Correct an entry with its mirror image and a reason; the original stays."""
    _require_handle(user, entry.clinic_id)
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput(MESSAGE_REASON, errors=[FieldError("reason", MESSAGE_REASON)])
    if entry.kind == LedgerEntry.Kind.REVERSE:
        raise Conflict(MESSAGE_NOT_REVERSIBLE)
    with transaction.atomic():
        vial = _locked(entry.vial)
        if LedgerEntry.objects.filter(reverses=entry).exists():
            raise Conflict(MESSAGE_ALREADY_REVERSED)
        if entry.kind == LedgerEntry.Kind.DRAW:
            # A draw's administrations and waste must stay within it (the session's signing
            # checks drawn = given + wasted), so they go before the draw does.
            account = draw_account(LedgerEntry.objects.get(pk=entry.pk))
            if account.administered_mg or account.wasted_mg:
                raise Conflict(MESSAGE_REVERSE_OUTCOMES_FIRST)
        new_balance = vial.balance_ml - entry.ml
        if new_balance < 0 or new_balance > vial.volume_ml:
            message = MESSAGE_REVERSE_BALANCE.format(label=vial.label, volume=vial.volume_ml)
            raise Conflict(message)
        reversal = _post(
            vial=vial,
            kind=LedgerEntry.Kind.REVERSE,
            ml=-entry.ml,
            mg=-entry.mg,
            by=user,
            reverses=entry,
            reason=reason,
            session_id=entry.session_id,
            patient=entry.patient,
            draw=entry.draw,
        )
        _audit(
            user,
            reversal,
            vial.clinic_id,
            {"kind": "reverse", "reverses": str(entry.id), "reason": reason},
            patient_id=entry.patient_id,
        )
    return reversal
