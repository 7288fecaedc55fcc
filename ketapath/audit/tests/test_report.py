"""The audit report: filters, sort, pagination, UTC times, the CSV export and its own audit."""

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.forms import (
    MESSAGE_ACTION,
    MESSAGE_DATE,
    MESSAGE_DATE_ORDER,
    MESSAGE_OUTCOME,
    MESSAGE_PATIENT_ID,
    MESSAGE_SORT,
)
from ketapath.audit.models import AuditEvent
from ketapath.audit.views import CSV_HEADER, REPORT_PAGE_SIZE

API_URL = "/api/v1/audit/events"
PATIENT_A = uuid.UUID("11111111-1111-4111-8111-111111111111")
PATIENT_B = uuid.UUID("22222222-2222-4222-8222-222222222222")
ALICE_ID = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")

MakeEvent = Callable[..., AuditEvent]


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def seeded(make_event: MakeEvent) -> dict[str, AuditEvent]:
    """Events in early March 2025 (UTC), far from the events the tests themselves write."""
    return {
        "feb28_last": make_event(at(1, 0) - timedelta(seconds=1), username="bob"),
        "mar01_first": make_event(at(1, 0, 0, 0), username="alice", user_id=ALICE_ID,
                                  patient_id=PATIENT_A),
        "mar01_last": make_event(at(1, 23, 59, 59), username="bob", patient_id=PATIENT_B,
                                 action=AuditEvent.Action.UPDATE),
        "mar02": make_event(at(2, 8), username="carol", patient_id=PATIENT_A,
                            action=AuditEvent.Action.CREATE, object_type="consent",
                            object_id="c-1"),
        "mar03_first": make_event(at(3, 0), username="alice", user_id=ALICE_ID,
                                  action=AuditEvent.Action.LOGIN_FAILED,
                                  outcome=AuditEvent.Outcome.DENIED, object_type=""),
    }  # fmt: skip


def ids(events: list[AuditEvent]) -> list[uuid.UUID]:
    return [e.id for e in events]


def page_ids(client: Client, **params: str) -> list[uuid.UUID]:
    response = client.get(reverse("audit:events"), params)
    assert response.status_code == 200
    return ids(response.context["page"].items)


def api_ids(client: Client, **params: str) -> list[str]:
    response = client.get(API_URL, params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def officer_client(client_for: Callable[[User], Client], privacy_officer: User) -> Client:
    return client_for(privacy_officer)


@pytest.fixture
def officer_api(api_client: Callable[[User], Client], privacy_officer: User) -> Client:
    return api_client(privacy_officer)


MARCH = {"date_from": "2025-02-01", "date_to": "2025-03-31"}


# Filters -------------------------------------------------------------------------------


def test_date_range_is_inclusive_in_utc_days(
    officer_client: Client, officer_api: Client, seeded: dict[str, AuditEvent]
) -> None:
    expected = ids([seeded["mar02"], seeded["mar01_last"], seeded["mar01_first"]])
    params = {"date_from": "2025-03-01", "date_to": "2025-03-02"}
    assert page_ids(officer_client, **params) == expected
    assert api_ids(officer_api, **params) == [str(i) for i in expected]


def test_single_day(officer_client: Client, seeded: dict[str, AuditEvent]) -> None:
    expected = ids([seeded["mar01_last"], seeded["mar01_first"]])
    assert page_ids(officer_client, date_from="2025-03-01", date_to="2025-03-01") == expected


def test_user_filter_by_username_or_id(
    officer_client: Client, officer_api: Client, seeded: dict[str, AuditEvent]
) -> None:
    expected = ids([seeded["mar03_first"], seeded["mar01_first"]])
    assert page_ids(officer_client, user="alice", **MARCH) == expected
    assert page_ids(officer_client, user="ALICE", **MARCH) == expected
    assert page_ids(officer_client, user=str(ALICE_ID), **MARCH) == expected
    assert api_ids(officer_api, user="alice", **MARCH) == [str(i) for i in expected]


def test_patient_filter(
    officer_client: Client, officer_api: Client, seeded: dict[str, AuditEvent]
) -> None:
    expected = ids([seeded["mar02"], seeded["mar01_first"]])
    assert page_ids(officer_client, patient=str(PATIENT_A), **MARCH) == expected
    assert api_ids(officer_api, patient=str(PATIENT_A), **MARCH) == [str(i) for i in expected]


def test_action_filter(
    officer_client: Client, officer_api: Client, seeded: dict[str, AuditEvent]
) -> None:
    assert page_ids(officer_client, action="update") == [seeded["mar01_last"].id]
    assert api_ids(officer_api, action="create") == [str(seeded["mar02"].id)]


def test_outcome_filter(
    officer_client: Client, officer_api: Client, seeded: dict[str, AuditEvent]
) -> None:
    expected = [seeded["mar03_first"].id]
    assert page_ids(officer_client, outcome="denied", **MARCH) == expected
    assert api_ids(officer_api, outcome="denied", **MARCH) == [str(i) for i in expected]
    success = page_ids(officer_client, outcome="success", **MARCH)
    assert seeded["mar03_first"].id not in success
    assert len(success) == 4


def test_filters_combine(officer_client: Client, seeded: dict[str, AuditEvent]) -> None:
    assert page_ids(officer_client, user="alice", date_from="2025-03-01", date_to="2025-03-02") == [
        seeded["mar01_first"].id
    ]


# Invalid filters -----------------------------------------------------------------------

INVALID = [
    ({"patient": "not-a-uuid"}, "patient", MESSAGE_PATIENT_ID),
    ({"date_from": "03/01/2025"}, "date_from", MESSAGE_DATE),
    ({"date_to": "2025-02-30"}, "date_to", MESSAGE_DATE),
    ({"date_from": "2025-03-02", "date_to": "2025-03-01"}, "date_to", MESSAGE_DATE_ORDER),
    ({"action": "teleport"}, "action", MESSAGE_ACTION),
    ({"outcome": "maybe"}, "outcome", MESSAGE_OUTCOME),
    ({"sort": "password"}, "sort", MESSAGE_SORT),
]


@pytest.mark.parametrize(("params", "field", "rule"), INVALID)
def test_api_invalid_filter_is_422_naming_the_field(
    officer_api: Client, params: dict[str, str], field: str, rule: str
) -> None:
    response = officer_api.get(API_URL, params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == [{"field": field, "rule": rule}]


@pytest.mark.parametrize(("params", "field", "rule"), INVALID)
def test_page_invalid_filter_shows_the_rule_and_no_rows(
    officer_client: Client,
    seeded: dict[str, AuditEvent],
    params: dict[str, str],
    field: str,
    rule: str,
) -> None:
    response = officer_client.get(reverse("audit:events"), params)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert response.context["form"].errors[field] == [rule]
    html = response.content.decode()
    assert "Correct the filters above" in html
    from django.utils.html import escape

    assert escape(rule) in html
    # Nothing was read, so nothing is recorded as read.
    assert not AuditEvent.objects.filter(object_type="audit_event").exists()


def test_page_shows_the_patient_error_beside_its_field(officer_client: Client, db: None) -> None:
    html = officer_client.get(reverse("audit:events"), {"patient": "12345"}).content.decode()
    field_start = html.index('class="field field-invalid"')
    field_html = html[field_start : html.index("</div>", field_start)]
    assert 'id="id_patient"' in field_html
    assert 'id="id_patient_error"' in field_html
    assert MESSAGE_PATIENT_ID in field_html


def test_api_bad_page_is_422(officer_api: Client, db: None) -> None:
    response = officer_api.get(API_URL, {"page": "0"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "page"
    assert officer_api.get(API_URL, {"page_size": "101"}).status_code == 422


# Sort, pagination, display ---------------------------------------------------------------


def test_default_sort_is_newest_first(
    officer_client: Client, seeded: dict[str, AuditEvent]
) -> None:
    got = page_ids(officer_client, **MARCH)
    assert got == ids(sorted(seeded.values(), key=lambda e: e.time, reverse=True))


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("time", lambda e: e.time, False),
        ("-time", lambda e: e.time, True),
        ("user", lambda e: e.username, False),
        ("-user", lambda e: e.username, True),
        ("action", lambda e: e.action, False),
        ("-outcome", lambda e: e.outcome, True),
    ],
)
def test_sort(
    officer_client: Client,
    officer_api: Client,
    seeded: dict[str, AuditEvent],
    sort: str,
    key: Callable[[AuditEvent], object],
    reverse: bool,
) -> None:
    got = officer_client.get(reverse_url(), {"sort": sort, **MARCH}).context["page"].items
    values = [key(e) for e in got]
    assert values == sorted(values, reverse=reverse)
    assert len(got) == len(seeded)
    api_items = officer_api.get(API_URL, {"sort": sort, **MARCH}).json()["items"]
    assert [i["id"] for i in api_items] == [str(e.id) for e in got]


def reverse_url() -> str:
    return reverse("audit:events")


def test_sort_headers_are_links_that_toggle_and_keep_filters(
    officer_client: Client, seeded: dict[str, AuditEvent]
) -> None:
    response = officer_client.get(reverse_url(), {"sort": "user", "action": "read"})
    headers = response.context["headers"]
    assert headers["user"]["state"] == "ascending"
    assert headers["user"]["url"] == "?action=read&sort=-user"
    assert headers["time"]["state"] == ""
    assert headers["time"]["url"] == "?action=read&sort=-time"
    assert headers["patient"]["url"] == "?action=read&sort=patient"
    html = response.content.decode()
    assert 'aria-sort="ascending"><a href="?action=read&amp;sort=-user">' in html
    for column in ("time", "user", "action", "object", "patient", "outcome"):
        assert headers[column]["url"] in html.replace("&amp;", "&")


def test_pagination_25_per_page(officer_client: Client, make_event: MakeEvent) -> None:
    events = [make_event(at(1) + timedelta(minutes=i), username=f"user{i:02d}") for i in range(30)]
    newest_first = ids(list(reversed(events)))
    first = officer_client.get(reverse_url(), MARCH).context["page"]
    assert REPORT_PAGE_SIZE == 25
    assert (first.count, ids(first.items)) == (30, newest_first[:25])
    second = officer_client.get(reverse_url(), {**MARCH, "page": "2"})
    assert ids(second.context["page"].items) == newest_first[25:]
    assert "1\u201325 of 30" not in second.content.decode()
    assert "26\u201330 of 30" in second.content.decode()
    beyond = officer_client.get(reverse_url(), {**MARCH, "page": "9"}).context["page"]
    assert beyond.items == []
    assert beyond.count == 30
    # A page number that is not a number starts at the first page.
    assert (
        ids(officer_client.get(reverse_url(), {**MARCH, "page": "x"}).context["page"].items)
        == (newest_first[:25])
    )


def test_api_pagination(officer_api: Client, make_event: MakeEvent) -> None:
    events = [make_event(at(1) + timedelta(minutes=i)) for i in range(7)]
    body = officer_api.get(API_URL, {**MARCH, "page": "2", "page_size": "3"}).json()
    assert body["count"] == 7
    assert [i["id"] for i in body["items"]] == [str(e.id) for e in reversed(events)][3:6]


def test_page_shows_each_column_in_utc(
    officer_client: Client, make_event: MakeEvent, site: object
) -> None:
    event = make_event(
        at(1, 23, 30, 5),
        user_id=ALICE_ID,
        username="alice",
        role="nurse,prescriber",
        patient_id=PATIENT_A,
        action=AuditEvent.Action.UPDATE,
        object_type="consent",
        object_id="abc-123",
        outcome=AuditEvent.Outcome.DENIED,
        ip="203.0.113.9",
        request_id="req-77",
    )
    html = officer_client.get(reverse_url(), MARCH).content.decode()
    # The privacy officer's site is in Denver (UTC-7 in March); the report stays in UTC.
    assert "Times are in UTC" in html
    assert "Time (UTC)" in html
    assert "2025-03-01 23:30:05" in html
    assert "16:30:05" not in html
    start = html.index('datetime="2025-03-01T23:30:05')
    row = html[start : html.index("</tr>", start)]
    for text in ("alice", "nurse,prescriber", "Update", "consent", "abc-123", str(PATIENT_A),
                 "203.0.113.9", "req-77"):  # fmt: skip
        assert text in row, text
    assert '<span class="badge badge-danger">Denied</span>' in row
    assert f'href="?patient={PATIENT_A}"' in row
    assert ids(officer_client.get(reverse_url(), MARCH).context["page"].items) == [event.id]


def test_success_badge(officer_client: Client, make_event: MakeEvent) -> None:
    make_event(at(1))
    html = officer_client.get(reverse_url(), MARCH).content.decode()
    assert '<span class="badge badge-ok">Success</span>' in html


def test_api_item_shape(officer_api: Client, make_event: MakeEvent) -> None:
    event = make_event(
        at(1, 23, 30, 5),
        user_id=ALICE_ID,
        username="alice",
        role="nurse",
        clinic_id=PATIENT_B,
        patient_id=PATIENT_A,
        object_id="abc",
        ip="2001:db8::1",
        request_id="req-1",
    )
    body = officer_api.get(API_URL, MARCH).json()
    assert body == {
        "items": [
            {
                "id": str(event.id),
                "time": "2025-03-01T23:30:05+00:00",
                "user": "alice",
                "user_id": str(ALICE_ID),
                "role": "nurse",
                "clinic_id": str(PATIENT_B),
                "patient": str(PATIENT_A),
                "action": "read",
                "object_type": "patient",
                "object_id": "abc",
                "outcome": "success",
                "ip": "2001:db8::1",
                "request_id": "req-1",
            }
        ],
        "count": 1,
    }


def test_empty_result(officer_client: Client, db: None) -> None:
    html = officer_client.get(reverse_url(), {"date_from": "2001-01-01", "date_to": "2001-01-02"})
    assert "No audit events match these filters." in html.content.decode()


# Reading the report is itself audited --------------------------------------------------


def test_viewing_the_report_is_audited(
    officer_client: Client, privacy_officer: User, site: object, seeded: dict[str, AuditEvent]
) -> None:
    officer_client.get(reverse_url(), {"patient": str(PATIENT_A), "sort": "user"})
    event = AuditEvent.objects.get(action="search", object_type="audit_event")
    assert event.user_id == privacy_officer.id
    assert event.username == "privacy"
    assert event.role == "privacy_officer"
    assert event.clinic_id == site.id  # type: ignore[attr-defined]
    assert event.outcome == "success"
    assert event.patient_id == PATIENT_A
    assert event.detail == {
        "filters": {"patient": str(PATIENT_A), "sort": "user"},
        "page": 1,
        "shown": 2,
        "count": 2,
    }


def test_api_read_is_audited(officer_api: Client, seeded: dict[str, AuditEvent]) -> None:
    officer_api.get(API_URL, {"action": "update"})
    event = AuditEvent.objects.get(action="search", object_type="audit_event")
    assert event.username == "privacy"
    assert event.detail["filters"] == {"action": "update"}
    assert event.detail["count"] == 1
    assert event.detail["via"] == "api"


# Query count --------------------------------------------------------------------------


def _queries_for_page(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse_url(), MARCH)
    assert response.status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_events_shown(
    officer_client: Client, make_event: MakeEvent
) -> None:
    make_event(at(1))
    few = _queries_for_page(officer_client)
    for i in range(40):
        make_event(at(2) + timedelta(minutes=i), patient_id=uuid.uuid4())
    many = _queries_for_page(officer_client)
    assert len(officer_client.get(reverse_url(), MARCH).context["page"].items) == 25
    assert many == few


# CSV export ---------------------------------------------------------------------------


def _export(client: Client, **params: str) -> list[list[str]]:
    response = client.get(reverse("audit:export"), params)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    text = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(text)))


def _expected_row(e: AuditEvent) -> list[str]:
    return [
        e.time.astimezone(UTC).isoformat(),
        str(e.user_id) if e.user_id else "",
        e.username,
        e.role,
        str(e.clinic_id) if e.clinic_id else "",
        str(e.patient_id) if e.patient_id else "",
        e.action,
        e.object_type,
        e.object_id,
        e.outcome,
        e.ip or "",
        e.request_id,
    ]


def test_csv_equals_the_filtered_rows(
    officer_client: Client, seeded: dict[str, AuditEvent]
) -> None:
    rows = _export(officer_client, date_from="2025-03-01", date_to="2025-03-02", sort="time")
    assert rows[0] == CSV_HEADER
    expected = [seeded["mar01_first"], seeded["mar01_last"], seeded["mar02"]]
    assert rows[1:] == [_expected_row(e) for e in expected]


def test_csv_holds_all_matching_rows_not_one_page(
    officer_client: Client, make_event: MakeEvent
) -> None:
    events = [make_event(at(1) + timedelta(minutes=i), ip="198.51.100.1") for i in range(60)]
    rows = _export(officer_client, **MARCH)
    assert rows[1:] == [_expected_row(e) for e in reversed(events)]


def test_export_is_audited_with_filters_and_row_count(
    officer_client: Client, privacy_officer: User, seeded: dict[str, AuditEvent]
) -> None:
    rows = _export(officer_client, patient=str(PATIENT_A))
    assert len(rows) == 1 + 2
    event = AuditEvent.objects.get(action="export")
    assert event.object_type == "audit_event"
    assert event.user_id == privacy_officer.id
    assert event.patient_id == PATIENT_A
    assert event.detail["filters"] == {"patient": str(PATIENT_A)}
    assert event.detail["rows"] == 2


def test_export_of_the_whole_trail_counts_itself_out(
    officer_client: Client, seeded: dict[str, AuditEvent]
) -> None:
    rows = _export(officer_client)
    event = AuditEvent.objects.get(action="export")
    assert event.detail["rows"] == len(rows) - 1 == len(seeded)
    assert str(event.id) not in {r[0] for r in rows}


def test_csv_cells_cannot_become_spreadsheet_formulas(
    officer_client: Client, make_event: MakeEvent
) -> None:
    make_event(at(1), username='=HYPERLINK("http://evil.example","x")',
               action=AuditEvent.Action.LOGIN_FAILED)  # fmt: skip
    rows = _export(officer_client, **MARCH)
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","x")'


def test_export_link_keeps_the_filters(officer_client: Client, db: None) -> None:
    response = officer_client.get(reverse_url(), {"action": "read", "sort": "user", "page": "2"})
    expected = reverse("audit:export") + "?action=read&sort=user"
    assert response.context["export_url"] == expected
    assert f'href="{expected.replace("&", "&amp;")}"' in response.content.decode()
    assert "Export CSV" in response.content.decode()


def test_export_with_invalid_filters_returns_to_the_report(
    officer_client: Client, db: None
) -> None:
    response = officer_client.get(reverse("audit:export"), {"patient": "nope"})
    assert response.status_code == 302
    assert response["Location"] == reverse_url() + "?patient=nope"
    assert not AuditEvent.objects.filter(action="export").exists()
