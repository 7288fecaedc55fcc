"""The stock pages under /pharmacy/: what a nurse and the medical director see and do, errors
beside their fields with nothing saved, permissions on every page (nurse and prescriber
allowed; front desk, biller, therapist and others 403; another site's vial 404; anonymous
to the login page), the navigation item, auditing and query counts."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.core.timeutils import local_today
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import Formulation, LedgerEntry, Receipt, Vial

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]
NO_LEDGER = ["front_desk", "biller", "therapist", "privacy_officer", "clinic_admin"]


def _pages(vial: Vial) -> list[str]:
    entry = vial.entries.get()
    return [
        reverse("pharmacy:stock"),
        reverse("pharmacy:receive"),
        reverse("pharmacy:waste"),
        reverse("pharmacy:formulations"),
        reverse("pharmacy:vial", args=[vial.id]),
        reverse("pharmacy:entry_reverse", args=[entry.id]),
    ]


def _text(response: Any) -> str:
    return response.content.decode()


# --- Permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nurse", "prescriber"])
def test_handlers_open_every_page(
    persona: str, request: pytest.FixtureRequest, client_for: ClientFor, vial: Vial
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for url in _pages(vial):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", NO_LEDGER)
def test_roles_without_the_ledger_get_403_everywhere(
    persona: str, request: pytest.FixtureRequest, client_for: ClientFor, vial: Vial
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for url in _pages(vial):
        assert client.get(url).status_code == 403, url
    for url in (
        reverse("pharmacy:receive"),
        reverse("pharmacy:waste"),
        reverse("pharmacy:formulations"),
        reverse("pharmacy:vial_waste", args=[vial.id]),
        reverse("pharmacy:vial_quarantine", args=[vial.id]),
    ):
        assert client.post(url, {"reason": "Cracked vial"}).status_code == 403, url
    vial.refresh_from_db()
    assert vial.status == Vial.Status.IN_STOCK


def test_anonymous_is_sent_to_login(client: Client, vial: Vial) -> None:
    for url in _pages(vial):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_sites_vial_and_entry_are_404(
    client_for: ClientFor, nurse: User, other_site_vial: Vial
) -> None:
    client = client_for(nurse)
    assert client.get(reverse("pharmacy:vial", args=[other_site_vial.id])).status_code == 404
    entry = other_site_vial.entries.get()
    assert client.get(reverse("pharmacy:entry_reverse", args=[entry.id])).status_code == 404
    url = reverse("pharmacy:vial_quarantine", args=[other_site_vial.id])
    assert client.post(url, {"reason": "Cracked vial"}).status_code == 404


def test_another_site_sees_only_its_own_stock(
    client_for: ClientFor, other_clinic_nurse: User, vial: Vial, other_site_vial: Vial
) -> None:
    Vial.objects.filter(pk=other_site_vial.pk).update(label="K-0901")
    page = _text(client_for(other_clinic_nurse).get(reverse("pharmacy:stock")))
    assert "K-0901" in page and "K-0001" not in page
    assert "Chicago Site" in page


def test_the_director_reads_stock_but_does_not_move_it(
    client_for: ClientFor, director: User, vial: Vial, second_nurse: User
) -> None:
    client = client_for(director)
    for url in _pages(vial)[:5]:
        assert client.get(url).status_code == 200, url
    receive = _text(client.get(reverse("pharmacy:receive")))
    assert reverse("pharmacy:formulations") in receive
    assert 'name="co_sign_password"' not in receive
    assert client.post(reverse("pharmacy:receive"), {}).status_code == 403
    assert client.post(reverse("pharmacy:waste"), {}).status_code == 403
    assert (
        client.get(reverse("pharmacy:entry_reverse", args=[vial.entries.get().id])).status_code
        == 403
    )


def test_the_navigation_shows_pharmacy_to_ledger_roles_only(
    client_for: ClientFor, nurse: User, director: User, front_desk: User, site: Clinic
) -> None:
    link = f'href="{reverse("pharmacy:stock")}"'
    for user in (nurse, director):
        assert link in _text(client_for(user).get(reverse("chart:today")))
    assert link not in _text(client_for(front_desk).get(reverse("chart:today")))
    page = _text(client_for(nurse).get(reverse("pharmacy:stock")))
    assert f'{link} aria-current="page">Pharmacy' in page


# --- Stock on hand -------------------------------------------------------------------------


def test_stock_page_totals_and_vials(
    client_for: ClientFor,
    nurse: User,
    make_vials: Callable[..., list[Vial]],
    session_id: uuid.UUID,
) -> None:
    vials = make_vials(3)
    ledger.draw(user=nurse, vial=vials[0], ml="2.5", session_id=session_id)
    ledger.quarantine(user=nurse, vial=vials[2], reason="Cracked vial neck")
    Vial.objects.filter(pk=vials[1].pk).update(
        expiry=local_today(vials[1].clinic.time_zone) - timedelta(days=1)
    )
    page = _text(client_for(nurse).get(reverse("pharmacy:stock")))
    # Usable: 7.5 + 10 mL = 875 mg; quarantined 10 mL = 500 mg; total 27.5 mL = 1375 mg.
    assert "875.00 mg" in page and "17.50 mL" in page
    assert "500.00 mg" in page and "1375.00 mg" in page and "27.50 mL" in page
    assert "50 mg/mL" in page
    assert "Quarantined" in page and "Cracked vial neck" in page
    assert "row-failed" in page
    assert "Do not use" in page and "past its expiry or beyond-use date" in page
    assert reverse("pharmacy:receive") in page and reverse("pharmacy:waste") in page
    for name in ("pharmacy:count_new", "pharmacy:reconciliation"):
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        assert f'href="{url}"' in page


def test_stock_page_filters_by_status(
    client_for: ClientFor, nurse: User, make_vials: Callable[..., list[Vial]]
) -> None:
    vials = make_vials(2)
    ledger.quarantine(user=nurse, vial=vials[1], reason="Label unreadable")
    client = client_for(nurse)
    held = _text(client.get(reverse("pharmacy:stock"), {"status": "quarantined"}))
    assert "K-0002" in held and "K-0001" not in held
    usable = _text(client.get(reverse("pharmacy:stock"), {"status": "usable"}))
    assert "K-0001" in usable and "K-0002" not in usable
    odd = client.get(reverse("pharmacy:stock"), {"status": "nonsense"})
    assert odd.status_code == 200 and "K-0002" in _text(odd)


def test_stock_page_query_count_does_not_grow_with_vials(
    client_for: ClientFor, nurse: User, make_vials: Callable[..., list[Vial]]
) -> None:
    client = client_for(nurse)
    make_vials(2)
    client.get(reverse("pharmacy:stock"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("pharmacy:stock")).status_code == 200
    make_vials(28)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("pharmacy:stock"))
    # 25 vials a page: the 26th is on the next.
    assert "K-0025" in _text(response) and "K-0026" not in _text(response)
    assert "Next" in _text(response)
    assert len(many) == len(few)


# --- Receive -------------------------------------------------------------------------------


def _delivery(formulation: Formulation, witness: User, **changes: Any) -> dict[str, Any]:
    data = {
        "formulation": str(formulation.id),
        "ndc": "11111-222-33",
        "product": "Ketamine HCl injection, multi-dose vial",
        "lot": "K2402",
        "expiry": (local_today(formulation.clinic.time_zone) + timedelta(days=300)).isoformat(),
        "volume_ml": "10",
        "vials": "2",
        "supplier": "Test Wholesale Inc.",
        "invoice": "INV-88",
        "received_at": "",
        "co_sign_username": witness.username,
        "co_sign_password": PASSWORD,
    }
    data.update(changes)
    return data


def test_receive_page_lists_only_enabled_strengths(
    client_for: ClientFor, nurse: User, enable_strength: Callable[..., Formulation]
) -> None:
    enabled = enable_strength("ketamine", "50")
    disabled = enable_strength("ketamine", "100", enabled=False)
    page = _text(client_for(nurse).get(reverse("pharmacy:receive")))
    assert f'value="{enabled.id}"' in page and f'value="{disabled.id}"' not in page
    assert "Ketamine hydrochloride 50 mg/mL" in page


def test_receive_page_without_enabled_strengths_says_so(
    client_for: ClientFor, nurse: User, director: User
) -> None:
    page = _text(client_for(nurse).get(reverse("pharmacy:receive")))
    assert "No strength is enabled at this site" in page
    assert 'name="lot"' not in page


def test_receive_a_delivery_from_the_page(
    client_for: ClientFor, nurse: User, second_nurse: User, formulation: Formulation
) -> None:
    client = client_for(nurse)
    response = client.post(reverse("pharmacy:receive"), _delivery(formulation, second_nurse))
    assert response.status_code == 302
    receipt = Receipt.objects.get()
    assert receipt.counted_by == second_nurse and receipt.received_by == nurse
    assert receipt.vial_set.count() == 2
    page = _text(client.get(response["Location"]))
    assert "Received 2 vials of lot K2402: K-0001 to K-0002" in page


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"co_sign_username": "nurse"}, "co_sign_username"),
        ({"co_sign_password": "wrong-password"}, "co_sign_password"),
        ({"co_sign_username": "frontdesk"}, "co_sign_username"),
        ({"expiry": "2001-01-01"}, "expiry"),
        ({"ndc": "abc"}, "ndc"),
        ({"vials": "0"}, "vials"),
        ({"received_at": "2999-01-01T10:00"}, "received_at"),
    ],
)
def test_receive_errors_show_beside_the_field_and_nothing_is_saved(
    changes: dict[str, str],
    field: str,
    client_for: ClientFor,
    nurse: User,
    second_nurse: User,
    front_desk: User,
    formulation: Formulation,
) -> None:
    response = client_for(nurse).post(
        reverse("pharmacy:receive"), _delivery(formulation, second_nurse, **changes)
    )
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert f'id="id_{field}_error"' in _text(response)
    assert "Nothing was saved" in _text(response)
    assert not Receipt.objects.exists() and not Vial.objects.exists()


def test_receive_refuses_a_disabled_strength_from_the_page(
    client_for: ClientFor,
    nurse: User,
    second_nurse: User,
    director: User,
    formulation: Formulation,
    site: Clinic,
) -> None:
    ledger.formulation_set(
        user=director, clinic=site, substance="ketamine", mg_per_ml="50", enabled=False
    )
    response = client_for(nurse).post(
        reverse("pharmacy:receive"), _delivery(formulation, second_nurse)
    )
    assert response.status_code == 200
    assert response.context["form"].errors.get("formulation")
    assert not Receipt.objects.exists()


# --- A vial ----------------------------------------------------------------------------------


def test_vial_page_shows_the_history_with_running_balance_and_audits_it(
    client_for: ClientFor,
    nurse: User,
    second_nurse: User,
    vial: Vial,
    patient: Any,
    session_id: uuid.UUID,
) -> None:
    drawn = ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id, patient=patient)
    ledger.administer(user=nurse, draw_entry=drawn, mg="30")
    page = _text(client_for(nurse).get(reverse("pharmacy:vial", args=[vial.id])))
    assert "Received" in page and "Drawn" in page and "Given" in page
    assert "9.00 mL" in page and "450.00 mg" in page
    assert patient.display_name in page
    assert "20.00 mg not yet accounted for" in page
    assert "America/Denver" in page
    assert reverse("pharmacy:entry_reverse", args=[drawn.id]) in page
    event = AuditEvent.objects.get(object_type="vial_history", object_id=str(vial.id))
    assert event.detail["patients"] == [str(patient.id)]


def test_waste_from_the_vial_page(
    client_for: ClientFor,
    nurse: User,
    second_nurse: User,
    vial: Vial,
    make_draw: Callable[..., LedgerEntry],
) -> None:
    drawn = make_draw(vial, "1")
    client = client_for(nurse)
    url = reverse("pharmacy:vial_waste", args=[vial.id])
    data = {
        "draw": str(drawn.id),
        "ml": "0.4",
        "reason": "Drawn, not given",
        "co_sign_username": second_nurse.username,
        "co_sign_password": PASSWORD,
    }
    self_witness = client.post(url, {**data, "co_sign_username": nurse.username})
    assert self_witness.status_code == 200
    assert self_witness.context["waste_form"].errors.get("co_sign_username")
    assert not LedgerEntry.objects.filter(kind="waste").exists()
    response = client.post(url, data)
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind="waste")
    assert entry.draw_id == drawn.id and entry.witness == second_nurse and entry.ml == 0
    assert entry.mg == Decimal("-20.00")
    residue = client.post(url, {**data, "draw": "", "ml": "0.5", "reason": "Residue at the end"})
    assert residue.status_code == 302
    vial.refresh_from_db()
    assert vial.balance_ml == Decimal("8.50")


def test_quarantine_from_the_vial_page(client_for: ClientFor, nurse: User, vial: Vial) -> None:
    client = client_for(nurse)
    url = reverse("pharmacy:vial_quarantine", args=[vial.id])
    short = client.post(url, {"reason": "bad"})
    assert short.status_code == 200 and short.context["quarantine_form"].errors.get("reason")
    vial.refresh_from_db()
    assert vial.status == Vial.Status.IN_STOCK
    assert client.post(url, {"reason": "Cracked vial neck"}).status_code == 302
    vial.refresh_from_db()
    assert vial.status == Vial.Status.QUARANTINED
    page = _text(client.get(reverse("pharmacy:vial", args=[vial.id])))
    assert "Cracked vial neck" in page and "Put in quarantine" not in page


def test_reverse_an_entry_after_confirming(
    client_for: ClientFor, nurse: User, vial: Vial, make_draw: Callable[..., LedgerEntry]
) -> None:
    drawn = make_draw(vial, "2")
    client = client_for(nurse)
    url = reverse("pharmacy:entry_reverse", args=[drawn.id])
    confirm = _text(client.get(url))
    assert "now 8.00 mL (400.00 mg); after the reversal 10.00 mL (500.00 mg)" in confirm
    unticked = client.post(url, {"reason": "Drawn from the wrong vial"})
    assert unticked.status_code == 200 and unticked.context["form"].errors.get("confirm")
    assert not LedgerEntry.objects.filter(kind="reverse").exists()
    done = client.post(url, {"reason": "Drawn from the wrong vial", "confirm": "on"})
    assert done.status_code == 302
    reversal = LedgerEntry.objects.get(kind="reverse")
    assert reversal.reverses_id == drawn.id and reversal.reason == "Drawn from the wrong vial"
    assert "already reversed" in _text(client.get(url))


# --- Waste page ------------------------------------------------------------------------------


def test_waste_page_offers_vials_and_open_draws(
    client_for: ClientFor,
    nurse: User,
    second_nurse: User,
    vial: Vial,
    patient: Any,
    session_id: uuid.UUID,
) -> None:
    drawn = ledger.draw(user=nurse, vial=vial, ml="1", session_id=session_id, patient=patient)
    client = client_for(nurse)
    page = _text(client.get(reverse("pharmacy:waste")))
    assert f'value="{vial.id}"' in page and f'value="{drawn.id}"' in page
    assert "50.00 mg not yet given or wasted" in page
    assert AuditEvent.objects.filter(object_type="draw_list").exists()
    data = {
        "vial": "",
        "draw": str(drawn.id),
        "ml": "1",
        "reason": "Session stopped early",
        "co_sign_username": second_nurse.username,
        "co_sign_password": PASSWORD,
    }
    neither = client.post(reverse("pharmacy:waste"), {**data, "draw": ""})
    assert neither.status_code == 200 and neither.context["form"].errors.get("vial")
    response = client.post(reverse("pharmacy:waste"), data)
    assert response.status_code == 302
    assert ledger.draw_account(LedgerEntry.objects.get(pk=drawn.pk)).balanced
    assert f'value="{drawn.id}"' not in _text(client.get(reverse("pharmacy:waste")))


# --- Strengths -----------------------------------------------------------------------------


def test_the_director_enables_and_disables_strengths_on_the_page(
    client_for: ClientFor, director: User, nurse: User
) -> None:
    client = client_for(director)
    url = reverse("pharmacy:formulations")
    bad = client.post(url, {"substance": "ketamine", "mg_per_ml": "0", "enabled": "on"})
    assert bad.status_code == 200 and bad.context["form"].errors.get("mg_per_ml")
    assert (
        client.post(url, {"substance": "ketamine", "mg_per_ml": "50", "enabled": "on"}).status_code
        == 302
    )
    f = Formulation.objects.get()
    assert f.enabled and f.mg_per_ml == Decimal("50")
    assert client.post(url, {"formulation": str(f.id), "enabled": "0"}).status_code == 302
    f.refresh_from_db()
    assert not f.enabled
    page = _text(client_for(nurse).get(url))
    assert "Ketamine hydrochloride" in page and "Disabled" in page and "Save strength" not in page
    assert (
        client_for(nurse).post(url, {"formulation": str(f.id), "enabled": "1"}).status_code == 403
    )
    f.refresh_from_db()
    assert not f.enabled
