"""API conventions shared by every router (DESIGN §5a): auth, errors, pagination, numbers."""

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import BaseRenderer
from pydantic import Field

from ketapath.core.errors import (
    MESSAGE_INVALID,
    ApplicationError,
    FieldError,
    validation_error_to_fields,
)
from ketapath.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MESSAGE_UNAUTHENTICATED = "Authentication required: log in or send a valid bearer token."
MESSAGE_NOT_FOUND = "Not found."
MESSAGE_FORBIDDEN = "Your role does not allow this action."
MESSAGE_BODY_NOT_JSON = "The request body is not valid JSON."
# The message Ninja raises (as HttpError 400) when it cannot parse a request body.
NINJA_UNPARSABLE_BODY = "Cannot parse request body"


class FieldErrorOut(Schema):
    field: str
    rule: str


class ErrorOut(Schema):
    detail: str
    code: str
    errors: list[FieldErrorOut] = []


class PageParams(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class _Encoder(json.JSONEncoder):
    """Decimals are JSON numbers (DESIGN §5a); UUIDs and times are strings."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, UUID):
            return str(o)
        return super().default(o)


class JSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return json.dumps(data, cls=_Encoder)


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    detail: str,
    code: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    body = {
        **(extra or {}),
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "rule": e.rule} for e in errors or []],
    }
    response = api.create_response(request, body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ketapath"'
    return response


def _loc_to_field(loc: Any) -> str:
    # Ninja prefixes the parameter source ("body", "query", "path") and the schema name.
    parts = [str(p) for p in loc if p not in {"body", "query", "path", "payload", "filters"}]
    return ".".join(parts[1:] if len(parts) > 1 and parts[0][:1].isupper() else parts)


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ApplicationError)
    def _application(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
        return error_response(
            api, request, exc.status, exc.message, exc.code, exc.errors, exc.extra
        )

    @api.exception_handler(ValidationError)
    def _django_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields = validation_error_to_fields(exc)
        return error_response(api, request, 422, MESSAGE_INVALID, "invalid", fields)

    @api.exception_handler(NinjaValidationError)
    def _ninja_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields = [
            FieldError(field=_loc_to_field(err.get("loc", ())), rule=str(err.get("msg", "")))
            for err in exc.errors
        ]
        return error_response(api, request, 422, MESSAGE_INVALID, "invalid", fields)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(api, request, 401, MESSAGE_UNAUTHENTICATED, "unauthenticated")

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, 404, MESSAGE_NOT_FOUND, "not_found")

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return error_response(api, request, 403, str(exc) or MESSAGE_FORBIDDEN, "forbidden")

    @api.exception_handler(HttpError)
    def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400 and str(exc).startswith(NINJA_UNPARSABLE_BODY):
            # A body that is not JSON is invalid input like any other (DESIGN §5a: 422).
            fields = [FieldError(field="body", rule=MESSAGE_BODY_NOT_JSON)]
            return error_response(api, request, 422, MESSAGE_INVALID, "invalid", fields)
        return error_response(api, request, exc.status_code, str(exc), "http_error")
