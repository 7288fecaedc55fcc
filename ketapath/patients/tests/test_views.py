from datetime import UTC, date, timedelta

import pytest
from django.urls import reverse

from ketapath.audit.models import AuditEvent
from ketapath.core.timeutils import local_today
from ketapath.patients import services
from ketapath.patients.models import Consent, ConsentKind, Escort, Patient

FORM = {
    "given_name": "Dana",
    "family_name": "Whitfield",
    "birth_date": "1971-03-09",
    "sex_at_birth": "female",
    "phone": "(303) 555-0199",
    "email": "",
    "preferred_contact": "phone",
}


def form_for(site, **changes):
    return {**FORM, "preferred_clinic": str(site.id), **changes}


def page_urls(patient, consent=None, escort=None):
    urls = [
        reverse("patients:edit", args=[patient.id]),
        reverse("patients:consent_new", args=[patient.id]),
        reverse("patients:escort_new", args=[patient.id]),
    ]
    if consent:
        urls.append(reverse("patients:consent_withdraw", args=[patient.id, consent.id]))
    if escort:
        urls.append(reverse("patients:escort_remove", args=[patient.id, escort.id]))
    return urls


@pytest.fixture
def consent(front_desk, site, patient, consent_documents):
    return services.consent_record(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="Alex Rivera",
    )


@pytest.fixture
def escort(front_desk, patient):
    return services.escort_add(
        user=front_desk, patient=patient, name="Sam Rivera", phone="3035550123", relation="son"
    )


def test_anonymous_redirects_to_login(client, patient, consent, escort):
    for url in [
        reverse("patients:list"),
        reverse("patients:new"),
        *page_urls(patient, consent, escort),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/")


def test_other_site_is_404_and_audited(client_for, other_clinic_nurse, patient, consent, escort):
    client = client_for(other_clinic_nurse)
    for url in page_urls(patient, consent, escort):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            reverse("patients:enrol", args=[patient.id]),
            {"clinic": str(patient.preferred_clinic_id)},
        ).status_code
        == 404
    )
    assert (
        AuditEvent.objects.filter(
            patient_id=patient.id, outcome="denied", username="nurse2"
        ).count()
        >= 3
    )


def test_roles_without_write_get_403(
    client_for, therapist, biller, privacy_officer, clinic_admin, patient, consent, escort
):
    for user in (therapist, biller, privacy_officer, clinic_admin):
        client = client_for(user)
        for url in page_urls(patient, consent, escort):
            assert client.get(url).status_code == 403, (user.username, url)
        assert client.get(reverse("patients:new")).status_code == 403
        assert client.get(reverse("patients:list")).status_code == 200


@pytest.mark.parametrize("persona", ["director", "prescriber", "nurse", "front_desk"])
def test_writers_get_every_page(request, client_for, patient, consent, escort, persona):
    client = client_for(request.getfixturevalue(persona))
    for url in [reverse("patients:new"), *page_urls(patient, consent, escort)]:
        assert client.get(url).status_code == 200, url


def test_list_search_and_pagination(client_for, nurse, make_patient, other_site_patient):
    for i in range(27):
        make_patient(family_name=f"Zed{i:02d}")
    target = make_patient(given_name="Quinn", family_name="Abara")
    client = client_for(nurse)
    response = client.get(reverse("patients:list"))
    assert response.status_code == 200
    assert response.context["page"].count == 28
    assert len(response.context["page"].items) == 25
    assert other_site_patient.family_name not in response.content.decode()
    page2 = client.get(reverse("patients:list"), {"page": 2})
    assert len(page2.context["page"].items) == 3
    found = client.get(reverse("patients:list"), {"q": "abara"})
    assert [p.id for p in found.context["page"].items] == [target.id]
    assert client.get(reverse("patients:list"), {"page": "x"}).status_code == 200


def test_register_patient(client_for, front_desk, site):
    client = client_for(front_desk)
    response = client.post(reverse("patients:new"), form_for(site))
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("chart:patient", args=[patient.id])
    assert patient.mrn == "TKC000001"


def test_register_bad_input_shows_errors_beside_fields(client_for, front_desk, site):
    client = client_for(front_desk)
    future = (local_today(site.time_zone) + timedelta(days=3)).isoformat()
    response = client.post(
        reverse("patients:new"),
        form_for(site, birth_date=future, phone="not a phone", given_name="x" * 81),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert services.MESSAGE_BIRTH_DATE_FUTURE in form.errors["birth_date"]
    assert form.errors["given_name"]
    assert not Patient.objects.exists()
    body = response.content.decode()
    assert "Nothing was saved" in body


def test_register_duplicate_warns_then_confirms(client_for, front_desk, site):
    client = client_for(front_desk)
    client.post(reverse("patients:new"), form_for(site))
    response = client.post(reverse("patients:new"), form_for(site))
    assert response.status_code == 200
    assert len(response.context["duplicates"]) == 1
    assert "Possible duplicate" in response.content.decode()
    assert Patient.objects.count() == 1
    confirmed = client.post(reverse("patients:new"), form_for(site, confirm_not_duplicate="on"))
    assert confirmed.status_code == 302
    assert Patient.objects.count() == 2


def test_edit_patient(client_for, nurse, patient, site):
    client = client_for(nurse)
    data = form_for(
        site,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date.isoformat(),
        city="Golden",
        state="co",
    )
    response = client.post(reverse("patients:edit", args=[patient.id]), data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.city, patient.state) == ("Golden", "CO")


def test_record_and_withdraw_consent(client_for, nurse, patient, consent_documents):
    client = client_for(nurse)
    response = client.post(
        reverse("patients:consent_new", args=[patient.id]),
        {"kind": "ketamine_treatment", "signed_by_name": "Alex Rivera", "signer_relation": "self"},
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert consent.witnessed_by == nurse
    url = reverse("patients:consent_withdraw", args=[patient.id, consent.id])
    unconfirmed = client.post(url, {"reason": "Changed mind"})
    assert unconfirmed.status_code == 200
    consent.refresh_from_db()
    assert consent.withdrawn_at is None
    client.post(url, {"reason": "Changed mind", "confirm": "on"})
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None


def test_consent_signed_at_is_read_in_site_time_zone(client_for, nurse, patient, consent_documents):
    client = client_for(nurse)
    client.post(
        reverse("patients:consent_new", args=[patient.id]),
        {
            "kind": "sms_contact",
            "signed_by_name": "Alex",
            "signer_relation": "self",
            "signed_at": "2026-01-15T09:30",
        },
    )
    consent = Consent.objects.get()
    # 09:30 in Denver (MST, UTC-7) is 16:30 UTC.
    assert consent.signed_at.astimezone(UTC).hour == 16


def test_escort_add_and_remove(client_for, nurse, patient):
    client = client_for(nurse)
    bad = client.post(
        reverse("patients:escort_new", args=[patient.id]),
        {"name": "Lee", "phone": "12", "relation": "friend"},
    )
    assert bad.status_code == 200
    assert bad.context["form"].errors["phone"]
    client.post(
        reverse("patients:escort_new", args=[patient.id]),
        {"name": "Lee Park", "phone": "303 555 0110", "relation": "friend"},
    )
    escort = Escort.objects.get()
    assert escort.phone == "+13035550110"
    client.post(reverse("patients:escort_remove", args=[patient.id, escort.id]), {"confirm": "on"})
    escort.refresh_from_db()
    assert not escort.active


def test_enrol_at_other_site(client_for, make_user, site, other_site, patient):
    from ketapath.accounts.models import Membership

    user = make_user("floater", site, "nurse")
    Membership.objects.create(user=user, clinic=other_site, role="nurse")
    client = client_for(user)
    response = client.post(
        reverse("patients:enrol", args=[patient.id]), {"clinic": str(other_site.id)}
    )
    assert response.status_code == 302
    assert patient.enrolments.filter(clinic=other_site).exists()


def test_birth_date_age_shown(client_for, nurse, make_patient):
    make_patient(birth_date=date(2000, 1, 1))
    body = client_for(nurse).get(reverse("patients:list")).content.decode()
    assert "2000-01-01" in body


def test_consent_forms_pages(
    client, client_for, director, nurse, other_clinic_nurse, consent_documents, site
):
    today = local_today(site.time_zone)  # the director's site, whose date the page uses
    doc = consent_documents[ConsentKind.KETAMINE_TREATMENT]
    assert client.get(reverse("patients:consent_documents")).status_code == 302
    nurse_client = client_for(nurse)
    listing = nurse_client.get(reverse("patients:consent_documents"))
    assert listing.status_code == 200
    assert listing.context["page"].count == 3
    assert nurse_client.get(reverse("patients:consent_document", args=[doc.id])).status_code == 200
    assert nurse_client.get(reverse("patients:consent_document_new")).status_code == 403
    director_client = client_for(director)
    assert director_client.get(reverse("patients:consent_document_new")).status_code == 200
    past = director_client.post(
        reverse("patients:consent_document_new"),
        {
            "kind": "ketamine_treatment",
            "title": "T",
            "body": "B",
            "effective_from": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert services.MESSAGE_EFFECTIVE_PAST in past.context["form"].errors["effective_from"]
    published = director_client.post(
        reverse("patients:consent_document_new"),
        {
            "kind": "ketamine_treatment",
            "title": "Treatment consent",
            "body": "New text",
            "effective_from": today.isoformat(),
        },
    )
    assert published.status_code == 302
    assert doc.organization.consent_documents.filter(kind="ketamine_treatment", version=2).exists()
    assert AuditEvent.objects.filter(object_type="consent_document", action="create").exists()


def test_consent_form_of_another_organisation_is_404(client_for, nurse):
    from ketapath.clinics.models import Organization
    from ketapath.patients.models import ConsentDocument

    other = Organization.objects.create(name="Elsewhere", mrn_prefix="ELS")
    doc = ConsentDocument.objects.create(
        organization=other,
        kind="sms_contact",
        version=1,
        title="X",
        body="Y",
        effective_from=date(2025, 1, 1),
    )
    assert (
        client_for(nurse).get(reverse("patients:consent_document", args=[doc.id])).status_code
        == 404
    )


def test_opening_a_patient_form_is_an_audited_read(client_for, nurse, patient):
    client_for(nurse).get(reverse("patients:edit", args=[patient.id]))
    event = AuditEvent.objects.get(action="read", patient_id=patient.id)
    assert event.outcome == "success"
    assert event.username == "nurse"
