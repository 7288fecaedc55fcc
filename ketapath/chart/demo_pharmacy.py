"""Demo controlled-substance ledger at both sites.

Each medical director enables ketamine 50 mg/mL (10 mL multi-dose vials) and midazolam
1 mg/mL (2 mL, the rescue benzodiazepine). Deliveries arrive two months ago, counted by a
second nurse or prescriber; an older ketamine lot expired last week and sits in
quarantine. Every past demo session is then charted through the session services
(``demo_sessions.seed_past_sessions``): its dose is drawn from a usable vial of the site
through the ledger, the draw naming the session, what was given is recorded against the
draw and a partial dose's rest is wasted in front of the second checker, so the draws are
the sessions' own and balance. Yesterday's shift count at each site, after those draws,
matched, except one small shortfall at the first site, which waits for the medical
director's investigation.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, User
from ketapath.chart.demo_sessions import seed_past_sessions
from ketapath.clinics.models import Clinic, Organization
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, LedgerEntry, Receipt, Vial


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
            rows += seed_past_sessions(clinic=clinic)
            _count(clinic, nurse, second, short=index == 0, now=now)
            rows += 1
    return rows
