"""POST /api/v1/auth/token (issue), DELETE /api/v1/auth/token (revoke), GET /api/v1/auth/me."""

from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from ketapath.accounts.models import User
from ketapath.accounts.permissions import roles_at
from ketapath.accounts.services import (
    Action,
    Outcome,
    api_token_issue,
    api_token_revoke,
    audit,
)
from ketapath.core.api import ErrorOut
from ketapath.core.errors import ApplicationError

router = Router()

MESSAGE_BAD_CREDENTIALS = "The username or password is not correct."


class TokenIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(Schema):
    token: str
    expires_at: datetime


class MembershipOut(Schema):
    clinic: UUID
    roles: list[str]


class MeOut(Schema):
    id: UUID
    username: str
    name: str
    clinics: list[MembershipOut]


@router.post("/token", auth=None, response={200: TokenOut, 401: ErrorOut, 429: ErrorOut})
def token_issue(request: HttpRequest, payload: TokenIn) -> Status[dict[str, object]]:
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        from ketapath.accounts.views import MESSAGE_LOCKED_OUT

        audit(
            user=None,
            username=payload.username,
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
            detail={"reason": "locked_out", "via": "api"},
        )
        raise ApplicationError(
            MESSAGE_LOCKED_OUT.format(minutes=round(settings.AXES_COOLOFF_TIME * 60)),
            code="locked_out",
            status=429,
        )
    if not isinstance(user, User) or not user.is_active:
        audit(
            user=None,
            username=payload.username,
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
            detail={"via": "api"},
        )
        raise ApplicationError(MESSAGE_BAD_CREDENTIALS, code="invalid_credentials", status=401)
    raw, token = api_token_issue(user=user)
    return Status(200, {"token": raw, "expires_at": token.expires_at})


@router.delete("/token", response={204: None})
def token_revoke(request: HttpRequest) -> Status[None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        api_token_revoke(raw=header.split(" ", 1)[1].strip())
    return Status(204, None)


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, object]:
    user: User = request.user  # type: ignore[assignment]
    clinic_ids = sorted({m.clinic_id for m in user.memberships.filter(active=True)})
    return {
        "id": user.id,
        "username": user.username,
        "name": user.display_name,
        "clinics": [{"clinic": c, "roles": roles_at(user, c)} for c in clinic_ids],
    }
