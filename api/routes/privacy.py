"""The wearer's own data: export it (JSON, or FHIR R4), erase it, erase one's account."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import accounts, gateway_admin
from api.db import fetch_all
from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.privacy.erasure import erase_band
from api.privacy.export_fhir import export_fhir
from api.privacy.export_json import export_json
from api.security.access import Principal, Scope
from api.security.policy import BandAccess, OnBand, SignedIn
from api.security.throttle import Expensive
from bandhub.contracts.messages import Topics
from bandhub.principals.gateways import revoke_gateway, unbind_everywhere

log = logging.getLogger(__name__)
router = APIRouter(tags=["privacy"])
Owner = Annotated[BandAccess, Depends(OnBand(Scope.OWNER))]

_MEDIA = {"json": "application/json", "fhir": "application/fhir+json"}


class Erased(BaseModel):
    erased: list[str] = Field(description="the bands erased")
    rows: dict[str, int] = Field(description="rows removed per table")


class EraseAccountIn(BaseModel):
    password: Annotated[str, Field(max_length=256, description="your current password")]


@router.get(
    "/bands/{band_id}/export",
    response_class=StreamingResponse,
    summary="Everything bandhub holds about the wearer: JSON, or a FHIR R4 Bundle",
    dependencies=[Expensive],
    responses={
        200: {
            "description": "a download: the JSON export (docs/privacy.md), or a FHIR R4"
            " Bundle of Observations (LOINC, UCUM)",
            "content": {media: {"schema": {"type": "object"}} for media in _MEDIA.values()},
        },
        **error_responses(401, 403, 404, 422, 429),
    },
)
async def export(
    access: Owner,
    settings: SettingsDep,
    format: Annotated[Literal["json", "fhir"], Query()] = "json",
) -> StreamingResponse:
    writer = export_fhir if format == "fhir" else export_json
    day = dt.date.today().isoformat()
    name = f"bandhub-{access.band_id}-{day}.{'fhir.json' if format == 'fhir' else 'json'}"
    return StreamingResponse(
        writer(settings.database_url, access.band_id),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _forget_retained(request: Request, band_ids: list[str]) -> None:
    """The broker keeps each band's last status for new subscribers: clear it too."""
    settings = request.app.state.settings
    if not settings.mqtt_url:
        return
    topics = Topics(settings.mqtt_topic_prefix)
    for band_id in band_ids:
        try:
            await request.app.state.commands.clear_retained(topics.band_status(band_id))
        except ApiError as exc:
            log.warning("erased %s but could not clear its retained status: %s", band_id, exc)


async def _leave_gateways(request: Request, band_ids: list[str]) -> None:
    """Erased bands leave every gateway, on the broker too (the database rows would go
    with the erasure anyway, and ingest checks them)."""
    settings = request.app.state.settings
    for band_id in band_ids:
        await gateway_admin.apply_or_log(
            settings,
            lambda c, admin, band_id=band_id: unbind_everywhere(c, admin, band_id),
            f"erasing {band_id}: its gateway bindings stay on the broker",
        )


async def _revoke_gateways(request: Request, conn, me: Principal) -> None:
    """An erased account's gateways are revoked: their logins go with the account."""
    settings = request.app.state.settings
    rows = await fetch_all(
        conn,
        "SELECT gateway_id FROM gateways WHERE account_id = %s AND revoked_at IS NULL",
        (me.account_id,),
    )
    for row in rows:
        gw = row["gateway_id"]
        await gateway_admin.apply_or_log(
            settings,
            lambda c, admin, gw=gw: revoke_gateway(c, admin, gw),
            f"erasing account {me.account_id}: gateway {gw} keeps its broker login",
        )


@router.delete(
    "/bands/{band_id}",
    response_model=Erased,
    summary="Erase the wearer: every record, summary, alert, contact and share",
    responses=error_responses(401, 403, 404, 422),
)
async def erase(access: Owner, request: Request, conn: DbConn) -> dict:
    """Irreversible. A band seen again afterwards is a new, unclaimed band."""
    await _leave_gateways(request, [access.band_id])
    rows = await erase_band(conn, access.band_id, "owner")
    await _forget_retained(request, [access.band_id])
    return {"erased": [access.band_id], "rows": rows}


@router.post(
    "/auth/me/erase",
    response_model=Erased,
    summary="Erase your account and every wearer you own",
    responses=error_responses(401, 403, 422),
)
async def erase_account(
    body: EraseAccountIn,
    request: Request,
    me: Annotated[Principal, Depends(SignedIn())],
    conn: DbConn,
) -> dict:
    if await accounts.authenticate(conn, me.email, body.password) is None:
        raise ApiError(403, "bad_credentials", "the password is wrong")
    owned = [
        r["band_id"]
        for r in await fetch_all(
            conn, "SELECT band_id FROM bands WHERE owner_id = %s", (me.account_id,)
        )
    ]
    await _leave_gateways(request, owned)
    await _revoke_gateways(request, conn, me)
    total: dict[str, int] = {}
    for band_id in owned:
        for table, n in (await erase_band(conn, band_id, "account")).items():
            total[table] = total.get(table, 0) + n
    result = await conn.execute("DELETE FROM accounts WHERE id = %s", (me.account_id,))
    total["accounts"] = result.rowcount
    await _forget_retained(request, owned)
    return {"erased": owned, "rows": total}
