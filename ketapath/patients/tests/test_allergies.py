import json

import pytest
from django.urls import reverse

from ketapath.audit.models import AuditEvent
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.patients import services
from ketapath.patients.models import Allergy
from ketapath.patients.selectors import patient_allergies, patient_get_for_user


def scoped(user, patient):
    return patient_get_for_user(user=user, patient_id=patient.id)


def test_not_asked_none_known_and_allergies_are_distinct(nurse, patient):
    assert patient_allergies(patient=patient).status == "not_asked"
    services.allergy_none_known(user=nurse, patient=scoped(nurse, patient))
    patient.refresh_from_db()
    assert patient_allergies(patient=patient).status == "none_known"
    services.allergy_add(
        user=nurse, patient=scoped(nurse, patient), substance="Penicillin", severity="severe"
    )
    patient.refresh_from_db()
    summary = patient_allergies(patient=patient)
    assert summary.status == "has_allergies"
    assert patient.no_known_allergies_at is None  # the earlier statement no longer holds
    with pytest.raises(Conflict):
        services.allergy_none_known(user=nurse, patient=scoped(nurse, patient))
    assert AuditEvent.objects.filter(object_type="allergy", patient_id=patient.id).count() == 2


def test_bad_input_and_duplicates(nurse, patient):
    with pytest.raises(InvalidInput) as caught:
        services.allergy_add(
            user=nurse, patient=scoped(nurse, patient), substance="", severity="deadly"
        )
    assert {e.field for e in caught.value.errors} == {"substance", "severity"}
    services.allergy_add(
        user=nurse, patient=scoped(nurse, patient), substance="Latex", severity="mild"
    )
    with pytest.raises(InvalidInput) as caught:
        services.allergy_add(
            user=nurse, patient=scoped(nurse, patient), substance="latex", severity="moderate"
        )
    assert caught.value.errors[0].rule == services.MESSAGE_ALLERGY_DUPLICATE
    assert Allergy.objects.count() == 1


def test_remove_needs_reason_and_keeps_the_row(nurse, patient):
    allergy = services.allergy_add(
        user=nurse, patient=scoped(nurse, patient), substance="Sulfa", severity="moderate"
    )
    with pytest.raises(InvalidInput):
        services.allergy_remove(user=nurse, allergy=allergy, reason=" ")
    services.allergy_remove(user=nurse, allergy=allergy, reason="Entered in error")
    allergy.refresh_from_db()
    assert not allergy.active
    assert patient_allergies(patient=patient).status == "not_asked"
    assert patient_allergies(patient=patient, include_removed=True).allergies == [allergy]


def test_roles_without_write_cannot_record(therapist, patient):
    with pytest.raises(Forbidden):
        services.allergy_add(
            user=therapist, patient=scoped(therapist, patient), substance="X", severity="mild"
        )


def test_banner_shows_each_state(client_for, nurse, patient):
    client = client_for(nurse)
    url = reverse("chart:patient", args=[patient.id])
    assert "Not yet asked" in client.get(url).content.decode()
    client.post(reverse("patients:allergy_none_known", args=[patient.id]))
    assert "No known allergies" in client.get(url).content.decode()
    client.post(
        reverse("patients:allergy_new", args=[patient.id]),
        {"substance": "Penicillin", "reaction": "Hives", "severity": "severe"},
    )
    banner = client.get(url).content.decode().split("patient-banner", 1)[1].split("</section>")[0]
    assert "Penicillin (severe)" in banner
    assert "badge-danger" in banner


def test_pages_permissions(client, client_for, nurse, biller, other_clinic_nurse, patient):
    allergy = services.allergy_add(
        user=nurse, patient=scoped(nurse, patient), substance="Latex", severity="mild"
    )
    urls = [
        reverse("patients:allergy_new", args=[patient.id]),
        reverse("patients:allergy_remove", args=[patient.id, allergy.id]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
        assert client_for(other_clinic_nurse).get(url).status_code == 404
        assert client_for(biller).get(url).status_code == 403
        assert client_for(nurse).get(url).status_code == 200
    none_known = reverse("patients:allergy_none_known", args=[patient.id])
    assert client_for(biller).post(none_known).status_code == 403
    assert client_for(nurse).get(none_known).status_code == 405


def test_remove_page_confirms(client_for, nurse, patient):
    allergy = services.allergy_add(
        user=nurse, patient=scoped(nurse, patient), substance="Latex", severity="mild"
    )
    url = reverse("patients:allergy_remove", args=[patient.id, allergy.id])
    client = client_for(nurse)
    client.post(url, {"reason": "Entered in error"})
    allergy.refresh_from_db()
    assert allergy.active
    client.post(url, {"reason": "Entered in error", "confirm": "on"})
    allergy.refresh_from_db()
    assert not allergy.active


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_api_contract(client, api_client, nurse, biller, other_clinic_nurse, patient):
    url = f"/api/v1/patients/{patient.id}/allergies"
    assert client.get(url).status_code == 401
    assert api_client(other_clinic_nurse).get(url).status_code == 404
    body = api_client(nurse).get(url).json()
    assert body["status"] == "not_asked"
    assert body["count"] == 0
    assert post(api_client(biller), url, {"none_known": True}).status_code == 403
    response = post(api_client(nurse), url, {"none_known": True})
    assert response.status_code == 201
    assert response.json()["status"] == "none_known"
    assert response.json()["none_known_at"] is not None
    bad = post(api_client(nurse), url, {"substance": "Penicillin"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "severity"
    assert post(api_client(nurse), url, {"none_known": True, "substance": "X"}).status_code == 422
    created = post(
        api_client(nurse),
        url,
        {"substance": "Penicillin", "reaction": "Hives", "severity": "severe"},
    )
    assert created.status_code == 201
    payload = created.json()
    assert payload["status"] == "has_allergies"
    assert payload["items"][0]["substance"] == "Penicillin"
    assert payload["none_known_at"] is None
