import pytest
import simple_icd_10_cm as icd

from ketapath.core.codes import ICD10_CM
from ketapath.core.errors import InvalidInput
from ketapath.evaluations import catalogue
from ketapath.evaluations.catalogue import (
    COMPANION_CODES,
    CONTRAINDICATIONS,
    DEFAULT_CONTRAINDICATION_CLASSES,
    EVIDENCE_NOTE,
    MENTAL_HEALTH_CODE_NOTES,
    MENTAL_HEALTH_CODES,
    MESSAGE_CLASS_INVALID,
    MESSAGE_CLASSES_NOT_MAPPING,
    MESSAGE_ICD10_EMPTY,
    MESSAGE_ICD10_HEADER,
    MESSAGE_ICD10_UNKNOWN,
    MESSAGE_UNKNOWN_CONDITION,
    MESSAGE_UNKNOWN_CONTRAINDICATION,
    PAIN_CONDITION_KEYS,
    PAIN_CONDITIONS,
    RISK_PROMPTS,
    contraindication,
    contraindication_classes_validate,
    icd10_lookup,
    icd10_search,
    mental_health_category_ok,
    pain_category_ok,
    pain_condition,
)

EXPECTED_KEYS = (
    "migraine",
    "neuropathy",
    "cancer_pain",
    "fibromyalgia",
    "rheumatoid_arthritis",
    "low_back_pain",
    "trigeminal_neuralgia",
    "lupus",
    "chronic_lyme",
    "gastroparesis",
    "cyclic_vomiting",
    "phantom_limb_pain",
    "chronic_pancreatitis",
    "cipn",
    "crps",
    "chronic_pain_syndrome",
)


def _all_options():
    for condition in PAIN_CONDITIONS:
        yield from condition.codes
    yield from MENTAL_HEALTH_CODES
    yield from COMPANION_CODES


def _field_errors(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.rule for e in exc.value.errors}


# --- pain conditions -----------------------------------------------------------------------


def test_system_is_the_core_icd10cm_uri():
    assert catalogue.ICD10CM_SYSTEM == ICD10_CM == "http://hl7.org/fhir/sid/icd-10-cm"


def test_sixteen_conditions_with_the_exact_keys_in_order():
    assert len(PAIN_CONDITIONS) == 16
    assert PAIN_CONDITION_KEYS == EXPECTED_KEYS
    assert pain_condition("low_back_pain").label == "Intractable back pain"


def test_every_option_is_billable_with_the_package_description():
    for option in _all_options():
        assert icd.is_valid_item(option.code), option.code
        assert icd.is_leaf(option.code), option.code
        assert option.display == icd.get_description(option.code)


def test_default_code_is_the_first_option_and_companions_are_options():
    for condition in PAIN_CONDITIONS:
        codes = [o.code for o in condition.codes]
        assert codes[0] == condition.default_code
        assert len(codes) == len(set(codes)), condition.key
        assert set(condition.companion_codes) <= set(codes), condition.key


@pytest.mark.parametrize("header", ["M54.5", "G90.5", "G90.51", "G90.52", "G43.D", "G63"])
def test_headers_and_g63_are_not_offered(header):
    offered = {o.code for c in PAIN_CONDITIONS for o in c.codes}
    assert header not in offered


def test_headers_are_represented_by_their_billable_children():
    crps = {o.code for o in pain_condition("crps").codes}
    assert {"G90.50", "G90.511", "G90.519", "G90.521", "G90.529", "G90.59"} <= crps
    assert {"G56.40", "G56.43", "G57.70", "G57.73"} <= crps
    migraine = {o.code for o in pain_condition("migraine").codes}
    assert {"G43.D0", "G43.D1", "G43.E09", "G43.E19"} <= migraine
    back = {o.code for o in pain_condition("low_back_pain").codes}
    assert {"M54.50", "M54.51", "M54.59", "M51.360", "M51.369"} <= back


def test_two_code_conditions_name_their_companions():
    cipn = pain_condition("cipn")
    assert cipn.default_code == "G62.0"
    assert cipn.companion_codes == ("T45.1X5A",)
    assert "T45.1X5A" in cipn.note
    back = pain_condition("low_back_pain")
    assert back.default_code == "M54.50"
    assert back.companion_codes == ("G89.29",)
    assert "G89.29" in back.note
    cancer = pain_condition("cancer_pain")
    assert cancer.default_code == "G89.3"
    assert "Add the neoplasm code" in cancer.note


def test_evidence_grades():
    crps = pain_condition("crps").evidence
    assert (crps.strength, crps.certainty) == ("B", "moderate")
    assert "12 weeks" in crps.summary
    for key in (
        "migraine",
        "phantom_limb_pain",
        "fibromyalgia",
        "cancer_pain",
        "low_back_pain",
        "neuropathy",
        "cipn",
    ):
        grade = pain_condition(key).evidence
        assert (grade.strength, grade.certainty) == ("D", "low"), key
    assert "mixed neuropathic pain" in pain_condition("cipn").evidence.summary
    for key in (
        "rheumatoid_arthritis",
        "trigeminal_neuralgia",
        "lupus",
        "chronic_lyme",
        "gastroparesis",
        "cyclic_vomiting",
        "chronic_pancreatitis",
        "chronic_pain_syndrome",
    ):
        grade = pain_condition(key).evidence
        assert grade.strength is None and grade.certainty is None, key
        assert grade.summary == "Not graded by the 2018 ASRA/AAPM/ASA guideline"


def test_evidence_note_says_iv_only_and_no_im_dosing():
    assert "IV" in EVIDENCE_NOTE
    assert "no intramuscular (IM) dosing" in EVIDENCE_NOTE


@pytest.mark.parametrize("key", ["unknown", "", None])
def test_unknown_condition_names_the_field(key):
    with pytest.raises(InvalidInput) as exc:
        pain_condition(key)
    assert _field_errors(exc) == {"catalogue_key": MESSAGE_UNKNOWN_CONDITION}


# --- mental health -------------------------------------------------------------------------


def test_mental_health_codes_follow_the_reference_table():
    codes = [o.code for o in MENTAL_HEALTH_CODES]
    assert codes[:7] == ["F32.0", "F32.1", "F32.2", "F32.3", "F32.4", "F32.5", "F32.9"]
    assert {"F33.0", "F33.3", "F33.40", "F33.41", "F33.42", "F33.9"} <= set(codes)
    assert {"F43.10", "F43.11", "F43.12", "F41.1", "F32.A"} <= set(codes)
    assert "F43.1" not in codes
    assert "avoid when MDD is documented" in MENTAL_HEALTH_CODE_NOTES["F32.A"]
    assert [o.code for o in COMPANION_CODES] == ["Z79.891", "F11.20"]
    assert all(mental_health_category_ok(code) for code in codes)


def test_category_checks():
    assert mental_health_category_ok("f33.1")
    assert not mental_health_category_ok("M79.7")
    assert pain_category_ok("m797")
    assert pain_category_ok("T45.1X5A")
    assert not pain_category_ok("F45.42")
    assert not pain_category_ok("")


# --- ICD-10-CM lookup and search ---------------------------------------------------------


@pytest.mark.parametrize("raw", ["g43909", "G43.909", " g43.909 ", "G43 909"])
def test_lookup_normalises(raw):
    option = icd10_lookup(raw)
    assert option.code == "G43.909"
    assert option.display == "Migraine, unspecified, not intractable, without status migrainosus"


def test_lookup_seventh_character_code():
    assert icd10_lookup("t451x5a").code == "T45.1X5A"


@pytest.mark.parametrize(
    ("header", "child"),
    [("M54.5", "M54.50"), ("G90.5", "G90.50"), ("G90.51", "G90.511"), ("G90.52", "G90.521")],
)
def test_lookup_rejects_headers_naming_children(header, child):
    with pytest.raises(InvalidInput) as exc:
        icd10_lookup(header, field="pain.code")
    rule = _field_errors(exc)["pain.code"]
    assert rule.startswith(MESSAGE_ICD10_HEADER.format(code=header))
    assert child in rule


def test_header_lists_at_most_five_children():
    with pytest.raises(InvalidInput) as exc:
        icd10_lookup("G43")  # many subcategories below it
    rule = _field_errors(exc)["code"]
    listed = rule.split(" such as ")[1].rstrip(".").split(", ")
    assert len(listed) == 5
    assert listed == icd.get_children("G43")[:5]


@pytest.mark.parametrize("raw", ["Z99.999X", "A00-A09", "1", "XYZ", "G43.90999"])
def test_lookup_rejects_unknown_codes(raw):
    with pytest.raises(InvalidInput) as exc:
        icd10_lookup(raw)
    assert _field_errors(exc) == {"code": MESSAGE_ICD10_UNKNOWN.format(code=raw)}
    assert "1 April 2026" in MESSAGE_ICD10_UNKNOWN


def test_lookup_rejects_empty():
    with pytest.raises(InvalidInput) as exc:
        icd10_lookup("  ")
    assert _field_errors(exc) == {"code": MESSAGE_ICD10_EMPTY}


def test_search_by_description_and_by_code():
    assert "M79.7" in [o.code for o in icd10_search("fibromyalgia")]
    by_code = icd10_search("G50")
    assert [o.code for o in by_code][:4] == ["G50.0", "G50.1", "G50.8", "G50.9"]
    assert all(icd.is_leaf(o.code) for o in by_code)


def test_search_matches_every_word_and_is_dot_insensitive():
    results = icd10_search("CHRONIC pancreatitis", limit=50)
    assert results
    assert all(
        "chronic" in o.display.lower() and "pancreatitis" in o.display.lower() for o in results
    )
    assert {"K86.0", "K86.1"} <= {o.code for o in results}
    assert [o.code for o in icd10_search("g90.5")] == [o.code for o in icd10_search("G905")]
    assert "G90.5" not in [o.code for o in icd10_search("G905")]  # headers never listed


def test_search_limit_and_empty_term():
    assert len(icd10_search("pain", limit=3)) == 3
    assert icd10_search("   ") == []
    assert icd10_search("pain", limit=0) == []


# --- contraindications ---------------------------------------------------------------------


def test_contraindications_shipped_classes():
    assert DEFAULT_CONTRAINDICATION_CLASSES == {
        "ketamine_hypersensitivity": "absolute",
        "aneurysmal_vascular_disease": "absolute",
        "intracerebral_haemorrhage": "absolute",
        "active_psychosis": "absolute",
        "pregnancy": "absolute",
        "cardiovascular_disease": "relative",
        "liver_disease": "relative",
        "raised_icp_iop": "relative",
        "past_psychosis": "relative",
        "mania_bipolar": "relative",
        "substance_use_disorder": "relative",
    }
    assert [c.key for c in CONTRAINDICATIONS] == list(DEFAULT_CONTRAINDICATION_CLASSES)
    for item in CONTRAINDICATIONS:
        assert item.label and item.question.endswith("?") and item.mitigation_hint
        assert item.source


def test_contraindication_sources_cite_the_reference_honestly():
    assert "§1.4" in contraindication("ketamine_hypersensitivity").source
    assert "§1.1" in contraindication("pregnancy").source
    assert contraindication("mania_bipolar").source == "clinic protocol; not in the reference"
    with pytest.raises(InvalidInput) as exc:
        contraindication("nope")
    assert _field_errors(exc) == {"contraindication_key": MESSAGE_UNKNOWN_CONTRAINDICATION}


def test_classes_validate_fills_defaults():
    result = contraindication_classes_validate({"pregnancy": "relative"})
    assert result["pregnancy"] == "relative"
    assert result["liver_disease"] == "relative"
    assert result["active_psychosis"] == "absolute"
    assert set(result) == set(DEFAULT_CONTRAINDICATION_CLASSES)
    assert contraindication_classes_validate({}) == DEFAULT_CONTRAINDICATION_CLASSES
    # The defaults are copied, not shared.
    result["pregnancy"] = "relative"
    assert DEFAULT_CONTRAINDICATION_CLASSES["pregnancy"] == "absolute"


def test_classes_validate_rejects_a_bad_class():
    with pytest.raises(InvalidInput) as exc:
        contraindication_classes_validate({"pregnancy": "mild"})
    assert _field_errors(exc) == {"contraindication_classes.pregnancy": MESSAGE_CLASS_INVALID}


def test_classes_validate_rejects_an_unknown_key():
    with pytest.raises(InvalidInput) as exc:
        contraindication_classes_validate({"unknown": "absolute", "pregnancy": "relative"})
    assert _field_errors(exc) == {
        "contraindication_classes.unknown": MESSAGE_UNKNOWN_CONTRAINDICATION
    }


def test_classes_validate_reports_every_bad_entry_and_rejects_non_mappings():
    with pytest.raises(InvalidInput) as exc:
        contraindication_classes_validate({"unknown": "absolute", "pregnancy": None})
    assert set(_field_errors(exc)) == {
        "contraindication_classes.unknown",
        "contraindication_classes.pregnancy",
    }
    with pytest.raises(InvalidInput) as exc:
        contraindication_classes_validate(["pregnancy"])
    assert _field_errors(exc) == {"contraindication_classes": MESSAGE_CLASSES_NOT_MAPPING}


def test_risk_prompts():
    by_trigger = {p.contraindication_key: p for p in RISK_PROMPTS}
    assert set(by_trigger) == {"cardiovascular_disease", "liver_disease"}
    assert "ECG" in by_trigger["cardiovascular_disease"].text
    assert "liver function tests" in by_trigger["liver_disease"].text
    for prompt in RISK_PROMPTS:
        assert (prompt.strength, prompt.certainty) == ("C", "low")
        assert "§1.1" in prompt.source
