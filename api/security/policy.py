"""The policies routes declare, as dependencies: who may call a route and on what.

Every route names exactly one policy (the authorization matrix test walks the route
table and fails on a route without one). A stranger cannot tell a band or alert they
may not see from one that does not exist: both answer 404. Someone who may see the
band but lacks the scope gets 403.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Request
from fastapi.routing import iter_route_contexts
from fastapi.security import OAuth2PasswordBearer
from psycopg import AsyncConnection

from api.db import fetch_one
from api.deps import DbConn, IdPath
from api.errors import ApiError
from api.security.access import BandRoles, Principal, Scope, band_roles
from api.security.tokens import read_access
from bandhub.contracts.messages import BAND_ID_PATTERN

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    auto_error=False,
    description="Sign in with your e-mail as the username; the access token lasts minutes,"
    " renew it with the refresh token (POST /auth/refresh).",
)


async def signing_key(request: Request, conn: AsyncConnection) -> str:
    """The access-token key, made per database by migration 008 (cached per app)."""
    key = getattr(request.app.state, "access_token_key", None)
    if key is None:
        row = await fetch_one(conn, "SELECT value FROM server_keys WHERE name = 'access_token'")
        key = request.app.state.access_token_key = row["value"]
    return key


async def current_principal(
    request: Request, conn: DbConn, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    """The signed-in caller, or None. The session is read on every request, so logging
    out or changing the password ends every token of the session at once."""
    if not token:
        return None
    claims = read_access(await signing_key(request, conn), token)
    if claims is None:
        return None
    row = await fetch_one(
        conn,
        "SELECT a.email, a.email_verified_at IS NOT NULL AS verified, a.is_support"
        " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = %s"
        " AND s.account_id = %s AND s.revoked_at IS NULL AND s.expires_at > now()",
        (claims.session_id, claims.account_id),
    )
    if row is None:
        return None
    return Principal(
        claims.account_id, claims.session_id, row["email"], row["verified"], row["is_support"]
    )


CallerDep = Annotated[Principal | None, Depends(current_principal)]


def _not_signed_in() -> ApiError:
    return ApiError(
        401,
        "not_authenticated",
        "sign in first: send Authorization: Bearer <access token> (POST /auth/token)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def audit(
    conn: AsyncConnection,
    request: Request,
    who: Principal,
    actor: str,
    band_id: str | None,
    detail: dict | None = None,
) -> None:
    """One row of the wearer's audit log: who, as what, did which route, from where."""
    route = request.scope.get("route")
    action = f"{request.method} {getattr(route, 'path', request.url.path)}"
    await conn.execute(
        "INSERT INTO audit_log (band_id, account_id, actor, action, detail, client_ip)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            band_id,
            who.account_id,
            actor,
            action,
            json.dumps({"path": request.url.path, **(detail or {})}),
            request.client.host if request.client else None,
        ),
    )


class Policy:
    """Base of every route policy; ``describe`` is what the docs and the matrix show."""

    describe = ""


class Anyone(Policy):
    """No sign-in (sign-up, log-in, signed links); the link or code is the proof."""

    describe = "anyone"

    async def __call__(self) -> None:
        return None


class SignedIn(Policy):
    """Any signed-in account, acting on its own things."""

    describe = "signed in"

    async def __call__(self, who: CallerDep) -> Principal:
        if who is None:
            raise _not_signed_in()
        return who


class SupportStaff(Policy):
    """bandhub's support staff (``bandhub accounts support EMAIL``)."""

    describe = "support"

    async def __call__(self, who: CallerDep) -> Principal:
        if who is None:
            raise _not_signed_in()
        if not who.is_support:
            raise ApiError(403, "forbidden", "only bandhub support may do this")
        return who


@dataclass(frozen=True)
class BandAccess:
    """The band a route acts on, who asks, and what they may do with it."""

    band: dict
    who: Principal
    roles: BandRoles

    @property
    def band_id(self) -> str:
        return self.band["band_id"]


async def _band_access(
    request: Request, conn: AsyncConnection, who: Principal | None, band_id: str, wanted: tuple
) -> BandAccess | None:
    """None when the band does not exist or the caller has no role on it at all."""
    if who is None:
        raise _not_signed_in()
    if not re.fullmatch(BAND_ID_PATTERN, band_id):
        return None
    roles = await band_roles(conn, who, band_id)
    if roles is None or not roles.scopes():
        return None
    if not roles.scopes() & set(wanted):
        names = " or ".join(wanted)
        raise ApiError(403, "forbidden", f"this needs the {names} right for band {band_id}")
    band = await fetch_one(conn, "SELECT * FROM bands WHERE band_id = %s", (band_id,))
    await audit(conn, request, who, roles.actor(), band_id)
    return BandAccess(band, who, roles)


class OnBand(Policy):
    """A signed-in caller holding one of ``scopes`` on the band in the path."""

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = scopes
        self.describe = "band: " + " or ".join(scopes)

    async def __call__(
        self,
        request: Request,
        band_id: Annotated[str, Path(description="e.g. BH-0001")],
        conn: DbConn,
        who: CallerDep,
    ) -> BandAccess:
        access = await _band_access(request, conn, who, band_id, self.scopes)
        if access is None:
            raise ApiError(404, "unknown_band", f"no band {band_id!r}")
        return access


class OnAlert(Policy):
    """A signed-in caller holding one of ``scopes`` on the band of the alert in the path."""

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = scopes
        self.describe = "alert's band: " + " or ".join(scopes)

    async def __call__(
        self, request: Request, alert_id: IdPath, conn: DbConn, who: CallerDep
    ) -> BandAccess:
        alert = await fetch_one(conn, "SELECT band_id FROM alerts WHERE id = %s", (alert_id,))
        access = None
        if alert is not None:
            access = await _band_access(request, conn, who, alert["band_id"], self.scopes)
        elif who is None:
            raise _not_signed_in()
        if access is None:
            raise ApiError(404, "unknown_alert", f"no alert {alert_id}")
        return access


class InOrganisation(Policy):
    """A member of the organisation in the path (``admin`` or any member)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.describe = f"organisation {role}"

    async def __call__(self, org_id: IdPath, conn: DbConn, who: CallerDep) -> Principal:
        if who is None:
            raise _not_signed_in()
        row = await fetch_one(
            conn,
            "SELECT role FROM org_members WHERE org_id = %s AND account_id = %s",
            (org_id, who.account_id),
        )
        if row is None:
            raise ApiError(404, "unknown_organisation", f"no organisation {org_id}")
        if self.role == "admin" and row["role"] != "admin":
            raise ApiError(403, "forbidden", "only the organisation's admins may do this")
        return who


@dataclass(frozen=True)
class GatewayAccess:
    """The caller's own gateway in the path, and who the caller is."""

    gateway: dict
    who: Principal

    @property
    def gateway_id(self) -> str:
        return self.gateway["gateway_id"]


class OwnGateway(Policy):
    """A gateway registered to the caller's account; anyone else's, or a revoked one,
    is unknown (404), like a band one may not see."""

    describe = "own gateway"

    async def __call__(
        self,
        gateway_id: Annotated[str, Path(description="e.g. gw-kitchen")],
        conn: DbConn,
        who: CallerDep,
    ) -> GatewayAccess:
        if who is None:
            raise _not_signed_in()
        row = None
        if re.fullmatch(BAND_ID_PATTERN, gateway_id):
            row = await fetch_one(
                conn,
                "SELECT gateway_id, mqtt_username, registered_at FROM gateways"
                " WHERE gateway_id = %s AND account_id = %s AND registered_at IS NOT NULL"
                " AND revoked_at IS NULL",
                (gateway_id, who.account_id),
            )
        if row is None:
            raise ApiError(404, "unknown_gateway", f"no gateway {gateway_id!r} of yours")
        return GatewayAccess(row, who)


@dataclass(frozen=True)
class RoutePolicy:
    methods: frozenset[str]
    path: str
    policy: Policy | None
    status_code: int  # on success


def route_policies(app: FastAPI) -> list[RoutePolicy]:
    """Every API route with the policy it declared (None: it declared none), for the
    authorization matrix test and the docs. FastAPI's own /docs and /openapi.json are
    not API routes."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        stack, policy = list(dependant.dependencies), None
        while stack and policy is None:
            dep = stack.pop()
            policy = dep.call if isinstance(dep.call, Policy) else None
            stack.extend(dep.dependencies)
        status = getattr(route, "status_code", None) or 200
        found.append(RoutePolicy(frozenset(route.methods), context.path, policy, status))
    return found
