"""API conventions every router shares (DESIGN §5a): health, schema, docs, errors, numbers."""

import json
from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

import pytest
from django.conf import settings
from django.test import Client, RequestFactory

from ketapath.accounts.models import User
from ketapath.core.api import (
    MESSAGE_BODY_NOT_JSON,
    MESSAGE_UNAUTHENTICATED,
    JSONRenderer,
    _loc_to_field,
)
from ketapath.core.errors import MESSAGE_INVALID

TOKEN_URL = "/api/v1/auth/token"


def test_health_needs_no_auth(client: Client, db: None) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_schema_lists_the_token_path(client: Client, db: None) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/auth/token" in schema["paths"]
    assert {"post", "delete"} <= set(schema["paths"]["/api/v1/auth/token"])
    assert "/api/v1/audit/events" in schema["paths"]
    assert schema["info"]["title"] == "Ketapath API"


def test_docs_render(client: Client, db: None) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Ketapath API</title>" in html
    assert 'id="swagger-ui"' in html


@pytest.mark.xfail(
    "ninja" not in settings.INSTALLED_APPS,
    reason="Ninja serves its docs assets locally only when 'ninja' is in INSTALLED_APPS",
    strict=True,
)
def test_docs_load_no_third_party_files(client: Client, db: None) -> None:
    html = client.get("/api/v1/docs").content.decode()
    assert "cdn." not in html
    assert "https://" not in html
    assert "/static/ninja/swagger-ui-bundle.js" in html


@pytest.mark.parametrize("url", ["/api/v1/auth/me", "/api/v1/audit/events", "/api/v1/patients"])
def test_unauthenticated_is_401_with_the_error_shape(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 401
    assert response.json() == {
        "detail": MESSAGE_UNAUTHENTICATED,
        "code": "unauthenticated",
        "errors": [],
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="ketapath"'
    assert response["Content-Type"] == "application/json; charset=utf-8"


def test_malformed_json_is_422_naming_the_body(client: Client, db: None) -> None:
    response = client.post(TOKEN_URL, "{not json", content_type="application/json")
    assert response.status_code == 422
    assert response.json() == {
        "detail": MESSAGE_INVALID,
        "code": "invalid",
        "errors": [{"field": "body", "rule": MESSAGE_BODY_NOT_JSON}],
    }


def test_wrong_types_are_422_naming_each_field(client: Client, db: None) -> None:
    response = client.post(
        TOKEN_URL, json.dumps({"username": 5, "password": []}), content_type="application/json"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == MESSAGE_INVALID
    assert [e["field"] for e in body["errors"]] == ["username", "password"]
    assert all(e["rule"] for e in body["errors"])


def test_invalid_query_parameter_is_422_naming_it(
    api_client: Callable[[User], Client], privacy_officer: User
) -> None:
    response = api_client(privacy_officer).get("/api/v1/audit/events", {"page_size": "500"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["page_size"]


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("body", "payload", "username"), "username"),
        (("body", "payload", "co_sign", "password"), "co_sign.password"),
        (("query", "filters", "page"), "page"),
        (("body", "TokenIn", "username"), "username"),
        (("path", "patient_id"), "patient_id"),
    ],
)
def test_error_locations_become_field_names(loc: tuple[str, ...], field: str) -> None:
    assert _loc_to_field(loc) == field


def test_decimals_render_as_json_numbers() -> None:
    request = RequestFactory().get("/")
    rendered = JSONRenderer().render(
        request,
        {
            "dose_mg": Decimal("37.50"),
            "mme": Decimal("90"),
            "whole": Decimal("2.00"),
            "id": UUID("11111111-1111-4111-8111-111111111111"),
        },
        response_status=200,
    )
    assert rendered == (
        '{"dose_mg": 37.5, "mme": 90, "whole": 2, "id": "11111111-1111-4111-8111-111111111111"}'
    )
    parsed = json.loads(rendered)
    assert isinstance(parsed["dose_mg"], float)
    assert isinstance(parsed["mme"], int)
