"""Organisations, their clinic sites, hours, closures, rooms, and each site's policy."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from ketapath.core.models import BaseModel
from ketapath.core.validators import validate_dea_number, validate_phone, validate_time_zone

MESSAGE_MRN_PREFIX = "The MRN prefix is 1 to 6 capital letters."
MESSAGE_HOURS_ORDER = "Closing time must be after opening time."
MESSAGE_CLOSURE_ORDER = "The last day of a closure cannot be before its first day."
MESSAGE_STATE = "Use the two-letter state code, e.g. CO."
MESSAGE_ACK_BELOW_HOLD = "Must be below the pre-dose hard stop ({limit})."
MESSAGE_SPO2_CRITICAL_BELOW = "Must be below the SpO2 alert level ({limit})."


class Organization(BaseModel):
    name = models.CharField(max_length=200, unique=True)
    mrn_prefix = models.CharField(
        "MRN prefix",
        max_length=6,
        validators=[RegexValidator(r"^[A-Z]{1,6}$", MESSAGE_MRN_PREFIX)],
    )
    mrn_next = models.PositiveIntegerField("next MRN number", default=1)

    def __str__(self) -> str:
        return self.name


class Clinic(BaseModel):
    """A clinic site: its own time zone, hours, rooms and staff."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="clinics")
    name = models.CharField(max_length=120)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(
        max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$", MESSAGE_STATE)]
    )
    postal_code = models.CharField(
        "ZIP code",
        max_length=10,
        validators=[RegexValidator(r"^\d{5}(-\d{4})?$", "Enter a ZIP code: 5 digits or ZIP+4.")],
    )
    phone = models.CharField(max_length=20, validators=[validate_phone])
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. America/Denver"
    )
    dea_registration = models.CharField(
        "DEA registration number",
        max_length=9,
        blank=True,
        validators=[validate_dea_number],
        help_text="The site's DEA registration for its controlled-substance stock.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="clinic_unique_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OpeningHours(BaseModel):
    """One opening interval on a weekday (0 = Monday); a day may have several."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="hours_close_after_open"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Closure(BaseModel):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    start_date = models.DateField("first day")
    end_date = models.DateField("last day")
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="closure_end_not_before_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start_date}–{self.end_date} {self.reason}"


class Room(BaseModel):
    class Kind(models.TextChoices):
        TREATMENT = "treatment", "Treatment"
        CONSULT = "consult", "Consult"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TREATMENT)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="room_unique_name_per_clinic")
        ]

    def __str__(self) -> str:
        return self.name


class AldreteCirculation(models.TextChoices):
    MMHG_20 = "mmhg_20", "Within ±20 mm Hg of the pre-dose systolic pressure"
    PERCENT_20 = "percent_20", "Within ±20 % of the pre-dose systolic pressure"


class ClinicPolicy(BaseModel):
    """One version of a site's clinical thresholds and workflow rules.

    Each change writes a new row with the next version number; the highest version is in
    force. Every field defaults to its cited value (see each field's help text).
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="policies")
    version = models.PositiveIntegerField()
    treatment_consent_months = models.PositiveSmallIntegerField(
        "treatment consent valid for (months)",
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
        help_text="Months a signed ketamine-treatment consent stays valid. Default 12 (yearly "
        "re-consent, the clinic's standard).",
    )
    contact_consent_months = models.PositiveSmallIntegerField(
        "contact consent valid for (months)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="Months an SMS/e-mail contact consent stays valid; empty means until withdrawn.",
    )
    pcl5_provisional_cutoff = models.PositiveSmallIntegerField(
        "PCL-5 provisional PTSD cut-off",
        default=33,
        validators=[MinValueValidator(20), MaxValueValidator(80)],
        help_text="PCL-5 total at or above which PTSD is provisionally indicated. Bovin et al. "
        "2016: 31–33; default 33, the conservative top of the range (clinical.md §2.2).",
    )
    alert_escalation_minutes = models.PositiveSmallIntegerField(
        "safety alert escalation after (minutes)",
        default=240,
        validators=[MinValueValidator(15), MaxValueValidator(1440)],
        help_text="Opening-hours minutes an open safety alert may wait for a clinician before it "
        "escalates to the medical director. Default 240 (4 hours), the clinic's standard.",
    )
    mme_caution_at = models.PositiveSmallIntegerField(
        "MME caution flag at (MME/day)",
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Daily MME at or above which the chart flags caution and prompts to offer "
        "naloxone. Default 50 (CDC 2022; clinical.md §3.1).",
    )
    mme_high_at = models.PositiveSmallIntegerField(
        "MME high flag at (MME/day)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Daily MME at or above which the chart flags a high dose. Default 90 (CDC "
        "2016 ceiling, a guidepost in 2022; clinical.md §3.1).",
    )
    evaluation_valid_days = models.PositiveSmallIntegerField(
        "evaluation valid for (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days a signed evaluation may be used to start a course. Default 90, the "
        "clinic's standard.",
    )
    dose_ceiling_mg_per_kg = models.DecimalField(
        "site dose ceiling (mg/kg)",
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("2.00"))],
        help_text="No protocol template's dose may exceed this, keeping doses sub-anaesthetic "
        "(clinical.md §1.3: 4–5 mg/kg IM is a dissociative-sedation dose, never reused). Default "
        "1.0, the top of the IM range commonly reported for depression (0.5–1.0 mg/kg, §1.3, "
        "unverified); the SC trial KADS went up to 0.9.",
    )
    nurse_patients_at_once = models.PositiveSmallIntegerField(
        "patients one nurse may watch at once",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(6)],
        help_text="Overlapping sessions one nurse may monitor. Default 1 (one-to-one) until the "
        "medical director sets the clinic's staffing ratio; no guideline gives one.",
    )
    reminder_lead_hours = models.PositiveSmallIntegerField(
        "session reminder sent before (hours)",
        default=48,
        validators=[MinValueValidator(2), MaxValueValidator(168)],
        help_text="Hours before a session that the reminder with the pre-session instructions "
        "goes out. Default 48, the clinic's standard.",
    )
    link_lifetime_hours = models.PositiveSmallIntegerField(
        "patient link valid for (hours)",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(336)],
        help_text="Hours a questionnaire or diary link works after it is sent. Default 72, the "
        "clinic's standard.",
    )
    link_birth_date_tries = models.PositiveSmallIntegerField(
        "date-of-birth tries before a link locks",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Wrong dates of birth a patient link accepts before it locks. Default 5, the "
        "clinic's standard.",
    )
    pre_session_questionnaire_hours = models.PositiveSmallIntegerField(
        "pre-session questionnaires due before (hours)",
        default=24,
        validators=[MinValueValidator(2), MaxValueValidator(168)],
        help_text="Hours before a session that its questionnaires are sent and due. Default 24, "
        "the clinic's standard.",
    )
    follow_up_weeks = models.CharField(
        "follow-ups after the series (weeks)",
        max_length=40,
        default="1,4,12",
        validators=[
            RegexValidator(
                r"^\s*\d{1,3}(\s*,\s*\d{1,3})*\s*$",
                "Enter whole weeks separated by commas, e.g. 1,4,12.",
            )
        ],
        help_text="Weeks after the last session of a series at which the follow-up measures "
        "are sent. Default 1, 4 and 12, the clinic's standard.",
    )
    fasting_food_hours = models.PositiveSmallIntegerField(
        "no food before a session (hours)",
        default=6,
        validators=[MaxValueValidator(12)],
        help_text="Hours without food (a light meal) before a session, in the reminder. Default "
        "6: ASA Practice Guidelines for Preoperative Fasting (Anesthesiology 2017;126:376-393), "
        "which apply to procedural sedation; 0 leaves fasting out of the reminder.",
    )
    fasting_clear_liquid_hours = models.PositiveSmallIntegerField(
        "no clear liquids before a session (hours)",
        default=2,
        validators=[MaxValueValidator(12)],
        help_text="Hours without clear liquids before a session, in the reminder. Default 2 (ASA "
        "2017 fasting guideline, as above); 0 leaves it out.",
    )
    vial_beyond_use_days = models.PositiveSmallIntegerField(
        "opened multi-dose vial usable for (days)",
        default=28,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="Days an opened multi-dose vial may be used (its beyond-use date), unless its "
        "expiry comes first. Default 28: USP <797>, multiple-dose containers, 28 days after "
        "first opening unless the manufacturer says otherwise.",
    )
    dose_step_mg = models.DecimalField(
        "dose rounding step (mg)",
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("5.00"))],
        help_text="Each session's dose (weight × mg/kg) is rounded to a multiple of this step, "
        "halves up, before the cap, range and ceiling are checked. Default 0.5 mg, the "
        "design's example (DESIGN §5b); no clinical source sets a step, the clinic's standard.",
    )
    im_max_ml_per_site = models.DecimalField(
        "largest IM injection at one site (mL)",
        max_digits=3,
        decimal_places=1,
        default=Decimal("2.0"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("5.0"))],
        help_text="An IM dose whose volume is above this stops: use a stronger vial or split "
        "the dose between sites. Default 2 mL. Not in clinical.md: nursing references put "
        "the deltoid at 2 mL or less and the gluteal sites at 2–5 mL (Joanna Briggs Institute "
        "evidence summary, cited by Murcia Salud PreEvid 18419), or the deltoid at 1 mL and a "
        "well-developed gluteal muscle at 3 mL (Kozier & Erb's Fundamentals of Nursing, "
        "2008); secondary sources, unverified. The medical director sets the clinic's value.",
    )
    pre_dose_hold_systolic = models.PositiveSmallIntegerField(
        "pre-dose hard stop at systolic (mm Hg)",
        default=160,
        validators=[MinValueValidator(120), MaxValueValidator(220)],
        help_text="A systolic pressure at or above this before the dose is a hard stop that "
        "only a prescriber's override with a reason passes. Default 160: the suggested "
        "default of clinical.md §5, not a guideline value (clinical sign-off required).",
    )
    pre_dose_hold_diastolic = models.PositiveSmallIntegerField(
        "pre-dose hard stop at diastolic (mm Hg)",
        default=100,
        validators=[MinValueValidator(70), MaxValueValidator(140)],
        help_text="A diastolic pressure at or above this before the dose is a hard stop. "
        "Default 100: the suggested default of clinical.md §5, not a guideline value "
        "(clinical sign-off required).",
    )
    pre_dose_ack_systolic = models.PositiveSmallIntegerField(
        "pre-dose acknowledgement above systolic (mm Hg)",
        default=140,
        validators=[MinValueValidator(100), MaxValueValidator(200)],
        help_text="A systolic pressure above this before the dose (and below the hard stop) "
        'needs the prescriber\'s acknowledgement of the risk. Default 140: the "elevated" '
        "baseline of clinical.md §5 (Spravato label, attributed to APA 2017; unverified).",
    )
    pre_dose_ack_diastolic = models.PositiveSmallIntegerField(
        "pre-dose acknowledgement above diastolic (mm Hg)",
        default=90,
        validators=[MinValueValidator(60), MaxValueValidator(130)],
        help_text="A diastolic pressure above this before the dose needs the prescriber's "
        "acknowledgement. Default 90: clinical.md §5 (Spravato label, attributed to APA "
        "2017; unverified).",
    )
    alert_systolic = models.PositiveSmallIntegerField(
        "in-session alert at systolic (mm Hg)",
        default=180,
        validators=[MinValueValidator(140), MaxValueValidator(250)],
        help_text="A systolic reading at or above this during a session raises an alert. "
        "Default 180, the hypertensive-urgency level (clinical.md §5; a suggested default, "
        "clinical sign-off required).",
    )
    alert_diastolic = models.PositiveSmallIntegerField(
        "in-session alert at diastolic (mm Hg)",
        default=110,
        validators=[MinValueValidator(80), MaxValueValidator(150)],
        help_text="A diastolic reading at or above this during a session raises an alert. "
        "Default 110, the hypertensive-urgency level (clinical.md §5; a suggested default).",
    )
    alert_hr_high = models.PositiveSmallIntegerField(
        "in-session alert above heart rate (/min)",
        default=120,
        validators=[MinValueValidator(90), MaxValueValidator(200)],
        help_text="A heart rate above this during a session raises an alert. Default 120 "
        "(clinical.md §5): no published ketamine-specific threshold exists; common local "
        "values, unverified.",
    )
    alert_hr_low = models.PositiveSmallIntegerField(
        "in-session alert below heart rate (/min)",
        default=50,
        validators=[MinValueValidator(30), MaxValueValidator(70)],
        help_text="A heart rate below this during a session raises an alert. Default 50 "
        "(clinical.md §5): common local value, unverified.",
    )
    alert_spo2 = models.PositiveSmallIntegerField(
        "in-session alert below SpO2 (%)",
        default=92,
        validators=[MinValueValidator(85), MaxValueValidator(98)],
        help_text="SpO2 below this for longer than the seconds below raises an alert. Default "
        "92 %, the modified Aldrete level (clinical.md §1.5, §5 suggested default).",
    )
    alert_spo2_critical = models.PositiveSmallIntegerField(
        "critical alert below SpO2 (%)",
        default=90,
        validators=[MinValueValidator(80), MaxValueValidator(95)],
        help_text="SpO2 below this raises a critical alert at once. Default 90 % (clinical.md "
        "§5 suggested default; the Aldrete 0-point level, §1.5).",
    )
    alert_spo2_seconds = models.PositiveSmallIntegerField(
        "SpO2 low for longer than (seconds)",
        default=30,
        validators=[MaxValueValidator(300)],
        help_text="How long SpO2 must stay below the alert level before it alerts. Default 30 "
        "seconds (clinical.md §5 suggested default, not a guideline value).",
    )
    alert_rr_low = models.PositiveSmallIntegerField(
        "in-session alert below respiratory rate (/min)",
        default=8,
        validators=[MinValueValidator(4), MaxValueValidator(14)],
        help_text="A respiratory rate below this during a session raises an alert. Default 8 "
        "(clinical.md §5 suggested default, not a guideline value).",
    )
    aldrete_threshold = models.PositiveSmallIntegerField(
        "discharge at modified Aldrete score of",
        default=9,
        validators=[MinValueValidator(7), MaxValueValidator(10)],
        help_text="The modified Aldrete total at or above which discharge may proceed (with "
        "the other criteria). Default 9, the usual threshold (clinical.md §1.5; some "
        "institutions use 8, a conflict noted there).",
    )
    aldrete_circulation = models.CharField(
        "Aldrete circulation item scored by",
        max_length=12,
        choices=AldreteCirculation.choices,
        default=AldreteCirculation.MMHG_20,
        help_text="How the circulation item compares blood pressure with the pre-dose level: "
        "±20 mm Hg (the table in clinical.md §1.5, the default) or ±20 % (a variant §1.5 "
        "lists; its 1- and 0-point bands follow Aldrete & Kroulik 1970).",
    )
    min_observation_minutes = models.PositiveSmallIntegerField(
        "minimum observation after the dose (minutes)",
        default=60,
        validators=[MinValueValidator(30), MaxValueValidator(240)],
        help_text="Minutes after the dose before the discharge assessment. Default 60 "
        "(clinical.md §5): unverified local practice that the medical director must confirm "
        "(esketamine needs 120 by its label).",
    )
    # The clinician an alert raised outside opening hours is routed to (a user id: clinics
    # sits below accounts). Chosen on the accounts app's on-call page, which checks the
    # person works at the site; empty routes to the site's medical directors.
    on_call_user_id = models.UUIDField(null=True, blank=True)
    # Contraindication key → "absolute" | "relative"; a missing key keeps the shipped class
    # (clinical.md §1.1, §1.2, §1.4; the evaluations catalogue). Only the medical director
    # changes it, through the evaluations app, which validates the keys.
    contraindication_classes = models.JSONField(default=dict, blank=True)
    change_reason = models.CharField(max_length=300, blank=True)
    changed_by_id = models.UUIDField(null=True, blank=True)
    changed_by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["clinic", "-version"]
        verbose_name_plural = "clinic policies"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "version"], name="policy_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="policy_version_positive"),
        ]

    # The fields a medical director edits; new issues append theirs here.
    EDITABLE_FIELDS = (
        "treatment_consent_months",
        "contact_consent_months",
        "pcl5_provisional_cutoff",
        "alert_escalation_minutes",
        "mme_caution_at",
        "mme_high_at",
        "evaluation_valid_days",
        "dose_ceiling_mg_per_kg",
        "nurse_patients_at_once",
        "reminder_lead_hours",
        "link_lifetime_hours",
        "link_birth_date_tries",
        "pre_session_questionnaire_hours",
        "follow_up_weeks",
        "fasting_food_hours",
        "fasting_clear_liquid_hours",
        "vial_beyond_use_days",
        "dose_step_mg",
        "im_max_ml_per_site",
        "pre_dose_hold_systolic",
        "pre_dose_hold_diastolic",
        "pre_dose_ack_systolic",
        "pre_dose_ack_diastolic",
        "alert_systolic",
        "alert_diastolic",
        "alert_hr_high",
        "alert_hr_low",
        "alert_spo2",
        "alert_spo2_critical",
        "alert_spo2_seconds",
        "alert_rr_low",
        "aldrete_threshold",
        "aldrete_circulation",
        "min_observation_minutes",
    )
    # Settings with a structure of their own, edited on their own page by the app that
    # owns their vocabulary; versioned and audited like the rest.
    STRUCTURED_FIELDS = ("contraindication_classes", "on_call_user_id")

    def __str__(self) -> str:
        return f"{self.clinic} policy v{self.version}"

    def clean(self) -> None:
        """The session thresholds must keep their order, or a band would never apply (the
        heart-rate limits cannot cross: their ranges do not overlap). A pair is compared only
        when both values are numbers (a bad value already has its own field error)."""
        errors: dict[str, str] = {}
        pairs = (
            ("pre_dose_ack_systolic", "pre_dose_hold_systolic", MESSAGE_ACK_BELOW_HOLD),
            ("pre_dose_ack_diastolic", "pre_dose_hold_diastolic", MESSAGE_ACK_BELOW_HOLD),
            ("alert_spo2_critical", "alert_spo2", MESSAGE_SPO2_CRITICAL_BELOW),
        )
        for lower_name, upper_name, message in pairs:
            lower, upper = getattr(self, lower_name), getattr(self, upper_name)
            numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (lower, upper))
            if numbers and lower >= upper:
                errors[lower_name] = message.format(limit=upper)
        if errors:
            raise ValidationError(errors)

    @property
    def follow_up_week_list(self) -> list[int]:
        """The follow-up weeks as ascending distinct whole numbers."""
        weeks = {int(part) for part in self.follow_up_weeks.split(",") if part.strip()}
        return sorted(w for w in weeks if w > 0)
