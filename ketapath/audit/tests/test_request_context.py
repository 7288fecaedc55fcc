"""audit_record takes the request id and source address from RequestContextMiddleware."""

import re
from collections.abc import Callable

from django.test import Client, override_settings
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.audit.services import audit_record


def _report_event() -> AuditEvent:
    return AuditEvent.objects.get(action="search", object_type="audit_event")


def test_request_id_and_address_are_recorded(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    response = client_for(privacy_officer).get(
        reverse("audit:events"), HTTP_X_REQUEST_ID="trace-42.a_b", REMOTE_ADDR="198.51.100.7"
    )
    assert response["X-Request-ID"] == "trace-42.a_b"
    event = _report_event()
    assert event.request_id == "trace-42.a_b"
    assert event.ip == "198.51.100.7"


def test_a_malformed_request_id_is_replaced(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    response = client_for(privacy_officer).get(
        reverse("audit:events"), HTTP_X_REQUEST_ID="<script>alert(1)</script>"
    )
    generated = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert _report_event().request_id == generated


def test_without_a_request_id_one_is_generated_per_request(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    client = client_for(privacy_officer)
    first = client.get(reverse("audit:events"))["X-Request-ID"]
    second = client.get(reverse("audit:events"))["X-Request-ID"]
    assert first != second
    recorded = set(AuditEvent.objects.filter(action="search").values_list("request_id", flat=True))
    assert recorded == {first, second}


def test_forwarded_address_is_ignored_unless_behind_a_tls_proxy(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    client_for(privacy_officer).get(
        reverse("audit:events"), HTTP_X_FORWARDED_FOR="203.0.113.5", REMOTE_ADDR="10.0.0.2"
    )
    assert _report_event().ip == "10.0.0.2"


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_forwarded_address_is_used_behind_a_tls_proxy(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    client_for(privacy_officer).get(
        reverse("audit:events"),
        HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.1",
        REMOTE_ADDR="10.0.0.2",
    )
    assert _report_event().ip == "203.0.113.5"


def test_api_requests_carry_the_context_too(
    api_client: Callable[[User], Client], privacy_officer: User
) -> None:
    api_client(privacy_officer).get(
        "/api/v1/audit/events", HTTP_X_REQUEST_ID="api-trace-1", REMOTE_ADDR="192.0.2.10"
    )
    event = _report_event()
    assert (event.request_id, event.ip) == ("api-trace-1", "192.0.2.10")


def test_outside_a_request_the_context_is_empty(db: None) -> None:
    event = audit_record(action=AuditEvent.Action.READ, username="worker")
    assert (event.request_id, event.ip) == ("", None)
