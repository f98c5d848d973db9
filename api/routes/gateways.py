"""Gateways as principals, for their owners: register a gateway to your account (it
gets its own broker login), see yours, bind your bands to it, unbind, revoke. The same
changes as `bandhub gateway register|bind|unbind|revoke`, so a phone or PC gateway
needs no database or broker-admin access of its own: `bandhub gateway register
--token` and `gateway pair --token` call these routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from api import gateway_admin
from api.db import fetch_all
from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.gateway_schemas import GatewayBinding, GatewayIn, GatewayLogin, GatewayOut
from api.security.access import Principal, Scope, band_roles
from api.security.policy import GatewayAccess, OwnGateway, SignedIn, audit
from bandhub.contracts.messages import BAND_ID_PATTERN
from bandhub.principals import broker_acl
from bandhub.principals.gateways import (
    GatewayCredentials,
    bind_band,
    register_gateway,
    revoke_gateway,
    unbind_band,
)

router = APIRouter(prefix="/gateways", tags=["gateways"])
# A 409 on a gateway of yours: it was revoked meanwhile (by another of your sessions).
Me = Annotated[Principal, Depends(SignedIn())]
Mine = Annotated[GatewayAccess, Depends(OwnGateway())]
BandPath = Annotated[str, Path(pattern=BAND_ID_PATTERN, description="e.g. BH-0001")]


def _login(creds: GatewayCredentials) -> dict:
    return {
        "gateway_id": creds.gateway_id,
        "mqtt_username": creds.username,
        "mqtt_password": creds.password,
        "mqtt_client_id": broker_acl.gateway_client_id(creds.gateway_id),
    }


@router.post(
    "",
    status_code=201,
    response_model=GatewayLogin,
    summary="Register a gateway to your account: its broker login, shown once",
    responses=error_responses(401, 409, 422, 503),
)
async def register(body: GatewayIn, me: Me, settings: SettingsDep) -> dict:
    """409 when the id is another account's or was revoked (pick a new id)."""
    creds = await gateway_admin.apply(
        settings,
        lambda conn, admin: register_gateway(
            conn, admin, body.gateway_id, account_id=me.account_id
        ),
    )
    return _login(creds)


@router.post(
    "/{gateway_id}/login",
    response_model=GatewayLogin,
    summary="A new broker password for your gateway (the old one stops working at once)",
    responses=error_responses(401, 404, 409, 422, 503),
)
async def new_login(gw: Mine, settings: SettingsDep) -> dict:
    creds = await gateway_admin.apply(
        settings,
        lambda conn, admin: register_gateway(
            conn, admin, gw.gateway_id, account_id=gw.who.account_id
        ),
    )
    return _login(creds)


@router.get(
    "",
    response_model=list[GatewayOut],
    summary="Your gateways, with the bands each may sync",
    responses=error_responses(401),
)
async def list_mine(me: Me, conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT g.gateway_id, g.mqtt_username, g.registered_at, g.state,"
        " CASE WHEN g.state IS NULL THEN NULL ELSE g.updated_at END AS last_status_at,"
        " COALESCE(array_agg(b.band_id ORDER BY b.band_id) FILTER (WHERE b.band_id IN"
        "   (SELECT band_id FROM bands WHERE owner_id = %(me)s)), '{}') AS bands"
        " FROM gateways g LEFT JOIN gateway_bands b USING (gateway_id)"
        " WHERE g.account_id = %(me)s AND g.registered_at IS NOT NULL AND g.revoked_at IS NULL"
        " GROUP BY g.gateway_id ORDER BY g.gateway_id",
        {"me": me.account_id},
    )


@router.delete(
    "/{gateway_id}",
    status_code=204,
    summary="Revoke your gateway: the broker cuts it off now and refuses it from then on",
    responses=error_responses(401, 404, 422, 503),
)
async def revoke(gw: Mine, settings: SettingsDep) -> Response:
    await gateway_admin.apply(
        settings, lambda conn, admin: revoke_gateway(conn, admin, gw.gateway_id)
    )
    return Response(status_code=204)


async def _own_band(request: Request, conn, gw: GatewayAccess, band_id: str) -> None:
    """Only the band's owner binds it: a bound gateway reads every record of the band."""
    roles = await band_roles(conn, gw.who, band_id)
    if roles is None or not roles.scopes():
        raise ApiError(404, "unknown_band", f"no band {band_id!r}")
    if Scope.OWNER not in roles.scopes():
        raise ApiError(403, "forbidden", f"only the owner of {band_id} binds it to a gateway")
    await audit(conn, request, gw.who, roles.actor(), band_id, {"gateway": gw.gateway_id})


@router.put(
    "/{gateway_id}/bands/{band_id}",
    response_model=GatewayBinding,
    summary="Let your gateway sync your band (and relay its commands)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def bind(
    gw: Mine, band_id: BandPath, request: Request, conn: DbConn, settings: SettingsDep
) -> dict:
    await _own_band(request, conn, gw, band_id)
    await conn.commit()  # the audit row stands even if the broker is away
    await gateway_admin.apply(
        settings, lambda c, admin: bind_band(c, admin, gw.gateway_id, band_id)
    )
    return {"gateway_id": gw.gateway_id, "band_id": band_id, "bound": True}


@router.delete(
    "/{gateway_id}/bands/{band_id}",
    response_model=GatewayBinding,
    summary="Take a band away from your gateway, at once",
    responses=error_responses(401, 404, 409, 422, 503),
)
async def unbind(gw: Mine, band_id: BandPath, settings: SettingsDep) -> dict:
    """Any band bound to your gateway, yours or not (a band given away stays bound to
    nobody's gateway but its new owner's)."""
    was = await gateway_admin.apply(
        settings, lambda c, admin: unbind_band(c, admin, gw.gateway_id, band_id)
    )
    if not was:
        raise ApiError(404, "not_bound", f"{band_id} is not bound to {gw.gateway_id}")
    return {"gateway_id": gw.gateway_id, "band_id": band_id, "bound": False}
