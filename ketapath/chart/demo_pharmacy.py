"""Demo controlled-substance ledger at both sites.

Each medical director enables ketamine 50 mg/mL (10 mL multi-dose vials) and midazolam
1 mg/mL (2 mL, the rescue benzodiazepine). Deliveries arrive two months ago, counted by a
second nurse or prescriber; an older ketamine lot expired last week and sits in
quarantine. Every completed demo session drew its dose from the site's open vial and the
administered amount was recorded; some draws left a remainder wasted in front of a
witness. Yesterday's shift count at each site matched, except one small shortfall at the
first site, which waits for the medical director's investigation.

The doses are demo figures for the ledger (0.5 mg/kg of a recorded weight, else 40 mg),
not clinical advice: dosing belongs to the prescriber's order in a session note.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, User
from ketapath.clinics.models import Clinic, Organization
from ketapath.observations.models import Observation
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, LedgerEntry, Receipt, Substance, Vial
from ketapath.scheduling.models import Appointment

DEMO_SEED = 20261203
WEIGHT_LOINC = "29463-7"
DEMO_MG_PER_KG = Decimal("0.5")


def pharmacy_present(organization: Organization) -> bool:
    return Receipt.objects.filter(clinic__organization=organization).exists()


def _people(clinic: Clinic) -> tuple[User, User, User]:
    """The site's medical director, a nurse who handles stock and a second person."""
    members = list(
        Membership.objects.filter(clinic=clinic, active=True)
        .select_related("user")
        .order_by("user__username")
    )
    director = next(m.user for m in members if m.role == Role.MEDICAL_DIRECTOR)
    handlers = [
        m.user
        for m in members
        if m.role in (Role.NURSE, Role.PRESCRIBER) and ledger.can_handle(m.user, clinic.id)
    ]
    return director, handlers[0], handlers[1]


def _receive(
    clinic: Clinic,
    nurse: User,
    second: User,
    formulation: Formulation,
    *,
    ndc: str,
    product: str,
    lot: str,
    expiry: date,
    volume: str,
    vials: int,
    supplier: str,
    invoice: str,
    at: datetime,
) -> Receipt:
    return ledger.receive(
        user=nurse,
        counted_by=second,
        clinic=clinic,
        delivery=ledger.Delivery(
            formulation=formulation,
            ndc=ndc,
            product=product,
            lot=lot,
            expiry=expiry,
            volume_ml=Decimal(volume),
            vials=vials,
            supplier=supplier,
            invoice=invoice,
            received_at=at,
        ),
    )


def _weight_kg(patient_id: UUID, before: datetime) -> Decimal | None:
    row = (
        Observation.objects.filter(patient_id=patient_id, code=WEIGHT_LOINC, taken_at__lte=before)
        .order_by("-taken_at")
        .first()
    )
    return row.value if row else None


def _usable_vial(clinic: Clinic, at: datetime) -> Vial | None:
    for vial in Vial.objects.filter(
        clinic=clinic, substance=Substance.KETAMINE, status__in=ledger.USABLE
    ).order_by("label"):
        if vial.balance_ml > Decimal("1.5") and ledger.unusable_reason(vial, at) is None:
            return vial
    return None


def _sessions(clinic: Clinic, nurse: User, second: User, rng: random.Random) -> int:
    """Draw, give and (sometimes) waste for every completed session, oldest first."""
    done = 0
    appointments = Appointment.objects.filter(
        clinic=clinic, kind=Appointment.Kind.SESSION, status=Appointment.Status.COMPLETED
    ).order_by("starts_at")
    for appointment in appointments:
        at = appointment.starts_at + timedelta(minutes=10)
        vial = _usable_vial(clinic, at)
        if vial is None:
            continue
        weight = _weight_kg(appointment.patient_id, at)
        dose_mg = (weight * DEMO_MG_PER_KG).quantize(Decimal("1")) if weight else Decimal("40")
        dose_ml = (dose_mg / vial.mg_per_ml).quantize(Decimal("0.01"))
        extra = Decimal("0.2") if rng.random() < 0.35 else Decimal("0")
        drawn = ledger.draw(
            user=nurse,
            vial=vial,
            ml=dose_ml + extra,
            session_id=appointment.id,
            patient=appointment.patient,
            at=at,
        )
        ledger.administer(
            user=nurse,
            draw_entry=drawn,
            mg=ledger.mg_of(dose_ml, vial.mg_per_ml),
            at=at + timedelta(minutes=2),
        )
        if extra:
            vial.refresh_from_db()
            ledger.waste(
                user=nurse,
                witness=second,
                vial=vial,
                ml=extra,
                reason="Remainder in the syringe after the ordered dose",
                draw_entry=drawn,
                at=at + timedelta(minutes=3),
            )
        done += 1
    return done


def _count(clinic: Clinic, nurse: User, second: User, short: bool, now: datetime) -> None:
    from ketapath.pharmacy import stocktake

    zone = ZoneInfo(clinic.time_zone)
    at = datetime.combine(
        now.astimezone(zone).date() - timedelta(days=1), time(17, 30), tzinfo=zone
    )
    held = dict(
        LedgerEntry.objects.filter(clinic=clinic, at__lte=at)
        .values_list("vial_id")
        .annotate(total=Sum("ml"))
        .values_list("vial_id", "total")
    )
    # The end-of-day count covers every vial on hand, sealed and quarantined too, the
    # open one first.
    vials = sorted(
        (v for v in Vial.objects.filter(clinic=clinic).order_by("label") if held.get(v.id)),
        key=lambda v: (v.status != Vial.Status.OPEN, v.label),
    )
    if not vials:
        return
    lines = {v.id: held[v.id] for v in vials}
    if short:
        first = vials[0]
        lines[first.id] = max(Decimal("0"), held[first.id] - Decimal("0.1"))
    stocktake.count_record(
        user=nurse,
        witness=second,
        clinic=clinic,
        kind="shift",
        lines=lines,
        at=at,
        note="End-of-day count",
    )


def seed_pharmacy(*, organization: Organization, today: date) -> int:
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data, not security
    now = timezone.now()
    # Receipts are checked against the real date, whatever day the demo pretends it is.
    today = max(today, timezone.localdate())
    rows = 0
    clinics = list(Clinic.objects.filter(organization=organization).order_by("name"))
    with transaction.atomic():
        for index, clinic in enumerate(clinics):
            director, nurse, second = _people(clinic)
            ketamine = ledger.formulation_set(
                user=director, clinic=clinic, substance="ketamine", mg_per_ml="50", enabled=True
            )
            midazolam = ledger.formulation_set(
                user=director, clinic=clinic, substance="midazolam", mg_per_ml="1", enabled=True
            )
            old = _receive(
                clinic, nurse, second, ketamine,
                ndc="0143-9508-10", product="Ketamine HCl injection 500 mg/10 mL",
                lot=f"KX{2301 + index}", expiry=today + timedelta(days=30), volume="10",
                vials=1, supplier="Demo Wholesale Inc.", invoice=f"INV-{7100 + index}",
                at=now - timedelta(days=120),
            )  # fmt: skip
            # The older lot's expiry passed last week (a demo back-date of the label).
            Receipt.objects.filter(pk=old.pk).update(expiry=today - timedelta(days=7))
            Vial.objects.filter(receipt=old).update(expiry=today - timedelta(days=7))
            _receive(
                clinic, nurse, second, ketamine,
                ndc="0143-9508-10", product="Ketamine HCl injection 500 mg/10 mL",
                lot=f"KY{4410 + index}", expiry=today + timedelta(days=540), volume="10",
                vials=6, supplier="Demo Wholesale Inc.", invoice=f"INV-{8200 + index}",
                at=now - timedelta(days=60),
            )  # fmt: skip
            _receive(
                clinic, nurse, second, midazolam,
                ndc="0409-2305-17", product="Midazolam injection 2 mg/2 mL",
                lot=f"MZ{912 + index}", expiry=today + timedelta(days=400), volume="2",
                vials=10, supplier="Demo Wholesale Inc.", invoice=f"INV-{8300 + index}",
                at=now - timedelta(days=58),
            )  # fmt: skip
            rows += 3
            rows += ledger.quarantine_unusable(clinic=clinic, now=now)
            rows += _sessions(clinic, nurse, second, rng)
            _count(clinic, nurse, second, short=index == 0, now=now)
            rows += 1
    return rows
