"""Code-system URIs and the (system, code, display) value used for every coded fact."""

from dataclasses import dataclass

LOINC = "http://loinc.org"
SNOMED_CT = "http://snomed.info/sct"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "urn:oid:2.16.840.1.113883.6.285"
NPI = "http://hl7.org/fhir/sid/us-npi"
ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender"


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str
