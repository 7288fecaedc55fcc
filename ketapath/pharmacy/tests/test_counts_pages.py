"""The count, investigation, loss and return pages under /pharmacy/."""

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import MESSAGE_CO_SIGN_SELF
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.pharmacy import losses, stocktake
from ketapath.pharmacy.models import Count, Investigation, LedgerEntry, LossReport, Vial
from ketapath.pharmacy.tests.factories_counts import (
    expire_and_quarantine,
    open_vial,
    receive_vials,
)


@pytest.fixture
def partner(make_user: Callable[..., User], site: Clinic) -> User:
    return make_user("partner", site, Role.NURSE, licence_type="RN")


@pytest.fixture
def vials(director: User, nurse: User, partner: User, site: Clinic) -> list[Vial]:
    made = receive_vials(director=director, user=nurse, counted_by=partner, clinic=site, n=3)
    made[0] = open_vial(user=nurse, vial=made[0], ml="2.5")
    return made


@pytest.fixture
def far_nurse(make_user: Callable[..., User], other_site: Clinic) -> User:
    return make_user("far_nurse", other_site, Role.NURSE, licence_type="RN")


@pytest.fixture
def investigation(nurse: User, partner: User, site: Clinic, vials: list[Vial]) -> Investigation:
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
    )
    return Investigation.objects.get()


@pytest.fixture
def report(nurse: User, site: Clinic, vials: list[Vial]) -> LossReport:
    return losses.loss_report_create(
        user=nurse,
        clinic=site,
        kind="theft",
        discovered_at=timezone.now() - timedelta(days=5),
        description="Vial missing from the locked cabinet at the morning count.",
        items=[(vials[1], "10")],
    )


def _count_post(vials: list[Vial], co_signer: User, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "shift",
        f"ml_{vials[0].id}": "7.5",
        "co_sign_username": co_signer.username,
        "co_sign_password": PASSWORD,
    }
    data.update(values)
    return data


# --- Permissions ---------------------------------------------------------------------------


def _read_urls(investigation: Investigation, report: LossReport) -> list[str]:
    count = investigation.count_line.count
    return [
        reverse("pharmacy:counts"),
        reverse("pharmacy:count_detail", args=[count.id]),
        reverse("pharmacy:investigations"),
        reverse("pharmacy:investigation_detail", args=[investigation.id]),
        reverse("pharmacy:losses"),
        reverse("pharmacy:loss_detail", args=[report.id]),
    ]


def _handle_urls() -> list[str]:
    return [
        reverse("pharmacy:count_new"),
        reverse("pharmacy:loss_new"),
        reverse("pharmacy:return_new"),
    ]


def test_pages_permissions(
    client: Client,
    client_for: Callable[[User], Client],
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    far_nurse: User,
    investigation: Investigation,
    report: LossReport,
) -> None:
    reads = _read_urls(investigation, report)
    writes = _handle_urls()
    for url in reads + writes:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for user in (nurse, prescriber):
        c = client_for(user)
        for url in reads + writes:
            assert c.get(url).status_code == 200, (user.username, url)
    c = client_for(director)
    for url in reads:
        assert c.get(url).status_code == 200, url
    for url in writes:  # the director reconciles; counting and handling are the nurses'
        assert c.get(url).status_code == 403, url
    for user in (front_desk, biller):
        c = client_for(user)
        for url in reads + writes:
            assert c.get(url).status_code == 403, (user.username, url)
    c = client_for(far_nurse)
    for url in reads[1::2]:  # the detail pages of the other site's objects
        assert c.get(url).status_code == 404, url
    for url in reads[0::2]:  # the lists show the far site's own (empty) ledger
        assert c.get(url).status_code == 200, url


# --- Counts -------------------------------------------------------------------------------


def _without_random_values(html: str) -> str:
    """The page with its UUIDs and CSRF token taken out."""
    html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "", html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_count_form_is_blind(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, vials: list[Vial]
) -> None:
    expire_and_quarantine(vials[2])
    page = client_for(nurse).get(reverse("pharmacy:count_new"), {"kind": "shift"})
    html = page.content.decode()
    assert vials[0].label in html and vials[1].label in html and vials[2].label in html
    # The open vial holds 7.50 mL; neither it nor its mg appears before the count is saved.
    assert f'name="ml_{vials[0].id}"' in html
    # Random ids and tokens in the markup may contain the digits; look past them.
    shown = _without_random_values(html)
    assert "7.50" not in shown and "375" not in shown
    inventory = client_for(nurse).get(reverse("pharmacy:count_new"), {"kind": "biennial"})
    html = inventory.content.decode()
    assert "Every vial on hand" in html and "Quarantined" in html
    assert "7.50" not in _without_random_values(html) and 'name="timing"' in html


def test_count_through_the_page_shows_the_difference_after_saving(
    client_for: Callable[[User], Client],
    nurse: User,
    partner: User,
    vials: list[Vial],
) -> None:
    c = client_for(nurse)
    response = c.post(reverse("pharmacy:count_new"), _count_post(vials, partner))
    count = Count.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("pharmacy:count_detail", args=[count.id])
    assert count.witness == partner
    assert Investigation.objects.filter(count_line__count=count).count() == 0
    detail = c.get(response["Location"]).content.decode()
    assert "7.50 mL" in detail and "Every vial matches the ledger" in detail
    response = c.post(
        reverse("pharmacy:count_new"), _count_post(vials, partner, **{f"ml_{vials[0].id}": "7"})
    )
    detail = c.get(response["Location"]).content.decode()
    assert "-0.50 mL" in detail and "-25.00 mg" in detail and "Open" in detail
    assert Investigation.objects.count() == 1


def test_count_page_refuses_self_co_sign_and_missing_lines(
    client_for: Callable[[User], Client], nurse: User, partner: User, vials: list[Vial]
) -> None:
    c = client_for(nurse)
    response = c.post(reverse("pharmacy:count_new"), _count_post(vials, nurse))
    assert response.status_code == 200
    assert MESSAGE_CO_SIGN_SELF in response.content.decode()
    response = c.post(
        reverse("pharmacy:count_new"), _count_post(vials, partner, **{f"ml_{vials[0].id}": ""})
    )
    assert response.status_code == 200
    assert f"Enter the mL counted in vial {vials[0].label}." in response.content.decode()
    expire_and_quarantine(vials[2])
    data = {
        "kind": "initial",
        "timing": "opening",
        f"ml_{vials[0].id}": "7.5",
        f"ml_{vials[1].id}": "10",
        "co_sign_username": partner.username,
        "co_sign_password": PASSWORD,
    }
    response = c.post(reverse("pharmacy:count_new"), data)
    assert response.status_code == 200
    assert "Enter the mL counted in vial" in response.content.decode()
    assert not Count.objects.exists()


def test_count_list_paginates_without_a_query_per_row(
    client_for: Callable[[User], Client],
    nurse: User,
    partner: User,
    site: Clinic,
    vials: list[Vial],
    django_assert_max_num_queries: Any,
) -> None:
    for counted in ("7.5", "7", "6", "7.5"):
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: counted}
        )
    c = client_for(nurse)
    c.get(reverse("pharmacy:counts"))
    with django_assert_max_num_queries(20):
        html = c.get(reverse("pharmacy:counts")).content.decode()
    assert html.count("Matches the ledger") == 2 and html.count("1 difference") == 2
    assert "No inventory yet" in html


# --- Investigations ------------------------------------------------------------------------


def test_nurse_cannot_close_director_can_with_an_explanation(
    client_for: Callable[[User], Client],
    nurse: User,
    director: User,
    investigation: Investigation,
) -> None:
    url = reverse("pharmacy:investigation_detail", args=[investigation.id])
    text = "Recounted with the charge nurse: a 0.5 mL draw was entered late."
    nurse_page = client_for(nurse).get(url).content.decode()
    assert "Only the medical director closes" in nurse_page and "<textarea" not in nurse_page
    assert client_for(nurse).post(url, {"explanation": text}).status_code == 403
    c = client_for(director)
    response = c.post(url, {"explanation": "miscount"})
    assert response.status_code == 200 and "Nothing was saved" in response.content.decode()
    assert Investigation.objects.get().status == "open"
    response = c.post(url, {"explanation": text})
    assert response.status_code == 302
    closed = Investigation.objects.get()
    assert closed.status == "closed" and closed.explanation == text
    assert text in c.get(url).content.decode()
    assert AuditEvent.objects.filter(
        object_type="investigation", object_id=str(closed.id), action="read"
    ).exists()


def test_investigation_list_puts_open_first(
    client_for: Callable[[User], Client],
    nurse: User,
    partner: User,
    director: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
    )
    stocktake.investigation_close(
        user=director,
        investigation=Investigation.objects.get(),
        explanation="Recount found the missing 0.5 mL in the syringe.",
    )
    stocktake.count_record(
        user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7.25"}
    )
    html = client_for(director).get(reverse("pharmacy:investigations")).content.decode()
    assert html.index("Review and close") < html.index("Recount found the missing")


# --- Losses -------------------------------------------------------------------------------


def test_loss_through_the_page(
    client_for: Callable[[User], Client], nurse: User, vials: list[Vial]
) -> None:
    c = client_for(nurse)
    response = c.post(
        reverse("pharmacy:loss_new"),
        {
            "kind": "theft",
            "discovered_at": "2025-01-10T16:00",
            "description": "Vial missing from the locked cabinet at the evening count.",
            f"ml_{vials[1].id}": "10",
        },
    )
    assert response.status_code == 302, response.content.decode()
    report = LossReport.objects.get()
    assert str(report.notice_due) == "2025-01-13" and str(report.form_106_due) == "2025-02-24"
    assert Vial.objects.get(pk=vials[1].pk).status == Vial.Status.LOST
    html = c.get(response["Location"]).content.decode()
    assert "Monday 13 January 2025" in html and "Monday 24 February 2025" in html
    assert html.count("Overdue") == 2 and "overdue by" in html


def test_loss_page_needs_an_amount(
    client_for: Callable[[User], Client], nurse: User, vials: list[Vial]
) -> None:
    response = client_for(nurse).post(
        reverse("pharmacy:loss_new"),
        {
            "kind": "theft",
            "discovered_at": "2025-01-10T16:00",
            "description": "Vial missing from the locked cabinet at the evening count.",
            f"ml_{vials[1].id}": "11",
        },
    )
    assert response.status_code == 200
    assert f"Only 10.00 mL is recorded in {vials[1].label}." in response.content.decode()
    assert not LossReport.objects.exists()


def test_loss_steps_on_the_page(
    client_for: Callable[[User], Client],
    nurse: User,
    director: User,
    site: Clinic,
    report: LossReport,
) -> None:
    notice_url = reverse("pharmacy:loss_notice", args=[report.id])
    form_url = reverse("pharmacy:loss_form_106", args=[report.id])
    # The form's times are the site's (America/Denver).
    when = timezone.localtime(timezone.now(), ZoneInfo(site.time_zone)).strftime("%Y-%m-%dT%H:%M")
    body = {"notice-at": when, "notice-reference": "E-mail to the field office"}
    assert client_for(nurse).post(notice_url, body).status_code == 403
    detail = client_for(nurse).get(reverse("pharmacy:loss_detail", args=[report.id]))
    assert "Record the notice" not in detail.content.decode()
    c = client_for(director)
    response = c.post(notice_url, {"notice-at": when, "notice-reference": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert c.post(notice_url, body).status_code == 302
    response = c.post(form_url, {"form106-at": when, "form106-reference": "TLR-77"})
    assert response.status_code == 302
    fresh = LossReport.objects.get()
    assert fresh.notice_reference == "E-mail to the field office"
    assert fresh.form_106_reference == "TLR-77"
    html = c.get(reverse("pharmacy:loss_detail", args=[report.id])).content.decode()
    assert "Overdue" not in html and html.count("Done") >= 2


# --- Returns ------------------------------------------------------------------------------


def test_return_page_prefills_from_a_quarantined_vial_and_records(
    client_for: Callable[[User], Client], nurse: User, partner: User, vials: list[Vial]
) -> None:
    quarantined = expire_and_quarantine(vials[2])
    c = client_for(nurse)
    page = c.get(reverse("pharmacy:return_new"), {"vial": str(quarantined.id)})
    html = page.content.decode()
    assert f'<option value="{quarantined.id}" selected>' in html
    assert quarantined.quarantine_reason in html
    response = c.post(
        reverse("pharmacy:return_new"),
        {
            "vial": str(quarantined.id),
            "receiving_party": "Return Solutions Inc., DEA RR1234567",
            "reference": "RS-2025-0042",
            "reason": "Expired",
            "co_sign_username": partner.username,
            "co_sign_password": PASSWORD,
        },
    )
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind="return")
    assert entry.ml == Decimal("-10.00") and entry.witness == partner
    fresh = Vial.objects.get(pk=quarantined.pk)
    assert fresh.status == Vial.Status.RETURNED and fresh.balance_ml == 0
    html = c.get(reverse("pharmacy:return_new")).content.decode()
    assert "Return Solutions Inc., DEA RR1234567" in html and "RS-2025-0042" in html


def test_return_page_refuses_self_witness(
    client_for: Callable[[User], Client], nurse: User, vials: list[Vial]
) -> None:
    response = client_for(nurse).post(
        reverse("pharmacy:return_new"),
        {
            "vial": str(vials[1].id),
            "receiving_party": "Return Solutions Inc.",
            "reference": "RS-1",
            "reason": "Expired",
            "co_sign_username": nurse.username,
            "co_sign_password": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert MESSAGE_CO_SIGN_SELF in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="return").exists()


def test_investigation_and_loss_lists_do_not_query_per_row(
    client_for: Callable[[User], Client],
    nurse: User,
    partner: User,
    director: User,
    site: Clinic,
    vials: list[Vial],
) -> None:
    def queries(url: str) -> int:
        c = client_for(director)
        c.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    def add_rows() -> None:
        stocktake.count_record(
            user=nurse, witness=partner, clinic=site, kind="shift", lines={vials[0].id: "7"}
        )
        losses.loss_report_create(
            user=nurse,
            clinic=site,
            kind="significant_loss",
            discovered_at=timezone.now(),
            description="A small amount spilled while drawing, not witnessed.",
            items=[(vials[0], "0.1")],
        )

    add_rows()
    one = (queries(reverse("pharmacy:investigations")), queries(reverse("pharmacy:losses")))
    for _ in range(3):
        add_rows()
    four = (queries(reverse("pharmacy:investigations")), queries(reverse("pharmacy:losses")))
    assert one == four
