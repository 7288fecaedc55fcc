"""The controlled-substance ledger: one per DEA registration (a site), vials as the unit.

Every change of stock is a :class:`LedgerEntry`, append-only (the ORM refuses updates and
deletes; on PostgreSQL a trigger refuses them in the database, migration 0002). A
correction is a reversing entry with a reason. A vial's balance is the sum of its
entries; ``Vial.balance_ml`` caches it and is written only by ``services.post`` in the
same transaction as the entry, under a row lock, and checked against the sum by tests.

Records are kept at least two years and readily retrievable (21 CFR 1304.04(a)); nothing
here is ever deleted.
"""

import uuid
from decimal import Decimal
from typing import Any, NoReturn

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient

MESSAGE_APPEND_ONLY = "Ledger entries are append-only: correct one with a reversing entry."


def plain_number(value: Decimal) -> str:
    """50.000 → "50", 0.500 → "0.5" (never "5E+1")."""
    return format(value.normalize(), "f")


class Substance(models.TextChoices):
    """Controlled substances a clinic keeps, with their DEA schedule (``SCHEDULES``)."""

    KETAMINE = "ketamine", "Ketamine hydrochloride"
    MIDAZOLAM = "midazolam", "Midazolam"
    LORAZEPAM = "lorazepam", "Lorazepam"
    DIAZEPAM = "diazepam", "Diazepam"


# DEA schedules: ketamine Schedule III (21 CFR 1308.13(c); clinical.md §1.6 — openFDA lists
# "dea_schedule: CIII"); midazolam, lorazepam and diazepam Schedule IV (21 CFR 1308.14(c)).
SCHEDULES = {
    Substance.KETAMINE: "CIII",
    Substance.MIDAZOLAM: "CIV",
    Substance.LORAZEPAM: "CIV",
    Substance.DIAZEPAM: "CIV",
}


class Formulation(BaseModel):
    """A strength of a substance the site may receive, enabled by the medical director."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="formulations")
    substance = models.CharField(max_length=16, choices=Substance.choices)
    mg_per_ml = models.DecimalField(
        "concentration (mg/mL)",
        max_digits=7,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001"))],
    )
    enabled = models.BooleanField(default=True)
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["substance", "mg_per_ml"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "substance", "mg_per_ml"], name="formulation_unique"
            ),
            models.CheckConstraint(condition=Q(mg_per_ml__gt=0), name="formulation_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_substance_display()} {plain_number(self.mg_per_ml)} mg/mL"

    @property
    def schedule(self) -> str:
        return SCHEDULES[Substance(self.substance)]


class Receipt(BaseModel):
    """One delivery: so many vials of one product and lot, counted by a second person."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="receipts")
    formulation = models.ForeignKey(Formulation, on_delete=models.PROTECT, related_name="+")
    ndc = models.CharField("NDC", max_length=13)
    product = models.CharField(max_length=200)
    lot = models.CharField(max_length=40)
    expiry = models.DateField()
    mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    volume_ml = models.DecimalField("volume per vial (mL)", max_digits=7, decimal_places=2)
    vials = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    supplier = models.CharField(max_length=200)
    invoice = models.CharField("invoice reference", max_length=80)
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    counted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(received_by=F("counted_by")), name="receipt_two_people"
            ),
            models.CheckConstraint(condition=Q(vials__gte=1), name="receipt_has_vials"),
            models.CheckConstraint(condition=Q(volume_ml__gt=0), name="receipt_volume_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.vials} × {self.product} lot {self.lot}"


class Vial(BaseModel):
    class Status(models.TextChoices):
        IN_STOCK = "in_stock", "In stock (sealed)"
        OPEN = "open", "Opened"
        QUARANTINED = "quarantined", "Quarantined"
        EMPTY = "empty", "Empty"
        RETURNED = "returned", "Returned or destroyed"
        LOST = "lost", "Lost or stolen"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="vials")
    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="vial_set")
    formulation = models.ForeignKey(Formulation, on_delete=models.PROTECT, related_name="+")
    substance = models.CharField(max_length=16, choices=Substance.choices)
    # The site's label for the physical vial (e.g. "K-0007"), written on it at receipt.
    label = models.CharField(max_length=20)
    ndc = models.CharField("NDC", max_length=13)
    lot = models.CharField(max_length=40)
    expiry = models.DateField()
    mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    volume_ml = models.DecimalField(max_digits=7, decimal_places=2)
    balance_ml = models.DecimalField(max_digits=8, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_STOCK)
    opened_at = models.DateTimeField(null=True, blank=True)
    beyond_use_at = models.DateTimeField(null=True, blank=True)
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantine_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["clinic", "label"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "label"], name="vial_unique_label"),
            models.CheckConstraint(condition=Q(balance_ml__gte=0), name="vial_not_negative"),
            models.CheckConstraint(
                condition=Q(balance_ml__lte=F("volume_ml")), name="vial_not_over_full"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "status"], name="vial_site_status")]

    def __str__(self) -> str:
        return f"{self.label} ({self.lot})"

    @property
    def balance_mg(self) -> Decimal:
        return (self.balance_ml * self.mg_per_ml).quantize(Decimal("0.01"))


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)

    def delete(self) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)


class LedgerEntry(models.Model):
    """One movement of stock. ``ml`` and ``mg`` are signed: a receipt adds, draws, waste
    from the vial, losses and returns subtract. An administration records what a draw
    became (no change to the vial); waste of what was drawn but not given names the
    draw and does not change the vial either."""

    class Kind(models.TextChoices):
        RECEIVE = "receive", "Received"
        DRAW = "draw", "Drawn"
        ADMINISTER = "administer", "Administered"
        WASTE = "waste", "Wasted"
        LOSS = "loss", "Lost or stolen"
        RETURN = "return", "Returned or destroyed"
        REVERSE = "reverse", "Reversal"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_entries")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="entries")
    substance = models.CharField(max_length=16, choices=Substance.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The vial's balance change; 0 for an administration or waste of a draw.
    ml = models.DecimalField(max_digits=8, decimal_places=2)
    # The milligrams the entry is about (signed like ``ml``; for an administration or a
    # waste of a draw, the amount given or wasted, negative).
    mg = models.DecimalField(max_digits=10, decimal_places=2)
    at = models.DateTimeField(db_index=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A draw (and what became of it) belongs to a session: a plain reference, since the
    # treatments app sits above pharmacy; the patient for the dispensing log.
    session_id = models.UUIDField(null=True, blank=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    draw = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="outcomes"
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    reason = models.CharField(max_length=300, blank=True)
    # Returns and disposals: who received the stock (a reverse distributor) and their
    # reference; losses: the loss report.
    receiving_party = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=80, blank=True)
    loss_report = models.ForeignKey(
        "LossReport", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["at", "created_at"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["clinic", "substance", "at"], name="ledger_site_time"),
            models.Index(fields=["patient", "at"], name="ledger_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="waste") | Q(witness__isnull=False),
                name="ledger_waste_witnessed",
            ),
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=F("by")),
                name="ledger_witness_not_self",
            ),
            models.CheckConstraint(
                condition=~Q(kind="reverse") | (Q(reverses__isnull=False) & ~Q(reason="")),
                name="ledger_reversal_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind="return") | ~Q(receiving_party=""),
                name="ledger_return_has_receiver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.ml} mL ({self.mg} mg)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(MESSAGE_APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)


class Count(BaseModel):
    """A count of the site's stock in mL by two people: a shift or daily count of vials in
    use, or an inventory (initial or biennial, 21 CFR 1304.11(b), (c)) of every vial on
    hand including expired and quarantined stock. Opened Schedule III–V containers may be
    an estimated measure (21 CFR 1304.11(e)(3))."""

    class Kind(models.TextChoices):
        SHIFT = "shift", "Shift or daily count"
        INITIAL = "initial", "Initial inventory"
        BIENNIAL = "biennial", "Biennial inventory"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="counts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    counted_at = models.DateTimeField()
    counted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # Inventories: taken at the opening or the close of business (21 CFR 1304.11(a)).
    timing = models.CharField(max_length=10, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-counted_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(counted_by=F("witness")), name="count_two_people"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.counted_at:%Y-%m-%d}"


class CountLine(models.Model):
    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="lines")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="count_lines")
    expected_ml = models.DecimalField(max_digits=8, decimal_places=2)
    counted_ml = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["count", "vial"], name="count_line_unique"),
            models.CheckConstraint(condition=Q(counted_ml__gte=0), name="count_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.vial}: {self.counted_ml} mL counted, {self.expected_ml} mL expected"

    @property
    def difference_ml(self) -> Decimal:
        return self.counted_ml - self.expected_ml


class Investigation(BaseModel):
    """Opened by every count line that differs from the ledger; only the medical director
    closes it, with an explanation."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="investigations")
    count_line = models.OneToOneField(
        CountLine, on_delete=models.PROTECT, related_name="investigation"
    )
    opened_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    explanation = models.TextField(blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open")
                | (Q(closed_by__isnull=False) & Q(closed_at__isnull=False) & ~Q(explanation="")),
                name="investigation_closed_explained",
            ),
        ]


class LossReport(BaseModel):
    """A theft or significant loss and the steps 21 CFR 1301.76(b) requires: written notice
    to the DEA Field Division Office within one business day of discovery, and DEA Form
    106 submitted electronically within 45 days (as amended by 88 FR 40707, 22 June 2023,
    effective 24 July 2023)."""

    class Kind(models.TextChoices):
        THEFT = "theft", "Theft"
        SIGNIFICANT_LOSS = "significant_loss", "Significant loss"
        IN_TRANSIT = "in_transit", "Lost in transit"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="loss_reports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    discovered_at = models.DateTimeField()
    description = models.TextField()
    reported_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    notice_due = models.DateField()
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    notice_reference = models.CharField(max_length=120, blank=True)
    form_106_due = models.DateField()
    form_106_submitted_at = models.DateTimeField(null=True, blank=True)
    form_106_reference = models.CharField(max_length=120, blank=True)
    police_report = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-discovered_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.discovered_at:%Y-%m-%d}"
