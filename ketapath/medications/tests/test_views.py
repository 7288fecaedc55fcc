"""Medication pages: list with MME and flags, add, stop (confirm), PDMP check; permissions."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.core.forms import MESSAGE_CONFIRM_REQUIRED
from ketapath.core.timeutils import local_today
from ketapath.medications import services
from ketapath.medications.models import Medication, MmeSnapshot, PdmpCheck
from ketapath.medications.rules import NALOXONE_PROMPT, REASON_OPIOID_BENZODIAZEPINE
from ketapath.medications.tests.factories import add, oxycodone
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]


def urls(patient: Patient, med: Medication) -> dict[str, str]:
    return {
        "list": reverse("medications:list", args=[patient.id]),
        "new": reverse("medications:new", args=[patient.id]),
        "stop": reverse("medications:stop", args=[patient.id, med.id]),
        "pdmp": reverse("medications:pdmp_new", args=[patient.id]),
    }


def test_list_shows_mme_flags_and_interactions(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    oxycodone(nurse, patient, site, mg=20, per_day=2)  # 60
    add(
        nurse,
        patient,
        site,
        "Klonopin 0.5 mg",
        ingredient="clonazepam",
        dose_mg=0.5,
        doses_per_day=2,
        strength="0.5 mg",
    )
    services.pdmp_check_record(
        user=nurse, patient=patient, clinic=site, state="CO", result="concerns_noted"
    )
    response = client_for(nurse).get(reverse("medications:list", args=[patient.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "60.0 MME/day" in html
    assert "Caution: at or above 50" in html
    assert NALOXONE_PROMPT in html
    assert REASON_OPIOID_BENZODIAZEPINE in html
    assert "Concerns noted" in html and "America/Denver" in html
    assert "Add medication" in html


def test_list_uses_policy_thresholds(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    ClinicPolicy.objects.create(clinic=site, version=2, mme_caution_at=70, mme_high_at=120)
    oxycodone(nurse, patient, site, mg=20, per_day=2)  # 60: below the clinic's 70
    html = client_for(nurse).get(reverse("medications:list", args=[patient.id])).content.decode()
    assert "Below 70" in html and NALOXONE_PROMPT not in html


def test_stopped_shown_on_request(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(nurse, patient, site)
    services.medication_stop(
        user=nurse,
        medication=med,
        clinic=site,
        stop_date=local_today(site.time_zone),
        reason="tapered",
    )
    client = client_for(nurse)
    url = reverse("medications:list", args=[patient.id])
    assert "tapered" not in client.get(url).content.decode()
    assert "tapered" in client.get(url + "?stopped=1").content.decode()


def test_add_medication_page(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    client = client_for(prescriber)
    url = reverse("medications:new", args=[patient.id])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "drug_name": "Duragesic 25",
            "opioid_key": "fentanyl-transdermal",
            "dose_mcg_per_hr": "25",
            "route": "transdermal",
            "start_date": str(local_today(site.time_zone) - timedelta(days=3)),
            "prescriber": "Dr. Pain",
        },
    )
    assert response.status_code == 302
    med = Medication.objects.get(patient=patient)
    assert med.ingredient == "fentanyl" and med.rxnorm_ingredient == "4337"
    assert MmeSnapshot.objects.get(patient=patient).total_mme == 60


def test_add_medication_errors_beside_fields(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    today = local_today(site.time_zone)
    response = client_for(prescriber).post(
        reverse("medications:new", args=[patient.id]),
        {
            "drug_name": "Oxy",
            "opioid_key": "oxycodone",
            "dose_mg": "10",
            "route": "oral",
            "start_date": str(today),
            "stop_date": str(today - timedelta(days=2)),
            "prescriber": "Dr. X",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert services.MESSAGE_STOP_BEFORE_START in form.errors["stop_date"]
    assert "doses_per_day" in form.errors
    assert not Medication.objects.exists()


def test_stop_needs_confirmation(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(nurse, patient, site)
    today = local_today(site.time_zone)
    client = client_for(nurse)
    url = reverse("medications:stop", args=[patient.id, med.id])
    assert client.get(url).status_code == 200
    unconfirmed = client.post(url, {"stop_date": str(today)})
    assert MESSAGE_CONFIRM_REQUIRED in unconfirmed.context["form"].errors["confirm"]
    confirmed = client.post(url, {"stop_date": str(today), "confirm": "on"})
    assert confirmed.status_code == 302
    med.refresh_from_db()
    assert med.stop_date == today
    assert MmeSnapshot.objects.filter(trigger="medication_stopped", total_mme=0).exists()


def test_record_pdmp_page(client_for: ClientFor, nurse: User, patient: Patient) -> None:
    client = client_for(nurse)
    url = reverse("medications:pdmp_new", args=[patient.id])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"state": "Colorado", "result": "no_concerns"})
    assert bad.status_code == 200 and not PdmpCheck.objects.exists()
    ok = client.post(url, {"state": "co", "result": "no_concerns", "note": ""})
    assert ok.status_code == 302
    assert PdmpCheck.objects.get(patient=patient).state == "CO"


def test_pages_permissions(
    client: Client,
    client_for: ClientFor,
    nurse: User,
    director: User,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    med = oxycodone(nurse, patient, site)
    pages = urls(patient, med)
    for name, url in pages.items():
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/login" in anonymous["Location"], name
        assert client_for(other_clinic_nurse).get(url).status_code == 404, name
        assert client_for(director).get(url).status_code == 200, name
    # Reading the list needs PATIENT_READ; every write page the clinical roles.
    for user in (front_desk, biller):
        assert client_for(user).get(pages["list"]).status_code == 200
        for name in ("new", "stop", "pdmp"):
            assert client_for(user).get(pages[name]).status_code == 403, (user.username, name)
            assert client_for(user).post(pages[name], {}).status_code == 403


def test_front_desk_sees_no_write_buttons(
    client_for: ClientFor, front_desk: User, patient: Patient
) -> None:
    html = client_for(front_desk).get(reverse("medications:list", args=[patient.id])).content
    assert b"Add medication" not in html and b"Record PDMP check" not in html


def test_list_read_is_audited(client_for: ClientFor, biller: User, patient: Patient) -> None:
    client_for(biller).get(reverse("medications:list", args=[patient.id]))
    assert AuditEvent.objects.filter(
        user_id=biller.id, patient_id=patient.id, action="read", object_type="medication"
    ).exists()


def test_list_query_count_does_not_grow(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = client_for(nurse)
    url = reverse("medications:list", args=[patient.id]) + "?stopped=1"
    oxycodone(nurse, patient, site)
    services.pdmp_check_record(
        user=nurse, patient=patient, clinic=site, state="CO", result="no_concerns"
    )
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(4):
        m = add(nurse, patient, site, f"Drug {n}", ingredient="diazepam" if n else "lamotrigine")
        if n == 3:
            services.medication_stop(
                user=nurse, medication=m, clinic=site, stop_date=local_today(site.time_zone)
            )
        services.pdmp_check_record(
            user=nurse, patient=patient, clinic=site, state="IL", result="not_available"
        )
    assert count() == few
