"""Bands: the list, registration, claiming by the owner, the wearer's settings and
the support view (diagnostics)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query

from api.db import fetch_all, fetch_one
from api.deps import DbConn, KnownBand, SettingsDep
from api.errors import ApiError, error_responses
from api.schemas import (
    BandCreated,
    BandIn,
    BandListItem,
    BandSettings,
    BandSettingsIn,
    ClaimIn,
    ClaimResult,
    Diagnostics,
)
from bandhub import claims
from bandhub.contracts.messages import BAND_ID_PATTERN

router = APIRouter(prefix="/bands", tags=["bands"])


@router.get(
    "",
    response_model=list[BandListItem],
    summary="All bands, with record counts and when they were last seen",
)
async def list_bands(conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT band_id, name, registered_at, last_seen, records FROM bands ORDER BY band_id",
    )


@router.post(
    "",
    status_code=201,
    response_model=BandCreated,
    summary="Register a band",
    responses=error_responses(422),
)
async def add_band(band: BandIn, conn: DbConn) -> dict:
    return await fetch_one(
        conn,
        "INSERT INTO bands (band_id, name) VALUES (%s, %s) ON CONFLICT (band_id)"
        " DO UPDATE SET name = EXCLUDED.name RETURNING band_id, name, registered_at",
        (band.band_id, band.name),
    )


@router.post(
    "/{band_id}/claim",
    response_model=ClaimResult,
    summary="Register a band to its owner with its claim code",
    responses=error_responses(403, 409, 422),
)
async def claim_band(band_id: str, body: ClaimIn, conn: DbConn, settings: SettingsDep) -> dict:
    """The band need not be known yet: the code from its box is the proof."""
    if not re.fullmatch(BAND_ID_PATTERN, band_id):
        raise ApiError(422, "bad_band_id", f"{band_id!r} is not a band id")
    if not claims.valid(settings.claim_secret, band_id, body.claim_code):
        raise ApiError(403, "bad_claim_code", "the claim code does not match this band")
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING", (band_id,)
        )
        band = await fetch_one(
            conn, "SELECT owner FROM bands WHERE band_id = %s FOR UPDATE", (band_id,)
        )
        if band["owner"] not in (None, body.owner):
            raise ApiError(409, "claimed", f"band {band_id} belongs to someone else")
        return await fetch_one(
            conn,
            "UPDATE bands SET owner = %s, claimed_at = COALESCE(claimed_at, now())"
            " WHERE band_id = %s RETURNING band_id, name, owner, claimed_at",
            (body.owner, band_id),
        )


@router.patch(
    "/{band_id}",
    response_model=BandSettings,
    summary="A wearer's settings (fall countdown)",
    responses=error_responses(404, 422),
)
async def band_settings(band: KnownBand, body: BandSettingsIn, conn: DbConn) -> dict:
    return await fetch_one(
        conn,
        "UPDATE bands SET fall_countdown_s = %s WHERE band_id = %s"
        " RETURNING band_id, name, fall_countdown_s",
        (body.fall_countdown_s, band["band_id"]),
    )


@router.get(
    "/{band_id}/diagnostics",
    response_model=Diagnostics,
    summary="Connection, battery and clock, for support",
    responses=error_responses(404, 422),
)
async def diagnostics(
    band: KnownBand, conn: DbConn, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> Diagnostics:
    band_id = band["band_id"]
    status = await fetch_one(
        conn,
        "SELECT gateway_id, status, updated_at FROM band_status WHERE band_id = %s",
        (band_id,),
    )
    battery = await fetch_all(
        conn,
        "SELECT date_trunc('hour', t) AS t, min(level) AS level FROM battery"
        " WHERE band_id = %s AND t > now() - make_interval(days => %s)"
        " GROUP BY 1 ORDER BY 1",
        (band_id, days),
    )
    return Diagnostics(
        band_id=band_id,
        last_seen=band["last_seen"],
        gateway=status["gateway_id"] if status else band["last_gateway_id"],
        link=status["status"] if status else None,
        link_reported_at=status["updated_at"] if status else None,
        battery_hourly=battery,
    )
