"""Report pages: the reconciliation page with its CSV and PDF exports (the medical director
only, exports audited) and the dispensing log (with its link on the chart)."""

import base64
import csv
import io
import re
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import Membership, Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.pharmacy.models import Formulation
from ketapath.pharmacy.tests.reports_factories import Scenario, build_scenario

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]

OTHER_ROLES = ("therapist", "front_desk", "biller", "privacy_officer", "clinic_admin")


@pytest.fixture
def scenario(
    site: Clinic,
    nurse: User,
    second_nurse: User,
    formulation: Formulation,
    patient: Patient,
) -> Scenario:
    return build_scenario(site, nurse, second_nurse, formulation, patient)


def period(s: Scenario) -> dict[str, str]:
    return {"date_from": s.date_from.isoformat(), "date_to": s.date_to.isoformat()}


def pdf_text(data: bytes) -> str:
    """The text-drawing operands of every content stream, decoded (ASCII85, then Flate;
    ReportLab keeps ASCII readable in the text with ``asciiReadable``)."""
    out = []
    for raw in re.findall(rb"[^d]stream\r?\n(.*?)endstream", data, re.S):
        body = raw.strip()
        try:
            if body.endswith(b"~>"):
                body = base64.a85decode(body, adobe=True)
            out.append(zlib.decompressobj().decompress(body).decode("latin-1"))
        except (ValueError, zlib.error):
            continue
    shown = "".join(re.findall(r"\((.*?)(?<!\\)\) Tj", "\n".join(out)))
    return re.sub(r"\\([()\\])", r"\1", shown)


# --- Reconciliation page -------------------------------------------------------------------------


def test_the_page_shows_the_figures_and_the_discrepancy_in_words(
    scenario: Scenario, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(reverse("pharmacy:reconciliation"), period(scenario))
    assert response.status_code == 200
    html = response.content.decode()
    for figure in ("950.00", "500.00", "110.00", "45.00", "50.00", "450.00", "795.00", "770.00"):
        assert figure in html
    assert "Short by 25.00 mg" in html and "badge-danger" in html
    assert "20.00 mg drawn in this period is not yet recorded" in html
    assert "21 CFR 1304.04(a)" in html
    assert scenario.clinic.dea_registration in html
    csv_link = re.search(r'href="(/pharmacy/reconciliation\.csv\?[^"]+)"', html)
    pdf_link = re.search(r'href="(/pharmacy/reconciliation\.pdf\?[^"]+)"', html)
    assert csv_link and pdf_link
    assert f"clinic={scenario.clinic.id}" in csv_link.group(1)


def test_the_page_defaults_to_this_month(
    site: Clinic, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(reverse("pharmacy:reconciliation"))
    assert response.status_code == 200
    today = local_today(site.time_zone)
    assert response.context["form"].cleaned_data["date_from"] == today.replace(day=1)
    assert response.context["form"].cleaned_data["date_to"] == today
    assert "Not counted" in response.content.decode()


def test_a_bad_period_is_shown_beside_its_field(
    site: Clinic, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(
        reverse("pharmacy:reconciliation"), {"date_from": "2025-02-01", "date_to": "2025-01-01"}
    )
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "The end date must be on or after the start date." in response.content.decode()
    response = client_for(director).get(
        reverse("pharmacy:reconciliation"), {"date_from": "soon", "date_to": "2025-01-01"}
    )
    assert "Enter a date as YYYY-MM-DD." in response.content.decode()


@pytest.mark.parametrize("persona", ["nurse", "prescriber", *OTHER_ROLES])
@pytest.mark.parametrize("name", ["reconciliation", "reconciliation_csv", "reconciliation_pdf"])
def test_the_reconciliation_is_the_medical_directors(
    persona: str, name: str, request: Any, site: Clinic, client_for: ClientFor
) -> None:
    user = request.getfixturevalue(persona)
    assert client_for(user).get(reverse(f"pharmacy:{name}")).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


@pytest.mark.parametrize("name", ["reconciliation", "reconciliation_csv", "reconciliation_pdf"])
def test_another_sites_reconciliation_is_404(
    name: str, director: User, other_site: Clinic, client_for: ClientFor
) -> None:
    response = client_for(director).get(reverse(f"pharmacy:{name}"), {"clinic": other_site.id})
    assert response.status_code == 404


def test_a_director_elsewhere_is_refused_here(
    site: Clinic, other_site: Clinic, make_user: Callable[..., User], client_for: ClientFor
) -> None:
    """A director at the other site who is a nurse here reconciles only there."""
    user = make_user("dual", other_site, Role.MEDICAL_DIRECTOR)
    Membership.objects.create(user=user, clinic=site, role=Role.NURSE)
    client = client_for(user)
    response = client.get(reverse("pharmacy:reconciliation"), {"clinic": site.id})
    assert response.status_code == 403
    response = client.get(reverse("pharmacy:reconciliation"), {"clinic": other_site.id})
    assert response.status_code == 200


def test_login_required(site: Clinic) -> None:
    response = Client().get(reverse("pharmacy:reconciliation"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Exports -------------------------------------------------------------------------------------


def test_csv_has_the_site_period_figures_and_vials(
    scenario: Scenario, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(
        reverse("pharmacy:reconciliation_csv"),
        {**period(scenario), "clinic": scenario.clinic.id, "substance": "ketamine"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, values = rows[0], rows[1]
    record = dict(zip(header, values, strict=True))
    assert record["site"] == scenario.clinic.name
    assert record["dea_registration"] == scenario.clinic.dea_registration
    assert (record["date_from"], record["date_to"]) == (
        scenario.date_from.isoformat(),
        scenario.date_to.isoformat(),
    )
    assert {k: record[k] for k in ("opening_mg", "expected_closing_mg", "discrepancy_mg")} == {
        "opening_mg": "950.00",
        "expected_closing_mg": "795.00",
        "discrepancy_mg": "25.00",
    }
    assert record["counted_closing_mg"] == "770.00"
    assert record["generated_by"] == f"{director.display_name} ({director.username})"
    assert record["generated_at"]
    assert rows[2] == []
    vial_header = rows[3]
    vials = [dict(zip(vial_header, r, strict=True)) for r in rows[4:]]
    assert [v["vial"] for v in vials] == ["K-0001", "K-0002", "K-0003"]
    assert vials[1]["counted_mg"] == "420.00" and vials[1]["closing_mg"] == "425.00"
    event = AuditEvent.objects.get(action="export", object_type="reconciliation")
    assert event.user_id == director.id and event.clinic_id == scenario.clinic.id
    assert event.detail["format"] == "csv"


def test_csv_without_a_count_leaves_counted_and_discrepancy_empty(
    site: Clinic, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(reverse("pharmacy:reconciliation_csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["counted_closing_mg"] == "" and record["discrepancy_mg"] == ""


def test_csv_text_cannot_start_a_formula(
    site: Clinic, director: User, client_for: ClientFor
) -> None:
    site.name = "=HYPERLINK(1)"
    site.save(update_fields=["name"])
    response = client_for(director).get(reverse("pharmacy:reconciliation_csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_pdf_is_one_page_with_the_dea_registration(
    scenario: Scenario, director: User, client_for: ClientFor
) -> None:
    response = client_for(director).get(
        reverse("pharmacy:reconciliation_pdf"), {**period(scenario), "clinic": scenario.clinic.id}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/Count 1" in data
    text = pdf_text(data)
    assert scenario.clinic.dea_registration in text
    assert scenario.clinic.name in text
    assert "795.00" in text and "770.00" in text and "K-0002" in text
    assert "Short by 25.00 mg" in text
    assert "21 CFR 1304.04(a)" in text
    event = AuditEvent.objects.get(action="export", object_type="reconciliation")
    assert event.detail["format"] == "pdf"


def test_pdf_prints_characters_the_font_lacks_as_question_marks(
    site: Clinic, director: User, client_for: ClientFor
) -> None:
    site.name = "Clínica → Norte"
    site.save(update_fields=["name"])
    response = client_for(director).get(reverse("pharmacy:reconciliation_pdf"))
    assert response.status_code == 200
    assert "Norte" in pdf_text(response.content)


def test_a_bad_period_exports_nothing(site: Clinic, director: User, client_for: ClientFor) -> None:
    response = client_for(director).get(
        reverse("pharmacy:reconciliation_pdf"), {"date_from": "2025-02-01", "date_to": "x"}
    )
    assert response.status_code == 400
    assert "Enter a date as YYYY-MM-DD." in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()


# --- Dispensing log ------------------------------------------------------------------------------


def test_the_dispensing_log_page(
    scenario: Scenario, patient: Patient, nurse: User, client_for: ClientFor
) -> None:
    response = client_for(nurse).get(reverse("pharmacy:dispensing_log", args=[patient.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "patient-banner" in html
    assert "Not yet accounted for" in html and "Accounted for" in html
    assert "K-0002" in html and "50 mg/mL" in html
    assert "witnessed by" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d M[SD]T", html)
    event = AuditEvent.objects.get(object_type="dispensing_log", user_id=nurse.id)
    assert event.patient_id == patient.id and event.action == "read"


@pytest.mark.parametrize("persona", ["nurse", "prescriber", "director"])
def test_the_dispensing_log_for_the_ledger_roles(
    persona: str, request: Any, patient: Patient, client_for: ClientFor
) -> None:
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert client.get(reverse("pharmacy:dispensing_log", args=[patient.id])).status_code == 200
    chart = client.get(reverse("chart:patient", args=[patient.id])).content.decode()
    assert reverse("pharmacy:dispensing_log", args=[patient.id]) in chart


@pytest.mark.parametrize("persona", OTHER_ROLES)
def test_the_dispensing_log_is_refused_to_other_roles(
    persona: str, request: Any, patient: Patient, client_for: ClientFor
) -> None:
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert client.get(reverse("pharmacy:dispensing_log", args=[patient.id])).status_code == 403
    chart = client.get(reverse("chart:patient", args=[patient.id]))
    if chart.status_code == 200:
        assert "Dispensing log" not in chart.content.decode()


def test_the_dispensing_log_of_another_sites_patient_is_404(
    other_site_patient: Patient, nurse: User, client_for: ClientFor
) -> None:
    url = reverse("pharmacy:dispensing_log", args=[other_site_patient.id])
    assert client_for(nurse).get(url).status_code == 404


def test_the_dispensing_log_pages(
    scenario: Scenario, patient: Patient, nurse: User, client_for: ClientFor
) -> None:
    url = reverse("pharmacy:dispensing_log", args=[patient.id])
    response = client_for(nurse).get(url, {"page": 2})
    assert response.status_code == 200
    assert response.context["page"].count == 3 and response.context["page"].items == []


def test_an_empty_dispensing_log(patient: Patient, nurse: User, client_for: ClientFor) -> None:
    response = client_for(nurse).get(reverse("pharmacy:dispensing_log", args=[patient.id]))
    assert "No controlled substance has been drawn for this patient." in response.content.decode()
