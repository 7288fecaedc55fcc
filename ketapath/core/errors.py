"""Errors that services raise and interfaces translate (pages: a message; API: JSON)."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str


class ApplicationError(Exception):
    """A business rule refused the action; ``status`` is the HTTP status to answer with."""

    status = 400
    code = "application_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors or []
        # Further top-level fields of the JSON error (a hard stop's "rule").
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    status = 422
    code = "invalid"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"


MESSAGE_INVALID = "The data is not valid; see errors for each field."


def validation_error_to_fields(exc: ValidationError) -> list[FieldError]:
    """Flatten Django's ValidationError into (field, rule) pairs; '__all__' becomes ''."""
    if hasattr(exc, "error_dict"):
        out: list[FieldError] = []
        for name, errs in exc.error_dict.items():
            for err in errs:
                for message in err.messages:
                    out.append(FieldError(field="" if name == "__all__" else name, rule=message))
        return out
    return [FieldError(field="", rule=message) for message in exc.messages]


def invalid_from_validation_error(exc: ValidationError) -> InvalidInput:
    return InvalidInput(MESSAGE_INVALID, errors=validation_error_to_fields(exc))
