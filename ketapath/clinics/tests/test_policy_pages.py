"""The clinic policy page: everyone at the site reads it; only the medical director edits."""

from collections.abc import Callable

import pytest
from django.core.validators import MaxValueValidator
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.services import MESSAGE_POLICY_FORBIDDEN, MESSAGE_POLICY_REASON

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]

ALL_STAFF = [
    "director",
    "prescriber",
    "nurse",
    "therapist",
    "front_desk",
    "biller",
    "privacy_officer",
    "clinic_admin",
]
NOT_DIRECTOR = [p for p in ALL_STAFF if p != "director"]


def _change(**overrides: str) -> dict[str, str]:
    data = {
        "treatment_consent_months": "6",
        "contact_consent_months": "",
        "pcl5_provisional_cutoff": "33",
        "alert_escalation_minutes": "240",
        "mme_caution_at": "50",
        "mme_high_at": "90",
        "evaluation_valid_days": "90",
        "dose_ceiling_mg_per_kg": "1.00",
        "nurse_patients_at_once": "1",
        "reminder_lead_hours": "48",
        "link_lifetime_hours": "72",
        "link_birth_date_tries": "5",
        "pre_session_questionnaire_hours": "24",
        "follow_up_weeks": "1,4,12",
        "fasting_food_hours": "6",
        "fasting_clear_liquid_hours": "2",
        "vial_beyond_use_days": "28",
        "dose_step_mg": "0.50",
        "im_max_ml_per_site": "2.0",
        "pre_dose_hold_systolic": "160",
        "pre_dose_hold_diastolic": "100",
        "pre_dose_ack_systolic": "140",
        "pre_dose_ack_diastolic": "90",
        "alert_systolic": "180",
        "alert_diastolic": "110",
        "alert_hr_high": "120",
        "alert_hr_low": "50",
        "alert_spo2": "92",
        "alert_spo2_critical": "90",
        "alert_spo2_seconds": "30",
        "alert_rr_low": "8",
        "aldrete_threshold": "9",
        "aldrete_circulation": "mmhg_20",
        "min_observation_minutes": "60",
        "reason": "Board",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("name", ["clinics:policy", "clinics:policy_edit"])
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("persona", ALL_STAFF)
def test_everyone_at_the_site_reads_the_policy(
    request: pytest.FixtureRequest, client_for: ClientFor, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse("clinics:policy"))
    assert response.status_code == 200
    page = response.content.decode()
    help_text = str(ClinicPolicy._meta.get_field("treatment_consent_months").help_text)
    assert "Treatment consent valid for (months)" in page
    assert help_text.replace("'", "&#x27;") in page
    assert "Version history" in page
    assert f'href="{reverse("clinics:policy")}"' in page  # in everyone's navigation
    editable = reverse("clinics:policy_edit") in page
    assert editable is (persona == "director")


def test_user_without_a_site_gets_403(client_for: ClientFor, site: Clinic) -> None:
    loner = User.objects.create_user(username="loner", password="x-long-password-1")
    assert client_for(loner).get(reverse("clinics:policy")).status_code == 403


@pytest.mark.parametrize("persona", NOT_DIRECTOR)
def test_only_the_director_may_edit(
    request: pytest.FixtureRequest, client_for: ClientFor, site: Clinic, persona: str
) -> None:
    client = client_for(request.getfixturevalue(persona))
    response = client.get(reverse("clinics:policy_edit"))
    assert response.status_code == 403
    assert MESSAGE_POLICY_FORBIDDEN in response.content.decode()
    assert client.post(reverse("clinics:policy_edit"), _change()).status_code == 403
    assert client.post(reverse("clinics:policy"), _change()).status_code == 403
    assert site.policies.count() == 1


def test_director_of_another_site_cannot_edit_this_one(
    client_for: ClientFor, site: Clinic, other_site: Clinic, make_user: Callable[..., User]
) -> None:
    other = make_user("director2", other_site, "medical_director")
    response = client_for(other).post(reverse("clinics:policy_edit"), _change())
    # Their current site is their own; this site's policy is untouched.
    assert response.status_code == 302
    assert site.policies.count() == 1
    assert other_site.policies.count() == 2


def test_director_changes_the_policy_and_history_shows_it(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    client = client_for(director)
    form = client.get(reverse("clinics:policy_edit"))
    assert form.status_code == 200
    assert form.context["form"].initial["treatment_consent_months"] == 12
    response = client.post(reverse("clinics:policy_edit"), _change(reason="Board decision"))
    assert response.status_code == 302
    assert response["Location"] == reverse("clinics:policy")
    assert list(site.policies.values_list("version", flat=True)) == [2, 1]
    event = AuditEvent.objects.get(object_type="clinic_policy")
    assert event.detail == {"treatment_consent_months": [12, 6]}
    page = client.get(reverse("clinics:policy")).content.decode()
    assert "Version 2, in force since" in page
    assert "Board decision" in page
    assert "Treatment consent valid for (months): 12 → 6" in page
    assert director.display_name in page
    # Times are in the site's zone, and the zone is named.
    assert "(America/Denver)" in page
    assert " MST" in page or " MDT" in page


def test_director_may_post_on_the_policy_page_itself(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    response = client_for(director).post(reverse("clinics:policy"), _change())
    assert response.status_code == 302
    assert site.policies.count() == 2


def test_change_without_reason_is_refused(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    response = client_for(director).post(reverse("clinics:policy_edit"), _change(reason=""))
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == [MESSAGE_POLICY_REASON]
    assert site.policies.count() == 1
    assert not AuditEvent.objects.filter(object_type="clinic_policy").exists()


def test_value_out_of_range_is_refused_beside_the_field(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    response = client_for(director).post(
        reverse("clinics:policy_edit"), _change(treatment_consent_months="40")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["treatment_consent_months"] == [
        MaxValueValidator.message % {"limit_value": 36}
    ]
    assert "Nothing was saved" in response.content.decode()
    assert site.policies.count() == 1


def test_history_is_paginated(client_for: ClientFor, site: Clinic, director: User) -> None:
    for version in range(2, 30):
        ClinicPolicy.objects.create(clinic=site, version=version, change_reason=f"r{version}")
    client = client_for(director)
    first = client.get(reverse("clinics:policy"))
    assert [row.version for row in first.context["history"]] == list(range(29, 4, -1))
    second = client.get(reverse("clinics:policy") + "?page=2")
    assert [row.version for row in second.context["history"]] == [4, 3, 2, 1]


def test_a_choice_setting_reads_as_its_label(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    page = client_for(director).get(reverse("clinics:policy")).content.decode()
    assert "Within ±20 mm Hg of the pre-dose systolic pressure" in page
    assert ">mmhg_20<" not in page
