"""A patient's sessions: the paginated page and the chart's card, for those who read
session notes only."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.treatments import charting
from ketapath.treatments.models import AdverseEvent, TreatmentSession
from ketapath.treatments.tests.test_charting import (  # noqa: F401
    completed,
    discharged,
    dosed,
    ordered,
)

pytestmark = pytest.mark.django_db
Clients = Callable[[User], Client]


def test_patient_sessions_page_lists_sessions_with_links(
    client_for: Clients,
    prescriber: User,
    nurse: User,
    completed: TreatmentSession,  # noqa: F811
) -> None:
    charting.session_sign(user=prescriber, session=completed)
    AdverseEvent.objects.create(
        session=completed,
        kind="nausea_vomiting",
        severity="mild",
        onset=completed.given_at,
        action="Ondansetron given, settled.",
        recorded_by=nurse,
    )
    url = reverse("treatments:patient_sessions", args=[completed.patient_id])
    response = client_for(nurse).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="badge badge-ok">Signed' in html
    assert "48.0 mg = 0.96 mL of 50 mg/mL" in html
    assert "7 → 3<" in html
    assert 'class="badge badge-warn">1<' in html
    assert reverse("treatments:note", args=[completed.id]) in html
    chart = client_for(nurse).get(reverse("chart:patient", args=[completed.patient_id]))
    assert "Ketamine sessions" in chart.content.decode()
    assert reverse("treatments:note", args=[completed.id]) in chart.content.decode()


def test_patient_sessions_permissions(
    client: Client,
    client_for: Clients,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    completed: TreatmentSession,  # noqa: F811
) -> None:
    url = reverse("treatments:patient_sessions", args=[completed.patient_id])
    assert client.get(url).status_code == 302
    assert client_for(front_desk).get(url).status_code == 403
    assert client_for(biller).get(url).status_code == 403
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    chart = client_for(front_desk).get(reverse("chart:patient", args=[completed.patient_id]))
    assert chart.status_code == 200
    assert "Ketamine sessions" not in chart.content.decode()
