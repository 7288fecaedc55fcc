"""The opioid catalogue: one entry per ingredient and dose form, with its MME factor.

Every factor comes from ``reference/clinical.md`` §3 (CDC 2022 Clinical Practice Guideline,
MMWR Recomm Rep 2022;71(RR-3), conversion table; and the CDC analytic conversion file,
2016 version). §3.1 is used for every drug it lists; §3.2 only for the drugs §3.1 lacks,
labelled as an estimate; buprenorphine is listed but excluded (§3.1 caution 6, §3.2).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ketapath.core.errors import MESSAGE_INVALID, FieldError, InvalidInput

Unit = Literal["mg", "mcg", "mcg_per_hr"]
FactorSource = Literal["cdc_2022", "cdc_2016_analytic"]

SOURCE_CDC_2022: FactorSource = "cdc_2022"
SOURCE_CDC_2016_ANALYTIC: FactorSource = "cdc_2016_analytic"

# The version of the factor table, stored beside every computed MME (§3.2 developer rules;
# §7 item 1: "pick one factor set explicitly and version it").
FACTOR_SET = "cdc-2022+cdc-2016-analytic"

# §3.2 developer rules: how a 2016 analytic factor must be labelled wherever it is shown.
LABEL_CDC_2016_ANALYTIC = "CDC analytic factor (2016), estimate"
LABEL_CDC_2022 = "CDC 2022 clinical conversion factor"

# §3.1 and §3.2 give the mg factors per ingredient without naming a dose form.
DOSE_FORM_UNSPECIFIED = "unspecified"
DOSE_FORM_TRANSDERMAL = "transdermal"

# §3.1: "RxNorm transdermal-system dose form code: 316987".
RXNORM_DOSE_FORM_TRANSDERMAL_SYSTEM = "316987"
# §3.1: fentanyl's RxNorm ingredient RxCUI; every fentanyl form shares the ingredient.
RXNORM_FENTANYL = "4337"

EXCLUDED_BUPRENORPHINE = "Partial µ-agonist: not in the CDC 2022 table; no MME is computed."

CAUTION_TAPENTADOL = (
    "µ-agonist and norepinephrine reuptake inhibitor: the MME reflects µ-agonist activity "
    "only; it is unknown whether overdose risk rises with dose in the same way."
)
CAUTION_TRAMADOL = (
    "µ-agonist and serotonin–norepinephrine reuptake inhibitor: the MME reflects µ-agonist "
    "activity only; it is unknown whether overdose risk rises with dose in the same way."
)
CAUTION_METHADONE = (
    "Take particular care with methadone: its half-life is long and variable, and peak "
    "respiratory depression comes later and lasts longer than peak analgesia."
)
CAUTION_FENTANYL_TRANSDERMAL = (
    "Take particular care with transdermal fentanyl, which is dosed in mcg/hr of patch "
    "strength (clinical factor 2.4; never the 7.2 days-supply factor)."
)
CAUTION_FENTANYL_FILM = "Bioavailability about 40% higher than the lozenge."
CAUTION_FENTANYL_ORAL_SPRAY = "Bioavailability about 38% higher than the lozenge."
CAUTION_FENTANYL_NASAL_SPRAY = "Bioavailability about 20% higher."
CAUTION_FENTANYL_BUCCAL = "Covers buccal and sublingual tablets, lozenges and troches."

MESSAGE_UNKNOWN_DRUG = "Unknown opioid: give a catalogue key or an RxNorm ingredient code."
MESSAGE_AMBIGUOUS_CODE = (
    "RxNorm ingredient {code} has several dose forms with different factors; "
    "give the drug by its key: {keys}."
)


@dataclass(frozen=True)
class OpioidEntry:
    """One ingredient in one dose form, and how its daily dose converts to MME."""

    key: str
    ingredient: str
    rxnorm_ingredient: str | None
    dose_form: str
    rxnorm_dose_form: str | None
    factor: Decimal | None
    unit: Unit
    factor_source: FactorSource | None
    excluded_reason: str | None = None
    caution: str | None = None

    @property
    def excluded(self) -> bool:
        return self.factor is None

    @property
    def factor_label(self) -> str | None:
        """How the factor must be described where it is shown (§3.2 developer rules)."""
        if self.factor_source == SOURCE_CDC_2016_ANALYTIC:
            return LABEL_CDC_2016_ANALYTIC
        if self.factor_source == SOURCE_CDC_2022:
            return LABEL_CDC_2022
        return None


def _cdc_2022(
    key: str,
    rxcui: str,
    factor: str,
    *,
    caution: str | None = None,
) -> OpioidEntry:
    """A §3.1 row: an ingredient dosed in mg/day (§3.1 caution 1)."""
    return OpioidEntry(
        key=key,
        ingredient=key,
        rxnorm_ingredient=rxcui,
        dose_form=DOSE_FORM_UNSPECIFIED,
        rxnorm_dose_form=None,
        factor=Decimal(factor),
        unit="mg",
        factor_source=SOURCE_CDC_2022,
        caution=caution,
    )


def _cdc_2016(
    key: str,
    factor: str,
    *,
    ingredient: str | None = None,
    rxcui: str | None = None,
    dose_form: str = DOSE_FORM_UNSPECIFIED,
    unit: Unit = "mg",
    caution: str | None = None,
) -> OpioidEntry:
    """A §3.2 row for a drug §3.1 lacks; §3.2 gives no RxNorm codes."""
    return OpioidEntry(
        key=key,
        ingredient=ingredient or key,
        rxnorm_ingredient=rxcui,
        dose_form=dose_form,
        rxnorm_dose_form=None,
        factor=Decimal(factor),
        unit=unit,
        factor_source=SOURCE_CDC_2016_ANALYTIC,
        caution=caution,
    )


OPIOIDS: tuple[OpioidEntry, ...] = (
    # §3.1, CDC 2022 clinical conversion table.
    _cdc_2022("codeine", "2670", "0.15"),
    OpioidEntry(
        key="fentanyl-transdermal",
        ingredient="fentanyl",
        rxnorm_ingredient=RXNORM_FENTANYL,
        dose_form=DOSE_FORM_TRANSDERMAL,
        rxnorm_dose_form=RXNORM_DOSE_FORM_TRANSDERMAL_SYSTEM,
        factor=Decimal("2.4"),
        unit="mcg_per_hr",
        factor_source=SOURCE_CDC_2022,
        caution=CAUTION_FENTANYL_TRANSDERMAL,
    ),
    _cdc_2022("hydrocodone", "5489", "1.0"),
    _cdc_2022("hydromorphone", "3423", "5.0"),
    _cdc_2022("methadone", "6813", "4.7", caution=CAUTION_METHADONE),
    _cdc_2022("morphine", "7052", "1.0"),
    _cdc_2022("oxycodone", "7804", "1.5"),
    _cdc_2022("oxymorphone", "7814", "3.0"),
    _cdc_2022("tapentadol", "787390", "0.4", caution=CAUTION_TAPENTADOL),
    _cdc_2022("tramadol", "10689", "0.2", caution=CAUTION_TRAMADOL),
    # §3.2, CDC analytic file 2016: only drugs and forms the 2022 table lacks.
    _cdc_2016("butorphanol", "7"),
    _cdc_2016("dihydrocodeine", "0.25"),
    _cdc_2016(
        "fentanyl-buccal",
        "0.13",
        ingredient="fentanyl",
        rxcui=RXNORM_FENTANYL,
        dose_form="buccal",
        unit="mcg",
        caution=CAUTION_FENTANYL_BUCCAL,
    ),
    _cdc_2016(
        "fentanyl-film",
        "0.18",
        ingredient="fentanyl",
        rxcui=RXNORM_FENTANYL,
        dose_form="film",
        unit="mcg",
        caution=CAUTION_FENTANYL_FILM,
    ),
    _cdc_2016(
        "fentanyl-oral-spray",
        "0.18",
        ingredient="fentanyl",
        rxcui=RXNORM_FENTANYL,
        dose_form="oral-spray",
        unit="mcg",
        caution=CAUTION_FENTANYL_ORAL_SPRAY,
    ),
    _cdc_2016(
        "fentanyl-nasal-spray",
        "0.16",
        ingredient="fentanyl",
        rxcui=RXNORM_FENTANYL,
        dose_form="nasal-spray",
        unit="mcg",
        caution=CAUTION_FENTANYL_NASAL_SPRAY,
    ),
    _cdc_2016("levomethadyl-acetate", "8", ingredient="levomethadyl acetate"),
    _cdc_2016("levorphanol", "11", ingredient="levorphanol tartrate"),
    _cdc_2016("meperidine", "0.1"),
    _cdc_2016("opium", "1"),
    _cdc_2016("pentazocine", "0.37"),
    # §3.1 caution 6 and §3.2: listed so it is recognised, never converted.
    OpioidEntry(
        key="buprenorphine",
        ingredient="buprenorphine",
        rxnorm_ingredient=None,
        dose_form=DOSE_FORM_UNSPECIFIED,
        rxnorm_dose_form=None,
        factor=None,
        unit="mg",
        factor_source=None,
        excluded_reason=EXCLUDED_BUPRENORPHINE,
    ),
)

BY_KEY: dict[str, OpioidEntry] = {entry.key: entry for entry in OPIOIDS}


def _by_rxnorm() -> dict[str, tuple[OpioidEntry, ...]]:
    index: dict[str, list[OpioidEntry]] = {}
    for entry in OPIOIDS:
        if entry.rxnorm_ingredient is not None:
            index.setdefault(entry.rxnorm_ingredient, []).append(entry)
    return {code: tuple(entries) for code, entries in index.items()}


BY_RXNORM_INGREDIENT: dict[str, tuple[OpioidEntry, ...]] = _by_rxnorm()


def opioid_lookup(drug: str, *, field: str = "drug") -> OpioidEntry:
    """The entry for a catalogue key (any case) or an RxNorm ingredient code.

    A code shared by several dose forms (fentanyl) is refused: the forms have different
    factors and units, so the caller must name the key. Errors name ``field``.
    """
    wanted = drug.strip().lower()
    entry = BY_KEY.get(wanted)
    if entry is not None:
        return entry
    entries = BY_RXNORM_INGREDIENT.get(wanted, ())
    if len(entries) == 1:
        return entries[0]
    if entries:
        keys = ", ".join(e.key for e in entries)
        rule = MESSAGE_AMBIGUOUS_CODE.format(code=wanted, keys=keys)
        raise InvalidInput(MESSAGE_INVALID, errors=[FieldError(field=field, rule=rule)])
    raise InvalidInput(MESSAGE_INVALID, errors=[FieldError(field=field, rule=MESSAGE_UNKNOWN_DRUG)])
