"""The patient timeline: the selector (fixed query count), the SVG chart, the JSON API and
the pages, with their permissions."""

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.outcomes import timeline as tl
from ketapath.outcomes.tests.timeline_data import (  # noqa: F401 (fixtures)
    booked_fixture,
    diary,
    mme,
    score,
    session,
    treated_fixture,
)
from ketapath.patients.models import Patient
from ketapath.questionnaires.models import Response
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments.models import TreatmentSession

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]
SVG_NS = "{http://www.w3.org/2000/svg}"


# --- Selector ----------------------------------------------------------------------------------


def test_timeline_series_and_sessions(patient: Patient, treated: list[TreatmentSession]) -> None:
    t = tl.patient_timeline(patient=patient)
    measures = [s.measure for s in t.series]
    assert measures == ["pain-nrs", "peg", "pain-diary", "phq-9", "gad-7", "pcl-5", "mme"]
    phq = t.get("phq-9")
    assert phq is not None and [str(p.value) for p in phq.points] == ["14.0", "6.0"]
    mme_series = t.get("mme")
    assert mme_series is not None and mme_series.step and mme_series.unit == "mg/d"
    assert t.get("pain-nrs").unit == "{score}"  # type: ignore[union-attr]
    assert [m.status for m in t.sessions] == ["signed", "aborted", "signed"]
    # A dose marks the time it was given; an aborted session the time it opened.
    assert t.sessions[0].time == treated[0].given_at
    assert t.sessions[1].time == treated[1].opened_at and not t.sessions[1].given
    assert t.first_dose_at == treated[0].given_at
    assert len(t.courses) == 1 and len(t.courses[0].sessions) == 3
    assert "Initial series" in t.sessions[0].course_label


def test_timeline_queries_do_not_grow_with_data(
    patient: Patient,
    booked: list[Appointment],
    course: Course,
    nurse: User,
    prescriber: User,
) -> None:
    start = timezone.now() - timedelta(days=60)
    Response.objects.filter(patient=patient).delete()

    def add(n: int, offset: int) -> None:
        for i in range(n):
            at = start + timedelta(days=offset + i)
            score(patient, "pain-nrs", str(i % 10), at)
            score(patient, "phq-9", str(i % 27), at)
            mme(patient, str(10 * i), at, nurse)
            diary(patient, i % 10, at)

    add(2, 0)
    session(course, booked[0], nurse=nurse, prescriber=prescriber)
    patient = Patient.objects.select_related("preferred_clinic").get(pk=patient.pk)
    with CaptureQueriesContext(connection) as few:
        small = tl.patient_timeline(patient=patient)
    add(8, 10)
    session(course, booked[1], nurse=nurse, prescriber=prescriber)
    session(course, booked[2], nurse=nurse, prescriber=prescriber, aborted=True)
    with CaptureQueriesContext(connection) as many:
        large = tl.patient_timeline(patient=patient)
    assert len(small.get("pain-nrs").points) == 2  # type: ignore[union-attr]
    assert len(large.get("pain-nrs").points) == 10  # type: ignore[union-attr]
    assert len(large.sessions) == 3
    assert len(many) == len(few) == 5


# --- SVG ---------------------------------------------------------------------------------------


def _ids(svg: str) -> set[str]:
    return set(re.findall(r' id="([^"]+)"', svg))


def test_svg_is_well_formed_accessible_and_inline_safe(
    patient: Patient, treated: list[TreatmentSession]
) -> None:
    t = tl.patient_timeline(patient=patient)
    svg = tl.timeline_svg(t, time_zone=t.time_zone, id_prefix="card")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG_NS}title")
    desc = root.find(f"{SVG_NS}desc")
    assert title is not None and title.text == tl.CHART_TITLE
    assert desc is not None and "3 ketamine sessions" in (desc.text or "")
    assert "1 aborted" in (desc.text or "")
    text = " ".join("".join(e.itertext()) for e in root.iter(f"{SVG_NS}text"))
    for label in ("Pain rating, past week (0–10)", "PHQ-9 (0–27)", "PCL-5 (0–80)", "MME"):
        assert label in text
    assert "Session, dose given" in text and "Session aborted" in text
    # A CSP without 'unsafe-inline' would drop style attributes and <style> elements.
    assert " style=" not in svg and "<style" not in svg
    assert not svg.startswith("<?xml")
    # Every id carries the prefix and each reference points at an id of this chart.
    ids = _ids(svg)
    assert ids and all(i.startswith("card-") for i in ids)
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg))
    assert refs <= ids
    other = tl.timeline_svg(t, time_zone=t.time_zone, id_prefix="page")
    assert not ids & _ids(other)
    # Deterministic output for the same data.
    assert svg == tl.timeline_svg(t, time_zone=t.time_zone, id_prefix="card")


def test_svg_without_data_says_so(patient: Patient) -> None:
    t = tl.patient_timeline(patient=patient)
    assert t.is_empty
    svg = tl.timeline_svg(t, time_zone=t.time_zone)
    root = ET.fromstring(svg)
    text = " ".join("".join(e.itertext()) for e in root.iter(f"{SVG_NS}text"))
    assert tl.EMPTY_TEXT in text
    assert not any(i.endswith("axes_1") for i in _ids(svg))


def test_labels_are_escaped_in_svg(patient: Patient, treated: list[TreatmentSession]) -> None:
    course_ = treated[0].course
    course_.protocol.name = 'Pain <script>alert("x")</script> & more'
    course_.protocol.save(update_fields=["name"])
    t = tl.patient_timeline(patient=patient)
    svg = tl.timeline_svg(t, time_zone=t.time_zone)
    ET.fromstring(svg)
    assert "<script" not in svg


# --- API ---------------------------------------------------------------------------------------


def _url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/timeline"


def test_api_shape(
    api_client: ApiClient, nurse: User, patient: Patient, treated: list[TreatmentSession]
) -> None:
    response = api_client(nurse).get(_url(patient))
    assert response.status_code == 200
    body = json.loads(response.content)
    assert set(body) >= {"series", "sessions"}
    by_measure = {s["measure"]: s for s in body["series"]}
    assert set(by_measure) >= {"pain-nrs", "peg", "phq-9", "pcl-5", "gad-7", "mme"}
    for series in body["series"]:
        assert set(series) >= {"measure", "unit", "points"}
        for point in series["points"]:
            assert isinstance(point["value"], int | float)
            moment = datetime.fromisoformat(point["time"])
            # Denver: UTC−07:00 or −06:00, never "Z".
            assert moment.utcoffset() in (timedelta(hours=-7), timedelta(hours=-6))
    assert by_measure["mme"]["unit"] == "mg/d" and by_measure["mme"]["step"] is True
    assert [p["value"] for p in by_measure["phq-9"]["points"]] == [14, 6]
    sessions = body["sessions"]
    assert [s["status"] for s in sessions] == ["signed", "aborted", "signed"]
    assert all(s["course"] == str(treated[0].course_id) for s in sessions)
    assert datetime.fromisoformat(sessions[0]["time"]) == treated[0].given_at
    assert sessions[0]["time"].endswith(("-07:00", "-06:00"))
    assert sessions[0]["amount_mg"] == 30.5
    event = AuditEvent.objects.get(object_type="outcome_timeline")
    assert event.action == "read" and event.patient_id == patient.id


def test_api_permissions(
    client: Client,
    api_client: ApiClient,
    other_clinic_nurse: User,
    clinic_admin: User,
    biller: User,
    front_desk: User,
    therapist: User,
    patient: Patient,
) -> None:
    assert client.get(_url(patient)).status_code == 401
    assert api_client(other_clinic_nurse).get(_url(patient)).status_code == 404
    # Outcome data: the clinical roles of DESIGN §10 read it; billing, the front desk and
    # the clinic admin read demographics only.
    assert api_client(therapist).get(_url(patient)).status_code == 200
    for role in (biller, front_desk, clinic_admin):
        assert api_client(role).get(_url(patient)).status_code == 403
        assert not AuditEvent.objects.filter(object_type="outcome_timeline", user_id=role.id)


# --- Pages -------------------------------------------------------------------------------------


def test_timeline_page(
    client_for: Callable[[User], Client],
    prescriber: User,
    patient: Patient,
    treated: list[TreatmentSession],
) -> None:
    response = client_for(prescriber).get(f"/patients/{patient.id}/timeline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg role="img"' in html or "<svg " in html
    assert "Measures over time" in html and "All values" in html
    assert "Pain rating, past week (0–10)" in html
    assert "Aborted" in html
    assert AuditEvent.objects.filter(object_type="outcome_timeline", action="read").exists()


def test_timeline_page_paginates(
    client_for: Callable[[User], Client], nurse: User, patient: Patient
) -> None:
    start = timezone.now() - timedelta(days=40)
    for i in range(30):
        score(patient, "pain-nrs", str(i % 10), start + timedelta(days=i))
    html = client_for(nurse).get(f"/patients/{patient.id}/timeline/?page=2").content.decode()
    assert "26–30 of 30" in html


def test_timeline_page_permissions(
    client: Client,
    client_for: Callable[[User], Client],
    other_clinic_nurse: User,
    clinic_admin: User,
    front_desk: User,
    patient: Patient,
) -> None:
    url = f"/patients/{patient.id}/timeline/"
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert client_for(front_desk).get(url).status_code == 403
    assert client_for(clinic_admin).get(url).status_code == 403
    # The chart itself stays open to the front desk, without the timeline card.
    chart = client_for(front_desk).get(f"/patients/{patient.id}/")
    assert chart.status_code == 200
    assert "Measures over time" not in chart.content.decode()


def test_chart_card(
    client_for: Callable[[User], Client],
    nurse: User,
    patient: Patient,
    treated: list[TreatmentSession],
) -> None:
    context: dict[str, Any] = tl.timeline_card_context(patient=patient)
    assert str(context["timeline_svg"]).startswith("<svg")
    rows = context["timeline_rows"]
    assert [r.value for r in rows if r.measure == "pain-nrs"] == ["3", "7", "8"]
    html = client_for(nurse).get(f"/patients/{patient.id}/").content.decode()
    assert "Measures over time" in html and "Show data" in html
    assert f"/patients/{patient.id}/timeline/" in html
    assert f"/patients/{patient.id}/report/" in html
