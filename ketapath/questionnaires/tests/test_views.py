"""Questionnaire pages: list, entry per instrument, result; permissions, markup, queries."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import Patient
from ketapath.questionnaires.forms import MESSAGE_DATE_ORDER
from ketapath.questionnaires.instruments import INSTRUMENTS, PCL5, PFIZER_NOTICE, PHQ9
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.services import RULE_COLLECTED_IN_FUTURE, response_record
from ketapath.questionnaires.views import MESSAGE_SAVED, MESSAGE_SAVED_PARTIAL

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]


def list_url(patient: Patient) -> str:
    return reverse("questionnaires:list", args=[patient.id])


def new_url(patient: Patient, code: str = "phq-9") -> str:
    return reverse("questionnaires:new", args=[patient.id, code])


def phq9_form(item9: int = 0, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {f"item_{n}": "1" for n in range(1, 9)}
    data["item_9"] = str(item9)
    data["item_10"] = "1"
    data["context"] = "screening"
    data.update(extra)
    return data


def stored(user: User, patient: Patient, site: Clinic, **kwargs: Any) -> Response:
    values: dict[str, Any] = {
        "instrument_code": "phq-9",
        "answers": {str(n): 1 for n in range(1, 10)},
        "context": "screening",
    }
    values.update(kwargs)
    return response_record(user=user, patient=patient, clinic=site, **values)


def page_urls(patient: Patient, response: Response) -> list[str]:
    return [
        list_url(patient),
        new_url(patient),
        reverse("questionnaires:detail", args=[patient.id, response.id]),
    ]


# --- permissions -----------------------------------------------------------------------------


def test_anonymous_redirected_to_login(
    client: Client, nurse: User, patient: Patient, site: Clinic
) -> None:
    for address in page_urls(patient, stored(nurse, patient, site)):
        response = client.get(address)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    assert client.post(new_url(patient), phq9_form()).status_code == 302
    assert Response.objects.count() == 1


def test_other_site_404(
    client_for: ClientFor, other_clinic_nurse: User, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = client_for(other_clinic_nurse)
    for address in page_urls(patient, stored(nurse, patient, site)):
        assert client.get(address).status_code == 404
    assert client.post(new_url(patient), phq9_form()).status_code == 404
    assert Response.objects.count() == 1


@pytest.mark.parametrize("persona", ["front_desk", "biller"])
def test_wrong_role_403(
    persona: str,
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for address in page_urls(patient, stored(nurse, patient, site)):
        assert client.get(address).status_code == 403
    assert client.post(new_url(patient), phq9_form()).status_code == 403
    assert Response.objects.count() == 1


@pytest.mark.parametrize("persona", ["nurse", "therapist", "prescriber"])
def test_clinical_roles_ok(
    persona: str,
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for address in page_urls(patient, stored(nurse, patient, site)):
        assert client.get(address).status_code == 200


def test_unknown_instrument_and_response_404(
    client_for: ClientFor, nurse: User, patient: Patient, other_site_patient: Patient, site: Clinic
) -> None:
    client = client_for(nurse)
    assert client.get(new_url(patient, "bdi-ii")).status_code == 404
    response = stored(nurse, patient, site)
    # A response id under another patient's path is not found.
    other = reverse("questionnaires:detail", args=[other_site_patient.id, response.id])
    assert client.get(other).status_code == 404


# --- entry page ------------------------------------------------------------------------------


def test_entry_page_is_keyboard_usable_markup(
    client_for: ClientFor, nurse: User, patient: Patient
) -> None:
    html = client_for(nurse).get(new_url(patient)).content.decode()
    assert "<script" not in html
    assert html.count("<fieldset") == len(PHQ9.items)
    assert html.count("<legend>") == len(PHQ9.items)
    for item in PHQ9.items:
        assert f"{item.link_id}. {item.text}" in html
        for n, option in enumerate(item.options):
            radio_id = f"id_item_{item.link_id}_{n}"
            assert re.search(rf'<label class="q-option" for="{radio_id}"><input type="radio"', html)
            assert f'value="{option.value}"' in html
    # The difficulty item is shown and marked as not scored.
    legend = re.search(r"<legend>10\. .*?</legend>", html, re.S)
    assert legend is not None and "Not scored" in legend.group(0)
    assert PFIZER_NOTICE in html
    assert '<label for="id_context">' in html
    assert '<label for="id_collected_at">' in html
    assert "partial response gets no total" in html


def test_every_instrument_has_an_entry_page(
    client_for: ClientFor, nurse: User, patient: Patient
) -> None:
    client = client_for(nurse)
    for code, instrument in INSTRUMENTS.items():
        html = client.get(new_url(patient, code)).content.decode()
        assert html.count("<fieldset") == len(instrument.items)
        assert instrument.licence_note in html
    assert "Public domain" in PCL5.licence_note


def test_save_complete_shows_result(client_for: ClientFor, nurse: User, patient: Patient) -> None:
    response = client_for(nurse).post(new_url(patient), phq9_form(), follow=True)
    assert response.status_code == 200
    saved = Response.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "questionnaires:detail", args=[patient.id, saved.id]
    )
    html = response.content.decode()
    assert MESSAGE_SAVED.format(title=PHQ9.title) in html
    assert "<strong>8</strong>" in html
    assert '<span class="badge badge-warn">Mild</span>' in html
    assert saved.answers["10"] == 1
    assert "care team has been alerted" not in html


def test_save_item9_alert_notice(client_for: ClientFor, nurse: User, patient: Patient) -> None:
    html = client_for(nurse).post(new_url(patient), phq9_form(item9=1), follow=True)
    text = html.content.decode()
    assert SafetyAlert.objects.filter(patient=patient, status="open").count() == 1
    assert 'role="alert"' in text
    assert "Safety alert raised: the care team has been alerted." in text
    assert '<span aria-hidden="true">⚠</span>' in text


def test_save_partial_says_so(client_for: ClientFor, nurse: User, patient: Patient) -> None:
    data = phq9_form()
    del data["item_2"], data["item_9"]
    text = client_for(nurse).post(new_url(patient), data, follow=True).content.decode()
    saved = Response.objects.get()
    assert saved.complete is False and saved.missing == ["2", "9"]
    assert MESSAGE_SAVED_PARTIAL.format(title=PHQ9.title) in text
    assert "No total: the response is partial" in text
    assert "missing items 2, 9" in text
    assert "Item 9 was not answered." in text
    assert not SafetyAlert.objects.exists()


def test_bad_input_shows_field_errors_and_saves_nothing(
    client_for: ClientFor, nurse: User, patient: Patient
) -> None:
    client = client_for(nurse)
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(new_url(patient), phq9_form(item9=2, collected_at=later))
    assert response.status_code == 200
    text = response.content.decode()
    assert RULE_COLLECTED_IN_FUTURE in text
    assert "Nothing was saved." in text
    response = client.post(new_url(patient), phq9_form(item_3="9"))
    assert response.status_code == 200
    assert 'id="id_item_3_error"' in response.content.decode()
    assert not Response.objects.exists()
    assert not SafetyAlert.objects.exists()


def test_entry_read_is_audited(client_for: ClientFor, nurse: User, patient: Patient) -> None:
    client_for(nurse).get(new_url(patient))
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.READ, patient_id=patient.id, user_id=nurse.id
    ).exists()


# --- list page -------------------------------------------------------------------------------


def test_list_shows_rows_and_is_audited(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    complete = stored(nurse, patient, site)
    partial = stored(nurse, patient, site, answers={"1": 1}, instrument_code="gad-7")
    text = client_for(nurse).get(list_url(patient)).content.decode()
    assert f"Collected ({site.time_zone})" in text
    assert '<span class="badge badge-warn">Mild</span>' in text
    assert "Partial: missing 2, 3, 4, 5, 6, 7" in text
    assert '<span class="badge badge-danger">Safety alert</span>' in text
    local = complete.collected_at.astimezone(ZoneInfo(site.time_zone))
    assert local.strftime("%Y-%m-%d %H:%M") in text
    assert text.count("<tr>") == 3
    event = AuditEvent.objects.get(
        action=AuditEvent.Action.READ, object_type="questionnaire_response"
    )
    assert set(event.detail["responses"]) == {str(complete.id), str(partial.id)}


def test_list_filters(client_for: ClientFor, nurse: User, patient: Patient, site: Clinic) -> None:
    stored(nurse, patient, site)
    stored(nurse, patient, site, instrument_code="gad-7", answers={str(n): 0 for n in range(1, 8)})
    client = client_for(nurse)
    text = client.get(list_url(patient) + "?instrument=gad-7").content.decode()
    assert text.count("<tr>") == 2
    text = client.get(
        list_url(patient) + "?date_from=2026-03-02&date_to=2026-03-01"
    ).content.decode()
    assert MESSAGE_DATE_ORDER in text


def test_list_query_count_is_stable(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = client_for(nurse)
    stored(nurse, patient, site)
    client.get(list_url(patient))  # warm caches (session, permissions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(list_url(patient)).status_code == 200
    for n in range(6):
        stored(nurse, patient, site, collected_at=timezone.now() - timedelta(days=n + 1))
        stored(nurse, patient, site, instrument_code="peg", answers={"1": 5, "2": 5, "3": 5})
    with CaptureQueriesContext(connection) as many:
        assert client.get(list_url(patient)).status_code == 200
    assert len(many) == len(few)
