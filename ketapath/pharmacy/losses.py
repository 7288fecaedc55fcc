"""Thefts and significant losses, and returns of stock to a reverse distributor.

A loss report takes what was lost out of each vial through the ledger (one LOSS entry per
vial) and tracks the two steps 21 CFR 1301.76(b) requires of the registrant once a theft
or significant loss is discovered: written notice to the DEA Field Division Office within
one business day of discovery, and DEA Form 106 within 45 days of discovery (as amended
by 88 FR 40707, 22 June 2023). Only the medical director records the steps.

A return takes the whole remaining balance of a vial out of the ledger to a reverse
distributor (21 CFR 1317.05 registrant disposal; 1317.10(a) return), recording the
receiving party and their reference with the date and quantity, as 21 CFR 1304.22(c) asks
of a dispenser's record of what it distributed or disposed of.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from uuid import UUID

from django.db import transaction
from django.db.models import Count as CountOf
from django.db.models import F, Prefetch, QuerySet, Sum
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today, to_local
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry, LossReport, Vial

CENT = Decimal("0.01")
CLOCK_SKEW = timedelta(minutes=5)
# 21 CFR 1301.76(b) as amended by 88 FR 40707 (2023): DEA Form 106 within 45 days.
FORM_106_DAYS = 45
DESCRIPTION_MIN = 20
GONE = (Vial.Status.RETURNED, Vial.Status.LOST)

MESSAGE_KIND = "Choose theft, significant loss or lost in transit."
MESSAGE_DISCOVERED = "Enter when the loss was discovered (not in the future)."
MESSAGE_DESCRIPTION = (
    f"Describe what was lost and how it was found (at least {DESCRIPTION_MIN} characters)."
)
MESSAGE_NO_ITEMS = "Name at least one vial and the mL lost from it."
MESSAGE_ITEM_VIAL = "This vial is not kept at this site."
MESSAGE_ITEM_TWICE = "Vial {label} is listed twice; give its total once."
MESSAGE_ITEM_ML = "Enter the mL lost from vial {label} (above 0)."
MESSAGE_ITEM_TOO_MUCH = "Only {have} mL is recorded in vial {label}."
MESSAGE_POLICE = "Keep the police report reference under 120 characters."
MESSAGE_STEP_TIME = "Enter when it was done: not before the discovery and not in the future."
MESSAGE_STEP_REFERENCE = "Enter the reference (1–120 characters): {what}."
MESSAGE_NOTICE_DONE = "The written notice to the DEA was already recorded."
MESSAGE_FORM_106_DONE = "DEA Form 106 was already recorded."
MESSAGE_RECEIVER = "Name the reverse distributor who receives the stock (and its DEA number)."
MESSAGE_RETURN_REFERENCE = "Enter their form or invoice reference (1–80 characters)."
MESSAGE_RETURN_REASON = "Give the reason (5–300 characters), for example “expired”."
MESSAGE_NOTHING_TO_RETURN = "Vial {label} has nothing left to return ({status})."


def business_day_after(day: date) -> date:
    """The next weekday (Monday to Friday) after ``day``: the written notice of a theft or
    significant loss is due within one business day of discovery (21 CFR 1301.76(b)).
    Public holidays are not skipped, so the date shown is never later than the rule's."""
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return nxt


def form_106_due(day: date) -> date:
    """DEA Form 106 is due within 45 days after discovery (21 CFR 1301.76(b), 88 FR 40707)."""
    return day + timedelta(days=FORM_106_DAYS)


@dataclass(frozen=True)
class Step:
    """One required step of a loss report as the pages and the API show it."""

    due: date
    done_at: datetime | None
    reference: str
    today: date

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def overdue(self) -> bool:
        return not self.done and self.today > self.due

    @property
    def state(self) -> str:
        if self.done:
            return "done"
        if self.today > self.due:
            return "overdue"
        if self.today == self.due:
            return "due_today"
        return "due"

    @property
    def days_left(self) -> int:
        return (self.due - self.today).days

    @property
    def days_overdue(self) -> int:
        return max(0, (self.today - self.due).days)


def loss_steps(report: LossReport, today: date | None = None) -> tuple[Step, Step]:
    """The written notice and the Form 106 of a report, with their state today (site time)."""
    today = today or local_today(report.clinic.time_zone)
    return (
        Step(report.notice_due, report.notice_sent_at, report.notice_reference, today),
        Step(report.form_106_due, report.form_106_submitted_at, report.form_106_reference, today),
    )


def _ml(raw: object) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip()).quantize(CENT, rounding=ROUND_HALF_UP)
    except (ArithmeticError, InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _require_handle(user: User, clinic_id: UUID) -> None:
    if not ledger.can_handle(user, clinic_id):
        raise Forbidden(ledger.MESSAGE_HANDLE_FORBIDDEN)


def _require_director(user: User, clinic_id: UUID) -> None:
    if not user.can(Capability.LEDGER_RECONCILE, clinic_id):
        raise Forbidden(ledger.MESSAGE_RECONCILE_FORBIDDEN)


def loss_report_create(
    *,
    user: User,
    clinic: Clinic,
    kind: str,
    discovered_at: datetime,
    description: str,
    items: list[tuple[Vial, object]],
    police_report: str = "",
) -> LossReport:
    """Record a theft or significant loss: each item takes the mL lost out of its vial
    through the ledger (a vial emptied by the loss is marked lost), and the report carries
    the due dates of the written notice (the next business day after discovery) and of DEA
    Form 106 (45 days after discovery), 21 CFR 1301.76(b) with 88 FR 40707 (2023)."""
    _require_handle(user, clinic.id)
    now = timezone.now()
    errors: list[FieldError] = []
    if kind not in LossReport.Kind.values:
        errors.append(FieldError("kind", MESSAGE_KIND))
    if discovered_at is None or discovered_at > now + CLOCK_SKEW:
        errors.append(FieldError("discovered_at", MESSAGE_DISCOVERED))
    description = (description or "").strip()
    if len(" ".join(description.split())) < DESCRIPTION_MIN:
        errors.append(FieldError("description", MESSAGE_DESCRIPTION))
    police_report = " ".join((police_report or "").split())
    if len(police_report) > 120:
        errors.append(FieldError("police_report", MESSAGE_POLICE))
    if not items:
        errors.append(FieldError("items", MESSAGE_NO_ITEMS))
    amounts: list[tuple[Vial, Decimal]] = []
    seen: set[UUID] = set()
    for index, (vial, raw) in enumerate(items):
        if vial.clinic_id != clinic.id:
            errors.append(FieldError(f"items.{index}.vial", MESSAGE_ITEM_VIAL))
            continue
        if vial.id in seen:
            errors.append(
                FieldError(f"items.{index}.vial", MESSAGE_ITEM_TWICE.format(label=vial.label))
            )
            continue
        seen.add(vial.id)
        amount = _ml(raw)
        if amount is None or amount <= 0:
            errors.append(FieldError(f"items.{index}.ml", MESSAGE_ITEM_ML.format(label=vial.label)))
            continue
        amounts.append((vial, amount))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)

    discovered_on = to_local(discovered_at, clinic.time_zone).date()
    with transaction.atomic():
        report = LossReport.objects.create(
            clinic=clinic,
            kind=kind,
            discovered_at=discovered_at,
            description=description,
            reported_by=user,
            notice_due=business_day_after(discovered_on),
            form_106_due=form_106_due(discovered_on),
            police_report=police_report,
        )
        locked = {
            v.id: v
            for v in Vial.objects.select_for_update()
            .select_related("clinic")
            .filter(id__in=[v.id for v, _ in amounts])
            .order_by("id")
        }
        for index, (item, amount) in enumerate(amounts):
            vial = locked[item.id]
            if amount > vial.balance_ml:
                message = MESSAGE_ITEM_TOO_MUCH.format(have=vial.balance_ml, label=vial.label)
                raise InvalidInput(message, errors=[FieldError(f"items.{index}.ml", message)])
            ledger._post(
                vial=vial,
                kind=LedgerEntry.Kind.LOSS,
                ml=-amount,
                by=user,
                at=now,
                loss_report=report,
                reason=f"{report.get_kind_display()} discovered {discovered_on:%Y-%m-%d}",
            )
            if vial.balance_ml == 0 and vial.status != Vial.Status.LOST:
                vial.status = Vial.Status.LOST
                vial.save(update_fields=["status", "updated_at"])
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            object_type="lossreport",
            object_id=report.id,
            detail={
                "kind": kind,
                "vials": len(amounts),
                "ml": str(sum((a for _, a in amounts), Decimal("0"))),
                "notice_due": report.notice_due.isoformat(),
                "form_106_due": report.form_106_due.isoformat(),
            },
        )
    return report


def _step_values(
    report: LossReport, done_at: datetime | None, reference: str, what: str
) -> tuple[datetime, str]:
    errors: list[FieldError] = []
    now = timezone.now()
    if done_at is None or done_at > now + CLOCK_SKEW or done_at < report.discovered_at:
        errors.append(FieldError("at", MESSAGE_STEP_TIME))
    reference = " ".join((reference or "").split())
    if not reference or len(reference) > 120:
        errors.append(FieldError("reference", MESSAGE_STEP_REFERENCE.format(what=what)))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    assert done_at is not None
    return done_at, reference


def _record_step(
    *,
    user: User,
    report: LossReport,
    at: datetime,
    reference: str,
    hint: str,
    at_field: str,
    reference_field: str,
    done_message: str,
    step: str,
) -> LossReport:
    _require_director(user, report.clinic_id)
    at, reference = _step_values(report, at, reference, hint)
    with transaction.atomic():
        locked = LossReport.objects.select_for_update().get(pk=report.pk)
        if getattr(locked, at_field) is not None:
            raise Conflict(done_message)
        setattr(locked, at_field, at)
        setattr(locked, reference_field, reference)
        locked.save(update_fields=[at_field, reference_field, "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=locked.clinic_id,
            object_type="lossreport",
            object_id=locked.id,
            detail={"step": step, "at": at.isoformat(), "reference": reference},
        )
    return locked


def loss_notice_record(
    *, user: User, report: LossReport, sent_at: datetime, reference: str
) -> LossReport:
    """The medical director records the written notice sent to the DEA Field Division
    Office (due within one business day of discovery, 21 CFR 1301.76(b))."""
    return _record_step(
        user=user,
        report=report,
        at=sent_at,
        reference=reference,
        hint="how it was sent and any acknowledgement",
        at_field="notice_sent_at",
        reference_field="notice_reference",
        done_message=MESSAGE_NOTICE_DONE,
        step="dea_notice",
    )


def loss_form_106_record(
    *, user: User, report: LossReport, submitted_at: datetime, reference: str
) -> LossReport:
    """The medical director records DEA Form 106 as submitted (due within 45 days of
    discovery, 21 CFR 1301.76(b) as amended by 88 FR 40707)."""
    return _record_step(
        user=user,
        report=report,
        at=submitted_at,
        reference=reference,
        hint="the Form 106 confirmation number",
        at_field="form_106_submitted_at",
        reference_field="form_106_reference",
        done_message=MESSAGE_FORM_106_DONE,
        step="form_106",
    )


def return_record(
    *,
    user: User,
    witness: User,
    vial: Vial,
    receiving_party: str,
    reference: str,
    reason: str,
    at: datetime | None = None,
) -> LedgerEntry:
    """Hand the whole remaining balance of a vial (quarantined or expired stock, or any
    vial) to a reverse distributor, witnessed by a second licensed person: one RETURN
    entry naming the receiving party and their reference, and the vial marked returned
    (21 CFR 1317.05, 1317.10(a); the record of 21 CFR 1304.22(c))."""
    _require_handle(user, vial.clinic_id)
    ledger.require_second_person(
        user=user, second=witness, clinic_id=vial.clinic_id, who="The witness", field="co_sign"
    )
    errors: list[FieldError] = []
    receiving_party = " ".join((receiving_party or "").split())
    if len(receiving_party) < 2 or len(receiving_party) > 200:
        errors.append(FieldError("receiving_party", MESSAGE_RECEIVER))
    reference = " ".join((reference or "").split())
    if not reference or len(reference) > 80:
        errors.append(FieldError("reference", MESSAGE_RETURN_REFERENCE))
    reason = " ".join((reason or "").split())
    if len(reason) < 5 or len(reason) > 300:
        errors.append(FieldError("reason", MESSAGE_RETURN_REASON))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    with transaction.atomic():
        locked = Vial.objects.select_for_update().select_related("clinic").get(pk=vial.pk)
        if locked.status in GONE or locked.balance_ml <= 0:
            message = MESSAGE_NOTHING_TO_RETURN.format(
                label=locked.label, status=locked.get_status_display().lower()
            )
            raise Conflict(message, errors=[FieldError("vial", message)])
        returned_ml = locked.balance_ml
        entry = ledger._post(
            vial=locked,
            kind=LedgerEntry.Kind.RETURN,
            ml=-returned_ml,
            by=user,
            at=at,
            witness=witness,
            receiving_party=receiving_party,
            reference=reference,
            reason=reason,
        )
        locked.status = Vial.Status.RETURNED
        locked.save(update_fields=["status", "updated_at"])
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=locked.clinic_id,
            object_type="ledgerentry",
            object_id=entry.id,
            detail={
                "kind": "return",
                "vial": str(locked.id),
                "ml": str(returned_ml),
                "receiving_party": receiving_party,
                "reference": reference,
                "witness": str(witness.id),
            },
        )
    return entry


# --- Reads --------------------------------------------------------------------------------


def _entries() -> Prefetch:
    return Prefetch(
        "entries",
        queryset=LedgerEntry.objects.select_related("vial").order_by("at", "created_at"),
    )


def loss_reports_for(*, clinic_ids: list[UUID]) -> QuerySet[LossReport]:
    """Loss reports of these sites, newest discovery first, with their totals."""
    return (
        LossReport.objects.filter(clinic_id__in=clinic_ids)
        .select_related("clinic", "reported_by")
        .annotate(
            vial_count=CountOf("entries", distinct=True),
            lost_ml=Sum("entries__ml"),
            lost_mg=Sum("entries__mg"),
        )
        .order_by("-discovered_at", "-created_at")
    )


def loss_report_with_entries(*, clinic_ids: list[UUID], report_id: UUID) -> LossReport | None:
    return (
        LossReport.objects.filter(clinic_id__in=clinic_ids, id=report_id)
        .select_related("clinic", "reported_by")
        .prefetch_related(_entries())
        .first()
    )


def loss_reports_with_entries(*, clinic_ids: list[UUID]) -> QuerySet[LossReport]:
    return (
        LossReport.objects.filter(clinic_id__in=clinic_ids)
        .select_related("clinic", "reported_by")
        .prefetch_related(_entries())
        .order_by("-discovered_at", "-created_at")
    )


def returnable(*, clinic: Clinic) -> QuerySet[Vial]:
    """Vials that can go to a reverse distributor: anything with a balance, quarantined
    stock first."""
    return (
        Vial.objects.filter(clinic=clinic, balance_ml__gt=0)
        .exclude(status__in=GONE)
        .order_by(F("quarantined_at").desc(nulls_last=True), "substance", "label")
    )


def recent_returns(*, clinic: Clinic, limit: int = 10) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(clinic=clinic, kind=LedgerEntry.Kind.RETURN)
        .select_related("vial", "by", "witness")
        .order_by("-at", "-created_at")[:limit]
    )
