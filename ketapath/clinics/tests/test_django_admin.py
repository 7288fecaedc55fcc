"""Django admin shows clinic data read-mostly: only organisations can be edited there."""

import pytest
from django.contrib import admin
from django.test import Client

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Organization, Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(site: Clinic) -> Client:
    user = User.objects.create_superuser(username="root", password="a-long-root-password")
    client = Client()
    client.force_login(user)
    return client


def test_every_clinic_model_is_registered() -> None:
    for model in (Organization, Clinic, OpeningHours, Closure, Room, ClinicPolicy):
        assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", [Clinic, OpeningHours, Closure, Room, ClinicPolicy])
def test_clinic_models_are_read_only(superuser_client: Client, model: type) -> None:
    opts = model._meta
    changelist = f"/django-admin/clinics/{opts.model_name}/"
    assert superuser_client.get(changelist).status_code == 200
    assert superuser_client.get(f"{changelist}add/").status_code == 403


def test_policy_cannot_be_changed_or_deleted_in_django_admin(
    superuser_client: Client, site: Clinic
) -> None:
    policy = site.policies.get()
    url = f"/django-admin/clinics/clinicpolicy/{policy.pk}/change/"
    page = superuser_client.get(url)
    assert page.status_code == 200
    assert 'name="treatment_consent_months"' not in page.content.decode()
    response = superuser_client.post(url, {"treatment_consent_months": 3})
    assert response.status_code == 403
    deleted = superuser_client.post(
        f"/django-admin/clinics/clinicpolicy/{policy.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 403
    policy.refresh_from_db()
    assert policy.treatment_consent_months == 12


def test_organisation_is_editable_but_its_mrn_counter_is_not(
    superuser_client: Client, organization: Organization
) -> None:
    url = f"/django-admin/clinics/organization/{organization.pk}/change/"
    page = superuser_client.get(url).content.decode()
    assert 'name="name"' in page
    assert 'name="mrn_next"' not in page
