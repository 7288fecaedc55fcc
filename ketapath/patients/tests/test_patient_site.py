"""Which site work on a patient is done at: one rule for every app's pages and API."""

import pytest

from ketapath.accounts.models import Membership
from ketapath.accounts.permissions import forget_grants
from ketapath.core.capabilities import Capability
from ketapath.core.errors import InvalidInput
from ketapath.patients import services
from ketapath.patients.selectors import (
    MESSAGE_SITE_NOT_ALLOWED,
    MESSAGE_SITE_REQUIRED,
    patient_get_for_user,
    patient_site_for_api,
    patient_site_for_page,
)


@pytest.fixture
def floater(make_user, site, other_site):
    user = make_user("floater", site, "nurse")
    Membership.objects.create(user=user, clinic=other_site, role="nurse")
    return user


def scoped(user, patient):
    return patient_get_for_user(
        user=user, patient_id=patient.id, capability=Capability.PATIENT_WRITE
    )


def test_single_site_needs_no_choice(nurse, site, patient, other_site):
    p = scoped(nurse, patient)
    assert patient_site_for_api(patient=p, requested=None) == site
    assert patient_site_for_page(patient=p, current=other_site) == site
    with pytest.raises(InvalidInput) as caught:
        patient_site_for_api(patient=p, requested=other_site.id)
    assert caught.value.errors[0].field == "clinic"
    assert caught.value.errors[0].rule == MESSAGE_SITE_NOT_ALLOWED


def test_preferred_site_wins_then_the_current_page_site(floater, site, other_site, patient):
    services.patient_enrol(user=floater, patient=scoped(floater, patient), clinic=other_site)
    p = scoped(floater, patient)
    assert patient_site_for_api(patient=p, requested=None) == site  # the preferred site
    assert patient_site_for_api(patient=p, requested=other_site.id) == other_site
    assert patient_site_for_page(patient=p, current=other_site) == other_site


def test_api_asks_when_several_sites_and_none_preferred(floater, site, other_site, patient):
    services.patient_enrol(user=floater, patient=scoped(floater, patient), clinic=other_site)
    patient.enrolments.filter(clinic=site).delete()
    from ketapath.clinics.models import Clinic, Organization

    third = Clinic.objects.create(
        organization=Organization.objects.get(),
        name="Aurora Site",
        address_line1="2 Main",
        city="Aurora",
        state="CO",
        postal_code="80010",
        phone="+13035550111",
        time_zone="America/Denver",
    )
    Membership.objects.create(user=floater, clinic=third, role="nurse")
    forget_grants(floater)  # roles are cached on the user object for a request
    services.patient_enrol(user=floater, patient=scoped(floater, patient), clinic=third)
    p = scoped(floater, patient)
    with pytest.raises(InvalidInput) as caught:
        patient_site_for_api(patient=p, requested=None)
    assert caught.value.errors[0].rule == MESSAGE_SITE_REQUIRED
    # A page without a usable current site takes the first by name.
    assert patient_site_for_page(patient=p, current=None) == third
