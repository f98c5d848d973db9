"""Request and response bodies of accounts, sign-in, shares, organisations and the audit
log (the health-data bodies are in api.schemas)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from api.schemas import _NO_NUL


def _email(value: str) -> str:
    """An address as people type it, normalised (the domain in lower case); reserved
    domains such as ``.test`` are fine (no deliverability check: the mail tells)."""
    try:
        return validate_email(
            value, check_deliverability=False, globally_deliverable=False, test_environment=True
        ).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address: {exc}") from exc


EmailStr = Annotated[
    str,
    Field(max_length=254),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
Password = Annotated[
    str,
    Field(
        min_length=10,
        max_length=256,
        pattern=_NO_NUL,
        description="at least 10 characters",
        json_schema_extra={"format": "password"},
    ),
]
ScopeName = Literal["summaries", "live", "alerts", "settings"]


class SignupIn(BaseModel):
    email: EmailStr
    password: Password
    display_name: Annotated[str, Field(max_length=200, pattern=_NO_NUL)] = ""


class Account(BaseModel):
    id: int
    email: str
    display_name: str
    email_verified: bool
    is_support: bool
    created_at: dt.datetime


class TokenPair(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="use once with POST /auth/refresh; revocable")


class RefreshIn(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class TokenIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class PasswordChangeIn(BaseModel):
    current_password: Annotated[str, Field(max_length=256)]
    new_password: Password


class PasswordResetIn(BaseModel):
    email: EmailStr


class PasswordResetConfirmIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Password


class Message(BaseModel):
    message: str


class ShareIn(BaseModel):
    email: EmailStr
    role: Literal["family", "caregiver"] = "family"
    scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=4)]


class Share(BaseModel):
    id: int
    band_id: str
    email: str
    role: str
    scopes: list[str]
    state: Literal["invited", "active", "revoked", "expired"]
    invited_at: dt.datetime
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None


class Consent(BaseModel):
    id: int
    grantee: str = Field(description="the invitee's e-mail or the organisation's name")
    scopes: list[str]
    given_by: str | None = Field(description="e-mail of the account that consented")
    granted_at: dt.datetime
    revoked_at: dt.datetime | None


class TransferIn(BaseModel):
    email: EmailStr


class OrganisationIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]


class Organisation(BaseModel):
    id: int
    name: str
    role: Literal["admin", "staff"] = Field(description="yours in it")


class MemberIn(BaseModel):
    email: EmailStr
    role: Literal["admin", "staff"] = "staff"


class Member(BaseModel):
    account_id: int
    email: str
    display_name: str
    role: str


class CareIn(BaseModel):
    org_id: Annotated[int, Field(strict=True, ge=1, le=2**53 - 1)]


class Care(BaseModel):
    org_id: int
    name: str


class Wearer(BaseModel):
    band_id: str
    name: str
    last_seen: dt.datetime | None
    open_alerts: int


class AuditEntry(BaseModel):
    id: int
    at: dt.datetime
    who: str | None = Field(description="the account's e-mail")
    actor: str = Field(description="as what: owner, share, org_staff, org_admin, support")
    action: str
    detail: dict
    client_ip: str | None
