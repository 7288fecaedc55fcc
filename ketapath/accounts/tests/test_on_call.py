"""The on-call page: the medical director chooses who gets out-of-hours alerts, saved as a
new clinic-policy version; everyone at the site sees who it is."""

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import Membership, Role, User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.observations.selectors import on_call_recipients

ClientFor = Callable[[User], Client]
URL = "/accounts/on-call/"


def test_on_call_page_permissions(
    client: Client,
    client_for: ClientFor,
    make_user: Callable[..., User],
    site: Clinic,
    director: User,
    prescriber: User,
    nurse: User,
) -> None:
    assert reverse("accounts:on_call") == URL
    assert client.get(URL).status_code == 302
    nobody = make_user("nobody", site)  # no membership: no site
    assert client_for(nobody).get(URL).status_code == 403
    seen = client_for(nurse).get(URL)
    assert seen.status_code == 200
    text = seen.content.decode()
    assert "Nobody on call" in text and director.display_name in text
    assert 'name="on_call"' not in text
    versions = ClinicPolicy.objects.filter(clinic=site).count()
    refused = client_for(nurse).post(URL, {"on_call": str(prescriber.id), "reason": "Nights"})
    assert refused.status_code == 403
    assert ClinicPolicy.objects.filter(clinic=site).count() == versions
    assert 'name="on_call"' in client_for(director).get(URL).content.decode()


def test_director_sets_the_on_call_clinician(
    client_for: ClientFor,
    site: Clinic,
    director: User,
    prescriber: User,
    nurse: User,
) -> None:
    before = clinic_policy_current(clinic=site)
    assert on_call_recipients(clinic=site) == [director]
    c = client_for(director)
    page = c.get(URL).content.decode()
    assert prescriber.display_name in page
    assert f'value="{nurse.id}"' not in page  # nurses are not on call for alerts

    response = c.post(URL, {"on_call": str(prescriber.id), "reason": "Covering nights this week"})
    assert response.status_code == 302
    policy = clinic_policy_current(clinic=site)
    assert policy.version == before.version + 1
    assert policy.on_call_user_id == prescriber.id
    assert policy.change_reason == "Covering nights this week"
    assert on_call_recipients(clinic=site) == [prescriber]
    assert AuditEvent.objects.filter(
        object_type="clinic_policy", object_id=str(policy.id), username="director"
    ).exists()
    shown = c.get(URL).content.decode()
    assert "On call</span> <strong>" + prescriber.display_name in shown

    back = c.post(URL, {"on_call": "", "reason": "Back to the directors"})
    assert back.status_code == 302
    assert clinic_policy_current(clinic=site).on_call_user_id is None
    assert on_call_recipients(clinic=site) == [director]


def test_on_call_bad_input_saves_nothing(
    client_for: ClientFor,
    make_user: Callable[..., User],
    site: Clinic,
    other_site: Clinic,
    director: User,
    prescriber: User,
    nurse: User,
) -> None:
    elsewhere = make_user("elsewhere", other_site, Role.PRESCRIBER)
    c = client_for(director)
    versions = ClinicPolicy.objects.filter(clinic=site).count()
    no_reason = c.post(URL, {"on_call": str(prescriber.id), "reason": ""})
    assert no_reason.status_code == 200 and "This field is required." in no_reason.content.decode()
    other_clinic = c.post(URL, {"on_call": str(elsewhere.id), "reason": "Nights"})
    assert "Choose someone from the list, or nobody." in other_clinic.content.decode()
    not_clinical = c.post(URL, {"on_call": str(nurse.id), "reason": "Nights"})
    assert "Choose someone from the list, or nobody." in not_clinical.content.decode()
    unchanged = c.post(URL, {"on_call": "", "reason": "Nothing new"})
    assert "Nothing changed" in unchanged.content.decode()
    assert ClinicPolicy.objects.filter(clinic=site).count() == versions


def test_a_clinician_who_left_the_site_is_shown_and_skipped(
    client_for: ClientFor,
    site: Clinic,
    director: User,
    prescriber: User,
) -> None:
    client_for(director).post(URL, {"on_call": str(prescriber.id), "reason": "Nights"})
    Membership.objects.filter(user=prescriber, clinic=site).update(active=False)
    text = client_for(director).get(URL).content.decode()
    assert "no longer holds a clinical role" in text
    assert on_call_recipients(clinic=site) == [director]
