"""Security headers on pages and the API; the request id is echoed."""

import re

import pytest
from django.test import Client

PAGE = "/accounts/login/"


@pytest.fixture
def page(client: Client, db: None) -> object:
    response = client.get(PAGE)
    assert response.status_code == 200
    return response


def test_content_security_policy(page: object) -> None:
    policy = page["Content-Security-Policy"]  # type: ignore[index]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";")}
    assert directives["object-src"] == "object-src 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["default-src"] == "default-src 'self'"
    assert "'unsafe-inline'" not in directives["script-src"]


def test_other_security_headers(page: object) -> None:
    assert page["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]
    assert page["X-Frame-Options"] == "DENY"  # type: ignore[index]
    assert page["Cache-Control"] == "no-store"  # type: ignore[index]
    assert page["Referrer-Policy"] == "same-origin"  # type: ignore[index]


def test_csrf_cookie_is_same_site_lax(client: Client, db: None) -> None:
    response = client.get(PAGE)
    csrf = response.cookies["csrftoken"]
    assert csrf["samesite"] == "Lax"


def test_api_responses_are_not_cached_either(client: Client, db: None) -> None:
    response = client.get("/api/v1/health")
    assert response["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_request_id_is_echoed(client: Client, db: None) -> None:
    response = client.get(PAGE, HTTP_X_REQUEST_ID="abc-123_x.y")
    assert response["X-Request-ID"] == "abc-123_x.y"


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 65, "semi;colon"])
def test_request_id_is_generated_when_missing_or_malformed(
    client: Client, db: None, incoming: str
) -> None:
    response = client.get(PAGE, HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
