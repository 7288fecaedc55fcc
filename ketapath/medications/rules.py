"""Daily morphine milligram equivalents (MME), pure functions over catalogue entries.

Formula from ``reference/clinical.md`` §3.1 (CDC 2022): daily MME is the sum over active
opioids of total daily dose × factor; the dose is in mg/day, except transdermal fentanyl
in mcg/hr of patch strength. The §3.2 mucosal fentanyl factors are per mcg. MME informs
(flags at 50 and 90 MME/day, §3.1 "Thresholds"); it never decides eligibility.

Rounding happens in one place, :func:`round_for_display`: one decimal place, ROUND_HALF_UP,
applied to each item and to the total (summed exactly, then rounded). The flags compare the
rounded total, so a shown total of 50.0 always carries the 50 flag.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ketapath.core.errors import MESSAGE_INVALID, FieldError, InvalidInput
from ketapath.medications.catalogue import FACTOR_SET, FactorSource, OpioidEntry

# §3.1 "Suggested platform flags: 50 MME/day = caution; 90 MME/day = high. Both
# configurable." The clinic's policy passes its own values; these are the defaults.
DEFAULT_CAUTION_AT = Decimal(50)
DEFAULT_HIGH_AT = Decimal(90)

# Wire names fixed by the API contract; they mean "at or above the caution / high threshold".
FLAG_CAUTION = "mme_ge_50"
FLAG_HIGH = "mme_ge_90"

# §3.1 "Thresholds": what each flag asks of the clinician. Guideposts, not hard limits.
FLAG_TEXT = {
    FLAG_CAUTION: (
        "At or above the caution threshold: add precautions, such as closer follow-up "
        "and offering naloxone."
    ),
    FLAG_HIGH: "At or above the high threshold: avoid, or carefully justify.",
}

DISPLAY_STEP = Decimal("0.1")

RULE_REQUIRED = "Required: {drug} is dosed in {unit}."
RULE_NOT_APPLICABLE = "Does not apply: {drug} is dosed in {unit}."
RULE_POSITIVE = "Must be greater than 0."
RULE_EXCLUDED = "No MME is computed for {drug}."

UNIT_TEXT = {
    "mg": "mg per dose with doses per day",
    "mcg": "mcg per dose with doses per day",
    "mcg_per_hr": "mcg/hr of patch strength, without doses per day",
}

# Which dose fields each unit needs; every other dose field must be absent.
_NEEDS: dict[str, tuple[str, ...]] = {
    "mg": ("dose_mg", "doses_per_day"),
    "mcg": ("dose_mcg", "doses_per_day"),
    "mcg_per_hr": ("dose_mcg_per_hr",),
}
_DOSE_FIELDS = ("dose_mg", "dose_mcg", "dose_mcg_per_hr", "doses_per_day")


@dataclass(frozen=True)
class MedicationDose:
    """One active opioid and its prescribed dose (as-needed: the maximum daily dose)."""

    entry: OpioidEntry
    dose_mg: Decimal | None = None
    dose_mcg: Decimal | None = None
    dose_mcg_per_hr: Decimal | None = None
    doses_per_day: Decimal | None = None


@dataclass(frozen=True)
class MmeItem:
    drug: str
    mme: Decimal
    factor: Decimal
    factor_source: FactorSource


@dataclass(frozen=True)
class ExcludedItem:
    drug: str
    reason: str


@dataclass(frozen=True)
class MmeResult:
    total_mme: Decimal
    items: tuple[MmeItem, ...]
    excluded: tuple[ExcludedItem, ...]
    flags: tuple[str, ...]
    factor_set: str


def round_for_display(value: Decimal) -> Decimal:
    """The one rounding rule for MME: one decimal place, ROUND_HALF_UP."""
    return value.quantize(DISPLAY_STEP, rounding=ROUND_HALF_UP)


def _dose_errors(
    entry: OpioidEntry,
    values: dict[str, Decimal | None],
) -> list[FieldError]:
    unit = UNIT_TEXT[entry.unit]
    needed = _NEEDS[entry.unit]
    errors: list[FieldError] = []
    for name in _DOSE_FIELDS:
        value = values[name]
        if name in needed and value is None:
            errors.append(FieldError(name, RULE_REQUIRED.format(drug=entry.key, unit=unit)))
        elif name not in needed and value is not None:
            errors.append(FieldError(name, RULE_NOT_APPLICABLE.format(drug=entry.key, unit=unit)))
        elif value is not None and not value > 0:
            errors.append(FieldError(name, RULE_POSITIVE))
    return errors


def daily_mme(
    entry: OpioidEntry,
    *,
    dose_mg: Decimal | None = None,
    dose_mcg: Decimal | None = None,
    dose_mcg_per_hr: Decimal | None = None,
    doses_per_day: Decimal | None = None,
) -> Decimal:
    """The exact (unrounded) daily MME of one opioid (§3.1 formula; §3.2 per-mcg factors).

    mg entries: dose_mg × doses_per_day × factor; mcg entries: dose_mcg × doses_per_day ×
    factor; transdermal fentanyl: dose_mcg_per_hr × 2.4, with no doses per day. Any other
    combination, a dose that is not positive, or an excluded drug raises InvalidInput
    naming the field.
    """
    if entry.factor is None:
        rule = RULE_EXCLUDED.format(drug=entry.key)
        raise InvalidInput(MESSAGE_INVALID, errors=[FieldError("drug", rule)])
    values = {
        "dose_mg": dose_mg,
        "dose_mcg": dose_mcg,
        "dose_mcg_per_hr": dose_mcg_per_hr,
        "doses_per_day": doses_per_day,
    }
    errors = _dose_errors(entry, values)
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    if entry.unit == "mcg_per_hr":
        assert dose_mcg_per_hr is not None
        return dose_mcg_per_hr * entry.factor
    dose = dose_mg if entry.unit == "mg" else dose_mcg
    assert dose is not None and doses_per_day is not None
    return dose * doses_per_day * entry.factor


def _positive_or_absent(med: MedicationDose) -> list[FieldError]:
    return [
        FieldError(name, RULE_POSITIVE)
        for name in _DOSE_FIELDS
        if (value := getattr(med, name)) is not None and not value > 0
    ]


def calculate(
    medications: list[MedicationDose],
    *,
    caution_at: Decimal | int = DEFAULT_CAUTION_AT,
    high_at: Decimal | int = DEFAULT_HIGH_AT,
) -> MmeResult:
    """Daily MME per medication and in total, excluded drugs, and the threshold flags.

    Excluded drugs (buprenorphine) are listed with their reason and add nothing. A flag
    applies when the rounded total is at or above its threshold (defaults 50 and 90,
    §3.1). Errors name the field as ``medications.<index>.<field>``.
    """
    items: list[MmeItem] = []
    excluded: list[ExcludedItem] = []
    errors: list[FieldError] = []
    total = Decimal(0)
    for index, med in enumerate(medications):
        entry = med.entry
        try:
            if entry.factor is None or entry.factor_source is None:
                # Doses of an excluded drug are not converted, but a non-positive one is
                # still bad input.
                field_errors = _positive_or_absent(med)
                if field_errors:
                    raise InvalidInput(MESSAGE_INVALID, errors=field_errors)
                excluded.append(ExcludedItem(entry.key, entry.excluded_reason or ""))
                continue
            mme = daily_mme(
                entry,
                dose_mg=med.dose_mg,
                dose_mcg=med.dose_mcg,
                dose_mcg_per_hr=med.dose_mcg_per_hr,
                doses_per_day=med.doses_per_day,
            )
        except InvalidInput as exc:
            errors.extend(FieldError(f"medications.{index}.{e.field}", e.rule) for e in exc.errors)
            continue
        total += mme
        items.append(MmeItem(entry.key, round_for_display(mme), entry.factor, entry.factor_source))
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    shown_total = round_for_display(total)
    flags = tuple(
        flag
        for flag, threshold in ((FLAG_CAUTION, caution_at), (FLAG_HIGH, high_at))
        if shown_total >= threshold
    )
    return MmeResult(
        total_mme=shown_total,
        items=tuple(items),
        excluded=tuple(excluded),
        flags=flags,
        factor_set=FACTOR_SET,
    )


# Interaction flags (issue 3, item 6): they inform the clinician and never block anything.
# Class membership is by ingredient name; each list cites where its members were found.

# CDC Opioid Prescribing Support IG, ValueSet "benzodiazepine-medications"
# (http://fhir.org/guides/cdc/opioid-cds/ValueSet/benzodiazepine-medications, expansion of
# 2023-03, github.com/cqframework/opioid-cds-r4 input/vocabulary/valueset/
# benzodiazepine-medications.json): ingredients of the clinical drugs it lists.
BENZODIAZEPINES = frozenset(
    {
        "alprazolam",
        "chlordiazepoxide",
        "clobazam",
        "clonazepam",
        "clorazepate",
        "diazepam",
        "estazolam",
        "flurazepam",
        "lorazepam",
        "midazolam",
        "oxazepam",
        "quazepam",
        "temazepam",
        "triazolam",
    }
)

# Monoamine oxidase inhibitors available in the United States, from the table "Monoamine
# Oxidase Inhibitors Most Commonly Used in the United States" (clinicalgate.com,
# "Monoamine oxidase inhibitors", Table 96-1).
MAOIS = frozenset({"isocarboxazid", "phenelzine", "rasagiline", "selegiline", "tranylcypromine"})

# Central nervous system stimulants named by LiverTox (NIDDK, NCBI Bookshelf, "Central
# Nervous System (CNS) Stimulants", last update 2021-08-12). The page's other agents
# (atomoxetine, oxybate, pitolisant, solriamfetol) are left out of this list.
STIMULANTS = frozenset(
    {
        "amphetamine",
        "armodafinil",
        "dextroamphetamine",
        "lisdexamfetamine",
        "methamphetamine",
        "methylphenidate",
        "modafinil",
    }
)

LAMOTRIGINE = "lamotrigine"
NALTREXONE = "naltrexone"

FLAG_BENZODIAZEPINE = "benzodiazepine"
FLAG_LAMOTRIGINE = "lamotrigine"
FLAG_MAOI = "maoi"
FLAG_STIMULANT = "stimulant"
FLAG_OPIOID_BENZODIAZEPINE = "opioid_benzodiazepine"
FLAG_NALTREXONE = "naltrexone"

# Reasons say no more than issue 3 item 6 states; the opioid-with-benzodiazepine reason is
# the FDA boxed warning on benzodiazepine labels (openFDA drug label, lorazepam tablets:
# "Concomitant use of benzodiazepines and opioids may result in profound sedation,
# respiratory depression, coma, and death").
REASON_BENZODIAZEPINE = "A benzodiazepine may blunt the response to ketamine."
REASON_LAMOTRIGINE = "Lamotrigine may blunt the response to ketamine."
REASON_MAOI = "A monoamine oxidase inhibitor (MAOI): a blood-pressure concern with ketamine."
REASON_STIMULANT = "A stimulant: a blood-pressure concern with ketamine."
REASON_OPIOID_BENZODIAZEPINE = (
    "An opioid with a benzodiazepine: used together they may cause profound sedation, "
    "respiratory depression, coma and death (FDA boxed warning)."
)
REASON_NALTREXONE = "Naltrexone is on the active list: review it before ketamine treatment."

# §3.1 "≥50 MME/day … Add precautions, such as closer follow-up and offering naloxone."
NALOXONE_PROMPT = "Offer naloxone: the daily MME is at or above the caution threshold."


@dataclass(frozen=True)
class ListedMedication:
    """What the interaction rules need of one active medication."""

    id: str
    ingredient: str
    is_opioid: bool


FLAG_LABELS = {
    FLAG_BENZODIAZEPINE: "Benzodiazepine",
    FLAG_LAMOTRIGINE: "Lamotrigine",
    FLAG_MAOI: "MAOI",
    FLAG_STIMULANT: "Stimulant",
    FLAG_OPIOID_BENZODIAZEPINE: "Opioid with benzodiazepine",
    FLAG_NALTREXONE: "Naltrexone",
}


@dataclass(frozen=True)
class Flag:
    kind: str
    reason: str
    medication_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.kind]


def _parts(ingredient: str) -> list[str]:
    """The single ingredients of a name such as "amphetamine / dextroamphetamine"."""
    text = ingredient.lower()
    for separator in ("+", ",", " and "):
        text = text.replace(separator, "/")
    return [part.strip() for part in text.split("/") if part.strip()]


def _is_member(ingredient: str, members: frozenset[str]) -> bool:
    # "clorazepate dipotassium" or "lisdexamfetamine dimesylate" name the salt after the base.
    return any(part.split(" ")[0] in members for part in _parts(ingredient))


def interaction_flags(medications: list[ListedMedication]) -> list[Flag]:
    """The interaction flags of an active medication list, in a fixed order, each with its
    reason and the medications that raise it. They inform; nothing here blocks."""

    def ids(members: frozenset[str]) -> tuple[str, ...]:
        return tuple(m.id for m in medications if _is_member(m.ingredient, members))

    benzodiazepines = ids(BENZODIAZEPINES)
    lamotrigine = ids(frozenset({LAMOTRIGINE}))
    maois = ids(MAOIS)
    stimulants = ids(STIMULANTS)
    naltrexone = ids(frozenset({NALTREXONE}))
    opioids = tuple(m.id for m in medications if m.is_opioid)
    flags: list[Flag] = []
    if benzodiazepines:
        flags.append(Flag(FLAG_BENZODIAZEPINE, REASON_BENZODIAZEPINE, benzodiazepines))
    if lamotrigine:
        flags.append(Flag(FLAG_LAMOTRIGINE, REASON_LAMOTRIGINE, lamotrigine))
    if maois:
        flags.append(Flag(FLAG_MAOI, REASON_MAOI, maois))
    if stimulants:
        flags.append(Flag(FLAG_STIMULANT, REASON_STIMULANT, stimulants))
    if opioids and benzodiazepines:
        flags.append(
            Flag(
                FLAG_OPIOID_BENZODIAZEPINE,
                REASON_OPIOID_BENZODIAZEPINE,
                opioids + benzodiazepines,
            )
        )
    if naltrexone:
        flags.append(Flag(FLAG_NALTREXONE, REASON_NALTREXONE, naltrexone))
    return flags
