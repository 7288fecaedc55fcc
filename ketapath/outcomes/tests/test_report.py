"""The progress report: its measures table, the PDF, the release recorded as a disclosure
(and nothing recorded when the input is refused), the API and the page, with permissions."""

import hashlib
from collections.abc import Callable

import pytest
from django.test import Client

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.core.errors import InvalidInput
from ketapath.outcomes import report
from ketapath.outcomes.tests.timeline_data import (  # noqa: F401 (fixtures)
    booked_fixture,
    treated_fixture,
)
from ketapath.outcomes.timeline import patient_timeline
from ketapath.patients.models import Patient
from ketapath.treatments.models import TreatmentSession

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]


def _disclosures() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="disclose"))


# --- The measures table ------------------------------------------------------------------------


def test_baseline_is_the_last_value_before_the_first_dose(
    patient: Patient, treated: list[TreatmentSession]
) -> None:
    summaries = {s.measure: s for s in report.measure_summaries(patient_timeline(patient=patient))}
    pain = summaries["pain-nrs"]
    # 8 ten days before, 7 an hour before the first dose, 3 after: the baseline is 7.
    assert pain.baseline is not None and pain.baseline.value == 7
    assert pain.latest is not None and pain.latest.value == 3
    assert str(pain.points) == "-4.0" and str(pain.percent) == "-57.1"
    assert pain.interpretation.startswith("Substantial improvement")
    phq = summaries["phq-9"]
    assert phq.interpretation == "Response; not in remission"  # 14 → 6
    # Only a baseline: no change and no interpretation.
    pcl = summaries["pcl-5"]
    assert pcl.baseline is not None and pcl.latest is None and pcl.points is None
    assert "mme" not in summaries


# --- The release -------------------------------------------------------------------------------


def test_release_builds_a_pdf_and_records_the_disclosure(
    prescriber: User, patient: Patient, treated: list[TreatmentSession]
) -> None:
    pdf = report.report_release(
        user=prescriber,
        patient=patient,
        recipient="referring_physician",
        recipient_name="Dr Ann Lee",
        purpose="Continuity of care after the initial series",
    )
    assert pdf.startswith(b"%PDF")
    (event,) = _disclosures()
    assert event.object_type == "progress_report"
    assert event.patient_id == patient.id and event.object_id == str(patient.id)
    assert event.user_id == prescriber.id and event.outcome == "success"
    assert event.detail["recipient"] == "referring_physician"
    assert event.detail["recipient_name"] == "Dr Ann Lee"
    assert event.detail["purpose"] == "Continuity of care after the initial series"
    assert event.detail["pages"] >= 1
    assert event.detail["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_report_without_data_still_prints(nurse: User, patient: Patient) -> None:
    pdf = report.report_release(
        user=nurse, patient=patient, recipient="patient", purpose="Requested by the patient"
    )
    assert pdf.startswith(b"%PDF") and len(_disclosures()) == 1


@pytest.mark.parametrize(
    ("recipient", "purpose", "name", "field", "rule"),
    [
        ("insurer", "Claims", "", "recipient", report.MESSAGE_RECIPIENT),
        ("patient", "   ", "", "purpose", report.MESSAGE_PURPOSE_REQUIRED),
        ("patient", "x" * 201, "", "purpose", report.MESSAGE_PURPOSE_TOO_LONG),
        ("referring_physician", "Care", "x" * 151, "recipient_name",
         report.MESSAGE_RECIPIENT_NAME_TOO_LONG),
        ("patient", "Care", "Dr Who", "recipient_name",
         report.MESSAGE_RECIPIENT_NAME_FOR_PATIENT),
    ],
)  # fmt: skip
def test_invalid_release_names_the_field_and_records_nothing(
    nurse: User, patient: Patient, recipient: str, purpose: str, name: str, field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        report.report_release(
            user=nurse,
            patient=patient,
            recipient=recipient,
            purpose=purpose,
            recipient_name=name,
        )
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]
    assert _disclosures() == []


def test_purpose_of_200_characters_is_accepted(nurse: User, patient: Patient) -> None:
    report.report_release(user=nurse, patient=patient, recipient="patient", purpose="x" * 200)
    assert len(_disclosures()) == 1


# --- API ---------------------------------------------------------------------------------------


def _url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/report.pdf"


def test_api_report(
    api_client: ApiClient, nurse: User, patient: Patient, treated: list[TreatmentSession]
) -> None:
    response = api_client(nurse).get(
        _url(patient), {"recipient": "referring_physician", "purpose": "Follow-up letter"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"progress-report-{patient.mrn}-" in response["Content-Disposition"]
    (event,) = _disclosures()
    assert event.detail["recipient"] == "referring_physician"
    assert event.detail["purpose"] == "Follow-up letter"


def test_api_report_defaults(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    assert api_client(nurse).get(_url(patient)).status_code == 200
    (event,) = _disclosures()
    assert event.detail["recipient"] == report.RECIPIENT_PATIENT
    assert event.detail["purpose"] == report.DEFAULT_PURPOSE


def test_api_report_invalid_input(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    response = api_client(nurse).get(_url(patient), {"recipient": "insurer"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [{"field": "recipient", "rule": report.MESSAGE_RECIPIENT}]
    assert _disclosures() == []


def test_api_report_permissions(
    client: Client,
    api_client: ApiClient,
    other_clinic_nurse: User,
    clinic_admin: User,
    front_desk: User,
    biller: User,
    patient: Patient,
) -> None:
    assert client.get(_url(patient)).status_code == 401
    assert api_client(other_clinic_nurse).get(_url(patient)).status_code == 404
    for role in (clinic_admin, front_desk, biller):
        assert api_client(role).get(_url(patient)).status_code == 403
    assert _disclosures() == []


# --- Page --------------------------------------------------------------------------------------


def _page(patient: Patient) -> str:
    return f"/patients/{patient.id}/report/"


def test_report_page_form_and_download(
    client_for: Callable[[User], Client],
    prescriber: User,
    patient: Patient,
    treated: list[TreatmentSession],
) -> None:
    browser = client_for(prescriber)
    form = browser.get(_page(patient))
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="recipient"' in html and 'name="purpose"' in html
    assert report.DEFAULT_PURPOSE in html
    assert _disclosures() == []
    response = browser.post(
        _page(patient),
        {"recipient": "referring_physician", "recipient_name": "Dr Lee", "purpose": "Referral"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    (event,) = _disclosures()
    assert event.detail["recipient_name"] == "Dr Lee" and event.detail["purpose"] == "Referral"


def test_report_page_shows_errors_beside_fields(
    client_for: Callable[[User], Client], nurse: User, patient: Patient
) -> None:
    response = client_for(nurse).post(
        _page(patient), {"recipient": "patient", "purpose": "x" * 201}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert report.MESSAGE_PURPOSE_TOO_LONG in html
    assert 'id="id_purpose_error"' in html
    assert _disclosures() == []


def test_report_page_permissions(
    client: Client,
    client_for: Callable[[User], Client],
    other_clinic_nurse: User,
    clinic_admin: User,
    front_desk: User,
    patient: Patient,
) -> None:
    response = client.get(_page(patient))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(other_clinic_nurse).get(_page(patient)).status_code == 404
    assert (
        client_for(other_clinic_nurse).post(_page(patient), {"recipient": "patient"}).status_code
        == 404
    )
    for role in (clinic_admin, front_desk):
        assert client_for(role).post(_page(patient), {"recipient": "patient"}).status_code == 403
    assert _disclosures() == []
