"""The MME catalogue and calculation against reference/clinical.md §3.1 and §3.2."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketapath.core.errors import InvalidInput
from ketapath.medications.catalogue import (
    BY_KEY,
    EXCLUDED_BUPRENORPHINE,
    FACTOR_SET,
    LABEL_CDC_2016_ANALYTIC,
    MESSAGE_AMBIGUOUS_CODE,
    MESSAGE_UNKNOWN_DRUG,
    OPIOIDS,
    RXNORM_DOSE_FORM_TRANSDERMAL_SYSTEM,
    opioid_lookup,
)
from ketapath.medications.rules import (
    FLAG_CAUTION,
    FLAG_HIGH,
    RULE_EXCLUDED,
    RULE_NOT_APPLICABLE,
    RULE_POSITIVE,
    RULE_REQUIRED,
    UNIT_TEXT,
    ExcludedItem,
    MedicationDose,
    MmeItem,
    calculate,
    daily_mme,
    round_for_display,
)

D = Decimal


def _fields(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.rule for e in exc.value.errors}


# --- catalogue --------------------------------------------------------------------------


def test_cdc_2022_table_is_encoded_exactly() -> None:
    expected = {
        "codeine": ("2670", D("0.15"), "mg"),
        "fentanyl-transdermal": ("4337", D("2.4"), "mcg_per_hr"),
        "hydrocodone": ("5489", D("1.0"), "mg"),
        "hydromorphone": ("3423", D("5.0"), "mg"),
        "methadone": ("6813", D("4.7"), "mg"),
        "morphine": ("7052", D("1.0"), "mg"),
        "oxycodone": ("7804", D("1.5"), "mg"),
        "oxymorphone": ("7814", D("3.0"), "mg"),
        "tapentadol": ("787390", D("0.4"), "mg"),
        "tramadol": ("10689", D("0.2"), "mg"),
    }
    cdc_2022 = {e.key: e for e in OPIOIDS if e.factor_source == "cdc_2022"}
    assert set(cdc_2022) == set(expected)
    for key, (rxcui, factor, unit) in expected.items():
        entry = cdc_2022[key]
        assert (entry.rxnorm_ingredient, entry.factor, entry.unit) == (rxcui, factor, unit)
        assert entry.factor_label != LABEL_CDC_2016_ANALYTIC


def test_2016_analytic_factors_only_for_drugs_the_2022_table_lacks() -> None:
    expected = {
        "butorphanol": (D("7"), "mg"),
        "dihydrocodeine": (D("0.25"), "mg"),
        "fentanyl-buccal": (D("0.13"), "mcg"),
        "fentanyl-film": (D("0.18"), "mcg"),
        "fentanyl-oral-spray": (D("0.18"), "mcg"),
        "fentanyl-nasal-spray": (D("0.16"), "mcg"),
        "levomethadyl-acetate": (D("8"), "mg"),
        "levorphanol": (D("11"), "mg"),
        "meperidine": (D("0.1"), "mg"),
        "opium": (D("1"), "mg"),
        "pentazocine": (D("0.37"), "mg"),
    }
    analytic = {e.key: e for e in OPIOIDS if e.factor_source == "cdc_2016_analytic"}
    assert set(analytic) == set(expected)
    for key, (factor, unit) in expected.items():
        entry = analytic[key]
        assert (entry.factor, entry.unit) == (factor, unit)
        assert (
            entry.factor_label
            == LABEL_CDC_2016_ANALYTIC
            == ("CDC analytic factor (2016), estimate")
        )


def test_2022_wins_over_2016() -> None:
    assert BY_KEY["methadone"].factor == D("4.7")
    assert BY_KEY["tramadol"].factor == D("0.2")
    assert BY_KEY["hydromorphone"].factor == D("5.0")
    for key in ("methadone", "tramadol", "hydromorphone"):
        assert BY_KEY[key].factor_source == "cdc_2022"


def test_fentanyl_forms_share_the_ingredient_but_not_the_entry() -> None:
    patch = BY_KEY["fentanyl-transdermal"]
    buccal = BY_KEY["fentanyl-buccal"]
    assert patch.ingredient == buccal.ingredient == "fentanyl"
    assert patch.rxnorm_ingredient == buccal.rxnorm_ingredient == "4337"
    assert (patch.dose_form, buccal.dose_form) == ("transdermal", "buccal")
    assert patch.rxnorm_dose_form == RXNORM_DOSE_FORM_TRANSDERMAL_SYSTEM == "316987"
    assert patch.factor != buccal.factor


def test_buprenorphine_has_no_factor_and_a_reason() -> None:
    entry = BY_KEY["buprenorphine"]
    assert entry.factor is None
    assert entry.factor_source is None
    assert entry.excluded
    assert entry.excluded_reason == EXCLUDED_BUPRENORPHINE
    assert EXCLUDED_BUPRENORPHINE == (
        "Partial µ-agonist: not in the CDC 2022 table; no MME is computed."
    )


def test_cautions_are_attached() -> None:
    for key in ("methadone", "fentanyl-transdermal", "tapentadol", "tramadol"):
        assert BY_KEY[key].caution


def test_keys_are_lowercase_and_unique() -> None:
    keys = [e.key for e in OPIOIDS]
    assert len(keys) == len(set(keys))
    assert all(k == k.lower() and " " not in k for k in keys)


def test_lookup_by_key_and_by_rxnorm_code() -> None:
    assert opioid_lookup("oxycodone") is BY_KEY["oxycodone"]
    assert opioid_lookup(" Oxycodone ") is BY_KEY["oxycodone"]
    assert opioid_lookup("7804") is BY_KEY["oxycodone"]
    assert opioid_lookup("787390") is BY_KEY["tapentadol"]


def test_lookup_refuses_the_ambiguous_fentanyl_code() -> None:
    with pytest.raises(InvalidInput) as exc:
        opioid_lookup("4337", field="medications.1.drug")
    rule = _fields(exc)["medications.1.drug"]
    keys = ", ".join(e.key for e in OPIOIDS if e.ingredient == "fentanyl")
    assert rule == MESSAGE_AMBIGUOUS_CODE.format(code="4337", keys=keys)
    assert "fentanyl-transdermal" in rule and "fentanyl-buccal" in rule


@pytest.mark.parametrize("drug", ["aspirin", "", "0000", "oxy codone"])
def test_lookup_unknown_drug(drug: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        opioid_lookup(drug)
    assert _fields(exc) == {"drug": MESSAGE_UNKNOWN_DRUG}


# --- daily MME: CDC footnote examples (§3.1) ---------------------------------------------


def test_hydrocodone_5_mg_four_times_a_day_is_20() -> None:
    assert daily_mme(BY_KEY["hydrocodone"], dose_mg=D(5), doses_per_day=D(4)) == 20


def test_oxycodone_10_mg_twice_a_day_is_30() -> None:
    assert daily_mme(BY_KEY["oxycodone"], dose_mg=D(10), doses_per_day=D(2)) == 30


def test_fentanyl_patch_25_mcg_per_hr_is_60() -> None:
    assert daily_mme(BY_KEY["fentanyl-transdermal"], dose_mcg_per_hr=D(25)) == 60


def test_methadone_uses_the_flat_2022_factor() -> None:
    # 10 mg twice a day = 20 mg/day; 2016 would give 3 (analytic) or 4 (sliding scale).
    assert daily_mme(BY_KEY["methadone"], dose_mg=D(10), doses_per_day=D(2)) == D("94.0")


def test_tramadol_and_hydromorphone_use_2022_factors() -> None:
    assert daily_mme(BY_KEY["tramadol"], dose_mg=D(50), doses_per_day=D(4)) == 40
    assert daily_mme(BY_KEY["hydromorphone"], dose_mg=D(2), doses_per_day=D(4)) == 40


def test_buccal_fentanyl_is_per_mcg() -> None:
    # 200 mcg four times a day × 0.13 (§3.2).
    assert daily_mme(BY_KEY["fentanyl-buccal"], dose_mcg=D(200), doses_per_day=D(4)) == 104


def test_meperidine_is_labelled_analytic() -> None:
    result = calculate([MedicationDose(BY_KEY["meperidine"], dose_mg=D(100), doses_per_day=D(3))])
    assert result.items == (MmeItem("meperidine", D("30.0"), D("0.1"), "cdc_2016_analytic"),)


# --- wrong dose combinations -------------------------------------------------------------


def test_mg_drug_needs_dose_mg_and_doses_per_day() -> None:
    entry = BY_KEY["oxycodone"]
    unit = UNIT_TEXT["mg"]
    with pytest.raises(InvalidInput) as exc:
        daily_mme(entry, dose_mg=D(10))
    assert _fields(exc) == {"doses_per_day": RULE_REQUIRED.format(drug="oxycodone", unit=unit)}
    with pytest.raises(InvalidInput) as exc:
        daily_mme(entry, dose_mcg_per_hr=D(25), doses_per_day=D(2))
    assert _fields(exc) == {
        "dose_mg": RULE_REQUIRED.format(drug="oxycodone", unit=unit),
        "dose_mcg_per_hr": RULE_NOT_APPLICABLE.format(drug="oxycodone", unit=unit),
    }


def test_patch_refuses_doses_per_day_and_mg() -> None:
    entry = BY_KEY["fentanyl-transdermal"]
    unit = UNIT_TEXT["mcg_per_hr"]
    with pytest.raises(InvalidInput) as exc:
        daily_mme(entry, dose_mcg_per_hr=D(25), doses_per_day=D(1))
    assert _fields(exc) == {
        "doses_per_day": RULE_NOT_APPLICABLE.format(drug="fentanyl-transdermal", unit=unit)
    }
    with pytest.raises(InvalidInput) as exc:
        daily_mme(entry, dose_mg=D(25))
    assert set(_fields(exc)) == {"dose_mg", "dose_mcg_per_hr"}


def test_buccal_needs_mcg_not_mg() -> None:
    with pytest.raises(InvalidInput) as exc:
        daily_mme(BY_KEY["fentanyl-buccal"], dose_mg=D(1), doses_per_day=D(2))
    assert set(_fields(exc)) == {"dose_mg", "dose_mcg"}


@pytest.mark.parametrize("bad", [D(0), D(-5)])
def test_non_positive_doses_are_refused(bad: Decimal) -> None:
    with pytest.raises(InvalidInput) as exc:
        daily_mme(BY_KEY["morphine"], dose_mg=bad, doses_per_day=D(2))
    assert _fields(exc) == {"dose_mg": RULE_POSITIVE}
    with pytest.raises(InvalidInput) as exc:
        daily_mme(BY_KEY["morphine"], dose_mg=D(10), doses_per_day=bad)
    assert _fields(exc) == {"doses_per_day": RULE_POSITIVE}


def test_daily_mme_refuses_an_excluded_drug() -> None:
    with pytest.raises(InvalidInput) as exc:
        daily_mme(BY_KEY["buprenorphine"], dose_mg=D(8), doses_per_day=D(1))
    assert _fields(exc) == {"drug": RULE_EXCLUDED.format(drug="buprenorphine")}


# --- totals, flags, exclusions -----------------------------------------------------------


def _oxy(dose_mg: str, per_day: str = "1") -> MedicationDose:
    return MedicationDose(BY_KEY["oxycodone"], dose_mg=D(dose_mg), doses_per_day=D(per_day))


def _morphine(dose_mg: str) -> MedicationDose:
    return MedicationDose(BY_KEY["morphine"], dose_mg=D(dose_mg), doses_per_day=D(1))


def test_patch_plus_oxycodone_is_90_with_both_flags() -> None:
    patch = MedicationDose(BY_KEY["fentanyl-transdermal"], dose_mcg_per_hr=D(25))
    result = calculate([_oxy("10", "2"), patch])
    assert result.total_mme == 90
    assert result.items == (
        MmeItem("oxycodone", D("30.0"), D("1.5"), "cdc_2022"),
        MmeItem("fentanyl-transdermal", D("60.0"), D("2.4"), "cdc_2022"),
    )
    assert result.flags == (FLAG_CAUTION, FLAG_HIGH) == ("mme_ge_50", "mme_ge_90")
    assert result.excluded == ()
    assert result.factor_set == FACTOR_SET


def test_flag_edges() -> None:
    assert calculate([_morphine("49.9")]).flags == ()
    assert calculate([_morphine("50")]).flags == (FLAG_CAUTION,)
    assert calculate([_morphine("89.9")]).flags == (FLAG_CAUTION,)
    assert calculate([_morphine("90")]).flags == (FLAG_CAUTION, FLAG_HIGH)


def test_flags_follow_the_shown_total() -> None:
    # 49.95 is shown as 50.0, so it carries the 50 flag; 49.94 is shown as 49.9.
    shown = calculate([_morphine("49.95")])
    assert (shown.total_mme, shown.flags) == (D("50.0"), (FLAG_CAUTION,))
    below = calculate([_morphine("49.94")])
    assert (below.total_mme, below.flags) == (D("49.9"), ())


def test_thresholds_are_parameters() -> None:
    result = calculate([_morphine("60")], caution_at=D(40), high_at=D(60))
    assert result.flags == (FLAG_CAUTION, FLAG_HIGH)
    assert calculate([_morphine("60")], caution_at=70, high_at=100).flags == ()


def test_buprenorphine_is_excluded_and_not_counted() -> None:
    bup = MedicationDose(BY_KEY["buprenorphine"], dose_mg=D(8), doses_per_day=D(2))
    result = calculate([_oxy("10", "2"), bup])
    assert result.total_mme == 30
    assert result.excluded == (ExcludedItem("buprenorphine", EXCLUDED_BUPRENORPHINE),)
    assert [i.drug for i in result.items] == ["oxycodone"]


def test_buprenorphine_with_a_negative_dose_is_still_refused() -> None:
    bup = MedicationDose(BY_KEY["buprenorphine"], dose_mg=D(-1))
    with pytest.raises(InvalidInput) as exc:
        calculate([bup])
    assert _fields(exc) == {"medications.0.dose_mg": RULE_POSITIVE}


def test_calculate_names_the_medication_index() -> None:
    with pytest.raises(InvalidInput) as exc:
        calculate([_oxy("10", "2"), MedicationDose(BY_KEY["codeine"], dose_mg=D(30))])
    assert _fields(exc) == {
        "medications.1.doses_per_day": RULE_REQUIRED.format(drug="codeine", unit=UNIT_TEXT["mg"])
    }


def test_empty_list_is_zero() -> None:
    result = calculate([])
    assert (result.total_mme, result.items, result.excluded, result.flags) == (0, (), (), ())


def test_rounding_is_half_up_to_one_place() -> None:
    assert round_for_display(D("0.05")) == D("0.1")
    assert round_for_display(D("0.15")) == D("0.2")
    assert round_for_display(D("0.25")) == D("0.3")
    assert round_for_display(D("0.04")) == D("0.0")
    # Codeine 15 mg × 1 × 0.15 = 2.25 → 2.3 shown.
    assert calculate([MedicationDose(BY_KEY["codeine"], dose_mg=D(15), doses_per_day=D(1))]).items[
        0
    ].mme == D("2.3")


# --- properties --------------------------------------------------------------------------

DOSED = [e for e in OPIOIDS if e.factor is not None]
amounts = st.decimals(min_value=D("0.01"), max_value=D(1000), places=2)
per_day = st.integers(min_value=1, max_value=12).map(Decimal)


def _dose(entry_index: int, amount: Decimal, times: Decimal) -> MedicationDose:
    entry = DOSED[entry_index % len(DOSED)]
    if entry.unit == "mg":
        return MedicationDose(entry, dose_mg=amount, doses_per_day=times)
    if entry.unit == "mcg":
        return MedicationDose(entry, dose_mcg=amount, doses_per_day=times)
    return MedicationDose(entry, dose_mcg_per_hr=amount)


def _mme(med: MedicationDose) -> Decimal:
    return daily_mme(
        med.entry,
        dose_mg=med.dose_mg,
        dose_mcg=med.dose_mcg,
        dose_mcg_per_hr=med.dose_mcg_per_hr,
        doses_per_day=med.doses_per_day,
    )


@given(st.integers(min_value=0), amounts, amounts, per_day)
def test_mme_is_monotone_in_dose(index: int, a: Decimal, b: Decimal, times: Decimal) -> None:
    low, high = sorted((a, b))
    assert _mme(_dose(index, low, times)) <= _mme(_dose(index, high, times))
    assert _mme(_dose(index, low, times)) > 0


@given(
    st.lists(st.tuples(st.integers(min_value=0), amounts, per_day), min_size=0, max_size=6),
    st.lists(st.tuples(st.integers(min_value=0), amounts, per_day), min_size=0, max_size=6),
)
def test_mme_is_additive_over_medications(
    first: list[tuple[int, Decimal, Decimal]], second: list[tuple[int, Decimal, Decimal]]
) -> None:
    meds_a = [_dose(*t) for t in first]
    meds_b = [_dose(*t) for t in second]
    together = calculate(meds_a + meds_b)
    # The total is the sum of each medication's own daily MME, rounded once.
    exact = sum((_mme(m) for m in meds_a + meds_b), D(0))
    assert together.total_mme == round_for_display(exact)
    assert len(together.items) == len(meds_a) + len(meds_b)
    # Totals of two lists add up to the total of both, within the three half-steps of
    # display rounding.
    parts = calculate(meds_a).total_mme + calculate(meds_b).total_mme
    assert abs(together.total_mme - parts) <= D("0.15")
    # Adding a medication never removes a flag.
    assert set(calculate(meds_a).flags) <= set(together.flags)
