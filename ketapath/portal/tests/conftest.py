"""Fixtures for patient-link pages and API: links made through ``link_create`` (which
answers the raw token), a fresh rate-limit cache for every test, and answer helpers."""

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.patients.models import Patient
from ketapath.portal.models import PatientLink
from ketapath.portal.services import link_create
from ketapath.questionnaires.instruments import get_instrument

BIRTH_DATE = date(1980, 5, 17)
WRONG_BIRTH_DATE = date(1980, 5, 18)
CONTEXT_ID = "6c4c8a3e-2f59-4f43-9a0b-8f1f4f3ab001"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_link(site: Clinic, patient: Patient) -> Callable[..., tuple[PatientLink, str]]:
    def make(purpose: str = "questionnaires", **fields: Any) -> tuple[PatientLink, str]:
        clinic = fields.pop("clinic", site)
        if purpose == "questionnaires":
            fields.setdefault("instruments", ["phq-9"])
            fields.setdefault("context", "pre_session")
            fields.setdefault("context_id", CONTEXT_ID)
        else:
            fields.setdefault("day", local_today(clinic.time_zone))
        return link_create(
            patient=fields.pop("patient", patient),
            clinic=clinic,
            purpose=purpose,
            **fields,
        )

    return make


@pytest.fixture
def questionnaire_link(
    make_link: Callable[..., tuple[PatientLink, str]],
) -> tuple[PatientLink, str]:
    return make_link()


@pytest.fixture
def diary_link(make_link: Callable[..., tuple[PatientLink, str]]) -> tuple[PatientLink, str]:
    return make_link("diary")


def expire(link: PatientLink) -> None:
    """Moves the link's whole life into the past (its constraint wants expiry after creation)."""
    past = timezone.now() - timedelta(hours=100)
    PatientLink.objects.filter(id=link.id).update(
        created_at=past, expires_at=past + timedelta(hours=72)
    )


def form_answers(code: str = "phq-9", value: int = 0, **overrides: int) -> dict[str, str]:
    """Every item of the instrument answered ``value`` as the page posts them
    (``{"phq-9.1": "0", ...}``); ``item9=2`` style overrides set single items."""
    instrument = get_instrument(code)
    assert instrument is not None
    answers = {f"{code}.{item.link_id}": str(value) for item in instrument.items}
    for key, given in overrides.items():
        answers[f"{code}.{key.removeprefix('item')}"] = str(given)
    return answers


def api_answers(code: str = "phq-9", value: int = 0, **overrides: int) -> dict[str, int]:
    return {
        key.split(".", 1)[1]: int(given)
        for key, given in form_answers(code, value, **overrides).items()
    }


def birth_date_form(given: date = BIRTH_DATE) -> dict[str, str]:
    return {"month": str(given.month), "day": str(given.day), "year": str(given.year)}


def verified_client(raw: str, client: Client | None = None) -> Client:
    """A browser that gave the right date of birth for the link."""
    client = client or Client()
    response = client.post(f"/p/{raw}/", birth_date_form())
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == f"/p/{raw}/answer/"
    return client
