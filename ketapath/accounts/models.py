"""Staff users, their roles per clinic site, credentials, weekly shifts, and API tokens."""

import uuid
from datetime import date
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from ketapath.clinics.models import Clinic, OpeningHours
from ketapath.core.models import BaseModel
from ketapath.core.validators import validate_dea_number, validate_npi

if TYPE_CHECKING:
    from ketapath.core.capabilities import Capability

MESSAGE_STATE = "Use the two-letter state code, e.g. CO."
MESSAGE_SHIFT_ORDER = "The end must be after the start, on the same day (no overnight shifts)."
MESSAGE_EXTRA_NEEDS_TIMES = "An extra shift needs its start and end times."
MESSAGE_OFF_TIMES_PAIR = (
    "Give both the start and the end of the time off, or neither for a whole day."
)


class Role(models.TextChoices):
    MEDICAL_DIRECTOR = "medical_director", "Medical director"
    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Nurse"
    THERAPIST = "therapist", "Therapist"
    FRONT_DESK = "front_desk", "Front desk"
    BILLER = "biller", "Biller"
    PRIVACY_OFFICER = "privacy_officer", "Privacy officer"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"


class LicenceType(models.TextChoices):
    MD = "MD", "MD"
    DO = "DO", "DO"
    NP = "NP", "Nurse practitioner"
    PA = "PA", "Physician assistant"
    RN = "RN", "Registered nurse"
    LPN = "LPN", "Licensed practical nurse"
    PSYD = "PsyD", "PsyD"
    PHD = "PhD", "PhD (psychology)"
    LCSW = "LCSW", "LCSW"
    LPC = "LPC", "LPC"
    LMFT = "LMFT", "LMFT"


class User(AbstractUser):
    """A staff member. Patients are not users; they reach the portal through links."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(
        max_length=40, blank=True, help_text="How the name is shown, e.g. 'MD' or 'RN'."
    )
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    licence_type = models.CharField(max_length=8, choices=LicenceType.choices, blank=True)
    licence_number = models.CharField(max_length=40, blank=True)
    licence_state = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", MESSAGE_STATE)],
    )
    licence_expires = models.DateField(null=True, blank=True)
    dea_number = models.CharField(
        "DEA number", max_length=9, blank=True, validators=[validate_dea_number]
    )
    dea_expires = models.DateField("DEA expiry", null=True, blank=True)
    acls_expires = models.DateField("ACLS expiry", null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.get_full_name() or self.username
        return f"{name}, {self.title}" if self.title else name

    def has_licence_on(self, day: date) -> bool:
        return bool(self.licence_number) and (
            self.licence_expires is None or self.licence_expires >= day
        )

    def has_dea_on(self, day: date) -> bool:
        return bool(self.dea_number) and self.dea_expires is not None and self.dea_expires >= day

    def has_acls_on(self, day: date) -> bool:
        return self.acls_expires is not None and self.acls_expires >= day

    # Permission checks used across apps by duck typing (lower apps cannot import this one).
    def can(self, capability: "Capability", clinic_id: uuid.UUID | None) -> bool:
        from ketapath.accounts.permissions import user_can

        return user_can(self, capability, clinic_id)

    def can_anywhere(self, capability: "Capability") -> bool:
        from ketapath.accounts.permissions import user_can_anywhere

        return user_can_anywhere(self, capability)

    def roles_at(self, clinic_id: uuid.UUID | None) -> list[str]:
        from ketapath.accounts.permissions import roles_at

        return roles_at(self, clinic_id)


class Membership(BaseModel):
    """A role held by a user at one clinic site; a user may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic__name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic", "role"], name="membership_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


class ApiToken(BaseModel):
    """A bearer token for the API: only its SHA-256 hash is stored; it expires and can be
    revoked."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("created_at")),
                name="token_revoked_after_created",
            )
        ]


Weekday = OpeningHours.Weekday


class Shift(BaseModel):
    """A weekly shift: the user is on site at the clinic every ``weekday`` (0 = Monday) from
    ``starts`` to ``ends``, in the site's local time.

    No overnight shifts: ``ends`` is after ``starts`` on the same local day, so a shift never
    crosses midnight (a night spanning midnight is two shifts on consecutive weekdays). A
    removed shift is kept, inactive, so the record of who was rostered stays.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shifts")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")), name="shift_ends_after_starts"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="shift_weekday_range"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "active"], name="shift_clinic_active")]

    def __str__(self) -> str:
        return f"{self.user} {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"

    def clean(self) -> None:
        if self.starts is not None and self.ends is not None and self.ends <= self.starts:
            raise ValidationError({"ends": MESSAGE_SHIFT_ORDER})


class ShiftException(BaseModel):
    """A dated change to a user's weekly shifts at a clinic, on one local date.

    ``off``: not on site; without times the whole day, with times only that part of it.
    ``extra``: on site from ``starts`` to ``ends`` besides (or instead of) the weekly shifts.
    Like shifts, an exception never crosses midnight.
    """

    class Kind(models.TextChoices):
        OFF = "off", "Time off"
        EXTRA = "extra", "Extra shift"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shift_exceptions")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="shift_exceptions")
    date = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    starts = models.TimeField(null=True, blank=True)
    ends = models.TimeField(null=True, blank=True)
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["date", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["off", "extra"]), name="shift_exception_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(starts__isnull=True, ends__isnull=True)
                | Q(starts__isnull=False, ends__isnull=False, ends__gt=models.F("starts")),
                name="shift_exception_times_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(kind="extra") | Q(starts__isnull=False),
                name="shift_exception_extra_has_times",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "date"], name="shift_exception_clinic_date")]

    def __str__(self) -> str:
        when = f" {self.starts:%H:%M}-{self.ends:%H:%M}" if self.starts and self.ends else ""
        return f"{self.user} {self.get_kind_display()} {self.date}{when}"

    @property
    def whole_day(self) -> bool:
        return self.starts is None and self.ends is None

    def clean(self) -> None:
        if (self.starts is None) != (self.ends is None):
            missing = "ends" if self.ends is None else "starts"
            message = (
                MESSAGE_EXTRA_NEEDS_TIMES
                if self.kind == self.Kind.EXTRA
                else MESSAGE_OFF_TIMES_PAIR
            )
            raise ValidationError({missing: message})
        if self.kind == self.Kind.EXTRA and self.starts is None:
            raise ValidationError({"starts": MESSAGE_EXTRA_NEEDS_TIMES})
        if self.starts is not None and self.ends is not None and self.ends <= self.starts:
            raise ValidationError({"ends": MESSAGE_SHIFT_ORDER})
